//! `takedown.v1.SummaryService`: action-day figures derived from stored facts.

use takedown_protocol::{
    pb::{self, summary_service_server::SummaryService},
    timestamp::{from_millis, now_millis},
};
use takedown_store::{PlatformCounts, Store};
use tonic::{Request, Response, Status};

use super::{Shared, action_day::visible_day, caller, convert};
use crate::{auth::Role, error::ApiError};

pub struct Summaries<S>(pub Shared<S>);

fn platform_summary(c: PlatformCounts) -> pb::PlatformSummary {
    let u = |v: i64| v.max(0) as u64;
    pb::PlatformSummary {
        block_rate: if c.delivered > 0 {
            c.blocked as f64 / c.delivered as f64
        } else {
            0.0
        },
        platform: c.platform,
        referred: u(c.referred),
        held: u(c.held),
        released: u(c.released),
        delivered: u(c.delivered),
        acknowledged: u(c.acknowledged),
        blocked: u(c.blocked),
        already_gone: u(c.already_gone),
        not_found: u(c.not_found),
        geo_blocked: u(c.geo_blocked),
        rejected: u(c.rejected),
        failed: u(c.failed),
        pending: u(c.pending),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl<S: Store> SummaryService for Summaries<S> {
    #[tracing::instrument(skip_all, fields(rpc = "GetActionDaySummary", action_day = %req.get_ref().action_day_id))]
    async fn get_action_day_summary(
        &self,
        req: Request<pb::GetActionDaySummaryRequest>,
    ) -> Result<Response<pb::ActionDaySummary>, Status> {
        let who = caller!(self.0, req);
        who.require(&[Role::Coordinator], "GetActionDaySummary")?;
        let id = req.into_inner().action_day_id;
        let store = &self.0.store;
        let day = visible_day(store, &who, &id).await?;
        let now = now_millis();
        let counts = store
            .platform_counts(&id, now)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ActionDaySummary {
            action_day_id: day.id.clone(),
            name: day.name.clone(),
            starts_at: Some(from_millis(day.starts_at)),
            state: convert::action_day_state(&day, now)
                .as_str_name()
                .to_string(),
            generated_at: Some(from_millis(now)),
            platforms: counts.into_iter().map(platform_summary).collect(),
            agencies: vec![],
            blocks_over_time: vec![],
        }))
    }

    type WatchActionDayStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::ActionDaySummary, Status>>;

    async fn watch_action_day(
        &self,
        req: Request<pb::WatchActionDayRequest>,
    ) -> Result<Response<Self::WatchActionDayStream>, Status> {
        let who = caller!(self.0, req);
        who.require(&[Role::Coordinator], "WatchActionDay")?;
        Err(Status::unimplemented("watching is not available yet"))
    }
}
