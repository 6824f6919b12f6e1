//! Platform reports.

use sqlx::FromRow as _;
use std::collections::HashMap;

use super::*;
use crate::codes::{DELIVERED, INFLIGHT, TAKEDOWN};
use crate::rollup::Tracked;
use const_format::formatcp;

impl Outcomes for PgStore {
    async fn record_reports(
        &self,
        platform: &PlatformName,
        reports: &[NewReport],
        received_at: i64,
    ) -> StoreResult<Result<ReportCounts, ReportRefusal>> {
        if reports.is_empty() {
            return Ok(Ok(ReportCounts::default()));
        }
        let mut tx = self.pool.begin().await?;

        let targets = plan::report_targets(reports);
        let delivered: HashMap<i64, i32> = sqlx::query_as(
            formatcp!("SELECT t.id, t.legal_basis FROM targets t JOIN deliveries d ON d.target_id = t.id \
             AND d.kind = {TAKEDOWN} AND d.state IN ({INFLIGHT}, {DELIVERED}) WHERE t.platform = $1 AND t.id = ANY($2)"),
        )
        .bind(platform)
        .bind(&targets)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        if let Some(refusal) = plan::refusal(reports, &delivered) {
            return Ok(Err(refusal));
        }

        let report_ids: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
        let target_ids: Vec<i64> = reports.iter().map(|r| r.target_id.get()).collect();
        let columns: Vec<(i32, i32, i32)> = reports.iter().map(|r| r.body.columns()).collect();
        let kinds: Vec<i32> = columns.iter().map(|c| c.0).collect();
        let outcomes: Vec<i32> = columns.iter().map(|c| c.1).collect();
        let reasons: Vec<i32> = columns.iter().map(|c| c.2).collect();
        let texts: Vec<&str> = reports.iter().map(|r| r.text.as_str()).collect();
        let ats: Vec<i64> = reports.iter().map(|r| r.at).collect();
        let recorded: HashSet<String> = sqlx::query_scalar(
            "INSERT INTO reports (platform, received_at, report_id, target_id, kind, outcome, \
             reason, report_text, reported_at) \
             SELECT $1, $2, u.report_id, u.target_id, u.kind, u.outcome, u.reason, u.txt, u.at \
             FROM UNNEST($3::text[], $4::int8[], $5::int4[], $6::int4[], $7::int4[], \
                         $8::text[], $9::int8[]) \
                  WITH ORDINALITY AS u(report_id, target_id, kind, outcome, reason, txt, at, ord) \
             ORDER BY u.ord \
             ON CONFLICT (platform, report_id) DO NOTHING RETURNING report_id",
        )
        .bind(platform)
        .bind(received_at)
        .bind(&report_ids)
        .bind(&target_ids)
        .bind(&kinds)
        .bind(&outcomes)
        .bind(&reasons)
        .bind(&texts)
        .bind(&ats)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        // The rollups move once for the whole batch (delivered, acknowledged, decided, clock).
        let tracked = Tracked::begin(&mut tx, &targets).await?;
        // A report proves that the platform's receiver holds the target: set delivered_at if the
        // hub has not yet processed the Deliver answer (the delivery row follows with it).
        sqlx::query(
            "UPDATE targets SET delivered_at = $2 WHERE id = ANY($1) AND delivered_at IS NULL",
        )
        .bind(&targets)
        .bind(received_at)
        .execute(&mut *tx)
        .await?;
        // Each target's acknowledgement and decision in one row update (`id = ANY` lets the
        // planner reach the rows by primary key whatever it guesses of the array).
        let effects = ReportEffects::new(reports, &recorded);
        if !effects.targets.is_empty() {
            let e = &effects.targets;
            let ids: Vec<i64> = e.iter().map(|e| e.target_id).collect();
            let acks: Vec<Option<i64>> = e.iter().map(|e| e.ack).collect();
            let outcomes: Vec<Option<i32>> =
                e.iter().map(|e| e.decision.map(|d| d.outcome)).collect();
            let reasons: Vec<Option<i32>> = e
                .iter()
                .map(|e| e.decision.and_then(|d| d.reject_reason))
                .collect();
            let texts: Vec<Option<&str>> =
                e.iter().map(|e| e.decision.and_then(|d| d.text)).collect();
            let ats: Vec<Option<i64>> = e.iter().map(|e| e.decision.map(|d| d.at)).collect();
            let acts: Vec<Option<i64>> = e.iter().map(|e| e.first_act).collect();
            sqlx::query(concat!(
                "UPDATE targets t SET ",
                plan::apply_effects_set!("t."),
                " FROM UNNEST($1::int8[], $2::int8[], $3::int4[], $4::int4[], $5::text[], $6::int8[], \
                              $7::int8[]) \
                 AS u(id, ack, outcome, reason, txt, at, act) \
                 WHERE t.id = u.id AND t.id = ANY($1) AND ",
                plan::apply_effects_where!("t.")
            ))
            .bind(&ids)
            .bind(&acks)
            .bind(&outcomes)
            .bind(&reasons)
            .bind(&texts)
            .bind(&ats)
            .bind(&acts)
            .execute(&mut *tx)
            .await?;
            super::summary::update_clocks(&mut tx, &effects.decided()).await?;
        }
        tracked.end(&mut tx).await?;
        let restorations = crate::audit::restorations(reports, &recorded);
        if !restorations.is_empty() {
            let ids: Vec<i64> = restorations.iter().map(|r| r.0).collect();
            let results: Vec<i32> = restorations.iter().map(|r| r.1 as i32).collect();
            let texts: Vec<Option<&str>> = restorations
                .iter()
                .map(|r| (!r.2.is_empty()).then_some(r.2))
                .collect();
            let ats: Vec<i64> = restorations.iter().map(|r| r.3).collect();
            sqlx::query(
                "UPDATE targets t SET restoration = u.result, restoration_text = u.txt, \
                 restoration_at = u.at \
                 FROM UNNEST($1::int8[], $2::int4[], $3::text[], $4::int8[]) \
                      AS u(id, result, txt, at) \
                 WHERE t.id = u.id AND (t.restoration_at IS NULL OR t.restoration_at <= u.at)",
            )
            .bind(&ids)
            .bind(&results)
            .bind(&texts)
            .bind(&ats)
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
             SELECT $1, $2, $3, $4, $5, $5, 1 \
             WHERE (SELECT COUNT(*) FROM refused_reports WHERE platform = $1) < $6 \
             OR EXISTS (SELECT 1 FROM refused_reports WHERE platform = $1 AND report_id = $2) \
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
        .execute(&self.pool)
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
             FROM refused_reports WHERE id > $1 AND ($2::text IS NULL OR platform = $2) \
             ORDER BY id LIMIT $3",
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
