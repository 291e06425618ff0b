"""Schemathesis hooks for the conformance fuzzing, loaded by scripts/conformance.sh
through SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py.

`hearth_error_codes` fails any response with a GraphQL error whose
`extensions.code` is `INTERNAL` or missing: clients branch on the code, and
`INTERNAL` means the server failed. Schemathesis' own GraphQL checks do not
cover this (they trust any code), so it is a custom check (failure ST901).

`HearthSession` (only when HEARTH_SIGNIN_URL is set) signs the demo account
in and sends `Authorization: Bearer <token>` on every request, signing in
afresh for each operation and phase: the fuzzer itself calls mutations that
end sessions (signOut, signOutEverywhere, ...), and with one token for the
whole run every operation tested after those would run as a revoked session.

The `Upload` scalar (multipart file uploads) has no JSON form schemathesis
could generate; it is given strings and nulls, which a JSON request carries
instead of a file, so the server's answer to a missing upload is fuzzed too.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar(
    "Upload",
    st.one_of(st.text(max_size=8).map(nodes.String), st.just(nodes.Null)),
)


def _graphql_errors(payload):
    """The `errors` entries of a response, batched or not."""
    items = payload if isinstance(payload, list) else [payload]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("errors"), list):
            yield from item["errors"]


@schemathesis.check
def hearth_error_codes(ctx, response, case):
    """Every GraphQL error carries an `extensions.code`, and none is INTERNAL."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        # Not JSON: response_schema_conformance reports that (ST109/ST115).
        return None
    for error in _graphql_errors(payload):
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        if not isinstance(code, str) or not code:
            raise AssertionError(f"GraphQL error without extensions.code: {message!r}")
        if code == "INTERNAL":
            raise AssertionError(f"GraphQL error with code INTERNAL: {message!r}")
    return None


SIGN_IN = """mutation ConformanceSignIn($input: SignInInput!) {
  signIn(input: $input) { accessToken }
}"""


def sign_in(url: str, login: str, password: str) -> str:
    """The signIn mutation, as a client would send it; returns the access token."""
    body = json.dumps(
        {
            "query": SIGN_IN,
            "variables": {
                "input": {
                    "login": login,
                    "password": password,
                    # The API wants a device name and a secret of 16+ characters.
                    "device": {"name": "conformance", "secret": "conformance-device-secret-0123456789"},
                }
            },
        }
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/graphql-response+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            payload = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        # A request-level error (400 in graphql-response+json mode): show why.
        raise RuntimeError(f"signIn failed: {error.code} {error.read()[:1000]!r}") from None
    try:
        return payload["data"]["signIn"]["accessToken"]
    except (KeyError, TypeError):
        raise RuntimeError(f"signIn failed: {payload}") from None


def _session_key(case, context):
    """One session per operation and phase: signOutEverywhere, fuzzed in the
    fuzzing phase, ends every session that phase had opened."""
    phase = getattr(getattr(case.meta, "phase", None), "name", "")
    return f"{getattr(phase, 'value', phase)}:{case.operation.label}"


if os.environ.get("HEARTH_SIGNIN_URL"):
    # One cached token per key (one sign-in, one argon2 hash, each), kept
    # for the whole run: an access token lives 15 minutes by default.
    # retry_on=[]: no silent re-login and replay on a 401; report it as is.
    @schemathesis.auth(refresh_interval=600, cache_by_key=_session_key, retry_on=[])
    class HearthSession:
        def get(self, case, context):
            return sign_in(
                os.environ["HEARTH_SIGNIN_URL"],
                os.environ["HEARTH_SIGNIN_LOGIN"],
                os.environ["HEARTH_SIGNIN_PASSWORD"],
            )

        def set(self, case, data, context):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


# --- Reading a run's report: `python schemathesis_hooks.py summarize DIR RC` ---

# What fails the fuzzing: a 5xx (ST101; ST102 is the same for an odd Content-Type), a
# null in a non-null field (ST114), and this file's check (ST901). Other
# codes are printed but pass: ST113 is any resolver error without one of the
# few codes schemathesis knows (so UNAUTHENTICATED, FORBIDDEN, ...), and
# ST206 any valid-by-schema input the API refuses (BAD_USER_INPUT).
GATING = {"ST101", "ST102", "ST114", "ST901"}


def summarize(report_dir: str, exit_code: int) -> int:
    import base64
    import glob
    import shlex

    reports = glob.glob(os.path.join(report_dir, "json-*.json"))
    if not reports:
        with open(os.path.join(report_dir, "output.log"), errors="replace") as log:
            print(log.read()[-4000:])
        print(f"schemathesis wrote no report (exit code {exit_code})")
        return 1
    with open(reports[0]) as f:
        report = json.load(f)
    problems = []
    if exit_code not in (0, 1):
        problems.append(f"schemathesis exit code {exit_code}")
    if not report.get("complete"):
        problems.append(f"run not complete: {report.get('stop_reason')}")
    for error in report.get("errors") or []:
        problems.append(f"schemathesis error: {json.dumps(error)[:1000]}")
    ops = report.get("operations", {})
    print(f"operations tested: {ops.get('tested')}/{ops.get('selected')}, "
          f"test cases: {report.get('test_cases', {}).get('generated')}")
    for failure in report.get("failures") or []:
        gating = failure["code"] in GATING
        print(f"{'FAIL' if gating else 'info'} {failure['code']} {failure['title']}: {failure['count']} "
              f"({', '.join(failure['operations'])})")

    # The request and response behind each gating failure, from the event log.
    seen = set()
    for path in glob.glob(os.path.join(report_dir, "ndjson-*.ndjson")):
        with open(path) as events:
            for line in events:
                event = json.loads(line).get("ScenarioFinished")
                if not event:
                    continue
                recorder = event["recorder"]
                # A skipped stateful scenario records no checks.
                for case_id, checks in (recorder.get("checks") or {}).items():
                    for check in checks:
                        failure = (check.get("failure_info") or {}).get("failure") or {}
                        if check["status"] != "failure" or failure.get("code") not in GATING:
                            continue
                        key = (failure["code"], recorder["label"], failure.get("message"))
                        if key in seen:
                            continue
                        seen.add(key)
                        interaction = (recorder.get("interactions") or {}).get(case_id) or {}
                        request = interaction.get("request") or {}
                        response = interaction.get("response") or {}
                        body = base64.b64decode((request.get("body") or {}).get("$base64", "")).decode(errors="replace")
                        content = base64.b64decode((response.get("content") or {}).get("$base64", "")).decode(
                            errors="replace"
                        )
                        curl = ["curl", "-si", "-H", "Content-Type: application/json",
                                "-H", "Accept: application/graphql-response+json",
                                "--data-raw", body, request.get("uri", "")]
                        curl = " ".join(shlex.quote(part) for part in curl)
                        if "Authorization" in (request.get("headers") or {}):
                            # The token is not kept; sign in as the demo account for one.
                            curl = curl.replace(" --data-raw ", ' -H "Authorization: Bearer $TOKEN" --data-raw ', 1)
                        problems.append(
                            f"{failure['code']} {recorder['label']}: {failure.get('title')}: {failure.get('message')}\n"
                            f"    request:  {curl}\n"
                            f"    response: {response.get('status_code')} {content[:600]}"
                        )
    if problems:
        print("\nG1 failures:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("fuzzing: 0 ST101, 0 ST114, every error coded and none INTERNAL")
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "summarize":
        sys.exit("usage: schemathesis_hooks.py summarize REPORT_DIR EXIT_CODE")
    sys.exit(summarize(sys.argv[2], int(sys.argv[3])))
