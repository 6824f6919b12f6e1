//! Platform reports.

use sqlx::FromRow as _;
use std::collections::HashMap;

use super::*;
use crate::codes::{DELIVERED, INFLIGHT, TAKEDOWN};
use crate::rollup::Tracked;
use const_format::formatcp;

impl Outcomes for SqliteStore {
    async fn record_reports(
        &self,
        platform: &PlatformName,
        reports: &[NewReport],
        received_at: i64,
    ) -> StoreResult<Result<ReportCounts, ReportRefusal>> {
        if reports.is_empty() {
            return Ok(Ok(ReportCounts::default()));
        }
        let mut tx = write_tx(&self.writer).await?;

        let targets = plan::report_targets(reports);
        let target_set = id_set(&targets);
        let delivered: HashMap<i64, i32> = sqlx::query_as(formatcp!(
            "SELECT t.id, t.legal_basis FROM targets t JOIN deliveries d ON d.target_id = t.id \
             AND d.kind = {TAKEDOWN} AND d.state IN ({INFLIGHT}, {DELIVERED}) \
             WHERE t.platform = ?1 AND t.id IN (SELECT value FROM json_each(?2))"
        ))
        .bind(platform)
        .bind(&target_set)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        if let Some(refusal) = plan::refusal(reports, &delivered) {
            return Ok(Err(refusal));
        }

        let mut recorded: HashSet<String> = HashSet::with_capacity(reports.len());
        for (range, sql) in chunks(reports.len(), rows_per_chunk(0, 9), |n| {
            format!(
                "INSERT INTO reports (platform, received_at, report_id, target_id, kind, outcome, \
                 reason, report_text, reported_at) VALUES {} \
                 ON CONFLICT (platform, report_id) DO NOTHING RETURNING report_id",
                values_rows(n, "", 9)
            )
        }) {
            let mut q = sized(AssertSqlSafe(sql));
            for r in &reports[range] {
                let (kind, outcome, reason) = r.body.columns();
                q = q
                    .bind(platform)
                    .bind(received_at)
                    .bind(r.report_id.as_str())
                    .bind(r.target_id)
                    .bind(kind)
                    .bind(outcome)
                    .bind(reason)
                    .bind(r.text.as_str())
                    .bind(r.at);
            }
            for row in q.fetch_all(&mut *tx).await? {
                recorded.insert(row.try_get("report_id")?);
            }
        }

        // The rollups move once for the whole batch (delivered, acknowledged, decided, clock).
        let tracked = Tracked::begin(&mut tx, &targets).await?;
        // A report proves that the platform's receiver holds the target: set delivered_at if the
        // hub has not yet processed the Deliver answer (the delivery row follows with it).
        sqlx::query(
            "UPDATE targets SET delivered_at = ?1 WHERE delivered_at IS NULL \
             AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(received_at)
        .bind(&target_set)
        .execute(&mut *tx)
        .await?;

        // Each target's acknowledgement and decision in one row update.
        let effects = ReportEffects::new(reports, &recorded);
        for (range, sql) in chunks(effects.targets.len(), rows_per_chunk(0, 7), |n| {
            format!(
                "WITH u(id, ack, outcome, reason, txt, at, act) AS (VALUES {}) \
                 UPDATE targets SET {} FROM u WHERE targets.id = u.id AND {}",
                values_rows(n, "", 7),
                plan::apply_effects_set!("targets."),
                plan::apply_effects_where!("targets.")
            )
        }) {
            let mut q = sized(AssertSqlSafe(sql));
            for e in &effects.targets[range] {
                let d = e.decision;
                q = q
                    .bind(e.target_id)
                    .bind(e.ack)
                    .bind(d.map(|d| d.outcome))
                    .bind(d.and_then(|d| d.reject_reason))
                    .bind(d.and_then(|d| d.text))
                    .bind(d.map(|d| d.at))
                    .bind(e.first_act);
            }
            q.execute(&mut *tx).await?;
        }
        super::summary::update_clocks(&mut tx, &effects.decided()).await?;
        tracked.end(&mut tx).await?;
        for (target_id, result, text, at) in crate::audit::restorations(reports, &recorded) {
            sqlx::query(
                "UPDATE targets SET restoration = ?2, restoration_text = ?3, restoration_at = ?4 \
                 WHERE id = ?1 AND (restoration_at IS NULL OR restoration_at <= ?4)",
            )
            .bind(target_id)
            .bind(result as i32)
            .bind((!text.is_empty()).then_some(text))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(e) = crate::audit::reports_event(platform, reports, &recorded, received_at) {
            super::audit::append(&mut tx, &e).await?;
        }
        tx.commit().await?;

        let recorded_n = u32::try_from(recorded.len()).unwrap_or(u32::MAX);
        let total = u32::try_from(reports.len()).unwrap_or(u32::MAX);
        Ok(Ok(ReportCounts {
            recorded: recorded_n,
            duplicates: total.saturating_sub(recorded_n),
        }))
    }

    async fn record_refused_report(
        &self,
        platform: &PlatformName,
        report_id: &str,
        target_id: &str,
        reason: &str,
        at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refused_reports \
             (platform, report_id, target_id, reason, first_at, last_at, times) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?5, 1 \
             WHERE (SELECT COUNT(*) FROM refused_reports WHERE platform = ?1) < ?6 \
             OR EXISTS (SELECT 1 FROM refused_reports WHERE platform = ?1 AND report_id = ?2) \
             ON CONFLICT (platform, report_id) DO UPDATE SET target_id = excluded.target_id, \
             reason = excluded.reason, last_at = excluded.last_at, \
             times = refused_reports.times + 1",
        )
        .bind(platform)
        .bind(report_id)
        .bind(target_id)
        .bind(reason)
        .bind(at)
        .bind(REFUSED_REPORTS_KEPT)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn refused_reports(
        &self,
        platform: Option<&PlatformName>,
        after_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<RefusedReport>> {
        let rs = sqlx::query(
            "SELECT id, platform, report_id, target_id, reason, first_at, last_at, times \
             FROM refused_reports WHERE id > ?1 AND (?2 IS NULL OR platform = ?2) \
             ORDER BY id LIMIT ?3",
        )
        .bind(after_id)
        .bind(platform)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(RefusedReport::from_row)
            .collect::<sqlx::Result<_>>()?)
    }
}
