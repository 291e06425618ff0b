# syntax=docker/dockerfile:1.7
#
# Hearth: static musl binaries built on Alpine, shipped in a scratch image.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t hearth .   (just image)
#   docker buildx build --platform linux/arm64 -t hearth --load .        (just image-arm64)
#
# The builder runs on the target platform (natively on an arm64 host, under
# QEMU through buildx elsewhere). On Alpine, Rust's host target is
# *-unknown-linux-musl, so the binaries are static without extra flags.
# BuildKit cache mounts keep the crate registry and target/ between builds:
# a code change recompiles the workspace crates, not the dependency tree.

ARG RUST_VERSION=1.95
ARG ALPINE_VERSION=3.22

FROM rust:${RUST_VERSION}-alpine${ALPINE_VERSION} AS build
# musl-dev: libc headers for the C parts (ring, the bundled SQLite).
# ca-certificates: copied into the runtime for TLS to PostgreSQL or SMTP.
# Unpinned on purpose: Alpine drops old package versions, which would break
# pinned builds; the base image tag pins the release.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev gcc ca-certificates
WORKDIR /src
COPY . .
ARG TARGETARCH
# One cargo invocation for all four binaries (features unify once). The
# `dist` profile is release with fat LTO: a smaller binary and idle process.
RUN --mount=type=cache,id=hearth-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=hearth-target-${TARGETARCH},target=/src/target,sharing=locked \
    cargo build --profile dist --locked -p api -p migration -p seed -p healthcheck \
    && mkdir -p /out/data /out/tmp \
    && cp target/dist/api target/dist/migration target/dist/seed \
          target/dist/healthcheck /out/ \
    && printf 'hearth:x:10001:10001:hearth:/data:/sbin/nologin\n' > /out/passwd \
    && printf 'hearth:x:10001:\n' > /out/group \
    && chmod 1777 /out/tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
# Uploads spool to the temp dir before they are stored.
COPY --from=build /out/tmp /tmp
COPY --from=build --chown=10001:10001 /out/data /data
COPY --from=build /out/api /out/migration /out/seed /out/healthcheck /

# Production by default: JSON logs, no introspection, explicit secrets
# (JWT_SECRET) required. The embedded SQLite file lives on the volume unless
# DATABASE_URL points at PostgreSQL.
ENV HEARTH_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    TMPDIR=/tmp \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# `healthcheck` probes http://127.0.0.1:$PORT/health/ready and exits 0/1 in 3 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/healthcheck"]
# The API is PID 1: it handles SIGTERM itself (drain, then exit 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/api"]
