//! One platform's worker: claims due deliveries from the outbox in batches, sends them to the
//! platform's sidecar over mTLS (checking the sidecar is that platform), and records the
//! result. Several batches may be in flight; a failing platform is paused by its breaker
//! without touching any other platform's worker.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use takedown_net::TlsMaterial;
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    pb::receiver_service_client::ReceiverServiceClient,
    timestamp::now_millis,
};
use takedown_store::{ClaimedDelivery, DeliveryId, Platform, PlatformName, Store};
use tokio::sync::{Notify, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::transport::Channel;
use tracing::Instrument;

use super::{
    PlatformHealth,
    payload::{self, TreeCache},
    retry::{self, Breaker, Verdict},
};
use crate::{
    config::DeliveryConfig, keys::KeyDirectory, metrics::HubMetrics, public_id::PublicIds,
};

/// Largest message a Deliver call may carry.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

pub struct Worker<S> {
    pub store: S,
    /// Agency keys: a referral signed with a key void by then is not delivered.
    pub keys: Arc<KeyDirectory>,
    pub ids: PublicIds,
    pub platform: Platform,
    pub cfg: DeliveryConfig,
    pub tls: TlsMaterial,
    pub notify: Arc<Notify>,
    pub cache: Arc<TreeCache>,
    pub health: PlatformHealth,
    pub metrics: Arc<HubMetrics>,
    pub shutdown: CancellationToken,
}

struct Shared<S> {
    store: S,
    keys: Arc<KeyDirectory>,
    ids: PublicIds,
    platform: PlatformName,
    cfg: DeliveryConfig,
    cache: Arc<TreeCache>,
    client: ReceiverServiceClient<Channel>,
    breaker: Mutex<Breaker>,
    health: PlatformHealth,
    metrics: Arc<HubMetrics>,
    wake: Arc<Notify>,
    /// Slow start: the next claim's size, from [`FIRST_BATCH`] doubling to `batch_size`.
    batch: AtomicU32,
    /// Until when the receiver asked the hub to wait ([`retry::slow_down`]).
    paused_until: Mutex<Option<Instant>>,
}

impl<S> Shared<S> {
    /// Until when nothing is sent: an open circuit, or a receiver's request to wait.
    fn hold_until(&self, now: Instant) -> Option<Instant> {
        let open = self.breaker.lock().expect("breaker lock").open_until(now);
        let paused = self
            .paused_until
            .lock()
            .expect("pause lock")
            .filter(|u| *u > now);
        open.max(paused)
    }
}

/// The first batch after an idle spell is small, so that the first targets of a release
/// reach the platform within milliseconds; each delivered batch doubles the next one up to
/// the configured `batch_size`.
pub(super) const FIRST_BATCH: u32 = 32;

impl<S: Store> Worker<S> {
    #[tracing::instrument(name = "delivery_worker", skip_all, fields(platform = %self.platform.name))]
    pub async fn run(self) {
        let name = self.platform.name.clone();
        let channel = loop {
            match connect(&self.platform, &self.tls, &self.cfg) {
                Ok(c) => break c,
                Err(e) => {
                    tracing::error!(error = %e, endpoint = %self.platform.endpoint, "cannot set up the channel; retrying");
                    self.health.set(&name, true, Some(e));
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
            }
        };
        let shared = Arc::new(Shared {
            store: self.store.clone(),
            keys: self.keys.clone(),
            ids: self.ids.clone(),
            platform: name.clone(),
            cfg: self.cfg.clone(),
            cache: self.cache.clone(),
            client: ReceiverServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            breaker: Mutex::new(Breaker::new(
                self.cfg.breaker_failures,
                Duration::from_millis(self.cfg.breaker_cooldown_ms),
            )),
            health: self.health.clone(),
            metrics: self.metrics.clone(),
            wake: self.notify.clone(),
            batch: AtomicU32::new(FIRST_BATCH.min(self.cfg.batch_size)),
            paused_until: Mutex::new(None),
        });
        // Open the mTLS connection (and check the sidecar's identity) now, not at H-hour.
        tokio::spawn(warm_up(channel, name.clone()));
        let in_flight = Arc::new(Semaphore::new(self.cfg.max_in_flight));
        // The next due time whose proofs were prepared.
        let mut warmed: Option<i64> = None;
        let tasks = TaskTracker::new();
        tracing::info!(endpoint = %self.platform.endpoint, "delivery worker started");
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            if let Some(until) = shared.hold_until(Instant::now()) {
                tokio::select! {
                    _ = self.shutdown.cancelled() => break,
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
                continue;
            }
            let permit = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                p = in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let now = now_millis();
            let claimed = match self
                .store
                .claim_deliveries(
                    &name,
                    now,
                    now + self.cfg.lease_ms as i64,
                    shared.batch.load(Ordering::Relaxed),
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    drop(permit);
                    self.idle(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                drop(permit);
                shared
                    .batch
                    .store(FIRST_BATCH.min(self.cfg.batch_size), Ordering::Relaxed);
                let wait = match self.store.next_delivery_at(&name).await {
                    Ok(Some(next)) if next > now => {
                        if next - now <= WARM_AHEAD_MS && warmed != Some(next) {
                            warmed = Some(next);
                            tokio::spawn(warm(self.store.clone(), self.cache.clone(), next));
                        }
                        Duration::from_millis(((next - now) as u64).min(self.cfg.poll_ms))
                    }
                    _ => Duration::from_millis(self.cfg.poll_ms),
                };
                self.idle(wait).await;
                continue;
            }
            let shared = shared.clone();
            tasks.spawn(async move {
                send_batch(&shared, claimed).await;
                drop(permit);
            });
        }
        tasks.close();
        // In-flight batches finish (bounded by the RPC deadline); anything cut short is
        // claimed again when its lease expires.
        tasks.wait().await;
        tracing::info!("delivery worker stopped");
    }

    async fn idle(&self, wait: Duration) {
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.notify.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// A lazily connecting channel to the platform's sidecar, refusing any server that is not
/// that platform's certificate.
fn connect(p: &Platform, tls: &TlsMaterial, cfg: &DeliveryConfig) -> Result<Channel, String> {
    let id = OrgId::parse(&p.name).map_err(|e| e.to_string())?;
    takedown_net::connect_lazy(
        &p.endpoint,
        tls,
        Some(Identity::new(IdentityRole::Platform, id)),
        cfg.rpc_timeout(),
    )
    .map_err(|e| e.to_string())
}

/// How long before a due time (an H-hour) the trees of its lists are built.
pub(super) const WARM_AHEAD_MS: i64 = 120_000;

/// Builds the proofs of the lists due at `at` before it comes; failures are only logged
/// (the first batches then build what they need).
pub(super) async fn warm<S: Store>(store: S, cache: Arc<TreeCache>, at: i64) {
    match cache.warm(&store, at).await {
        Ok(n) => tracing::info!(
            lists = n,
            due_at = at,
            "proofs prepared for the next release"
        ),
        Err(e) => tracing::warn!(error = %e, "preparing proofs failed"),
    }
}

/// Connects to the sidecar and asks for its health, so that the TLS handshake and the
/// identity check happen before anything is due; failures are only logged (deliveries
/// retry on their own schedule).
async fn warm_up(channel: Channel, platform: PlatformName) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let check = health.check(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(_)) => tracing::info!(%platform, "sidecar reachable"),
        Ok(Err(e)) => tracing::warn!(%platform, error = %e.message(), "sidecar not reachable yet"),
        Err(_) => tracing::warn!(%platform, "sidecar not reachable yet (timeout)"),
    }
}

async fn send_batch<S: Store>(w: &Shared<S>, claimed: Vec<ClaimedDelivery>) {
    let batch_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("delivery_batch", platform = %w.platform, batch_id = %batch_id, size = claimed.len());
    async {
        let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
        let keys = w.keys.current();
        let keys = keys.as_deref().map(|c| &*c.set);
        let (request, unusable) = match payload::build(
            &w.store,
            &w.cache,
            keys,
            &w.ids,
            &w.platform,
            &batch_id,
            &claimed,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "building the batch failed; retrying later");
                retry_all(w, &claimed, &format!("hub could not build the batch: {e}")).await;
                return;
            }
        };
        record(super::fail_unusable(&w.store, &w.metrics, &w.platform, &unusable).await);
        if request.deliveries.is_empty() {
            return;
        }
        let mut req = tonic::Request::new(request);
        req.set_timeout(w.cfg.rpc_timeout());
        let started = Instant::now();
        let result = w.client.clone().deliver(req).await;
        w.metrics.deliver_call(&w.platform, started.elapsed());
        match result {
            Ok(resp) => {
                let resp = resp.into_inner();
                let sent: HashSet<DeliveryId> = ids
                    .iter()
                    .copied()
                    .filter(|i| !unusable.iter().any(|(u, _)| u == i))
                    .collect();
                let answered = super::record_answer(
                    &w.store,
                    &w.ids,
                    &w.metrics,
                    &w.platform,
                    &sent,
                    &resp.accepted,
                    &resp.rejected,
                )
                .await;
                let unanswered: Vec<ClaimedDelivery> = claimed
                    .iter()
                    .filter(|c| sent.contains(&c.id) && !answered.contains(&c.id))
                    .cloned()
                    .collect();
                if !unanswered.is_empty() {
                    retry_all(w, &unanswered, "receiver did not answer for this delivery").await;
                }
                let recovered = w.breaker.lock().expect("breaker lock").success();
                if recovered {
                    // The deliveries that failed meanwhile need not wait out their delays.
                    match w.store.retry_now(&w.platform, now_millis()).await {
                        Ok(n) => tracing::info!(due_now = n, "platform answers again: backlog due"),
                        Err(e) => tracing::warn!(error = %e, "releasing the backlog failed"),
                    }
                }
                let _ = w
                    .batch
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                        Some(b.saturating_mul(2).min(w.cfg.batch_size))
                    });
                w.health.set(&w.platform, false, None);
                tracing::info!(
                    accepted = resp.accepted.len(),
                    rejected = resp.rejected.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "batch delivered"
                );
                // More may be due right away.
                w.wake.notify_one();
            }
            Err(status) => {
                let error = format!("{:?}: {}", status.code(), status.message());
                let sent: Vec<ClaimedDelivery> = claimed
                    .iter()
                    .filter(|c| !unusable.iter().any(|(u, _)| *u == c.id))
                    .cloned()
                    .collect();
                if let Some(delay) = retry::slow_down(&status, w.cfg.max_retry_after()) {
                    tracing::warn!(
                        error = %error,
                        delay_ms = delay.as_millis() as u64,
                        "the receiver asked the hub to wait; platform paused"
                    );
                    let ids: Vec<DeliveryId> = sent.iter().map(|c| c.id).collect();
                    let due = now_millis() + delay.as_millis() as i64;
                    w.metrics.delivered(&w.platform, "retried", ids.len());
                    {
                        let mut paused = w.paused_until.lock().expect("pause lock");
                        *paused = (*paused).max(Some(Instant::now() + delay));
                    }
                    record(w.store.mark_retry(&ids, due, &error).await);
                    w.health.set(&w.platform, false, Some(error));
                    return;
                }
                match retry::classify(status.code()) {
                    Verdict::Retry => {
                        tracing::warn!(error = %error, "delivery failed; will retry");
                        retry_all(w, &sent, &error).await;
                        let opened = w
                            .breaker
                            .lock()
                            .expect("breaker lock")
                            .failure(error.clone(), Instant::now());
                        if opened {
                            tracing::warn!(error = %error, "circuit opened: platform paused");
                        }
                        w.health.set(
                            &w.platform,
                            opened
                                || w.breaker
                                    .lock()
                                    .expect("breaker lock")
                                    .is_open(Instant::now()),
                            Some(error),
                        );
                    }
                    Verdict::Fail => {
                        tracing::error!(error = %error, "delivery refused; not retried");
                        let ids: Vec<DeliveryId> = sent.iter().map(|c| c.id).collect();
                        record(w.store.mark_failed(&ids, now_millis(), &error).await);
                        w.metrics.delivered(&w.platform, "failed", ids.len());
                        w.health.set(&w.platform, false, Some(error));
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Puts deliveries back with their attempt-based delay (grouped by delay).
async fn retry_all<S: Store>(w: &Shared<S>, claimed: &[ClaimedDelivery], error: &str) {
    w.metrics.delivered(&w.platform, "retried", claimed.len());
    let now = now_millis();
    let mut groups: BTreeMap<i64, Vec<DeliveryId>> = BTreeMap::new();
    {
        let mut rng = rand::rng();
        for c in claimed {
            let d = retry::delay_ms(
                &w.cfg.retry_schedule_ms,
                w.cfg.retry_jitter,
                c.attempts,
                &mut rng,
            );
            // Coarsen to 50 ms so that a batch needs few statements.
            let at = now + (d as i64 / 50) * 50;
            groups.entry(at).or_default().push(c.id);
        }
    }
    for (at, ids) in groups {
        record(w.store.mark_retry(&ids, at, error).await);
    }
}

pub(super) fn record(r: takedown_store::StoreResult<()>) {
    if let Err(e) = r {
        // The lease will bring these deliveries back.
        tracing::error!(error = %e, "recording a delivery result failed");
    }
}
