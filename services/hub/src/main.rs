//! `takedown-hub`: parses the command line and configuration, sets up tracing, opens the
//! store named by `database_url` and runs the hub until SIGINT/SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use takedown_hub::{Config, run, telemetry};
use takedown_store::{Backend, postgres::PgStore, sqlite::SqliteStore};

#[derive(Parser)]
#[command(name = "takedown-hub", version, about = "The takedown hub")]
struct Args {
    /// TOML configuration file (overridden by TAKEDOWN_* environment variables).
    #[arg(long, short, env = "TAKEDOWN_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref())?;
    telemetry::init(config.log_format == "json");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = shutdown_signal();
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
