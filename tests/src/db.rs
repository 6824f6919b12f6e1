//! A database per test: a SQLite file in the test's temp dir, or a PostgreSQL database
//! created for the test and dropped afterwards.
//!
//! PostgreSQL comes from `TAKEDOWN_TEST_PG_URL` (default: the local server). When it is
//! unreachable the PostgreSQL tests print "skipped" and pass, unless `TAKEDOWN_REQUIRE_PG=1`
//! (CI), in which case they fail.

use std::path::Path;

use sqlx::{Connection, Executor, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("TAKEDOWN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

pub fn pg_required() -> bool {
    std::env::var("TAKEDOWN_REQUIRE_PG").is_ok_and(|v| v == "1")
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pg_name: Option<String>,
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let cut = base
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDb {
    /// A fresh database, or `None` when PostgreSQL is unreachable and not required.
    pub async fn new(backend: Backend, dir: &Path) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self {
                url: format!("sqlite:{}", dir.join("hub.db").display()),
                backend,
                pg_name: None,
            }),
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) if !pg_required() => {
                        eprintln!("skipped: PostgreSQL unreachable at {admin}: {e}");
                        return None;
                    }
                    Err(e) => panic!(
                        "PostgreSQL is required (TAKEDOWN_REQUIRE_PG=1) but unreachable: {e}"
                    ),
                };
                let name = format!("takedown_e2e_{}", hex::encode(rand::random::<[u8; 6]>()));
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create test database");
                Some(Self {
                    url: with_database(&admin, &name),
                    backend,
                    pg_name: Some(name),
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

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = admin_url();
        // Drop from a thread of its own: Drop may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
                c.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .ok()
            })
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
