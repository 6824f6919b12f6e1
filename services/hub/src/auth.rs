//! Who is calling: the organisation and role of the caller's client certificate.
//!
//! Coordinators are trusted by their certificate alone (they bootstrap the directory);
//! agencies and platforms must also be registered in the directory with the same role, so a
//! coordinator decides who takes part. The hub's own certificate may not call the hub.

use takedown_protocol::ident::{IdentityRole, OrgId, PlatformName};
use takedown_store::Store;
use tonic::Request;

use crate::error::{ApiError, ApiResult};

/// The roles a caller acts in.
pub use takedown_protocol::ident::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: OrgId,
    pub role: Role,
}

impl Caller {
    /// A platform caller's platform: the one its organisation id names (PERMISSION_DENIED
    /// when the id is not a platform name as it stands, which registration prevents).
    pub fn platform(&self) -> ApiResult<PlatformName> {
        match PlatformName::parse(self.id.as_str()) {
            Ok(p) if p.as_str() == self.id.as_str() => Ok(p),
            _ => Err(ApiError::PermissionDenied(format!(
                "organisation {} is not a platform name",
                self.id
            ))),
        }
    }

    pub fn is_coordinator(&self) -> bool {
        self.role == Role::Coordinator
    }

    /// Whether the caller's role may call `rpc`, by the hub's one policy table
    /// ([`crate::policy::POLICY`]); an RPC with no policy is open to no one.
    pub fn authorize(&self, rpc: &str) -> ApiResult<()> {
        match crate::policy::roles(rpc) {
            Some(roles) if roles.contains(&self.role) => Ok(()),
            _ => Err(ApiError::PermissionDenied(format!(
                "{rpc} is not open to {} {}",
                self.role.as_str(),
                self.id
            ))),
        }
    }
}

/// Authenticates the caller of `req` from its client certificate and the directory.
pub async fn authenticate<S: Store, T>(store: &S, req: &Request<T>) -> ApiResult<Caller> {
    let identity =
        takedown_net::peer_identity(req).map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    let role = match identity.role {
        IdentityRole::Coordinator => {
            return Ok(Caller {
                id: identity.id,
                role: Role::Coordinator,
            });
        }
        IdentityRole::Agency => Role::Agency,
        IdentityRole::Platform => Role::Platform,
        IdentityRole::Hub => {
            return Err(ApiError::PermissionDenied(
                "a hub certificate cannot call the hub's API".into(),
            ));
        }
    };
    let id = identity.id;
    match store.get_organization(&id).await? {
        Some(org) if org.role == role => Ok(Caller { id, role }),
        Some(_) => Err(ApiError::PermissionDenied(format!(
            "organisation {id} is not registered as {}",
            role.as_str()
        ))),
        None => Err(ApiError::PermissionDenied(format!(
            "organisation {id} is not registered in the directory"
        ))),
    }
}
