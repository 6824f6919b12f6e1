//! The reporter: sends the outbox to the hub with `PlatformService/ReportOutcomes`, in
//! batches of at most `report.batch_size`, oldest due first, retrying with backoff until the
//! hub answers OK. Reports the hub refuses are isolated by halving the batch, so one bad
//! report never blocks the rest. INVALID_ARGUMENT is final: the report is parked with the
//! hub's message. PERMISSION_DENIED ("not delivered to this platform") may be the hub not
//! having recorded the delivery yet (its Deliver answer still in flight, or a retry under
//! way), so the report is put off and tried again for about an hour before it is parked.

use std::{sync::Arc, time::Duration};

use takedown_protocol::{
    pb::{self, platform_service_client::PlatformServiceClient},
    timestamp,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Channel};
use tracing::Instrument;

/// How long a report refused as "not delivered" is put off, and how often it is tried
/// before it is parked (about an hour in all).
const REFUSED_DELAY: Duration = Duration::from_secs(5);
const REFUSED_RETRIES: i64 = 720;

use crate::{
    backoff::Backoff,
    handoff::sleep_or_cancel,
    inbox::{Inbox, Outgoing},
};

const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The reporter task.
pub struct Reporter {
    pub inbox: Inbox,
    pub client: PlatformServiceClient<Channel>,
    pub batch_size: u32,
    pub interval: Duration,
    pub wake: Arc<Notify>,
    pub metrics: crate::metrics::Metrics,
}

/// How one send went.
enum Sent {
    Done,
    /// Retry later.
    Transient(String),
}

impl Reporter {
    /// Runs until `cancel`, then tries to flush what is due for at most `flush_for`.
    pub async fn run(self, cancel: CancellationToken, flush_for: Duration) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        while !cancel.is_cancelled() {
            match self.round().await {
                Ok(Some(Sent::Done)) => backoff.reset(),
                Ok(Some(Sent::Transient(e))) => {
                    let d = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "reporting to the hub failed");
                    if sleep_or_cancel(d, &cancel).await {
                        break;
                    }
                }
                Ok(None) => {
                    let wait = self.idle_wait().await;
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => break,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    if sleep_or_cancel(backoff.next_delay(), &cancel).await {
                        break;
                    }
                }
            }
        }
        let flush = async { while let Ok(Some(Sent::Done)) = self.round().await {} };
        if tokio::time::timeout(flush_for, flush).await.is_err() {
            tracing::info!("outbox flush cut short by shutdown; the rest is sent on restart");
        }
    }

    /// How long to idle: until the next report falls due, at most one interval.
    async fn idle_wait(&self) -> Duration {
        match self.inbox.next_due().await {
            Ok(Some(due)) => {
                let ms = (due - timestamp::now_millis()).clamp(1, self.interval.as_millis() as i64);
                Duration::from_millis(ms as u64)
            }
            _ => self.interval,
        }
    }

    /// Sends one batch of due reports; `None` when nothing is due.
    async fn round(&self) -> Result<Option<Sent>, crate::inbox::InboxError> {
        let due = self
            .inbox
            .due_reports(self.batch_size, timestamp::now_millis())
            .await?;
        if due.is_empty() {
            return Ok(None);
        }
        let span = tracing::info_span!("report", reports = due.len());
        Ok(Some(self.send(&due).instrument(span).await?))
    }

    async fn send(&self, rows: &[Outgoing]) -> Result<Sent, crate::inbox::InboxError> {
        let mut stack: Vec<&[Outgoing]> = vec![rows];
        let mut sent = 0usize;
        let mut parked = 0usize;
        while let Some(part) = stack.pop() {
            let seqs: Vec<i64> = part.iter().map(|r| r.seq).collect();
            match self.call(part).await {
                Ok(resp) => {
                    self.inbox.mark_sent(&seqs, timestamp::now_millis()).await?;
                    self.metrics.reports("sent", part.len());
                    sent += part.len();
                    tracing::debug!(
                        recorded = resp.recorded,
                        duplicates = resp.duplicates,
                        "reports accepted"
                    );
                }
                Err(s) if matches!(s.code(), Code::PermissionDenied | Code::InvalidArgument) => {
                    if part.len() > 1 {
                        let (a, b) = part.split_at(part.len() / 2);
                        stack.push(b);
                        stack.push(a);
                    } else if s.code() == Code::PermissionDenied
                        && part[0].attempts < REFUSED_RETRIES
                    {
                        let msg = format!("{:?}: {}", s.code(), s.message());
                        tracing::warn!(
                            report_id = %part[0].report.report_id,
                            target_id = %part[0].report.target_id,
                            error = %msg,
                            "hub refused a report; trying again later"
                        );
                        let until = timestamp::now_millis() + REFUSED_DELAY.as_millis() as i64;
                        self.inbox.defer(&seqs, until, &msg).await?;
                        self.metrics.reports("deferred", 1);
                    } else {
                        let msg = format!("{:?}: {}", s.code(), s.message());
                        tracing::error!(
                            report_id = %part[0].report.report_id,
                            target_id = %part[0].report.target_id,
                            error = %msg,
                            "hub refused a report for good; parked"
                        );
                        self.inbox.park(&seqs, &msg).await?;
                        self.metrics.reports("parked", 1);
                        parked += 1;
                    }
                }
                Err(s) => {
                    let msg = format!("{:?}: {}", s.code(), s.message());
                    self.inbox.mark_failed(&seqs, &msg).await?;
                    self.metrics.reports("failed", part.len());
                    if sent + parked > 0 {
                        tracing::info!(sent, parked, "reports partly sent");
                    }
                    return Ok(Sent::Transient(msg));
                }
            }
        }
        tracing::info!(sent, parked, "reports sent to the hub");
        Ok(Sent::Done)
    }

    async fn call(&self, part: &[Outgoing]) -> Result<pb::ReportOutcomesResponse, tonic::Status> {
        let mut client = self.client.clone();
        let mut req = tonic::Request::new(pb::ReportOutcomesRequest {
            reports: part.iter().map(|r| r.report.clone()).collect(),
        });
        req.set_timeout(CALL_TIMEOUT);
        match tokio::time::timeout(CALL_TIMEOUT, client.report_outcomes(req)).await {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded("ReportOutcomes timed out")),
        }
    }
}
