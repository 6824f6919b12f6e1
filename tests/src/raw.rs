//! Calls to the hub with the request message as raw bytes: what the tests of framing and of
//! the authorization policy send, whatever the RPC's message types.

use std::time::Duration;

use bytes::{Buf, BufMut};
use takedown_protocol::ident::{Identity, IdentityRole, OrgId};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use crate::world::World;

/// Sends bytes as they are and takes the answer's bytes.
#[derive(Default)]
pub struct RawCodec;

pub struct RawEncoder;
pub struct RawDecoder;

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

/// A channel to the hub as `org`.
pub async fn channel(w: &World, org: &str) -> tonic::transport::Channel {
    let hub = Identity::new(IdentityRole::Hub, OrgId::parse("hub").expect("id"));
    takedown_net::connect(&w.hub.endpoint, &w.pki.material(org), Some(hub))
        .await
        .expect("connect")
}

/// A gRPC client on `org`'s channel, ready.
pub async fn client(w: &World, org: &str) -> tonic::client::Grpc<tonic::transport::Channel> {
    let mut grpc = tonic::client::Grpc::new(channel(w, org).await);
    grpc.ready().await.expect("ready");
    grpc
}

/// Calls `path` (`/package.Service/Method`) as `org` with `bytes` as the request message.
pub async fn call(w: &World, org: &str, path: &str, bytes: Vec<u8>) -> Result<Vec<u8>, Status> {
    let path = http::uri::PathAndQuery::try_from(path).expect("an RPC path");
    client(w, org)
        .await
        .unary(tonic::Request::new(bytes), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Opens the server stream `path` as `org` with `bytes` as the request message, and waits
/// up to `wait` for its first message: the stream's error, or `Ok` (a message came, or
/// none yet: the call was taken).
pub async fn open_stream(
    w: &World,
    org: &str,
    path: &str,
    bytes: Vec<u8>,
    wait: Duration,
) -> Result<(), Status> {
    let path = http::uri::PathAndQuery::try_from(path).expect("an RPC path");
    let mut stream = client(w, org)
        .await
        .server_streaming(tonic::Request::new(bytes), path, RawCodec)
        .await?
        .into_inner();
    match tokio::time::timeout(wait, stream.message()).await {
        Ok(Err(status)) => Err(status),
        _ => Ok(()),
    }
}
