#!/usr/bin/env bash
# Realtime checks against the real API, with real npm clients:
#
#   bash scripts/realtime.sh proof [events]
#     The client proof: the graphql-ws client and Apollo Client subscribe, a
#     mutation goes over HTTP, the event must arrive (client-proof.mjs); then
#     the manual as client developers meet it: its operations validated with
#     graphql-js, its Apollo Client and urql set-ups run as written
#     (client-check.mjs). One API on DATABASE_URL (default: SQLite in a
#     temporary directory), seeded with the demo data.
#
#   bash scripts/realtime.sh bench [count]
#     Measurements (`just bench-realtime`): event latency within one process
#     and across two processes on one PostgreSQL database (PG_ADMIN_URL;
#     a database is created and dropped), delivery to 1,000 subscribers and
#     the replay of 10,000 missed events, then delivery to `count` (10,000)
#     signed-in subscribers of one process (realtime-events.mjs), and the
#     API's memory with `count` idle subscriptions (realtime-capacity.mjs).
#     Between the replay and the `count` subscribers, a sustained rate
#     (realtime-sustained.mjs), on a process of its own: 1,000
#     subscribers while 1,000 comments a second are written for 60 s, then
#     up to 120 s to catch up; SUSTAINED_SUBSCRIBERS, SUSTAINED_RATE,
#     SUSTAINED_SECONDS and SUSTAINED_DRAIN change those. CLIENT_THREADS
#     spreads realtime-events.mjs's subscribers over that many client
#     threads (default 1).
#
# API_BIN picks the binary (default: the debug build for proof, `dist` for
# bench).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-proof}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
case "$mode" in
  proof) api_bin=${API_BIN:-$CARGO_TARGET_DIR/debug/api}; events=${2:-50} ;;
  bench) api_bin=${API_BIN:-$CARGO_TARGET_DIR/dist/api}; count=${2:-5000} ;;
  *) echo "usage: realtime.sh proof [events] | bench [count]" >&2; exit 2 ;;
esac
[ -x "$api_bin" ] || { echo "realtime: build $api_bin first (cargo build [--profile dist] -p api, or set API_BIN)" >&2; exit 1; }

# Pinned, installed outside the repo and reused between runs.
packages=(graphql-ws@6.4.2 ws@8.23.0 @apollo/client@4.3.8 graphql@16.15.0 rxjs@7.8.2
  @urql/core@6.0.3 @urql/exchange-graphcache@9.0.2)
node_dir=$HOME/.cache/hearth-node/client-proof
stamp="$node_dir/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${packages[*]}" ]; then
  mkdir -p "$node_dir"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$node_dir" "${packages[@]}"
  echo "${packages[*]}" >"$stamp"
fi
export CLIENT_MODULES="$node_dir/node_modules"

work=$(mktemp -d)
pids=()
pg_db=
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -z "$pg_db" ] || psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# rss_of PID: the process's resident memory now and at its peak.
rss_of() {
  awk '/VmRSS/ { now = $2 } /VmHWM/ { peak = $2 } END { printf "%.1f MiB, peak %.1f MiB", now / 1024, peak / 1024 }' "/proc/$1/status"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_api DATABASE_URL: starts an API process, waits until it is ready, and
# sets $port and $pid.
start_api() {
  port=$(free_port)
  mkdir -p "$work/$port"
  env -i "PATH=$PATH" "HOME=$HOME" "DATABASE_URL=$1" "PORT=$port" "DATA_DIR=$work/$port" \
    "JWT_SECRET=realtime-check-secret-0123456789abcdef" "RUST_LOG=warn" \
    "AUTH_RATE_LIMIT_PER_IP=1000000" "WS_MAX_ANONYMOUS_PER_ADDRESS=100000" \
    "WS_MAX_CONNECTIONS_PER_USER=100000" "$api_bin" >"$work/api-$port.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$work/api-$port.log" >&2; echo "realtime: the api exited" >&2; exit 1; }
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && return
    sleep 0.2
  done
  echo "realtime: the api was not ready within 20 s" >&2
  exit 1
}

if [ "$mode" = proof ]; then
  database_url=${DATABASE_URL:-sqlite://$work/proof.db?mode=rwc}
  seed_bin=${SEED_BIN:-$CARGO_TARGET_DIR/debug/seed}
  [ -x "$seed_bin" ] || { echo "realtime: build $seed_bin first (cargo build -p seed, or set SEED_BIN)" >&2; exit 1; }
  DATABASE_URL="$database_url" "$seed_bin" --scale small >/dev/null
  start_api "$database_url"
  echo "client proof: api on port $port (${database_url%%://*})"
  node scripts/client-proof.mjs "http://127.0.0.1:$port/graphql" "$events"
  node scripts/client-check.mjs "http://127.0.0.1:$port/graphql"
  exit 0
fi

sustained_subscribers=${SUSTAINED_SUBSCRIBERS:-1000}
sustained_rate=${SUSTAINED_RATE:-1000}
sustained_seconds=${SUSTAINED_SECONDS:-60}
sustained_drain=${SUSTAINED_DRAIN:-120}
pg_db="hearth_realtime_$$"
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $pg_db"
url="${PG_ADMIN_URL%/*}/$pg_db"
start_api "$url"
port_a=$port pid_a=$pid
start_api "$url"
port_b=$port pid_b=$pid
echo "--- event latency, one process (dist api, PostgreSQL)"
node scripts/client-proof.mjs "http://127.0.0.1:$port_a/graphql" 200
echo "--- event latency, across processes: subscribed to B, mutations through A"
node scripts/client-proof.mjs "http://127.0.0.1:$port_b/graphql" 200 "http://127.0.0.1:$port_a/graphql"
# Every socket is an open file, here and in the API (which raises its own
# limit at start-up).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "--- 1,000 subscribers on B, mutations through A; then a replay of 10,000 missed events"
API_PID="$pid_b" node scripts/realtime-events.mjs "http://127.0.0.1:$port_b/graphql" 1000 200 10000 "http://127.0.0.1:$port_a/graphql"
echo "--- sustained: $sustained_subscribers subscribers, $sustained_rate events/s for $sustained_seconds s, on a process of its own"
start_api "$url"
API_PID="$pid" node scripts/realtime-sustained.mjs "http://127.0.0.1:$port/graphql" "$sustained_subscribers" "$sustained_rate" \
  "$sustained_seconds" "$sustained_drain"
echo "api RSS after the sustained run: $(rss_of "$pid")"
kill "$pid"
echo "--- $count signed-in subscribers on one process: 20 events, each to all of them"
# A process of its own: the memory it keeps after the fan-out must not
# count in the idle figure below.
start_api "$url"
API_PID="$pid" node scripts/realtime-events.mjs "http://127.0.0.1:$port/graphql" "$count" 20 0
echo "api RSS after delivering to $count subscribers: $(rss_of "$pid")"
echo "--- idle subscriptions"
node scripts/realtime-capacity.mjs "http://127.0.0.1:$port_a/graphql" "$pid_a" "$count"
