//! `takedown.v1.DirectoryService`: organisations, agency signing keys, platforms.

use takedown_protocol::{
    ident::{OrgId, PlatformName},
    pb::{self, directory_service_server::DirectoryService},
    signing,
    timestamp::now_millis,
};
use takedown_store::{Store, model};
use tonic::{Request, Response, Status};

use super::{Shared, caller, convert};
use crate::{
    auth::Role,
    error::{ApiError, ApiResult},
};

pub struct Directory<S>(pub Shared<S>);

const EVERYONE: &[Role] = &[Role::Agency, Role::Platform, Role::Coordinator];
const COORDINATORS: &[Role] = &[Role::Coordinator];

fn org_id(field: &str, id: &str) -> ApiResult<OrgId> {
    OrgId::parse(id).map_err(|e| ApiError::invalid(field, e.to_string()))
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
        who.require(COORDINATORS, "RegisterOrganization")?;
        let r = req.into_inner();
        let id = org_id("id", &r.id)?;
        let role = Role::try_from(r.role).ok().ok_or_else(|| {
            ApiError::invalid("role", "role must be agency, platform or coordinator")
        })?;
        let org = model::Organization {
            display_name: if r.display_name.trim().is_empty() {
                id.to_string()
            } else {
                r.display_name.trim().to_string()
            },
            id: id.to_string(),
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
        who.require(COORDINATORS, "ListOrganizations")?;
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

    #[tracing::instrument(skip_all, fields(rpc = "RegisterAgencyKey"))]
    async fn register_agency_key(
        &self,
        req: Request<pb::RegisterAgencyKeyRequest>,
    ) -> Result<Response<pb::AgencyKey>, Status> {
        let who = caller!(self.0, req);
        who.require(COORDINATORS, "RegisterAgencyKey")?;
        let r = req.into_inner();
        org_id("agency_id", &r.agency_id)?;
        if r.kid.trim().is_empty() || r.kid.len() > 128 {
            return Err(ApiError::invalid("kid", "kid must have 1 to 128 characters").into());
        }
        signing::check_public_key(r.public_key_pem.as_bytes())
            .map_err(|e| ApiError::invalid("public_key_pem", e.to_string()))?;
        match self
            .0
            .store
            .get_organization(&r.agency_id)
            .await
            .map_err(ApiError::from)?
        {
            Some(o) if o.role == Role::Agency => {}
            _ => {
                return Err(ApiError::FailedPrecondition(format!(
                    "{} is not a registered agency",
                    r.agency_id
                ))
                .into());
            }
        }
        let key = model::AgencyKey {
            kid: r.kid,
            agency_id: r.agency_id,
            public_key_pem: r.public_key_pem,
            registered_at: now_millis(),
            revoked_at: None,
            revoke_reason: None,
        };
        let key = self
            .0
            .store
            .insert_agency_key(&key, &who.id)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(kid = %key.kid, agency = %key.agency_id, "agency key registered");
        Ok(Response::new(convert::agency_key(key)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RevokeAgencyKey"))]
    async fn revoke_agency_key(
        &self,
        req: Request<pb::RevokeAgencyKeyRequest>,
    ) -> Result<Response<pb::AgencyKey>, Status> {
        let who = caller!(self.0, req);
        who.require(COORDINATORS, "RevokeAgencyKey")?;
        let r = req.into_inner();
        let key = self
            .0
            .store
            .revoke_agency_key(&r.kid, &r.reason, now_millis(), &who.id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("unknown key {:?}", r.kid)))?;
        tracing::info!(kid = %key.kid, "agency key revoked");
        Ok(Response::new(convert::agency_key(key)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetAgencyKeys"))]
    async fn get_agency_keys(
        &self,
        req: Request<pb::GetAgencyKeysRequest>,
    ) -> Result<Response<pb::GetAgencyKeysResponse>, Status> {
        let who = caller!(self.0, req);
        who.require(EVERYONE, "GetAgencyKeys")?;
        let r = req.into_inner();
        let keys = if r.kid.is_empty() {
            self.0.store.list_agency_keys(&r.agency_ids).await
        } else {
            self.0.store.get_agency_key(&r.kid).await.map(|k| {
                k.into_iter()
                    .filter(|k| r.agency_ids.is_empty() || r.agency_ids.contains(&k.agency_id))
                    .collect()
            })
        }
        .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetAgencyKeysResponse {
            keys: keys.into_iter().map(convert::agency_key).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RegisterPlatform"))]
    async fn register_platform(
        &self,
        req: Request<pb::RegisterPlatformRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        let who = caller!(self.0, req);
        who.require(COORDINATORS, "RegisterPlatform")?;
        let r = req.into_inner();
        let name =
            PlatformName::parse(&r.name).map_err(|e| ApiError::invalid("name", e.to_string()))?;
        endpoint("endpoint", &r.endpoint)?;
        let store = &self.0.store;
        match store
            .get_organization(name.as_str())
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
                            id: name.to_string(),
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
        let p = store
            .upsert_platform(
                &model::Platform {
                    name: name.to_string(),
                    endpoint: r.endpoint,
                    display_name: display(&r.display_name, &name),
                    registered_at: now_millis(),
                },
                &who.id,
            )
            .await
            .map_err(ApiError::from)?;
        self.0.wake.platforms_changed();
        tracing::info!(platform = %p.name, endpoint = %p.endpoint, "platform registered");
        Ok(Response::new(convert::platform(p)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListPlatforms"))]
    async fn list_platforms(
        &self,
        req: Request<pb::ListPlatformsRequest>,
    ) -> Result<Response<pb::ListPlatformsResponse>, Status> {
        let who = caller!(self.0, req);
        who.require(EVERYONE, "ListPlatforms")?;
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
