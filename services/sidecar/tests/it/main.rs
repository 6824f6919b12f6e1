//! Integration tests of the sidecar: the real `run` over mTLS against a fake hub
//! (`takedown_tests::receiver`).

mod check_config;
mod deliver;
mod handoff;
mod outbox;
mod retention;
