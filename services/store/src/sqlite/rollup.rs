//! Keeping the summary rollups (see [`crate::rollup`]): the facts of a batch of targets
//! before and after a change, and the net change applied with one grouped upsert per
//! rollup table. SQLite has one writer, so the facts read inside its transaction cannot
//! change under it.
//!
//! Id sets and a delta's rows travel as one JSON array each (read with `json_each`), so
//! every statement here has constant text and stays prepared in the writer's cache.

use super::*;
use crate::rollup::{Agencies, Before, Delta, FACT_COLUMNS, Facts, Intake, of_all};

/// Ids as a JSON array, for `json_each`.
pub(super) fn json_ids(ids: &[i64]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Formatted in place: no String per id on the writer's hot path.
        let _ = write!(s, "{id}");
    }
    s.push(']');
    s
}

/// The facts of the action-day targets among the JSON array of ids `ids`, by id.
async fn read_facts(tx: &mut Transaction<'static, Sqlite>, ids: &str) -> StoreResult<Vec<Facts>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {FACT_COLUMNS} FROM targets WHERE action_day_id IS NOT NULL \
         AND id IN (SELECT value FROM json_each(?1)) ORDER BY id"
    )))
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?)
}

/// The distinct referring agencies of the targets in the JSON array `ids`.
async fn read_agencies(tx: &mut Transaction<'static, Sqlite>, ids: &str) -> StoreResult<Agencies> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT DISTINCT target_id, agency_id FROM referrals \
         WHERE target_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Agencies::from_rows(rows))
}

/// A change of targets that keeps the rollups: [`Self::begin`] reads the targets' facts
/// before the change, the caller changes them, [`Self::end`] reads them after and applies
/// the net difference, all in the caller's transaction.
pub(super) struct Tracked {
    ids: String,
    before: Before,
}

impl Tracked {
    pub(super) async fn begin(
        tx: &mut Transaction<'static, Sqlite>,
        targets: &[i64],
    ) -> StoreResult<Self> {
        let ids = json_ids(targets);
        let facts = read_facts(tx, &ids).await?;
        let agencies = if facts.is_empty() {
            Agencies::default()
        } else {
            read_agencies(tx, &ids).await?
        };
        Ok(Self {
            ids,
            before: Before { facts, agencies },
        })
    }

    pub(super) async fn end(self, tx: &mut Transaction<'static, Sqlite>) -> StoreResult<()> {
        if self.before.facts.is_empty() {
            return Ok(());
        }
        let after = read_facts(tx, &self.ids).await?;
        apply(tx, &self.before.delta(&after)).await
    }
}

/// The rollups of an intake (see [`Intake`]): call with the new targets' facts and the ids
/// of the existing ones before the referrals are written (it reads the former agencies).
pub(super) async fn intake(
    tx: &mut Transaction<'static, Sqlite>,
    agency: &str,
    fresh: &[Facts],
    existing: &[i64],
) -> StoreResult<()> {
    let change = if existing.is_empty() {
        Intake::new(agency, fresh, Vec::new(), Agencies::default())
    } else {
        let ids = json_ids(existing);
        let facts = read_facts(tx, &ids).await?;
        let before = read_agencies(tx, &ids).await?;
        Intake::new(agency, fresh, facts, before)
    };
    apply(tx, &change.delta(fresh)).await
}

/// Adds the rollups of every target of a day (after its rollups were deleted), a page of
/// targets at a time.
pub(super) async fn add_day(
    tx: &mut Transaction<'static, Sqlite>,
    action_day_id: &str,
) -> StoreResult<()> {
    const PAGE: i64 = 10_000;
    let mut after_id = i64::MIN;
    loop {
        let facts: Vec<Facts> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FACT_COLUMNS} FROM targets WHERE action_day_id = ?1 AND id > ?2 \
             ORDER BY id LIMIT ?3"
        )))
        .bind(action_day_id)
        .bind(after_id)
        .bind(PAGE)
        .fetch_all(&mut **tx)
        .await?;
        let Some(last) = facts.last() else {
            return Ok(());
        };
        after_id = last.id;
        let ids: Vec<i64> = facts.iter().map(|f| f.id).collect();
        let agencies = read_agencies(tx, &json_ids(&ids)).await?;
        apply(tx, &of_all(&facts, &agencies)).await?;
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
pub(super) async fn apply(tx: &mut Transaction<'static, Sqlite>, d: &Delta<'_>) -> StoreResult<()> {
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
