#!/usr/bin/env python3
"""`just bench`: Hearth under load, side by side with PostGraphile 5 and the
raw-SQL limit (pgbench), on the same freshly seeded PostgreSQL database.

    python3 scripts/bench/bench.py [--rounds 3] [--duration 10] [--warmup 3]

What it does, in order:
  1. checks its tools: wrk (installs the Debian package when missing),
     pgbench and psql, and Node 22 + PostGraphile 5 from npm in
     ~/.cache/hearth-node/postgraphile (setup-postgraphile.sh; when that
     fails the PostGraphile columns are left empty, and the run says so);
  2. creates a fresh database, seeds the bench scale (`seed --scale bench
     --seed 1`), VACUUM ANALYZE, then sql/setup.sql (id tables for the random
     draws, PostGraphile's feed function);
  3. measures the shipped (`dist`) API's start-up to ready on that migrated database
     (median of 3 starts) and its idle RSS, with production settings;
  4. for each round: feed, lookup by id and createComment, each against
     Hearth (wrk + wrk.lua), PostGraphile (wrk) and pgbench (sql/*.sql), at
     concurrency 32, after a warm-up, for a fixed time; then as many rounds
     of signIn (Hearth only: argon2-bound);
  5. scaling: the feed at page sizes 5, 20 and 100; the feed through two
     API processes on the same database (a second replica, half the
     connections each) against one with all of them; and at small scale in
     a second database;
  6. prints the table (medians over rounds) and writes every figure to a
     JSON file (--out).

Every wrk response is checked (status 200, no "errors" in the body); any
failure is counted and reported, and the first one is printed. Standard
library only. The databases it creates are dropped at the end.
"""

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO_EMAIL = "demo@hearth.dev"
DEMO_PASSWORD = "hearth-demo"
METRICS_TOKEN = "bench-metrics-token-0123456789"

HEARTH_FEED = (
    "query Feed { feed(first: %d) { pageInfo { hasNextPage endCursor } edges { node { "
    "id body createdAt author { username displayName } reactionCounts { kind count } "
    "comments(first: 5) { edges { node { id body createdAt author { username displayName } } } } "
    "} } } }"
)
PGL_FEED = (
    "query Feed($viewer: UUID!) { postgraphileBenchFeed(viewer: $viewer, first: %d) { "
    "pageInfo { hasNextPage endCursor } edges { node { "
    "id body createdAt userByAuthorId { username displayName } reactionCounts { nodes { kind count } } "
    "commentsByPostId(first: 5, orderBy: [CREATED_AT_ASC, ROW_ID_ASC], condition: { parentId: null }) { "
    "edges { node { id body createdAt userByAuthorId { username displayName } } } } } } } }"
)
HEARTH_LOOKUP = "query Lookup($id: ID!) { user(id: $id) { id username displayName bio createdAt } }"
PGL_LOOKUP = "query Lookup($id: UUID!) { userByRowId(rowId: $id) { rowId username displayName bio createdAt } }"
HEARTH_COMMENT = (
    "mutation Comment($post: ID!, $body: String!) { "
    "createComment(input: { postId: $post, body: $body }) { id body createdAt } }"
)
PGL_COMMENT = (
    "mutation Comment($post: UUID!, $viewer: UUID!, $body: String!) { "
    "createComment(input: { comment: { postId: $post, authorId: $viewer, body: $body } }) { "
    "comment { rowId body createdAt } } }"
)
SIGN_IN = "mutation SignIn($i: SignInInput!) { signIn(input: $i) { accessToken } }"


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def body(query, variables):
    """A request body for wrk.lua; "%ID%" and "%N%" survive JSON encoding."""
    return json.dumps({"query": query, "variables": variables})


def global_id(kind, uuid):
    return base64.urlsafe_b64encode(f"{kind}:{uuid}".encode()).decode().rstrip("=")


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_post(port, path, payload, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", path, json.dumps(payload), {"content-type": "application/json", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data)


def http_get(port, path, headers=None, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # MiB
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS while load runs; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            rss = proc_status(self.pid, "VmRSS")
            if rss:
                self.peak = max(self.peak, rss)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --- tools ---------------------------------------------------------------


def ensure_tools():
    if not shutil.which("wrk"):
        log("wrk is missing: installing the Debian package")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            sys.exit(f"bench: `{tool}` is required (Debian: apt-get install wrk postgresql-client)")


def setup_postgraphile():
    try:
        out = run(["bash", os.path.join(HERE, "setup-postgraphile.sh")], stdout=subprocess.PIPE)
    except subprocess.CalledProcessError as e:
        log(f"bench: PostGraphile could not be installed ({e}); its columns stay empty")
        return None
    directory = out.stdout.strip().splitlines()[-1]
    shutil.copy(os.path.join(HERE, "postgraphile.mjs"), os.path.join(directory, "launcher.mjs"))
    return directory


def versions(pg_dir, admin_url):
    v = {}
    v["hearth_commit"] = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], stdout=subprocess.PIPE).stdout.strip()
    if dirty:
        v["hearth_commit"] += "+dirty"
    v["postgresql"] = psql(admin_url, "SHOW server_version")
    v["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    v["pgbench"] = run(["pgbench", "--version"], stdout=subprocess.PIPE).stdout.strip()
    if pg_dir:
        node = os.path.join(pg_dir, "node_modules", ".bin", "node")
        v["node"] = run([node, "--version"], stdout=subprocess.PIPE).stdout.strip()
        with open(os.path.join(pg_dir, "node_modules", "postgraphile", "package.json")) as f:
            v["postgraphile"] = json.load(f)["version"]
    v["cpus"] = os.cpu_count()
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
        v["cpu"] = model.group(1) if model else "?"
    return v


# --- database --------------------------------------------------------------


def psql(url, sql):
    return run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url, "-c", sql], stdout=subprocess.PIPE).stdout.strip()


def db_url(admin_url, name, sslmode=None):
    url = admin_url.split("?", 1)[0].rsplit("/", 1)[0] + "/" + name
    return f"{url}?sslmode={sslmode}" if sslmode else url


def prepare_database(admin_url, name, scale, seed_bin, sslmode):
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {name}")
    # One connection setting for all three contenders: Hearth (sqlx) and
    # pgbench (libpq) would otherwise negotiate TLS with a server that offers
    # it (sslmode=prefer) while PostGraphile (node-postgres) would not.
    url = db_url(admin_url, name, sslmode)
    started = time.monotonic()
    run([seed_bin, "--scale", scale, "--seed", "1"], env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL)
    log(f"seeded {scale} scale into {name} in {time.monotonic() - started:.0f} s")
    psql(url, "VACUUM ANALYZE")
    viewer = psql(url, f"SELECT id FROM users WHERE email = '{DEMO_EMAIL}'")
    run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-v", f"viewer={viewer}", url, "-f",
         os.path.join(HERE, "sql", "setup.sql")], stdout=subprocess.DEVNULL)
    counts = {t: int(psql(url, f"SELECT count(*) FROM {t}")) for t in
              ("users", "posts", "comments", "reactions", "follows", "memberships")}
    log(f"  {counts}")
    return url, viewer, counts


def write_ids(url, work, prefix):
    """Id files for wrk: raw uuids (PostGraphile) and global ids (Hearth)."""
    files = {}
    for table, kind in (("bench.user_ids", "User"), ("bench.post_ids", "Post")):
        ids = psql(url, f"SELECT id FROM {table} ORDER BY n").split()
        raw = os.path.join(work, f"{prefix}-{kind.lower()}-uuids.txt")
        glob = os.path.join(work, f"{prefix}-{kind.lower()}-gids.txt")
        with open(raw, "w") as f:
            f.write("\n".join(ids) + "\n")
        with open(glob, "w") as f:
            f.write("\n".join(global_id(kind, i) for i in ids) + "\n")
        files[kind] = {"raw": raw, "global": glob, "count": len(ids)}
    return files


# --- servers ---------------------------------------------------------------


class Server:
    """A server process the bench starts: waits for it to answer, stops it."""

    proc = None
    port = 0
    log_path = ""

    def wait_until(self, ready, within, pause, what):
        """Polls `ready()` until true; returns the seconds it took, or exits
        with the server's log if it died or took longer than `within`."""
        started = time.monotonic()
        while time.monotonic() < started + within:
            try:
                if ready():
                    return time.monotonic() - started
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(pause)
        with open(self.log_path) as f:
            log(f.read()[-3000:])
        sys.exit(f"bench: {what} did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}/graphql"


class Hearth(Server):
    def __init__(self, api_bin, url, work, name):
        self.api_bin, self.url, self.port = api_bin, url, free_port()
        self.data_dir = os.path.join(work, f"data-{name}")
        self.log_path = os.path.join(work, f"api-{name}.log")
        self.proc = None
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HEARTH_ENV": "production",
            "DATABASE_URL": url,
            "DATA_DIR": self.data_dir,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "METRICS_ENABLED": "true",
            "METRICS_TOKEN": METRICS_TOKEN,
            "AUTH_RATE_LIMIT_PER_IP": "100000000",
            "AUTH_RATE_LIMIT_PER_ACCOUNT": "100000000",
            # The default (5000) refuses a feed page of 100 posts with 5
            # comments each; the scaling run needs it.
            "GRAPHQL_MAX_COMPLEXITY": "100000",
        }
        # Experiments: a pool size, or another malloc for the API process only
        # (BENCH_API_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2).
        for passthrough in ("DATABASE_MAX_CONNECTIONS",):
            if passthrough in os.environ:
                self.env[passthrough] = os.environ[passthrough]
        if os.environ.get("BENCH_API_PRELOAD"):
            self.env["LD_PRELOAD"] = os.environ["BENCH_API_PRELOAD"]

    def start(self):
        """Starts the API; returns seconds from spawn to /health/ready = 200."""
        self.proc = subprocess.Popen([self.api_bin], env=self.env, stdout=open(self.log_path, "a"),
                                     stderr=subprocess.STDOUT)
        return self.wait_until(lambda: http_get(self.port, "/health/ready", timeout=1)[0] == 200,
                               30, 0.002, "the API")

    def statements(self):
        status, data = http_get(self.port, "/metrics", {"authorization": f"Bearer {METRICS_TOKEN}"})
        match = re.search(rb"^db_statements_total (\d+)", data, re.M)
        return int(match.group(1)) if status == 200 and match else None

    def sign_in(self):
        device = {"name": "bench", "secret": secrets.token_urlsafe(32)}
        status, answer = http_post(self.port, "/graphql", {
            "query": SIGN_IN, "variables": {"i": {"login": DEMO_EMAIL, "password": DEMO_PASSWORD, "device": device}}})
        if status != 200 or answer.get("errors"):
            sys.exit(f"bench: signIn failed: {answer}")
        return answer["data"]["signIn"]["accessToken"]

class Bare(Server):
    """The ceiling: bench/bare, the same requests by hand-written SQL and
    JSON on axum and sqlx, checking the same access tokens."""

    def __init__(self, binary, url, work, jwt_secret):
        self.binary, self.url, self.port = binary, url, free_port()
        self.log_path = os.path.join(work, "bare.log")
        self.env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url, "PORT": str(self.port),
                    "JWT_SECRET": jwt_secret}
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=open(self.log_path, "a"),
                                     stderr=subprocess.STDOUT)
        self.wait_until(lambda: http_get(self.port, "/health/ready", timeout=1)[0] == 200, 30, 0.01, "bare")


class PostGraphile(Server):
    def __init__(self, directory, url, work):
        self.directory, self.url, self.port = directory, url, free_port()
        self.log_path = os.path.join(work, "postgraphile.log")
        self.proc = None

    def start(self):
        node = os.path.join(self.directory, "node_modules", ".bin", "node")
        env = {**os.environ, "DATABASE_URL": self.url, "PORT": str(self.port), "NODE_ENV": "production"}
        self.proc = subprocess.Popen([node, "launcher.mjs"], cwd=self.directory, env=env,
                                     stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)

        def ready():
            status, answer = http_post(self.port, "/graphql", {"query": "{ __typename }"}, timeout=2)
            return status == 200 and not answer.get("errors")

        self.wait_until(ready, 60, 0.2, "PostGraphile")


# --- load ------------------------------------------------------------------


def wrk(args, endpoint, payload, ids=None, token=None, duration=None, label=""):
    env = {**os.environ, "BENCH_BODY": payload, "BENCH_IDS": ids or "", "BENCH_TOKEN": token or "",
           "BENCH_FAIL": os.path.join(args.work, "wrk-failure.txt")}
    if os.path.exists(env["BENCH_FAIL"]):
        os.remove(env["BENCH_FAIL"])
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.concurrency), "-d", f"{duration or args.duration}s",
           "--timeout", "10s", "-s", os.path.join(HERE, "wrk.lua"), endpoint]
    out = run(cmd, env=env, stdout=subprocess.PIPE).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["errors"] = result["failed"] + result["socket_errors"]
    if result["errors"]:
        sample = open(env["BENCH_FAIL"]).read() if os.path.exists(env["BENCH_FAIL"]) else "(socket errors)"
        log(f"  {label}: {result['errors']} failed responses; first: {sample[:300]}")
    return result


def pgbench(args, url, script, defines, duration=None):
    """pgbench at the same concurrency; latencies from its per-transaction log."""
    logdir = tempfile.mkdtemp(dir=args.work)
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(args.concurrency), "-j", str(args.threads),
           "-T", str(duration or args.duration), "-l", "--log-prefix", os.path.join(logdir, "tx"),
           "-f", os.path.join(HERE, "sql", script)]
    for key, value in defines.items():
        cmd += ["-D", f"{key}={value}"]
    out = run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latencies = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    latencies.append(int(fields[2]) / 1000)
    shutil.rmtree(logdir)
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0
    return {"rps": tps, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": int(failed.group(1)) if failed else 0,
            "requests": len(latencies)}


def measure_hearth(args, hearth, payload, ids=None, token=None, sampler=None, duration=None, label=""):
    wrk(args, hearth.endpoint, payload, ids, token, duration=args.warmup, label=label + " warm-up")
    before = hearth.statements()
    with RssSampler(hearth.proc.pid) as rss:
        result = wrk(args, hearth.endpoint, payload, ids, token, duration=duration, label=label)
    after = hearth.statements()
    result["rss_peak_mib"] = rss.peak
    if before is not None and after is not None and result["requests"]:
        result["statements"] = (after - before) / result["requests"]
    return result


def measure_replicas(args, replicas, payload, token, label):
    """The same load split over `replicas` (one wrk each, at once, the
    connections shared out): req/s summed, p99 the worst of them."""
    def one(n, replica):
        work = os.path.join(args.work, f"replica-{n}")
        os.makedirs(work, exist_ok=True)
        share = argparse.Namespace(**{**vars(args), "work": work, "threads": max(1, args.threads // len(replicas)),
                                      "concurrency": args.concurrency // len(replicas)})
        wrk(share, replica.endpoint, payload, None, token, duration=args.warmup, label=f"{label} warm-up")
        return share, replica

    shares = [one(n, replica) for n, replica in enumerate(replicas)]
    results = [None] * len(shares)

    def load(n):
        share, replica = shares[n]
        results[n] = wrk(share, replica.endpoint, payload, None, token, label=f"{label} {n + 1}")

    threads = [threading.Thread(target=load, args=(n,)) for n in range(len(shares))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": sum(r["rps"] for r in results), "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results), "connections": args.concurrency, "replicas": results}


def measure_pgl(args, pgl, payload, ids=None, label="", token=None):
    wrk(args, pgl.endpoint, payload, ids, token, duration=args.warmup, label=label + " warm-up")
    return wrk(args, pgl.endpoint, payload, ids, token, label=label)


def median(results, key):
    values = [r[key] for r in results if r and r.get(key) is not None]
    return statistics.median(values) if values else None


# --- main ------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds of measured load per operation")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads and pgbench jobs")
    p.add_argument("--no-postgraphile", action="store_true")
    p.add_argument("--no-bare", action="store_true", help="leave out the bare Rust contender (bench/bare)")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--scale", default="bench", help="seed scale of the main database (small for a smoke test)")
    p.add_argument("--sslmode", default="disable",
                   help="sslmode for every client's connection (loopback: disable; `prefer` to measure with TLS)")
    p.add_argument("--keep-db", action="store_true", help="leave the bench database for profiling")
    p.add_argument("--out", default=None, help="JSON results file (default: a temp file)")
    p.add_argument("--report", metavar="JSON", help="print the table of an earlier run's results file and exit")
    args = p.parse_args()
    if args.report:
        with open(args.report) as f:
            print(report(json.load(f)))
        return

    admin_url = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bin_dir = os.environ.get("HEARTH_BIN_DIR", os.path.join(target, "dist"))
    api_bin = os.path.join(bin_dir, "api")
    seed_bin = os.path.join(bin_dir, "seed")
    bare_bin = None if args.no_bare else os.path.join(bin_dir, "bare")
    for binary in (api_bin, seed_bin, bare_bin):
        if binary and not os.access(binary, os.X_OK):
            sys.exit(f"bench: {binary} is missing: cargo build --profile dist -p api -p seed -p bare")
    ensure_tools()
    pg_dir = None if args.no_postgraphile else setup_postgraphile()

    args.work = tempfile.mkdtemp(prefix="hearth-bench-")
    pid = os.getpid()
    bench_db, small_db = f"hearth_bench_{pid}", f"hearth_bench_small_{pid}"
    servers = []
    out = {"settings": {k: v for k, v in vars(args).items() if k != "work"}, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out["versions"] = versions(pg_dir, admin_url)
    out["api_env"] = {k: os.environ[k] for k in ("DATABASE_MAX_CONNECTIONS", "BENCH_API_PRELOAD") if k in os.environ}
    log(f"versions: {out['versions']}")
    try:
        url, viewer, counts = prepare_database(admin_url, bench_db, args.scale, seed_bin, args.sslmode)
        out["rows"] = counts
        ids = write_ids(url, args.work, "bench")

        # Start-up to ready on the migrated database, median of 3.
        hearth = Hearth(api_bin, url, args.work, "bench")
        servers.append(hearth)
        startups = []
        for _ in range(3):
            startups.append(hearth.start())
            hearth.stop()
        out["startup_ms"] = [s * 1000 for s in startups]
        hearth.start()
        time.sleep(2)
        out["rss_idle_mib"] = proc_status(hearth.proc.pid, "VmRSS")
        log(f"start-up to ready: {[f'{s * 1000:.0f} ms' for s in startups]}; idle RSS {out['rss_idle_mib']:.1f} MiB")

        bare = None
        if bare_bin:
            bare = Bare(bare_bin, url, args.work, hearth.env["JWT_SECRET"])
            servers.append(bare)
            bare.start()
            time.sleep(1)
            out["bare_rss_idle_mib"] = proc_status(bare.proc.pid, "VmRSS")

        pgl = None
        if pg_dir:
            pgl = PostGraphile(pg_dir, url, args.work)
            servers.append(pgl)
            pgl.start()
            time.sleep(1)
            out["postgraphile_rss_idle_mib"] = proc_status(pgl.proc.pid, "VmRSS")

        ops = {
            "feed": {
                "hearth": lambda token: body(HEARTH_FEED % 20, {}),
                "hearth_ids": None,
                "pgl": body(PGL_FEED % 20, {"viewer": viewer}),
                "pgl_ids": None,
                "sql": ("feed.sql", {"viewer": viewer, "limit": 20}),
            },
            "lookup": {
                "hearth": lambda token: body(HEARTH_LOOKUP, {"id": "%ID%"}),
                "hearth_ids": ids["User"]["global"],
                "pgl": body(PGL_LOOKUP, {"id": "%ID%"}),
                "pgl_ids": ids["User"]["raw"],
                "sql": ("lookup.sql", {"users": ids["User"]["count"]}),
            },
            "createComment": {
                "hearth": lambda token: body(HEARTH_COMMENT, {"post": "%ID%", "body": "bench comment %N%"}),
                "hearth_ids": ids["Post"]["global"],
                "pgl": body(PGL_COMMENT, {"post": "%ID%", "viewer": viewer, "body": "bench comment %N%"}),
                "pgl_ids": ids["Post"]["raw"],
                "sql": ("create_comment.sql", {"viewer": viewer, "posts": ids["Post"]["count"]}),
            },
        }
        results = {op: {"hearth": [], "bare": [], "postgraphile": [], "pgbench": []} for op in ops}
        results["signIn"] = {"hearth": []}
        pgl_rss_peak = 0.0
        for round_no in range(1, args.rounds + 1):
            token = hearth.sign_in()  # access tokens live 15 minutes
            for op, spec in ops.items():
                h = measure_hearth(args, hearth, spec["hearth"](token), spec["hearth_ids"], token,
                                   label=f"hearth {op}")
                results[op]["hearth"].append(h)
                line = f"round {round_no} {op:14} hearth {h['rps']:8.0f} req/s p99 {h['p99_ms']:7.1f} ms"
                if bare:
                    b = measure_pgl(args, bare, spec["hearth"](token), spec["hearth_ids"], label=f"bare {op}",
                                    token=token)
                    results[op]["bare"].append(b)
                    line += f" | bare {b['rps']:7.0f} req/s p99 {b['p99_ms']:7.1f} ms"
                if pgl:
                    with RssSampler(pgl.proc.pid) as s:
                        g = measure_pgl(args, pgl, spec["pgl"], spec["pgl_ids"], label=f"postgraphile {op}")
                    pgl_rss_peak = max(pgl_rss_peak, s.peak)
                    results[op]["postgraphile"].append(g)
                    line += f" | postgraphile {g['rps']:7.0f} req/s p99 {g['p99_ms']:7.1f} ms"
                script, defines = spec["sql"]
                s = pgbench(args, url, script, defines)
                results[op]["pgbench"].append(s)
                line += f" | pgbench {s['rps']:8.0f} tps"
                log(line)
        # signIn last, in rounds of its own: argon2id's 19 MiB per hash in
        # flight can leave the allocator holding memory, which must not count
        # against the GraphQL load above.
        device = {"name": "bench", "secret": "bench-device-secret-0123456789abcdef"}
        payload = body(SIGN_IN, {"i": {"login": DEMO_EMAIL, "password": DEMO_PASSWORD, "device": device}})
        for round_no in range(1, args.rounds + 1):
            h = measure_hearth(args, hearth, payload, label="hearth signIn")
            results["signIn"]["hearth"].append(h)
            log(f"round {round_no} signIn         hearth {h['rps']:8.0f} req/s p99 {h['p99_ms']:7.1f} ms")
        # Peak RSS under the GraphQL load (feed, lookup, createComment), and
        # separately under signIn (argon2id takes 19 MiB per hash in flight).
        out["rss_load_peak_mib"] = max(r["rss_peak_mib"] for op in ops for r in results[op]["hearth"])
        out["rss_signin_peak_mib"] = max(r["rss_peak_mib"] for r in results["signIn"]["hearth"])
        out["rss_hwm_mib"] = proc_status(hearth.proc.pid, "VmHWM")
        out["rss_after_load_mib"] = proc_status(hearth.proc.pid, "VmRSS")
        if pgl:
            out["postgraphile_rss_load_peak_mib"] = pgl_rss_peak
        out["rounds"] = results

        if not args.no_scaling:
            scaling = {}
            token = hearth.sign_in()
            for size in (5, 20, 100):
                row = {}
                row["hearth"] = measure_hearth(args, hearth, body(HEARTH_FEED % size, {}), None, token,
                                               label=f"hearth feed {size}")
                if pgl:
                    row["postgraphile"] = measure_pgl(args, pgl, body(PGL_FEED % size, {"viewer": viewer}),
                                                      label=f"postgraphile feed {size}")
                row["pgbench"] = pgbench(args, url, "feed.sql", {"viewer": viewer, "limit": size})
                scaling[f"bench_page_{size}"] = row
                log(f"scaling: feed page {size}: hearth {row['hearth']['rps']:.0f} req/s, "
                    f"pgbench {row['pgbench']['rps']:.0f} tps")
            # Scale-out: a second API process on the same database, the
            # feed's connections split between the two, against one process
            # with all of them, in the same minute. Both share the machine's
            # cores with PostgreSQL and wrk.
            feed = body(HEARTH_FEED % 20, {})
            replica = Hearth(api_bin, url, args.work, "replica")
            replica.env["JWT_SECRET"] = hearth.env["JWT_SECRET"]
            servers.append(replica)
            replica.start()
            one = measure_replicas(args, [hearth], feed, token, "hearth feed, one replica")
            two = measure_replicas(args, [hearth, replica], feed, token, "hearth feed, two replicas")
            replica.stop()
            scaling["replicas"] = {"one": one, "two": two}
            log(f"scaling: feed through one replica {one['rps']:.0f} req/s (p99 {one['p99_ms']:.1f} ms), "
                f"through two {two['rps']:.0f} req/s (p99 {two['p99_ms']:.1f} ms): {two['rps'] / one['rps']:.2f}x")
            # Small scale: the same operations on a small database.
            small_url, small_viewer, small_counts = prepare_database(admin_url, small_db, "small", seed_bin, args.sslmode)
            out["rows_small"] = small_counts
            small_ids = write_ids(small_url, args.work, "small")
            small = Hearth(api_bin, small_url, args.work, "small")
            servers.append(small)
            small.start()
            small_token = small.sign_in()
            row = {
                "feed": measure_hearth(args, small, body(HEARTH_FEED % 20, {}), None, small_token,
                                       label="small hearth feed"),
                "lookup": measure_hearth(args, small, body(HEARTH_LOOKUP, {"id": "%ID%"}),
                                         small_ids["User"]["global"], small_token, label="small hearth lookup"),
                "createComment": measure_hearth(
                    args, small, body(HEARTH_COMMENT, {"post": "%ID%", "body": "bench comment %N%"}),
                    small_ids["Post"]["global"], small_token, label="small hearth createComment"),
                "feed_pgbench": pgbench(args, small_url, "feed.sql", {"viewer": small_viewer, "limit": 20}),
            }
            small.stop()
            scaling["small_page_20"] = row
            log(f"scaling: small scale: feed {row['feed']['rps']:.0f} req/s, lookup {row['lookup']['rps']:.0f}, "
                f"createComment {row['createComment']['rps']:.0f}; pgbench feed {row['feed_pgbench']['rps']:.0f} tps")
            out["scaling"] = scaling
    finally:
        for server in servers:
            server.stop()
        if not args.keep_db:
            for name in (bench_db, small_db):
                subprocess.run(["psql", "-qX", admin_url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            log(f"kept database {bench_db}")

    path = args.out or os.path.join(tempfile.gettempdir(), f"hearth-bench-{pid}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    shutil.rmtree(args.work, ignore_errors=True)
    print(report(out))
    log(f"results: {path}")


TARGETS = {  # op: (x PostGraphile req/s, share of pgbench tps, p99 at most this share of PostGraphile's)
    "feed": (3.0, 0.40, 1 / 3),
    "lookup": (5.0, 0.30, None),
    "createComment": (2.0, 0.50, None),
}
BARE_TARGETS = {"feed": 0.80, "lookup": 0.90, "createComment": 0.85}  # share of the bare service's req/s


def fmt(value, spec=".0f"):
    return "–" if value is None else format(value, spec)


def report(out):
    lines = []
    v = out["versions"]
    lines.append(f"Hearth {v['hearth_commit']} · PostGraphile {v.get('postgraphile', '–')} on Node {v.get('node', '–')} · "
                 f"PostgreSQL {v['postgresql']} · {v['wrk']} · {v['cpus']} CPUs ({v['cpu']})")
    s = out["settings"]
    if out.get("api_env"):
        lines.append(f"API experiment settings: {out['api_env']}")
    lines.append(f"concurrency {s['concurrency']}, {s['rounds']} rounds of {s['duration']} s after {s['warmup']} s warm-up; "
                 f"medians over rounds")
    lines.append("")
    lines.append("| operation | Hearth req/s | p50 ms | p99 ms | errors | SQL/req | bare Rust req/s | p99 ms "
                 "| PostGraphile req/s | p50 ms | p99 ms | errors "
                 "| pgbench tps | p50 ms | p99 ms | vs bare Rust (target) | vs PostGraphile (target) | vs raw SQL (target) "
                 "| p99 vs PostGraphile (target) |")
    lines.append("|---" * 19 + "|")
    for op, r in out["rounds"].items():
        h = r["hearth"]
        g = r.get("postgraphile") or []
        q = r.get("pgbench") or []
        h_rps, g_rps, q_rps = median(h, "rps"), median(g, "rps"), median(q, "rps")
        # Ratios per round (same round, same conditions), then the median.
        b_ = r.get("bare") or []
        ratio_b = statistics.median([a["rps"] / b["rps"] for a, b in zip(h, b_)]) if b_ else None
        ratio_g = statistics.median([a["rps"] / b["rps"] for a, b in zip(h, g)]) if g else None
        ratio_q = statistics.median([a["rps"] / b["rps"] for a, b in zip(h, q)]) if q else None
        ratio_p99 = statistics.median([a["p99_ms"] / b["p99_ms"] for a, b in zip(h, g)]) if g else None
        t = TARGETS.get(op)

        def verdict(value, target, at_most=False):
            if value is None or target is None:
                return fmt(value, ".2f")
            ok = value <= target if at_most else value >= target
            return f"{value:.2f} ({'≤' if at_most else '≥'} {target:.2f}: {'met' if ok else 'MISSED'})"

        errors = sum(x["errors"] for x in h)
        lines.append(
            f"| {op} | {fmt(h_rps)} | {fmt(median(h, 'p50_ms'), '.1f')} | {fmt(median(h, 'p99_ms'), '.1f')} | {errors} | "
            f"{fmt(median(h, 'statements'), '.1f')} | {fmt(median(b_, 'rps'))} | {fmt(median(b_, 'p99_ms'), '.1f')} | "
            f"{fmt(g_rps)} | {fmt(median(g, 'p50_ms'), '.1f')} | "
            f"{fmt(median(g, 'p99_ms'), '.1f')} | {sum(x['errors'] for x in g) if g else '–'} | {fmt(q_rps)} | "
            f"{fmt(median(q, 'p50_ms'), '.1f')} | {fmt(median(q, 'p99_ms'), '.1f')} | "
            f"{verdict(ratio_b, BARE_TARGETS.get(op))} | "
            f"{verdict(ratio_g, t[0] if t else None)} | {verdict(ratio_q, t[1] if t else None)} | "
            f"{verdict(ratio_p99, t[2] if t else None, at_most=True)} |")
    lines.append("")
    st = out["startup_ms"]
    first_round = max(r["hearth"][0]["rss_peak_mib"] for op, r in out["rounds"].items() if op != "signIn")
    lines.append(f"Hearth RSS: idle {fmt(out['rss_idle_mib'], '.1f')} MiB (target ≤ 30); peak under the GraphQL load "
                 f"in round 1 {first_round:.1f} MiB, over all rounds {fmt(out['rss_load_peak_mib'], '.1f')} MiB "
                 f"(target ≤ 100); under signIn {fmt(out['rss_signin_peak_mib'], '.1f')} MiB "
                 f"(VmHWM at the end {fmt(out['rss_hwm_mib'], '.1f')}); "
                 f"start-up to ready {', '.join(f'{x:.0f}' for x in st)} ms, median {statistics.median(st):.0f} ms (target < 100)")
    if "bare_rss_idle_mib" in out:
        lines.append(f"bare Rust RSS: idle {fmt(out['bare_rss_idle_mib'], '.1f')} MiB")
    if "postgraphile_rss_idle_mib" in out:
        lines.append(f"PostGraphile RSS: idle {fmt(out['postgraphile_rss_idle_mib'], '.1f')} MiB, peak under load "
                     f"{fmt(out.get('postgraphile_rss_load_peak_mib'), '.1f')} MiB")
    if "scaling" in out:
        sc = out["scaling"]
        lines.append("")
        lines.append("| feed page size (bench scale) | Hearth req/s | p99 ms | SQL/req | PostGraphile req/s | pgbench tps |")
        lines.append("|---|---|---|---|---|---|")
        for size in (5, 20, 100):
            row = sc[f"bench_page_{size}"]
            lines.append(f"| {size} | {fmt(row['hearth']['rps'])} | {fmt(row['hearth']['p99_ms'], '.1f')} | "
                         f"{fmt(row['hearth'].get('statements'), '.1f')} | "
                         f"{fmt(row.get('postgraphile', {}).get('rps'))} | {fmt(row['pgbench']['rps'])} |")
        if "replicas" in sc:
            one, two = sc["replicas"]["one"], sc["replicas"]["two"]
            lines.append("")
            lines.append("| feed (page 20), one PostgreSQL | req/s | p99 ms | errors | vs one replica |")
            lines.append("|---|---|---|---|---|")
            lines.append(f"| one API process, {one['connections']} connections | {fmt(one['rps'])} | "
                         f"{fmt(one['p99_ms'], '.1f')} | {one['errors']} | 1.00x |")
            lines.append(f"| two API processes, {two['connections'] // 2} connections each | {fmt(two['rps'])} | "
                         f"{fmt(two['p99_ms'], '.1f')} | {two['errors']} | {two['rps'] / one['rps']:.2f}x |")
        small = sc["small_page_20"]
        lines.append("")
        lines.append(f"| table size | rows (users/posts/comments) | Hearth feed req/s | lookup req/s | createComment req/s | pgbench feed tps |")
        lines.append("|---|---|---|---|---|---|")
        rb, rs = out["rows"], out["rows_small"]
        lines.append(f"| small | {rs['users']}/{rs['posts']}/{rs['comments']} | {fmt(small['feed']['rps'])} | "
                     f"{fmt(small['lookup']['rps'])} | {fmt(small['createComment']['rps'])} | {fmt(small['feed_pgbench']['rps'])} |")
        r = out["rounds"]
        lines.append(f"| bench (medians above) | {rb['users']}/{rb['posts']}/{rb['comments']} | {fmt(median(r['feed']['hearth'], 'rps'))} | "
                     f"{fmt(median(r['lookup']['hearth'], 'rps'))} | {fmt(median(r['createComment']['hearth'], 'rps'))} | "
                     f"{fmt(median(r['feed']['pgbench'], 'rps'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
