//! The local HTTP endpoint where the platform reports its decisions:
//! `POST /v1/decisions` with a JSON array of outcomes (see [`crate::document`]).
//!
//! All or nothing: a malformed outcome is refused with 400, outcomes naming a target this
//! sidecar does not hold (for that kind: RESTORED / NOT_RESTORED answer withdrawals, the
//! others takedowns) with 404 naming them, NOT_A_VIOLATION on a removal order with 400
//! (a binding order is executed or answered on an Annex III ground); otherwise every
//! report is queued durably before the 200 answer `{"recorded": n, "duplicates": m}`.
//!
//! Every post must be signed as Standard Webhooks specify, with the integration's shared
//! secret (`webhook-id`, `webhook-timestamp` within 5 minutes of now, `webhook-signature`);
//! anything else is refused with 401 before the body is read. A post whose `webhook-id`
//! was already accepted in the last 10 minutes is a replay: answered 200 with
//! `"replayed": true` and nothing recorded. It listens on loopback unless configured.
//!
//! In coop mode the same endpoint takes ROOST Coop's action callbacks instead, at
//! `POST /v1/coop/actions` (see [`crate::coop`]): each must carry a `Coop-Signature` that
//! verifies under `integration.signing_key` (else 401), name an item this sidecar filed
//! (else 404) and an action `integration.actions` maps (else 400); the outcome it becomes
//! is then checked and queued as a decisions post is. Coop retries a callback on a 5xx
//! answer, and a retry of one callback counts once (its report id is derived from the body).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use takedown_protocol::timestamp;
use tokio::sync::Notify;

use crate::{
    coop,
    document::{OutcomeName, PlatformOutcome, ReasonName, parse_outcomes},
    inbox::Inbox,
};

/// How long an accepted `webhook-id` is remembered: past the 5-minute timestamp window,
/// a replay fails the signature's timestamp check instead.
const REPLAY_WINDOW: Duration = Duration::from_secs(600);

/// Who may post decisions, and how they are authenticated.
pub enum Receiver {
    /// The platform's own service, with the integration's `whsec_` secret.
    Webhook { secret: String },
    /// ROOST Coop's action callbacks.
    Coop {
        key: coop::SignatureKey,
        mapping: coop::Mapping,
    },
}

/// Where verified outcomes go.
#[derive(Clone)]
struct Queue {
    inbox: Inbox,
    reports: Arc<Notify>,
}

#[derive(Clone)]
struct AppState {
    queue: Queue,
    verifier: Arc<standardwebhooks::Webhook>,
    /// `webhook-id`s accepted, and when.
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

#[derive(Clone)]
struct CoopState {
    queue: Queue,
    key: Arc<coop::SignatureKey>,
    mapping: Arc<coop::Mapping>,
}

/// The router for `receiver`.
pub fn router(inbox: Inbox, reports: Arc<Notify>, receiver: Receiver) -> anyhow::Result<Router> {
    let queue = Queue { inbox, reports };
    let router = match receiver {
        Receiver::Webhook { secret } => {
            let verifier = standardwebhooks::Webhook::new(&secret)
                .map_err(|e| anyhow::anyhow!("integration.secret: {e}"))?;
            Router::new()
                .route("/v1/decisions", post(post_decisions))
                .with_state(AppState {
                    queue,
                    verifier: Arc::new(verifier),
                    seen: Arc::default(),
                })
        }
        Receiver::Coop { key, mapping } => Router::new()
            .route(coop::CALLBACK_PATH, post(post_coop_action))
            .with_state(CoopState {
                queue,
                key: Arc::new(key),
                mapping: Arc::new(mapping),
            }),
    };
    Ok(router.layer(DefaultBodyLimit::max(32 << 20)))
}

fn error(status: StatusCode, msg: String) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

#[tracing::instrument(skip_all, fields(decisions, webhook_id))]
async fn post_decisions(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = st.verifier.verify(&body, &headers) {
        tracing::warn!(error = %e, "decisions post refused: not signed with the integration secret");
        return error(
            StatusCode::UNAUTHORIZED,
            format!("not a valid Standard Webhooks signature: {e}"),
        );
    }
    let webhook_id = headers
        .get(standardwebhooks::HEADER_WEBHOOK_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    tracing::Span::current().record("webhook_id", webhook_id.as_str());
    {
        let mut seen = st.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| at.elapsed() < REPLAY_WINDOW);
        if seen.contains_key(&webhook_id) {
            return (
                StatusCode::OK,
                Json(json!({ "recorded": 0, "duplicates": 0, "replayed": true })),
            )
                .into_response();
        }
    }
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(_) => return error(StatusCode::BAD_REQUEST, "body is not UTF-8".into()),
    };
    let outcomes: Vec<PlatformOutcome> = match parse_outcomes(text) {
        Ok(o) => o,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    tracing::Span::current().record("decisions", outcomes.len());
    match st.queue.record(&outcomes).await {
        Ok((n, dup)) => {
            st.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(webhook_id, Instant::now());
            (
                StatusCode::OK,
                Json(json!({ "recorded": n, "duplicates": dup })),
            )
                .into_response()
        }
        Err(refusal) => refusal,
    }
}

#[tracing::instrument(skip_all, fields(target_id, outcome))]
async fn post_coop_action(
    State(st): State<CoopState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get(coop::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let verified = if signature.is_empty() {
        Err(format!("no {} header", coop::SIGNATURE_HEADER))
    } else {
        st.key.verify(&body, signature)
    };
    if let Err(e) = verified {
        tracing::warn!(error = %e, "Coop callback refused: not signed by Coop");
        return error(StatusCode::UNAUTHORIZED, e);
    }
    let outcome = match st.mapping.outcome(&body) {
        Ok(o) => o,
        Err(coop::CallbackError::Malformed(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(coop::CallbackError::Unmapped(e)) => {
            tracing::warn!(error = %e, "Coop callback refused");
            return error(StatusCode::BAD_REQUEST, e);
        }
        Err(coop::CallbackError::UnknownItem(item)) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({
                    "error": format!("item {item:?} is not a target this sidecar filed"),
                    "unknown": [item],
                })),
            )
                .into_response();
        }
    };
    let span = tracing::Span::current();
    span.record("target_id", outcome.target_id.as_str());
    span.record("outcome", tracing::field::debug(outcome.outcome));
    match st.queue.record(std::slice::from_ref(&outcome)).await {
        Ok((n, dup)) => (
            StatusCode::OK,
            Json(json!({ "recorded": n, "duplicates": dup })),
        )
            .into_response(),
        Err(refusal) => refusal,
    }
}

impl Queue {
    /// Checks `outcomes` against the inbox (all or nothing) and queues their reports for
    /// the hub: `(recorded, duplicates)`, or the refusal to answer.
    async fn record(&self, outcomes: &[PlatformOutcome]) -> Result<(u64, u64), Response> {
        let now = timestamp::now_millis();
        let mut reports = Vec::with_capacity(outcomes.len());
        for (i, o) in outcomes.iter().enumerate() {
            match o.to_report(now) {
                Ok(r) => reports.push((r, now)),
                Err(e) => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        format!("decision {i} (target {:?}): {e}", o.target_id),
                    ));
                }
            }
        }
        let ids: Vec<String> = outcomes.iter().map(|o| o.target_id.clone()).collect();
        let held = match self.inbox.kinds_of(&ids).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the inbox");
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".into(),
                ));
            }
        };
        let mut unknown: Vec<String> = outcomes
            .iter()
            .filter(|o| {
                !held
                    .get(&o.target_id)
                    .is_some_and(|k| k.contains(&o.outcome.answers()))
            })
            .map(|o| o.target_id.clone())
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            unknown.dedup();
            return Err((
                StatusCode::NOT_FOUND,
                Json(json!({
                    "error": format!("unknown targets: {}", unknown.join(", ")),
                    "unknown": unknown,
                })),
            )
                .into_response());
        }
        let refused: Vec<String> = outcomes
            .iter()
            .filter(|o| {
                o.outcome == OutcomeName::Rejected && o.reason == Some(ReasonName::NotAViolation)
            })
            .map(|o| o.target_id.clone())
            .collect();
        if !refused.is_empty() {
            let orders = match self.inbox.removal_orders(&refused).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the inbox");
                    return Err(error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error".into(),
                    ));
                }
            };
            if let Some((i, o)) = outcomes.iter().enumerate().find(|(_, o)| {
                o.outcome == OutcomeName::Rejected
                    && o.reason == Some(ReasonName::NotAViolation)
                    && orders.contains(&o.target_id)
            }) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "decision {i} (target {:?}): a removal order is executed, or answered on \
                     an Annex III ground (FORCE_MAJEURE, MANIFEST_ERROR, \
                     INSUFFICIENT_INFORMATION), not rejected as NOT_A_VIOLATION",
                        o.target_id
                    ),
                ));
            }
        }
        match self.inbox.enqueue_reports(&reports, now).await {
            Ok(n) => {
                self.reports.notify_one();
                tracing::info!(recorded = n, "decisions queued for the hub");
                Ok((n, reports.len() as u64 - n))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot queue decisions");
                Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".into(),
                ))
            }
        }
    }
}
