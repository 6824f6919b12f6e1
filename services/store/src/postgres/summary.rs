//! The action-day summary: the shared queries of [`crate::summary`] (with `$N`
//! parameters), run in one `REPEATABLE READ, READ ONLY` transaction (one snapshot), and the
//! rebuild of a day's rollups.

use super::*;
use sqlx::AssertSqlSafe;

use crate::summary::{self as q, Rows, decode_counts};

pub(super) async fn action_day_summary(
    pool: &PgPool,
    action_day_id: &str,
    view: &SummaryView,
    now: i64,
) -> StoreResult<SummaryFacts> {
    let (platform, agency) = q::view_params(view);
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    macro_rules! per_view {
        ($sql:expr) => {
            sqlx::query(AssertSqlSafe(q::pg($sql)))
                .bind(action_day_id)
                .bind(now)
                .bind(platform)
                .bind(agency)
        };
    }
    macro_rules! per_view_as {
        ($sql:expr) => {
            sqlx::query_as(AssertSqlSafe(q::pg($sql)))
                .bind(action_day_id)
                .bind(now)
                .bind(platform)
                .bind(agency)
                .fetch_all(&mut *tx)
                .await?
        };
    }
    let counts = per_view!(q::COUNTS)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r: &PgRow| Ok(decode_counts!(r)))
        .collect::<sqlx::Result<Vec<_>>>()?;
    let held = per_view_as!(q::HELD);
    let latency = per_view_as!(q::LATENCY);
    let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as(AssertSqlSafe(q::pg(q::BLOCK_EDGES)))
        .bind(action_day_id)
        .bind(now)
        .bind(platform)
        .bind(agency)
        .fetch_one(&mut *tx)
        .await?;
    let blocks = match (lo, hi) {
        (Some(lo), Some(hi)) => {
            let grid = q::BlockGrid::new(lo, hi);
            let (first, last) = grid.slots(lo, hi);
            let slots = sqlx::query_as(AssertSqlSafe(q::pg(q::BLOCK_SLOTS)))
                .bind(action_day_id)
                .bind(now)
                .bind(platform)
                .bind(agency)
                .bind(grid.level)
                .bind(first)
                .bind(last)
                .fetch_all(&mut *tx)
                .await?;
            grid.buckets(slots)
        }
        _ => Vec::new(),
    };
    let (lists, agencies) = if matches!(view, SummaryView::Platform(_)) {
        (Vec::new(), Vec::new())
    } else {
        let lists = sqlx::query_as(AssertSqlSafe(q::pg(q::AGENCY_LISTS)))
            .bind(action_day_id)
            .bind(agency)
            .fetch_all(&mut *tx)
            .await?;
        let agencies = sqlx::query_as(AssertSqlSafe(q::pg(q::AGENCY_TARGETS)))
            .bind(action_day_id)
            .bind(agency)
            .fetch_all(&mut *tx)
            .await?;
        (lists, agencies)
    };
    tx.commit().await?;
    Ok(q::assemble(Rows {
        agency: agency.unwrap_or_default().to_string(),
        counts,
        held,
        latency,
        lists,
        agencies,
        blocks,
    }))
}

/// Recomputes a day's removal-order clocks and rollups from the facts, in one transaction.
pub(super) async fn rebuild_summary(pool: &PgPool, action_day_id: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(AssertSqlSafe(q::pg(q::CLOCK_OF_DAY)))
        .bind(action_day_id)
        .execute(&mut *tx)
        .await?;
    for sql in q::REBUILD_DELETE {
        sqlx::query(AssertSqlSafe(q::pg(sql)))
            .bind(action_day_id)
            .execute(&mut *tx)
            .await?;
    }
    // `summary_add` (see the migration) adds the states of the (target, agency) pairs.
    sqlx::query(AssertSqlSafe(format!(
        "SELECT summary_add(ARRAY(SELECT summary_of(t, p.agency, 1) \
         FROM ({}) p JOIN targets t ON t.id = p.target_id))",
        q::pg(q::REBUILD_PAIRS)
    )))
    .bind(action_day_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(AssertSqlSafe(q::pg(q::REBUILD_MERGED)))
        .bind(action_day_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Brings the removal-order clocks of `targets` up to date (after their reports changed).
pub(super) async fn update_clocks(
    tx: &mut Transaction<'static, Postgres>,
    targets: &[i64],
) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(q::pg(q::CLOCK_OF_TARGETS)))
        .bind(targets)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
