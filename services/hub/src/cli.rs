//! The `takedown-hub` command line: parses arguments and configuration, sets up tracing,
//! opens the store named by `database_url` and runs the hub until SIGINT/SIGTERM.

use std::path::PathBuf;

use crate::{Config, run, telemetry};
use anyhow::Context;
use clap::Parser;
use takedown_store::{Backend, postgres::PgStore, sqlite::SqliteStore};

#[derive(Parser)]
#[command(name = "takedown-hub", version, about = "The takedown hub")]
struct Args {
    /// TOML configuration file (overridden by TAKEDOWN_* environment variables).
    #[arg(long, short, env = "TAKEDOWN_CONFIG")]
    config: Option<PathBuf>,
}

/// The binary's whole `main`: errors are one line on stderr and exit code 1.
pub fn main() -> std::process::ExitCode {
    let result = tokio::runtime::Runtime::new()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(real_main()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref())?;
    telemetry::init(config.log_format == "json");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = takedown_net::signal::shutdown();
    match Backend::of_url(&config.database_url)? {
        Backend::Sqlite => {
            let store = SqliteStore::connect(&config.database_url)
                .await
                .context("opening SQLite")?;
            run(config, store, listener, shutdown).await
        }
        Backend::Postgres => {
            let store = PgStore::connect(&config.database_url)
                .await
                .context("opening PostgreSQL")?;
            run(config, store, listener, shutdown).await
        }
    }
}
