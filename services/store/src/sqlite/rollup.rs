//! The SQLite side of keeping the summary rollups (see [`crate::rollup`]): reading the
//! facts and agencies of a batch of targets, and applying a net change with one grouped
//! upsert per rollup table. SQLite has one writer, so the facts read inside its
//! transaction cannot change under it.
//!
//! Id sets and a delta's rows travel as one JSON array each (read with `json_each`), so
//! every statement here has constant text and stays prepared in the writer's cache.

use super::*;
use crate::rollup::{Agencies, Delta, Facts, RollupTx};

/// The facts' columns as one JSON array per row (see [`Facts`]).
const FACT_JSON: &str = "json_array(id, action_day_id, platform, due_at, legal_basis, \
     delivered_at, acked_at, outcome, reject_reason, acted_at, failed_at, ro_elapsed, ro_paused, \
     first_acted_at)";

/// One row of [`FACT_JSON`].
type FactRow = (
    i64,
    Option<String>,
    String,
    i64,
    i32,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<i32>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Reads facts as one JSON array in one row: sqlx hands SQLite rows over from its worker
/// thread one by one, which cost more than the rest of a batch's rollup work; one string
/// parsed here costs a few microseconds per target.
async fn facts_json(
    tx: &mut Transaction<'_, Sqlite>,
    sql: String,
    bind: impl FnOnce(
        sqlx::query::QueryScalar<'_, Sqlite, String, <Sqlite as sqlx::Database>::Arguments>,
    ) -> sqlx::query::QueryScalar<
        '_,
        Sqlite,
        String,
        <Sqlite as sqlx::Database>::Arguments,
    >,
) -> StoreResult<Vec<Facts>> {
    let json: String = bind(sqlx::query_scalar(AssertSqlSafe(sql)))
        .fetch_one(&mut **tx)
        .await?;
    let rows: Vec<FactRow> =
        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut facts: Vec<Facts> = rows
        .into_iter()
        .map(|r| Facts {
            id: r.0,
            action_day_id: r.1,
            platform: r.2,
            due_at: r.3,
            legal_basis: r.4,
            delivered_at: r.5,
            acked_at: r.6,
            outcome: r.7,
            reject_reason: r.8,
            acted_at: r.9,
            failed_at: r.10,
            ro_elapsed: r.11,
            ro_paused: r.12,
            first_acted_at: r.13,
        })
        .collect();
    facts.sort_unstable_by_key(|f| f.id);
    Ok(facts)
}

/// The facts of the action-day targets among `ids` that also match `filter` (SQL on
/// `targets`, `TRUE` for all), by id.
pub(super) async fn facts_where(
    tx: &mut Transaction<'_, Sqlite>,
    ids: &[i64],
    filter: &str,
) -> StoreResult<Vec<Facts>> {
    let json = id_set(ids);
    facts_json(
        tx,
        format!(
            "SELECT json_group_array({FACT_JSON}) FROM targets WHERE action_day_id IS NOT NULL \
             AND id IN (SELECT value FROM json_each(?1)) AND {filter}"
        ),
        |q| q.bind(json),
    )
    .await
}

impl RollupTx for Transaction<'_, Sqlite> {
    /// No lock is needed: SQLite has one writer, and this is its transaction.
    async fn facts(&mut self, ids: &[i64], _lock: bool) -> StoreResult<Vec<Facts>> {
        facts_where(self, ids, "TRUE").await
    }

    async fn day_facts(
        &mut self,
        action_day_id: &str,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Facts>> {
        let day = action_day_id.to_string();
        facts_json(
            self,
            format!(
                "SELECT json_group_array({FACT_JSON}) FROM (SELECT * FROM targets \
                 WHERE action_day_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3)"
            ),
            |q| q.bind(day).bind(after_id).bind(limit),
        )
        .await
    }

    async fn agencies(&mut self, ids: &[i64]) -> StoreResult<Agencies> {
        let json: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(target_id, agency_id)) FROM \
             (SELECT DISTINCT target_id, agency_id FROM referrals \
              WHERE target_id IN (SELECT value FROM json_each(?1)))",
        )
        .bind(id_set(ids))
        .fetch_one(&mut **self)
        .await?;
        let rows: Vec<(i64, String)> =
            serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Agencies::from_rows(rows))
    }

    async fn apply(&mut self, d: &Delta<'_>) -> StoreResult<()> {
        apply(self, d).await
    }
}

const UPSERT_CELLS: &str = "INSERT INTO summary_cells (action_day_id, agency, platform, due_at, \
       removal_order, delivered, acked, outcome, reason, failed, ro_clock, n) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
       value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11 \
     FROM json_each(?1) WHERE TRUE \
     ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked, \
       outcome, reason, failed, ro_clock) DO UPDATE SET n = n + excluded.n";

const UPSERT_LATENCY: &str = "INSERT INTO summary_latency (action_day_id, agency, platform, \
       measure, bucket, n) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
     FROM json_each(?1) WHERE TRUE \
     ON CONFLICT (action_day_id, agency, platform, measure, bucket) \
     DO UPDATE SET n = n + excluded.n";

const UPSERT_BLOCKS: &str = "INSERT INTO summary_blocks (action_day_id, agency, level, slot, \
       platform, n) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
     FROM json_each(?1) WHERE TRUE \
     ON CONFLICT (action_day_id, agency, level, slot, platform) \
     DO UPDATE SET n = n + excluded.n";

const UPSERT_MERGED: &str = "INSERT INTO summary_merged (action_day_id, agency, n) \
     SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1) WHERE TRUE \
     ON CONFLICT (action_day_id, agency) DO UPDATE SET n = n + excluded.n";

/// Applies a net change: one upsert per rollup table that it touches, its rows as a JSON
/// array of arrays in key order.
async fn apply(tx: &mut Transaction<'_, Sqlite>, d: &Delta<'_>) -> StoreResult<()> {
    if d.is_empty() {
        return Ok(());
    }
    use serde_json::json;
    let tables = [
        (
            UPSERT_CELLS,
            d.cells
                .iter()
                .map(|(k, n)| {
                    let s = k.state;
                    json!([
                        k.day,
                        k.agency,
                        k.platform,
                        s.due_at,
                        s.removal_order,
                        s.delivered,
                        s.acked,
                        s.outcome,
                        s.reason,
                        s.failed,
                        s.ro_clock,
                        n
                    ])
                })
                .collect::<Vec<_>>(),
        ),
        (
            UPSERT_LATENCY,
            d.latency
                .iter()
                .map(|(k, n)| json!([k.day, k.agency, k.platform, k.measure, k.bucket, n]))
                .collect(),
        ),
        (
            UPSERT_BLOCKS,
            d.blocks
                .iter()
                .map(|(k, n)| json!([k.day, k.agency, k.level, k.slot, k.platform, n]))
                .collect(),
        ),
        (
            UPSERT_MERGED,
            d.merged
                .iter()
                .map(|((day, agency), n)| json!([day, agency, n]))
                .collect(),
        ),
    ];
    for (sql, rows) in tables {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
