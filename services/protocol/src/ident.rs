//! Checked identifiers: organisation ids, platform names, and the identity URI that
//! client and server certificates carry (`urn:takedown:<role>:<id>`).

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} is too long (at most {max} characters)")]
    TooLong {
        what: &'static str,
        value: String,
        max: usize,
    },
    #[error("{what} {value:?} may only hold a-z, 0-9, '-', '_' and '.'")]
    BadChar { what: &'static str, value: String },
    #[error("{what} {value:?} holds a control character")]
    Control { what: &'static str, value: String },
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
            max: 64,
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

/// The string ids' common surface: `as_str`, `Display`, `Deref<Target = str>`, `AsRef<str>`,
/// `Borrow<str>` (so a set of ids can be searched with a `&str`), `Into<String>`, serde as a
/// string (deserializing checks it), and with the `sqlx` feature
/// their column encoding (a text column; decoding checks the stored value again, so a
/// value written around the store is a decoding error naming its column).
macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Debug-prints as the string (`"day-1"`), so that messages quoting an id with
        /// `{:?}` read the same as before the id had a type.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// An id reads as the text it is (the other way round takes a `parse`).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdentError;
            fn from_str(s: &str) -> Result<Self, IdentError> {
                Self::parse(s)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Deserializing checks the value like `parse`.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }

        #[cfg(feature = "sqlx-postgres")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <String as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(Self::parse(&s)?)
            }
        }
    };
}

/// An organisation id: lower-case, 1–64 of `a-z 0-9 - _ .`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        check("organisation id", value)?;
        Ok(Self(value.to_string()))
    }
}
string_id!(OrgId);

/// A platform name as used in referrals (`telegram`, `x`, ...). Input is lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// The platform's organisation id (a platform is registered as the organisation of
    /// its name; every platform name is a valid organisation id).
    pub fn org_id(&self) -> OrgId {
        OrgId(self.0.clone())
    }
}
string_id!(PlatformName);

/// An action day's id: 1–64 of `a-z 0-9 - _ .` (the hub makes a UUID when none is asked for).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionDayId(String);

impl ActionDayId {
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        check("action day id", value)?;
        Ok(Self(value.to_string()))
    }
}
string_id!(ActionDayId);

/// A hold's id (a UUID the hub makes): 1–64 of `a-z 0-9 - _ .`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldId(String);

impl HoldId {
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        check("hold id", value)?;
        Ok(Self(value.to_string()))
    }
}
string_id!(HoldId);

/// A referral list's id, the `jti` of its signature: 1–128 bytes the agency chooses, with
/// no control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(String);

impl ListId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: &str) -> Result<Self, IdentError> {
        let what = "list id";
        if value.is_empty() {
            return Err(IdentError::Empty { what });
        }
        if value.len() > Self::MAX_LEN {
            return Err(IdentError::TooLong {
                what,
                value: value.to_string(),
                max: Self::MAX_LEN,
            });
        }
        if value.chars().any(char::is_control) {
            return Err(IdentError::Control {
                what,
                value: value.to_string(),
            });
        }
        Ok(Self(value.to_string()))
    }
}
string_id!(ListId);

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
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
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
