//! Checked identifiers: organisation ids, platform names, and the identity URI that
//! client and server certificates carry (`urn:takedown:<role>:<id>`).

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} is too long (at most 64 characters)")]
    TooLong { what: &'static str, value: String },
    #[error("{what} {value:?} may only hold a-z, 0-9, '-', '_' and '.'")]
    BadChar { what: &'static str, value: String },
    #[error("identity URI {0:?} is not of the form urn:takedown:<role>:<id>")]
    BadUri(String),
}

fn check(what: &'static str, value: &str) -> Result<(), IdentError> {
    if value.is_empty() {
        return Err(IdentError::Empty { what });
    }
    if value.len() > 64 {
        return Err(IdentError::TooLong {
            what,
            value: value.to_string(),
        });
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    {
        return Err(IdentError::BadChar {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// An organisation id: lower-case, 1–64 of `a-z 0-9 - _ .`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        check("organisation id", value)?;
        Ok(Self(value.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A platform name as used in referrals (`telegram`, `x`, ...). Input is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformName(String);

impl PlatformName {
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        let lower = value.trim().to_ascii_lowercase();
        let canonical = match lower.as_str() {
            "twitter" => "x".to_string(),
            _ => lower,
        };
        check("platform name", &canonical)?;
        Ok(Self(canonical))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlatformName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The role an identity acts in. `Hub` is the hub's own certificate (server, and client
/// towards sidecars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityRole {
    Agency,
    Platform,
    Coordinator,
    Hub,
}

impl IdentityRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Platform => "platform",
            Self::Coordinator => "coordinator",
            Self::Hub => "hub",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "agency" => Self::Agency,
            "platform" => Self::Platform,
            "coordinator" => Self::Coordinator,
            "hub" => Self::Hub,
            _ => return None,
        })
    }
}

/// The role an organisation has in the directory, and a caller acts in: the one role type
/// of the hub, its store and its tools (the wire's `takedown.v1.Role` adds only
/// `UNSPECIFIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Role {
    Agency = 1,
    Platform = 2,
    Coordinator = 3,
}

impl Role {
    /// The role as a word, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Platform => "platform",
            Self::Coordinator => "coordinator",
        }
    }

    pub fn to_pb(self) -> crate::pb::Role {
        match self {
            Self::Agency => crate::pb::Role::Agency,
            Self::Platform => crate::pb::Role::Platform,
            Self::Coordinator => crate::pb::Role::Coordinator,
        }
    }

    /// `None` for `UNSPECIFIED`.
    pub fn from_pb(role: crate::pb::Role) -> Option<Self> {
        match role {
            crate::pb::Role::Agency => Some(Self::Agency),
            crate::pb::Role::Platform => Some(Self::Platform),
            crate::pb::Role::Coordinator => Some(Self::Coordinator),
            crate::pb::Role::Unspecified => None,
        }
    }
}

/// The wire number of a role (as stored), back to the role.
impl TryFrom<i32> for Role {
    type Error = i32;

    fn try_from(v: i32) -> Result<Self, i32> {
        crate::pb::Role::try_from(v)
            .ok()
            .and_then(Self::from_pb)
            .ok_or(v)
    }
}

/// The identity a certificate carries in its URI subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub role: IdentityRole,
    pub id: OrgId,
}

/// The URI scheme prefix of identity URIs.
pub const IDENTITY_URI_PREFIX: &str = "urn:takedown:";

impl Identity {
    pub fn new(role: IdentityRole, id: OrgId) -> Self {
        Self { role, id }
    }

    /// `urn:takedown:<role>:<id>`
    pub fn to_uri(&self) -> String {
        format!("{IDENTITY_URI_PREFIX}{}:{}", self.role.as_str(), self.id)
    }

    pub fn from_uri(uri: &str) -> Result<Self, IdentError> {
        let bad = || IdentError::BadUri(uri.to_string());
        let rest = uri.strip_prefix(IDENTITY_URI_PREFIX).ok_or_else(bad)?;
        let (role, id) = rest.split_once(':').ok_or_else(bad)?;
        let role = IdentityRole::parse(role).ok_or_else(bad)?;
        Ok(Self {
            role,
            id: OrgId::parse(id).map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.role.as_str(), self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_checked() {
        assert!(OrgId::parse("agency-fr").is_ok());
        assert!(OrgId::parse("").is_err());
        assert!(OrgId::parse("Agency").is_err());
        assert!(OrgId::parse("a b").is_err());
        assert!(OrgId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn platform_names_are_lower_cased_and_twitter_is_x() {
        assert_eq!(
            PlatformName::parse("Telegram").unwrap().as_str(),
            "telegram"
        );
        assert_eq!(PlatformName::parse("twitter").unwrap().as_str(), "x");
        assert!(PlatformName::parse("").is_err());
    }

    #[test]
    fn identity_uri_round_trips() {
        let id = Identity::new(IdentityRole::Agency, OrgId::parse("agency-fr").unwrap());
        assert_eq!(id.to_uri(), "urn:takedown:agency:agency-fr");
        assert_eq!(Identity::from_uri(&id.to_uri()).unwrap(), id);
        assert!(Identity::from_uri("urn:takedown:king:x").is_err());
        assert!(Identity::from_uri("https://x").is_err());
    }
}
