//! Requests that do not decode are the caller's error: INVALID_ARGUMENT naming the message
//! type, on the hub's services, for every caller role; not INTERNAL.

use prost::Message;
use takedown_tests::{
    Backend,
    hub::HubOptions,
    lists::{referral, request},
    pki::COORDINATOR,
    raw::{self, RawCodec},
    world::World,
};
use tonic::{Code, Status};

both_backends!(
    undecodable_requests_are_invalid_argument,
    a_second_request_message_is_refused_and_nothing_is_done,
    a_missing_or_cut_message_is_invalid_argument
);

/// Calls `path` as `org` with `bytes` as the request message.
async fn call(w: &World, org: &str, path: &'static str, bytes: Vec<u8>) -> Result<Vec<u8>, Status> {
    raw::call(w, org, path, bytes).await
}

/// Calls `path` as `org` with each of `messages` as a request message, in one call.
async fn call_many(
    w: &World,
    org: &str,
    path: &'static str,
    messages: Vec<Vec<u8>>,
) -> Result<Vec<u8>, Status> {
    raw::client(w, org)
        .await
        .client_streaming(
            tonic::Request::new(tokio_stream::iter(messages)),
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
}

async fn a_second_request_message_is_refused_and_nothing_is_done(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let key = w.key("agency-fr");
    let one = request(&key.list("two-1", None, vec![referral("telegram", "@a")]));
    let two = request(&key.list("two-2", None, vec![referral("telegram", "@b")]));
    let path = "/takedown.v1.ReferralService/SubmitReferralList";
    let e = call_many(
        &w,
        "agency-fr",
        path,
        vec![one.encode_to_vec(), two.encode_to_vec()],
    )
    .await
    .expect_err("two requests in one unary call");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message()
            .contains("more than one takedown.v1.SubmitReferralListRequest"),
        "{}",
        e.message()
    );
    assert_eq!(w.db.count("lists").await, 0, "neither list was taken in");
    // One message in the same way is a normal call.
    call_many(&w, "agency-fr", path, vec![one.encode_to_vec()])
        .await
        .expect("one request message");
    assert_eq!(w.db.count("lists").await, 1);
}

/// POSTs `body` as it is (gRPC frames or not) to `path` as `org`; the call's status.
async fn post_raw(w: &World, org: &str, path: &str, body: Vec<u8>) -> Status {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", w.hub.endpoint))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(body),
        )))
        .expect("request");
    let resp = tower::ServiceExt::oneshot(raw::channel(w, org).await, req)
        .await
        .expect("an answer");
    if let Some(s) = Status::from_header_map(resp.headers()) {
        return s;
    }
    let collected = resp.into_body().collect().await.expect("the answer's body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    Status::from_header_map(&trailers).expect("a grpc-status")
}

async fn a_missing_or_cut_message_is_invalid_argument(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let path = "/takedown.v1.ReferralService/GetListStatus";
    // No message at all, and a frame that says 10 bytes and carries 3.
    let cases: [(Vec<u8>, &str); 2] = [
        (Vec::new(), "no request message"),
        (vec![0, 0, 0, 0, 10, 0x0a, 0x01, b'x'], "cut short"),
    ];
    for (body, says) in cases {
        let s = post_raw(&w, "agency-fr", path, body.clone()).await;
        assert_eq!(s.code(), Code::InvalidArgument, "{body:?}: {s:?}");
        assert!(s.message().contains(says), "{body:?}: {}", s.message());
    }
    // A whole frame through the same path is a normal call (a list that is not there).
    let whole = vec![0, 0, 0, 0, 3, 0x0a, 0x01, b'x'];
    assert_eq!(
        post_raw(&w, "agency-fr", path, whole).await.code(),
        Code::NotFound
    );
}

async fn undecodable_requests_are_invalid_argument(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // A field tag with wire type 7 (invalid), a truncated varint, a length past the end.
    let garbage: [Vec<u8>; 3] = [vec![0x0f], vec![0x08, 0xff], vec![0x0a, 0x7f, 0x01]];
    let cases = [
        (
            "agency-fr",
            "/takedown.v1.ReferralService/SubmitReferralList",
            "SubmitReferralListRequest",
        ),
        (
            "telegram",
            "/takedown.v1.PlatformService/ReportOutcomes",
            "ReportOutcomesRequest",
        ),
        (
            COORDINATOR,
            "/takedown.v1.ActionDayService/CreateActionDay",
            "CreateActionDayRequest",
        ),
    ];
    for (org, path, message) in cases {
        for bytes in &garbage {
            let e = call(&w, org, path, bytes.clone())
                .await
                .expect_err("garbage is refused");
            assert_eq!(e.code(), Code::InvalidArgument, "{path} {bytes:?}: {e:?}");
            assert!(e.message().contains(message), "{path}: {}", e.message());
        }
    }
    // The same call with a valid message still works (an empty one decodes and is refused
    // by the RPC's own checks, naming a field).
    let e = call(&w, "agency-fr", cases[0].1, Vec::new())
        .await
        .expect_err("an empty list is refused");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(!e.message().contains("not a valid"), "{}", e.message());
}
