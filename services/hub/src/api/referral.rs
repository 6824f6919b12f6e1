//! `takedown.v1.ReferralService`: agencies submit and follow their own lists.

use takedown_protocol::{
    pb::{self, referral_service_server::ReferralService},
    timestamp::{from_millis, now_millis},
};
use takedown_store::{Store, Withdrawer};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{auth::Role, error::ApiError, intake};

pub struct Referrals<S>(pub Shared<S>);

#[tonic::async_trait]
impl<S: Store> ReferralService for Referrals<S> {
    #[tracing::instrument(skip_all, fields(rpc = "SubmitReferralList"))]
    async fn submit_referral_list(
        &self,
        req: Request<pb::SubmitReferralListRequest>,
    ) -> Result<Response<pb::SubmitReferralListResponse>, Status> {
        let who = caller!(self.0, req);
        who.require(&[Role::Agency], "SubmitReferralList")?;
        let answer = intake::submit(
            &self.0.store,
            &self.0.intake,
            &who,
            req.into_inner(),
            now_millis(),
        )
        .await?;
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
        who.require(&[Role::Agency, Role::Coordinator], "GetListStatus")?;
        let list_id = req.into_inner().list_id;
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
            list_id: list.list_id,
            agency_id: list.agency_id,
            action_day_id: list.action_day_id,
            accepted_at: Some(from_millis(list.accepted_at)),
            item_count: list.item_count,
            items: items
                .into_iter()
                .map(|i| convert::item_status(i, now))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "WithdrawTarget"))]
    async fn withdraw_target(
        &self,
        req: Request<pb::WithdrawTargetRequest>,
    ) -> Result<Response<pb::WithdrawTargetResponse>, Status> {
        let who = caller!(self.0, req);
        who.require(&[Role::Agency, Role::Coordinator], "WithdrawTarget")?;
        let req = req.into_inner();
        // An unknown target, and one the agency did not refer, are answered alike.
        let not_found = || ApiError::NotFound(format!("target {:?} not found", req.target_id));
        let target_id: i64 = req.target_id.trim().parse().map_err(|_| not_found())?;
        let by = if who.is_coordinator() {
            Withdrawer::Coordinator(who.id.clone())
        } else {
            Withdrawer::Agency(who.id.clone())
        };
        let w = self
            .0
            .store
            .withdraw_target(target_id, &by, req.reason.trim(), now_millis())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        if w.changed {
            tracing::info!(
                target_id,
                platform = %w.platform,
                by = %who.id,
                queued = w.withdrawals_queued,
                "target withdrawn"
            );
        }
        if w.withdrawals_queued > 0 {
            self.0.wake.platform(&w.platform);
        }
        Ok(Response::new(pb::WithdrawTargetResponse {
            target_id: w.target_id.to_string(),
            withdrawals_queued: w.withdrawals_queued,
        }))
    }
}
