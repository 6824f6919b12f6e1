//! takedownctl: the agency and coordinator command line.
//!
//! Agencies generate signing keys, turn CSV or JSON referral lists into signed list files,
//! submit them to the hub and follow each item; coordinators manage the directory, action
//! days and deconfliction holds. Every hub call goes over mutual TLS and checks that the
//! server is the hub (`urn:takedown:hub:hub`). `certs dev` makes a development PKI.
//!
//! The binary only parses the command line and calls [`run`]; errors come back as one
//! line ([`client::error_line`]).
//!
//! # Layout
//!
//! - [`cli`]: the clap command line (global options, one subcommand tree per group).
//! - [`client`]: the identity to present, the mTLS channel to the hub, hub errors.
//! - [`pki`]: the development PKI (`certs dev`, `certs issue`).
//! - [`keys`]: Ed25519 list-signing keys (`keys generate`).
//! - [`keyset`]: the next key-set statement from the newest and the changes (`keys publish`).
//! - [`listfile`]: CSV/JSON referral files → `Referral` messages, with precise errors.
//! - [`envelope`]: the signed list file (`list sign` writes it, `list submit` reads it).
//! - [`commands`]: one module per command group (`list`, `directory`, `action_day`, ...).
//! - [`output`]: tables, JSON and the human words for states.
//! - [`report`]: coordinator reports of an action day (`summary`, `watch`): table, CSV,
//!   JSON and self-contained HTML with an SVG chart, rendered from the hub's summary.
//! - [`main`]: the binary's whole `main`.
//! - [`time`]: RFC 3339 and relative times (`+30s`, `+2h`), durations (`48h`).
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod envelope;
pub mod keys;
pub mod keyset;
pub mod listfile;
pub mod output;
pub mod pki;
pub mod report;
pub mod time;

pub use cli::Cli;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    commands::dispatch(cli).await
}

/// The binary's whole `main`: parses the command line, runs it, prints any error as one
/// line (`error: ...`) and returns the exit code.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", client::error_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
