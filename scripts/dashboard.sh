#!/usr/bin/env bash
# The admin dashboard in a real browser: Playwright (@playwright/test from
# npm) drives Debian's chromium against one API seeded with the demo data
# (DATABASE_URL, default SQLite in a temporary directory), starting from the
# one-time setup link the server logs. Specs: api/tests/browser.
# Screenshots of every pane land in target/dashboard/screenshots.
# A local OpenID provider (api/tests/api/helpers/oidc-provider.mjs) is
# configured as "acme", at localhost so that it is another site than the API
# at 127.0.0.1, as a real provider is.
#
#   bash scripts/dashboard.sh
#
# API_BIN and SEED_BIN pick the binaries (default: the debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
api_bin=${API_BIN:-$CARGO_TARGET_DIR/debug/api}
seed_bin=${SEED_BIN:-$CARGO_TARGET_DIR/debug/seed}
for bin in "$api_bin" "$seed_bin"; do
  [ -x "$bin" ] || { echo "dashboard: build $bin first (cargo build -p api -p seed)" >&2; exit 1; }
done

# Debian's chromium: Playwright's own browser downloads are not reachable.
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "dashboard: installing Debian's chromium"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
"$chromium" --version

# Pinned, installed outside the repo and reused between runs; the specs
# find them through a node_modules link beside them (not committed).
packages=(@playwright/test@1.65.2 @axe-core/playwright@4.14.1)
node_dir=$HOME/.cache/hearth-node/dashboard
stamp="$node_dir/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${packages[*]}" ]; then
  mkdir -p "$node_dir"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$node_dir" "${packages[@]}"
  echo "${packages[*]}" >"$stamp"
fi
ln -sfn "$node_dir/node_modules" api/tests/browser/node_modules

# The provider's package, where and as the Rust tests install it (the same
# lock, so a test run installing it at the same time is waited for).
oidc_package=oidc-provider@9.13.3
oidc_dir=$HOME/.cache/hearth-node/oidc-provider
if [ "$(cat "$oidc_dir/.installed" 2>/dev/null)" != "$oidc_package" ]; then
  mkdir -p "$oidc_dir"
  (
    flock 9
    if [ "$(cat "$oidc_dir/.installed" 2>/dev/null)" != "$oidc_package" ]; then
      npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$oidc_dir" "$oidc_package"
      printf %s "$oidc_package" >"$oidc_dir/.installed"
    fi
  ) 9>"$oidc_dir/.lock"
fi

work=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  # Bash unsets oidc_PID once the coprocess has ended.
  [ -z "${oidc_PID:-}" ] || { kill "$oidc_PID" 2>/dev/null || true; wait "$oidc_PID" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The provider first: the API reads its issuer at start. A coprocess, since
# the provider runs while its stdin is open and prints its issuer when ready.
callback="http://127.0.0.1:$port/admin/oauth/callback"
oidc_client=hearth-dashboard
oidc_secret=dashboard-check-client-secret
oidc_config=$(printf '{"host":"localhost","clients":[{"client_id":"%s","client_secret":"%s","redirect_uris":["%s"]}]}' \
  "$oidc_client" "$oidc_secret" "$callback")
coproc oidc { exec env OIDC_MODULES="$oidc_dir/node_modules" node api/tests/api/helpers/oidc-provider.mjs "$oidc_config" 2>"$work/oidc.log"; }
ready=
[ -z "${oidc[0]:-}" ] || read -r -t 30 ready <&"${oidc[0]}" || true
issuer=$(printf %s "$ready" | python3 -c 'import json, sys; print(json.load(sys.stdin)["issuer"])' 2>/dev/null || true)
[ -n "$issuer" ] || { cat "$work/oidc.log" >&2; echo "dashboard: the OpenID provider did not start" >&2; exit 1; }

database_url=${DATABASE_URL:-sqlite://$work/dashboard.db?mode=rwc}
env -i "PATH=$PATH" "HOME=$HOME" "DATABASE_URL=$database_url" "DATA_DIR=$work" \
  "$seed_bin" --scale small --seed 1 --reset >/dev/null
env -i "PATH=$PATH" "HOME=$HOME" "DATABASE_URL=$database_url" "PORT=$port" "DATA_DIR=$work" \
  "JWT_SECRET=dashboard-check-secret-0123456789abcdef" "RUST_LOG=warn" "LOG_FORMAT=json" \
  "AUTH_RATE_LIMIT_PER_IP=100000" "AUTH_RATE_LIMIT_PER_ACCOUNT=100000" "METRICS_ENABLED=true" \
  "AUTH_PROVIDERS=acme" "AUTH_ACME_ISSUER=$issuer" "AUTH_ACME_CLIENT_ID=$oidc_client" \
  "AUTH_ACME_CLIENT_SECRET=$oidc_secret" "AUTH_REDIRECT_URIS=$callback" \
  "$api_bin" >"$work/api.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || { cat "$work/api.log" >&2; echo "dashboard: the api exited" >&2; exit 1; }
  curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.2
done
setup=$(grep -o '/admin/setup?token=[A-Za-z0-9_-]*' "$work/api.log" | head -n 1 || true)
[ -n "$setup" ] || { cat "$work/api.log" >&2; echo "dashboard: the server logged no setup link" >&2; exit 1; }

mkdir -p target/dashboard/screenshots
cd api/tests/browser
HEARTH_URL="http://127.0.0.1:$port" ADMIN_SETUP_LINK="$setup" CHROMIUM="$chromium" PROVIDER_URL="$issuer" \
  DASHBOARD_SCREENSHOTS="$root/target/dashboard/screenshots" DASHBOARD_OUTPUT="$root/target/dashboard/results" \
  "$node_dir/node_modules/.bin/playwright" test --config playwright.config.mjs
echo "dashboard: screenshots in target/dashboard/screenshots"
