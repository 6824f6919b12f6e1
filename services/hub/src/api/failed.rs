//! `SummaryService.ListFailedDeliveries`: the quarantine. A delivery the platform's receiver
//! refused (for one it could not decode, with its own message), or that the hub had nothing
//! to deliver for, is FAILED and not retried; coordinators find each one here, with the
//! target, the platform and the reason, page by page in the order they were queued.

use takedown_protocol::{pb, timestamp::from_millis};
use takedown_store::{FailedDelivery, FailedFilter, Store};

use super::HubState;
use crate::{
    auth::{Caller, Role},
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
    who.require(&[Role::Coordinator], "ListFailedDeliveries")?;
    let limit = match req.page_size {
        0 => DEFAULT_PAGE,
        n if n > MAX_PAGE => {
            return Err(ApiError::invalid(
                "page_size",
                format!("page_size is at most {MAX_PAGE}, not {n}"),
            ));
        }
        n => n,
    };
    let token = req.page_token.trim();
    let after_id = if token.is_empty() {
        0
    } else {
        state.ids.parse_delivery(token).ok_or_else(|| {
            ApiError::invalid(
                "page_token",
                format!("{token:?} is not a page token this hub gave"),
            )
        })?
    };
    let some = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = FailedFilter {
        action_day_id: some(req.action_day_id),
        platform: some(req.platform),
        after_id,
        // One more than the page tells whether another page follows.
        limit: limit + 1,
    };
    let mut rows = state.store.failed_deliveries(&filter).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => state.ids.delivery(last.id),
        _ => String::new(),
    };
    Ok(pb::ListFailedDeliveriesResponse {
        deliveries: rows.into_iter().map(|f| wire(f, &state.ids)).collect(),
        next_page_token,
    })
}

fn wire(f: FailedDelivery, ids: &PublicIds) -> pb::FailedDelivery {
    pb::FailedDelivery {
        delivery_id: ids.delivery(f.id),
        target_id: ids.target(f.target_id),
        platform: f.platform,
        normalized_target: f.normalized,
        kind: f.kind as i32,
        action_day_id: f.action_day_id.unwrap_or_default(),
        attempts: u32::try_from(f.attempts).unwrap_or(0),
        failed_at: Some(from_millis(f.failed_at)),
        reason: f.reason,
    }
}
