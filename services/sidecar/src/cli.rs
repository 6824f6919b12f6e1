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

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let listener = match cfg.mode {
        crate::config::DeliveryMode::Push => Some(
            tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding listen {}", cfg.listen))?,
        ),
        // Pull mode opens no gRPC port.
        crate::config::DeliveryMode::Pull => None,
    };
    crate::run(cfg, listener, takedown_net::signal::shutdown()).await
}

/// The binary's whole `main`.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "takedown-sidecar: {}",
                takedown_net::tls::error_chain(e.as_ref())
            );
            return ExitCode::from(2);
        }
    };
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
        return ExitCode::SUCCESS;
    }
    telemetry::init(cfg.log_format);
    takedown_net::install_crypto_provider();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("takedown-sidecar: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "takedown-sidecar: {}",
                takedown_net::tls::error_chain(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}
