//! `takedown-sidecar`: see [`takedown_sidecar::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_sidecar::cli::main()
}
