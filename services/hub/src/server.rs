//! The hub process: the gRPC services over mTLS, health and reflection, the delivery
//! dispatcher and the release scheduler, with a shutdown that drains.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use takedown_net::{
    install_crypto_provider,
    service::{self, Ports},
};
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    pb,
};
use takedown_store::Store;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    api::{
        HubState,
        action_day::ActionDays,
        audit::{Audit, Transparency},
        directory::Directory,
        hold::Holds,
        platform::Platforms,
        referral::Referrals,
        summary::Summaries,
    },
    audit_heads::HeadSigner,
    config::Config,
    delivery::{self, PlatformHealth, Wake},
    intake::IntakeConfig,
    keys::KeyDirectory,
    metrics::HubMetrics,
    public_id::PublicIds,
    release, retention,
};

/// How long in-flight work may take to finish after shutdown is asked for.
const GRACE: Duration = Duration::from_secs(15);
/// How often the hub looks for key-set statements published through another replica.
const KEY_SET_FOLLOW: Duration = Duration::from_secs(2);

/// The hub's ports, bound before anything is served (a taken port stops the start):
/// `listen`, and `metrics.listen` when configured. `ready_file`: see [`Ports::announce`].
pub async fn bind(
    config: &Config,
    ready_file: Option<std::path::PathBuf>,
) -> anyhow::Result<Ports> {
    let mut ports = Ports::new(ready_file);
    ports.bind("listen", config.listen).await?;
    ports
        .bind_if("metrics.listen", config.metrics.listen)
        .await?;
    Ok(ports)
}

/// This hub instance's id for its claims: from the port bound for `listen` (the one the
/// system chose, when the configuration says port 0).
pub fn instance(config: &Config, ports: &Ports) -> String {
    config
        .delivery
        .instance(ports.addr("listen").unwrap_or(config.listen))
}

/// Serves on `ports` (see [`bind`]) until `shutdown` completes, then drains.
pub async fn run<S: Store>(
    config: Config,
    store: S,
    mut ports: Ports,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_crypto_provider();
    let own = Identity::new(IdentityRole::Hub, OrgId::parse(&config.hub_id)?);
    let tls = config.tls.load_as(&own).with_context(|| {
        format!(
            "loading the hub's TLS material (hub_id {:?})",
            config.hub_id
        )
    })?;

    let roots = takedown_net::config::load_roots("trust.roots", &config.trust.roots)
        .map_err(anyhow::Error::msg)?;
    let keys = Arc::new(KeyDirectory::new(roots));
    let in_force = keys
        .load(&store)
        .await
        .context("reading the key-set statements")?;
    match keys.current() {
        Some(c) => tracing::info!(
            version = c.set.version(),
            keys = c.set.claims.keys.len(),
            statements = in_force,
            "agency keys from the newest key-set statement"
        ),
        None => tracing::warn!(
            "no key-set statement published yet: every list is refused until a coordinator \
             publishes agency keys (takedownctl keys publish)"
        ),
    }

    let audit_heads = Arc::new(HeadSigner::load(&store, &config.hub_id).await?);
    let ids = PublicIds::load(&store, takedown_protocol::timestamp::now_millis())
        .await
        .context("loading the key of public ids")?;

    let wake = Wake::new();
    let health = PlatformHealth::default();
    let metrics = Arc::new(HubMetrics::default());
    let listener = ports.take("listen")?;
    let metrics_listener = ports.take_if("metrics.listen");
    let background = CancellationToken::new();
    let cache = Arc::new(delivery::TreeCache::new(config.delivery.tree_cache_leaves));
    let pulls = Arc::new(delivery::pull::Pulls {
        store: store.clone(),
        keys: keys.clone(),
        ids: ids.clone(),
        cache: cache.clone(),
        cfg: config.delivery.clone(),
        wake: wake.clone(),
        metrics: metrics.clone(),
        shutdown: background.clone(),
        pace: Default::default(),
    });
    let state = Arc::new(HubState {
        store: store.clone(),
        intake: IntakeConfig {
            audience: config.audience.clone(),
            limits: config.limits.clone(),
        },
        wake: wake.clone(),
        health: health.clone(),
        keys: keys.clone(),
        audit_heads: audit_heads.clone(),
        ids: ids.clone(),
        metrics: metrics.clone(),
        pulls,
    });

    let (mut grpc_health, health_service) = takedown_net::health::Health::new();
    use pb::{
        action_day_service_server::ActionDayServiceServer,
        directory_service_server::DirectoryServiceServer, hold_service_server::HoldServiceServer,
        platform_service_server::PlatformServiceServer,
        referral_service_server::ReferralServiceServer,
        summary_service_server::SummaryServiceServer,
    };
    use pb::{
        audit_service_server::AuditServiceServer,
        transparency_service_server::TransparencyServiceServer,
    };
    grpc_health.serving::<AuditServiceServer<Audit<S>>>().await;
    grpc_health
        .serving::<TransparencyServiceServer<Transparency<S>>>()
        .await;
    grpc_health
        .serving::<ReferralServiceServer<Referrals<S>>>()
        .await;
    grpc_health
        .serving::<DirectoryServiceServer<Directory<S>>>()
        .await;
    grpc_health
        .serving::<ActionDayServiceServer<ActionDays<S>>>()
        .await;
    grpc_health.serving::<HoldServiceServer<Holds<S>>>().await;
    grpc_health
        .serving::<PlatformServiceServer<Platforms<S>>>()
        .await;
    grpc_health
        .serving::<SummaryServiceServer<Summaries<S>>>()
        .await;
    // Reflection lists what this server serves (the descriptor set also holds the sidecars'
    // ReceiverService), in both protocol versions: v1, and v1alpha, which is all that some
    // stock clients (grpcio-reflection, older grpcurl) speak.
    use tonic::server::NamedService;
    let served = [
        ReferralServiceServer::<Referrals<S>>::NAME,
        DirectoryServiceServer::<Directory<S>>::NAME,
        ActionDayServiceServer::<ActionDays<S>>::NAME,
        HoldServiceServer::<Holds<S>>::NAME,
        PlatformServiceServer::<Platforms<S>>::NAME,
        SummaryServiceServer::<Summaries<S>>::NAME,
        AuditServiceServer::<Audit<S>>::NAME,
        TransparencyServiceServer::<Transparency<S>>::NAME,
        "grpc.health.v1.Health",
    ];
    let reflection = || {
        served.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, name| b.with_service_name(*name),
        )
    };
    let reflection_v1 = reflection()
        .build_v1()
        .context("building the reflection service")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building the v1alpha reflection service")?;

    // Claims this instance held when it last stopped are due again now, not when their
    // lease ends.
    let instance = instance(&config, &ports);
    let released = store
        .release_own_claims(takedown_protocol::timestamp::now_millis())
        .await
        .context("taking back this hub instance's claims")?;
    tracing::info!(%instance, claims_taken_back = released, "hub instance registered");

    let tasks = TaskTracker::new();
    tasks.spawn(delivery::run_heartbeat(
        store.clone(),
        config.delivery.clone(),
        wake.clone(),
        background.clone(),
    ));
    tasks.spawn(delivery::run_dispatcher(
        delivery::Dispatcher {
            store: store.clone(),
            keys: keys.clone(),
            ids: ids.clone(),
            cfg: config.delivery.clone(),
            tls: tls.clone(),
            wake: wake.clone(),
            health: health.clone(),
            metrics: metrics.clone(),
            cache,
        },
        background.clone(),
    ));
    if let Some(listener) = metrics_listener {
        let (store, health, metrics, stop) = (
            store.clone(),
            health.clone(),
            metrics.clone(),
            background.clone(),
        );
        let render = move || {
            let (store, health, metrics) = (store.clone(), health.clone(), metrics.clone());
            async move { metrics.render(&store, &health).await }
        };
        tasks.spawn(takedown_net::metrics::run(
            listener,
            render,
            stop.cancelled_owned(),
        ));
    }
    tasks.spawn(
        keys.clone()
            .follow(store.clone(), KEY_SET_FOLLOW, background.clone()),
    );
    tasks.spawn(audit_heads.clone().run(
        store.clone(),
        crate::audit_heads::EVERY,
        background.clone(),
    ));
    tasks.spawn(retention::run(
        store.clone(),
        config.retention.clone(),
        background.clone(),
    ));
    tasks.spawn(release::run_scheduler(
        store.clone(),
        wake.clone(),
        background.clone(),
    ));

    let max_message = config
        .limits
        .max_list_bytes
        .saturating_mul(2)
        .saturating_add(1 << 20);
    let addr = listener.local_addr()?;
    let backend = match takedown_store::Backend::of_url(&config.database_url) {
        Ok(takedown_store::Backend::Sqlite) => "sqlite",
        Ok(takedown_store::Backend::Postgres) => "postgres",
        Err(_) => "unknown",
    };
    let drain = {
        let background = background.clone();
        async move {
            shutdown.await;
            background.cancel();
        }
    };
    let router = service::grpc_server()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            ReferralServiceServer::new(Referrals(state.clone()))
                .max_decoding_message_size(max_message),
        )
        .add_service(DirectoryServiceServer::new(Directory(state.clone())))
        .add_service(ActionDayServiceServer::new(ActionDays(state.clone())))
        .add_service(HoldServiceServer::new(Holds(state.clone())))
        .add_service(
            PlatformServiceServer::new(Platforms(state.clone()))
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(256 << 20),
        )
        .add_service(SummaryServiceServer::new(Summaries(state.clone())))
        .add_service(AuditServiceServer::new(Audit(state.clone())))
        .add_service(TransparencyServiceServer::new(Transparency(state.clone())));
    ports.announce()?;
    tracing::info!(%addr, backend, "hub listening");
    service::serve(router, listener, &tls, "hub", grpc_health, drain).await?;
    background.cancel();
    tasks.close();
    if tokio::time::timeout(GRACE, tasks.wait()).await.is_err() {
        tracing::warn!("background work did not finish within the grace period");
    }
    tracing::info!("hub stopped");
    Ok(())
}
