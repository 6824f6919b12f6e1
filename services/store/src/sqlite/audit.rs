//! The audit log (appends, paging), withdrawals, transparency rows and retention.

use super::*;
use crate::audit::{
    AuditEntry, AuditEvent, NewPreservation, PSEUDONYM_PREFIX, Preservation, PurgeCounts,
    TargetWithdrawal, TransparencyRow, Withdrawal, WithdrawalScope, Withdrawer,
};
use crate::codes::{FAILED, PENDING, TAKEDOWN, WITHDRAWAL};
use const_format::formatcp;
use serde_json::json;
use sqlx::FromRow as _;

/// Appends `event` to the chain inside `tx` (the write lock is already held: every write
/// transaction starts with `BEGIN IMMEDIATE`).
pub(super) async fn append(
    tx: &mut Transaction<'static, Sqlite>,
    event: &AuditEvent,
) -> StoreResult<()> {
    let prev: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (seq, prev_hash, hash) = event.chain(prev);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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

/// Withdraws a target no referral of which stands: cancels a TAKEDOWN never attempted and
/// queues a WITHDRAWAL where one was sent. Returns (cancelled, queued).
async fn withdraw_target(
    tx: &mut Transaction<'static, Sqlite>,
    target_id: i64,
    by: &Withdrawer,
    reason: &str,
    at: i64,
) -> StoreResult<(u64, u64)> {
    sqlx::query(
        "UPDATE targets SET withdrawn_at = ?2, withdraw_reason = ?3, withdrawn_by = ?4 \
         WHERE id = ?1",
    )
    .bind(target_id)
    .bind(at)
    .bind(reason)
    .bind(by.id())
    .execute(&mut **tx)
    .await?;
    // Never sent: it will not be.
    let cancelled = sqlx::query(formatcp!(
        "UPDATE deliveries SET state = {FAILED}, failed_at = ?2, last_error = 'withdrawn' \
         WHERE target_id = ?1 AND kind = {TAKEDOWN} AND state = {PENDING} AND attempts = 0"
    ))
    .bind(target_id)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // Sent (even if the answer was not recorded): the platform may hold it.
    let queued = sqlx::query(
        formatcp!("INSERT INTO deliveries (target_id, platform, normalized, kind, state, next_at, \
         attempts, created_at) SELECT d.target_id, d.platform, d.normalized, {WITHDRAWAL}, {PENDING}, ?2, 0, ?2 \
         FROM deliveries d WHERE d.target_id = ?1 AND d.kind = {TAKEDOWN} AND d.attempts > 0 \
         ON CONFLICT (target_id, kind) DO NOTHING"),
    )
    .bind(target_id)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((cancelled, queued))
}

/// No referral of the target (`targets`) belongs to a list not yet purged.
const ALL_PURGED: &str = "AND NOT EXISTS (SELECT 1 FROM referrals r JOIN lists l \
    ON l.list_id = r.list_id WHERE r.target_id = targets.id AND l.purged_at IS NULL)";

/// Lists (`l`) that refer to a target preserved past `?2` (TCO Art 6(2)).
const PRESERVED: &str = "EXISTS (SELECT 1 FROM referrals r JOIN preservations p \
    ON p.target_id = r.target_id WHERE r.list_id = l.list_id AND p.until > ?2)";

impl Audit for SqliteStore {
    async fn withdraw(
        &self,
        scope: &WithdrawalScope,
        by: &Withdrawer,
        reason: &WithdrawalReason<'_>,
        at: i64,
    ) -> StoreResult<Option<Withdrawal>> {
        let mut tx = write_tx(&self.writer).await?;
        let own = match by {
            Withdrawer::Coordinator(_) => None,
            Withdrawer::Agency(a) => Some(a.as_str()),
        };
        // The scope's targets; `None` for what the withdrawer may not see.
        let target_ids: Vec<i64> = match scope {
            WithdrawalScope::Target { target_id, .. } => {
                let visible: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM targets t WHERE t.id = ?1 AND (?2 IS NULL OR \
                     EXISTS (SELECT 1 FROM referrals r WHERE r.target_id = t.id AND r.agency_id = ?2)))",
                )
                .bind(target_id)
                .bind(own)
                .fetch_one(&mut *tx)
                .await?;
                if !visible {
                    return Ok(None);
                }
                vec![target_id.get()]
            }
            WithdrawalScope::List { list_id } => {
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT agency_id FROM lists WHERE list_id = ?1")
                        .bind(list_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match (owner, own) {
                    (None, _) => return Ok(None),
                    (Some(o), Some(a)) if o != a => return Ok(None),
                    _ => {}
                }
                sqlx::query_scalar(
                    "SELECT DISTINCT target_id FROM referrals WHERE list_id = ?1 ORDER BY target_id",
                )
                .bind(list_id)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        if reason.ground == crate::WithdrawalGround::Scrutiny {
            let not_cross_border: i64 = match scope {
                WithdrawalScope::Target {
                    target_id,
                    agencies,
                } => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM referrals r WHERE r.target_id = ?1 \
                     AND r.withdrawn_at IS NULL AND (?2 IS NULL OR r.agency_id = ?2) \
                     AND (?3 IS NULL OR r.agency_id IN (SELECT value FROM json_each(?3))) \
                     AND NOT EXISTS (SELECT 1 FROM removal_orders o WHERE o.list_id = r.list_id \
                       AND o.item_index = r.item_index AND o.host_member_state IS NOT NULL)",
                )
                .bind(target_id)
                .bind(own)
                .bind((!agencies.is_empty()).then(|| json!(agencies).to_string())),
                WithdrawalScope::List { list_id } => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM referrals r WHERE r.list_id = ?1 \
                     AND r.withdrawn_at IS NULL AND (?2 IS NULL OR r.agency_id = ?2) \
                     AND NOT EXISTS (SELECT 1 FROM removal_orders o WHERE o.list_id = r.list_id \
                       AND o.item_index = r.item_index AND o.host_member_state IS NOT NULL)",
                )
                .bind(list_id)
                .bind(own),
            }
            .fetch_one(&mut *tx)
            .await?;
            if not_cross_border > 0 {
                return Err(crate::audit::scrutiny_refused(not_cross_border));
            }
        }
        // Take the referrals back.
        let taken = match scope {
            WithdrawalScope::Target {
                target_id,
                agencies,
            } => {
                let named = (!agencies.is_empty()).then(|| json!(agencies).to_string());
                sqlx::query(
                    "UPDATE referrals SET withdrawn_at = ?3, withdrawn_by = ?4, withdraw_reason = ?5, \
                     withdraw_ground = ?7 WHERE target_id = ?1 AND withdrawn_at IS NULL AND (?2 IS NULL OR agency_id = ?2) \
                     AND (?6 IS NULL OR agency_id IN (SELECT value FROM json_each(?6)))",
                )
                .bind(target_id)
                .bind(own)
                .bind(at)
                .bind(by.id())
                .bind(reason.text)
                .bind(named)
                .bind(reason.ground as i32)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            }
            WithdrawalScope::List { list_id } => sqlx::query(
                "UPDATE referrals SET withdrawn_at = ?3, withdrawn_by = ?4, withdraw_reason = ?5, \
                 withdraw_ground = ?6 WHERE list_id = ?1 AND withdrawn_at IS NULL AND (?2 IS NULL OR agency_id = ?2)",
            )
            .bind(list_id)
            .bind(own)
            .bind(at)
            .bind(by.id())
            .bind(reason.text)
            .bind(reason.ground as i32)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        // Where each target stands now; those without a standing referral are withdrawn.
        let rows: Vec<(i64, PlatformName, Option<i64>, i64, i64)> = sqlx::query_as(formatcp!(
            "SELECT t.id, t.platform, t.withdrawn_at, \
             (SELECT COUNT(*) FROM referrals r WHERE r.target_id = t.id AND r.withdrawn_at IS NULL), \
             (SELECT COUNT(*) FROM deliveries d WHERE d.target_id = t.id AND d.kind = {WITHDRAWAL}) \
             FROM targets t WHERE t.id IN (SELECT value FROM json_each(?1)) ORDER BY t.id"
        ))
        .bind(json!(target_ids).to_string())
        .fetch_all(&mut *tx)
        .await?;
        let mut targets = Vec::with_capacity(rows.len());
        let mut events = Vec::new();
        for (target_id, platform, withdrawn_at, standing, queued) in rows {
            if standing > 0 || withdrawn_at.is_some() {
                targets.push(TargetWithdrawal {
                    target_id: TargetId::new(target_id),
                    platform,
                    withdrawn_at,
                    referrals_standing: u32::try_from(standing).unwrap_or(u32::MAX),
                    withdrawals_queued: u32::try_from(queued).unwrap_or(0),
                    changed: false,
                });
                continue;
            }
            let (cancelled, queued) =
                withdraw_target(&mut tx, target_id, by, reason.text, at).await?;
            let (event, answer) =
                crate::audit::target_withdrawn(at, by, target_id, platform, queued, cancelled);
            events.push(event);
            targets.push(answer);
        }
        // Those still standing may have lost their removal order.
        let standing: Vec<i64> = targets
            .iter()
            .filter(|t| t.withdrawn_at.is_none())
            .map(|t| t.target_id.get())
            .collect();
        crate::basis::rederive(&mut tx, &standing).await?;
        if taken > 0 {
            let event = crate::audit::referrals_withdrawn(at, by, scope, reason, taken, &targets);
            append(&mut tx, &event).await?;
        }
        for event in &events {
            append(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Some(Withdrawal {
            referrals_withdrawn: u32::try_from(taken).unwrap_or(u32::MAX),
            targets,
        }))
    }

    async fn uphold_on_scrutiny(
        &self,
        target_id: TargetId,
        by: &OrgId,
        reason: &str,
        at: i64,
    ) -> StoreResult<Option<u32>> {
        let mut tx = write_tx(&self.writer).await?;
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM targets WHERE id = ?1)")
            .bind(target_id)
            .fetch_one(&mut *tx)
            .await?;
        if !known {
            return Ok(None);
        }
        let standing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM removal_orders o JOIN referrals r \
             ON r.list_id = o.list_id AND r.item_index = o.item_index \
             WHERE o.target_id = ?1 AND o.host_member_state IS NOT NULL AND r.withdrawn_at IS NULL",
        )
        .bind(target_id)
        .fetch_one(&mut *tx)
        .await?;
        if standing == 0 {
            return Err(crate::audit::nothing_to_scrutinise());
        }
        let upheld = sqlx::query(
            "UPDATE removal_orders SET scrutiny_upheld_at = ?2 \
             WHERE target_id = ?1 AND host_member_state IS NOT NULL AND scrutiny_upheld_at IS NULL \
             AND EXISTS (SELECT 1 FROM referrals r WHERE r.list_id = removal_orders.list_id \
               AND r.item_index = removal_orders.item_index AND r.withdrawn_at IS NULL)",
        )
        .bind(target_id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if upheld > 0 {
            append(
                &mut tx,
                &crate::audit::scrutiny_upheld(at, by, target_id.get(), upheld, reason),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(u32::try_from(upheld).unwrap_or(u32::MAX)))
    }

    async fn preserve(&self, p: &NewPreservation<'_>) -> StoreResult<Option<Preservation>> {
        let mut tx = write_tx(&self.writer).await?;
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM targets WHERE id = ?1)")
            .bind(p.target_id)
            .fetch_one(&mut *tx)
            .await?;
        if !known {
            return Ok(None);
        }
        let (lists, purged_at): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE l.purged_at IS NULL), MAX(l.purged_at) \
             FROM referrals r JOIN lists l ON l.list_id = r.list_id WHERE r.target_id = ?1",
        )
        .bind(p.target_id)
        .fetch_one(&mut *tx)
        .await?;
        if lists == 0 {
            return Ok(Some(Preservation::AlreadyPurged {
                at: purged_at.unwrap_or_default(),
            }));
        }
        sqlx::query(
            "INSERT INTO preservations (target_id, until, authority, reference, requested_by, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(p.target_id)
        .bind(p.until)
        .bind(p.authority)
        .bind(p.reference)
        .bind(p.by)
        .bind(p.at)
        .execute(&mut *tx)
        .await?;
        let until: i64 =
            sqlx::query_scalar("SELECT MAX(until) FROM preservations WHERE target_id = ?1")
                .bind(p.target_id)
                .fetch_one(&mut *tx)
                .await?;
        append(&mut tx, &crate::audit::preservation_extended(p, until)).await?;
        tx.commit().await?;
        Ok(Some(Preservation::Kept {
            until,
            lists: u32::try_from(lists).unwrap_or(u32::MAX),
        }))
    }

    async fn withdrawal_reasons(
        &self,
        target_ids: &[TargetId],
    ) -> StoreResult<Vec<(TargetId, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, COALESCE(withdraw_reason, '') FROM targets \
             WHERE withdrawn_at IS NOT NULL AND id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )
        .bind(id_set(target_ids))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn audit_entries(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rs = sqlx::query(
            "SELECT seq, at, actor, kind, subject, details, prev_hash, hash FROM audit_log \
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(crate::audit::AuditEntry::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn audit_head(&self) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn hub_audit_key(&self, k: &HubAuditKey) -> StoreResult<HubAuditKey> {
        let writer = &self.writer;
        sqlx::query(
            "INSERT INTO hub_audit_keys (kid, private_pem, public_pem, created_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM hub_audit_keys) \
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&k.kid)
        .bind(&k.private_pem)
        .bind(&k.public_pem)
        .bind(k.created_at)
        .execute(writer)
        .await?;
        let r = sqlx::query(
            "SELECT kid, private_pem, public_pem, created_at FROM hub_audit_keys \
             ORDER BY created_at, kid LIMIT 1",
        )
        .fetch_one(writer)
        .await?;
        Ok(HubAuditKey::from_row(&r)?)
    }

    async fn hub_secret(&self, name: &str, candidate: &[u8], at: i64) -> StoreResult<Vec<u8>> {
        let writer = &self.writer;
        sqlx::query(
            "INSERT INTO hub_secrets (name, secret, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(at)
        .execute(writer)
        .await?;
        let secret: Vec<u8> = sqlx::query_scalar("SELECT secret FROM hub_secrets WHERE name = ?1")
            .bind(name)
            .fetch_one(writer)
            .await?;
        Ok(secret)
    }

    async fn put_audit_head(&self, h: &SignedHeadRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_heads (seq, jws, signed_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(h.seq)
        .bind(&h.jws)
        .bind(h.signed_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn audit_head_upto(&self, upto: i64) -> StoreResult<Option<SignedHeadRecord>> {
        let r = sqlx::query(
            "SELECT seq, jws, signed_at FROM audit_heads WHERE seq <= ?1 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(upto)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(SignedHeadRecord::from_row).transpose()?)
    }

    async fn transparency_rows(
        &self,
        action_day_id: &ActionDayId,
    ) -> StoreResult<Vec<TransparencyRow>> {
        let pool = &self.pool;
        let rs = sqlx::query(
            "SELECT id, platform, normalized, kind, category, legal_basis, removal_order_ref, \
             delivered_at, acted_at, outcome, reject_reason, withdrawn_at, ro_elapsed, restoration, \
             restoration_at FROM targets WHERE action_day_id = ?1 ORDER BY platform, id",
        )
        .bind(action_day_id)
        .fetch_all(pool)
        .await?;
        let mut out: Vec<TransparencyRow> = rs
            .iter()
            .map(crate::audit::TransparencyRow::from_row)
            .collect::<sqlx::Result<_>>()?;
        let orders = sqlx::query(
            "SELECT o.target_id, o.reference, o.issuing_authority, o.member_state, o.issued_at, \
             o.host_member_state, o.scrutiny_upheld_at, CASE WHEN r.withdrawn_at IS NULL THEN NULL \
               ELSE r.withdraw_ground END AS withdraw_ground \
             FROM removal_orders o JOIN targets t ON t.id = o.target_id \
             JOIN referrals r ON r.list_id = o.list_id AND r.item_index = o.item_index \
             WHERE t.action_day_id = ?1 ORDER BY o.target_id, o.list_id, o.item_index",
        )
        .bind(action_day_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(crate::audit::OrderRow::from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
        crate::audit::attach_orders(&mut out, orders);
        Ok(out)
    }
}

impl Retention for SqliteStore {
    async fn purge_expired(&self, cutoff: i64, at: i64) -> StoreResult<PurgeCounts> {
        let mut tx = write_tx(&self.writer).await?;
        let lists: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT l.list_id FROM lists l LEFT JOIN action_days d ON d.id = l.action_day_id \
             WHERE l.purged_at IS NULL AND CASE WHEN l.action_day_id IS NULL \
             THEN l.accepted_at < ?1 ELSE COALESCE(d.closed_at, d.ends_at) < ?1 END \
             AND NOT {PRESERVED} ORDER BY l.list_id"
        )))
        .bind(cutoff)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut counts = PurgeCounts {
            lists: lists.len() as u64,
            ..PurgeCounts::default()
        };
        let list_set = id_set(&lists);
        counts.referrals = sqlx::query(
            "UPDATE referrals SET item = X'', withdraw_reason = NULL \
             WHERE list_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&list_set)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE lists SET purged_at = ?2 WHERE list_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&list_set)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // Targets all of whose lists are now purged.
        let targets: Vec<i64> = sqlx::query_scalar(formatcp!(
            "SELECT id FROM targets WHERE id IN (SELECT target_id FROM referrals \
             WHERE list_id IN (SELECT value FROM json_each(?1))) {ALL_PURGED}"
        ))
        .bind(&list_set)
        .fetch_all(&mut *tx)
        .await?;
        counts.targets = targets.len() as u64;
        let targets = id_set(&targets);
        for sql in [
            formatcp!(
                "UPDATE targets SET outcome_text = NULL, withdraw_reason = NULL, \
                 restoration_text = NULL, normalized = '{PSEUDONYM_PREFIX}' || id, \
                 original = '{PSEUDONYM_PREFIX}' || id WHERE id IN (SELECT value FROM json_each(?1))"
            ),
            formatcp!(
                "UPDATE deliveries SET normalized = '{PSEUDONYM_PREFIX}' || target_id, \
                 last_error = NULL WHERE target_id IN (SELECT value FROM json_each(?1))"
            ),
            "UPDATE reports SET report_text = '' WHERE target_id IN (SELECT value FROM json_each(?1))",
        ] {
            sqlx::query(sql).bind(&targets).execute(&mut *tx).await?;
        }
        counts.holds = sqlx::query(AssertSqlSafe(format!(
            "UPDATE holds SET target = '{PSEUDONYM_PREFIX}' || id, \
             normalized = '{PSEUDONYM_PREFIX}' || id, reason = '', salt = NULL \
             WHERE COALESCE(released_at, expires_at) < ?1 \
             AND normalized NOT LIKE '{PSEUDONYM_PREFIX}%'"
        )))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if counts.is_empty() {
            return Ok(counts);
        }
        append(
            &mut tx,
            &crate::audit::retention_purged(at, cutoff, &lists, &counts),
        )
        .await?;
        tx.commit().await?;
        Ok(counts)
    }
}
