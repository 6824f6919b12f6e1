//! The sidecar's Prometheus metrics ([`takedown_net::metrics`] serves them): what the hub
//! delivered and what was refused, handoffs to the platform, reports back to the hub, and,
//! read at each scrape, the outbox, the key-set statement and the inbox's pool.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use takedown_net::metrics::{PoolLabel, encode, pool_gauge, seconds_histogram, set_pool};

use crate::{
    inbox::Inbox,
    keys::{Freshness, KeyCache},
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabel {
    /// `takedown` or `withdrawal`; empty for a rejection (its kind may not have decoded).
    pub kind: &'static str,
    /// `accepted` or `rejected`.
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `failed`.
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReportLabel {
    /// `sent`, `deferred` (refused as not yet delivered: tried again later), `parked`
    /// (refused for good), `failed` (the hub unreachable: retried).
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `pending`, `sent`, `parked`.
    pub state: &'static str,
}

/// Every metric of the sidecar.
pub struct SidecarMetrics {
    registry: Registry,
    pub deliveries: Family<DeliveryLabel, Counter>,
    pub stored: Counter,
    pub deliver_call: Histogram,
    pub backlog_refusals: Counter,
    pub handoffs: Family<ResultLabel, Counter>,
    pub handed: Counter,
    pub handoff_call: Histogram,
    pub reports: Family<ReportLabel, Counter>,
    outbox: Family<StateLabel, Gauge>,
    key_set_version: Gauge,
    key_set_fresh: Gauge,
    pool: Family<PoolLabel, Gauge>,
}

impl Default for SidecarMetrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("takedown_sidecar");
        let deliveries = Family::default();
        r.register(
            "deliveries",
            "Deliveries from the hub by kind and result (accepted, or rejected by \
             verification)",
            deliveries.clone(),
        );
        let stored = Counter::default();
        r.register(
            "deliveries_stored",
            "Deliveries stored in the inbox for the first time (a redelivery is accepted \
             but not stored again)",
            stored.clone(),
        );
        let deliver_call = seconds_histogram();
        r.register(
            "deliver_seconds",
            "Time to verify and store one Deliver call",
            deliver_call.clone(),
        );
        let backlog_refusals = Counter::default();
        r.register(
            "backlog_refusals",
            "Deliver calls answered RESOURCE_EXHAUSTED (and pulls held back) because \
             handoff.max_backlog deliveries waited for the platform",
            backlog_refusals.clone(),
        );
        let handoffs = Family::default();
        r.register(
            "handoff_batches",
            "Handoff batches to the platform by result",
            handoffs.clone(),
        );
        let handed = Counter::default();
        r.register(
            "handed",
            "Targets and withdrawals handed to the platform",
            handed.clone(),
        );
        let handoff_call = seconds_histogram();
        r.register(
            "handoff_seconds",
            "Duration of one handoff to the platform, answered or not",
            handoff_call.clone(),
        );
        let reports = Family::default();
        r.register("reports", "Reports to the hub by result", reports.clone());
        let outbox = Family::default();
        r.register(
            "outbox_reports",
            "Reports in the outbox by state",
            outbox.clone(),
        );
        let key_set_version = Gauge::default();
        r.register(
            "key_set_version",
            "Version of the newest coordinator-signed key-set statement held (0: none)",
            key_set_version.clone(),
        );
        let key_set_fresh = Gauge::default();
        r.register(
            "key_set_fresh",
            "1 while the hub pushes key-set statements or answered lately, 0 when stale or \
             none is held",
            key_set_fresh.clone(),
        );
        let pool = pool_gauge(&mut r);
        Self {
            registry: r,
            deliveries,
            stored,
            deliver_call,
            backlog_refusals,
            handoffs,
            handed,
            handoff_call,
            reports,
            outbox,
            key_set_version,
            key_set_fresh,
            pool,
        }
    }
}

impl SidecarMetrics {
    pub fn delivery(&self, kind: &'static str, result: &'static str, n: usize) {
        if n > 0 {
            self.deliveries
                .get_or_create(&DeliveryLabel { kind, result })
                .inc_by(n as u64);
        }
    }

    pub fn handoff(&self, ok: bool, took: Duration, targets: usize) {
        self.handoff_call.observe(took.as_secs_f64());
        let result = if ok { "ok" } else { "failed" };
        self.handoffs.get_or_create(&ResultLabel { result }).inc();
        if ok {
            self.handed.inc_by(targets as u64);
        }
    }

    pub fn reports(&self, result: &'static str, n: usize) {
        if n > 0 {
            self.reports
                .get_or_create(&ReportLabel { result })
                .inc_by(n as u64);
        }
    }

    /// Reads the outbox, the key set and the pool, then renders every metric.
    pub async fn render(&self, inbox: &Inbox, keys: &KeyCache, stale_after: Duration) -> String {
        match inbox.outbox_counts().await {
            Ok(c) => {
                for (state, n) in [
                    ("pending", c.pending),
                    ("sent", c.sent),
                    ("parked", c.parked),
                ] {
                    self.outbox.get_or_create(&StateLabel { state }).set(n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the outbox for metrics failed"),
        }
        let version = keys.current().map(|k| k.version()).unwrap_or(0);
        self.key_set_version
            .set(i64::try_from(version).unwrap_or(i64::MAX));
        self.key_set_fresh.set(i64::from(matches!(
            keys.freshness(stale_after),
            Freshness::Fresh
        )));
        let (open, idle, max) = inbox.pool_status();
        set_pool(&self.pool, open, idle, max);
        encode(&self.registry)
    }
}

/// Shared handle.
pub type Metrics = Arc<SidecarMetrics>;
