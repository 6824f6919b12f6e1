//! Harness for takedown's end-to-end tests: the real `takedown-hub` and `takedown-sidecar`
//! binaries as child processes, talking real gRPC over mutual TLS on 127.0.0.1, on a fresh
//! SQLite file or a fresh PostgreSQL database per test.
//!
//! # Layout
//!
//! - [`bins`]: building and locating the binaries.
//! - [`pki`]: a development PKI per test (and an untrusted one).
//! - [`proc`]: a child process of a binary under test, with its log.
//! - [`db`]: a database per test, both backends, and row counts.
//! - [`hub`]: a hub process (start, kill -9, restart, stop).
//! - [`sidecar`]: a sidecar process.
//! - [`platform`]: a platform's webhook receiver that records what the platform saw.
//! - [`cli`]: running a command-line binary and what a run gave.
//! - [`clients`]: typed gRPC clients acting as one organisation.
//! - [`lists`]: agency signing keys and signed lists.
//! - [`world`]: a registered world (coordinator, agencies, platforms, keys) ready to use.
//! - [`receiver`]: a sidecar in-process against a fake hub, for the sidecar's own tests.
//! - [`coop`]: a stand-in of ROOST Coop for the coop integration.
//! - [`raw`]: a gRPC codec of raw bytes, for requests no typed client can send.

pub mod bins;
pub mod cli;
pub mod clients;
pub mod coop;
pub mod db;
pub mod hub;
pub mod lists;
pub mod pki;
pub mod platform;
pub mod proc;
pub mod raw;
pub mod receiver;
pub mod sidecar;
pub mod world;

pub use db::Backend;

/// How long end-to-end tests wait for something that should happen (generous: the machine
/// is shared and small).
pub const LONG: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits for `cond` up to `timeout`, polling every 50 ms.
pub async fn eventually<F, Fut>(timeout: std::time::Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Writes a service's configuration as its real struct serializes it to TOML: a test cannot
/// write a key the service does not have, and every key it leaves alone keeps its default.
pub fn write_toml(path: &std::path::Path, config: &impl serde::Serialize) {
    let text = toml::to_string(config).expect("the configuration serializes to TOML");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// One scrape of a `/metrics` endpoint (`http://host:port/metrics`): its content type and
/// body. Panics when it does not answer 200.
pub async fn scrape(url: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http:// url");
    let (authority, path) = rest.split_once('/').expect("a path");
    let mut s = tokio::net::TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("sending the scrape");
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .await
        .expect("reading the scrape");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{url} answered:\n{head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (content_type, body.to_string())
}

/// The value of the series `series` (name and labels exactly as exposed, e.g.
/// `takedown_hub_lists_accepted_total`) in OpenMetrics text, if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(series)?.strip_prefix(' ')?;
        v.split(' ').next()?.parse().ok()
    })
}
