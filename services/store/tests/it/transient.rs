//! Failures a retry can fix are told apart from real faults (`StoreError::is_transient`),
//! with real failures of each backend: SQLite's write lock held by another process past the
//! busy timeout, the PostgreSQL server going away (connections cut and refused); and a
//! retry after the cause went away succeeds.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use takedown_store::postgres::PgStore;
use takedown_store::sqlite::SqliteStore;
use takedown_store::testing::TestDb;
use takedown_store::*;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_process_is_transient() {
    let db = TestDb::sqlite().expect("temp dir");
    let s = SqliteStore::connect(db.url()).await.expect("connect");
    // An operator's tool holds the write lock.
    let mut tool = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::from_str(db.url()).expect("url"),
    )
    .await
    .expect("tool connects");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut tool)
        .await
        .expect("lock");
    let started = Instant::now();
    let e = s
        .upsert_organization(&org("agency-a", Role::Agency))
        .await
        .expect_err("the write lock is held");
    assert!(e.is_transient(), "{e:?} should be transient");
    assert!(started.elapsed() >= Duration::from_secs(5), "waited first");
    sqlx::query("ROLLBACK")
        .execute(&mut tool)
        .await
        .expect("unlock");
    s.upsert_organization(&org("agency-a", Role::Agency))
        .await
        .expect("the retry succeeds");

    // A fault a retry cannot fix is not transient.
    let e = sqlx::query("INSERT INTO organizations (id) VALUES ('x')")
        .execute(&mut tool)
        .await
        .expect_err("NOT NULL");
    assert!(!StoreError::from(e).is_transient());
}

/// A TCP relay between the store and the PostgreSQL server: stopping it is, for the store,
/// the server going away (connections cut, new ones refused) without touching the server.
struct Relay {
    port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: &str) -> Self {
        let mut r = Self {
            port: 0,
            upstream: upstream.to_string(),
            task: None,
        };
        r.resume().await;
        r
    }

    /// (Re)opens the relay on its port.
    async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind relay");
        self.port = listener.local_addr().expect("addr").port();
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Closes the relay and every connection through it.
    async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn through(url: &str, port: u16) -> String {
    let at = url.find('@').map_or("postgres://".len(), |i| i + 1);
    let end = url[at..].find('/').map_or(url.len(), |i| at + i);
    format!("{}127.0.0.1:{port}{}", &url[..at], &url[end..])
}

/// The host:port of a PostgreSQL URL.
fn authority(url: &str) -> String {
    let at = url.find('@').map_or("postgres://".len(), |i| i + 1);
    let end = url[at..].find('/').map_or(url.len(), |i| at + i);
    url[at..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_transient() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut relay = Relay::start(&authority(db.url())).await;
    let s = PgStore::connect(&through(db.url(), relay.port))
        .await
        .expect("connect through the relay");
    s.upsert_organization(&org("agency-a", Role::Agency))
        .await
        .expect("write");

    // The server goes away: every call fails, and says a retry can succeed.
    relay.cut().await;
    let e = s.get_organization("agency-a").await.expect_err("no server");
    assert!(e.is_transient(), "{e:?} should be transient");
    let e = s
        .upsert_organization(&org("agency-b", Role::Agency))
        .await
        .expect_err("no server");
    assert!(e.is_transient(), "{e:?} should be transient");

    // It is back: the retry succeeds, and the failed write left nothing.
    relay.resume().await;
    let got = s
        .get_organization("agency-a")
        .await
        .expect("the retry succeeds");
    assert_eq!(got.map(|o| o.role), Some(Role::Agency));
    assert_eq!(s.get_organization("agency-b").await.expect("read"), None);

    // A fault a retry cannot fix is not transient.
    let e = sqlx::query("INSERT INTO organizations (id) VALUES ('x')")
        .execute(s.pool())
        .await
        .expect_err("NOT NULL");
    assert!(!StoreError::from(e).is_transient());
    s.pool().close().await;
    relay.cut().await;
}
