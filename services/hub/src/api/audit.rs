//! `takedown.v1.AuditService` (paging through the hash-chained audit log) and
//! `takedown.v1.TransparencyService` (an action day's TCO figures and statement-of-reasons
//! rows). Coordinators only.

use takedown_protocol::pb::{
    self, audit_service_server::AuditService, transparency_service_server::TransparencyService,
};
use takedown_store::{ActionDayId, Store};
use tonic::{Request, Response, Status};

use super::{Shared, caller};
use crate::{error::ApiError, transparency};

/// Entries per page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 1_000;
/// Most entries per page.
pub const MAX_PAGE: u32 = 10_000;

pub struct Audit<S>(pub Shared<S>);

#[tonic::async_trait]
impl<S: Store> AuditService for Audit<S> {
    #[tracing::instrument(skip_all, fields(rpc = "GetAuditHead"))]
    async fn get_audit_head(
        &self,
        req: Request<pb::GetAuditHeadRequest>,
    ) -> Result<Response<pb::SignedAuditHead>, Status> {
        let who = caller!(self.0, req);
        who.authorize("GetAuditHead")?;
        let upto = match req.into_inner().upto_seq {
            0 => i64::MAX,
            n => i64::try_from(n)
                .map_err(|_| ApiError::invalid("upto_seq", "upto_seq is too large"))?,
        };
        let head = self
            .0
            .store
            .audit_head_upto(upto)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("no audit head has been signed yet".into()))?;
        Ok(Response::new(pb::SignedAuditHead {
            signed_head: head.jws,
            audit_key: self.0.audit_heads.public_pem().to_string(),
            seq: u64::try_from(head.seq).unwrap_or(0),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListAuditEntries"))]
    async fn list_audit_entries(
        &self,
        req: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ListAuditEntries")?;
        let req = req.into_inner();
        let limit = match req.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let after = i64::try_from(req.after_seq)
            .map_err(|_| ApiError::invalid("after_seq", "after_seq is too large"))?;
        let store = &self.0.store;
        let head = store.audit_head().await.map_err(ApiError::from)?;
        let entries = store
            .audit_entries(after, limit)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries: entries
                .into_iter()
                .map(|e| pb::AuditEntry {
                    seq: u64::try_from(e.seq).unwrap_or(0),
                    at_ms: e.at,
                    actor: e.actor,
                    kind: e.kind,
                    subject: e.subject,
                    details: e.details,
                    prev_hash: e.prev_hash,
                    hash: e.hash,
                })
                .collect(),
            head_seq: u64::try_from(head).unwrap_or(0),
        }))
    }
}

pub struct Transparency<S>(pub Shared<S>);

#[tonic::async_trait]
impl<S: Store> TransparencyService for Transparency<S> {
    #[tracing::instrument(skip_all, fields(rpc = "ExportTransparency", action_day = %req.get_ref().action_day_id))]
    async fn export_transparency(
        &self,
        req: Request<pb::TransparencyRequest>,
    ) -> Result<Response<pb::TransparencyResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ExportTransparency")?;
        let id: ActionDayId = ApiError::parse_id("action_day_id", &req.into_inner().action_day_id)?;
        let store = &self.0.store;
        if store
            .get_action_day(&id)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            return Err(ApiError::NotFound(format!("action day {id:?} not found")).into());
        }
        let rows = store.transparency_rows(&id).await.map_err(ApiError::from)?;
        Ok(Response::new(pb::TransparencyResponse {
            tco: Some(transparency::tco_figures(&id, &rows)),
            statements: transparency::statements(&rows, &self.0.ids),
        }))
    }
}
