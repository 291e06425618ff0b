use std::process::ExitCode;

fn main() -> ExitCode {
    healthcheck::run(|name| std::env::var(name).ok())
}
