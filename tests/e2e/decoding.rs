//! Requests that do not decode are the caller's error: INVALID_ARGUMENT naming the message
//! type, on the hub's services, for every caller role; not INTERNAL.

use bytes::{Buf, BufMut};
use takedown_protocol::ident::{Identity, IdentityRole, OrgId};
use takedown_tests::{Backend, hub::HubOptions, pki::COORDINATOR, world::World};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

both_backends!(undecodable_requests_are_invalid_argument);

/// Sends bytes as they are and takes the answer's bytes.
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Calls `path` as `org` with `bytes` as the request message.
async fn call(w: &World, org: &str, path: &'static str, bytes: Vec<u8>) -> Result<Vec<u8>, Status> {
    let hub = Identity::new(IdentityRole::Hub, OrgId::parse("hub").expect("id"));
    let ch = takedown_net::connect(&w.hub.endpoint, &w.pki.material(org), Some(hub))
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.expect("ready");
    grpc.unary(
        tonic::Request::new(bytes),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
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
