//! Pull mode: a platform whose sidecar accepts no inbound connection fetches its share with
//! `PlatformService/PullDeliveries`.
//!
//! The outbox is the same as for a push. A pull claims the platform's due deliveries with the
//! same lease, in the same order, under the same rate cap and holds, and builds the same
//! Deliver payload (the agencies' JWS, the signed item bytes, the inclusion proofs). The
//! sidecar's answer to a batch rides on its next pull ([`pb::PullAck`]): that is the cursor,
//! and it is durable where it counts, in the outbox rows it marks DELIVERED or FAILED. A
//! batch that is never answered (the sidecar died, the answer was lost, the hub that served
//! it died) is claimed again when its lease runs out, or at once when that hub restarts
//! ([`Store::release_own_claims`]); the sidecar's inbox stores a delivery once, so the
//! platform sees each target once. A platform offline for days finds its deliveries waiting
//! in the outbox, in order, and catches up batch by batch.
//!
//! Nothing is claimed before it is due, so nothing of an action day is served before its
//! H-hour. As for a push, the proofs of the lists due at the next H-hour are built ahead
//! of it, and the first batch after an idle spell is small ([`FIRST_BATCH`], doubling with
//! each batch served), so the first targets of a release reach the platform within
//! milliseconds.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use takedown_protocol::{pb, timestamp::now_millis};
use takedown_store::{ClaimedDelivery, DeliveryId, PlatformName, Store, StoreResult};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    Wake, fail_unusable, payload,
    payload::TreeCache,
    record_answer,
    worker::{FIRST_BATCH, WARM_AHEAD_MS, warm},
};
use crate::{
    config::DeliveryConfig, keys::KeyDirectory, metrics::HubMetrics, public_id::PublicIds,
};

/// The longest a pull may wait for something to come due.
pub const MAX_WAIT_MS: u32 = 60_000;

/// What a pull needs; one per hub, shared by every pull-mode platform.
pub struct Pulls<S> {
    pub store: S,
    pub keys: Arc<KeyDirectory>,
    pub ids: PublicIds,
    pub cache: Arc<TreeCache>,
    pub cfg: DeliveryConfig,
    pub wake: Wake,
    pub metrics: Arc<HubMetrics>,
    /// Cancelled when the hub drains: waiting pulls answer at once, empty.
    pub shutdown: CancellationToken,
    /// Per platform: the next batch's size (slow start) and the H-hour whose proofs were
    /// built ahead.
    pub pace: Mutex<HashMap<PlatformName, Pace>>,
}

/// Where a pulling platform is in its slow start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    batch: u32,
    warmed: Option<i64>,
}

impl<S: Store> Pulls<S> {
    /// Records `ack` (only for deliveries in flight to `platform`); how many it recorded.
    pub async fn acknowledge(
        &self,
        platform: &PlatformName,
        ack: &pb::PullAck,
    ) -> StoreResult<u32> {
        let named: Vec<DeliveryId> = ack
            .accepted
            .iter()
            .chain(ack.rejected.iter().map(|r| &r.delivery_id))
            .filter_map(|s| self.ids.parse_delivery(s))
            .collect();
        if named.is_empty() {
            return Ok(0);
        }
        let sent: HashSet<DeliveryId> = self
            .store
            .in_flight_to(platform, &named)
            .await?
            .into_iter()
            .collect();
        let answered = record_answer(
            &self.store,
            &self.ids,
            &self.metrics,
            platform,
            &sent,
            &ack.accepted,
            &ack.rejected,
        )
        .await;
        tracing::info!(
            batch_id = %ack.batch_id,
            named = named.len(),
            recorded = answered.len(),
            "pulled batch answered"
        );
        Ok(answered.len() as u32)
    }

    /// The next batch of `platform`'s due deliveries, at most `max` targets, waiting up to
    /// `wait` for one to come due; `None` when nothing did.
    pub async fn next_batch(
        &self,
        platform: &PlatformName,
        max: u32,
        wait: Duration,
    ) -> StoreResult<Option<pb::DeliverRequest>> {
        let most = max.clamp(1, self.cfg.batch_size);
        let deadline = tokio::time::Instant::now() + wait;
        let notify = self.wake.for_platform(platform);
        loop {
            let now = now_millis();
            let limit = self.pace_of(platform).batch.clamp(1, most);
            let claimed = self
                .store
                .claim_deliveries(platform, now, now + self.cfg.lease_ms as i64, limit)
                .await?;
            if !claimed.is_empty() {
                self.set_pace(platform, |p| p.batch = limit.saturating_mul(2).min(most));
                if let Some(batch) = self.build(platform, claimed).await? {
                    return Ok(Some(batch));
                }
                continue;
            }
            self.set_pace(platform, |p| p.batch = FIRST_BATCH);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.shutdown.is_cancelled() {
                return Ok(None);
            }
            let until_due = match self.store.next_delivery_at(platform).await? {
                Some(next) if next > now => {
                    if next - now <= WARM_AHEAD_MS && self.pace_of(platform).warmed != Some(next) {
                        self.set_pace(platform, |p| p.warmed = Some(next));
                        tokio::spawn(warm(self.store.clone(), self.cache.clone(), next));
                    }
                    Duration::from_millis((next - now) as u64)
                }
                _ => Duration::from_millis(self.cfg.poll_ms),
            };
            let nap = left
                .min(until_due)
                .min(Duration::from_millis(self.cfg.poll_ms));
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(nap) => {}
                _ = self.shutdown.cancelled() => return Ok(None),
            }
        }
    }

    fn pace_of(&self, platform: &PlatformName) -> Pace {
        let pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        pace.get(platform).copied().unwrap_or(Pace {
            batch: FIRST_BATCH,
            warmed: None,
        })
    }

    fn set_pace(&self, platform: &PlatformName, change: impl FnOnce(&mut Pace)) {
        let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        change(pace.entry(platform.clone()).or_insert(Pace {
            batch: FIRST_BATCH,
            warmed: None,
        }));
    }

    /// The payload of `claimed`; `None` when none of it could be sent (each recorded FAILED
    /// with its reason).
    async fn build(
        &self,
        platform: &PlatformName,
        claimed: Vec<ClaimedDelivery>,
    ) -> StoreResult<Option<pb::DeliverRequest>> {
        let batch_id = uuid::Uuid::now_v7().to_string();
        let span = tracing::info_span!("pull_batch", %platform, %batch_id, size = claimed.len());
        async {
            let keys = self.keys.current();
            let keys = keys.as_deref().map(|c| &*c.set);
            let built = payload::build(
                &self.store,
                &self.cache,
                keys,
                &self.ids,
                platform,
                &batch_id,
                &claimed,
            )
            .await;
            let (request, unusable) = match built {
                Ok(r) => r,
                Err(e) => {
                    // Due again after a short pause, like a push that could not be built.
                    let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
                    let error = format!("hub could not build the batch: {e}");
                    self.store
                        .mark_retry(&ids, now_millis() + 1_000, &error)
                        .await?;
                    return Err(e);
                }
            };
            fail_unusable(&self.store, &self.metrics, platform, &unusable).await?;
            if request.deliveries.is_empty() {
                return Ok(None);
            }
            tracing::info!(deliveries = request.deliveries.len(), "batch pulled");
            Ok(Some(request))
        }
        .instrument(span)
        .await
    }
}
