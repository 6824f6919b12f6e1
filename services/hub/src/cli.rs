//! The `takedown-hub` command line: parses arguments and configuration, sets up tracing,
//! opens the store named by `database_url` and runs the hub until SIGINT/SIGTERM. With
//! `--check-config` it only loads and validates the configuration, and says so in one line.

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
    /// Load and validate the configuration (file and environment) as startup does, print
    /// one line and exit: 0 when it is valid. Opens no database, binds no port and reads
    /// no certificate (paths are checked for form only).
    #[arg(long)]
    check_config: bool,
    /// Once serving, write the bound addresses here as JSON, by configuration key
    /// (`{"listen":"127.0.0.1:40711","metrics.listen":"127.0.0.1:40713"}`): how a
    /// supervisor or a test that configured port 0 learns the ports the system chose.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
}

/// The binary's whole `main`: errors are one line on stderr, exit code 2 for a refused
/// configuration and 1 otherwise ([`takedown_net::service::exit`]).
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = if args.check_config {
        check_config(&args)
    } else {
        tokio::runtime::Runtime::new()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(real_main(args)))
    };
    takedown_net::service::exit(result)
}

/// `--check-config`: the configuration step of [`real_main`] alone.
fn check_config(args: &Args) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let database = match Backend::of_url(&config.database_url)? {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!(
        "takedown-hub: configuration OK (hub_id {}, listen {}, database {database})",
        config.hub_id, config.listen
    );
    Ok(())
}

async fn real_main(args: Args) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    telemetry::init(config.log_format);
    let ports = crate::server::bind(&config, args.ready_file).await?;
    let instance = crate::server::instance(&config, &ports);
    let shutdown = takedown_net::signal::shutdown();
    match Backend::of_url(&config.database_url)? {
        Backend::Sqlite => {
            let store = SqliteStore::connect(&config.database_url)
                .await
                .context("opening SQLite")?
                .claiming_as(&instance);
            run(config, store, ports, shutdown).await
        }
        Backend::Postgres => {
            let store = PgStore::connect(&config.database_url)
                .await
                .context("opening PostgreSQL")?
                .claiming_as(&instance);
            run(config, store, ports, shutdown).await
        }
    }
}
