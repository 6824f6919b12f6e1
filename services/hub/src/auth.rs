//! Who is calling: the organisation and role of the caller's client certificate.
//!
//! Coordinators are trusted by their certificate alone (they bootstrap the directory);
//! agencies and platforms must also be registered in the directory with the same role, so a
//! coordinator decides who takes part. The hub's own certificate may not call the hub.

use takedown_protocol::{ident::IdentityRole, pb};
use takedown_store::Store;
use tonic::Request;

use crate::error::{ApiError, ApiResult};

/// The roles a caller acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agency,
    Platform,
    Coordinator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Platform => "platform",
            Self::Coordinator => "coordinator",
        }
    }

    pub fn to_pb(self) -> pb::Role {
        match self {
            Self::Agency => pb::Role::Agency,
            Self::Platform => pb::Role::Platform,
            Self::Coordinator => pb::Role::Coordinator,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub role: Role,
}

impl Caller {
    pub fn is_coordinator(&self) -> bool {
        self.role == Role::Coordinator
    }

    pub fn require(&self, roles: &[Role], what: &str) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(format!(
                "{what} is not open to {} {}",
                self.role.as_str(),
                self.id
            )))
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
                id: identity.id.to_string(),
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
    let id = identity.id.to_string();
    match store.get_organization(&id).await? {
        Some(org) if org.role == role.to_pb() as i32 => Ok(Caller { id, role }),
        Some(_) => Err(ApiError::PermissionDenied(format!(
            "organisation {id} is not registered as {}",
            role.as_str()
        ))),
        None => Err(ApiError::PermissionDenied(format!(
            "organisation {id} is not registered in the directory"
        ))),
    }
}
