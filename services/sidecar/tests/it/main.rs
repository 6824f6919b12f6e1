//! Integration tests of the sidecar: the real `run` over mTLS against a fake hub.

mod check_config;
mod deliver;
mod handoff;
mod outbox;
mod retention;
mod support;
