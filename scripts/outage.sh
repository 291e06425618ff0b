#!/usr/bin/env bash
# Database crash check on a private PostgreSQL cluster, so
# the machine's shared server is never stopped: the musl API runs on it,
# the cluster is stopped with `-m immediate` (a crash), and then:
#  - GraphQL answers within 5 s with a coded error and no internals;
#  - /health/ready answers 503 within 5 s, the healthcheck exits 1 within 3 s;
#  - after a restart of the cluster the API serves again within 10 s,
#    without being restarted;
#  - every sign-up a client saw acknowledged, from a write load running
#    through the crash, is in the database afterwards.
# API_BIN and HEALTHCHECK_BIN pick the binaries (default: the x86_64 musl build of check-image, profile
# CHECK_PROFILE, default cross-check).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
api_bin=${API_BIN:-$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/${CHECK_PROFILE:-cross-check}/api}
hc_bin=${HEALTHCHECK_BIN:-$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/${CHECK_PROFILE:-cross-check}/healthcheck}
[ -x "$api_bin" ] && [ -x "$hc_bin" ] || { echo "outage: build the musl binaries first (just check-image)" >&2; exit 1; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "outage: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

fail() { echo "outage: FAILED: $*" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
mkdir "$work/pg"
chown postgres: "$work/pg"
api_pid=
as_postgres() { runuser -u postgres -- "$@"; }
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
pg_start() {
  as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null
}
pg_start

api_env=(env -i "PATH=$PATH" "PORT=$port" "HOST=127.0.0.1" "DATA_DIR=$work/data" "LOG_FORMAT=json"
  "AUTH_RATE_LIMIT_PER_IP=1000000" "AUTH_RATE_LIMIT_PER_ACCOUNT=1000000"
  "DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres")
(cd "$work" && exec "${api_env[@]}" "$api_bin" >"$work/api.log" 2>&1) &
api_pid=$!

# One GraphQL request: prints "<status> <code or ok> <seconds>".
cat >"$work/query.py" <<'EOF'
import json, sys, time, urllib.request, urllib.error
body = json.dumps({"query": "{ users(first: 1) { totalCount } }"}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/graphql", body,
                             {"Content-Type": "application/json"})
started = time.time()
try:
    with urllib.request.urlopen(req, timeout=20) as r:
        status, text = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, text = e.code, e.read().decode()
took = time.time() - started
doc = json.loads(text)
errors = doc.get("errors") or []
code = errors[0].get("extensions", {}).get("code", "NO_CODE") if errors else "ok"
leaks = [w for w in ("postgres", "sqlx", "connection", "127.0.0.1") if w in text.lower()]
print(status, code, f"{took:.2f}", "LEAK:" + ",".join(leaks) if leaks else "")
EOF
# Writes through the crash: 4 clients sign up new accounts until told to
# stop, recording each username whose sign-up was acknowledged.
cat >"$work/writer.py" <<'EOF'
import json, os, sys, threading, urllib.request
port, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
query = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }"
acked, attempts, lock = [], [0], threading.Lock()
def client(n):
    i = 0
    while not os.path.exists(stop):
        i += 1
        name = f"w{n}_{i}"
        device = {"name": "writer", "secret": "outage-writer-secret-0123456789"}
        body = json.dumps({"query": query, "variables": {"i": {
            "email": f"{name}@example.com", "username": name,
            "password": "outage passphrase", "device": device}}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body,
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                doc = json.load(response)
            ok = response.status == 200 and not doc.get("errors")
        except Exception:
            ok = False
        with lock:
            attempts[0] += 1
            if ok:
                acked.append(name)
threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
open(out, "w").write("\n".join(acked) + "\n")
print(f"writer: {attempts[0]} sign-ups attempted, {len(acked)} acknowledged")
EOF
ready_status() {
  python3 -c "import urllib.request, urllib.error, sys
try: print(urllib.request.urlopen('http://127.0.0.1:$port/health/ready', timeout=10).status)
except urllib.error.HTTPError as e: print(e.code)
except Exception: print(0)"
}

for _ in $(seq 1 100); do [ "$(ready_status)" = 200 ] && break; sleep 0.2; done
[ "$(ready_status)" = 200 ] || { cat "$work/api.log"; fail "the API is not ready on the private cluster"; }
read -r status code took leak < <(python3 "$work/query.py" "$port")
[ "$status $code" = "200 ok" ] || fail "GraphQL before the crash: $status $code"

python3 "$work/writer.py" "$port" "$work/acked.txt" "$work/stop-writing" &
writer_pid=$!
sleep 2

as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null
echo "PostgreSQL stopped with -m immediate"
for i in 1 2 3; do
  read -r status code took leak < <(python3 "$work/query.py" "$port")
  echo "GraphQL during the outage: HTTP $status, code $code, ${took} s ${leak:-}"
  [ "$status" != 500 ] || fail "GraphQL answered 500"
  [ "$code" = SERVICE_UNAVAILABLE ] || fail "GraphQL error code $code, not SERVICE_UNAVAILABLE"
  [ -z "${leak:-}" ] || fail "GraphQL error leaks internals ($leak)"
  python3 -c "import sys; sys.exit(0 if float('$took') < 5 else 1)" || fail "GraphQL took $took s"
done
t0=$(date +%s%N)
ready=$(ready_status)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "/health/ready during the outage: $ready in $ms ms"
[ "$ready" = 503 ] && [ "$ms" -lt 5000 ] || fail "/health/ready: $ready in $ms ms"
t0=$(date +%s%N)
rc=0
env -i "PORT=$port" "$hc_bin" 2>/dev/null || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "healthcheck during the outage: exit $rc in $ms ms"
[ "$rc" = 1 ] && [ "$ms" -lt 3000 ] || fail "healthcheck: exit $rc in $ms ms"

pg_start
t0=$(date +%s%N)
while :; do
  read -r status code took leak < <(python3 "$work/query.py" "$port")
  if [ "$status $code" = "200 ok" ] && [ "$(ready_status)" = 200 ]; then break; fi
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -lt 10000 ] || fail "not recovered within 10 s of the restart ($status $code)"
  sleep 0.2
done
echo "recovered $((($(date +%s%N) - t0) / 1000000)) ms after PostgreSQL came back, without a restart"
sleep 1
touch "$work/stop-writing"
wait "$writer_pid" || fail "the writer failed"
stored=$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -At -c "SELECT username FROM users" postgres | sort)
acked=$(grep . "$work/acked.txt" | sort || true)
[ -n "$acked" ] || fail "no write was acknowledged around the crash"
missing=$(comm -23 <(echo "$acked") <(echo "$stored") | head -n 5)
[ -z "$missing" ] || fail "acknowledged sign-ups lost in the crash: $missing"
echo "all $(echo "$acked" | wc -l) acknowledged sign-ups survived the crash"
kill -0 "$api_pid" || fail "the API died"
kill -TERM "$api_pid"
wait "$api_pid" || fail "the API exited non-zero"
api_pid=
echo "outage: ok"
