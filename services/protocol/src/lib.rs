//! The takedown wire contract and the pure functions every component shares: list
//! signing and verification, RFC 6962 Merkle trees with inclusion proofs, and target
//! normalization. No I/O lives here.
//!
//! # Layout
//!
//! - [`pb`]: the generated `takedown.v1` messages, clients and servers.
//! - [`audit`]: the audit log's canonical entry encoding, hash chain and offline verifier.
//! - [`codec`]: the gRPC codec: prost, with undecodable messages as `INVALID_ARGUMENT`.
//! - [`keyset`]: the coordinator-signed key-set statements and the trust that checks them.
//! - [`list`]: building and signing a referral list.
//! - [`merkle`]: Merkle root, inclusion proofs and their verification (RFC 6962 §2.1).
//! - [`signing`]: the list JWS (EdDSA): claims, sign, verify.
//! - [`removal_order`]: what a removal order must state (TCO Annex I), checked at both ends.
//! - [`rpcs`]: every RPC of `takedown.v1`, from the compiled descriptor set.
//! - [`staffing`]: a platform's staffed hours in its own time zone.
//! - [`target`]: per-platform normalization of targets (`@foo`, `t.me/foo`, ... → `foo`).
//! - [`ident`]: checked organisation ids, platform names and the certificate identity URI.
//! - [`timestamp`]: conversions between protobuf timestamps and Unix milliseconds.
#![forbid(unsafe_code)]

pub mod audit;
pub mod codec;
pub mod ident;
pub mod keyset;
pub mod list;
pub mod merkle;
pub mod removal_order;
pub mod rpcs;
pub mod signing;
pub mod staffing;
pub mod target;
pub mod timestamp;

/// Generated `takedown.v1` code.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("takedown.v1");

    /// Encoded file descriptor set of every `takedown.v1` proto, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/takedown_descriptor.bin"));
}
