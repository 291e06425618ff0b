#!/usr/bin/env bash
# GraphQL conformance against a running API (fuzzing and the GraphQL-over-HTTP audit), on
# seeded data:
#  - the audit: graphql-http's server audits; fails on any MUST audit not ok and
#    lists the SHOULD/MAY ones that are not (scripts/graphql-http-audit.mjs);
#  - fuzzing: schemathesis on the committed schema.graphql, anonymous and signed
#    in; fails on ST101 (5xx), ST114 (null in a non-null field), and any
#    GraphQL error whose extensions.code is INTERNAL or missing (the custom
#    check in scripts/schemathesis_hooks.py, reported as ST901).
#
#   bash scripts/conformance.sh
# API_BIN and SEED_BIN pick the binaries (default: the debug build),
# DATABASE_URL the database (default: SQLite in a temporary directory), and
# CONFORMANCE_EXAMPLES the cases per operation (default 200). A
# PostgreSQL database must exist and be empty: the seeder refuses otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
api_bin=${API_BIN:-$CARGO_TARGET_DIR/debug/api}
seed_bin=${SEED_BIN:-$CARGO_TARGET_DIR/debug/seed}
[ -x "$api_bin" ] && [ -x "$seed_bin" ] || {
  echo "conformance: build the binaries first (cargo build --workspace --bins, or set API_BIN and SEED_BIN)" >&2
  exit 1
}

# Pinned tools, installed outside the repo and reused between runs. graphql
# stays on 16.x: graphql 17 needs Node 22, and this machine has Node 20.
GRAPHQL_HTTP_VERSION=1.23.1
GRAPHQL_JS_VERSION=16.15.0
SCHEMATHESIS_VERSION=4.32.5
node_dir=$HOME/.cache/hearth-node/conformance
venv=$HOME/.cache/hearth-python/schemathesis
# 200 cases per operation (CONFORMANCE_EXAMPLES), seed 1: repeatable.
max_examples=${CONFORMANCE_EXAMPLES:-200}
seed=1

# No __pycache__ next to scripts/schemathesis_hooks.py.
export PYTHONDONTWRITEBYTECODE=1
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "conformance: FAILED: $*" >&2; exit 1; }

step "tools: graphql-http $GRAPHQL_HTTP_VERSION, graphql $GRAPHQL_JS_VERSION, schemathesis $SCHEMATHESIS_VERSION"
installed_version() { node -p "require('$node_dir/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(installed_version graphql-http)" != "$GRAPHQL_HTTP_VERSION" ] ||
  [ "$(installed_version graphql)" != "$GRAPHQL_JS_VERSION" ]; then
  mkdir -p "$node_dir"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$node_dir" \
    "graphql-http@$GRAPHQL_HTTP_VERSION" "graphql@$GRAPHQL_JS_VERSION"
fi
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/schemathesis" --version

work=$(mktemp -d)
api_pid=
cleanup() {
  if [ -n "$api_pid" ]; then
    kill "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

database_url=${DATABASE_URL:-sqlite://$work/conformance.db?mode=rwc}
step "seed: $seed_bin --scale small --seed 1 (${database_url%%://*})"
DATABASE_URL=$database_url "$seed_bin" --scale small --seed 1

# The demo account the seeder creates; read from the seeder so the two cannot drift.
demo_email=$(sed -n 's/^pub const DEMO_EMAIL: &str = "\(.*\)";$/\1/p' seed/src/lib.rs)
demo_password=$(sed -n 's/^pub const DEMO_PASSWORD: &str = "\(.*\)";$/\1/p' seed/src/lib.rs)
[ -n "$demo_email" ] && [ -n "$demo_password" ] || fail "DEMO_EMAIL/DEMO_PASSWORD not found in seed/src/lib.rs"

step "api: start"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/data"
# A clean environment, so nothing from the caller's (JWT_SECRET, HEARTH_ENV,
# ...) changes what is tested. Development mode serves introspection; the
# auth rate limits are raised so the fuzzer's thousands of sign-in attempts
# are judged on their input, not answered RATE_LIMITED.
env -i "PATH=$PATH" "HOME=$HOME" \
  "DATABASE_URL=$database_url" "PORT=$port" "HOST=127.0.0.1" "DATA_DIR=$work/data" \
  "HEARTH_ENV=development" "LOG_FORMAT=json" \
  "AUTH_RATE_LIMIT_PER_IP=100000" "AUTH_RATE_LIMIT_PER_ACCOUNT=100000" \
  "$api_bin" >"$work/api.log" 2>&1 &
api_pid=$!
base=http://127.0.0.1:$port
graphql_url=$base/graphql
ready=
for _ in $(seq 1 60); do
  kill -0 "$api_pid" 2>/dev/null || { tail -n 20 "$work/api.log" >&2; fail "the api exited at start"; }
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready")" = 200 ]; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || { tail -n 20 "$work/api.log" >&2; fail "/health/ready did not answer 200 within 30 s"; }
echo "api ready on $base (pid $api_pid)"

failed=()

step "audit: graphql-http audit of $graphql_url"
GRAPHQL_HTTP_MODULE="file://$node_dir/node_modules/graphql-http/lib/index.mjs" \
  node scripts/graphql-http-audit.mjs "$graphql_url" || failed+=("graphql-http audit")

step "fuzzing: sign in as $demo_email"
# The schemathesis hook signs in this way for each operation it tests; once
# here first, so a changed signIn shape or password fails now, with the reason.
"$venv/bin/python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import schemathesis_hooks as h; h.sign_in(*sys.argv[2:])' \
  "$repo/scripts" "$graphql_url" "$demo_email" "$demo_password" || fail "signIn for the demo account failed"
echo "signed in"

# One schemathesis run: the committed SDL, requests sent to the running API.
# --continue-on-failure keeps generating all 200 cases per operation after
# a first failure (ST113/ST206, which are not gated, would otherwise cut
# an operation short). It runs in $work so that its caches (.hypothesis,
# .schemathesis) stay out of the repo; no example database, so a run does
# not depend on earlier ones.
# MAX_TIME (seconds), when set, bounds the run: the stateful phase otherwise
# keeps chaining operations for as long as hypothesis finds new paths, which
# grew past 15 minutes once uploads and backups joined the schema.
#   [MAX_TIME=S] run_schemathesis NAME PHASES [VAR=VALUE...]
run_schemathesis() {
  local name=$1 phases=$2
  shift 2
  local out=$work/schemathesis-$name rc=0 budget=()
  [ -z "${MAX_TIME:-}" ] || budget=(--max-time "$MAX_TIME")
  mkdir -p "$out"
  (cd "$work" && env SCHEMATHESIS_HOOKS="$repo/scripts/schemathesis_hooks.py" "$@" \
    "$venv/bin/schemathesis" run "$repo/schema.graphql" --url "$graphql_url" \
    --max-examples "$max_examples" --seed "$seed" --continue-on-failure "${budget[@]}" \
    --phases "$phases" --generation-database none \
    --header 'Accept: application/graphql-response+json' \
    --no-color --report json,ndjson --report-dir "$out" >"$out/output.log" 2>&1) || rc=$?
  # Exit code 1 only says some check failed; what counts is read from the report.
  # Its summary, less the report paths: $work is gone after the run.
  sed -n '/= SUMMARY =/,$p' "$out/output.log" | grep -v '^Reports:\|^  - \(NDJSON\|JSON\):' || true
  "$venv/bin/python" "$repo/scripts/schemathesis_hooks.py" summarize "$out" "$rc" ||
    failed+=("schemathesis $name")
}

# Anonymous callers can create nothing, so the stateful phase (chaining one
# operation's results into the next) has nothing to chain there: fuzzing
# only, which saves a third of that run.
step "fuzzing: schemathesis, anonymous"
run_schemathesis anonymous fuzzing

signed_in=(HEARTH_SIGNIN_URL="$graphql_url" HEARTH_SIGNIN_LOGIN="$demo_email"
  HEARTH_SIGNIN_PASSWORD="$demo_password")
step "fuzzing: schemathesis, signed in as $demo_email"
run_schemathesis signed-in fuzzing "${signed_in[@]}"

# Chaining one operation's results into the next (a post's id into
# createComment, ...), for a fixed 2 minutes.
step "fuzzing: schemathesis stateful, signed in as $demo_email (120 s)"
MAX_TIME=120 run_schemathesis signed-in-stateful stateful "${signed_in[@]}"

step "api log"
kill -0 "$api_pid" 2>/dev/null || failed+=("the api exited during the run")
# What the server itself reported failing; the checks above judge the responses.
grep -c '"level":"ERROR"' "$work/api.log" | sed 's/^/ERROR lines: /' || true
grep '"level":"ERROR"\|panicked' "$work/api.log" | head -n 10 || true

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'conformance: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "conformance: fuzzing and audit passed (${database_url%%://*})"
