# Hearth's everyday commands. `just --list` shows them all.

set dotenv-load := false

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
image_name := env_var_or_default("HEARTH_IMAGE", "hearth:local")
# Recipes build and their scripts run the same binaries: the scripts'
# own default is CI's shared directory, not this checkout's `target`.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() / "target")

# List the recipes.
default:
    @just --list

# Run the API on the embedded SQLite default (or DATABASE_URL).
dev:
    cargo run -p api

# Apply pending migrations; pass a command: `just migrate status`, `just migrate down -n 1`.
migrate *args="up":
    cargo run -p migration -- {{args}}

# Fill the database with demo data: `just seed`, `just seed --scale bench --reset`.
seed *args="":
    cargo run --release -p seed -- {{args}}

# The whole suite on SQLite (the README's test command).
test:
    cargo test --workspace

# The whole suite on PostgreSQL: every test gets its own new database.
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Write the GraphQL SDL to schema.graphql.
schema:
    cargo run -q -p api -- schema > schema.graphql

# Format the code.
fmt:
    cargo fmt --all

# Lint like CI does.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Sign-in latency (argon2id cost) and the unknown-account timing check, on the shipped build (`dist`).
bench-signin runs="30":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --profile dist -p api
    dir=$(mktemp -d)
    trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
    target="${CARGO_TARGET_DIR:-target}"
    DATA_DIR="$dir" PORT=18089 RUST_LOG=warn AUTH_RATE_LIMIT_PER_IP=1000000 AUTH_RATE_LIMIT_PER_ACCOUNT=1000000 \
        "$target/dist/api" & pid=$!
    for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18089/health/ready >/dev/null && break; sleep 0.1; done
    python3 scripts/bench/signin_latency.py http://127.0.0.1:18089/graphql {{runs}}

# Feed latency on the bench-scale seed in a fresh PostgreSQL database, on the shipped build (`dist`).
bench-feed runs="200":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --profile dist -p api -p seed
    target="${CARGO_TARGET_DIR:-target}"
    admin="{{pg_url}}"
    db="hearth_bench_feed_$$"
    dir=$(mktemp -d)
    trap 'kill $pid 2>/dev/null; psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -rf "$dir"' EXIT
    psql -q "$admin" -c "CREATE DATABASE $db"
    url="${admin%/*}/$db"
    DATABASE_URL="$url" "$target/dist/seed" --scale bench --seed 1
    psql -q "$url" -c "VACUUM ANALYZE"
    DATABASE_URL="$url" DATA_DIR="$dir" PORT=18090 RUST_LOG=warn METRICS_ENABLED=true \
        AUTH_RATE_LIMIT_PER_IP=1000000 AUTH_RATE_LIMIT_PER_ACCOUNT=1000000 \
        "$target/dist/api" & pid=$!
    for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18090/health/ready >/dev/null && break; sleep 0.1; done
    python3 scripts/bench/feed_latency.py http://127.0.0.1:18090 {{runs}}

# Load benchmark: Hearth vs a bare Rust service (bench/bare), PostGraphile 5 and pgbench on a fresh bench-scale PostgreSQL database; ~17 min. `just bench --rounds 1 --duration 5` for a quick look.
bench *args="":
    cargo build --profile dist -p api -p seed -p bare
    PG_ADMIN_URL={{pg_url}} python3 scripts/bench/bench.py {{args}}

# Hearth on SQLite vs PocketBase (from PyPI, in ~/.cache/hearth-python): HTTP load, then realtime (1,000 subscribers each; --no-realtime skips it, --realtime-only runs it alone), then 64 writers + 64 readers on Hearth alone; ~12 min. `just bench-sqlite --scale small --rounds 1 --duration 3 --soak-seconds 5` for a quick look.
bench-sqlite *args="":
    cargo build --profile dist -p api -p seed
    python3 scripts/bench/sqlite.py {{args}}

# Real clients against a seeded debug API (SQLite, or DATABASE_URL): graphql-ws and Apollo Client subscriptions, and the manual's operations and Apollo/urql set-ups.
client-proof:
    cargo build -p api -p seed
    bash scripts/realtime.sh proof

# The admin dashboard in Debian's chromium (Playwright, axe-core) against a seeded debug API; screenshots of every pane under target/dashboard.
dashboard:
    cargo build -p api -p seed
    bash scripts/dashboard.sh

# Event latency (one process, across two on PostgreSQL, to 1,000 subscribers, then to `count` signed-in subscribers of one process), the replay of 10,000 missed events, a sustained 1,000 events a second to 1,000 subscribers (SUSTAINED_RATE and friends change it), and `count` idle subscriptions' memory, on the shipped build (`dist`); about 8 min.
bench-realtime count="10000":
    cargo build --profile dist -p api
    PG_ADMIN_URL={{pg_url}} bash scripts/realtime.sh bench {{count}}

# GraphQL conformance against a seeded debug API: the graphql-http audit and schemathesis (SQLite, or DATABASE_URL).
conformance:
    cargo build --workspace --bins
    bash scripts/conformance.sh

# Every shell command in README.md and docs/, run in a scratch directory (or checked, where it cannot run here).
docs-commands:
    cargo build --workspace --bins
    python3 scripts/docs_commands.py

# What CI runs.
ci:
    bash .ci/run

# --- Containers (docker compose and buildx) ---

# Build and start the compose stack (postgres, migrate, api) in the background.
up *args="":
    docker compose up -d --build {{args}}

# Stop the stack; `just down -v` also deletes its volumes (the data).
down *args="":
    docker compose down {{args}}

# Follow the stack's logs: `just logs api`.
logs *args="":
    docker compose logs -f {{args}}

# Multi-arch image (linux/amd64 + linux/arm64); add `--push` to publish it.
image *args="":
    docker buildx build --platform linux/amd64,linux/arm64 -t {{image_name}} {{args}} .

# The linux/arm64 image, loaded into the local Docker.
image-arm64 *args="":
    docker buildx build --platform linux/arm64 -t {{image_name}} --load {{args}} .

# The migration CLI against the compose database: `just compose-migrate status`.
compose-migrate *args="up":
    docker compose run --rm migrate {{args}}

# Demo data into the compose database: `just compose-seed --reset`.
compose-seed *args="--scale small":
    docker compose --profile seed run --rm seed {{args}}

# Static musl builds, their size and behaviour, hadolint, compose validation,
# SIGTERM as PID 1: what can be checked without a Docker engine.
check-image:
    bash scripts/check-image.sh

# hey load on the musl release API (after check-image): `just load 60 postgres://...`.
load seconds="30" *database_url="":
    bash scripts/load.sh {{seconds}} {{database_url}}

# The 10-minute soak: RSS must stay within 10% after warm-up.
soak *database_url="":
    bash scripts/load.sh 600 {{database_url}}
