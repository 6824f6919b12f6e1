//! SQLite backend: one file in WAL mode, the embedded default.
//!
//! SQLite has a single writer, and so has this store: every write runs on one dedicated
//! connection (a pool of one), so writers queue in the process, in order, instead of
//! contending for the file lock. (Contended, SQLite's busy handler sleeps 1 ms, then 2, 5,
//! 10... ms between tries while the lock is held for a few hundred microseconds; under load
//! that idled the hub most of the time.) Reads use the other connections and run
//! concurrently with the writer (WAL). Every transaction that writes still starts with
//! `BEGIN IMMEDIATE`, so that another process sharing the file (an operator's tool) makes it
//! wait up to the busy timeout instead of failing with `SQLITE_BUSY` on a lock upgrade.
//!
//! Bulk writes use multi-row `INSERT ... VALUES (...), (...)` in chunks that stay under the
//! bound-parameter limit; every full chunk has the same SQL text, so the prepared statement
//! is reused from the connection's statement cache.
//!
//! Each concept trait of [`Store`] is implemented in its own file: [`crate::Directory`] in
//! `directory`, [`crate::ActionDays`] in `days`, [`crate::Intake`] in `intake`,
//! [`crate::Holds`] and [`crate::Outbox`] in `outbox`, [`crate::Outcomes`] in `outcomes`,
//! [`crate::Audit`] and [`crate::Retention`] in `audit`, [`crate::Summaries`] in `summary`;
//! `rollup` keeps the summary rollups and `basis` the removal-order clocks. `sql` builds the chunked statements.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};

use crate::audit::WithdrawalReason;
use crate::model::*;
use crate::plan::{self, IntakePlan, ReportEffects};
use crate::rows::to_i64;
use crate::{
    ActionDays, Audit, Directory, Holds, Intake, Outbox, Outcomes, Retention, Store, StoreError,
    StoreResult, Summaries, migrations,
};

mod audit;
mod basis;
mod days;
mod directory;
mod intake;
mod outbox;
mod outcomes;
mod rollup;
mod sql;
mod summary;
use sql::{chunks, id_set, rows_per_chunk, sized, values_rows};

/// Reader connections: they run concurrently with each other and with the writer (WAL).
const READERS: u32 = 4;
/// Page cache of each reader connection, in KiB (SQLite's default is 2 000 KiB per
/// connection). Readers look up scattered rows by id; a miss is served from the operating
/// system's file cache, so a small private cache costs little and keeps the hub's memory
/// from growing with the database. The writer keeps the default.
const READER_CACHE_KIB: u32 = 512;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store. Cheap to clone (pool handles).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection.
    writer: SqlitePool,
    /// The hub instance whose claims this handle makes ('' : nobody's).
    instance: std::sync::Arc<str>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite:path/to/file.db`),
    /// in WAL mode with `synchronous=NORMAL`, foreign keys on and a 10 s busy timeout, and
    /// applies the embedded migrations. An in-memory database (`sqlite::memory:`) gets a
    /// single connection for reads and writes, so that every query sees the same database.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // Every write transaction waits for this one connection; a ping before each
            // would add a round trip through its worker thread to a file-backed connection
            // that cannot have gone away.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        migrations::sqlite().run(&writer).await?;
        let pool = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(options.pragma("cache_size", format!("-{READER_CACHE_KIB}")))
                .await?
        };
        Ok(Self {
            pool,
            writer,
            instance: "".into(),
        })
    }

    /// This handle's claims are made in the name of hub instance `instance` (see
    /// [`Store::release_own_claims`]).
    pub fn claiming_as(mut self, instance: &str) -> Self {
        self.instance = instance.into();
        self
    }

    /// The reader pool (tests read and bulk-load through it).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A write transaction: `BEGIN IMMEDIATE` takes the write lock up front.
async fn write_tx(pool: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

impl Store for SqliteStore {
    fn pool_status(&self) -> PoolStatus {
        let pools: &[&SqlitePool] = if self.pool.options().get_max_connections() == 1 {
            // In memory: one pool for reads and writes.
            &[&self.writer]
        } else {
            &[&self.writer, &self.pool]
        };
        pools.iter().fold(PoolStatus::default(), |s, p| PoolStatus {
            open: s.open + p.size(),
            idle: s.idle + u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            max: s.max + p.options().get_max_connections(),
        })
    }
}
