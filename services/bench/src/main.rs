//! `takedown-bench`: benchmarks of the real hub binary, each against a baseline measured in
//! the same run. Not part of `cargo test`; run in release mode:
//!
//! ```text
//! cargo run --release -p takedown-bench -- intake   [--backend sqlite|postgres|both] [--items 100000] [--runs 3]
//! cargo run --release -p takedown-bench -- delivery [--backend sqlite|postgres|both] [--mode push|pull|both] [--targets 10000,100000] [--runs 3] [--list-items 10000]
//! ```
//!
//! It builds `takedown-hub` and `takedown-sidecar` in its own profile first, prints a table
//! of figures and ratios with "goal met" / "goal MISSED", and exits non-zero only when
//! something fails (a missed goal is not a failure). PostgreSQL comes from
//! `TAKEDOWN_TEST_PG_URL` (default: the local server); each run gets a fresh database that
//! is dropped afterwards.
//!
//! # Layout
//!
//! - [`procs`]: the binaries, the hub and sidecar processes, peak memory.
//! - [`world`]: a registered hub (PKI, database, agencies, platforms, action day).
//! - [`lists`]: realistic referral lists.
//! - [`intake`]: the intake benchmark; [`baseline`]: its bulk-insert baseline.
//! - [`delivery`]: the delivery benchmark; [`floor`]: its durable-floor baseline;
//!   [`rawgrpc`]: raw tonic, for reference.
//! - [`stats`]: medians, percentiles, tables.
#![forbid(unsafe_code)]

mod baseline;
mod delivery;
mod floor;
mod intake;
mod lists;
mod procs;
mod rawgrpc;
mod stats;
mod world;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use takedown_tests::Backend;

#[derive(Parser)]
#[command(name = "takedown-bench", about = "Benchmarks of the takedown hub")]
struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Clone, Copy, ValueEnum)]
enum Backends {
    Sqlite,
    Postgres,
    Both,
}

/// How the platforms' sidecars get their share.
#[derive(Clone, Copy, ValueEnum)]
enum Modes {
    /// The hub calls each sidecar (`ReceiverService/Deliver`).
    Push,
    /// Each sidecar long-polls the hub (`PlatformService/PullDeliveries`).
    Pull,
    /// Both, push first, in the same run.
    Both,
}

impl Modes {
    fn list(self) -> Vec<delivery::Mode> {
        match self {
            Self::Push => vec![delivery::Mode::Push],
            Self::Pull => vec![delivery::Mode::Pull],
            Self::Both => vec![delivery::Mode::Push, delivery::Mode::Pull],
        }
    }
}

impl Backends {
    fn list(self) -> Vec<Backend> {
        match self {
            Self::Sqlite => vec![Backend::Sqlite],
            Self::Postgres => vec![Backend::Postgres],
            Self::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

#[derive(Subcommand)]
enum Bench {
    /// One signed list submitted to a fresh hub vs. the same rows bulk-inserted.
    Intake {
        #[arg(long, value_enum, default_value = "both")]
        backend: Backends,
        /// Items in the list.
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        /// Runs per measurement (median, min, max are printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// An action day delivered to five real sidecars vs. the durable floor (raw tonic beside).
    Delivery {
        #[arg(long, value_enum, default_value = "both")]
        backend: Backends,
        /// Push, pull, or both side by side.
        #[arg(long, value_enum, default_value = "push")]
        mode: Modes,
        /// Targets of the action day; several sizes compare the hub's memory.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        targets: Vec<usize>,
        /// Runs per measurement.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Items per submitted list (the hub's memory during intake follows the largest
        /// list, not the day's total).
        #[arg(long, default_value_t = delivery::LIST_ITEMS)]
        list_items: usize,
    },
}

pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    takedown_net::install_crypto_provider();
    if let Err(e) = procs::build_binaries() {
        eprintln!("takedown-bench: {e:#}");
        return ExitCode::FAILURE;
    }
    let result = match args.bench {
        Bench::Intake {
            backend,
            items,
            runs,
        } => intake::run(&backend.list(), items, runs.max(1)).await,
        Bench::Delivery {
            backend,
            mode,
            targets,
            runs,
            list_items,
        } => {
            delivery::run(
                &backend.list(),
                &mode.list(),
                &targets,
                runs.max(1),
                list_items.max(1),
            )
            .await
        }
    };
    match result {
        Ok(true) => {
            println!("\nall goals met");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("\nsome goals MISSED (see the table); the benchmark itself ran to completion");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("takedown-bench: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}
