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
//! The [`Store`] methods are implemented by concept: `directory` (organisations, keys,
//! platforms), `days` (action days), `intake` (lists), `outbox` (holds, deliveries),
//! `outcomes` (reports), `summary` (reading summaries), `rollup` (keeping the summary
//! rollups); `sql` builds the chunked statements.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};

use crate::audit::{
    AuditEntry, NewPreservation, Preservation, PurgeCounts, TransparencyRow, Withdrawal,
    WithdrawalReason, WithdrawalScope, Withdrawer,
};
use crate::model::*;
use crate::plan::{self, IntakePlan, ReportEffects};
use crate::rows::to_i64;
use crate::{Store, StoreError, StoreResult, migrations};

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
use sql::{IN_CHUNK, anon, chunks, rows_per_chunk, sized, sized_scalar, values_rows};

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
    async fn upsert_organization(
        &self,
        org: &Organization,
        by: &OrgId,
    ) -> StoreResult<Organization> {
        directory::upsert_organization(&self.writer, org, by).await
    }

    async fn get_organization(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        directory::get_organization(&self.pool, id).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        directory::list_organizations(&self.pool).await
    }

    async fn publish_key_set(&self, k: &KeySetRecord) -> StoreResult<()> {
        directory::publish_key_set(&self.writer, k).await
    }

    async fn lists_signed_with(&self, kid: &str, since: i64) -> StoreResult<Vec<SignedListRecord>> {
        intake::lists_signed_with(&self.pool, kid, since).await
    }

    async fn key_sets_after(&self, version: i64) -> StoreResult<Vec<KeySetRecord>> {
        directory::key_sets_after(&self.pool, version).await
    }

    async fn upsert_platform(&self, p: &Platform, by: &OrgId) -> StoreResult<Platform> {
        directory::upsert_platform(&self.writer, p, by).await
    }

    async fn get_platform(&self, name: &PlatformName) -> StoreResult<Option<Platform>> {
        directory::get_platform(&self.pool, name).await
    }

    async fn list_platforms(&self) -> StoreResult<Vec<Platform>> {
        directory::list_platforms(&self.pool).await
    }

    async fn insert_action_day(&self, day: &ActionDay, by: &OrgId) -> StoreResult<ActionDay> {
        days::insert_action_day(&self.writer, day, by).await
    }

    async fn get_action_day(&self, id: &ActionDayId) -> StoreResult<Option<ActionDay>> {
        days::get_action_day(&self.pool, id).await
    }

    async fn list_action_days(&self) -> StoreResult<Vec<ActionDay>> {
        days::list_action_days(&self.pool).await
    }

    async fn move_action_day(
        &self,
        id: &ActionDayId,
        starts_at: i64,
        ends_at: Option<i64>,
        now: i64,
        by: &OrgId,
    ) -> StoreResult<DayMove> {
        days::move_action_day(&self.writer, id, starts_at, ends_at, now, by).await
    }

    async fn close_action_day(
        &self,
        id: &ActionDayId,
        at: i64,
        by: &OrgId,
    ) -> StoreResult<Option<ActionDay>> {
        days::close_action_day(&self.writer, id, at, by).await
    }

    async fn mark_released(&self, id: &ActionDayId, at: i64) -> StoreResult<bool> {
        days::mark_released(&self.writer, id, at).await
    }

    async fn due_releases(&self, now: i64) -> StoreResult<Vec<ActionDay>> {
        days::due_releases(&self.pool, now).await
    }

    async fn next_release_after(&self, now: i64) -> StoreResult<Option<i64>> {
        days::next_release_after(&self.pool, now).await
    }

    async fn insert_list(
        &self,
        list: &NewList,
        items: &[NewReferral],
    ) -> StoreResult<IntakeResult> {
        intake::insert_list(&self.writer, list, items).await
    }

    async fn get_list(&self, list_id: &ListId) -> StoreResult<Option<ListRecord>> {
        intake::get_list(&self.pool, list_id).await
    }

    async fn list_items(&self, list_id: &ListId, now: i64) -> StoreResult<Vec<ItemRecord>> {
        intake::list_items(&self.pool, list_id, now).await
    }

    async fn insert_hold(&self, hold: &Hold) -> StoreResult<Hold> {
        outbox::insert_hold(&self.writer, hold).await
    }

    async fn release_hold(&self, id: &HoldId, at: i64, by: &OrgId) -> StoreResult<Option<Hold>> {
        outbox::release_hold(&self.writer, id, at, by).await
    }

    async fn get_hold(&self, id: &HoldId) -> StoreResult<Option<Hold>> {
        outbox::get_hold(&self.pool, id).await
    }

    async fn failed_deliveries(&self, filter: &FailedFilter) -> StoreResult<Vec<FailedDelivery>> {
        outbox::failed_deliveries(&self.pool, filter).await
    }

    async fn record_refused_report(
        &self,
        platform: &PlatformName,
        report_id: &str,
        target_id: &str,
        reason: &str,
        at: i64,
    ) -> StoreResult<()> {
        outcomes::record_refused_report(&self.writer, platform, report_id, target_id, reason, at)
            .await
    }

    async fn refused_reports(
        &self,
        platform: Option<&PlatformName>,
        after_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<RefusedReport>> {
        outcomes::refused_reports(&self.pool, platform, after_id, limit).await
    }

    async fn list_holds(&self, placed_by: Option<&OrgId>) -> StoreResult<Vec<Hold>> {
        outbox::list_holds(&self.pool, placed_by).await
    }

    async fn claim_deliveries(
        &self,
        platform: &PlatformName,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        outbox::claim_deliveries(
            &self.writer,
            platform,
            now,
            lease_until,
            limit,
            &self.instance,
        )
        .await
    }

    async fn release_own_claims(&self, now: i64) -> StoreResult<u64> {
        outbox::release_own_claims(&self.writer, &self.instance, now).await
    }

    async fn heartbeat(&self, now: i64, dead_before: i64) -> StoreResult<Vec<(String, u64)>> {
        outbox::heartbeat(&self.writer, &self.instance, now, dead_before).await
    }

    async fn delivery_payloads(&self, target_ids: &[TargetId]) -> StoreResult<Vec<TargetPayload>> {
        outbox::delivery_payloads(&self.pool, target_ids).await
    }

    async fn list_proof_material(
        &self,
        list_ids: &[ListId],
    ) -> StoreResult<Vec<ListProofMaterial>> {
        outbox::list_proof_material(&self.pool, list_ids).await
    }

    async fn mark_delivered(&self, delivery_ids: &[DeliveryId], at: i64) -> StoreResult<()> {
        outbox::mark_delivered(&self.writer, delivery_ids, at).await
    }

    async fn in_flight_to(
        &self,
        platform: &PlatformName,
        delivery_ids: &[DeliveryId],
    ) -> StoreResult<Vec<DeliveryId>> {
        outbox::in_flight_to(&self.pool, platform, delivery_ids).await
    }

    async fn mark_retry(
        &self,
        delivery_ids: &[DeliveryId],
        next_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        outbox::mark_retry(&self.writer, delivery_ids, next_at, error).await
    }

    async fn retry_now(&self, platform: &PlatformName, now: i64) -> StoreResult<u64> {
        outbox::retry_now(&self.writer, platform, now).await
    }

    async fn mark_failed(
        &self,
        delivery_ids: &[DeliveryId],
        at: i64,
        error: &str,
    ) -> StoreResult<()> {
        outbox::mark_failed(&self.writer, delivery_ids, at, error).await
    }

    async fn lists_due_at(&self, at: i64) -> StoreResult<Vec<ListId>> {
        outbox::lists_due_at(&self.pool, at).await
    }

    async fn next_delivery_at(&self, platform: &PlatformName) -> StoreResult<Option<i64>> {
        outbox::next_delivery_at(&self.pool, platform).await
    }

    async fn outbox_depth(&self, now: i64) -> StoreResult<Vec<OutboxDepth>> {
        outbox::outbox_depth(&self.pool, now).await
    }

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

    async fn record_reports(
        &self,
        platform: &PlatformName,
        reports: &[NewReport],
        received_at: i64,
    ) -> StoreResult<Result<ReportCounts, ReportRefusal>> {
        outcomes::record_reports(&self.writer, platform, reports, received_at).await
    }

    async fn withdraw(
        &self,
        scope: &WithdrawalScope,
        by: &Withdrawer,
        reason: &WithdrawalReason<'_>,
        at: i64,
    ) -> StoreResult<Option<Withdrawal>> {
        audit::withdraw(&self.writer, scope, by, reason, at).await
    }

    async fn uphold_on_scrutiny(
        &self,
        target_id: TargetId,
        by: &OrgId,
        reason: &str,
        at: i64,
    ) -> StoreResult<Option<u32>> {
        audit::uphold_on_scrutiny(&self.writer, target_id, by, reason, at).await
    }

    async fn preserve(&self, p: &NewPreservation<'_>) -> StoreResult<Option<Preservation>> {
        audit::preserve(&self.writer, p).await
    }

    async fn withdrawal_reasons(
        &self,
        target_ids: &[TargetId],
    ) -> StoreResult<Vec<(TargetId, String)>> {
        audit::withdrawal_reasons(&self.pool, target_ids).await
    }

    async fn audit_entries(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        audit::audit_entries(&self.pool, after_seq, limit).await
    }

    async fn audit_head(&self) -> StoreResult<i64> {
        audit::audit_head(&self.pool).await
    }

    async fn hub_audit_key(&self, candidate: &HubAuditKey) -> StoreResult<HubAuditKey> {
        audit::hub_audit_key(&self.writer, candidate).await
    }

    async fn hub_secret(&self, name: &str, candidate: &[u8], at: i64) -> StoreResult<Vec<u8>> {
        audit::hub_secret(&self.writer, name, candidate, at).await
    }

    async fn put_audit_head(&self, h: &SignedHeadRecord) -> StoreResult<()> {
        audit::put_audit_head(&self.writer, h).await
    }

    async fn audit_head_upto(&self, upto: i64) -> StoreResult<Option<SignedHeadRecord>> {
        audit::audit_head_upto(&self.pool, upto).await
    }

    async fn transparency_rows(
        &self,
        action_day_id: &ActionDayId,
    ) -> StoreResult<Vec<TransparencyRow>> {
        audit::transparency_rows(&self.pool, action_day_id).await
    }

    async fn purge_expired(&self, cutoff: i64, at: i64) -> StoreResult<PurgeCounts> {
        audit::purge_expired(&self.writer, cutoff, at).await
    }

    async fn action_day_summary(
        &self,
        action_day_id: &ActionDayId,
        view: &SummaryView,
        now: i64,
    ) -> StoreResult<SummaryFacts> {
        summary::action_day_summary(&self.pool, action_day_id, view, now).await
    }

    async fn removal_order_deliveries(
        &self,
        action_day_id: &ActionDayId,
    ) -> StoreResult<Vec<(PlatformName, i64)>> {
        summary::removal_order_deliveries(&self.pool, action_day_id).await
    }

    async fn rebuild_summary(&self, action_day_id: &ActionDayId) -> StoreResult<()> {
        summary::rebuild_summary(&self.writer, action_day_id).await
    }
}
