#!/usr/bin/env python3
"""Where a request's cost goes, on a bench database kept by `just bench --keep-db`.

    python3 scripts/bench/profile.py cpu DB_URL [op ...]        CPU per request: API and PostgreSQL
    python3 scripts/bench/profile.py callgrind DB_URL op [n]    instructions per request (valgrind)
    python3 scripts/bench/profile.py signin DB_URL              RSS under three rounds of signIn

`op` is feed, lookup or createComment (all three by default for `cpu`). The
API binary is `$HEARTH_BIN_DIR/api` (default: the `dist` build in
`$CARGO_TARGET_DIR`), started with the bench's production settings.

- cpu: wrk at concurrency 32 for `--duration` seconds per operation; the
  API's and PostgreSQL's CPU time from /proc over the run, divided by the
  requests, and statements per request from `/metrics`. `--perf` also
  records `perf record -g` of the API per operation, `--stat` counts its
  syscalls and context switches (`perf stat`), into /tmp/hearth-profile.
- callgrind: the API under `valgrind --tool=callgrind`, once with `n` + 1
  sequential requests and once with 1 (both after one signIn; the first
  request also prepares statements and fills caches); the difference over
  `n` is the instruction count of one request, which does not depend on
  what else the machine is doing. Annotate the profiles with
  `callgrind_annotate --inclusive=yes`.
- signin: three rounds of signIn (as `just bench` runs them) and RSS: idle,
  peak per round, and after 12 s idle.

Standard-library Python; reuses bench.py's settings and helpers.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

OUT = "/tmp/hearth-profile"


def api_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(bench.ROOT, "target"))
    path = os.path.join(os.environ.get("HEARTH_BIN_DIR", os.path.join(target, "dist")), "api")
    if not os.access(path, os.X_OK):
        sys.exit(f"profile: {path} is missing: cargo build --profile dist -p api")
    return path


def payloads(ids):
    return {
        "feed": (bench.body(bench.HEARTH_FEED % 20, {}), None),
        "lookup": (bench.body(bench.HEARTH_LOOKUP, {"id": "%ID%"}), ids["User"]["global"]),
        "createComment": (bench.body(bench.HEARTH_COMMENT, {"post": "%ID%", "body": "profile comment %N%"}),
                          ids["Post"]["global"]),
    }


def seconds_of_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu():
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "postgres":
                total += seconds_of_cpu(pid)
        except OSError:
            pass
    return total


def cpu(args):
    ids = bench.write_ids(args.url, OUT, "profile")
    hearth = bench.Hearth(api_binary(), args.url, OUT, "profile")
    hearth.start()
    try:
        token = hearth.sign_in()
        wrk_args = types.SimpleNamespace(threads=2, concurrency=32, duration=args.duration, warmup=2, work=OUT)
        for op in args.ops:
            payload, id_file = payloads(ids)[op]
            bench.wrk(wrk_args, hearth.endpoint, payload, id_file, token, duration=2, label=f"{op} warm-up")
            watchers = []
            if args.perf:
                watchers.append(subprocess.Popen(
                    ["perf", "record", "-F", "999", "-g", "-o", f"{OUT}/{op}.perf.data", "-p", str(hearth.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            if args.stat:
                watchers.append(subprocess.Popen(
                    ["perf", "stat", "-e", "raw_syscalls:sys_enter,context-switches,task-clock",
                     "-o", f"{OUT}/{op}.perf.stat", "-p", str(hearth.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            if watchers:
                time.sleep(0.5)
            api0, pg0, statements0 = seconds_of_cpu(hearth.proc.pid), postgres_cpu(), hearth.statements()
            result = bench.wrk(wrk_args, hearth.endpoint, payload, id_file, token, label=op)
            api1, pg1, statements1 = seconds_of_cpu(hearth.proc.pid), postgres_cpu(), hearth.statements()
            for watcher in watchers:
                watcher.send_signal(2)
                watcher.wait()
            n = max(result["requests"], 1)
            line = (f"{op:14} {result['rps']:8.0f} req/s  p99 {result['p99_ms']:6.1f} ms  errors {result['errors']}  "
                    f"API {1000 * (api1 - api0) / n:.3f} ms/req  PostgreSQL {1000 * (pg1 - pg0) / n:.3f} ms/req")
            if statements0 is not None and statements1 is not None:
                line += f"  SQL/req {(statements1 - statements0) / n:.2f}"
            if args.stat:
                stat = open(f"{OUT}/{op}.perf.stat").read()
                for event in ("raw_syscalls:sys_enter", "context-switches"):
                    count = next((int(l.split()[0].replace(",", "")) for l in stat.splitlines() if event in l), None)
                    if count is not None:
                        line += f"  {event.split(':')[-1]}/req {count / n:.1f}"
            print(line, flush=True)
    finally:
        hearth.stop()


def callgrind_total(args, requests):
    ids = bench.write_ids(args.url, OUT, "callgrind")
    hearth = bench.Hearth(api_binary(), args.url, OUT, f"callgrind-{requests}")
    hearth.env["TOKIO_WORKER_THREADS"] = "2"
    out = f"{OUT}/callgrind.{args.op}.{requests}.out"
    for old in glob.glob(out + "*"):
        os.remove(old)
    hearth.proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", hearth.api_bin],
                                   env=hearth.env, stdout=open(hearth.log_path, "a"), stderr=subprocess.STDOUT)
    hearth.wait_until(lambda: bench.http_get(hearth.port, "/health/ready", timeout=5)[0] == 200, 300, 0.5,
                      "the API under valgrind")
    token = hearth.sign_in()
    first = open(ids["User" if args.op == "lookup" else "Post"]["global"]).readline().strip()
    payload = json.loads(payloads(ids)[args.op][0].replace("%ID%", first).replace("%N%", "1"))
    # One more request than counted, in both runs: the first one also
    # prepares statements and fills caches.
    for _ in range(requests + 1):
        status, answer = bench.http_post(hearth.port, "/graphql", payload, {"authorization": f"Bearer {token}"})
        if status != 200 or answer.get("errors"):
            sys.exit(f"profile: {args.op} failed: {answer}")
    hearth.proc.send_signal(2)
    hearth.proc.wait()
    total = 0
    for name in glob.glob(out + "*"):
        for line in open(name):
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total, out


def callgrind(args):
    base, _ = callgrind_total(args, 0)
    total, out = callgrind_total(args, args.n)
    print(f"{args.op}: {(total - base) / args.n / 1e6:.3f}M instructions per request "
          f"({args.n} requests: {total:,}; none: {base:,}); profile: {out}")


def signin(args):
    hearth = bench.Hearth(api_binary(), args.url, OUT, "signin")
    hearth.start()
    try:
        time.sleep(1)
        wrk_args = types.SimpleNamespace(threads=2, concurrency=32, duration=10, warmup=3, work=OUT)
        device = {"name": "profile", "secret": "profile-device-secret-0123456789abcdef"}
        payload = bench.body(bench.SIGN_IN, {"i": {"login": bench.DEMO_EMAIL, "password": bench.DEMO_PASSWORD,
                                                   "device": device}})
        print(f"idle: {bench.proc_status(hearth.proc.pid, 'VmRSS'):.1f} MiB")
        for round_no in range(1, 4):
            result = bench.measure_hearth(wrk_args, hearth, payload, label="signIn")
            print(f"round {round_no}: {result['rps']:.0f} req/s, errors {result['errors']}, "
                  f"peak {result['rss_peak_mib']:.1f} MiB", flush=True)
        time.sleep(12)
        print(f"after 12 s idle: {bench.proc_status(hearth.proc.pid, 'VmRSS'):.1f} MiB; "
              f"high-water mark {bench.proc_status(hearth.proc.pid, 'VmHWM'):.1f} MiB")
    finally:
        hearth.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("cpu")
    p.add_argument("url")
    p.add_argument("ops", nargs="*", help="feed, lookup, createComment (default: all three)")
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--perf", action="store_true")
    p.add_argument("--stat", action="store_true")
    p = commands.add_parser("callgrind")
    p.add_argument("url")
    p.add_argument("op", choices=["feed", "lookup", "createComment"])
    p.add_argument("n", type=int, nargs="?", default=50)
    p = commands.add_parser("signin")
    p.add_argument("url")
    args = parser.parse_args()
    if args.command == "cpu":
        args.ops = args.ops or ["feed", "lookup", "createComment"]
        unknown = set(args.ops) - {"feed", "lookup", "createComment"}
        if unknown:
            parser.error(f"unknown operation: {', '.join(sorted(unknown))}")
    os.makedirs(OUT, exist_ok=True)
    {"cpu": cpu, "callgrind": callgrind, "signin": signin}[args.command](args)


if __name__ == "__main__":
    main()
