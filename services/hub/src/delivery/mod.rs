//! Delivery: the durable outbox → per-platform workers → each platform's sidecar.
//!
//! The dispatcher keeps one [`worker::Worker`] per registered platform (restarting it when
//! the platform's endpoint changes). Deliveries are claimed with a lease longer than the RPC
//! deadline, in the name of this hub instance: a batch in flight when a hub dies is sent
//! again when the same instance starts again, when the other hubs find that its heartbeat
//! stopped ([`run_heartbeat`]), or at the latest when its lease expires.
//!
//! - [`wake`]: wake-ups for idle workers.
//! - [`payload`]: building a Deliver request with inclusion proofs.
//! - [`retry`]: retry classification, schedule with jitter, circuit breaker.
//! - [`worker`]: one platform's loop.

pub mod payload;
pub mod retry;
pub mod wake;
pub mod worker;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use takedown_net::TlsMaterial;
use takedown_store::Store;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use wake::Wake;

use crate::{
    config::DeliveryConfig, keys::KeyDirectory, metrics::HubMetrics, public_id::PublicIds,
};

/// Circuit open, last error.
type Health = (bool, Option<String>);

/// Delivery health per platform, for coordinators: circuit open, last error.
#[derive(Clone, Default)]
pub struct PlatformHealth {
    inner: Arc<Mutex<HashMap<String, Health>>>,
}

impl PlatformHealth {
    pub fn set(&self, platform: &str, circuit_open: bool, last_error: Option<String>) {
        self.inner
            .lock()
            .expect("health lock")
            .insert(platform.to_string(), (circuit_open, last_error));
    }

    /// (platform, circuit open) of every platform a worker has reported on.
    pub fn circuits(&self) -> Vec<(String, bool)> {
        self.inner
            .lock()
            .expect("health lock")
            .iter()
            .map(|(p, (open, _))| (p.clone(), *open))
            .collect()
    }

    /// (circuit open, last error) of a platform.
    pub fn get(&self, platform: &str) -> (bool, Option<String>) {
        self.inner
            .lock()
            .expect("health lock")
            .get(platform)
            .cloned()
            .unwrap_or((false, None))
    }
}

/// Runs until `shutdown`: records every `heartbeat_ms` that this hub is alive, and takes
/// back the claims of hubs not heard from for `dead_after_ms`, waking the workers.
pub async fn run_heartbeat<S: Store>(
    store: S,
    cfg: DeliveryConfig,
    wake: Wake,
    shutdown: CancellationToken,
) {
    let every = Duration::from_millis(cfg.heartbeat_ms);
    loop {
        let now = takedown_protocol::timestamp::now_millis();
        match store.heartbeat(now, now - cfg.dead_after_ms as i64).await {
            Ok(dead) => {
                for (instance, released) in &dead {
                    tracing::warn!(
                        %instance,
                        claims_taken_back = released,
                        "a hub instance stopped beating; its claims are due again"
                    );
                }
                if dead.iter().any(|(_, n)| *n > 0) {
                    wake.all();
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat not recorded"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// What the delivery workers share.
pub struct Dispatcher<S> {
    pub store: S,
    /// Agency keys: a referral signed with a key void by then is not delivered.
    pub keys: Arc<KeyDirectory>,
    /// The ids a delivery carries.
    pub ids: PublicIds,
    pub cfg: DeliveryConfig,
    pub tls: TlsMaterial,
    pub wake: Wake,
    pub health: PlatformHealth,
    pub metrics: Arc<HubMetrics>,
}

/// Runs until `shutdown`: one worker per registered platform.
pub async fn run_dispatcher<S: Store>(d: Dispatcher<S>, shutdown: CancellationToken) {
    let Dispatcher {
        store,
        keys,
        ids,
        cfg,
        tls,
        wake,
        health,
        metrics,
    } = d;
    let cache = Arc::new(TreeCache::new(cfg.tree_cache_leaves));
    let tasks = TaskTracker::new();
    let mut running: HashMap<String, (String, CancellationToken)> = HashMap::new();
    loop {
        match store.list_platforms().await {
            Ok(platforms) => {
                for p in platforms {
                    let current = running.get(&p.name).map(|(endpoint, _)| endpoint.clone());
                    if current.as_deref() == Some(p.endpoint.as_str()) {
                        continue;
                    }
                    if let Some((_, old)) = running.remove(&p.name) {
                        old.cancel();
                    }
                    let token = shutdown.child_token();
                    running.insert(p.name.clone(), (p.endpoint.clone(), token.clone()));
                    let worker = worker::Worker {
                        store: store.clone(),
                        keys: keys.clone(),
                        ids: ids.clone(),
                        notify: wake.for_platform(&p.name),
                        platform: p,
                        cfg: cfg.clone(),
                        tls: tls.clone(),
                        cache: cache.clone(),
                        health: health.clone(),
                        metrics: metrics.clone(),
                        shutdown: token,
                    };
                    tasks.spawn(worker.run());
                }
            }
            Err(e) => tracing::error!(error = %e, "listing platforms failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.platforms_changed_notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
    tasks.close();
    tasks.wait().await;
}

use payload::TreeCache;
