#!/usr/bin/env python3
"""Feed latency against a running API seeded with the demo data: the signed-in
`feed` of 20 posts, each with author, reaction counts and the first 5
comments with their authors, requested one at a time.

    python3 scripts/bench/feed_latency.py http://127.0.0.1:8080 [runs]

Reports the median, p90 and p99 latency, and SQL statements per request when
the API runs with METRICS_ENABLED=true. `just bench-feed` seeds a fresh
PostgreSQL database at bench scale and starts the shipped (`dist`) API for it.
Standard library only.
"""

import json
import re
import secrets
import statistics
import sys
import time
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
DEMO = {"login": "demo@hearth.dev", "password": "hearth-demo"}
FEED = """query Feed($after: String) { feed(first: 20, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node { id body createdAt author { username displayName }
    reactionCount reactionCounts { kind count } viewerReaction commentCount
    comments(first: 5) { edges { node { body author { username } } } } } } } }"""


def post(query, variables, token=None):
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{BASE}/graphql", body, headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    elapsed = time.perf_counter() - started
    if answer.get("errors"):
        sys.exit(f"error: {answer['errors']}")
    return elapsed, answer


def statements():
    try:
        with urllib.request.urlopen(f"{BASE}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    match = re.search(r"^db_statements_total (\d+)", text, re.M)
    return int(match.group(1)) if match else None


def main():
    device = {"name": "bench", "secret": secrets.token_urlsafe(32)}
    _, answer = post(
        "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }",
        {"i": {**DEMO, "device": device}},
    )
    token = answer["data"]["signIn"]["accessToken"]
    # Warm up, and collect cursors so later runs read deeper pages too.
    cursors = [None]
    for _ in range(20):
        _, answer = post(FEED, {"after": cursors[-1]}, token)
        info = answer["data"]["feed"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        cursors.append(info["endCursor"])
    first = statements()
    times = []
    for i in range(RUNS):
        elapsed, answer = post(FEED, {"after": cursors[i % len(cursors)]}, token)
        if len(answer["data"]["feed"]["edges"]) != 20:
            sys.exit("a feed page came back short")
        times.append(elapsed * 1000)
    last = statements()
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(len(times) * p))]
    print(f"feed (20 posts, 5 comments each), {RUNS} sequential requests over {len(cursors)} pages:")
    print(f"  median {statistics.median(times):.1f} ms   p90 {pct(0.9):.1f} ms   p99 {pct(0.99):.1f} ms")
    if first is not None and last is not None:
        print(f"  SQL statements per request: {(last - first) / RUNS:.1f}")


if __name__ == "__main__":
    main()
