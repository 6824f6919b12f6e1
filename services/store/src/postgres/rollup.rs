//! The PostgreSQL side of keeping the summary rollups (see [`crate::rollup`]): reading
//! the facts and agencies of a batch of targets, and applying a net change with one
//! grouped upsert per rollup table.
//!
//! Several hubs write at once, so the facts before a change are read with the targets'
//! rows locked (`FOR UPDATE`, in id order) until the transaction ends: no other writer can
//! change them between that read and the change, and concurrent batches over the same
//! targets queue on those rows instead of counting the same transition twice. Upserts
//! write in key order, so that concurrent writers lock rollup rows alike.

use super::*;
use crate::rollup::{Agencies, Delta, FACT_COLUMNS, Facts, RollupTx};

impl RollupTx for Transaction<'_, Postgres> {
    async fn facts(&mut self, ids: &[i64], lock: bool) -> StoreResult<Vec<Facts>> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FACT_COLUMNS} FROM targets WHERE action_day_id IS NOT NULL \
             AND id = ANY($1) ORDER BY id{lock}"
        )))
        .bind(ids)
        .fetch_all(&mut **self)
        .await?)
    }

    async fn day_facts(
        &mut self,
        action_day_id: &str,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Facts>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FACT_COLUMNS} FROM targets WHERE action_day_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        )))
        .bind(action_day_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut **self)
        .await?)
    }

    async fn agencies(&mut self, ids: &[i64]) -> StoreResult<Agencies> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT DISTINCT target_id, agency_id FROM referrals WHERE target_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&mut **self)
        .await?;
        Ok(Agencies::from_rows(rows))
    }

    async fn apply(&mut self, d: &Delta<'_>) -> StoreResult<()> {
        apply(self, d).await
    }
}

/// Applies a net change: one upsert per rollup table that it touches, its rows bound as
/// column arrays in key order.
async fn apply(tx: &mut Transaction<'_, Postgres>, d: &Delta<'_>) -> StoreResult<()> {
    if d.is_empty() {
        return Ok(());
    }
    if !d.cells.is_empty() {
        let k: Vec<_> = d.cells.keys().collect();
        let col = |f: fn(&crate::rollup::CellState) -> i32| -> Vec<i32> {
            k.iter().map(|k| f(&k.state)).collect()
        };
        sqlx::query(
            "INSERT INTO summary_cells AS c (action_day_id, agency, platform, due_at, \
               removal_order, delivered, acked, outcome, reason, failed, ro_clock, n) \
             SELECT u.day, u.agency, u.platform, u.due_at, u.ro, u.delivered, u.acked, \
               u.outcome, u.reason, u.failed, u.ro_clock, u.n \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int4[], \
                         $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int4[], \
                         $11::int4[], $12::int8[]) WITH ORDINALITY \
               AS u(day, agency, platform, due_at, ro, delivered, acked, outcome, reason, \
                    failed, ro_clock, n, ord) \
             ORDER BY u.ord \
             ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, \
               acked, outcome, reason, failed, ro_clock) DO UPDATE SET n = c.n + EXCLUDED.n",
        )
        .bind(k.iter().map(|k| k.day).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.agency).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.platform).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.state.due_at).collect::<Vec<_>>())
        .bind(col(|s| s.removal_order))
        .bind(col(|s| s.delivered))
        .bind(col(|s| s.acked))
        .bind(col(|s| s.outcome))
        .bind(col(|s| s.reason))
        .bind(col(|s| s.failed))
        .bind(col(|s| s.ro_clock))
        .bind(d.cells.values().copied().collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
    }
    if !d.latency.is_empty() {
        let k: Vec<_> = d.latency.keys().collect();
        sqlx::query(
            "INSERT INTO summary_latency AS c (action_day_id, agency, platform, measure, \
               bucket, n) \
             SELECT u.day, u.agency, u.platform, u.measure, u.bucket, u.n \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], \
                         $6::int8[]) WITH ORDINALITY \
               AS u(day, agency, platform, measure, bucket, n, ord) \
             ORDER BY u.ord \
             ON CONFLICT (action_day_id, agency, platform, measure, bucket) \
             DO UPDATE SET n = c.n + EXCLUDED.n",
        )
        .bind(k.iter().map(|k| k.day).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.agency).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.platform).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.measure).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.bucket).collect::<Vec<_>>())
        .bind(d.latency.values().copied().collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
    }
    if !d.blocks.is_empty() {
        let k: Vec<_> = d.blocks.keys().collect();
        sqlx::query(
            "INSERT INTO summary_blocks AS c (action_day_id, agency, level, slot, platform, n) \
             SELECT u.day, u.agency, u.level, u.slot, u.platform, u.n \
             FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int8[], $5::text[], \
                         $6::int8[]) WITH ORDINALITY \
               AS u(day, agency, level, slot, platform, n, ord) \
             ORDER BY u.ord \
             ON CONFLICT (action_day_id, agency, level, slot, platform) \
             DO UPDATE SET n = c.n + EXCLUDED.n",
        )
        .bind(k.iter().map(|k| k.day).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.agency).collect::<Vec<_>>())
        .bind(
            k.iter()
                .map(|k| i32::try_from(k.level).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(k.iter().map(|k| k.slot).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.platform).collect::<Vec<_>>())
        .bind(d.blocks.values().copied().collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
    }
    if !d.merged.is_empty() {
        let k: Vec<_> = d.merged.keys().collect();
        sqlx::query(
            "INSERT INTO summary_merged AS c (action_day_id, agency, n) \
             SELECT u.day, u.agency, u.n \
             FROM UNNEST($1::text[], $2::text[], $3::int8[]) WITH ORDINALITY \
               AS u(day, agency, n, ord) \
             ORDER BY u.ord \
             ON CONFLICT (action_day_id, agency) DO UPDATE SET n = c.n + EXCLUDED.n",
        )
        .bind(k.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(k.iter().map(|k| k.1).collect::<Vec<_>>())
        .bind(d.merged.values().copied().collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
