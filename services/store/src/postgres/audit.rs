//! The audit log (appends, paging), withdrawals, transparency rows and retention.

use super::*;
use crate::audit::{
    AuditEntry, AuditEvent, HUB_ACTOR, PurgeCounts, TransparencyRow, Withdrawal, Withdrawer,
};
use serde_json::json;

/// Appends `event` to the chain inside `tx`. Takes the transaction-scoped advisory lock
/// first, so appends of concurrent transactions (and replicas) are serialized until commit
/// and keep one chain. Callers append last, after their other writes: nothing waits on a
/// row lock while holding the advisory lock.
pub(super) async fn append(
    tx: &mut Transaction<'static, Postgres>,
    event: &AuditEvent,
) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(crate::audit::PG_AUDIT_LOCK)
        .execute(&mut **tx)
        .await?;
    let prev: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (seq, prev_hash, hash) = event.chain(prev);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(event.at)
    .bind(&event.actor)
    .bind(event.kind)
    .bind(&event.subject)
    .bind(event.details_text())
    .bind(prev_hash.as_slice())
    .bind(hash.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn audit_entries(
    pool: &PgPool,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let rs = sqlx::query(
        "SELECT seq, at, actor, kind, subject, details, prev_hash, hash FROM audit_log \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rs
        .iter()
        .map(rows::audit_entry)
        .collect::<sqlx::Result<_>>()?)
}

pub(super) async fn audit_head(pool: &PgPool) -> StoreResult<i64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(pool)
        .await?;
    Ok(seq.unwrap_or(0))
}

pub(super) async fn withdraw_target(
    pool: &PgPool,
    target_id: i64,
    by: &Withdrawer,
    reason: &str,
    at: i64,
) -> StoreResult<Option<Withdrawal>> {
    let mut tx = pool.begin().await?;
    let agency = match by {
        Withdrawer::Coordinator(_) => None,
        Withdrawer::Agency(a) => Some(a.as_str()),
    };
    let row = sqlx::query(
        "SELECT t.platform, t.withdrawn_at FROM targets t WHERE t.id = $1 AND ($2::text IS NULL \
         OR EXISTS (SELECT 1 FROM referrals r WHERE r.target_id = t.id AND r.agency_id = $2))",
    )
    .bind(target_id)
    .bind(agency)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let platform: String = row.try_get("platform")?;
    let already: Option<i64> = row.try_get("withdrawn_at")?;
    if let Some(withdrawn_at) = already {
        let queued: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE target_id = $1 AND kind = 2")
                .bind(target_id)
                .fetch_one(&mut *tx)
                .await?;
        return Ok(Some(Withdrawal {
            target_id,
            platform,
            withdrawn_at,
            withdrawals_queued: u32::try_from(queued).unwrap_or(0),
            changed: false,
        }));
    }
    sqlx::query(
        "UPDATE targets SET withdrawn_at = $2, withdraw_reason = $3, withdrawn_by = $4 \
         WHERE id = $1",
    )
    .bind(target_id)
    .bind(at)
    .bind(reason)
    .bind(by.id())
    .execute(&mut *tx)
    .await?;
    // Never sent: it will not be.
    let cancelled = sqlx::query(
        "UPDATE deliveries SET state = 3, failed_at = $2, last_error = 'withdrawn' \
         WHERE target_id = $1 AND kind = 1 AND state = 0 AND attempts = 0",
    )
    .bind(target_id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Sent (even if the answer was not recorded): the platform may hold it.
    let queued = sqlx::query(
        "INSERT INTO deliveries (target_id, platform, normalized, kind, state, next_at, \
         attempts, created_at) SELECT d.target_id, d.platform, d.normalized, 2, 0, $2, 0, $2 \
         FROM deliveries d WHERE d.target_id = $1 AND d.kind = 1 AND d.attempts > 0 \
         ON CONFLICT (target_id, kind) DO NOTHING",
    )
    .bind(target_id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let (event, answer) =
        crate::audit::target_withdrawn(at, by, target_id, platform, queued, cancelled);
    append(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(Some(answer))
}

pub(super) async fn withdrawal_reasons(
    pool: &PgPool,
    target_ids: &[i64],
) -> StoreResult<Vec<(i64, String)>> {
    let ids = plan::sorted_ids(target_ids);
    Ok(sqlx::query_as(
        "SELECT id, COALESCE(withdraw_reason, '') FROM targets \
         WHERE withdrawn_at IS NOT NULL AND id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn transparency_rows(
    pool: &PgPool,
    action_day_id: &str,
) -> StoreResult<Vec<TransparencyRow>> {
    let rs = sqlx::query(
        "SELECT id, platform, normalized, category, legal_basis, removal_order_ref, \
         delivered_at, acted_at, outcome, reject_reason, withdrawn_at, restoration, \
         restoration_at FROM targets WHERE action_day_id = $1 ORDER BY platform COLLATE \"C\", id",
    )
    .bind(action_day_id)
    .fetch_all(pool)
    .await?;
    Ok(rs
        .iter()
        .map(rows::transparency_row)
        .collect::<sqlx::Result<_>>()?)
}

/// No referral of the target (`targets`) belongs to a list not yet purged.
const ALL_PURGED: &str = "AND NOT EXISTS (SELECT 1 FROM referrals r JOIN lists l \
    ON l.list_id = r.list_id WHERE r.target_id = targets.id AND l.purged_at IS NULL)";
/// The same for a target aliased `t`.
const ALL_PURGED_T: &str = "AND NOT EXISTS (SELECT 1 FROM referrals r JOIN lists l \
    ON l.list_id = r.list_id WHERE r.target_id = t.id AND l.purged_at IS NULL)";

pub(super) async fn purge_expired(pool: &PgPool, cutoff: i64, at: i64) -> StoreResult<PurgeCounts> {
    let mut tx = pool.begin().await?;
    let lists: Vec<String> = sqlx::query_scalar(
        "SELECT l.list_id FROM lists l LEFT JOIN action_days d ON d.id = l.action_day_id \
         WHERE l.purged_at IS NULL AND CASE WHEN l.action_day_id IS NULL \
         THEN l.accepted_at < $1 ELSE COALESCE(d.closed_at, d.ends_at) < $1 END \
         ORDER BY l.list_id",
    )
    .bind(cutoff)
    .fetch_all(&mut *tx)
    .await?;
    if lists.is_empty() {
        return Ok(PurgeCounts::default());
    }
    let mut counts = PurgeCounts {
        lists: lists.len() as u64,
        ..PurgeCounts::default()
    };
    counts.referrals = sqlx::query("UPDATE referrals SET item = ''::bytea WHERE list_id = ANY($1)")
        .bind(&lists)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE lists SET purged_at = $2 WHERE list_id = ANY($1)")
        .bind(&lists)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    // Notes of targets all of whose lists are now purged.
    counts.targets = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE targets SET outcome_text = NULL, withdraw_reason = NULL, \
         restoration_text = NULL WHERE id IN \
         (SELECT target_id FROM referrals WHERE list_id = ANY($1)) {ALL_PURGED}"
    )))
    .bind(&lists)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE reports SET report_text = '' WHERE target_id IN \
         (SELECT t.id FROM targets t WHERE t.id IN \
          (SELECT target_id FROM referrals WHERE list_id = ANY($1)) {ALL_PURGED_T})"
    )))
    .bind(&lists)
    .execute(&mut *tx)
    .await?;
    append(
        &mut tx,
        &AuditEvent::new(
            at,
            HUB_ACTOR,
            "retention_purge",
            "retention",
            json!({
                "cutoff": cutoff,
                "lists": lists,
                "referrals": counts.referrals,
                "targets": counts.targets,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(counts)
}
