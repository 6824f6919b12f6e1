//! Pull mode: for a platform that accepts no inbound connection. The sidecar connects out
//! to the hub (mutual TLS, the hub's identity checked as for every call) and fetches its
//! share with `PlatformService/PullDeliveries`, one batch at a time, in order.
//!
//! Each batch goes through the same [`Receiver::receive`] as a pushed one: every delivery
//! verified end to end, the accepted ones stored in the inbox in one transaction. Only then
//! is the batch answered, on the next pull (the cursor): an answer that is lost, or a
//! sidecar killed before it answers, means the hub serves the batch again once its lease
//! runs out, and the inbox stores each delivery once, so the platform sees each target once.
//! At shutdown the last answer is handed in without asking for more.

use std::{sync::Arc, time::Duration};

use takedown_protocol::pb::{self, platform_service_client::PlatformServiceClient};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tracing::Instrument;

use crate::{
    backoff::Backoff,
    server::{DeliverError, Receiver},
};

/// How long past its `wait_ms` a pull may take before it is given up.
const SLACK: Duration = Duration::from_secs(30);

pub struct Puller {
    pub client: PlatformServiceClient<Channel>,
    pub receiver: Arc<Receiver>,
    pub batch_size: u32,
    pub wait_ms: u32,
}

impl Puller {
    /// Pulls until `cancel`, then hands in the last answer.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut ack: Option<pb::PullAck> = None;
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        tracing::info!(
            batch_size = self.batch_size,
            wait_ms = self.wait_ms,
            "pulling deliveries from the hub"
        );
        loop {
            // The platform's moderation is behind: hand in the answer, take nothing more.
            let full = match self.receiver.check_backlog().await {
                Err(DeliverError::Backlog { retry, .. }) => Some(retry),
                _ => None,
            };
            let max_targets = if full.is_some() { 0 } else { self.batch_size };
            if let Some(retry) = full {
                tracing::warn!(
                    retry_in_ms = retry.as_millis() as u64,
                    "not pulling: the platform's moderation is behind"
                );
                if ack.is_none() {
                    if crate::handoff::sleep_or_cancel(retry, &cancel).await {
                        break;
                    }
                    continue;
                }
            }
            let mut req = tonic::Request::new(pb::PullDeliveriesRequest {
                ack: ack.clone(),
                max_targets,
                wait_ms: if full.is_some() { 0 } else { self.wait_ms },
            });
            req.set_timeout(Duration::from_millis(u64::from(self.wait_ms)) + SLACK);
            let answer = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.client.pull_deliveries(req) => r,
            };
            let batch = match answer {
                Ok(r) => {
                    backoff.reset();
                    // The hub has the answer: the cursor moved.
                    ack = None;
                    r.into_inner().batch
                }
                Err(status) => {
                    let delay = backoff.next_delay();
                    if status.code() == tonic::Code::FailedPrecondition {
                        tracing::error!(error = %status.message(), retry_in_ms = delay.as_millis() as u64, "the hub does not serve this platform by pull");
                    } else {
                        tracing::warn!(code = ?status.code(), error = %status.message(), retry_in_ms = delay.as_millis() as u64, "pull failed");
                    }
                    if crate::handoff::sleep_or_cancel(delay, &cancel).await {
                        break;
                    }
                    continue;
                }
            };
            let Some(batch) = batch.filter(|b| !b.deliveries.is_empty()) else {
                continue;
            };
            let batch_id = batch.batch_id.clone();
            let span = tracing::info_span!("pulled_batch", batch_id = %batch_id, deliveries = batch.deliveries.len());
            match self.receiver.receive(batch).instrument(span).await {
                Ok(answer) => {
                    ack = Some(pb::PullAck {
                        batch_id,
                        accepted: answer.accepted,
                        rejected: answer.rejected,
                    })
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%batch_id, error = %e, retry_in_ms = delay.as_millis() as u64, "pulled batch not stored; the hub serves it again when its lease runs out");
                    if crate::handoff::sleep_or_cancel(delay, &cancel).await {
                        break;
                    }
                }
            }
        }
        if let Some(ack) = ack {
            let mut req = tonic::Request::new(pb::PullDeliveriesRequest {
                ack: Some(ack),
                max_targets: 0,
                wait_ms: 0,
            });
            req.set_timeout(Duration::from_secs(2));
            match self.client.pull_deliveries(req).await {
                Ok(_) => tracing::info!("last pulled batch answered"),
                Err(e) => {
                    tracing::warn!(error = %e.message(), "last pulled batch not answered; the hub serves it again")
                }
            }
        }
        tracing::info!("pulling stopped");
    }
}
