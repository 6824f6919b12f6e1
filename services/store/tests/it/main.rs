//! The store conformance suite: every test body runs against SQLite (a file in a temp dir)
//! and PostgreSQL (a database of its own, skipped when the server is unreachable unless
//! `TAKEDOWN_REQUIRE_PG=1`).

#[macro_use]
mod support;

mod action_days;
mod audit;
mod connect;
mod directory;
mod intake;
mod outbox;
mod perf;
mod reports;
mod summaries;
mod summary_bench;
mod summary_facts;
mod summary_property;
mod transient;
