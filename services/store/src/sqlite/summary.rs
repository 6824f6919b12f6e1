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

/// Brings the removal-order clocks of `targets` up to date (after their reports changed):
/// finds the delivered removal orders among them, then runs the clock of each.
pub(super) async fn update_clocks(
    tx: &mut Transaction<'static, Sqlite>,
    targets: &[i64],
) -> StoreResult<()> {
    let mut clocked = Vec::new();
    for chunk in targets.chunks(IN_CHUNK) {
        let mut select = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM targets WHERE legal_basis = 2 AND delivered_at IS NOT NULL \
             AND id IN ({})",
            anon(chunk.len())
        )));
        for id in chunk {
            select = select.bind(*id);
        }
        let ids: Vec<i64> = select.fetch_all(&mut **tx).await?;
        clocked.extend(ids);
    }
    for id in clocked {
        sqlx::query(q::CLOCK_OF_TARGET)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
