//! `takedownctl` as the end-to-end tests run it: the same `main` as the real binary.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    takedown_ctl::main()
}
