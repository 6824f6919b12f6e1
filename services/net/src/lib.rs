//! Mutual TLS for every takedown connection: server and client configurations, the peer
//! identity a certificate carries, and the development PKI.
//!
//! Every certificate names its holder in a URI subject alternative name
//! `urn:takedown:<role>:<id>` ([`takedown_protocol::ident::Identity`]). Servers require a
//! client certificate from the shared CA; clients check the server's chain, its DNS name,
//! and that it carries the identity they expect (e.g. the hub checks that a sidecar's
//! certificate is the platform's).
//!
//! # Layout
//!
//! - [`tls`]: loading PEM material, server TLS config, the identity-checking client.
//! - [`peer`]: the identity of the caller of an RPC.
//! - [`pki`]: generating a development CA and certificates (rcgen).
//! - [`signal`]: SIGINT/SIGTERM for graceful shutdown.
//! - [`config`]: what the services' layered configurations share (their accepted keys).
//! - [`protocol_errors`]: a request that breaks the gRPC framing is the caller's error.
//!   Also the canonical names of gRPC codes (`code_name`).
//! - [`metrics`]: the Prometheus `/metrics` endpoint both services serve.
//! - [`telemetry`]: logs (filter, text or JSON, stderr) for every service.
//! - [`health`]: `grpc.health.v1` with one drain (every service NOT_SERVING at shutdown).
//! - [`tls::TlsPaths`]: the `[tls]` section every service's configuration has.
//! - [`service`]: ports by configuration key and the ready file, the one gRPC server
//!   builder, serving over mutual TLS with the drain.
#![forbid(unsafe_code)]

pub mod config;
pub mod health;
pub mod metrics;
pub mod peer;
pub mod pki;
pub mod protocol_errors;
pub mod service;
pub mod signal;
pub mod telemetry;
pub mod tls;

pub use peer::{identity_of_cert, peer_identity};
pub use tls::{TlsMaterial, connect, connect_lazy, install_crypto_provider, server_tls};
