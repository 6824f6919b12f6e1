//! Throwaway databases for tests (feature `test-util`), shared by this crate's conformance
//! suite and the hub's end-to-end tests.
//!
//! - [`TestDb::sqlite`]: a fresh database file in a temporary directory.
//! - [`TestDb::postgres`]: a fresh database `takedown_t_<random hex>` on the server named by
//!   `TAKEDOWN_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped
//!   (`WITH (FORCE)`) when the `TestDb` is dropped, even if the test panicked. When the
//!   server is unreachable it prints `skipped: PostgreSQL unreachable` and returns `None`,
//!   unless `TAKEDOWN_REQUIRE_PG=1`, in which case it panics.
//!
//! The databases are empty: connect a store to [`TestDb::url`] to migrate them.
//!
//! - [`TcpRelay`]: a relay between a client and the PostgreSQL server, to cut: for the
//!   client, the server goes away and comes back, and the shared server is not touched.

/// A checked id of the type the caller expects, for literals in tests: `&checked("day-1")`
/// where a `&ActionDayId` is wanted. Panics on a value that is not one.
pub fn checked<T>(value: &str) -> T
where
    T: FromStr<Err = takedown_protocol::ident::IdentError>,
{
    value
        .parse()
        .unwrap_or_else(|e| panic!("{value:?} is not a valid id in a test: {e}"))
}

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;

use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::Backend;

/// Environment variable naming the PostgreSQL server (any database on it) for tests.
pub const PG_URL_ENV: &str = "TAKEDOWN_TEST_PG_URL";
/// Environment variable that, set to `1`, makes an unreachable PostgreSQL a test failure.
pub const REQUIRE_PG_ENV: &str = "TAKEDOWN_REQUIRE_PG";
/// The server used when [`PG_URL_ENV`] is unset.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL server URL for tests.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// Whether PostgreSQL tests must run (`TAKEDOWN_REQUIRE_PG=1`).
pub fn pg_required() -> bool {
    std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v == "1")
}

/// The server URL if PostgreSQL answers. Otherwise prints `skipped: PostgreSQL unreachable`
/// and returns `None`, or panics when [`pg_required`].
pub async fn pg_test_url_or_skip() -> Option<String> {
    let url = pg_admin_url();
    match admin_connection(&url).await {
        Ok(conn) => {
            let _ = conn.close().await;
            Some(url)
        }
        Err(e) if pg_required() => {
            panic!("PostgreSQL unreachable ({PG_URL_ENV}) and {REQUIRE_PG_ENV}=1: {e}")
        }
        Err(e) => {
            eprintln!("skipped: PostgreSQL unreachable ({e})");
            None
        }
    }
}

async fn admin_connection(url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// A random lowercase hex string of 16 digits.
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// `url` with its database (path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// A database of its own for one test; removed when dropped.
pub struct TestDb {
    url: String,
    kind: Kind,
}

impl TestDb {
    /// A new SQLite database file (created on connect) in a fresh temporary directory.
    pub fn sqlite() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("takedown-store-")
            .tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("hub.db").display());
        Ok(Self {
            url,
            kind: Kind::Sqlite(dir),
        })
    }

    /// A new, empty PostgreSQL database, or `None` when the server is unreachable (see the
    /// module doc). Panics when the server answers but the database cannot be created.
    pub async fn postgres() -> Option<Self> {
        let admin_url = pg_test_url_or_skip().await?;
        let name = format!("takedown_t_{}", random_hex());
        let mut conn = admin_connection(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL connection failed: {e}"));
        let create = format!("CREATE DATABASE \"{name}\"");
        let mut attempt = 0;
        loop {
            match sqlx::raw_sql(sqlx::AssertSqlSafe(create.clone()))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                // Concurrent CREATE DATABASE can collide on the template database.
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    eprintln!("CREATE DATABASE {name} failed ({e}), retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => panic!("CREATE DATABASE {name} failed: {e}"),
            }
        }
        let _ = conn.close().await;
        Some(Self {
            url: with_database(&admin_url, &name),
            kind: Kind::Postgres { admin_url, name },
        })
    }

    /// A new database of the given backend (`None`: PostgreSQL skipped).
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().unwrap_or_else(|e| panic!("temp dir: {e}"))),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// The URL to connect a store to.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Sqlite(_) => Backend::Sqlite,
            Kind::Postgres { .. } => Backend::Postgres,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, name } = &self.kind else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop may run inside a runtime; do the async cleanup on a thread of its own.
        let dropper = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("could not drop test database {name}: {e}");
                    return;
                }
            };
            rt.block_on(async {
                let result = async {
                    let mut conn = admin_connection(&admin_url).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                    let _ = conn.close().await;
                    Ok::<(), String>(())
                }
                .await;
                if let Err(e) = result {
                    eprintln!("could not drop test database {name}: {e}");
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A TCP relay between a client and the PostgreSQL server of a [`TestDb`]: [`Self::cut`]
/// closes it and every connection through it (for the client, the server went away: its
/// connections drop and new ones are refused), [`Self::resume`] opens it again on the same
/// port.
pub struct TcpRelay {
    port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TcpRelay {
    /// A relay to the server of the PostgreSQL URL `url`.
    pub async fn start(url: &str) -> Self {
        let mut r = Self {
            port: 0,
            upstream: authority(url).to_string(),
            task: None,
        };
        r.resume().await;
        r
    }

    /// `url` (of the relayed server) as reached through the relay.
    pub fn url(&self, url: &str) -> String {
        let (at, end) = authority_span(url);
        format!("{}127.0.0.1:{}{}", &url[..at], self.port, &url[end..])
    }

    /// (Re)opens the relay on its port.
    pub async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("relay cannot bind 127.0.0.1:{}: {e}", self.port));
        self.port = listener.local_addr().map(|a| a.port()).unwrap_or(self.port);
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
    pub async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Where the host:port of a PostgreSQL URL starts and ends.
fn authority_span(url: &str) -> (usize, usize) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let at = url[start..].find('@').map_or(start, |i| start + i + 1);
    let end = url[at..].find(['/', '?']).map_or(url.len(), |i| at + i);
    (at, end)
}

fn authority(url: &str) -> &str {
    let (at, end) = authority_span(url);
    &url[at..end]
}

#[cfg(test)]
mod tests {
    use super::{authority, with_database};

    #[test]
    fn finds_the_server_of_a_url() {
        assert_eq!(
            authority("postgres://postgres@127.0.0.1:5432/x"),
            "127.0.0.1:5432"
        );
        assert_eq!(authority("postgres://h:1/db?sslmode=disable"), "h:1");
        assert_eq!(
            authority("postgresql://u:p@db.example:6543"),
            "db.example:6543"
        );
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
