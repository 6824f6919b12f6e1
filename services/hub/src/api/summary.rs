//! `takedown.v1.SummaryService`: action-day figures derived from stored facts
//! ([`Store::action_day_summary`]): from rollups that database triggers keep in the same
//! transaction as every change to the facts (so they cannot drift, and
//! [`Store::rebuild_summary`] recomputes them from the facts alone), never from counters
//! the hub keeps on the side.
//!
//! Need to know: coordinators see every target, every agency's row and the delivery health
//! of each platform; an agency sees only the targets it referred and its own row; a
//! platform sees only its own share and no agency rows. Every caller sees a row for each
//! platform of the day it may see, zero when nothing is there yet.
//!
//! `WatchActionDay` polls the summary every [`WATCH_INTERVAL`] and sends it when a figure
//! changed (so at most two updates a second, however fast the counts move), until the day
//! is closed (after a last snapshot) or the caller goes away.

use std::time::Duration;

use takedown_protocol::{
    pb::{self, summary_service_server::SummaryService},
    staffing::Staffing,
    timestamp::{from_millis, now_millis},
};
use takedown_store::{
    ActionDayId, AgencyFacts, BlockSeriesFacts, LatencyPercentiles, OrgId, PlatformFacts,
    PlatformName, Store, SummaryFacts, SummaryView, model,
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use super::{HubState, Shared, action_day::visible_day, caller, convert};
use crate::{
    auth::{Caller, Role},
    delivery::PlatformHealth,
    error::{ApiError, ApiResult},
};

/// How often a watch re-reads the figures.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(500);

pub struct Summaries<S>(pub Shared<S>);

/// The part of the day `who` may see.
pub fn view_of(who: &Caller) -> ApiResult<SummaryView> {
    Ok(match who.role {
        Role::Coordinator => SummaryView::All,
        Role::Agency => SummaryView::Agency(who.id.clone()),
        Role::Platform => SummaryView::Platform(who.platform()?),
    })
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn ratio(n: i64, d: i64) -> f64 {
    if d > 0 { n as f64 / d as f64 } else { 0.0 }
}

fn percentiles(p: LatencyPercentiles) -> pb::Percentiles {
    pb::Percentiles {
        count: u(p.count),
        p50_ms: u(p.p50),
        p90_ms: u(p.p90),
        p99_ms: u(p.p99),
    }
}

fn platform_summary(f: PlatformFacts, health: Option<&PlatformHealth>) -> pb::PlatformSummary {
    let c = f.counts;
    let (circuit_open, last_error) = health.map(|h| h.get(&c.platform)).unwrap_or((false, None));
    pb::PlatformSummary {
        block_rate: ratio(c.blocked, c.delivered),
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
        rejected_by_reason: f
            .rejected_by_reason
            .into_iter()
            .map(|(reason, count)| pb::RejectCount {
                reason: crate::transparency::reject_reason_name(reason),
                count: u(count),
            })
            .collect(),
        failed: u(c.failed),
        pending: u(c.pending),
        release_to_ack: Some(percentiles(f.release_to_ack)),
        release_to_action: Some(percentiles(f.release_to_action)),
        removal_orders: u(f.removal_orders),
        removal_orders_acted: u(f.removal_orders_acted),
        removal_orders_within_hour: u(f.removal_orders_within_hour),
        removal_orders_late: u(f.removal_orders_acted - f.removal_orders_within_hour),
        removal_orders_within_hour_share: ratio(f.removal_orders_within_hour, f.removal_orders),
        removal_orders_cannot_execute: u(f.removal_orders_cannot_execute),
        removal_orders_resumed: u(f.removal_orders_resumed),
        removal_orders_paused_ms: u(f.removal_orders_paused_ms),
        tos_referrals: u(f.tos_referrals),
        tos_referrals_acted: u(f.tos_referrals_acted),
        tos_referrals_within_hour: u(f.tos_referrals_within_hour),
        tos_referrals_within_hour_share: ratio(f.tos_referrals_within_hour, f.tos_referrals),
        // From the platform's staffed hours, by [`count_out_of_hours`].
        removal_orders_out_of_hours: 0,
        circuit_open,
        last_error: last_error.unwrap_or_default(),
        platform: c.platform.into(),
    }
}

fn agency_summary(a: AgencyFacts) -> pb::AgencySummary {
    pb::AgencySummary {
        not_a_violation_share: ratio(a.rejected_not_a_violation, a.delivered),
        agency_id: a.agency_id.into(),
        lists: u(a.lists),
        items: u(a.items),
        merged_with_other_agencies: u(a.merged_with_other_agencies),
        held: u(a.held),
        blocked: u(a.blocked),
        rejected: u(a.rejected),
        delivered: u(a.delivered),
    }
}

fn block_series(s: BlockSeriesFacts) -> pb::BlockSeries {
    pb::BlockSeries {
        platform: s.platform.into(),
        points: s
            .points
            .into_iter()
            .map(|p| pb::BlockPoint {
                at: Some(from_millis(p.at)),
                cumulative_blocked: u(p.cumulative),
            })
            .collect(),
    }
}

/// The summary as `who` may see it: rows of the day's platforms (and agencies, for
/// coordinators and the agency itself) filled with zeros where the store had nothing,
/// and delivery health for coordinators only.
pub fn render(
    day: &model::ActionDay,
    mut facts: SummaryFacts,
    who: &Caller,
    health: &PlatformHealth,
    now: i64,
) -> pb::ActionDaySummary {
    let platforms: Vec<&PlatformName> = match who.role {
        Role::Platform => day
            .platforms
            .iter()
            .filter(|p| p.as_str() == who.id.as_str())
            .collect(),
        _ => day.platforms.iter().collect(),
    };
    for p in platforms {
        if !facts.platforms.iter().any(|f| f.counts.platform == *p) {
            facts.platforms.push(PlatformFacts::new(p.clone()));
        }
    }
    facts
        .platforms
        .sort_by(|a, b| a.counts.platform.cmp(&b.counts.platform));
    let agencies: Vec<&OrgId> = match who.role {
        Role::Coordinator => day.agencies.iter().collect(),
        Role::Agency => day.agencies.iter().filter(|a| **a == who.id).collect(),
        Role::Platform => Vec::new(),
    };
    for a in agencies {
        if !facts.agencies.iter().any(|f| f.agency_id == *a) {
            facts.agencies.push(AgencyFacts::new(a.clone()));
        }
    }
    facts.agencies.sort_by(|a, b| a.agency_id.cmp(&b.agency_id));
    let health = who.is_coordinator().then_some(health);
    pb::ActionDaySummary {
        action_day_id: day.id.to_string(),
        name: day.name.clone(),
        starts_at: Some(from_millis(day.starts_at)),
        state: convert::action_day_state(day, now)
            .as_str_name()
            .to_string(),
        generated_at: Some(from_millis(now)),
        platforms: facts
            .platforms
            .into_iter()
            .map(|f| platform_summary(f, health))
            .collect(),
        agencies: facts.agencies.into_iter().map(agency_summary).collect(),
        blocks_over_time: facts.blocks.into_iter().map(block_series).collect(),
    }
}

/// Reads the day and its figures now, as `who` may see them; also whether the day is
/// closed.
async fn snapshot<S: Store>(
    state: &HubState<S>,
    who: &Caller,
    id: &ActionDayId,
) -> ApiResult<(pb::ActionDaySummary, bool)> {
    let day = visible_day(&state.store, who, id).await?;
    let now = now_millis();
    let facts = state
        .store
        .action_day_summary(id, &view_of(who)?, now)
        .await?;
    let closed = day.closed_at.is_some();
    let mut summary = render(&day, facts, who, &state.health, now);
    count_out_of_hours(&state.store, &day, who, &mut summary).await?;
    Ok((summary, closed))
}

/// Fills `removal_orders_out_of_hours` of each platform row that has removal orders and
/// stated staffed hours, for coordinators and the platform itself: an agency's view
/// counts only its own targets, which this count does not separate.
async fn count_out_of_hours<S: Store>(
    store: &S,
    day: &model::ActionDay,
    who: &Caller,
    summary: &mut pb::ActionDaySummary,
) -> ApiResult<()> {
    if who.role == Role::Agency || summary.platforms.iter().all(|p| p.removal_orders == 0) {
        return Ok(());
    }
    let staffing: std::collections::HashMap<PlatformName, Staffing> = store
        .list_platforms()
        .await?
        .into_iter()
        .filter_map(|p| Some((p.name, p.staffing?)))
        .collect();
    if !summary
        .platforms
        .iter()
        .any(|p| p.removal_orders > 0 && staffing.contains_key(p.platform.as_str()))
    {
        return Ok(());
    }
    let deliveries = store.removal_order_deliveries(&day.id).await?;
    for row in &mut summary.platforms {
        let Some(hours) = staffing.get(row.platform.as_str()) else {
            continue;
        };
        row.removal_orders_out_of_hours = deliveries
            .iter()
            .filter(|(p, at)| *p == row.platform && !hours.is_staffed(*at))
            .count() as u64;
    }
    Ok(())
}

/// Whether two summaries show the same figures (`generated_at` aside).
fn same_figures(a: &pb::ActionDaySummary, b: &pb::ActionDaySummary) -> bool {
    let strip = |s: &pb::ActionDaySummary| pb::ActionDaySummary {
        generated_at: None,
        ..s.clone()
    };
    strip(a) == strip(b)
}

/// Sends the snapshot, then every changed one, until the day closes or `tx` is dropped.
async fn watch<S: Store>(
    state: Shared<S>,
    who: Caller,
    id: ActionDayId,
    tx: mpsc::Sender<Result<pb::ActionDaySummary, Status>>,
) {
    let mut last: Option<pb::ActionDaySummary> = None;
    loop {
        match snapshot(&state, &who, &id).await {
            Ok((summary, closed)) => {
                let changed = last.as_ref().is_none_or(|l| !same_figures(l, &summary));
                if (changed || closed) && tx.send(Ok(summary.clone())).await.is_err() {
                    return;
                }
                if closed {
                    return;
                }
                last = Some(summary);
            }
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
            _ = tx.closed() => return,
        }
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
        who.authorize("GetActionDaySummary")?;
        let id: ActionDayId = ApiError::parse_id("action_day_id", &req.into_inner().action_day_id)?;
        let (summary, _) = snapshot(&self.0, &who, &id).await?;
        Ok(Response::new(summary))
    }

    type WatchActionDayStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::ActionDaySummary, Status>>;

    #[tracing::instrument(skip_all, fields(rpc = "WatchActionDay", action_day = %req.get_ref().action_day_id))]
    async fn watch_action_day(
        &self,
        req: Request<pb::WatchActionDayRequest>,
    ) -> Result<Response<Self::WatchActionDayStream>, Status> {
        let who = caller!(self.0, req);
        who.authorize("WatchActionDay")?;
        let id: ActionDayId = ApiError::parse_id("action_day_id", &req.into_inner().action_day_id)?;
        // Refuse an unknown or invisible day up front rather than in the stream.
        visible_day(&self.0.store, &who, &id).await?;
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(watch(self.0.clone(), who, id, tx));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListFailedDeliveries"))]
    async fn list_failed_deliveries(
        &self,
        req: Request<pb::ListFailedDeliveriesRequest>,
    ) -> Result<Response<pb::ListFailedDeliveriesResponse>, Status> {
        let who = caller!(self.0, req);
        let answer = super::failed::list(&self.0, &who, req.into_inner()).await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListRefusedReports"))]
    async fn list_refused_reports(
        &self,
        req: Request<pb::ListRefusedReportsRequest>,
    ) -> Result<Response<pb::ListRefusedReportsResponse>, Status> {
        let who = caller!(self.0, req);
        let answer = super::failed::refused_reports(&self.0, &who, req.into_inner()).await?;
        Ok(Response::new(answer))
    }
}

#[cfg(test)]
mod tests {
    use takedown_store::{PlatformCounts, testing::checked};

    use super::*;

    fn day() -> model::ActionDay {
        model::ActionDay {
            id: checked("op"),
            name: "Op".into(),
            starts_at: 1000,
            ends_at: 2000,
            platforms: vec![checked("video"), checked("social")],
            agencies: vec![checked("agency-a"), checked("agency-b")],
            created_at: 0,
            released_at: None,
            closed_at: None,
        }
    }

    fn facts() -> SummaryFacts {
        SummaryFacts {
            platforms: vec![PlatformFacts {
                counts: PlatformCounts {
                    referred: 4,
                    delivered: 4,
                    blocked: 1,
                    rejected: 2,
                    ..PlatformCounts::new(checked("video"))
                },
                rejected_by_reason: vec![
                    (pb::RejectReason::NotAViolation, 1),
                    (pb::RejectReason::ForceMajeure, 1),
                ],
                ..PlatformFacts::new(checked("video"))
            }],
            agencies: vec![AgencyFacts {
                delivered: 4,
                rejected_not_a_violation: 1,
                ..AgencyFacts::new(checked("agency-a"))
            }],
            blocks: vec![],
        }
    }

    fn caller(role: Role, id: &str) -> Caller {
        Caller {
            id: checked(id),
            role,
        }
    }

    #[test]
    fn coordinators_see_everything_with_health() {
        let health = PlatformHealth::default();
        health.set(&checked("video"), true, Some("refused".into()));
        let s = render(
            &day(),
            facts(),
            &caller(Role::Coordinator, "c"),
            &health,
            1500,
        );
        assert_eq!(s.state, "ACTION_DAY_STATE_LIVE");
        let names: Vec<&str> = s.platforms.iter().map(|p| p.platform.as_str()).collect();
        assert_eq!(names, ["social", "video"]);
        let video = &s.platforms[1];
        assert_eq!(video.block_rate, 0.25);
        assert!(video.circuit_open);
        assert_eq!(video.last_error, "refused");
        let reasons: Vec<&str> = video
            .rejected_by_reason
            .iter()
            .map(|r| r.reason.as_str())
            .collect();
        assert_eq!(reasons, ["NOT_A_VIOLATION", "FORCE_MAJEURE"]);
        let agencies: Vec<&str> = s.agencies.iter().map(|a| a.agency_id.as_str()).collect();
        assert_eq!(agencies, ["agency-a", "agency-b"]);
        assert_eq!(s.agencies[0].not_a_violation_share, 0.25);
    }

    #[test]
    fn platforms_see_their_row_only_without_health_or_agencies() {
        let health = PlatformHealth::default();
        health.set(&checked("social"), true, Some("refused".into()));
        let mut f = facts();
        f.platforms[0].counts.platform = checked("social");
        f.agencies.clear();
        let s = render(&day(), f, &caller(Role::Platform, "social"), &health, 1500);
        assert_eq!(s.platforms.len(), 1);
        assert_eq!(s.platforms[0].platform, "social");
        assert!(!s.platforms[0].circuit_open);
        assert!(s.platforms[0].last_error.is_empty());
        assert!(s.agencies.is_empty());
    }

    #[test]
    fn agencies_get_their_own_row_only() {
        let mut f = facts();
        f.agencies.clear();
        let s = render(
            &day(),
            f,
            &caller(Role::Agency, "agency-b"),
            &PlatformHealth::default(),
            500,
        );
        assert_eq!(s.state, "ACTION_DAY_STATE_PLANNED");
        let agencies: Vec<&str> = s.agencies.iter().map(|a| a.agency_id.as_str()).collect();
        assert_eq!(agencies, ["agency-b"]);
    }

    #[test]
    fn generated_at_alone_is_no_change() {
        let health = PlatformHealth::default();
        let who = caller(Role::Coordinator, "c");
        let a = render(&day(), facts(), &who, &health, 1500);
        let b = render(&day(), facts(), &who, &health, 1600);
        assert!(same_figures(&a, &b));
        let mut more = facts();
        more.platforms[0].counts.blocked = 2;
        let c = render(&day(), more, &who, &health, 1600);
        assert!(!same_figures(&a, &c));
    }
}
