#!/usr/bin/env python3
"""Sign-in latency against a running API: the argon2id cost a user waits for,
and whether an unknown account takes as long as a wrong password (the same cost, so timing tells nothing).

    python3 scripts/bench/signin_latency.py http://127.0.0.1:8080/graphql [runs]

The API needs rate limits out of the way (AUTH_RATE_LIMIT_PER_IP and
AUTH_RATE_LIMIT_PER_ACCOUNT large); `just bench-signin` starts one so.
Standard library only.
"""

import json
import secrets
import statistics
import sys
import time
import urllib.request

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/graphql"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
DEVICE = {"name": "bench", "secret": secrets.token_urlsafe(32)}
SIGN_IN = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }"


def post(query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        URL, body, {"content-type": "application/json", "accept": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    return time.perf_counter() - started, answer


def sign_in(login, password):
    elapsed, answer = post(SIGN_IN, {"i": {"login": login, "password": password, "device": DEVICE}})
    return elapsed, answer


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    name = "bench_" + secrets.token_hex(4)
    password = "bench passphrase " + secrets.token_hex(4)
    _, answer = post(
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {"email": f"{name}@example.com", "username": name, "password": password, "device": DEVICE}},
    )
    if answer.get("errors"):
        sys.exit(f"sign-up failed: {answer['errors']}")

    cases = {
        "right password": (name, password, None),
        "wrong password": (name, "not the password", "UNAUTHENTICATED"),
        "unknown account": ("nobody_" + secrets.token_hex(4), "not the password", "UNAUTHENTICATED"),
    }
    for login, pw, _ in cases.values():  # warm-up
        sign_in(login, pw)
    samples = {case: [] for case in cases}
    # Interleave the cases so machine noise hits them alike.
    for _ in range(RUNS):
        for case, (login, pw, expected) in cases.items():
            elapsed, answer = sign_in(login, pw)
            errors = answer.get("errors") or []
            code = errors[0]["extensions"]["code"] if errors else None
            if code != expected:
                sys.exit(f"{case}: expected {expected}, got {answer}")
            samples[case].append(elapsed)

    print(f"sign-in latency over {RUNS} runs each ({URL})")
    for case, values in samples.items():
        p90 = statistics.quantiles(values, n=10)[-1] * 1000
        print(f"  {case:16} median {median_ms(values):7.1f} ms   p90 {p90:7.1f} ms")
    ratio = statistics.median(samples["unknown account"]) / statistics.median(samples["wrong password"])
    print(f"  unknown/wrong median ratio {ratio:.3f} (wanted: 0.90-1.10)")
    if not 0.9 <= ratio <= 1.1:
        sys.exit("unknown accounts are distinguishable by timing")


if __name__ == "__main__":
    main()
