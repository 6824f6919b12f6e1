//! The action-day summary: the shared queries of [`crate::summary`] (with `$N`
//! parameters), run in one `REPEATABLE READ, READ ONLY` transaction (one snapshot), and the
//! rebuild of a day's rollups.

use super::*;

use crate::summary as q;

/// [`rebuild_summary`] inside `tx`.
pub(super) async fn rebuild_in(
    tx: &mut Transaction<'static, Postgres>,
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

/// Brings the removal-order clocks of `targets` up to date (after their reports changed).
pub(super) async fn update_clocks(
    tx: &mut Transaction<'static, Postgres>,
    targets: &[i64],
) -> StoreResult<()> {
    sqlx::query(q::CLOCK_OF_TARGETS)
        .bind(targets)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Summaries for PgStore {
    async fn action_day_summary(
        &self,
        action_day_id: &ActionDayId,
        view: &SummaryView,
        now: i64,
    ) -> StoreResult<SummaryFacts> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let rows = q::read_rows!(tx, PgRow, action_day_id, view, now);
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
             WHERE action_day_id = $1 AND legal_basis = {RO} AND delivered_at IS NOT NULL \
             ORDER BY platform, delivered_at"
            )))
            .bind(action_day_id)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Recomputes a day's removal-order clocks and rollups from the facts, in one transaction.
    /// It reads the day a page at a time, so it runs in one snapshot (`REPEATABLE READ`): a
    /// writer that commits meanwhile adds its own change after the rebuild, which therefore must
    /// not have seen it. Should such a writer touch a rollup row the rebuild writes, the rebuild
    /// fails with a serialization failure, which callers are told to retry.
    async fn rebuild_summary(&self, action_day_id: &ActionDayId) -> StoreResult<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        rebuild_in(&mut tx, action_day_id).await?;
        tx.commit().await?;
        Ok(())
    }
}
