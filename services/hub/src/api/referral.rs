//! `takedown.v1.ReferralService`: agencies submit and follow their own lists.

use takedown_protocol::{
    pb::{self, referral_service_server::ReferralService},
    timestamp::{from_millis, now_millis, to_millis, utc},
};
use takedown_store::{
    ListId, NewPreservation, OrgId, Preservation, Store, WithdrawalGround, WithdrawalReason,
    WithdrawalScope, Withdrawer,
};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{error::ApiError, intake};

pub struct Referrals<S>(pub Shared<S>);

#[tonic::async_trait]
impl<S: Store> ReferralService for Referrals<S> {
    #[tracing::instrument(skip_all, fields(rpc = "SubmitReferralList"))]
    async fn submit_referral_list(
        &self,
        req: Request<pb::SubmitReferralListRequest>,
    ) -> Result<Response<pb::SubmitReferralListResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("SubmitReferralList")?;
        let keys = self.0.keys.current();
        let answer = intake::submit(
            &self.0.store,
            &self.0.intake,
            keys.as_deref().map(|c| &*c.set),
            &self.0.ids,
            &who,
            req.into_inner(),
            now_millis(),
        )
        .await
        .map_err(|e| {
            let status = Status::from(e);
            self.0.metrics.intake_refused(&status);
            status
        })?;
        self.0.metrics.lists_accepted.inc();
        self.0
            .metrics
            .items_accepted
            .inc_by(u64::from(answer.items));
        // Standing-scope targets are due now; wake the workers.
        self.0.wake.all();
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetListStatus", list_id = %req.get_ref().list_id))]
    async fn get_list_status(
        &self,
        req: Request<pb::GetListStatusRequest>,
    ) -> Result<Response<pb::ListStatus>, Status> {
        let who = caller!(self.0, req);
        who.authorize("GetListStatus")?;
        let list_id: ListId = ApiError::parse_id("list_id", &req.into_inner().list_id)?;
        let store = &self.0.store;
        // Another agency's list is answered exactly like a list that does not exist.
        let list = match store.get_list(&list_id).await.map_err(ApiError::from)? {
            Some(l) if who.is_coordinator() || l.agency_id == who.id => l,
            _ => return Err(ApiError::NotFound(format!("list {list_id:?} not found")).into()),
        };
        let now = now_millis();
        let items = store
            .list_items(&list_id, now)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListStatus {
            list_id: list.list_id.into(),
            agency_id: list.agency_id.into(),
            action_day_id: list.action_day_id.map(String::from),
            accepted_at: Some(from_millis(list.accepted_at)),
            item_count: list.item_count,
            items: items
                .into_iter()
                .map(|i| convert::item_status(i, &self.0.ids, now))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "WithdrawTarget"))]
    async fn withdraw_target(
        &self,
        req: Request<pb::WithdrawTargetRequest>,
    ) -> Result<Response<pb::WithdrawTargetResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("WithdrawTarget")?;
        let req = req.into_inner();
        // An unknown target, and one the agency did not refer, are answered alike.
        let not_found = || ApiError::NotFound(format!("target {:?} not found", req.target_id));
        let target_id = self
            .0
            .ids
            .parse_target(&req.target_id)
            .ok_or_else(not_found)?;
        let agencies: Vec<OrgId> = req
            .agency_ids
            .iter()
            .enumerate()
            .map(|(i, a)| ApiError::parse_id(&format!("agency_ids[{i}]"), a.trim()))
            .collect::<Result<_, _>>()?;
        if !who.is_coordinator()
            && let Some(i) = agencies.iter().position(|a| *a != who.id)
        {
            return Err(ApiError::invalid(
                format!("agency_ids[{i}]"),
                format!(
                    "an agency withdraws only its own referrals, not {:?}'s",
                    agencies[i]
                ),
            )
            .into());
        }
        let scope = WithdrawalScope::Target {
            target_id,
            agencies,
        };
        let w = self
            .withdraw(&who, &scope, &reason(req.ground, &req.reason)?)
            .await?
            .ok_or_else(not_found)?;
        let t = w.targets.first().ok_or_else(not_found)?;
        Ok(Response::new(pb::WithdrawTargetResponse {
            target_id: self.0.ids.target(t.target_id),
            withdrawals_queued: t.withdrawals_queued,
            target_withdrawn: t.withdrawn_at.is_some(),
            referrals_withdrawn: w.referrals_withdrawn,
            referrals_standing: t.referrals_standing,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "UpholdOnScrutiny"))]
    async fn uphold_on_scrutiny(
        &self,
        req: Request<pb::UpholdOnScrutinyRequest>,
    ) -> Result<Response<pb::UpholdOnScrutinyResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("UpholdOnScrutiny")?;
        let req = req.into_inner();
        let not_found = || ApiError::NotFound(format!("target {:?} not found", req.target_id));
        let target_id = self
            .0
            .ids
            .parse_target(&req.target_id)
            .ok_or_else(not_found)?;
        let upheld = self
            .0
            .store
            .uphold_on_scrutiny(target_id, &who.id, req.reason.trim(), now_millis())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        tracing::info!(%target_id, upheld, by = %who.id, "removal orders upheld on scrutiny");
        Ok(Response::new(pb::UpholdOnScrutinyResponse {
            target_id: req.target_id.clone(),
            orders_upheld: upheld,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "PreserveTarget", target_id = %req.get_ref().target_id))]
    async fn preserve_target(
        &self,
        req: Request<pb::PreserveTargetRequest>,
    ) -> Result<Response<pb::PreserveTargetResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("PreserveTarget")?;
        let req = req.into_inner();
        let now = now_millis();
        let not_found = || ApiError::NotFound(format!("target {:?} not found", req.target_id));
        let target_id = self
            .0
            .ids
            .parse_target(&req.target_id)
            .ok_or_else(not_found)?;
        let until = req.until.as_ref().map(to_millis).ok_or_else(|| {
            ApiError::invalid("until", "until is required: when preservation ends")
        })?;
        if until <= now {
            return Err(ApiError::invalid(
                "until",
                format!("until {} is not in the future", utc(until.div_euclid(1000))),
            )
            .into());
        }
        let authority = req.authority.trim();
        if authority.is_empty() {
            return Err(ApiError::invalid(
                "authority",
                "authority is required: the competent authority that asked for preservation",
            )
            .into());
        }
        let request = NewPreservation {
            target_id,
            until,
            authority,
            reference: req.reference.trim(),
            by: &who.id,
            at: now,
        };
        let kept = self
            .0
            .store
            .preserve(&request)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        match kept {
            Preservation::Kept { until, lists } => {
                tracing::info!(%target_id, until, lists, by = %who.id, "target preserved");
                Ok(Response::new(pb::PreserveTargetResponse {
                    target_id: req.target_id.clone(),
                    preserved_until: Some(from_millis(until)),
                    lists_kept: lists,
                }))
            }
            Preservation::AlreadyPurged { at } => Err(ApiError::FailedPrecondition(format!(
                "target {:?}: retention purged its data at {}; nothing is left to preserve",
                req.target_id,
                utc(at.div_euclid(1000))
            ))
            .into()),
        }
    }

    #[tracing::instrument(skip_all, fields(rpc = "WithdrawList", list_id = %req.get_ref().list_id))]
    async fn withdraw_list(
        &self,
        req: Request<pb::WithdrawListRequest>,
    ) -> Result<Response<pb::WithdrawListResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("WithdrawList")?;
        let req = req.into_inner();
        let list_id: ListId = ApiError::parse_id("list_id", req.list_id.trim())?;
        // Another agency's list is answered exactly like a list that does not exist.
        let not_found = || ApiError::NotFound(format!("list {list_id:?} not found"));
        let scope = WithdrawalScope::List {
            list_id: list_id.clone(),
        };
        let w = self
            .withdraw(&who, &scope, &reason(req.ground, &req.reason)?)
            .await?
            .ok_or_else(not_found)?;
        let withdrawn = w.targets.iter().filter(|t| t.withdrawn_at.is_some());
        Ok(Response::new(pb::WithdrawListResponse {
            list_id: list_id.into(),
            referrals_withdrawn: w.referrals_withdrawn,
            targets_withdrawn: count(withdrawn.clone()),
            targets_standing: count(w.targets.iter().filter(|t| t.withdrawn_at.is_none())),
            withdrawals_queued: withdrawn.map(|t| t.withdrawals_queued).sum(),
        }))
    }
}

/// A request's withdrawal ground and reason; an unknown ground is INVALID_ARGUMENT naming
/// the field.
fn reason(ground: i32, text: &str) -> Result<WithdrawalReason<'_>, ApiError> {
    let ground = WithdrawalGround::try_from(ground)
        .map_err(|_| ApiError::invalid("ground", format!("unknown withdrawal ground {ground}")))?;
    Ok(WithdrawalReason {
        ground,
        text: text.trim(),
    })
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

impl<S: Store> Referrals<S> {
    /// Takes back `scope`'s referrals as `who`, logs the targets withdrawn and wakes the
    /// workers of the platforms that get a WITHDRAWAL.
    async fn withdraw(
        &self,
        who: &crate::auth::Caller,
        scope: &WithdrawalScope,
        reason: &WithdrawalReason<'_>,
    ) -> Result<Option<takedown_store::Withdrawal>, ApiError> {
        let by = if who.is_coordinator() {
            Withdrawer::Coordinator(who.id.clone())
        } else {
            Withdrawer::Agency(who.id.clone())
        };
        let Some(w) = self
            .0
            .store
            .withdraw(scope, &by, reason, now_millis())
            .await?
        else {
            return Ok(None);
        };
        tracing::info!(
            by = %who.id,
            referrals = w.referrals_withdrawn,
            "referrals withdrawn"
        );
        for t in w.targets.iter().filter(|t| t.changed) {
            tracing::info!(
                target_id = %self.0.ids.target(t.target_id),
                platform = %t.platform,
                queued = t.withdrawals_queued,
                "target withdrawn"
            );
            if t.withdrawals_queued > 0 {
                self.0.wake.platform(&t.platform);
            }
        }
        Ok(Some(w))
    }
}
