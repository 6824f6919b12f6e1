//! The sidecar binary as the end-to-end tests run it: the same `main` as `takedown-sidecar`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_sidecar::cli::main()
}
