//! `takedownctl`: see [`takedown_ctl::main`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_ctl::main()
}
