//! Requests that break the gRPC framing, answered as the caller's error; and
//! [`code_name`], the canonical name of a gRPC code, for messages and metric labels.
//!
//! tonic answers a call that carries no request message ("Missing request message.") and
//! one whose body ends inside a message frame ("Unexpected EOF decoding stream.") with
//! INTERNAL, which a client cannot tell from a server fault and may retry for ever. Both
//! are what the caller sent wrong, so [`layer`] rewrites exactly these two answers to
//! INVALID_ARGUMENT with a plain sentence; every other status passes unchanged (a
//! compressed-flag error stays INTERNAL, as the gRPC specification requires).

use http::Response;
use tonic::{Code, Status, body::Body};
use tower::util::MapResponseLayer;

/// The rewrite, as a layer for `tonic::transport::Server::builder().layer(..)`.
pub fn layer() -> MapResponseLayer<fn(Response<Body>) -> Response<Body>> {
    MapResponseLayer::new(rewrite)
}

/// The caller's version of a framing error tonic answered as INTERNAL, if it is one.
fn plain(status: &Status) -> Option<&'static str> {
    if status.code() != Code::Internal {
        return None;
    }
    match status.message() {
        "Missing request message." => Some("the call carried no request message"),
        "Unexpected EOF decoding stream." => {
            Some("the request ended inside a message: its last frame is cut short")
        }
        _ => None,
    }
}

fn rewrite(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    if let Some(message) = Status::from_header_map(headers).as_ref().and_then(plain) {
        // Both headers are set again; a failure leaves tonic's answer as it was.
        if let Err(e) = Status::invalid_argument(message).add_header(headers) {
            tracing::warn!(error = %e, "could not rewrite a framing error");
        }
    }
    response
}

/// The canonical gRPC name of a status code (`INVALID_ARGUMENT`, ...).
pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: Status) -> Status {
        let mut r = Response::new(Body::empty());
        status.add_header(r.headers_mut()).unwrap();
        Status::from_header_map(rewrite(r).headers()).unwrap()
    }

    #[test]
    fn framing_errors_become_the_callers_and_nothing_else_changes() {
        let s = answered(Status::internal("Missing request message."));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "the call carried no request message");
        let s = answered(Status::internal("Unexpected EOF decoding stream."));
        assert_eq!(s.code(), Code::InvalidArgument);
        for other in [
            Status::internal("internal error"),
            Status::unavailable("Missing request message."),
            Status::not_found("list \"a\" not found"),
        ] {
            let (code, message) = (other.code(), other.message().to_string());
            let s = answered(other);
            assert_eq!((s.code(), s.message()), (code, message.as_str()));
        }
    }
}
