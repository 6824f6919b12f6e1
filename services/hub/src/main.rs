//! `takedown-hub`: see [`takedown_hub::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_hub::cli::main()
}
