//! PostgreSQL backend, for several hub replicas sharing one database.
//!
//! Text is ordered with `COLLATE "C"` (byte order, as SQLite and Rust order it), whatever
//! the database's default collation.
//!
//! Bulk writes bind whole columns as arrays and expand them with `UNNEST`, one statement
//! per table. Outbox claims lock their rows with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers (other replicas) never take the same delivery.
//!
//! Each concept trait of [`Store`] is implemented in its own file: [`crate::Directory`] in
//! `directory`, [`crate::ActionDays`] in `days`, [`crate::Intake`] in `intake`,
//! [`crate::Holds`] and [`crate::Outbox`] in `outbox`, [`crate::Outcomes`] in `outcomes`,
//! [`crate::Audit`] and [`crate::Retention`] in `audit`, [`crate::Summaries`] in `summary`;
//! `rollup` keeps the summary rollups and `basis` the removal-order clocks.

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};

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
mod summary;

const POOL_SIZE: u32 = 8;
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The hub instance whose claims this handle makes ('' : nobody's).
    instance: std::sync::Arc<str>,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and applies the embedded migrations (sqlx takes
    /// an advisory lock, so replicas starting together migrate once).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        // No JIT: the hub's statements are short and run once per batch, so compiling
        // them costs more than it saves. (It was first seen with the summary triggers,
        // now gone: the planner priced their transition tables high enough to compile
        // them, 1.5 s per statement on a 500-row update.)
        let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            // While the server is down or restarting, a call fails after this long (and
            // its caller is told to retry) instead of waiting sqlx's default 30 s.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection keeps the buffers its largest message grew (a list's intake
            // binds its every item; a delivery batch reads its every item), and each of the
            // pool's connections would hold its own: give the excess back on release.
            .after_release(|conn, _| {
                Box::pin(async move {
                    sqlx::Connection::shrink_buffers(conn);
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        migrations::postgres().run(&pool).await?;
        Ok(Self {
            pool,
            instance: "".into(),
        })
    }

    /// This handle's claims are made in the name of hub instance `instance` (see
    /// [`Store::release_own_claims`]).
    pub fn claiming_as(mut self, instance: &str) -> Self {
        self.instance = instance.into();
        self
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Store for PgStore {
    fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}
