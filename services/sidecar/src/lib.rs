//! The takedown receiver sidecar: a platform runs one beside its moderation system. It
//! accepts deliveries from the hub only (mutual TLS), verifies every target end to end
//! against the agencies' keys (list JWS + Merkle inclusion proof), stores what it accepts
//! in a durable SQLite inbox before answering, hands each target to the platform once
//! (webhook, command or a simulated `auto` policy), and reports acknowledgements and
//! decisions back to the hub from a durable outbox.
//!
//! Entry point: [`bind`] the ports the configuration names, then [`run`].
//!
//! # Layout
//!
//! - [`config`]: layered configuration (defaults, TOML, `TAKEDOWN_SIDECAR_*`), validation.
//! - [`server`]: `ReceiverService/Deliver`, hub-only.
//! - [`pull`]: pull mode, fetching from the hub instead of listening.
//! - [`verify`]: per-target verification, the signature cache.
//! - [`keys`]: agency keys from coordinator-signed key-set statements, pinned roots.
//! - [`inbox`]: the SQLite inbox, handoff log and outbox.
//! - [`handoff`]: the handoff worker and its integrations (`webhook`, `command`, `auto`).
//! - [`outbox`]: the reporter sending outcomes to the hub.
//! - [`decisions`]: the local HTTP endpoint for the platform's decisions.
//! - [`document`]: the JSON exchanged with the platform (schemas documented there).
//! - [`metrics`]: the Prometheus metrics of `/metrics`.
//! - [`backoff`]: retry delays.
//! - [`cli`]: the binary's command line and `main`.
//! - [`telemetry`]: tracing setup for the binary.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod cli;
pub mod config;
pub mod coop;
pub mod decisions;
pub mod document;
pub mod handoff;
pub mod inbox;
pub mod keys;
pub mod metrics;
pub mod outbox;
pub mod pull;
pub mod retention;
pub mod server;
pub mod telemetry;
pub mod verify;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use takedown_net::{
    TlsMaterial,
    service::{self, Ports},
};
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    pb::{
        platform_service_client::PlatformServiceClient,
        receiver_service_server::ReceiverServiceServer,
    },
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use config::Config;
pub use inbox::Inbox;

/// How long a handoff batch in flight may take to finish at shutdown.
const HANDOFF_GRACE: Duration = Duration::from_secs(10);
/// How long the outbox keeps trying to flush at shutdown.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// Largest Deliver request accepted.
const MAX_MESSAGE: usize = 64 << 20;

/// The sidecar's ports, bound before anything is served (a taken port stops the start):
/// `listen` in push mode (pull mode opens no gRPC port), `metrics.listen` when configured,
/// `decisions_listen` in webhook and coop mode. `ready_file`: see [`Ports::announce`].
pub async fn bind(
    config: &Config,
    ready_file: Option<std::path::PathBuf>,
) -> anyhow::Result<Ports> {
    let mut ports = Ports::new(ready_file);
    if config.mode == config::DeliveryMode::Push {
        ports.bind("listen", config.listen).await?;
    }
    ports
        .bind_if("metrics.listen", config.metrics.listen)
        .await?;
    ports
        .bind_if("decisions_listen", config.decisions_addr())
        .await?;
    Ok(ports)
}

/// Runs the sidecar on `ports` (see [`bind`]) until `shutdown` completes, then drains:
/// serving `ReceiverService` on `listen` in push mode, pulling from the hub in pull mode.
pub async fn run(
    config: Config,
    mut ports: Ports,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    takedown_net::install_crypto_provider();
    config.validate()?;
    let listener = ports.take_if("listen");
    match (config.mode, &listener) {
        (config::DeliveryMode::Push, None) => bail!("push mode needs a listener for `listen`"),
        (config::DeliveryMode::Pull, Some(_)) => {
            bail!("mode = \"pull\" opens no port: bind no `listen`")
        }
        _ => {}
    }
    let decisions = ports.take_if("decisions_listen");
    let platform = config.platform_name()?;
    let own = Identity::new(
        IdentityRole::Platform,
        OrgId::parse(platform.as_str()).context("platform name as an organisation id")?,
    );
    let tls = config
        .tls
        .load_as(&own)
        .with_context(|| format!("loading the TLS material (platform {platform})"))?;
    let hub = Identity::new(IdentityRole::Hub, config.hub_org()?);
    let roots = takedown_net::config::load_roots("trust.roots", &config.trust.roots)
        .map_err(anyhow::Error::msg)?;
    let inbox = Inbox::open(&config.inbox)
        .await
        .with_context(|| format!("opening the inbox {}", config.inbox.display()))?;
    let channel = takedown_net::connect_lazy(
        &config.hub_endpoint,
        &tls,
        Some(hub.clone()),
        Duration::from_secs(5),
    )
    .context("hub_endpoint")?;
    let integration = handoff::Platform::from_config(&config)?;
    let metrics = Arc::new(metrics::SidecarMetrics::default());
    let metrics_listener = ports.take_if("metrics.listen");

    let handoff_wake = Arc::new(Notify::new());
    let report_wake = Arc::new(Notify::new());
    let workers = CancellationToken::new();
    let tracker = TaskTracker::new();
    let handoff_task = tracker.spawn(
        handoff::Handoff {
            inbox: inbox.clone(),
            platform_name: platform.to_string(),
            platform: integration,
            batch_size: config.handoff.batch_size,
            interval: Duration::from_millis(config.handoff.interval_ms),
            wake: handoff_wake.clone(),
            reports: report_wake.clone(),
            metrics: metrics.clone(),
        }
        .run(workers.child_token()),
    );
    let reporter_stop = CancellationToken::new();
    let reporter_task = tracker.spawn(
        outbox::Reporter {
            inbox: inbox.clone(),
            client: PlatformServiceClient::new(channel.clone()),
            batch_size: config.report.batch_size,
            interval: Duration::from_millis(config.report.interval_ms),
            wake: report_wake.clone(),
            metrics: metrics.clone(),
        }
        .run(reporter_stop.clone(), FLUSH_GRACE),
    );
    let decisions_stop = CancellationToken::new();
    // Decisions come back this way in webhook mode (its secret authenticates them) and in
    // coop mode (Coop's signing key does).
    let decisions = match (&config.integration, decisions) {
        (config::Integration::Webhook(w), Some(l)) => Some((
            decisions::Receiver::Webhook {
                secret: w.secret.clone(),
            },
            l,
        )),
        (config::Integration::Coop(c), Some(l)) => {
            let pem = std::fs::read(&c.signing_key)
                .with_context(|| format!("integration.signing_key: {}", c.signing_key.display()))?;
            let key = coop::SignatureKey::from_pem(&pem).map_err(|e| {
                anyhow::anyhow!("integration.signing_key: {}: {e}", c.signing_key.display())
            })?;
            Some((
                decisions::Receiver::Coop {
                    key,
                    mapping: coop::Mapping::new(c),
                },
                l,
            ))
        }
        (other, _) => {
            if config.decisions_listen.is_some() {
                tracing::warn!(
                    mode = other.mode(),
                    "decisions_listen is unused: only integration.mode = \"webhook\" or \
                     \"coop\" takes decisions there"
                );
            }
            None
        }
    };
    if let Some((receiver, l)) = decisions {
        let app = decisions::router(inbox.clone(), report_wake.clone(), receiver)?;
        let stop = decisions_stop.clone();
        tracker.spawn(async move {
            if let Err(e) = axum::serve(l, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
            {
                tracing::error!(error = %e, "decisions endpoint failed");
            }
        });
    }
    let retention_stop = CancellationToken::new();
    tracker.spawn(
        retention::Retention {
            inbox: inbox.clone(),
            keep: Duration::from_secs(u64::from(config.retention.days) * 86_400),
        }
        .run(retention_stop.clone()),
    );
    tracker.close();

    // Agency keys: the statements accepted before, replayed against the pinned roots; the
    // newest is asked for now rather than on the first delivery (at H-hour), then pushed by
    // the hub as published. A hub that is not up yet only means it is asked on first use.
    let keys = Arc::new(
        keys::KeyCache::open(channel.clone(), inbox.clone(), roots)
            .await
            .context("loading the key-set statements")?,
    );
    let keys_stop = CancellationToken::new();
    tokio::spawn(keys.clone().refresh_every(
        Duration::from_secs(config.keys_refresh_secs.max(1)),
        keys_stop.clone(),
    ));
    tokio::spawn(keys.clone().follow(keys_stop.clone()));
    let receiver = Arc::new(server::Receiver {
        platform: platform.clone(),
        hub,
        audience: config.hub_audience.clone(),
        keys: keys.clone(),
        signatures: Arc::new(verify::SignatureCache::new(4096)),
        inbox: inbox.clone(),
        wake: handoff_wake,
        metrics: metrics.clone(),
        max_backlog: config.handoff.max_backlog,
        backlog_retry: Duration::from_millis(config.handoff.backlog_retry_ms),
    });
    if let Some(listener) = metrics_listener {
        let (inbox, keys, metrics, stop) = (
            inbox.clone(),
            keys.clone(),
            metrics.clone(),
            keys_stop.clone(),
        );
        let stale_after = Duration::from_secs(config.keys_refresh_secs.max(1) * 3);
        let render = move || {
            let (inbox, keys, metrics) = (inbox.clone(), keys.clone(), metrics.clone());
            async move { metrics.render(&inbox, &keys, stale_after).await }
        };
        tokio::spawn(takedown_net::metrics::run(
            listener,
            render,
            stop.cancelled_owned(),
        ));
    }
    let served = match listener {
        Some(listener) => {
            serve(
                listener,
                &ports,
                &tls,
                receiver,
                keys.clone(),
                &config,
                keys_stop.clone(),
                shutdown,
            )
            .await
        }
        None => {
            ports.announce()?;
            tracing::info!(%platform, mode = config.integration.mode(), hub = %config.hub_endpoint, "sidecar pulling (no listening port)");
            let stop = CancellationToken::new();
            let puller = tokio::spawn(
                pull::Puller {
                    client: PlatformServiceClient::new(channel.clone())
                        .max_decoding_message_size(MAX_MESSAGE),
                    receiver,
                    batch_size: config.pull.batch_size,
                    wait_ms: config.pull.wait_ms,
                }
                .run(stop.clone()),
            );
            shutdown.await;
            tracing::info!("shutting down: draining");
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), puller).await;
            Ok(())
        }
    };

    // Drain: no new deliveries; finish the handoff in flight, stop taking decisions,
    // then give the outbox a last short try.
    decisions_stop.cancel();
    retention_stop.cancel();
    keys_stop.cancel();
    workers.cancel();
    if tokio::time::timeout(HANDOFF_GRACE, handoff_task)
        .await
        .is_err()
    {
        tracing::warn!("handoff batch still in flight at shutdown; it is retried on restart");
    }
    reporter_stop.cancel();
    let _ = tokio::time::timeout(FLUSH_GRACE + Duration::from_secs(1), reporter_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
    inbox.close().await;
    tracing::info!("sidecar stopped");
    served
}

/// Push mode: serves `ReceiverService` (and health) on `listener` until `shutdown`.
#[allow(clippy::too_many_arguments)]
async fn serve(
    listener: TcpListener,
    ports: &Ports,
    tls: &TlsMaterial,
    receiver: Arc<server::Receiver>,
    keys: Arc<keys::KeyCache>,
    config: &Config,
    keys_stop: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (mut health, health_svc) = takedown_net::health::Health::new();
    health
        .serving::<ReceiverServiceServer<Arc<server::Receiver>>>()
        .await;
    // Key freshness, as its own health service: stale after three missed refreshes.
    tokio::spawn(keys.report_health(
        health.reporter(),
        Duration::from_secs(config.keys_refresh_secs.max(1) * 3),
        keys_stop,
    ));
    let router = service::grpc_server().add_service(health_svc).add_service(
        ReceiverServiceServer::from_arc(receiver).max_decoding_message_size(MAX_MESSAGE),
    );
    ports.announce()?;
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, platform = %config.platform, mode = config.integration.mode(), "sidecar serving");
    service::serve(router, listener, tls, "sidecar", health, shutdown).await?;
    Ok(())
}
