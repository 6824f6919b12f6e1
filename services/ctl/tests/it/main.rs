//! Runs the real `takedownctl` binary: certificates, keys, list signing, error lines, and
//! the hub commands against a stand-in hub over mutual TLS.

mod audit;
mod helpers;
mod hub_calls;
mod offline;
mod report;
