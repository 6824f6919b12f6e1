//! The hub's API errors, mapped to `tonic::Status` in exactly one place ([`From<ApiError>`]).
//!
//! Clients get a precise code and a message that names the failing field or item; internal
//! failures are logged with their cause chain and returned as an opaque `internal`.

use takedown_store::StoreError;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Everything an RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or fails a check; `field` names what failed
    /// (e.g. `items[17].platform`).
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    ResourceExhausted(String),
    /// A retry can succeed (the database is unreachable, busy or resolving a conflict); the
    /// call changed nothing. `retry_after` is the delay the client is told to wait.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An invalid item: the message starts with `item <index>: `.
    /// A checked id from request field `field`: INVALID_ARGUMENT naming the field when
    /// `value` is not one.
    pub fn parse_id<T>(field: &str, value: &str) -> Result<T, Self>
    where
        T: std::str::FromStr<Err = takedown_protocol::ident::IdentError>,
    {
        value
            .parse()
            .map_err(|e: takedown_protocol::ident::IdentError| Self::invalid(field, e.to_string()))
    }

    pub fn item(index: usize, field: &str, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: format!("items[{index}].{field}"),
            message: format!("item {index}: {message}"),
        }
    }
}

/// How long a client is told to wait before retrying a call the database could not take.
pub const DATABASE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::AlreadyExists(m),
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Invalid { field, message } => Self::invalid(field, message),
            e if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable; the caller is told to retry");
                Self::Unavailable {
                    message: "the hub's database is unavailable just now; the call changed \
                              nothing and can be retried"
                        .into(),
                    retry_after: DATABASE_RETRY_AFTER,
                }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Invalid { field, message } => {
                let mut details = tonic_types::ErrorDetails::new();
                details.add_bad_request_violation(field, message.clone());
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ApiError::Unauthenticated(m) => Status::unauthenticated(m),
            ApiError::PermissionDenied(m) => Status::permission_denied(m),
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::FailedPrecondition(m) => Status::failed_precondition(m),
            ApiError::ResourceExhausted(m) => Status::resource_exhausted(m),
            ApiError::Unavailable {
                message,
                retry_after,
            } => Status::with_error_details(
                Code::Unavailable,
                message,
                tonic_types::ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn invalid_items_carry_a_field_violation() {
        let s: Status = ApiError::item(17, "platform", "unknown platform \"myspace\"").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "item 17: unknown platform \"myspace\"");
        let details = s.get_error_details();
        let v = &details.bad_request().unwrap().field_violations[0];
        assert_eq!(v.field, "items[17].platform");
    }

    #[test]
    fn transient_database_errors_are_unavailable_with_a_retry_delay() {
        let s: Status = ApiError::from(StoreError::Database(sqlx::Error::PoolTimedOut)).into();
        assert_eq!(s.code(), Code::Unavailable);
        let retry = s.get_error_details().retry_info().cloned().unwrap();
        assert_eq!(retry.retry_delay, Some(DATABASE_RETRY_AFTER));
        // A fault that a retry cannot fix stays internal.
        let s: Status = ApiError::from(StoreError::Database(sqlx::Error::RowNotFound)).into();
        assert_eq!(s.code(), Code::Internal);
    }

    #[test]
    fn internal_errors_are_opaque() {
        let s: Status = ApiError::Internal("disk on fire at /var/x".into()).into();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(s.message(), "internal error");
    }
}
