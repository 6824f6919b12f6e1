//! `takedown.v1.ActionDayService`: coordinators plan, move and close action days; agencies
//! and platforms read the days they take part in.

use std::collections::BTreeSet;

use takedown_protocol::{
    ident::{ActionDayId, OrgId, PlatformName},
    pb::{self, action_day_service_server::ActionDayService},
    timestamp::{now_millis, to_millis},
};
use takedown_store::{Store, model};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{
    auth::{Caller, Role},
    error::{ApiError, ApiResult},
};

pub struct ActionDays<S>(pub Shared<S>);

/// Whether `who` may see `day`: coordinators all, others the days they take part in.
pub fn may_see(who: &Caller, day: &model::ActionDay) -> bool {
    match who.role {
        Role::Coordinator => true,
        Role::Agency => day.agencies.contains(&who.id),
        Role::Platform => day.platforms.iter().any(|p| p.as_str() == who.id.as_str()),
    }
}

/// The day, if it exists and `who` may see it (NOT_FOUND otherwise, so that existence is
/// not disclosed).
pub async fn visible_day<S: Store>(
    store: &S,
    who: &Caller,
    id: &ActionDayId,
) -> ApiResult<model::ActionDay> {
    match store.get_action_day(id).await? {
        Some(d) if may_see(who, &d) => Ok(d),
        _ => Err(ApiError::NotFound(format!("action day {id:?} not found"))),
    }
}

#[tonic::async_trait]
impl<S: Store> ActionDayService for ActionDays<S> {
    #[tracing::instrument(skip_all, fields(rpc = "CreateActionDay", action_day))]
    async fn create_action_day(
        &self,
        req: Request<pb::CreateActionDayRequest>,
    ) -> Result<Response<pb::ActionDay>, Status> {
        let who = caller!(self.0, req);
        who.authorize("CreateActionDay")?;
        let r = req.into_inner();
        let store = &self.0.store;
        let id: ActionDayId = if r.id.is_empty() {
            ApiError::parse_id("id", &uuid::Uuid::now_v7().to_string())?
        } else {
            ApiError::parse_id("id", &r.id)?
        };
        tracing::Span::current().record("action_day", id.as_str());
        if r.name.trim().is_empty() {
            return Err(ApiError::invalid("name", "name must not be empty").into());
        }
        let starts_at = r
            .starts_at
            .as_ref()
            .map(to_millis)
            .ok_or_else(|| ApiError::invalid("starts_at", "starts_at (H-hour) is required"))?;
        let ends_at = r
            .ends_at
            .as_ref()
            .map(to_millis)
            .ok_or_else(|| ApiError::invalid("ends_at", "ends_at is required"))?;
        if ends_at <= starts_at {
            return Err(ApiError::invalid("ends_at", "ends_at must be after starts_at").into());
        }
        let directory = store.list_platforms().await.map_err(ApiError::from)?;
        let registered: BTreeSet<&str> = directory.iter().map(|p| p.name.as_str()).collect();
        let mut platforms = BTreeSet::new();
        for (i, p) in r.platforms.iter().enumerate() {
            let name = PlatformName::parse(p)
                .map_err(|e| ApiError::invalid(format!("platforms[{i}]"), e.to_string()))?;
            if !registered.contains(name.as_str()) {
                return Err(ApiError::invalid(
                    format!("platforms[{i}]"),
                    format!("unknown platform {name:?}"),
                )
                .into());
            }
            platforms.insert(name);
        }
        if platforms.is_empty() {
            return Err(ApiError::invalid("platforms", "name at least one platform").into());
        }
        let mut agencies = BTreeSet::new();
        for (i, a) in r.agencies.iter().enumerate() {
            let field = format!("agencies[{i}]");
            let a: OrgId = ApiError::parse_id(&field, a)?;
            match store.get_organization(&a).await.map_err(ApiError::from)? {
                Some(o) if o.role == Role::Agency => {
                    agencies.insert(o.id);
                }
                _ => {
                    return Err(ApiError::invalid(
                        field,
                        format!("{a:?} is not a registered agency"),
                    )
                    .into());
                }
            }
        }
        if agencies.is_empty() {
            return Err(ApiError::invalid("agencies", "name at least one agency").into());
        }
        let now = now_millis();
        let day = model::ActionDay {
            id,
            name: r.name.trim().to_string(),
            starts_at,
            ends_at,
            platforms: platforms.into_iter().collect(),
            agencies: agencies.into_iter().collect(),
            created_at: now,
            released_at: None,
            closed_at: None,
        };
        let day = store
            .insert_action_day(&day, &who.id)
            .await
            .map_err(ApiError::from)?;
        self.0.wake.schedule_changed();
        let warnings = convert::staffing_warnings(&day, &directory);
        for w in &warnings {
            tracing::warn!(platform = %w.platform, local_time = %w.local_time, "H-hour outside the platform's staffed hours");
        }
        tracing::info!(starts_at, "action day created");
        Ok(Response::new(pb::ActionDay {
            staffing_warnings: warnings,
            ..convert::action_day(day, now)
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetActionDay"))]
    async fn get_action_day(
        &self,
        req: Request<pb::GetActionDayRequest>,
    ) -> Result<Response<pb::ActionDay>, Status> {
        let who = caller!(self.0, req);
        who.authorize("GetActionDay")?;
        let id: ActionDayId = ApiError::parse_id("id", &req.get_ref().id)?;
        let day = visible_day(&self.0.store, &who, &id).await?;
        // Other platforms' staffing is the coordinator's to know.
        let warnings = match who.role {
            Role::Coordinator => {
                let directory = self
                    .0
                    .store
                    .list_platforms()
                    .await
                    .map_err(ApiError::from)?;
                convert::staffing_warnings(&day, &directory)
            }
            _ => Vec::new(),
        };
        Ok(Response::new(pb::ActionDay {
            staffing_warnings: warnings,
            ..convert::action_day(day, now_millis())
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListActionDays"))]
    async fn list_action_days(
        &self,
        req: Request<pb::ListActionDaysRequest>,
    ) -> Result<Response<pb::ListActionDaysResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ListActionDays")?;
        let now = now_millis();
        let days = self
            .0
            .store
            .list_action_days()
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListActionDaysResponse {
            action_days: days
                .into_iter()
                .filter(|d| may_see(&who, d))
                .map(|d| convert::action_day(d, now))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "MoveActionDay", action_day))]
    async fn move_action_day(
        &self,
        req: Request<pb::MoveActionDayRequest>,
    ) -> Result<Response<pb::ActionDay>, Status> {
        let who = caller!(self.0, req);
        who.authorize("MoveActionDay")?;
        let r = req.into_inner();
        tracing::Span::current().record("action_day", r.id.as_str());
        let id: ActionDayId = ApiError::parse_id("id", &r.id)?;
        let now = now_millis();
        let starts_at = r.starts_at.as_ref().map(to_millis).ok_or_else(|| {
            ApiError::invalid("starts_at", "starts_at (the new H-hour) is required")
        })?;
        if starts_at <= now {
            return Err(ApiError::invalid(
                "starts_at",
                format!(
                    "the new H-hour {} is not in the future",
                    takedown_protocol::timestamp::utc(starts_at / 1000)
                ),
            )
            .into());
        }
        let ends_at = r.ends_at.as_ref().map(to_millis);
        let moved = self
            .0
            .store
            .move_action_day(&id, starts_at, ends_at, now, &who.id)
            .await
            .map_err(ApiError::from)?;
        let day = match moved {
            model::DayMove::Moved(day) => day,
            model::DayMove::NotFound => {
                return Err(ApiError::NotFound(format!("action day {:?} not found", r.id)).into());
            }
            model::DayMove::Closed => {
                return Err(ApiError::FailedPrecondition(format!(
                    "action day {:?} is closed",
                    r.id
                ))
                .into());
            }
            model::DayMove::Released { starts_at: h } => {
                return Err(ApiError::FailedPrecondition(format!(
                    "action day {:?} cannot be moved: its H-hour {} has passed and its share \
                     is released",
                    r.id,
                    takedown_protocol::timestamp::utc(h / 1000)
                ))
                .into());
            }
        };
        // The release scheduler sleeps until the next H-hour: tell it the schedule changed.
        self.0.wake.schedule_changed();
        let directory = self
            .0
            .store
            .list_platforms()
            .await
            .map_err(ApiError::from)?;
        let warnings = convert::staffing_warnings(&day, &directory);
        for w in &warnings {
            tracing::warn!(platform = %w.platform, local_time = %w.local_time, "new H-hour outside the platform's staffed hours");
        }
        tracing::info!(
            starts_at = day.starts_at,
            ends_at = day.ends_at,
            "action day moved"
        );
        Ok(Response::new(pb::ActionDay {
            staffing_warnings: warnings,
            ..convert::action_day(day, now)
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "CloseActionDay"))]
    async fn close_action_day(
        &self,
        req: Request<pb::CloseActionDayRequest>,
    ) -> Result<Response<pb::ActionDay>, Status> {
        let who = caller!(self.0, req);
        who.authorize("CloseActionDay")?;
        let id: ActionDayId = ApiError::parse_id("id", &req.into_inner().id)?;
        let now = now_millis();
        let day = self
            .0
            .store
            .close_action_day(&id, now, &who.id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("action day {id:?} not found")))?;
        tracing::info!(action_day = %id, "action day closed");
        // The day's record ends here: sign the chain's head now, not within the minute.
        if let Err(e) = self.0.audit_heads.sign_now(&self.0.store).await {
            tracing::warn!(error = %e, "signing the audit head at the day's close failed");
        }
        Ok(Response::new(convert::action_day(day, now)))
    }
}
