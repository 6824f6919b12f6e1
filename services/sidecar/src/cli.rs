//! The `takedown-sidecar` command line:
//! `takedown-sidecar --config sidecar.toml [--listen ADDR] [--inbox FILE] [--check-config]`.

use std::{path::PathBuf, process::ExitCode};

use crate::{Config, telemetry};
use anyhow::Context;
use clap::Parser;

/// The takedown receiver sidecar.
#[derive(Debug, Parser)]
#[command(name = "takedown-sidecar", version, about)]
struct Args {
    /// TOML configuration file (then TAKEDOWN_SIDECAR_* variables override it).
    #[arg(long, short, env = "TAKEDOWN_SIDECAR_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides `listen` (gRPC address).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Overrides `inbox` (SQLite file).
    #[arg(long)]
    inbox: Option<PathBuf>,
    /// Load and validate the configuration (file, environment and the options above) as
    /// startup does, print one line and exit: 0 when it is valid. Opens no inbox, binds no
    /// port and reads no certificate or webhook CA (paths are checked for form only).
    #[arg(long)]
    check_config: bool,
    /// Once serving, write the bound addresses here as JSON, by configuration key
    /// (`{"listen":"127.0.0.1:40711","metrics.listen":"127.0.0.1:40713"}`): how a
    /// supervisor or a test that configured port 0 learns the ports the system chose.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
}

fn load(args: &Args) -> anyhow::Result<Config> {
    let mut cfg = Config::load(args.config.as_deref())?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(i) = &args.inbox {
        cfg.inbox = i.clone();
    }
    cfg.validate()?;
    Ok(cfg)
}

async fn serve(cfg: Config, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    let ports = crate::bind(&cfg, ready_file).await?;
    crate::run(cfg, ports, takedown_net::signal::shutdown()).await
}

/// The binary's whole `main`: errors are one line on stderr, exit code 2 for a refused
/// configuration and 1 otherwise ([`takedown_net::service::exit`]).
pub fn main() -> ExitCode {
    takedown_net::service::exit(real_main(Args::parse()))
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let cfg = load(&args)?;
    if args.check_config {
        println!(
            "takedown-sidecar: configuration OK (platform {}, {}, integration {})",
            cfg.platform,
            match cfg.mode {
                crate::config::DeliveryMode::Push => format!("push, listen {}", cfg.listen),
                crate::config::DeliveryMode::Pull => format!("pull from {}", cfg.hub_endpoint),
            },
            cfg.integration.mode()
        );
        return Ok(());
    }
    telemetry::init(cfg.log_format);
    takedown_net::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(serve(cfg, args.ready_file))
}
