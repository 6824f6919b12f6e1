//! The takedown hub: signed intake, embargo and deconfliction holds, durable fan-out to
//! platform sidecars, outcomes and summaries, over gRPC with mutual TLS.
//!
//! # Layout
//!
//! - [`config`]: layered configuration (defaults → TOML → `TAKEDOWN_*`), validated.
//! - [`auth`]: the caller's organisation and role from its client certificate.
//! - [`error`]: API errors and their one mapping to `tonic::Status`.
//! - [`intake`]: verifying and storing a signed list.
//! - [`keys`]: agency keys from the coordinator-signed key-set statements.
//! - [`metrics`]: the Prometheus metrics of `/metrics`.
//! - [`release`]: the H-hour scheduler.
//! - [`retention`]: the background purge of item bytes and notes after the retention period.
//! - [`transparency`]: the TCO figures and statement-of-reasons rows of an action day.
//! - [`delivery`]: the outbox workers that fan targets out to sidecars.
//! - [`api`]: the gRPC services.
//! - [`audit_heads`]: signed heads of the audit chain.
//! - [`cli`]: the binary's command line and `main`.
//! - [`server`]: [`server::run`], the one entry point for the binary and the tests.
//! - [`telemetry`]: tracing setup.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit_heads;
pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod error;
pub mod intake;
pub mod keys;
pub mod metrics;
pub mod policy;
pub mod public_id;
pub mod release;
pub mod retention;
pub mod server;
pub mod telemetry;
pub mod transparency;

pub use config::Config;
pub use server::run;
