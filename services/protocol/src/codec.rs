//! The gRPC codec of every `takedown.v1` service and client: prost's, except that
//!
//! - a message that does not decode is `INVALID_ARGUMENT` naming the message type (what the
//!   sender sent is wrong; a retry of the same bytes cannot help) instead of prost's
//!   `INTERNAL`, which callers cannot tell from a server fault;
//! - a call that carries a second request message is `INVALID_ARGUMENT` too. Every method
//!   takes exactly one request (unary or server streaming: `build.rs` stops on a
//!   client-streaming one); tonic reads the first and would drop the rest unread, so a
//!   client that sent two could believe both were handled. The server reads the whole request
//!   before it calls the method, so nothing of such a call is acted on.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// Set as the codec of the generated code (`codec_path` in `build.rs`).
#[derive(Debug, Clone)]
pub struct ProtoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProtoDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProtoDecoder {
            decoded: false,
            message: PhantomData,
        }
    }
}

/// Decodes the `U`s of one call; an undecodable message, and a request message after the
/// first, are `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct ProtoDecoder<U> {
    decoded: bool,
    message: PhantomData<U>,
}

impl<U: Message + Default> Decoder for ProtoDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // Responses of a server stream come many to a call; requests one.
        if self.decoded && is_request::<U>() {
            return Err(Status::invalid_argument(format!(
                "the call carried more than one takedown.v1.{}: every method takes exactly \
                 one request message",
                message_name::<U>()
            )));
        }
        let m = U::decode(buf).map_err(|e| {
            Status::invalid_argument(format!(
                "the message is not a valid takedown.v1.{}: {e}",
                message_name::<U>()
            ))
        })?;
        self.decoded = true;
        Ok(Some(m))
    }
}

include!(concat!(env!("OUT_DIR"), "/request_messages.rs"));

/// Whether `U` is the request message of some method.
fn is_request<U>() -> bool {
    REQUEST_MESSAGES.contains(&message_name::<U>())
}

/// The message's name (the last segment of its Rust type name).
fn message_name<U>() -> &'static str {
    let full = std::any::type_name::<U>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::{is_request, message_name};
    use crate::pb;

    #[test]
    fn knows_requests_from_responses() {
        assert!(is_request::<pb::DeliverRequest>());
        assert!(is_request::<pb::WatchKeySetRequest>());
        assert!(!is_request::<pb::KeySetStatement>());
        assert!(!is_request::<pb::ActionDaySummary>());
    }

    #[test]
    fn names_the_message() {
        assert_eq!(
            message_name::<crate::pb::SubmitReferralListRequest>(),
            "SubmitReferralListRequest"
        );
    }
}
