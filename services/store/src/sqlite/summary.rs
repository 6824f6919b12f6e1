//! The action-day summary: the shared queries of [`crate::summary`], run in one read
//! transaction (a WAL snapshot), and the rebuild of a day's rollups.

use super::*;
use crate::summary as q;

pub(super) async fn action_day_summary(
    pool: &SqlitePool,
    action_day_id: &str,
    view: &SummaryView,
    now: i64,
) -> StoreResult<SummaryFacts> {
    let mut tx = pool.begin().await?;
    let rows = q::read_rows!(
        tx,
        |sql: &'static str| sql,
        SqliteRow,
        action_day_id,
        view,
        now
    );
    tx.commit().await?;
    Ok(q::assemble(rows))
}

/// Recomputes a day's removal-order clocks and rollups from the facts, in one write
/// transaction.
pub(super) async fn rebuild_summary(pool: &SqlitePool, action_day_id: &str) -> StoreResult<()> {
    let mut tx = write_tx(pool).await?;
    sqlx::query(q::CLOCK_OF_DAY)
        .bind(action_day_id)
        .execute(&mut *tx)
        .await?;
    for sql in q::REBUILD_DELETE {
        sqlx::query(sql)
            .bind(action_day_id)
            .execute(&mut *tx)
            .await?;
    }
    // The `summary_apply` view's trigger adds each (target, agency) pair's state.
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO summary_apply (target_id, agency, sign) \
         SELECT target_id, agency, 1 FROM ({})",
        q::REBUILD_PAIRS
    )))
    .bind(action_day_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(q::REBUILD_MERGED)
        .bind(action_day_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Brings the removal-order clocks of `targets` up to date (after their reports changed),
/// in one statement: the clock itself picks the delivered removal orders among them.
pub(super) async fn update_clocks(
    tx: &mut Transaction<'static, Sqlite>,
    targets: &[i64],
) -> StoreResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    sqlx::query(q::CLOCK_OF_JSON_TARGETS)
        .bind(json_ids(targets))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ids as a JSON array, for `json_each`.
fn json_ids(ids: &[i64]) -> String {
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

/// Which rollups a change of targets can move.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Moves {
    /// The state cells only (delivered, failed, removal-order clock).
    Cells,
    /// The cells, the latency histograms and the blocks (acknowledgements, decisions).
    All,
}

/// A batch's contributions on their way out of and into the rollups: one row per
/// (target, agency) and side (`sign` -1 before the change, +1 after). A temporary table of
/// the writer connection, created when it connects ([`prepare_writer`]), empty outside
/// [`Moved`].
const MOVING: &str = "CREATE TEMP TABLE IF NOT EXISTS summary_moving (sign INTEGER, \
     action_day_id TEXT, agency TEXT, platform TEXT, due_at INTEGER, removal_order INTEGER, \
     delivered INTEGER, acked INTEGER, outcome INTEGER, reason INTEGER, failed INTEGER, \
     ro_clock INTEGER, ack_bucket INTEGER, action_bucket INTEGER, block_ms INTEGER)";

/// Sets up the writer connection: its temporary table for [`Moved`].
pub(super) async fn prepare_writer(conn: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
    sqlx::query(MOVING).execute(conn).await?;
    Ok(())
}

/// Records `?2` (the side) for each (target, agency) pair of the targets in the JSON array
/// `?1`: agency '' for the day itself, then each referring agency.
const SNAPSHOT: &str = "WITH ids(id) AS (SELECT value FROM json_each(?1)), \
     pairs(target_id, agency) AS (SELECT id, '' FROM ids UNION \
       SELECT r.target_id, r.agency_id FROM referrals r WHERE r.target_id IN (SELECT id FROM ids)) \
     INSERT INTO temp.summary_moving SELECT ?2, f.action_day_id, p.agency, f.platform, \
       f.due_at, f.removal_order, f.delivered, f.acked, f.outcome, f.reason, f.failed, \
       f.ro_clock, f.ack_bucket, f.action_bucket, f.block_ms \
     FROM pairs p JOIN summary_facts f ON f.id = p.target_id";

/// The net change of the cells.
const MOVE_CELLS: &str = "INSERT INTO summary_cells (action_day_id, agency, platform, due_at, \
       removal_order, delivered, acked, outcome, reason, failed, ro_clock, n) \
     SELECT action_day_id, agency, platform, due_at, removal_order, delivered, acked, outcome, \
       reason, failed, ro_clock, SUM(sign) FROM temp.summary_moving WHERE TRUE \
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 HAVING SUM(sign) <> 0 \
     ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked, \
       outcome, reason, failed, ro_clock) DO UPDATE SET n = n + excluded.n";

/// The net change of the latency histograms.
const MOVE_LATENCY: &str = "INSERT INTO summary_latency (action_day_id, agency, platform, \
       measure, bucket, n) \
     SELECT action_day_id, agency, platform, measure, bucket, SUM(sign) FROM ( \
       SELECT action_day_id, agency, platform, 0 AS measure, ack_bucket AS bucket, sign \
       FROM temp.summary_moving WHERE ack_bucket IS NOT NULL \
       UNION ALL \
       SELECT action_day_id, agency, platform, 1, action_bucket, sign \
       FROM temp.summary_moving WHERE action_bucket IS NOT NULL) WHERE TRUE \
     GROUP BY 1, 2, 3, 4, 5 HAVING SUM(sign) <> 0 \
     ON CONFLICT (action_day_id, agency, platform, measure, bucket) \
     DO UPDATE SET n = n + excluded.n";

/// The net change of the blocks, at every level. The batch's blocks are first summed per
/// second (a batch's blocks fall in a few seconds), and only those sums are spread over the
/// five levels: `block_ms / 1000 / level` is `block_ms / (level * 1000)` in integer division.
const MOVE_BLOCKS: &str = "INSERT INTO summary_blocks (action_day_id, agency, level, slot, \
       platform, n) \
     SELECT s.action_day_id, s.agency, l.level, s.second / l.level, s.platform, SUM(s.n) \
     FROM (SELECT action_day_id, agency, platform, block_ms / 1000 AS second, SUM(sign) AS n \
           FROM temp.summary_moving WHERE block_ms IS NOT NULL GROUP BY 1, 2, 3, 4) s \
       CROSS JOIN (SELECT 1 AS level UNION ALL SELECT 10 UNION ALL SELECT 60 \
                   UNION ALL SELECT 600 UNION ALL SELECT 3600) l \
     WHERE TRUE \
     GROUP BY 1, 2, 3, 4, 5 HAVING SUM(s.n) <> 0 \
     ON CONFLICT (action_day_id, agency, level, slot, platform) DO UPDATE SET n = n + excluded.n";

/// A batch change of targets that keeps the rollups itself, in a few grouped statements
/// instead of the row triggers (which `summary_suspend` sets aside until [`Self::end`]):
/// [`Self::begin`] records the targets' contributions before the change, the caller
/// changes the targets, [`Self::end`] records them after and adds the net difference.
/// Everything runs in the caller's transaction; if it fails in between, the transaction
/// rolls back with everything.
pub(super) struct Moved {
    ids: String,
    moves: Moves,
}

impl Moved {
    pub(super) async fn begin(
        tx: &mut Transaction<'static, Sqlite>,
        targets: &[i64],
        moves: Moves,
    ) -> StoreResult<Self> {
        let moved = Self {
            ids: json_ids(targets),
            moves,
        };
        sqlx::query("INSERT INTO summary_suspend (one) VALUES (1)")
            .execute(&mut **tx)
            .await?;
        moved.snapshot(tx, -1).await?;
        Ok(moved)
    }

    pub(super) async fn end(self, tx: &mut Transaction<'static, Sqlite>) -> StoreResult<()> {
        self.snapshot(tx, 1).await?;
        let all: &[&'static str] = match self.moves {
            Moves::Cells => &[MOVE_CELLS],
            Moves::All => &[MOVE_CELLS, MOVE_LATENCY, MOVE_BLOCKS],
        };
        for &sql in all {
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        for sql in [
            "DELETE FROM temp.summary_moving",
            "DELETE FROM summary_suspend",
        ] {
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn snapshot(&self, tx: &mut Transaction<'static, Sqlite>, sign: i64) -> StoreResult<()> {
        sqlx::query(SNAPSHOT)
            .bind(self.ids.as_str())
            .bind(sign)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
