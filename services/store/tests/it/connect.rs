//! Connecting: URL schemes, in-memory SQLite, reopening a migrated database.

use takedown_store::sqlite::SqliteStore;
use takedown_store::testing::TestDb;
use takedown_store::*;

use crate::support::*;

#[test]
fn backend_is_chosen_by_url_prefix() {
    assert_eq!(Backend::of_url("sqlite:hub.db").unwrap(), Backend::Sqlite);
    assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
    assert_eq!(
        Backend::of_url("postgres://h/db").unwrap(),
        Backend::Postgres
    );
    assert_eq!(
        Backend::of_url("postgresql://h/db").unwrap(),
        Backend::Postgres
    );
    assert!(matches!(
        Backend::of_url("mysql://h/db"),
        Err(StoreError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn in_memory_sqlite_is_one_database() {
    let s = SqliteStore::connect("sqlite::memory:").await.unwrap();
    // Work spread over several tasks still sees one database.
    let sum = submit(&s, "l", T0, &[("video", "a"), ("video", "b")]).await;
    let l = checked("l");
    let (x, y) = tokio::join!(s.get_list(&l), s.list_items(&l, T0));
    assert_eq!(x.unwrap().unwrap().new_targets, 2);
    assert_eq!(y.unwrap().len(), 2);
    assert_eq!(
        s.claim_deliveries(&checked("video"), T0, T0 + 1, 10)
            .await
            .unwrap()
            .len(),
        sum.target_ids.len()
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations() {
    let db = TestDb::sqlite().unwrap();
    let s = SqliteStore::connect(db.url()).await.unwrap();
    submit(&s, "l", T0, &[("video", "a")]).await;
    let migrations = s.count("_sqlx_migrations").await;
    assert!(migrations >= 1);
    s.close().await;
    let again = SqliteStore::connect(db.url()).await.unwrap();
    assert!(again.get_list(&checked("l")).await.unwrap().is_some());
    assert_eq!(again.count("_sqlx_migrations").await, migrations);
}

#[tokio::test]
async fn reopening_postgres_keeps_data_and_migrations() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let s = postgres::PgStore::connect(db.url()).await.unwrap();
    submit(&s, "l", T0, &[("video", "a")]).await;
    let migrations = s.count("_sqlx_migrations").await;
    assert!(migrations >= 1);
    s.pool().close().await;
    let again = postgres::PgStore::connect(db.url()).await.unwrap();
    assert!(again.get_list(&checked("l")).await.unwrap().is_some());
    assert_eq!(again.count("_sqlx_migrations").await, migrations);
    again.pool().close().await;
}
