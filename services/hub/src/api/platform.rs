//! `takedown.v1.PlatformService`: platforms (their sidecars) report acknowledgements,
//! decisions and restorations, only on targets delivered to them; pull-mode platforms
//! fetch their share ([`crate::delivery::pull`]).

use std::time::Duration;
use takedown_protocol::{
    pb::{self, platform_report::Report, platform_service_server::PlatformService},
    timestamp::{now_millis, to_millis},
};

use takedown_store::{DeliveryMode, NewReport, PlatformName, ReportBody, ReportRefusal, Store};
use tonic::{Request, Response, Status};

use super::{Shared, caller};
use crate::{
    delivery::pull::MAX_WAIT_MS,
    error::{ApiError, ApiResult},
    public_id::PublicIds,
};

pub struct Platforms<S>(pub Shared<S>);

/// Most reports in one call.
const MAX_REPORTS: usize = 10_000;

fn report(
    i: usize,
    r: pb::PlatformReport,
    ids: &PublicIds,
    received_at: i64,
) -> ApiResult<NewReport> {
    let bad = |field: &str, msg: String| {
        ApiError::invalid(
            format!("reports[{i}].{field}"),
            format!("report {i}: {msg}"),
        )
    };
    if r.report_id.is_empty() || r.report_id.len() > 128 {
        return Err(bad(
            "report_id",
            "report_id must have 1 to 128 characters".into(),
        ));
    }
    let target_id = ids
        .parse_target(&r.target_id)
        .ok_or_else(|| bad("target_id", format!("unknown target {:?}", r.target_id)))?;
    let at = |t: Option<prost_types::Timestamp>| t.as_ref().map(to_millis).unwrap_or(received_at);
    let (body, text, at) = match r.report {
        Some(Report::Acknowledgement(a)) => (
            ReportBody::Acknowledgement,
            String::new(),
            at(a.received_at),
        ),
        Some(Report::Decision(d)) => {
            let o = pb::Outcome::try_from(d.outcome)
                .ok()
                .filter(|o| *o != pb::Outcome::Unspecified)
                .ok_or_else(|| bad("decision.outcome", format!("invalid outcome {}", d.outcome)))?;
            let reason = pb::RejectReason::try_from(d.reason)
                .map_err(|_| bad("decision.reason", format!("invalid reason {}", d.reason)))?;
            if o == pb::Outcome::Rejected && reason == pb::RejectReason::Unspecified {
                return Err(bad(
                    "decision.reason",
                    "a rejection needs a reason code".into(),
                ));
            }
            (
                ReportBody::Decision { outcome: o, reason },
                d.text,
                at(d.acted_at),
            )
        }
        Some(Report::Restoration(x)) => {
            let res = pb::RestorationResult::try_from(x.result)
                .ok()
                .filter(|r| *r != pb::RestorationResult::Unspecified)
                .ok_or_else(|| bad("restoration.result", format!("invalid result {}", x.result)))?;
            (ReportBody::Restoration(res), x.text, at(x.acted_at))
        }
        None => return Err(bad("report", "empty report".into())),
    };
    if text.len() > 8192 {
        return Err(bad("text", "text is limited to 8192 bytes".into()));
    }
    Ok(NewReport {
        report_id: r.report_id,
        target_id,
        body,
        text,
        at,
    })
}

#[tonic::async_trait]
impl<S: Store> PlatformService for Platforms<S> {
    #[tracing::instrument(
        skip_all,
        fields(rpc = "PullDeliveries", platform, acknowledged, deliveries)
    )]
    async fn pull_deliveries(
        &self,
        req: Request<pb::PullDeliveriesRequest>,
    ) -> Result<Response<pb::PullDeliveriesResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("PullDeliveries")?;
        let span = tracing::Span::current();
        span.record("platform", who.id.as_str());
        let platform_name = who.platform()?;
        let r = req.into_inner();
        if r.wait_ms > MAX_WAIT_MS {
            return Err(ApiError::invalid(
                "wait_ms",
                format!("wait_ms {} is above the limit of {MAX_WAIT_MS}", r.wait_ms),
            )
            .into());
        }
        let store = &self.0.store;
        let platform = store
            .get_platform(&platform_name)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("platform {} is not registered", who.id)))?;
        if platform.mode != DeliveryMode::Pull {
            return Err(ApiError::FailedPrecondition(format!(
                "platform {} is registered for push delivery: the hub calls its sidecar; \
                 register it with delivery mode PULL to pull",
                who.id
            ))
            .into());
        }
        let pulls = &self.0.pulls;
        let acknowledged = match &r.ack {
            Some(ack) => pulls
                .acknowledge(&platform_name, ack)
                .await
                .map_err(ApiError::from)?,
            None => 0,
        };
        span.record("acknowledged", acknowledged);
        let batch = if r.max_targets == 0 {
            None
        } else {
            pulls
                .next_batch(
                    &platform_name,
                    r.max_targets,
                    Duration::from_millis(u64::from(r.wait_ms)),
                )
                .await
                .map_err(ApiError::from)?
        };
        span.record(
            "deliveries",
            batch.as_ref().map_or(0, |b| b.deliveries.len()),
        );
        Ok(Response::new(pb::PullDeliveriesResponse {
            batch,
            acknowledged,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ReportOutcomes", platform, reports))]
    async fn report_outcomes(
        &self,
        req: Request<pb::ReportOutcomesRequest>,
    ) -> Result<Response<pb::ReportOutcomesResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ReportOutcomes")?;
        let span = tracing::Span::current();
        span.record("platform", who.id.as_str());
        let platform_name = who.platform()?;
        let reports = req.into_inner().reports;
        span.record("reports", reports.len());
        if reports.len() > MAX_REPORTS {
            return Err(ApiError::ResourceExhausted(format!(
                "{} reports in one call; the limit is {MAX_REPORTS}",
                reports.len()
            ))
            .into());
        }
        let now = now_millis();
        let mut checked = Vec::with_capacity(reports.len());
        for (i, r) in reports.into_iter().enumerate() {
            let sent = (r.report_id.clone(), r.target_id.clone());
            match report(i, r, &self.0.ids, now) {
                Ok(n) => checked.push(n),
                Err(e) => return Err(self.refused(&platform_name, &sent.0, &sent.1, e, now).await),
            }
        }
        let reports = checked;
        self.0.metrics.reports_received(&platform_name, &reports);
        match self
            .0
            .store
            .record_reports(&platform_name, &reports, now)
            .await
            .map_err(ApiError::from)?
        {
            Ok(counts) => Ok(Response::new({
                self.0
                    .metrics
                    .reports_recorded(&platform_name, counts.recorded, counts.duplicates);
                pb::ReportOutcomesResponse {
                    recorded: counts.recorded,
                    duplicates: counts.duplicates,
                }
            })),
            Err(ReportRefusal::NotDelivered { index, target_id }) => {
                self.0
                    .metrics
                    .report_refused(&platform_name, tonic::Code::PermissionDenied);
                Err(ApiError::PermissionDenied(format!(
                    "report {index}: target {} was not delivered to platform {}",
                    self.0.ids.target(target_id),
                    who.id
                ))
                .into())
            }
            Err(ReportRefusal::NotAViolationOfAnOrder { index, target_id }) => {
                let e = ApiError::invalid(
                    format!("reports[{index}].decision.reason"),
                    format!(
                        "report {index}: target {} is a removal order, which is \
                         executed or answered on an Annex III ground (FORCE_MAJEURE, \
                         MANIFEST_ERROR, INSUFFICIENT_INFORMATION), not NOT_A_VIOLATION",
                        self.0.ids.target(target_id)
                    ),
                );
                let r = &reports[index];
                let target = self.0.ids.target(r.target_id);
                Err(self
                    .refused(&platform_name, &r.report_id, &target, e, now)
                    .await)
            }
        }
    }
}

impl<S: Store> Platforms<S> {
    /// The refusal of one report, as answered; kept for the coordinator's quarantine
    /// (`ListRefusedReports`) when it is final (INVALID_ARGUMENT: the sidecar parks the
    /// report and does not send it again). Failing to keep it is logged, not answered.
    async fn refused(
        &self,
        platform: &PlatformName,
        report_id: &str,
        target_id: &str,
        e: ApiError,
        now: i64,
    ) -> Status {
        let status = Status::from(e);
        self.0.metrics.report_refused(platform, status.code());
        if status.code() == tonic::Code::InvalidArgument
            && let Err(e) = self
                .0
                .store
                .record_refused_report(platform, report_id, target_id, status.message(), now)
                .await
        {
            tracing::warn!(error = %e, report_id, "a refused report was not kept");
        }
        status
    }
}
