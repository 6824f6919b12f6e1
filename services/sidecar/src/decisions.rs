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
    document::{OutcomeName, PlatformOutcome, ReasonName, parse_outcomes},
    inbox::Inbox,
};

/// How long an accepted `webhook-id` is remembered: past the 5-minute timestamp window,
/// a replay fails the signature's timestamp check instead.
const REPLAY_WINDOW: Duration = Duration::from_secs(600);

#[derive(Clone)]
struct AppState {
    inbox: Inbox,
    reports: Arc<Notify>,
    verifier: Arc<standardwebhooks::Webhook>,
    /// `webhook-id`s accepted, and when.
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

/// The router; `secret` is the integration's `whsec_` secret.
pub fn router(inbox: Inbox, reports: Arc<Notify>, secret: &str) -> anyhow::Result<Router> {
    let verifier = standardwebhooks::Webhook::new(secret)
        .map_err(|e| anyhow::anyhow!("integration.secret: {e}"))?;
    Ok(Router::new()
        .route("/v1/decisions", post(post_decisions))
        .layer(DefaultBodyLimit::max(32 << 20))
        .with_state(AppState {
            inbox,
            reports,
            verifier: Arc::new(verifier),
            seen: Arc::default(),
        }))
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
    let now = timestamp::now_millis();
    let mut reports = Vec::with_capacity(outcomes.len());
    for (i, o) in outcomes.iter().enumerate() {
        match o.to_report(now) {
            Ok(r) => reports.push((r, now)),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("decision {i} (target {:?}): {e}", o.target_id),
                );
            }
        }
    }
    let ids: Vec<String> = outcomes.iter().map(|o| o.target_id.clone()).collect();
    let held = match st.inbox.kinds_of(&ids).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the inbox");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
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
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": format!("unknown targets: {}", unknown.join(", ")),
                "unknown": unknown,
            })),
        )
            .into_response();
    }
    let refused: Vec<String> = outcomes
        .iter()
        .filter(|o| {
            o.outcome == OutcomeName::Rejected && o.reason == Some(ReasonName::NotAViolation)
        })
        .map(|o| o.target_id.clone())
        .collect();
    if !refused.is_empty() {
        let orders = match st.inbox.removal_orders(&refused).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the inbox");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
            }
        };
        if let Some((i, o)) = outcomes.iter().enumerate().find(|(_, o)| {
            o.outcome == OutcomeName::Rejected
                && o.reason == Some(ReasonName::NotAViolation)
                && orders.contains(&o.target_id)
        }) {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "decision {i} (target {:?}): a removal order is executed, or answered on \
                     an Annex III ground (FORCE_MAJEURE, MANIFEST_ERROR, \
                     INSUFFICIENT_INFORMATION), not rejected as NOT_A_VIOLATION",
                    o.target_id
                ),
            );
        }
    }
    match st.inbox.enqueue_reports(&reports, now).await {
        Ok(n) => {
            st.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(webhook_id, Instant::now());
            st.reports.notify_one();
            tracing::info!(recorded = n, "decisions queued for the hub");
            let dup = reports.len() as u64 - n;
            (
                StatusCode::OK,
                Json(json!({ "recorded": n, "duplicates": dup })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot queue decisions");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
        }
    }
}
