//! The action-day summary: the shared queries of [`crate::summary`], run in one read
//! transaction (a WAL snapshot), and the rebuild of a day's rollups from the facts.

use super::*;
use crate::summary as q;

/// [`rebuild_summary`] inside `tx`.
pub(super) async fn rebuild_in(
    tx: &mut Transaction<'static, Sqlite>,
    action_day_id: &ActionDayId,
) -> StoreResult<()> {
    sqlx::query(q::CLOCK_OF_DAY)
        .bind(action_day_id)
        .execute(&mut **tx)
        .await?;
    for sql in q::REBUILD_DELETE {
        sqlx::query(sql)
            .bind(action_day_id)
            .execute(&mut **tx)
            .await?;
    }
    crate::rollup::add_day(tx, action_day_id).await
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
        .bind(id_set(targets))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Summaries for SqliteStore {
    async fn action_day_summary(
        &self,
        action_day_id: &ActionDayId,
        view: &SummaryView,
        now: i64,
    ) -> StoreResult<SummaryFacts> {
        let mut tx = self.pool.begin().await?;
        let rows = q::read_rows!(tx, SqliteRow, action_day_id, view, now);
        tx.commit().await?;
        Ok(q::assemble(rows))
    }

    /// (platform, delivered_at) of the day's delivered removal orders, from the partial index
    /// that holds only them (its condition is written out, so that the planner can use it).
    async fn removal_order_deliveries(
        &self,
        action_day_id: &ActionDayId,
    ) -> StoreResult<Vec<(PlatformName, i64)>> {
        const RO: i32 = crate::rollup::REMOVAL_ORDER;
        Ok(
            sqlx::query_as::<_, (PlatformName, i64)>(sqlx::AssertSqlSafe(format!(
                "SELECT platform, delivered_at FROM targets \
             WHERE action_day_id = ?1 AND legal_basis = {RO} AND delivered_at IS NOT NULL \
             ORDER BY platform, delivered_at"
            )))
            .bind(action_day_id)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Recomputes a day's removal-order clocks and rollups from the facts, in one write
    /// transaction.
    async fn rebuild_summary(&self, action_day_id: &ActionDayId) -> StoreResult<()> {
        let mut tx = write_tx(&self.writer).await?;
        rebuild_in(&mut tx, action_day_id).await?;
        tx.commit().await?;
        Ok(())
    }
}
