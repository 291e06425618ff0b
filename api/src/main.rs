use std::process::ExitCode;

/// mimalloc instead of the platform's malloc: faster for the many small,
/// short-lived allocations of GraphQL responses, and it returns freed memory
/// (glibc kept argon2id's 19 MiB buffers per thread; see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    api::cli::run().await
}
