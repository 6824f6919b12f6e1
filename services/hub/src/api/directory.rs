//! `takedown.v1.DirectoryService`: organisations, key-set statements, platforms.

use takedown_protocol::{
    ident::{OrgId, PlatformName},
    keyset::{KeySet, KeySetClaims, Offer, StatementError, StatementKey},
    pb::{self, directory_service_server::DirectoryService},
    staffing::Staffing,
    timestamp::{from_millis, now_millis},
};
use takedown_store::{Store, model};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{
    auth::Role,
    error::{ApiError, ApiResult},
};

pub struct Directory<S>(pub Shared<S>);

/// A statement the hub will not take: stale or conflicting versions are a precondition
/// (publish a newer one), anything else is what the caller sent.
fn statement_refused(e: StatementError) -> ApiError {
    match e {
        StatementError::Rollback { .. } | StatementError::Conflict { .. } => {
            ApiError::FailedPrecondition(e.to_string())
        }
        e => ApiError::invalid("jws", e.to_string()),
    }
}

/// The spans of signing times a new statement voids, per key: (kid, from, until), where
/// `until` is the compromise time the newest statement already named (lists signed from
/// then on were void before).
fn newly_void(current: Option<&KeySet>, next: &KeySetClaims) -> Vec<(String, i64, Option<i64>)> {
    next.keys
        .iter()
        .filter_map(|k| {
            let since = k.compromised_since?;
            let before = current
                .and_then(|c| c.key(&k.kid))
                .and_then(|o| o.compromised_since);
            match before {
                Some(b) if b <= since => None,
                b => Some((k.kid.clone(), since, b)),
            }
        })
        .collect()
}

fn endpoint(field: &str, url: &str) -> ApiResult<()> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        ApiError::invalid(field, format!("endpoint {url:?} must be https://host:port"))
    })?;
    let uri: http::Uri = format!("https://{rest}")
        .parse()
        .map_err(|_| ApiError::invalid(field, format!("endpoint {url:?} is not a URL")))?;
    if uri.host().is_none() || uri.port_u16().is_none() {
        return Err(ApiError::invalid(
            field,
            format!("endpoint {url:?} needs a host and a port"),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl<S: Store> DirectoryService for Directory<S> {
    #[tracing::instrument(skip_all, fields(rpc = "RegisterOrganization"))]
    async fn register_organization(
        &self,
        req: Request<pb::RegisterOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let who = caller!(self.0, req);
        who.authorize("RegisterOrganization")?;
        let r = req.into_inner();
        let id: OrgId = ApiError::parse_id("id", &r.id)?;
        let role = Role::try_from(r.role).ok().ok_or_else(|| {
            ApiError::invalid("role", "role must be agency, platform or coordinator")
        })?;
        let org = model::Organization {
            display_name: if r.display_name.trim().is_empty() {
                id.to_string()
            } else {
                r.display_name.trim().to_string()
            },
            id,
            role,
            registered_at: now_millis(),
        };
        let org = self
            .0
            .store
            .upsert_organization(&org, &who.id)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(org = %org.id, role = ?role, by = %who.id, "organisation registered");
        Ok(Response::new(convert::organization(org)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListOrganizations"))]
    async fn list_organizations(
        &self,
        req: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ListOrganizations")?;
        let orgs = self
            .0
            .store
            .list_organizations()
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListOrganizationsResponse {
            organizations: orgs.into_iter().map(convert::organization).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "PublishKeySet", version))]
    async fn publish_key_set(
        &self,
        req: Request<pb::PublishKeySetRequest>,
    ) -> Result<Response<pb::KeySetStatement>, Status> {
        let who = caller!(self.0, req);
        who.authorize("PublishKeySet")?;
        let jws = req.into_inner().jws.trim().to_string();
        let keys = &self.0.keys;
        let (offer, claims) = keys.check(&jws).map_err(statement_refused)?;
        tracing::Span::current().record("version", claims.version);
        if offer == Offer::Unchanged {
            // The very statement in force: publishing it again changes nothing.
            let current = keys.current().expect("a statement is in force");
            return Ok(Response::new(convert::key_set(&current)));
        }
        let version = i64::try_from(claims.version).map_err(|_| {
            ApiError::invalid("jws", format!("version {} is too large", claims.version))
        })?;
        let voided = newly_void(keys.current().as_deref().map(|c| &*c.set), &claims);
        let record = model::KeySetRecord {
            version,
            jws,
            published_at: now_millis(),
            published_by: who.id.clone(),
        };
        self.0
            .store
            .publish_key_set(&record)
            .await
            .map_err(ApiError::from)?;
        keys.offer(record.clone()).map_err(statement_refused)?;
        tracing::info!(
            version,
            keys = claims.keys.len(),
            roots = claims.roots.len(),
            "key-set statement published"
        );
        let current = keys.current().expect("just published");
        let mut answer = convert::key_set(&current);
        let now = now_millis();
        for (kid, from, until) in voided {
            for l in self
                .0
                .store
                .lists_signed_with(&kid, from)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .filter(|l| until.is_none_or(|u| l.signed_at < u))
            {
                tracing::warn!(list = %l.list_id, %kid, "list invalidated by a key compromise");
                answer.invalidated_lists.push(pb::InvalidatedList {
                    embargoed: l.due_at > now,
                    list_id: l.list_id.into(),
                    agency_id: l.agency_id.into(),
                    action_day_id: l.action_day_id.map(String::from).unwrap_or_default(),
                    kid: kid.clone(),
                    signed_at: Some(from_millis(l.signed_at.saturating_mul(1000))),
                });
            }
        }
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetKeySet"))]
    async fn get_key_set(
        &self,
        req: Request<pb::GetKeySetRequest>,
    ) -> Result<Response<pb::KeySetStatement>, Status> {
        let who = caller!(self.0, req);
        who.authorize("GetKeySet")?;
        let current = self.0.keys.current().ok_or_else(|| {
            ApiError::NotFound("no key-set statement has been published yet".into())
        })?;
        Ok(Response::new(convert::key_set(&current)))
    }

    type WatchKeySetStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::KeySetStatement, Status>>;

    #[tracing::instrument(skip_all, fields(rpc = "WatchKeySet"))]
    async fn watch_key_set(
        &self,
        req: Request<pb::WatchKeySetRequest>,
    ) -> Result<Response<Self::WatchKeySetStream>, Status> {
        let who = caller!(self.0, req);
        who.authorize("WatchKeySet")?;
        let mut after = req.into_inner().after_version;
        let mut updates = self.0.keys.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            loop {
                let next = updates.borrow_and_update().clone();
                if let Some(c) = next.filter(|c| c.set.version() > after) {
                    after = c.set.version();
                    if tx.send(Ok(convert::key_set(&c))).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    changed = updates.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetAgencyKeys"))]
    async fn get_agency_keys(
        &self,
        req: Request<pb::GetAgencyKeysRequest>,
    ) -> Result<Response<pb::GetAgencyKeysResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("GetAgencyKeys")?;
        let r = req.into_inner();
        let Some(current) = self.0.keys.current() else {
            return Ok(Response::new(pb::GetAgencyKeysResponse::default()));
        };
        let now = now_millis().div_euclid(1000);
        let mut keys: Vec<&StatementKey> = current
            .set
            .claims
            .keys
            .iter()
            .filter(|k| r.kid.is_empty() || k.kid == r.kid)
            .filter(|k| r.agency_ids.is_empty() || r.agency_ids.contains(&k.agency_id))
            .collect();
        keys.sort_by(|a, b| {
            (&a.agency_id, a.valid_from, &a.kid).cmp(&(&b.agency_id, b.valid_from, &b.kid))
        });
        Ok(Response::new(pb::GetAgencyKeysResponse {
            keys: keys
                .into_iter()
                .map(|k| convert::agency_key(k, now))
                .collect(),
            key_set_version: current.set.version(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RegisterPlatform"))]
    async fn register_platform(
        &self,
        req: Request<pb::RegisterPlatformRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        let who = caller!(self.0, req);
        who.authorize("RegisterPlatform")?;
        let r = req.into_inner();
        let name =
            PlatformName::parse(&r.name).map_err(|e| ApiError::invalid("name", e.to_string()))?;
        let store = &self.0.store;
        let staffing = r
            .staffing
            .as_ref()
            .map(Staffing::from_pb)
            .transpose()
            .map_err(|e| {
                ApiError::invalid(format!("staffing.{}", e.field), format!("staffing.{e}"))
            })?;
        // What the request leaves out, a registered platform keeps.
        let before = store.get_platform(&name).await.map_err(ApiError::from)?;
        let mode = match pb::DeliveryMode::try_from(r.delivery_mode) {
            Ok(pb::DeliveryMode::Unspecified) => {
                before.as_ref().map_or(pb::DeliveryMode::Push, |p| p.mode)
            }
            Ok(m) => m,
            Err(_) => {
                return Err(ApiError::invalid(
                    "delivery_mode",
                    format!("unknown delivery mode {}", r.delivery_mode),
                )
                .into());
            }
        };
        match mode {
            pb::DeliveryMode::Pull if !r.endpoint.is_empty() => {
                return Err(ApiError::invalid(
                    "endpoint",
                    format!(
                        "platform {name} pulls its deliveries: it has no endpoint (got {:?})",
                        r.endpoint
                    ),
                )
                .into());
            }
            pb::DeliveryMode::Pull => {}
            _ => endpoint("endpoint", &r.endpoint)?,
        }
        match store
            .get_organization(&name.org_id())
            .await
            .map_err(ApiError::from)?
        {
            Some(o) if o.role != Role::Platform => {
                return Err(ApiError::FailedPrecondition(format!(
                    "organisation {name} exists with another role"
                ))
                .into());
            }
            Some(_) => {}
            None => {
                store
                    .upsert_organization(
                        &model::Organization {
                            id: name.org_id(),
                            role: Role::Platform,
                            display_name: display(&r.display_name, &name),
                            registered_at: now_millis(),
                        },
                        &who.id,
                    )
                    .await
                    .map_err(ApiError::from)?;
            }
        }
        let max_per_minute = match r.max_deliveries_per_minute {
            Some(0) => None,
            Some(n) => Some(n),
            None => before.as_ref().and_then(|p| p.max_per_minute),
        };
        let staffing = match staffing {
            Some(set) => set,
            None => before.and_then(|p| p.staffing),
        };
        let p = store
            .upsert_platform(
                &model::Platform {
                    name: name.clone(),
                    endpoint: r.endpoint,
                    display_name: display(&r.display_name, &name),
                    registered_at: now_millis(),
                    max_per_minute,
                    staffing,
                    mode,
                },
                &who.id,
            )
            .await
            .map_err(ApiError::from)?;
        self.0.wake.platforms_changed();
        tracing::info!(platform = %p.name, endpoint = %p.endpoint, max_per_minute = ?p.max_per_minute, mode = model::mode_name(p.mode), "platform registered");
        Ok(Response::new(convert::platform(p)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListPlatforms"))]
    async fn list_platforms(
        &self,
        req: Request<pb::ListPlatformsRequest>,
    ) -> Result<Response<pb::ListPlatformsResponse>, Status> {
        let who = caller!(self.0, req);
        who.authorize("ListPlatforms")?;
        let ps = self
            .0
            .store
            .list_platforms()
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListPlatformsResponse {
            platforms: ps.into_iter().map(convert::platform).collect(),
        }))
    }
}

fn display(given: &str, name: &PlatformName) -> String {
    if given.trim().is_empty() {
        name.to_string()
    } else {
        given.trim().to_string()
    }
}
