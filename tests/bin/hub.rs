//! The hub binary as the end-to-end tests run it: the same `main` as `takedown-hub`, built
//! with the test run's features so that `cargo test` compiles the workspace once.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_hub::cli::main()
}
