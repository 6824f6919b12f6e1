//! `ReceiverService/Deliver` (push mode; a pull-mode sidecar hands what it pulls to the same
//! [`Receiver::receive`]): only the hub may call it; every delivery is verified on its
//! own ([`crate::verify`]); the accepted ones are stored in one transaction before the
//! answer, so an `accepted` id is durable. Redelivered targets are accepted again and
//! stored once. While more than `handoff.max_backlog` deliveries wait for the platform, a
//! call is answered `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` delay: the hub sends
//! that batch again after it, sends this platform nothing meanwhile, and does not count it
//! toward its circuit breaker.

use std::{collections::HashSet, sync::Arc, time::Duration};

use takedown_protocol::{
    ident::{Identity, PlatformName},
    pb::{self, receiver_service_server::ReceiverService},
    timestamp,
};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use tonic_types::StatusExt;

use crate::{
    document::Kind,
    inbox::{Inbox, InboxError, NewDelivery},
    keys::{KeyCache, KeyError},
    metrics::Metrics,
    verify::{self, SignatureCache, Verdict},
};

/// Why a whole Deliver call failed (single items are rejected, not failed).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("caller: {0}")]
    Unauthenticated(String),
    #[error("only the hub ({expected}) may deliver; the caller is {found}")]
    NotHub { expected: String, found: String },
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error("verification task failed: {0}")]
    Task(String),
    #[error(
        "{waiting} deliveries wait for the platform's moderation (the limit is {limit}); \
         send again in {} ms",
        retry.as_millis()
    )]
    Backlog {
        waiting: u32,
        limit: u32,
        retry: Duration,
    },
}

impl From<DeliverError> for Status {
    fn from(e: DeliverError) -> Self {
        match &e {
            DeliverError::Unauthenticated(_) => Status::unauthenticated(e.to_string()),
            DeliverError::NotHub { .. } => Status::permission_denied(e.to_string()),
            DeliverError::Keys(_) => Status::unavailable(e.to_string()),
            DeliverError::Backlog { retry, .. } => Status::with_error_details(
                tonic::Code::ResourceExhausted,
                e.to_string(),
                tonic_types::ErrorDetails::with_retry_info(Some(*retry)),
            ),
            DeliverError::Inbox(_) | DeliverError::Task(_) => {
                tracing::error!(error = %e, "Deliver failed");
                Status::internal("internal error")
            }
        }
    }
}

/// The service.
pub struct Receiver {
    pub platform: PlatformName,
    pub hub: Identity,
    pub audience: String,
    pub keys: Arc<KeyCache>,
    pub signatures: Arc<SignatureCache>,
    pub inbox: Inbox,
    /// Wakes the handoff worker.
    pub wake: Arc<Notify>,
    pub metrics: Metrics,
    /// Deliveries that may wait for the platform before the hub is asked to wait (0: no
    /// limit), and for how long it is asked to.
    pub max_backlog: u32,
    pub backlog_retry: Duration,
}

impl Receiver {
    /// `Backlog` when `max_backlog` deliveries or more wait for the platform.
    pub async fn check_backlog(&self) -> Result<(), DeliverError> {
        if self.max_backlog == 0 {
            return Ok(());
        }
        let waiting = self.inbox.backlog(self.max_backlog).await?;
        if waiting < self.max_backlog {
            return Ok(());
        }
        self.metrics.backlog_refusals.inc();
        Err(DeliverError::Backlog {
            waiting,
            limit: self.max_backlog,
            retry: self.backlog_retry,
        })
    }

    /// Verifies and stores a batch from the hub, pushed or pulled: the answer the hub is
    /// owed (every `accepted` id is durable).
    pub async fn receive(
        &self,
        req: pb::DeliverRequest,
    ) -> Result<pb::DeliverResponse, DeliverError> {
        let kids = verify::kids_of(&req);
        // A batch of withdrawals alone needs no keys (and no hub round trip).
        let keys = if kids.is_empty() {
            None
        } else {
            Some(self.keys.keys_for(&kids).await?)
        };
        let platform = self.platform.clone();
        let audience = self.audience.clone();
        let cache = self.signatures.clone();
        let now = timestamp::now_millis();
        let (req, verdicts) = tokio::task::spawn_blocking(move || {
            let ctx = verify::Context {
                platform: &platform,
                audience: &audience,
                keys: keys.as_deref(),
                cache: &cache,
                now_ms: now,
            };
            let v = verify::check(&ctx, &req);
            (req, v)
        })
        .await
        .map_err(|e| DeliverError::Task(e.to_string()))?;

        // Withdrawals restore only what this sidecar holds (or takes in this very batch).
        let in_batch: HashSet<String> = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Accept(t) if t.kind == Kind::Takedown => Some(t.target_id.clone()),
                _ => None,
            })
            .collect();
        let asked: Vec<String> = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Accept(t)
                    if t.kind == Kind::Withdrawal && !in_batch.contains(&t.target_id) =>
                {
                    Some(t.target_id.clone())
                }
                _ => None,
            })
            .collect();
        let held = if asked.is_empty() {
            HashSet::new()
        } else {
            self.inbox.held_takedowns(&asked).await?
        };

        let mut resp = pb::DeliverResponse::default();
        let mut rows = Vec::with_capacity(verdicts.len());
        for v in verdicts {
            match v {
                Verdict::Accept(t)
                    if t.kind == Kind::Withdrawal
                        && !in_batch.contains(&t.target_id)
                        && !held.contains(&t.target_id) =>
                {
                    resp.rejected.push(pb::DeliveryRejection {
                        delivery_id: t.delivery_id,
                        reason: format!("withdrawal of unknown target {}", t.target_id),
                    });
                }
                Verdict::Accept(t) => {
                    let t = *t;
                    let body = serde_json::to_string(&t)
                        .map_err(|e| DeliverError::Task(format!("encoding a target: {e}")))?;
                    resp.accepted.push(t.delivery_id.clone());
                    rows.push(NewDelivery {
                        target_id: t.target_id,
                        kind: t.kind,
                        delivery_id: t.delivery_id,
                        normalized_target: t.normalized_target,
                        body,
                    });
                }
                Verdict::Reject {
                    delivery_id,
                    reason,
                } => {
                    tracing::warn!(delivery_id = %delivery_id, %reason, "delivery rejected");
                    resp.rejected.push(pb::DeliveryRejection {
                        delivery_id,
                        reason,
                    });
                }
            }
        }
        let new = self.inbox.store(&req.batch_id, &rows, now).await?;
        if new > 0 {
            self.wake.notify_one();
        }
        for kind in [Kind::Takedown, Kind::Withdrawal] {
            let n = rows.iter().filter(|r| r.kind == kind).count();
            self.metrics.delivery(kind.as_str(), "accepted", n);
        }
        self.metrics.delivery("", "rejected", resp.rejected.len());
        self.metrics.stored.inc_by(new as u64);
        tracing::info!(
            accepted = resp.accepted.len(),
            new,
            rejected = resp.rejected.len(),
            "batch stored"
        );
        Ok(resp)
    }
}

#[tonic::async_trait]
impl ReceiverService for Receiver {
    #[tracing::instrument(skip_all, fields(batch_id, deliveries))]
    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        let caller = takedown_net::peer_identity(&request)
            .map_err(|e| DeliverError::Unauthenticated(e.to_string()))?;
        if caller != self.hub {
            tracing::warn!(caller = %caller, "Deliver refused: caller is not the hub");
            return Err(DeliverError::NotHub {
                expected: self.hub.to_uri(),
                found: caller.to_uri(),
            }
            .into());
        }
        let req = request.into_inner();
        let span = tracing::Span::current();
        span.record("batch_id", req.batch_id.as_str());
        span.record("deliveries", req.deliveries.len());
        if let Err(e) = self.check_backlog().await {
            tracing::warn!(error = %e, "Deliver deferred: the platform's moderation is behind");
            return Err(e.into());
        }
        let started = std::time::Instant::now();
        let answer = self.receive(req).await;
        self.metrics
            .deliver_call
            .observe(started.elapsed().as_secs_f64());
        Ok(Response::new(answer?))
    }
}
