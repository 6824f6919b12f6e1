//! PostgreSQL backend, for several hub replicas sharing one database.
//!
//! Text is ordered with `COLLATE "C"` (byte order, as SQLite and Rust order it), whatever
//! the database's default collation.
//!
//! Bulk writes bind whole columns as arrays and expand them with `UNNEST`, one statement
//! per table. Outbox claims lock their rows with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers (other replicas) never take the same delivery.
//!
//! The [`Store`] methods are implemented by concept: `directory` (organisations, keys,
//! platforms), `days` (action days), `intake` (lists), `outbox` (holds, deliveries),
//! `outcomes` (reports, summaries).

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};

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
    async fn upsert_organization(
        &self,
        org: &Organization,
        by: &OrgId,
    ) -> StoreResult<Organization> {
        directory::upsert_organization(&self.pool, org, by).await
    }

    async fn get_organization(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        directory::get_organization(&self.pool, id).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        directory::list_organizations(&self.pool).await
    }

    async fn publish_key_set(&self, k: &KeySetRecord) -> StoreResult<()> {
        directory::publish_key_set(&self.pool, k).await
    }

    async fn lists_signed_with(&self, kid: &str, since: i64) -> StoreResult<Vec<SignedListRecord>> {
        intake::lists_signed_with(&self.pool, kid, since).await
    }

    async fn key_sets_after(&self, version: i64) -> StoreResult<Vec<KeySetRecord>> {
        directory::key_sets_after(&self.pool, version).await
    }

    async fn upsert_platform(&self, p: &Platform, by: &OrgId) -> StoreResult<Platform> {
        directory::upsert_platform(&self.pool, p, by).await
    }

    async fn get_platform(&self, name: &PlatformName) -> StoreResult<Option<Platform>> {
        directory::get_platform(&self.pool, name).await
    }

    async fn list_platforms(&self) -> StoreResult<Vec<Platform>> {
        directory::list_platforms(&self.pool).await
    }

    async fn insert_action_day(&self, day: &ActionDay, by: &OrgId) -> StoreResult<ActionDay> {
        days::insert_action_day(&self.pool, day, by).await
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
        days::move_action_day(&self.pool, id, starts_at, ends_at, now, by).await
    }

    async fn close_action_day(
        &self,
        id: &ActionDayId,
        at: i64,
        by: &OrgId,
    ) -> StoreResult<Option<ActionDay>> {
        days::close_action_day(&self.pool, id, at, by).await
    }

    async fn mark_released(&self, id: &ActionDayId, at: i64) -> StoreResult<bool> {
        days::mark_released(&self.pool, id, at).await
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
        intake::insert_list(&self.pool, list, items).await
    }

    async fn get_list(&self, list_id: &ListId) -> StoreResult<Option<ListRecord>> {
        intake::get_list(&self.pool, list_id).await
    }

    async fn list_items(&self, list_id: &ListId, now: i64) -> StoreResult<Vec<ItemRecord>> {
        intake::list_items(&self.pool, list_id, now).await
    }

    async fn insert_hold(&self, hold: &Hold) -> StoreResult<Hold> {
        outbox::insert_hold(&self.pool, hold).await
    }

    async fn release_hold(&self, id: &HoldId, at: i64, by: &OrgId) -> StoreResult<Option<Hold>> {
        outbox::release_hold(&self.pool, id, at, by).await
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
        outcomes::record_refused_report(&self.pool, platform, report_id, target_id, reason, at)
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
            &self.pool,
            platform,
            now,
            lease_until,
            limit,
            &self.instance,
        )
        .await
    }

    async fn release_own_claims(&self, now: i64) -> StoreResult<u64> {
        outbox::release_own_claims(&self.pool, &self.instance, now).await
    }

    async fn heartbeat(&self, now: i64, dead_before: i64) -> StoreResult<Vec<(String, u64)>> {
        outbox::heartbeat(&self.pool, &self.instance, now, dead_before).await
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
        outbox::mark_delivered(&self.pool, delivery_ids, at).await
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
        outbox::mark_retry(&self.pool, delivery_ids, next_at, error).await
    }

    async fn retry_now(&self, platform: &PlatformName, now: i64) -> StoreResult<u64> {
        outbox::retry_now(&self.pool, platform, now).await
    }

    async fn mark_failed(
        &self,
        delivery_ids: &[DeliveryId],
        at: i64,
        error: &str,
    ) -> StoreResult<()> {
        outbox::mark_failed(&self.pool, delivery_ids, at, error).await
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
        PoolStatus {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn record_reports(
        &self,
        platform: &PlatformName,
        reports: &[NewReport],
        received_at: i64,
    ) -> StoreResult<Result<ReportCounts, ReportRefusal>> {
        outcomes::record_reports(&self.pool, platform, reports, received_at).await
    }

    async fn withdraw(
        &self,
        scope: &WithdrawalScope,
        by: &Withdrawer,
        reason: &WithdrawalReason<'_>,
        at: i64,
    ) -> StoreResult<Option<Withdrawal>> {
        audit::withdraw(&self.pool, scope, by, reason, at).await
    }

    async fn uphold_on_scrutiny(
        &self,
        target_id: TargetId,
        by: &OrgId,
        reason: &str,
        at: i64,
    ) -> StoreResult<Option<u32>> {
        audit::uphold_on_scrutiny(&self.pool, target_id, by, reason, at).await
    }

    async fn preserve(&self, p: &NewPreservation<'_>) -> StoreResult<Option<Preservation>> {
        audit::preserve(&self.pool, p).await
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
        audit::hub_audit_key(&self.pool, candidate).await
    }

    async fn hub_secret(&self, name: &str, candidate: &[u8], at: i64) -> StoreResult<Vec<u8>> {
        audit::hub_secret(&self.pool, name, candidate, at).await
    }

    async fn put_audit_head(&self, h: &SignedHeadRecord) -> StoreResult<()> {
        audit::put_audit_head(&self.pool, h).await
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
        audit::purge_expired(&self.pool, cutoff, at).await
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
        summary::rebuild_summary(&self.pool, action_day_id).await
    }
}
