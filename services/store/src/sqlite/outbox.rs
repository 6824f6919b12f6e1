//! Deconfliction holds and the delivery outbox.

use super::rollup::facts_where;
use super::*;
use crate::codes::{DELIVERED, FAILED, INFLIGHT, PENDING, TAKEDOWN};
use crate::rollup;
use const_format::formatcp;
use sqlx::FromRow as _;

async fn claim<'e, E: sqlx::SqliteExecutor<'e>>(
    ex: E,
    platform: &PlatformName,
    now: i64,
    lease_until: i64,
    limit: u32,
    instance: &str,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let rs = sqlx::query(formatcp!(
        "UPDATE deliveries SET state = {INFLIGHT}, next_at = ?3, attempts = attempts + 1, \
         claimed_by = NULLIF(?5, '') \
         WHERE id IN ( \
           SELECT d.id FROM deliveries d \
           WHERE d.platform = ?1 AND d.state IN ({PENDING}, {INFLIGHT}) AND d.next_at <= ?2 \
             AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.platform = d.platform \
               AND h.normalized = d.normalized AND h.released_at IS NULL \
               AND h.expires_at > ?2) \
           ORDER BY d.next_at, d.id LIMIT ?4) \
         RETURNING id, target_id, kind, attempts"
    ))
    .bind(platform)
    .bind(now)
    .bind(lease_until)
    .bind(i64::from(limit))
    .bind(instance)
    .fetch_all(ex)
    .await?;
    let mut claimed = rs
        .iter()
        .map(ClaimedDelivery::from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    claimed.sort_unstable_by_key(|c| c.id);
    Ok(claimed)
}

/// The targets of the takedown deliveries of the id set `delivery_ids` (see [`id_set`]) in
/// `state` (SQL), sorted.
async fn claimed_targets(
    tx: &mut Transaction<'static, Sqlite>,
    delivery_ids: &str,
    state: &str,
) -> StoreResult<Vec<i64>> {
    Ok(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT DISTINCT target_id FROM deliveries WHERE kind = {TAKEDOWN} AND {state} \
         AND id IN (SELECT value FROM json_each(?1)) ORDER BY target_id"
    )))
    .bind(delivery_ids)
    .fetch_all(&mut **tx)
    .await?)
}

impl Holds for SqliteStore {
    async fn insert_hold(&self, hold: &Hold) -> StoreResult<Hold> {
        let salt = crate::audit::hold_salt();
        let mut tx = write_tx(&self.writer).await?;
        let r = sqlx::query(
            "INSERT INTO holds (id, platform, target, normalized, reason, expires_at, created_at, \
             placed_by, released_at, salt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (id) DO NOTHING RETURNING *",
        )
        .bind(&hold.id)
        .bind(&hold.platform)
        .bind(&hold.target)
        .bind(&hold.normalized)
        .bind(&hold.reason)
        .bind(hold.expires_at)
        .bind(hold.created_at)
        .bind(&hold.placed_by)
        .bind(hold.released_at)
        .bind(salt.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        match r {
            Some(r) => {
                let stored = Hold::from_row(&r)?;
                super::audit::append(&mut tx, &crate::audit::hold_placed(&stored, &salt)).await?;
                tx.commit().await?;
                Ok(stored)
            }
            None => Err(StoreError::Conflict(format!(
                "hold {:?} already exists",
                hold.id
            ))),
        }
    }

    async fn release_hold(&self, id: &HoldId, at: i64, by: &OrgId) -> StoreResult<Option<Hold>> {
        let mut tx = write_tx(&self.writer).await?;
        let before: Option<Option<i64>> =
            sqlx::query_scalar("SELECT released_at FROM holds WHERE id = ?1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let r = sqlx::query(
            "UPDATE holds SET released_at = COALESCE(released_at, ?2) WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        let hold = r.as_ref().map(Hold::from_row).transpose()?;
        if let (Some(h), Some(None)) = (&hold, before) {
            super::audit::append(&mut tx, &crate::audit::hold_released(h, at, by)).await?;
        }
        tx.commit().await?;
        Ok(hold)
    }

    async fn get_hold(&self, id: &HoldId) -> StoreResult<Option<Hold>> {
        let r = sqlx::query("SELECT * FROM holds WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(Hold::from_row).transpose()?)
    }

    async fn list_holds(&self, placed_by: Option<&OrgId>) -> StoreResult<Vec<Hold>> {
        let rs = sqlx::query(
            "SELECT * FROM holds WHERE ?1 IS NULL OR placed_by = ?1 \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(placed_by)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs.iter().map(Hold::from_row).collect::<sqlx::Result<_>>()?)
    }
}

impl Outbox for SqliteStore {
    /// Claims up to `limit` due deliveries; for a platform with a rate cap, only what its
    /// window leaves (see [`crate::rate`]), counted in the claim's own write transaction.
    async fn claim_deliveries(
        &self,
        platform: &PlatformName,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let writer = &self.writer;
        let instance: &str = &self.instance;
        let capped: Option<i64> =
            sqlx::query_scalar("SELECT max_per_minute FROM platforms WHERE name = ?1")
                .bind(platform)
                .fetch_optional(writer)
                .await?
                .flatten();
        if capped.is_none() {
            return claim(writer, platform, now, lease_until, limit, instance).await;
        }
        let mut tx = write_tx(writer).await?;
        let cap: Option<i64> =
            sqlx::query_scalar("SELECT max_per_minute FROM platforms WHERE name = ?1")
                .bind(platform)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        let take = match cap {
            None => limit,
            Some(cap) => {
                let sent: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(SUM(sent), 0) FROM platform_sends \
                     WHERE platform = ?1 AND second >= ?2",
                )
                .bind(platform)
                .bind(crate::rate::counted_from(now))
                .fetch_one(&mut *tx)
                .await?;
                crate::rate::allowance(cap, sent, limit)
            }
        };
        if take == 0 {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let claimed = claim(&mut *tx, platform, now, lease_until, take, instance).await?;
        if cap.is_some() && !claimed.is_empty() {
            sqlx::query(
                "INSERT INTO platform_sends (platform, second, sent) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (platform, second) DO UPDATE SET sent = platform_sends.sent + excluded.sent",
            )
            .bind(platform)
            .bind(crate::rate::second(now))
            .bind(claimed.len() as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM platform_sends WHERE platform = ?1 AND second < ?2")
                .bind(platform)
                .bind(crate::rate::second(now) - crate::rate::KEPT_SECONDS)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn release_own_claims(&self, now: i64) -> StoreResult<u64> {
        let instance: &str = &self.instance;
        if instance.is_empty() {
            return Ok(0);
        }
        let mut tx = write_tx(&self.writer).await?;
        let released = sqlx::query(
            formatcp!("UPDATE deliveries SET next_at = ?2 WHERE state = {INFLIGHT} AND claimed_by = ?1 AND next_at > ?2"),
        )
        .bind(instance)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO hub_instances (instance, started_at, heartbeat_at) VALUES (?1, ?2, ?2) \
             ON CONFLICT (instance) DO UPDATE SET started_at = ?2, heartbeat_at = ?2",
        )
        .bind(instance)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(released)
    }

    async fn heartbeat(&self, now: i64, dead_before: i64) -> StoreResult<Vec<(String, u64)>> {
        let instance: &str = &self.instance;
        if instance.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = write_tx(&self.writer).await?;
        sqlx::query(
            "INSERT INTO hub_instances (instance, started_at, heartbeat_at) VALUES (?1, ?2, ?2) \
             ON CONFLICT (instance) DO UPDATE SET heartbeat_at = ?2",
        )
        .bind(instance)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let dead: Vec<String> = sqlx::query_scalar(
            "DELETE FROM hub_instances WHERE heartbeat_at < ?1 AND instance <> ?2 \
             RETURNING instance",
        )
        .bind(dead_before)
        .bind(instance)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(dead.len());
        for d in dead {
            let n = sqlx::query(formatcp!(
                "UPDATE deliveries SET next_at = ?2 \
                 WHERE state = {INFLIGHT} AND claimed_by = ?1 AND next_at > ?2"
            ))
            .bind(&d)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            out.push((d, n));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn delivery_payloads(&self, target_ids: &[TargetId]) -> StoreResult<Vec<TargetPayload>> {
        let ids = id_set(&plan::sorted_ids(target_ids));
        let targets = sqlx::query(
            "SELECT id, platform, kind, normalized, original, category, legal_basis, \
             removal_order_ref, action_day_id FROM targets \
             WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(TargetPayload::from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
        let referrals = sqlx::query(
            "SELECT target_id, list_id, item_index, agency_id, item FROM referrals \
             WHERE target_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY target_id, list_id, item_index",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(crate::rows::ReferralRow::from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(plan::attach(targets, referrals))
    }

    async fn list_proof_material(
        &self,
        list_ids: &[ListId],
    ) -> StoreResult<Vec<ListProofMaterial>> {
        Ok(sqlx::query(
            "SELECT list_id, agency_id, jws, item_count, leaf_hashes FROM lists \
             WHERE list_id IN (SELECT value FROM json_each(?1)) ORDER BY list_id",
        )
        .bind(id_set(list_ids))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ListProofMaterial::from_row)
        .collect::<sqlx::Result<_>>()?)
    }

    async fn mark_delivered(&self, delivery_ids: &[DeliveryId], at: i64) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let set = id_set(&ids);
        let mut tx = write_tx(&self.writer).await?;
        let targets = claimed_targets(&mut tx, &set, formatcp!("state = {INFLIGHT}")).await?;
        if !targets.is_empty() {
            // The one writer: the rows the update will change, and the change, in Rust.
            let before = facts_where(&mut tx, &targets, "delivered_at IS NULL").await?;
            sqlx::query(
                "UPDATE targets SET delivered_at = ?1 WHERE delivered_at IS NULL \
                 AND id IN (SELECT value FROM json_each(?2))",
            )
            .bind(at)
            .bind(id_set(&targets))
            .execute(&mut *tx)
            .await?;
            let (before, after) = rollup::changed_by(before, |f| f.delivered_at = Some(at));
            rollup::moved(&mut tx, before, after).await?;
        }
        let mut changed: Vec<(String, i64, i32)> = sqlx::query_as(formatcp!(
            "UPDATE deliveries SET state = {DELIVERED}, delivered_at = ?1 WHERE state = {INFLIGHT} \
             AND id IN (SELECT value FROM json_each(?2)) RETURNING platform, target_id, kind"
        ))
        .bind(at)
        .bind(&set)
        .fetch_all(&mut *tx)
        .await?;
        for e in crate::audit::delivery_events(&mut changed, "delivered", at, None) {
            super::audit::append(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn in_flight_to(
        &self,
        platform: &PlatformName,
        delivery_ids: &[DeliveryId],
    ) -> StoreResult<Vec<DeliveryId>> {
        Ok(sqlx::query_scalar(formatcp!(
            "SELECT id FROM deliveries WHERE platform = ?1 AND state = {INFLIGHT} \
             AND id IN (SELECT value FROM json_each(?2)) ORDER BY id"
        ))
        .bind(platform)
        .bind(id_set(delivery_ids))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mark_retry(
        &self,
        delivery_ids: &[DeliveryId],
        next_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        if delivery_ids.is_empty() {
            return Ok(());
        }
        let mut tx = write_tx(&self.writer).await?;
        sqlx::query(formatcp!(
            "UPDATE deliveries SET state = {PENDING}, next_at = ?1, last_error = ?2 \
             WHERE state IN ({PENDING}, {INFLIGHT}) AND id IN (SELECT value FROM json_each(?3))"
        ))
        .bind(next_at)
        .bind(error)
        .bind(id_set(delivery_ids))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retry_now(&self, platform: &PlatformName, now: i64) -> StoreResult<u64> {
        Ok(sqlx::query(formatcp!(
            "UPDATE deliveries SET next_at = ?2 \
             WHERE platform = ?1 AND state = {PENDING} AND attempts > 0 AND next_at > ?2"
        ))
        .bind(platform)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    async fn mark_failed(
        &self,
        delivery_ids: &[DeliveryId],
        at: i64,
        error: &str,
    ) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let set = id_set(&ids);
        let mut tx = write_tx(&self.writer).await?;
        let targets =
            claimed_targets(&mut tx, &set, formatcp!("state IN ({PENDING}, {INFLIGHT})")).await?;
        if !targets.is_empty() {
            let before = facts_where(&mut tx, &targets, "failed_at IS NULL").await?;
            sqlx::query(
                "UPDATE targets SET failed_at = ?1, fail_reason = ?2 \
                 WHERE failed_at IS NULL AND id IN (SELECT value FROM json_each(?3))",
            )
            .bind(at)
            .bind(error)
            .bind(id_set(&targets))
            .execute(&mut *tx)
            .await?;
            let (before, after) = rollup::changed_by(before, |f| f.failed_at = Some(at));
            rollup::moved(&mut tx, before, after).await?;
        }
        let mut changed: Vec<(String, i64, i32)> = sqlx::query_as(formatcp!(
            "UPDATE deliveries SET state = {FAILED}, failed_at = ?1, last_error = ?2 \
             WHERE state IN ({PENDING}, {INFLIGHT}) AND id IN (SELECT value FROM json_each(?3)) \
             RETURNING platform, target_id, kind"
        ))
        .bind(at)
        .bind(error)
        .bind(&set)
        .fetch_all(&mut *tx)
        .await?;
        for e in crate::audit::delivery_events(&mut changed, "delivery_failed", at, Some(error)) {
            super::audit::append(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn failed_deliveries(&self, f: &FailedFilter) -> StoreResult<Vec<FailedDelivery>> {
        let rs = sqlx::query(
            "SELECT d.id, d.target_id, d.platform, d.normalized, d.kind, d.attempts, d.failed_at, \
             d.last_error, t.action_day_id \
             FROM deliveries d JOIN targets t ON t.id = d.target_id \
             WHERE d.state = ?1 AND d.id > ?2 \
             AND (?3 IS NULL OR t.action_day_id = ?3) AND (?4 IS NULL OR d.platform = ?4) \
             ORDER BY d.id LIMIT ?5",
        )
        .bind(DeliveryState::Failed as i32)
        .bind(f.after_id)
        .bind(f.action_day_id.as_deref())
        .bind(f.platform.as_deref())
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(FailedDelivery::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn lists_due_at(&self, at: i64) -> StoreResult<Vec<ListId>> {
        Ok(
            sqlx::query_scalar("SELECT list_id FROM lists WHERE due_at = ?1 ORDER BY list_id")
                .bind(at)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn next_delivery_at(&self, platform: &PlatformName) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            formatcp!("SELECT MIN(next_at) FROM deliveries WHERE platform = ?1 AND state IN ({PENDING}, {INFLIGHT})"),
        )
        .bind(platform)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn outbox_depth(&self, now: i64) -> StoreResult<Vec<OutboxDepth>> {
        let rows: Vec<(PlatformName, i64, i64, i64)> = sqlx::query_as(
            "SELECT platform, \
               CAST(SUM(CASE WHEN state = ?1 AND next_at <= ?3 THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN state = ?1 AND next_at > ?3 THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN state = ?2 THEN 1 ELSE 0 END) AS BIGINT) \
             FROM deliveries WHERE state IN (?1, ?2) GROUP BY platform ORDER BY platform",
        )
        .bind(DeliveryState::Pending as i32)
        .bind(DeliveryState::Inflight as i32)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(platform, due, scheduled, in_flight)| OutboxDepth {
                platform,
                due,
                scheduled,
                in_flight,
            })
            .collect())
    }
}
