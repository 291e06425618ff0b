#!/usr/bin/env bash
# Load check against an optimised build of the API: `hey` with
# 50 concurrent clients on a mix of GraphQL reads and readiness probes, on
# seeded data. Fails on any non-2xx status, any connection error, or any
# GraphQL error (counted through /metrics, since GraphQL errors come with
# 200). Samples RSS; over a soak of 120 s or more (`just soak`, 600 s) it
# also fails when RSS grows more than 10% after the first third.
#
#   scripts/load.sh [seconds] [database-url]     (default 30 s, SQLite)
# API_BIN and SEED_BIN pick the binaries (default: the x86_64 musl build of check-image, profile
# CHECK_PROFILE, default cross-check).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
database_url=${2:-}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
api_bin=${API_BIN:-$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/${CHECK_PROFILE:-cross-check}/api}
seed_bin=${SEED_BIN:-$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/${CHECK_PROFILE:-cross-check}/seed}
[ -x "$api_bin" ] && [ -x "$seed_bin" ] || {
  echo "load: build the musl binaries first (just check-image, or set API_BIN and SEED_BIN)" >&2
  exit 1
}
command -v hey >/dev/null || {
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hey >/dev/null
}

work=$(mktemp -d)
api_pid=
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "load: FAILED: $*" >&2; exit 1; }

database_url=${database_url:-sqlite://$work/load.db?mode=rwc}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=load-check-metrics-token-0123456789
run_env=(env -i "PATH=$PATH" "DATABASE_URL=$database_url" "PORT=$port" "HOST=127.0.0.1"
  "DATA_DIR=$work/data" "LOG_FORMAT=json" "RUST_LOG=warn" "METRICS_ENABLED=true" "METRICS_TOKEN=$token")

(cd "$work" && "${run_env[@]}" "$seed_bin" --scale small --seed 7 --reset >/dev/null)
(cd "$work" && exec "${run_env[@]}" "$api_bin" >"$work/api.log" 2>&1) &
api_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/health/ready', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
kill -0 "$api_pid" || { cat "$work/api.log"; fail "the API did not start"; }

url="http://127.0.0.1:$port"
users='{"query":"query LoadUsers { users(first: 20) { totalCount edges { cursor node { id username displayName } } pageInfo { hasNextPage endCursor } } }"}'
by_name='{"query":"query LoadByName { userByUsername(username: \"demo\") { id username bio createdAt } }"}'
common=(-z "${seconds}s" -t 10)
hey "${common[@]}" -c 30 -m POST -T application/json -d "$users" "$url/graphql" >"$work/users.txt" &
h1=$!
hey "${common[@]}" -c 15 -m POST -T application/json -d "$by_name" "$url/graphql" >"$work/by_name.txt" &
h2=$!
hey "${common[@]}" -c 5 "$url/health/ready" >"$work/ready.txt" &
h3=$!

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$api_pid/status"; }
samples=()
elapsed=0
while kill -0 "$h1" 2>/dev/null; do
  sleep 5
  elapsed=$((elapsed + 5))
  kill -0 "$api_pid" 2>/dev/null || fail "the API died under load"
  samples+=("$(rss)")
done
wait "$h1" "$h2" "$h3"

for run in users by_name ready; do
  file="$work/$run.txt"
  statuses=$(awk '/Status code distribution:/ { f = 1; next } f && /\[/ { print } f && /^$/ { f = 0 }' "$file")
  echo "$run: $(awk '/Requests\/sec:/ { print $2 }' "$file") req/s, p99 $(awk '/99% in/ { print $3 }' "$file") s; $(echo "$statuses" | tr -s ' \t' ' ')"
  [ -n "$statuses" ] || fail "$run: no responses"
  if echo "$statuses" | grep -v '\[2[0-9][0-9]\]' | grep -q .; then
    fail "$run: non-2xx responses"
  fi
  if grep -q 'Error distribution' "$file"; then
    sed -n '/Error distribution/,$p' "$file" | head -5
    fail "$run: connection errors"
  fi
done

metrics=$(python3 -c "import urllib.request; r = urllib.request.Request('$url/metrics', headers={'Authorization': 'Bearer $token'}); print(urllib.request.urlopen(r).read().decode())")
ok=$(echo "$metrics" | awk '/^graphql_operations_total\{/ && /outcome="ok"/ { s += $NF } END { print s + 0 }')
errors=$(echo "$metrics" | awk '/^graphql_operations_total\{/ && !/outcome="ok"/ { s += $NF } END { print s + 0 }')
echo "GraphQL operations: $ok ok, $errors with errors"
[ "$ok" -gt 0 ] || fail "no GraphQL operation counted"
[ "$errors" -eq 0 ] || { echo "$metrics" | grep '^graphql_operations_total'; fail "GraphQL errors under load"; }

echo "RSS (KiB) every 5 s: ${samples[*]}"
count=${#samples[@]}
if [ "$seconds" -ge 120 ] && [ "$count" -ge 3 ]; then
  base=${samples[$((count / 3))]}
  last=${samples[$((count - 1))]}
  [ $((last * 100)) -le $((base * 110)) ] || fail "RSS grew from $base to $last KiB after warm-up"
  echo "RSS after warm-up: $base -> $last KiB (within 10%)"
fi

kill -TERM "$api_pid"
wait "$api_pid" || fail "the API exited non-zero after the load"
api_pid=
echo "load: ok"
