//! Storing verified lists, and reading them back.

use super::*;
use crate::codes::{PENDING, TAKEDOWN};
use crate::rollup::Facts;
use const_format::formatcp;
use sqlx::FromRow as _;

/// The stored answer for a list id already present, or `Conflict`.
pub(super) async fn existing_list(
    tx: &mut Transaction<'static, Postgres>,
    list: &NewList,
) -> StoreResult<IntakeResult> {
    let row = sqlx::query(
        "SELECT agency_id, content_sha256, new_targets, merged FROM lists WHERE list_id = $1",
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
        "SELECT target_id FROM referrals WHERE list_id = $1 ORDER BY item_index",
    )
    .bind(&list.list_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(plan::duplicate_answer(&stored, target_ids)?)
}

pub(super) async fn insert_list_tx(
    tx: &mut Transaction<'static, Postgres>,
    list: &NewList,
    items: &[NewReferral],
) -> StoreResult<IntakeSummary> {
    let scope = list.action_day_id.as_deref().unwrap_or("");
    let plan = IntakePlan::new(items);
    let positions = plan.positions(items);
    let mut ids: Vec<Option<i64>> = vec![None; plan.unique.len()];

    // Targets: insert the new ones (in key order, so concurrent lists lock alike).
    let firsts: Vec<&NewReferral> = plan.unique.iter().map(|&i| &items[i]).collect();
    let platforms: Vec<&str> = firsts.iter().map(|it| it.platform.as_str()).collect();
    let normalized: Vec<&str> = firsts.iter().map(|it| it.normalized.as_str()).collect();
    let kinds: Vec<i32> = firsts.iter().map(|it| it.kind as i32).collect();
    let originals: Vec<&str> = firsts.iter().map(|it| it.original.as_str()).collect();
    let categories: Vec<&str> = firsts.iter().map(|it| it.category.as_str()).collect();
    let bases: Vec<i32> = firsts.iter().map(|it| it.legal_basis as i32).collect();
    let refs: Vec<&str> = firsts
        .iter()
        .map(|it| it.removal_order_ref.as_str())
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO targets (scope, action_day_id, created_at, due_at, platform, normalized, \
         kind, original, category, legal_basis, removal_order_ref) \
         SELECT $1::text, $2::text, $3::int8, $4::int8, u.platform, u.normalized, u.kind, \
                u.original, u.category, u.legal_basis, u.removal_order_ref \
         FROM UNNEST($5::text[], $6::text[], $7::int4[], $8::text[], $9::text[], \
                     $10::int4[], $11::text[]) \
              AS u(platform, normalized, kind, original, category, legal_basis, \
                   removal_order_ref) \
         ON CONFLICT (scope, platform, normalized) DO NOTHING \
         RETURNING id, platform, normalized",
    )
    .bind(scope)
    .bind(list.action_day_id.as_deref())
    .bind(list.accepted_at)
    .bind(list.due_at)
    .bind(&platforms)
    .bind(&normalized)
    .bind(&kinds)
    .bind(&originals)
    .bind(&categories)
    .bind(&bases)
    .bind(&refs)
    .fetch_all(&mut **tx)
    .await?;
    let mut new_targets = 0usize;
    for r in &inserted {
        let p: &str = r.try_get("platform")?;
        let n: &str = r.try_get("normalized")?;
        if let Some(&pos) = positions.get(&(p, n)) {
            ids[pos] = Some(r.try_get("id")?);
            new_targets += 1;
        }
    }

    // Targets that already existed.
    let missing: Vec<usize> = (0..ids.len()).filter(|&p| ids[p].is_none()).collect();
    if !missing.is_empty() {
        let mp: Vec<&str> = missing.iter().map(|&p| platforms[p]).collect();
        let mn: Vec<&str> = missing.iter().map(|&p| normalized[p]).collect();
        let found = sqlx::query(
            "SELECT t.id, t.platform, t.normalized \
             FROM UNNEST($2::text[], $3::text[]) AS u(platform, normalized) \
             JOIN targets t ON t.scope = $1 AND t.platform = u.platform \
              AND t.normalized = u.normalized",
        )
        .bind(scope)
        .bind(&mp)
        .bind(&mn)
        .fetch_all(&mut **tx)
        .await?;
        for r in &found {
            let p: &str = r.try_get("platform")?;
            let n: &str = r.try_get("normalized")?;
            if let Some(&pos) = positions.get(&(p, n)) {
                ids[pos] = Some(r.try_get("id")?);
            }
        }
    }
    let ids: Vec<i64> = ids
        .into_iter()
        .collect::<Option<Vec<i64>>>()
        .ok_or(sqlx::Error::RowNotFound)?;

    // The rollups: the new targets, and the agency's first referral of existing ones.
    let existed: HashSet<usize> = missing.iter().copied().collect();
    let fresh_facts: Vec<Facts> = (0..ids.len())
        .filter(|pos| !existed.contains(pos))
        .map(|pos| Facts::fresh(ids[pos], list, firsts[pos]))
        .collect();
    let existing: Vec<i64> = missing.iter().map(|&pos| ids[pos]).collect();
    crate::rollup::intake(tx, &list.agency_id, &fresh_facts, &existing).await?;

    // Referrals, one per item.
    let indexes: Vec<i64> = (0..items.len()).map(|i| i as i64).collect();
    let target_of: Vec<i64> = plan.slot.iter().map(|&pos| ids[pos]).collect();
    let blobs: Vec<&[u8]> = items.iter().map(|it| it.item.as_slice()).collect();
    let item_bases: Vec<i32> = items.iter().map(|it| it.legal_basis as i32).collect();
    let item_refs: Vec<&str> = items
        .iter()
        .map(|it| it.removal_order_ref.as_str())
        .collect();
    sqlx::query(
        "INSERT INTO referrals (list_id, agency_id, item_index, target_id, item, legal_basis, \
         removal_order_ref) \
         SELECT $1, $2, u.i, u.t, u.b, u.l, u.r \
         FROM UNNEST($3::int8[], $4::int8[], $5::bytea[], $6::int4[], $7::text[]) \
              AS u(i, t, b, l, r)",
    )
    .bind(&list.list_id)
    .bind(&list.agency_id)
    .bind(&indexes)
    .bind(&target_of)
    .bind(&blobs)
    .bind(&item_bases)
    .bind(&item_refs)
    .execute(&mut **tx)
    .await?;

    // The removal orders' facts, one row per order.
    let orders: Vec<(usize, &crate::RemovalOrderFacts)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.removal_order.as_ref().map(|o| (i, o)))
        .collect();
    if !orders.is_empty() {
        let order_indexes: Vec<i64> = orders.iter().map(|(i, _)| *i as i64).collect();
        let order_targets: Vec<i64> = orders.iter().map(|(i, _)| target_of[*i]).collect();
        let order_refs: Vec<&str> = orders
            .iter()
            .map(|(i, _)| items[*i].removal_order_ref.as_str())
            .collect();
        let authorities: Vec<&str> = orders
            .iter()
            .map(|(_, o)| o.issuing_authority.as_str())
            .collect();
        let states: Vec<&str> = orders
            .iter()
            .map(|(_, o)| o.member_state.as_str())
            .collect();
        let issued: Vec<i64> = orders.iter().map(|(_, o)| o.issued_at).collect();
        let hosts: Vec<Option<&str>> = orders
            .iter()
            .map(|(_, o)| o.host_member_state.as_deref())
            .collect();
        sqlx::query(
            "INSERT INTO removal_orders (list_id, item_index, target_id, reference, \
             issuing_authority, member_state, issued_at, host_member_state) \
             SELECT $1, u.i, u.t, u.r, u.a, u.m, u.at, u.h \
             FROM UNNEST($2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], \
                         $7::int8[], $8::text[]) AS u(i, t, r, a, m, at, h)",
        )
        .bind(&list.list_id)
        .bind(&order_indexes)
        .bind(&order_targets)
        .bind(&order_refs)
        .bind(&authorities)
        .bind(&states)
        .bind(&issued)
        .bind(&hosts)
        .execute(&mut **tx)
        .await?;
    }

    // Existing targets this list orders removed may now be removal orders (their rows are
    // locked since the rollups read them).
    let mut ordered: Vec<i64> = missing
        .iter()
        .filter(|&&pos| firsts[pos].legal_basis == LegalBasis::RemovalOrder)
        .map(|&pos| ids[pos])
        .collect();
    ordered.sort_unstable();
    crate::basis::rederive(tx, &ordered).await?;

    // One TAKEDOWN delivery per new target, in target-id order.
    let mut fresh: Vec<(i64, usize)> = ids
        .iter()
        .enumerate()
        .filter(|(pos, _)| !existed.contains(pos))
        .map(|(pos, &id)| (id, pos))
        .collect();
    fresh.sort_unstable();
    let d_ids: Vec<i64> = fresh.iter().map(|&(id, _)| id).collect();
    let d_platforms: Vec<&str> = fresh.iter().map(|&(_, p)| platforms[p]).collect();
    let d_normalized: Vec<&str> = fresh.iter().map(|&(_, p)| normalized[p]).collect();
    sqlx::query(formatcp!(
        "INSERT INTO deliveries (kind, state, attempts, next_at, created_at, target_id, \
         platform, normalized) \
         SELECT {TAKEDOWN}, {PENDING}, 0, $1, $2, u.t, u.p, u.n \
         FROM UNNEST($3::int8[], $4::text[], $5::text[]) AS u(t, p, n)"
    ))
    .bind(list.due_at)
    .bind(list.accepted_at)
    .bind(&d_ids)
    .bind(&d_platforms)
    .bind(&d_normalized)
    .execute(&mut **tx)
    .await?;

    let summary = plan.summary(&ids, new_targets);
    sqlx::query("UPDATE lists SET new_targets = $2, merged = $3 WHERE list_id = $1")
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
    AND h.normalized = t.normalized AND h.released_at IS NULL AND h.expires_at > $2) AS held, \
    d.state AS delivery_state, t.delivered_at, t.acked_at, t.outcome, t.reject_reason, \
    t.outcome_text, t.fail_reason, COALESCE(r.withdrawn_at, t.withdrawn_at) AS withdrawn_at \
    FROM referrals r JOIN targets t ON t.id = r.target_id \
    LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = {TAKEDOWN} \
    WHERE r.list_id = $1 ORDER BY r.item_index"
);

impl Intake for PgStore {
    async fn insert_list(
        &self,
        list: &NewList,
        items: &[NewReferral],
    ) -> StoreResult<IntakeResult> {
        let mut tx = self.pool.begin().await?;
        // The day's H-hour as it is now, under a share lock that a move waits for (and that
        // waits for a move): a move since the caller read it makes the list due at the new one.
        let mut moved = None;
        let h = match &list.action_day_id {
            Some(day) => {
                sqlx::query_scalar("SELECT starts_at FROM action_days WHERE id = $1 FOR SHARE")
                    .bind(day)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let list = crate::day_move::due_at_h_hour(list, h, &mut moved);
        // A concurrent insert of the same id makes this wait for it, then do nothing.
        let claimed = sqlx::query(
            "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, \
             item_count, leaf_hashes, created_at, accepted_at, due_at, kid, signed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (list_id) DO NOTHING",
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
             accepted_at, new_targets, merged FROM lists WHERE list_id = $1",
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
             WHERE kid = $1 AND signed_at >= $2 ORDER BY signed_at, list_id",
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
