//! The quarantine, for coordinators, page by page in the order things happened:
//!
//! - `ListFailedDeliveries`: a delivery the platform's receiver refused (for one it could
//!   not decode, with its own message), or that the hub had nothing to deliver for, is FAILED
//!   and not retried; each one with the target, the platform and the reason.
//! - `ListRefusedReports`: a report the hub refused for good (INVALID_ARGUMENT), which the
//!   platform's sidecar parks and does not send again; each with the report and target ids
//!   as the platform sent them and the hub's answer.

use takedown_protocol::{pb, timestamp::from_millis};
use takedown_store::{FailedDelivery, FailedFilter, PlatformName, RefusedReport, Store};

use super::HubState;
use crate::{
    auth::Caller,
    error::{ApiError, ApiResult},
    public_id::PublicIds,
};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1_000;

pub async fn list<S: Store>(
    state: &HubState<S>,
    who: &Caller,
    req: pb::ListFailedDeliveriesRequest,
) -> ApiResult<pb::ListFailedDeliveriesResponse> {
    who.authorize("ListFailedDeliveries")?;
    let limit = page_size(req.page_size)?;
    let after_id = after(&req.page_token, |t| {
        state.ids.parse_delivery(t).map(i64::from)
    })?;
    let filter = FailedFilter {
        action_day_id: optional_id("action_day_id", &req.action_day_id)?,
        platform: optional_id("platform", &req.platform)?,
        after_id,
        // One more than the page tells whether another page follows.
        limit: limit + 1,
    };
    let rows = state.store.failed_deliveries(&filter).await?;
    let (rows, next_page_token) = page(rows, limit, |f| state.ids.delivery(f.id));
    Ok(pb::ListFailedDeliveriesResponse {
        deliveries: rows.into_iter().map(|f| wire(f, &state.ids)).collect(),
        next_page_token,
    })
}

pub async fn refused_reports<S: Store>(
    state: &HubState<S>,
    who: &Caller,
    req: pb::ListRefusedReportsRequest,
) -> ApiResult<pb::ListRefusedReportsResponse> {
    who.authorize("ListRefusedReports")?;
    let limit = page_size(req.page_size)?;
    let after_id = after(&req.page_token, |t| state.ids.parse_refusal(t))?;
    let platform: Option<PlatformName> = optional_id("platform", &req.platform)?;
    let rows = state
        .store
        .refused_reports(platform.as_ref(), after_id, limit + 1)
        .await?;
    let (rows, next_page_token) = page(rows, limit, |r| state.ids.refusal(r.id));
    Ok(pb::ListRefusedReportsResponse {
        reports: rows.into_iter().map(refused_wire).collect(),
        next_page_token,
    })
}

/// One page of `rows` (read with one row more than `limit`, which tells whether another
/// page follows) and the token of the next page (`token` of its last row), empty on the
/// last page.
fn page<T>(mut rows: Vec<T>, limit: u32, token: impl Fn(&T) -> String) -> (Vec<T>, String) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => token(last),
        _ => String::new(),
    };
    (rows, next)
}

/// The page size asked for: [`DEFAULT_PAGE`] for 0, refused above [`MAX_PAGE`].
fn page_size(n: u32) -> ApiResult<u32> {
    match n {
        0 => Ok(DEFAULT_PAGE),
        n if n > MAX_PAGE => Err(ApiError::invalid(
            "page_size",
            format!("page_size is at most {MAX_PAGE}, not {n}"),
        )),
        n => Ok(n),
    }
}

/// The row after which a page starts: 0 without a token.
fn after(token: &str, parse: impl Fn(&str) -> Option<i64>) -> ApiResult<i64> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(0);
    }
    parse(token).ok_or_else(|| {
        ApiError::invalid(
            "page_token",
            format!("{token:?} is not a page token this hub gave"),
        )
    })
}

/// A filter's id: `None` when the field is blank, INVALID_ARGUMENT naming it when it is not
/// an id.
fn optional_id<T>(field: &str, value: &str) -> ApiResult<Option<T>>
where
    T: std::str::FromStr<Err = takedown_protocol::ident::IdentError>,
{
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    ApiError::parse_id(field, value).map(Some)
}

fn refused_wire(r: RefusedReport) -> pb::RefusedReport {
    pb::RefusedReport {
        platform: r.platform.into(),
        report_id: r.report_id,
        target_id: r.target_id,
        reason: r.reason,
        first_refused_at: Some(from_millis(r.first_at)),
        last_refused_at: Some(from_millis(r.last_at)),
        times: u64::try_from(r.times).unwrap_or(0),
    }
}

fn wire(f: FailedDelivery, ids: &PublicIds) -> pb::FailedDelivery {
    pb::FailedDelivery {
        delivery_id: ids.delivery(f.id),
        target_id: ids.target(f.target_id),
        platform: f.platform.into(),
        normalized_target: f.normalized,
        kind: f.kind as i32,
        action_day_id: f.action_day_id.map(String::from).unwrap_or_default(),
        attempts: u32::try_from(f.attempts).unwrap_or(0),
        failed_at: Some(from_millis(f.failed_at)),
        reason: f.reason,
    }
}
