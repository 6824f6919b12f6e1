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
//! - [`clients`]: typed gRPC clients acting as one organisation.
//! - [`lists`]: agency signing keys and signed lists.
//! - [`world`]: a registered world (coordinator, agencies, platforms, keys) ready to use.

pub mod bins;
pub mod clients;
pub mod coop;
pub mod db;
pub mod hub;
pub mod lists;
pub mod pki;
pub mod platform;
pub mod proc;
pub mod raw;
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

/// A free TCP port on 127.0.0.1 for a server started later, never the same twice in one
/// process. It is chosen below the kernel's ephemeral range (32768 and up on Linux), which
/// is where port 0 binds land: there, an outgoing connection (a pool connecting to the
/// database, say) could take the port between this check and the server's bind.
pub fn free_port() -> u16 {
    use rand::Rng;
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = rand::rng();
    for _ in 0..10_000 {
        let port = rng.random_range(20_000..32_000);
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in 20000..32000 on 127.0.0.1")
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
