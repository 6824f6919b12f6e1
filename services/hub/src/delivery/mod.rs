//! Delivery: the durable outbox → per-platform workers → each platform's sidecar.
//!
//! The dispatcher keeps one [`worker::Worker`] per registered platform, restarting it when
//! the platform's endpoint changes (through this hub at once, through another replica within
//! [`PLATFORMS_FOLLOW`]); the deliveries that wait out retry delays after failing at the
//! old endpoint are due again at once. Deliveries are claimed with a lease longer than the RPC
//! deadline, in the name of this hub instance: a batch in flight when a hub dies is sent
//! again when the same instance starts again, when the other hubs find that its heartbeat
//! stopped ([`run_heartbeat`]), or at the latest when its lease expires.
//!
//! - [`wake`]: wake-ups for idle workers.
//! - [`payload`]: building a Deliver request with inclusion proofs.
//! - [`retry`]: retry classification, schedule with jitter, circuit breaker.
//! - [`worker`]: one platform's loop (push).
//! - [`pull`]: a pull-mode platform's sidecar fetching its share.

pub mod payload;
pub mod pull;
pub mod retry;
pub mod wake;
pub mod worker;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use takedown_net::TlsMaterial;
use takedown_protocol::{pb, timestamp::now_millis};
use takedown_store::{DeliveryId, DeliveryMode, PlatformName, Store};
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
    inner: Arc<Mutex<HashMap<PlatformName, Health>>>,
}

impl PlatformHealth {
    pub fn set(&self, platform: &PlatformName, circuit_open: bool, last_error: Option<String>) {
        self.inner
            .lock()
            .expect("health lock")
            .insert(platform.clone(), (circuit_open, last_error));
    }

    /// (platform, circuit open) of every platform a worker has reported on.
    pub fn circuits(&self) -> Vec<(PlatformName, bool)> {
        self.inner
            .lock()
            .expect("health lock")
            .iter()
            .map(|(p, (open, _))| (p.clone(), *open))
            .collect()
    }

    /// (circuit open, last error) of a platform.
    pub fn get(&self, platform: &PlatformName) -> (bool, Option<String>) {
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

/// Records the claimed deliveries that a batch could not carry ([`payload::build`]'s
/// unusable ones) FAILED with their reason: they are never sent.
pub(crate) async fn fail_unusable<S: Store>(
    store: &S,
    metrics: &HubMetrics,
    platform: &PlatformName,
    unusable: &[(DeliveryId, &'static str)],
) -> takedown_store::StoreResult<()> {
    for reason in [payload::NO_REFERRAL, payload::VOID_KEY] {
        let ids: Vec<DeliveryId> = unusable
            .iter()
            .filter(|(_, r)| *r == reason)
            .map(|(id, _)| *id)
            .collect();
        if !ids.is_empty() {
            tracing::warn!(count = ids.len(), reason, "deliveries not sent");
            metrics.delivered(platform, "not_sent", ids.len());
            store.mark_failed(&ids, now_millis(), reason).await?;
        }
    }
    Ok(())
}

/// Records a receiver's answer for the deliveries of `platform` whose row ids are in `sent`
/// (ids the answer names outside it are ignored): accepted ones DELIVERED, refused ones
/// FAILED with the receiver's reason. Returns the row ids answered.
pub(crate) async fn record_answer<S: Store>(
    store: &S,
    ids: &PublicIds,
    metrics: &HubMetrics,
    platform: &PlatformName,
    sent: &HashSet<DeliveryId>,
    accepted: &[String],
    rejected: &[pb::DeliveryRejection],
) -> HashSet<DeliveryId> {
    let now = now_millis();
    let accepted: Vec<DeliveryId> = accepted
        .iter()
        .filter_map(|s| ids.parse_delivery(s))
        .filter(|i| sent.contains(i))
        .collect();
    worker::record(store.mark_delivered(&accepted, now).await);
    metrics.delivered(platform, "delivered", accepted.len());
    let mut answered: HashSet<DeliveryId> = accepted.iter().copied().collect();
    for r in rejected {
        if let Some(id) = ids
            .parse_delivery(&r.delivery_id)
            .filter(|id| sent.contains(id) && !answered.contains(id))
        {
            answered.insert(id);
            let why = format!("refused by the platform's receiver: {}", r.reason);
            worker::record(store.mark_failed(&[id], now, &why).await);
            metrics.delivered(platform, "refused", 1);
        }
    }
    answered
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
    /// Lists' Merkle trees, shared with pulls.
    pub cache: Arc<TreeCache>,
}

/// How often the dispatcher reads the platforms again, besides the wake-up of a change made
/// through this hub: how soon a change made through another replica reaches this one.
pub const PLATFORMS_FOLLOW: Duration = Duration::from_secs(2);

/// Runs until `shutdown`: one worker per registered push-mode platform (a pull-mode
/// platform's sidecar comes for its share, see [`pull`]).
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
        cache,
    } = d;
    let tasks = TaskTracker::new();
    let mut running: HashMap<PlatformName, (String, CancellationToken)> = HashMap::new();
    loop {
        match store.list_platforms().await {
            Ok(platforms) => {
                for p in platforms {
                    if p.mode == DeliveryMode::Pull {
                        if let Some((_, old)) = running.remove(&p.name) {
                            tracing::info!(platform = %p.name, "platform pulls now: its push worker stops");
                            old.cancel();
                        }
                        continue;
                    }
                    let current = running.get(&p.name).map(|(endpoint, _)| endpoint.clone());
                    if current.as_deref() == Some(p.endpoint.as_str()) {
                        continue;
                    }
                    if let Some((_, old)) = running.remove(&p.name) {
                        old.cancel();
                        // What failed at the old endpoint says nothing about the new one.
                        match store.retry_now(&p.name, now_millis()).await {
                            Ok(n) => {
                                tracing::info!(platform = %p.name, endpoint = %p.endpoint, due_now = n, "platform moved: its backlog is due")
                            }
                            Err(e) => {
                                tracing::warn!(platform = %p.name, error = %e, "releasing the backlog of a moved platform failed")
                            }
                        }
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
            _ = tokio::time::sleep(PLATFORMS_FOLLOW) => {}
        }
    }
    tasks.close();
    tasks.wait().await;
}

pub use payload::TreeCache;
