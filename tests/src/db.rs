//! A database per test: a SQLite file in the test's temp dir, or a PostgreSQL database
//! created for the test and dropped afterwards.
//!
//! PostgreSQL comes from `TAKEDOWN_TEST_PG_URL` (default: the local server). When it is
//! unreachable the PostgreSQL tests print "skipped" and pass, unless `TAKEDOWN_REQUIRE_PG=1`
//! (CI), in which case they fail.

use std::path::Path;

use sqlx::{Connection, Row};

/// The backends, as the store names them.
pub use takedown_store::Backend;

/// A database for one test: a SQLite file in the test's directory (so that its files stay
/// beside the test's logs), or a fresh PostgreSQL database from
/// [`takedown_store::testing::TestDb`], dropped with it.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _postgres: Option<takedown_store::testing::TestDb>,
}

impl TestDb {
    /// A fresh database, or `None` when PostgreSQL is unreachable and not required.
    pub async fn new(backend: Backend, dir: &Path) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self {
                url: format!("sqlite:{}", dir.join("hub.db").display()),
                backend,
                _postgres: None,
            }),
            Backend::Postgres => {
                let db = takedown_store::testing::TestDb::postgres().await?;
                Some(Self {
                    url: db.url().to_string(),
                    backend,
                    _postgres: Some(db),
                })
            }
        }
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite");
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
                    .get::<i64, _>(0)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.expect("pg");
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
                    .get::<i64, _>(0)
            }
        }
    }

    /// A single integer from a query (e.g. a COUNT).
    pub async fn scalar(&self, sql: &str) -> i64 {
        let q = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite");
                sqlx::query(q)
                    .fetch_one(&mut c)
                    .await
                    .expect("scalar")
                    .get::<i64, _>(0)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.expect("pg");
                sqlx::query(q)
                    .fetch_one(&mut c)
                    .await
                    .expect("scalar")
                    .get::<i64, _>(0)
            }
        }
    }

    /// A hex blob literal in this backend's dialect.
    pub fn blob(&self, bytes: &[u8]) -> String {
        match self.backend {
            Backend::Sqlite => format!("X'{}'", hex::encode(bytes)),
            Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
        }
    }

    /// Row counts of the tables intake writes: lists, targets, referrals, deliveries.
    pub async fn intake_counts(&self) -> [i64; 4] {
        [
            self.count("lists").await,
            self.count("targets").await,
            self.count("referrals").await,
            self.count("deliveries").await,
        ]
    }

    /// Runs a statement (used to tamper with stored data).
    pub async fn execute(&self, sql: &str) -> u64 {
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite");
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .expect("execute")
                    .rows_affected()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.expect("pg");
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .expect("execute")
                    .rows_affected()
            }
        }
    }
}
