//! The hub's Prometheus metrics ([`takedown_net::metrics`] serves them): what it delivered,
//! what platforms reported, what intake refused, and, read at each scrape, the outbox, the
//! delivery circuits and the database pool.
//!
//! Labels are bounded: platforms are the registered ones, reasons are gRPC code names and
//! field paths with their indexes removed (`items[].platform`), never free text.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use takedown_net::{
    metrics::{PoolLabel, encode, pool_gauge, seconds_histogram, set_pool},
    protocol_errors::code_name,
};
use takedown_protocol::timestamp::now_millis;
use takedown_store::Store;

use crate::delivery::PlatformHealth;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabel {
    pub platform: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabel {
    pub platform: String,
    /// `delivered`, `refused` (by the receiver), `retried`, `failed` (not retried),
    /// `not_sent` (no referral left, or a void key).
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboxLabel {
    pub platform: String,
    /// `due`, `scheduled` (embargoed or waiting out a retry delay), `in_flight`.
    pub state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReportLabel {
    pub platform: String,
    /// `acknowledgement`, `decision`, `restoration`.
    pub kind: &'static str,
    /// The decision's outcome (`BLOCKED`, ...); empty for the other kinds.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    /// The gRPC code name (`INVALID_ARGUMENT`, ...).
    pub code: &'static str,
    /// The refused field, indexes removed (`items[].platform`); empty when none is named.
    pub field: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformRefusalLabel {
    pub platform: String,
    pub code: &'static str,
}

/// Every metric of the hub. Cheap to share (`Arc`); the handles update atomically.
pub struct HubMetrics {
    registry: Registry,
    pub deliveries: Family<DeliveryLabel, Counter>,
    pub deliver_call: Family<PlatformLabel, Histogram, fn() -> Histogram>,
    pub reports: Family<ReportLabel, Counter>,
    pub reports_recorded: Family<PlatformLabel, Counter>,
    pub reports_duplicate: Family<PlatformLabel, Counter>,
    pub report_refusals: Family<PlatformRefusalLabel, Counter>,
    pub lists_accepted: Counter,
    pub items_accepted: Counter,
    pub intake_refusals: Family<RefusalLabel, Counter>,
    outbox: Family<OutboxLabel, Gauge>,
    /// Platforms the outbox gauge has shown: one emptied reads 0, not "no data".
    outbox_seen: std::sync::Mutex<std::collections::BTreeSet<takedown_store::PlatformName>>,
    circuit_open: Family<PlatformLabel, Gauge>,
    pool: Family<PoolLabel, Gauge>,
}

impl Default for HubMetrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("takedown_hub");
        let deliveries = Family::default();
        r.register(
            "deliveries",
            "Deliveries by platform and result (delivered, refused by the receiver, retried, \
             failed, not sent)",
            deliveries.clone(),
        );
        let deliver_call = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        r.register(
            "deliver_call_seconds",
            "Duration of Deliver calls to a platform's sidecar, answered or not",
            deliver_call.clone(),
        );
        let reports = Family::default();
        r.register(
            "reports_received",
            "Reports received from platforms by kind and outcome, repeats included",
            reports.clone(),
        );
        let reports_recorded = Family::default();
        r.register(
            "reports_recorded",
            "Reports recorded (first time seen)",
            reports_recorded.clone(),
        );
        let reports_duplicate = Family::default();
        r.register(
            "reports_duplicate",
            "Reports already recorded under their report id (a sidecar's retry)",
            reports_duplicate.clone(),
        );
        let report_refusals = Family::default();
        r.register(
            "report_refusals",
            "ReportOutcomes calls refused, by platform and gRPC code",
            report_refusals.clone(),
        );
        let lists_accepted = Counter::default();
        r.register(
            "lists_accepted",
            "Referral lists accepted",
            lists_accepted.clone(),
        );
        let items_accepted = Counter::default();
        r.register(
            "items_accepted",
            "Items of accepted referral lists",
            items_accepted.clone(),
        );
        let intake_refusals = Family::default();
        r.register(
            "intake_refusals",
            "Referral lists refused, by gRPC code and the field named",
            intake_refusals.clone(),
        );
        let outbox = Family::default();
        r.register(
            "outbox_deliveries",
            "Undelivered deliveries by platform: due, scheduled (embargoed or waiting out a \
             retry delay), in flight",
            outbox.clone(),
        );
        let circuit_open = Family::default();
        r.register(
            "circuit_open",
            "1 while a platform's delivery circuit is open (its sidecar failing)",
            circuit_open.clone(),
        );
        let pool = pool_gauge(&mut r);
        Self {
            registry: r,
            deliveries,
            deliver_call,
            reports,
            reports_recorded,
            reports_duplicate,
            report_refusals,
            lists_accepted,
            items_accepted,
            intake_refusals,
            outbox,
            outbox_seen: Default::default(),
            circuit_open,
            pool,
        }
    }
}

impl HubMetrics {
    /// Counts `n` deliveries of `platform` with `result`.
    pub fn delivered(&self, platform: &str, result: &'static str, n: usize) {
        if n > 0 {
            self.deliveries
                .get_or_create(&DeliveryLabel {
                    platform: platform.to_string(),
                    result,
                })
                .inc_by(n as u64);
        }
    }

    /// Observes one Deliver call's duration.
    pub fn deliver_call(&self, platform: &str, took: Duration) {
        self.deliver_call
            .get_or_create(&PlatformLabel {
                platform: platform.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a batch of reports as received (before it is recorded).
    pub fn reports_received(&self, platform: &str, reports: &[takedown_store::NewReport]) {
        use takedown_store::ReportBody;
        // Counted per (kind, outcome) first: one label per group, not per report.
        let mut counts: std::collections::BTreeMap<(&'static str, Option<i32>), u64> =
            Default::default();
        for r in reports {
            let key = match &r.body {
                ReportBody::Acknowledgement => ("acknowledgement", None),
                ReportBody::Decision { outcome, .. } => ("decision", Some(*outcome as i32)),
                ReportBody::Restoration(_) => ("restoration", None),
            };
            *counts.entry(key).or_default() += 1;
        }
        for ((kind, outcome), n) in counts {
            let outcome = outcome
                .and_then(|o| takedown_protocol::pb::Outcome::try_from(o).ok())
                .map(crate::transparency::outcome_name)
                .unwrap_or_default();
            self.reports
                .get_or_create(&ReportLabel {
                    platform: platform.to_string(),
                    kind,
                    outcome,
                })
                .inc_by(n);
        }
    }

    /// Counts what a recorded batch was: new reports and repeats.
    pub fn reports_recorded(&self, platform: &str, recorded: u32, duplicates: u32) {
        let label = PlatformLabel {
            platform: platform.to_string(),
        };
        self.reports_recorded
            .get_or_create(&label)
            .inc_by(u64::from(recorded));
        self.reports_duplicate
            .get_or_create(&label)
            .inc_by(u64::from(duplicates));
    }

    /// Counts a refused ReportOutcomes call.
    pub fn report_refused(&self, platform: &str, code: tonic::Code) {
        self.report_refusals
            .get_or_create(&PlatformRefusalLabel {
                platform: platform.to_string(),
                code: code_name(code),
            })
            .inc();
    }

    /// Counts a refused list.
    pub fn intake_refused(&self, status: &tonic::Status) {
        let field = tonic_types::StatusExt::get_error_details(status)
            .bad_request()
            .and_then(|b| b.field_violations.first().map(|v| unindexed(&v.field)))
            .unwrap_or_default();
        self.intake_refusals
            .get_or_create(&RefusalLabel {
                code: code_name(status.code()),
                field,
            })
            .inc();
    }

    /// Reads the outbox, the circuits and the pool, then renders every metric.
    pub async fn render<S: Store>(&self, store: &S, health: &PlatformHealth) -> String {
        match store.outbox_depth(now_millis()).await {
            Ok(mut depths) => {
                let mut seen = self.outbox_seen.lock().expect("outbox lock");
                for platform in seen.iter() {
                    if !depths.iter().any(|d| &d.platform == platform) {
                        depths.push(takedown_store::OutboxDepth {
                            platform: platform.clone(),
                            due: 0,
                            scheduled: 0,
                            in_flight: 0,
                        });
                    }
                }
                seen.extend(depths.iter().map(|d| d.platform.clone()));
                drop(seen);
                for d in depths {
                    for (state, v) in [
                        ("due", d.due),
                        ("scheduled", d.scheduled),
                        ("in_flight", d.in_flight),
                    ] {
                        self.outbox
                            .get_or_create(&OutboxLabel {
                                platform: d.platform.to_string(),
                                state,
                            })
                            .set(v);
                    }
                }
            }
            // The last figures stay; the scrape still answers.
            Err(e) => tracing::warn!(error = %e, "reading the outbox for metrics failed"),
        }
        for (platform, open) in health.circuits() {
            self.circuit_open
                .get_or_create(&PlatformLabel {
                    platform: platform.into(),
                })
                .set(i64::from(open));
        }
        let p = store.pool_status();
        set_pool(&self.pool, p.open, p.idle, p.max);
        encode(&self.registry)
    }
}

/// `items[].platform` for `items[17].platform`: a bounded label.
fn unindexed(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push(c);
            }
            ']' => {
                in_index = false;
                out.push(c);
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(unindexed("items[17].platform"), "items[].platform");
        assert_eq!(
            unindexed("reports[3].decision.reason"),
            "reports[].decision.reason"
        );
        assert_eq!(unindexed("list"), "list");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(
            code_name(tonic::Code::ResourceExhausted),
            "RESOURCE_EXHAUSTED"
        );
    }

    #[test]
    fn the_registry_renders_openmetrics() {
        let m = HubMetrics::default();
        m.delivered("telegram", "delivered", 3);
        m.deliver_call("telegram", Duration::from_millis(12));
        m.intake_refused(&crate::error::ApiError::item(4, "platform", "unknown").into());
        let text = encode(&m.registry);
        assert!(
            text.contains(
                r#"takedown_hub_deliveries_total{platform="telegram",result="delivered"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains("takedown_hub_deliver_call_seconds_count{platform=\"telegram\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(r#"takedown_hub_intake_refusals_total{code="INVALID_ARGUMENT",field="items[].platform"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
