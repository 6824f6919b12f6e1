//! Storing verified lists, and reading them back.

use super::*;
use crate::codes::{PENDING, TAKEDOWN};
use crate::rollup::Facts;
use const_format::formatcp;
use sqlx::FromRow as _;

/// The stored answer for a list id already present, or `Conflict`.
pub(super) async fn existing_list(
    tx: &mut Transaction<'static, Sqlite>,
    list: &NewList,
) -> StoreResult<IntakeResult> {
    let row = sqlx::query(
        "SELECT agency_id, content_sha256, new_targets, merged FROM lists WHERE list_id = ?1",
    )
    .bind(&list.list_id)
    .fetch_one(&mut **tx)
    .await?;
    let stored = plan::StoredList {
        agency_id: row.try_get("agency_id")?,
        content_sha256: row.try_get("content_sha256")?,
        new_targets: row.try_get("new_targets")?,
        merged: row.try_get("merged")?,
    };
    plan::resubmission(list, &stored)?;
    let target_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT target_id FROM referrals WHERE list_id = ?1 ORDER BY item_index",
    )
    .bind(&list.list_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(plan::duplicate_answer(&stored, target_ids)?)
}

pub(super) async fn insert_list_tx(
    tx: &mut Transaction<'static, Sqlite>,
    list: &NewList,
    items: &[NewReferral],
) -> StoreResult<IntakeSummary> {
    let scope = list.action_day_id.as_deref().unwrap_or("");
    let plan = IntakePlan::new(items);
    let positions = plan.positions(items);
    let mut ids: Vec<Option<i64>> = vec![None; plan.unique.len()];

    // Targets: insert the new ones, learn their ids.
    let mut new_targets = 0usize;
    for (range, sql) in chunks(plan.unique.len(), rows_per_chunk(0, 11), |n| {
        format!(
            "INSERT INTO targets (scope, action_day_id, created_at, due_at, platform, \
             normalized, kind, original, category, legal_basis, removal_order_ref) VALUES {} \
             ON CONFLICT (scope, platform, normalized) DO NOTHING \
             RETURNING id, platform, normalized",
            values_rows(n, "", 11)
        )
    }) {
        let mut q = sized(AssertSqlSafe(sql));
        for &i in &plan.unique[range] {
            let it = &items[i];
            q = q
                .bind(scope)
                .bind(list.action_day_id.as_deref())
                .bind(list.accepted_at)
                .bind(list.due_at)
                .bind(it.platform.as_str())
                .bind(it.normalized.as_str())
                .bind(it.kind as i32)
                .bind(it.original.as_str())
                .bind(it.category.as_str())
                .bind(it.legal_basis as i32)
                .bind(it.removal_order_ref.as_str());
        }
        for r in q.fetch_all(&mut **tx).await? {
            let platform: &str = r.try_get("platform")?;
            let normalized: &str = r.try_get("normalized")?;
            if let Some(&pos) = positions.get(&(platform, normalized)) {
                ids[pos] = Some(r.try_get("id")?);
                new_targets += 1;
            }
        }
    }

    // Targets that already existed.
    let missing: Vec<usize> = (0..ids.len()).filter(|&p| ids[p].is_none()).collect();
    for (range, sql) in chunks(missing.len(), rows_per_chunk(1, 2), |n| {
        format!(
            "SELECT t.id, t.platform, t.normalized FROM (VALUES {}) AS v \
             JOIN targets t ON t.scope = ? AND t.platform = v.column1 \
             AND t.normalized = v.column2",
            values_rows(n, "", 2)
        )
    }) {
        let mut q = sized(AssertSqlSafe(sql));
        for &pos in &missing[range] {
            let it = &items[plan.unique[pos]];
            q = q.bind(it.platform.as_str()).bind(it.normalized.as_str());
        }
        q = q.bind(scope);
        for r in q.fetch_all(&mut **tx).await? {
            let platform: &str = r.try_get("platform")?;
            let normalized: &str = r.try_get("normalized")?;
            if let Some(&pos) = positions.get(&(platform, normalized)) {
                ids[pos] = Some(r.try_get("id")?);
            }
        }
    }
    let ids: Vec<i64> = ids
        .into_iter()
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| sqlx::Error::RowNotFound)?;

    // The rollups: the new targets, and the agency's first referral of existing ones.
    let existed: HashSet<usize> = missing.iter().copied().collect();
    let fresh_facts: Vec<Facts> = (0..ids.len())
        .filter(|pos| !existed.contains(pos))
        .map(|pos| Facts::fresh(ids[pos], list, &items[plan.unique[pos]]))
        .collect();
    let existing: Vec<i64> = missing.iter().map(|&pos| ids[pos]).collect();
    crate::rollup::intake(tx, &list.agency_id, &fresh_facts, &existing).await?;

    // Referrals, one per item.
    for (range, sql) in chunks(items.len(), rows_per_chunk(0, 7), |n| {
        format!(
            "INSERT INTO referrals (list_id, agency_id, item_index, target_id, item, \
             legal_basis, removal_order_ref) VALUES {}",
            values_rows(n, "", 7)
        )
    }) {
        let mut q = sized(AssertSqlSafe(sql));
        for i in range {
            q = q
                .bind(list.list_id.as_str())
                .bind(list.agency_id.as_str())
                .bind(i as i64)
                .bind(ids[plan.slot[i]])
                .bind(items[i].item.as_slice())
                .bind(items[i].legal_basis as i32)
                .bind(items[i].removal_order_ref.as_str());
        }
        q.execute(&mut **tx).await?;
    }

    // The removal orders' facts, one row per order.
    for (i, it) in items.iter().enumerate() {
        let Some(o) = &it.removal_order else {
            continue;
        };
        sqlx::query(
            "INSERT INTO removal_orders (list_id, item_index, target_id, reference, \
             issuing_authority, member_state, issued_at, host_member_state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(list.list_id.as_str())
        .bind(i as i64)
        .bind(ids[plan.slot[i]])
        .bind(it.removal_order_ref.as_str())
        .bind(o.issuing_authority.as_str())
        .bind(o.member_state.as_str())
        .bind(o.issued_at)
        .bind(o.host_member_state.as_deref())
        .execute(&mut **tx)
        .await?;
    }

    // Existing targets this list orders removed may now be removal orders.
    let mut ordered: Vec<i64> = missing
        .iter()
        .filter(|&&pos| items[plan.unique[pos]].legal_basis == LegalBasis::RemovalOrder)
        .map(|&pos| ids[pos])
        .collect();
    ordered.sort_unstable();
    crate::basis::rederive(tx, &ordered).await?;

    // One TAKEDOWN delivery per new target, in target-id order.
    let mut fresh: Vec<(i64, usize)> = Vec::with_capacity(new_targets);
    for (pos, &id) in ids.iter().enumerate() {
        if !existed.contains(&pos) {
            fresh.push((id, plan.unique[pos]));
        }
    }
    fresh.sort_unstable();
    for (range, sql) in chunks(fresh.len(), rows_per_chunk(0, 5), |n| {
        format!(
            "INSERT INTO deliveries (kind, state, attempts, next_at, created_at, target_id, \
             platform, normalized) VALUES {}",
            values_rows(n, formatcp!("{TAKEDOWN}, {PENDING}, 0, "), 5)
        )
    }) {
        let mut q = sized(AssertSqlSafe(sql));
        for &(id, i) in &fresh[range] {
            q = q
                .bind(list.due_at)
                .bind(list.accepted_at)
                .bind(id)
                .bind(items[i].platform.as_str())
                .bind(items[i].normalized.as_str());
        }
        q.execute(&mut **tx).await?;
    }

    let summary = plan.summary(&ids, new_targets);
    sqlx::query("UPDATE lists SET new_targets = ?2, merged = ?3 WHERE list_id = ?1")
        .bind(&list.list_id)
        .bind(to_i64(summary.new_targets))
        .bind(to_i64(summary.merged))
        .execute(&mut **tx)
        .await?;
    Ok(summary)
}

const ITEM_QUERY: &str = formatcp!(
    "SELECT r.item_index, t.id AS target_id, t.platform, t.normalized, \
    t.due_at, EXISTS (SELECT 1 FROM holds h WHERE h.platform = t.platform \
    AND h.normalized = t.normalized AND h.released_at IS NULL AND h.expires_at > ?2) AS held, \
    d.state AS delivery_state, t.delivered_at, t.acked_at, t.outcome, t.reject_reason, \
    t.outcome_text, t.fail_reason, COALESCE(r.withdrawn_at, t.withdrawn_at) AS withdrawn_at \
    FROM referrals r JOIN targets t ON t.id = r.target_id \
    LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = {TAKEDOWN} \
    WHERE r.list_id = ?1 ORDER BY r.item_index"
);

impl Intake for SqliteStore {
    async fn insert_list(
        &self,
        list: &NewList,
        items: &[NewReferral],
    ) -> StoreResult<IntakeResult> {
        let mut tx = write_tx(&self.writer).await?;
        // The day's H-hour as it is now, in this transaction: a move since the caller read it
        // makes the list due at the new one.
        let mut moved = None;
        let h = match &list.action_day_id {
            Some(day) => {
                sqlx::query_scalar("SELECT starts_at FROM action_days WHERE id = ?1")
                    .bind(day)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let list = crate::day_move::due_at_h_hour(list, h, &mut moved);
        let claimed = sqlx::query(
            "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, \
             item_count, leaf_hashes, created_at, accepted_at, due_at, kid, signed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (list_id) DO NOTHING",
        )
        .bind(&list.list_id)
        .bind(&list.agency_id)
        .bind(list.action_day_id.as_deref())
        .bind(list.content_sha256.as_slice())
        .bind(&list.jws)
        .bind(to_i64(list.item_count))
        .bind(list.leaf_hashes.as_slice())
        .bind(list.created_at)
        .bind(list.accepted_at)
        .bind(list.due_at)
        .bind(&list.kid)
        .bind(list.signed_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return existing_list(&mut tx, list).await;
        }
        let summary = insert_list_tx(&mut tx, list, items).await?;
        super::audit::append(&mut tx, &crate::audit::list_accepted(list, &summary)).await?;
        tx.commit().await?;
        tracing::debug!(
            list_id = %list.list_id,
            new_targets = summary.new_targets,
            merged = summary.merged,
            "list stored"
        );
        Ok(IntakeResult::Accepted(summary))
    }

    async fn get_list(&self, list_id: &ListId) -> StoreResult<Option<ListRecord>> {
        let r = sqlx::query(
            "SELECT list_id, agency_id, action_day_id, content_sha256, item_count, created_at, \
             accepted_at, new_targets, merged FROM lists WHERE list_id = ?1",
        )
        .bind(list_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(ListRecord::from_row).transpose()?)
    }

    async fn list_items(&self, list_id: &ListId, now: i64) -> StoreResult<Vec<ItemRecord>> {
        let rs = sqlx::query(ITEM_QUERY)
            .bind(list_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok(rs
            .iter()
            .map(ItemRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn lists_signed_with(&self, kid: &str, since: i64) -> StoreResult<Vec<SignedListRecord>> {
        let rs = sqlx::query(
            "SELECT list_id, agency_id, action_day_id, signed_at, due_at FROM lists \
             WHERE kid = ?1 AND signed_at >= ?2 ORDER BY signed_at, list_id",
        )
        .bind(kid)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(SignedListRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }
}
