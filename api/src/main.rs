use std::process::ExitCode;

/// mimalloc instead of the platform's malloc: faster for the many small,
/// short-lived allocations of GraphQL responses, and it returns freed memory
/// (glibc kept argon2id's 19 MiB buffers per thread; see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hearth with nothing added: an application built on Hearth has a `main`
/// like this one, with its additions (docs/extending.md).
#[tokio::main]
async fn main() -> ExitCode {
    api::extend::Hearth::new().run().await
}
