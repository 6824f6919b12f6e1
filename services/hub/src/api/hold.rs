//! `takedown.v1.HoldService`: deconfliction holds. A held target is never delivered; the
//! holder is shown only to coordinators and to the holder itself.

use takedown_protocol::{
    ident::{HoldId, PlatformName},
    pb::{self, hold_service_server::HoldService},
    target,
    timestamp::{now_millis, to_millis},
};
use takedown_store::{Store, model};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{auth::Caller, error::ApiError};

pub struct Holds<S>(pub Shared<S>);

/// Longest a hold may last before it must be placed again.
const MAX_HOLD_MS: i64 = 366 * 24 * 3600 * 1000;

fn sees_holder(who: &Caller, h: &model::Hold) -> bool {
    who.is_coordinator() || h.placed_by == who.id
}

#[tonic::async_trait]
impl<S: Store> HoldService for Holds<S> {
    #[tracing::instrument(skip_all, fields(rpc = "PlaceHold"))]
    async fn place_hold(
        &self,
        req: Request<pb::PlaceHoldRequest>,
    ) -> Result<Response<pb::Hold>, Status> {
        let who = caller!(self.0, req);
        who.authorize("PlaceHold")?;
        let r = req.into_inner();
        let store = &self.0.store;
        let platform = PlatformName::parse(&r.platform)
            .map_err(|e| ApiError::invalid("platform", e.to_string()))?;
        if store
            .get_platform(&platform)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            return Err(
                ApiError::invalid("platform", format!("unknown platform {platform:?}")).into(),
            );
        }
        let normalized = target::normalize(platform.as_str(), &r.target)
            .map_err(|e| ApiError::invalid("target", e.to_string()))?;
        if r.reason.trim().is_empty() {
            return Err(ApiError::invalid("reason", "a hold needs a reason").into());
        }
        let now = now_millis();
        let expires_at = r
            .expires_at
            .as_ref()
            .map(to_millis)
            .ok_or_else(|| ApiError::invalid("expires_at", "expires_at is required"))?;
        if expires_at <= now || expires_at > now + MAX_HOLD_MS {
            return Err(ApiError::invalid(
                "expires_at",
                "expires_at must be in the future and within a year",
            )
            .into());
        }
        let hold = model::Hold {
            id: ApiError::parse_id("id", &uuid::Uuid::now_v7().to_string())?,
            platform,
            target: r.target.trim().to_string(),
            normalized: normalized.into_string(),
            reason: r.reason.trim().to_string(),
            expires_at,
            created_at: now,
            placed_by: who.id.clone(),
            released_at: None,
        };
        let hold = store.insert_hold(&hold).await.map_err(ApiError::from)?;
        tracing::info!(hold = %hold.id, platform = %hold.platform, "hold placed");
        Ok(Response::new(convert::hold(hold, true)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ReleaseHold"))]
    async fn release_hold(
        &self,
        req: Request<pb::ReleaseHoldRequest>,
    ) -> Result<Response<pb::Hold>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ReleaseHold")?;
        let id: HoldId = ApiError::parse_id("hold_id", &req.into_inner().hold_id)?;
        let store = &self.0.store;
        let not_found = || ApiError::NotFound(format!("hold {id:?} not found"));
        let hold = store
            .get_hold(&id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        if !sees_holder(&who, &hold) {
            return Err(not_found().into());
        }
        let hold = store
            .release_hold(&id, now_millis(), &who.id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        self.0.wake.platform(&hold.platform);
        tracing::info!(hold = %hold.id, "hold released");
        Ok(Response::new(convert::hold(hold, true)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListHolds"))]
    async fn list_holds(
        &self,
        req: Request<pb::ListHoldsRequest>,
    ) -> Result<Response<pb::ListHoldsResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ListHolds")?;
        let filter = (!who.is_coordinator()).then_some(&who.id);
        let holds = self
            .0
            .store
            .list_holds(filter)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListHoldsResponse {
            holds: holds
                .into_iter()
                .map(|h| {
                    let sees = sees_holder(&who, &h);
                    convert::hold(h, sees)
                })
                .collect(),
        }))
    }
}
