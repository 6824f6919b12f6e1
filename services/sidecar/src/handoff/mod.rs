//! Handing the inbox to the platform: a background worker opens a batch of pending
//! deliveries in order (recorded in the inbox before anything is handed), passes it to
//! the configured integration, and once the platform has received it closes the batch,
//! marks the targets handed, logs each handoff and queues the acknowledgements (plus any
//! decisions the integration returned) in one transaction. A failed attempt or a crash
//! repeats the open batch, with the same id and members; see [`crate::document`].
//!
//! The integrations: [`webhook`] (POST JSON), [`command`] (a program reading JSON on
//! stdin), [`coop`] (items filed into ROOST Coop) and [`auto`] (a deterministic
//! simulation). The JSON is in [`crate::document`] and [`crate::coop`].

pub mod auto;
pub mod command;
pub mod coop;
mod http;
pub mod webhook;

use std::{collections::HashMap, sync::Arc, time::Duration};

use takedown_protocol::{pb, timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    backoff::Backoff,
    config::{Config, Integration},
    document::{self, Kind, PlatformOutcome},
    inbox::{Inbox, Pending},
};

/// Why a handoff did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("integration setup: {0}")]
    Setup(String),
    #[error("platform did not take the batch: {0}")]
    Failed(String),
}

/// The configured integration.
#[derive(Debug)]
pub enum Platform {
    Webhook(Box<webhook::Webhook>),
    Command(command::CommandIntegration),
    Auto(auto::Auto),
    Coop(Box<coop::Coop>),
}

impl Platform {
    pub fn from_config(cfg: &Config) -> Result<Self, HandoffError> {
        Ok(match &cfg.integration {
            Integration::Webhook(w) => Self::Webhook(Box::new(webhook::Webhook::new(w.clone())?)),
            Integration::Command(c) => Self::Command(command::CommandIntegration::new(c.clone())),
            Integration::Auto(a) => Self::Auto(auto::Auto::new(a.clone())),
            Integration::Coop(c) => Self::Coop(Box::new(coop::Coop::new(c.clone())?)),
        })
    }

    fn mode(&self) -> &'static str {
        match self {
            Self::Webhook(_) => "webhook",
            Self::Command(_) => "command",
            Self::Auto(_) => "auto",
            Self::Coop(_) => "coop",
        }
    }

    /// Hands `batch` over; the decisions that come back at once, with when they are due.
    async fn hand_off(
        &self,
        platform: &str,
        batch: &Batch,
    ) -> Result<Vec<(PlatformOutcome, i64)>, HandoffError> {
        match self {
            Self::Webhook(w) => {
                w.hand_off(&batch.handoff_id, batch.json(platform)).await?;
                Ok(Vec::new())
            }
            Self::Command(c) => Ok(c
                .hand_off(&batch.handoff_id, &batch.json(platform))
                .await?
                .into_iter()
                .map(|o| (o, batch.attempted_at))
                .collect()),
            Self::Coop(c) => {
                c.hand_off(platform, &batch.handoff_id, &batch.targets)
                    .await?;
                Ok(Vec::new())
            }
            Self::Auto(a) => Ok(batch
                .targets
                .iter()
                .filter_map(|t| a.decide(&t.target_id, t.kind, t.removal_order, batch.attempted_at))
                .collect()),
        }
    }
}

/// One attempt at handing a batch over.
pub struct Batch {
    pub handoff_id: String,
    /// When the batch was first opened: the same on every attempt.
    pub handed_at: i64,
    /// When this attempt started: the platform's receipt, for acknowledgements.
    pub attempted_at: i64,
    pub targets: Vec<Pending>,
}

impl Batch {
    /// The batch document (see [`crate::document`]); the stored bodies are spliced in.
    pub fn json(&self, platform: &str) -> String {
        let len: usize = self.targets.iter().map(|t| t.body.len() + 1).sum();
        let mut s = String::with_capacity(len + 200);
        s.push_str("{\"platform\":");
        s.push_str(&serde_json::Value::from(platform).to_string());
        s.push_str(",\"handoff_id\":");
        s.push_str(&serde_json::Value::from(self.handoff_id.as_str()).to_string());
        s.push_str(",\"handed_at\":");
        s.push_str(&serde_json::Value::from(document::rfc3339(self.handed_at)).to_string());
        s.push_str(",\"targets\":[");
        for (i, t) in self.targets.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&t.body);
        }
        s.push_str("]}");
        s
    }
}

/// The worker.
pub struct Handoff {
    pub inbox: Inbox,
    pub platform_name: String,
    pub platform: Platform,
    pub batch_size: u32,
    pub interval: Duration,
    /// Woken when deliveries are stored.
    pub wake: Arc<Notify>,
    /// Woken when reports are queued.
    pub reports: Arc<Notify>,
    pub metrics: crate::metrics::Metrics,
}

impl Handoff {
    /// Runs until `cancel`; a batch in flight is finished first.
    pub async fn run(self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let now = timestamp::now_millis();
            let new_id = uuid::Uuid::now_v7().to_string();
            let open = match self.inbox.next_batch(self.batch_size, &new_id, now).await {
                Ok(Some(open)) => open,
                Ok(None) => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.interval) => {}
                        _ = cancel.cancelled() => return,
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the inbox");
                    if sleep_or_cancel(backoff.next_delay(), &cancel).await {
                        return;
                    }
                    continue;
                }
            };
            let span = tracing::info_span!(
                "handoff",
                handoff_id = %open.handoff_id,
                attempt = open.attempt,
                mode = self.platform.mode(),
                targets = open.targets.len(),
            );
            if open.attempt > 1 {
                span.in_scope(|| tracing::info!("repeating the batch in flight"));
            }
            let batch = Batch {
                handoff_id: open.handoff_id,
                handed_at: open.handed_at,
                attempted_at: now,
                targets: open.targets,
            };
            let started = std::time::Instant::now();
            let result = self.one_batch(&batch).instrument(span).await;
            self.metrics
                .handoff(result.is_ok(), started.elapsed(), batch.targets.len());
            match result {
                Ok(()) => backoff.reset(),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "handoff failed");
                    if sleep_or_cancel(delay, &cancel).await {
                        return;
                    }
                }
            }
        }
    }

    async fn one_batch(&self, batch: &Batch) -> Result<(), String> {
        let outcomes = self
            .platform
            .hand_off(&self.platform_name, batch)
            .await
            .map_err(|e| e.to_string())?;
        let kinds: HashMap<&str, Vec<Kind>> =
            batch.targets.iter().fold(HashMap::new(), |mut m, t| {
                m.entry(t.target_id.as_str()).or_default().push(t.kind);
                m
            });
        let mut reports: Vec<(pb::PlatformReport, i64)> = batch
            .targets
            .iter()
            .filter(|t| t.kind == Kind::Takedown)
            .map(|t| {
                (
                    document::acknowledgement(&t.target_id, batch.attempted_at),
                    batch.attempted_at,
                )
            })
            .collect();
        for (o, due) in outcomes {
            let fits = kinds
                .get(o.target_id.as_str())
                .is_some_and(|k| k.contains(&o.outcome.answers()));
            if !fits {
                tracing::warn!(target_id = %o.target_id, outcome = ?o.outcome, "outcome names no target of this batch; ignored");
                continue;
            }
            match o.to_report(batch.attempted_at) {
                Ok(r) => reports.push((r, due)),
                Err(e) => tracing::warn!(target_id = %o.target_id, error = %e, "outcome ignored"),
            }
        }
        let marked = self
            .inbox
            .record_handoff(
                &batch.handoff_id,
                self.platform.mode(),
                &batch.targets,
                &reports,
                batch.attempted_at,
            )
            .await
            .map_err(|e| format!("recording the handoff: {e}"))?;
        for t in &batch.targets {
            tracing::debug!(target_id = %t.target_id, kind = t.kind.as_str(), "handed to the platform");
        }
        tracing::info!(
            handed = marked.len(),
            reports = reports.len(),
            "batch handed to the platform"
        );
        self.reports.notify_one();
        Ok(())
    }
}

/// Sleeps; true when cancelled first.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = cancel.cancelled() => true,
    }
}
