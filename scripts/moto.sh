#!/usr/bin/env bash
# Starts moto, an S3-compatible server, on 127.0.0.1:PORT for the S3 file
# storage test, installing it first if needed (a venv outside the repo,
# reused between runs). Returns once the server answers; prints its PID on
# stdout and nothing else. Stop it with `kill <pid>`.
#
#   pid=$(bash scripts/moto.sh 9321)
#   TEST_S3_ENDPOINT=http://127.0.0.1:9321 cargo test -p api --test api files::s3
#   kill "$pid"
#
# moto accepts any credentials (the test uses `testing`/`testing`) and keeps
# everything in memory; its log goes to $MOTO_LOG (default /dev/null).
set -euo pipefail

port=${1:?usage: scripts/moto.sh PORT}
MOTO_VERSION=5.2.5
venv=$HOME/.cache/hearth-python/moto
log=${MOTO_LOG:-/dev/null}

installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
if [ "$installed" != "$MOTO_VERSION" ]; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi

# setsid: the server outlives this script (and its caller's job control).
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 < /dev/null &
pid=$!

for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "moto.sh: moto_server exited early (set MOTO_LOG=/tmp/moto.log to see why)" >&2
    exit 1
  fi
  if python3 - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1).read()
PY
  then
    echo "$pid"
    exit 0
  fi
  sleep 0.2
done
echo "moto.sh: moto_server did not answer on port $port within 20 s" >&2
kill "$pid" 2>/dev/null || true
exit 1
