//! The action-day summary: the shared queries of [`crate::summary`] (with `$N`
//! parameters), run in one `REPEATABLE READ, READ ONLY` transaction (one snapshot).

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
    // Aggregating a large day: JIT compilation costs more than it saves (about 0.7 s per
    // query on a million targets), and the percentile sorts fit in memory with 64 MB.
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;

    let counts = sqlx::query(AssertSqlSafe(q::pg(q::COUNTS)))
        .bind(action_day_id)
        .bind(now)
        .bind(platform)
        .bind(agency)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r: &PgRow| Ok(decode_counts!(r)))
        .collect::<sqlx::Result<Vec<_>>>()?;
    macro_rules! per_target {
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
    let percentiles = per_target!(q::PERCENTILES);
    let removal = per_target!(q::REMOVAL_ORDERS);
    let blocks = per_target!(q::BLOCKS);
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
            .bind(now)
            .bind(agency)
            .fetch_all(&mut *tx)
            .await?;
        (lists, agencies)
    };
    tx.commit().await?;
    Ok(q::assemble(Rows {
        counts,
        percentiles,
        removal,
        lists,
        agencies,
        blocks,
    }))
}
