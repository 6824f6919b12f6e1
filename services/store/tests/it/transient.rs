//! Failures a retry can fix are told apart from real faults (`StoreError::is_transient`),
//! with real failures of each backend: SQLite's write lock held by another process past the
//! busy timeout, the PostgreSQL server going away (connections cut and refused); and a
//! retry after the cause went away succeeds.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use takedown_store::postgres::PgStore;
use takedown_store::sqlite::SqliteStore;
use takedown_store::testing::{TcpRelay, TestDb};
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
        .upsert_organization(&org("agency-a", Role::Agency), &checked("europol"))
        .await
        .expect_err("the write lock is held");
    assert!(e.is_transient(), "{e:?} should be transient");
    assert!(started.elapsed() >= Duration::from_secs(5), "waited first");
    sqlx::query("ROLLBACK")
        .execute(&mut tool)
        .await
        .expect("unlock");
    s.upsert_organization(&org("agency-a", Role::Agency), &checked("europol"))
        .await
        .expect("the retry succeeds");

    // A fault a retry cannot fix is not transient.
    let e = sqlx::query("INSERT INTO organizations (id) VALUES ('x')")
        .execute(&mut tool)
        .await
        .expect_err("NOT NULL");
    assert!(!StoreError::from(e).is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_transient() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut relay = TcpRelay::start(db.url()).await;
    let s = PgStore::connect(&relay.url(db.url()))
        .await
        .expect("connect through the relay");
    s.upsert_organization(&org("agency-a", Role::Agency), &checked("europol"))
        .await
        .expect("write");

    // The server goes away: every call fails, and says a retry can succeed.
    relay.cut().await;
    let e = s
        .get_organization(&checked("agency-a"))
        .await
        .expect_err("no server");
    assert!(e.is_transient(), "{e:?} should be transient");
    let e = s
        .upsert_organization(&org("agency-b", Role::Agency), &checked("europol"))
        .await
        .expect_err("no server");
    assert!(e.is_transient(), "{e:?} should be transient");

    // It is back: the retry succeeds, and the failed write left nothing.
    relay.resume().await;
    let got = s
        .get_organization(&checked("agency-a"))
        .await
        .expect("the retry succeeds");
    assert_eq!(got.map(|o| o.role), Some(Role::Agency));
    assert_eq!(
        s.get_organization(&checked("agency-b"))
            .await
            .expect("read"),
        None
    );

    // A fault a retry cannot fix is not transient.
    let e = sqlx::query("INSERT INTO organizations (id) VALUES ('x')")
        .execute(s.pool())
        .await
        .expect_err("NOT NULL");
    assert!(!StoreError::from(e).is_transient());
    s.pool().close().await;
    relay.cut().await;
}
