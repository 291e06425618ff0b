# Hearth's everyday commands. `just --list` shows them all.

set dotenv-load := false

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

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

# What CI runs.
ci:
    bash .ci/run
