//! PostgreSQL backend, for several hub replicas sharing one database.
//!
//! Text is ordered with `COLLATE "C"` (byte order, as SQLite and Rust order it), whatever
//! the database's default collation.
//!
//! Bulk writes bind whole columns as arrays and expand them with `UNNEST`, one statement
//! per table. Outbox claims lock their rows with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers (other replicas) never take the same delivery.

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::model::*;
use crate::plan::{self, IntakePlan, ReportEffects};
use crate::rows::to_i64;
use crate::{Store, StoreError, StoreResult, migrations};

mod rows {
    crate::rows::row_decoders!(sqlx::postgres::PgRow);
}

const POOL_SIZE: u32 = 8;

/// The PostgreSQL store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and applies the embedded migrations (sqlx takes
    /// an advisory lock, so replicas starting together migrate once).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await?;
        migrations::postgres().run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const DAY_COLUMNS: &str =
    "id, name, starts_at, ends_at, platforms, agencies, created_at, released_at, closed_at";

fn day_row(r: &PgRow) -> sqlx::Result<ActionDay> {
    Ok(ActionDay {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        platforms: r.try_get("platforms")?,
        agencies: r.try_get("agencies")?,
        created_at: r.try_get("created_at")?,
        released_at: r.try_get("released_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

const KEY_COLUMNS: &str =
    "kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason";
const HOLD_COLUMNS: &str =
    "id, platform, target, normalized, reason, expires_at, created_at, placed_by, released_at";

impl PgStore {
    async fn days(&self, sql: String, now: Option<i64>) -> StoreResult<Vec<ActionDay>> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(now) = now {
            q = q.bind(now);
        }
        let rs = q.fetch_all(&self.pool).await?;
        Ok(rs.iter().map(day_row).collect::<sqlx::Result<_>>()?)
    }

    /// The stored answer for a list id already present, or `Conflict`.
    async fn existing_list(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        list: &NewList,
    ) -> StoreResult<IntakeResult> {
        let row = sqlx::query(
            "SELECT agency_id, content_sha256, new_targets, merged FROM lists WHERE list_id = $1",
        )
        .bind(&list.list_id)
        .fetch_one(&mut **tx)
        .await?;
        let agency: String = row.try_get("agency_id")?;
        let sha: Vec<u8> = row.try_get("content_sha256")?;
        if agency != list.agency_id || sha != list.content_sha256 {
            return Err(StoreError::Conflict(format!(
                "list {:?} already exists with other content",
                list.list_id
            )));
        }
        let target_ids: Vec<i64> = sqlx::query_scalar(
            "SELECT target_id FROM referrals WHERE list_id = $1 ORDER BY item_index",
        )
        .bind(&list.list_id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(IntakeResult::Duplicate(IntakeSummary {
            new_targets: crate::rows::count(row.try_get("new_targets")?)?,
            merged: crate::rows::count(row.try_get("merged")?)?,
            target_ids,
        }))
    }

    async fn insert_list_tx(
        &self,
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
        let kinds: Vec<i32> = firsts.iter().map(|it| it.kind).collect();
        let originals: Vec<&str> = firsts.iter().map(|it| it.original.as_str()).collect();
        let categories: Vec<&str> = firsts.iter().map(|it| it.category.as_str()).collect();
        let bases: Vec<i32> = firsts.iter().map(|it| it.legal_basis).collect();
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

        // Referrals, one per item.
        let indexes: Vec<i64> = (0..items.len()).map(|i| i as i64).collect();
        let target_of: Vec<i64> = plan.slot.iter().map(|&pos| ids[pos]).collect();
        let blobs: Vec<&[u8]> = items.iter().map(|it| it.item.as_slice()).collect();
        sqlx::query(
            "INSERT INTO referrals (list_id, agency_id, item_index, target_id, item) \
             SELECT $1, $2, u.i, u.t, u.b \
             FROM UNNEST($3::int8[], $4::int8[], $5::bytea[]) AS u(i, t, b)",
        )
        .bind(&list.list_id)
        .bind(&list.agency_id)
        .bind(&indexes)
        .bind(&target_of)
        .bind(&blobs)
        .execute(&mut **tx)
        .await?;

        // One TAKEDOWN delivery per new target, in target-id order.
        let existed: HashSet<usize> = missing.into_iter().collect();
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
        sqlx::query(
            "INSERT INTO deliveries (kind, state, attempts, next_at, created_at, target_id, \
             platform, normalized) \
             SELECT 1, 0, 0, $1, $2, u.t, u.p, u.n \
             FROM UNNEST($3::int8[], $4::text[], $5::text[]) AS u(t, p, n)",
        )
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
}

const ITEM_QUERY: &str = "SELECT r.item_index, t.id AS target_id, t.platform, t.normalized, \
    t.due_at, EXISTS (SELECT 1 FROM holds h WHERE h.platform = t.platform \
    AND h.normalized = t.normalized AND h.released_at IS NULL AND h.expires_at > $2) AS held, \
    d.state AS delivery_state, t.delivered_at, t.acked_at, t.outcome, t.reject_reason, \
    t.outcome_text, t.fail_reason, t.withdrawn_at \
    FROM referrals r JOIN targets t ON t.id = r.target_id \
    LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = 1 \
    WHERE r.list_id = $1 ORDER BY r.item_index";

const COUNTS_QUERY: &str = "WITH x AS ( \
      SELECT t.platform, t.delivered_at, t.acked_at, t.outcome, \
             COALESCE(d.state, -1) AS dstate, \
             EXISTS (SELECT 1 FROM holds h WHERE h.platform = t.platform \
                     AND h.normalized = t.normalized AND h.released_at IS NULL \
                     AND h.expires_at > $2) AS held, \
             t.due_at \
      FROM targets t LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = 1 \
      WHERE t.action_day_id = $1), \
    y AS (SELECT x.*, (delivered_at IS NOT NULL OR (due_at <= $2 AND NOT held)) AS rel FROM x) \
    SELECT platform, \
      COUNT(*) AS referred, \
      COUNT(*) FILTER (WHERE delivered_at IS NULL AND held) AS held, \
      COUNT(*) FILTER (WHERE rel) AS released, \
      COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered, \
      COUNT(*) FILTER (WHERE acked_at IS NOT NULL) AS acknowledged, \
      COUNT(*) FILTER (WHERE outcome = 1) AS blocked, \
      COUNT(*) FILTER (WHERE outcome = 2) AS already_gone, \
      COUNT(*) FILTER (WHERE outcome = 3) AS not_found, \
      COUNT(*) FILTER (WHERE outcome = 4) AS geo_blocked, \
      COUNT(*) FILTER (WHERE outcome = 5) AS rejected, \
      COUNT(*) FILTER (WHERE dstate = 3) AS failed, \
      COUNT(*) FILTER (WHERE rel AND dstate <> 3 AND outcome IS NULL) AS pending \
    FROM y GROUP BY platform ORDER BY platform COLLATE \"C\"";

impl Store for PgStore {
    async fn upsert_organization(&self, org: &Organization) -> StoreResult<Organization> {
        let r = sqlx::query(
            "INSERT INTO organizations (id, role, display_name, registered_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET role = excluded.role, \
             display_name = excluded.display_name \
             RETURNING id, role, display_name, registered_at",
        )
        .bind(&org.id)
        .bind(org.role)
        .bind(&org.display_name)
        .bind(org.registered_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::organization(&r)?)
    }

    async fn get_organization(&self, id: &str) -> StoreResult<Option<Organization>> {
        let r = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::organization).transpose()?)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let rs = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations ORDER BY id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(rows::organization)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn insert_agency_key(&self, key: &AgencyKey) -> StoreResult<AgencyKey> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO agency_keys (kid, agency_id, public_key_pem, registered_at, revoked_at, \
             revoke_reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING \
             RETURNING {KEY_COLUMNS}"
        )))
        .bind(&key.kid)
        .bind(&key.agency_id)
        .bind(&key.public_key_pem)
        .bind(key.registered_at)
        .bind(key.revoked_at)
        .bind(key.revoke_reason.as_deref())
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => Ok(rows::agency_key(&r)?),
            None => Err(StoreError::Conflict(format!(
                "agency key {:?} already exists",
                key.kid
            ))),
        }
    }

    async fn revoke_agency_key(
        &self,
        kid: &str,
        reason: &str,
        at: i64,
    ) -> StoreResult<Option<AgencyKey>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE agency_keys SET revoked_at = COALESCE(revoked_at, $2), \
             revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END \
             WHERE kid = $1 RETURNING {KEY_COLUMNS}"
        )))
        .bind(kid)
        .bind(at)
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::agency_key).transpose()?)
    }

    async fn get_agency_key(&self, kid: &str) -> StoreResult<Option<AgencyKey>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM agency_keys WHERE kid = $1"
        )))
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::agency_key).transpose()?)
    }

    async fn list_agency_keys(&self, agency_ids: &[String]) -> StoreResult<Vec<AgencyKey>> {
        let rs = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM agency_keys \
             WHERE cardinality($1::text[]) = 0 OR agency_id = ANY($1) \
             ORDER BY agency_id COLLATE \"C\", registered_at, seq"
        )))
        .bind(agency_ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(rows::agency_key)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn upsert_platform(&self, p: &Platform) -> StoreResult<Platform> {
        let r = sqlx::query(
            "INSERT INTO platforms (name, endpoint, display_name, registered_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
             endpoint = excluded.endpoint, display_name = excluded.display_name \
             RETURNING name, endpoint, display_name, registered_at",
        )
        .bind(&p.name)
        .bind(&p.endpoint)
        .bind(&p.display_name)
        .bind(p.registered_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::platform(&r)?)
    }

    async fn get_platform(&self, name: &str) -> StoreResult<Option<Platform>> {
        let r = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::platform).transpose()?)
    }

    async fn list_platforms(&self) -> StoreResult<Vec<Platform>> {
        let rs = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at FROM platforms ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs.iter().map(rows::platform).collect::<sqlx::Result<_>>()?)
    }

    async fn insert_action_day(&self, day: &ActionDay) -> StoreResult<ActionDay> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO action_days (id, name, starts_at, ends_at, platforms, agencies, \
             created_at, released_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO NOTHING RETURNING {DAY_COLUMNS}"
        )))
        .bind(&day.id)
        .bind(&day.name)
        .bind(day.starts_at)
        .bind(day.ends_at)
        .bind(plan::sorted_set(&day.platforms))
        .bind(plan::sorted_set(&day.agencies))
        .bind(day.created_at)
        .bind(day.released_at)
        .bind(day.closed_at)
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => Ok(day_row(&r)?),
            None => Err(StoreError::Conflict(format!(
                "action day {:?} already exists",
                day.id
            ))),
        }
    }

    async fn get_action_day(&self, id: &str) -> StoreResult<Option<ActionDay>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DAY_COLUMNS} FROM action_days WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(day_row).transpose()?)
    }

    async fn list_action_days(&self) -> StoreResult<Vec<ActionDay>> {
        self.days(
            format!("SELECT {DAY_COLUMNS} FROM action_days ORDER BY starts_at, id COLLATE \"C\""),
            None,
        )
        .await
    }

    async fn close_action_day(&self, id: &str, at: i64) -> StoreResult<Option<ActionDay>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE action_days SET closed_at = COALESCE(closed_at, $2) WHERE id = $1 \
             RETURNING {DAY_COLUMNS}"
        )))
        .bind(id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(day_row).transpose()?)
    }

    async fn mark_released(&self, id: &str, at: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE action_days SET released_at = $2 WHERE id = $1 AND released_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn due_releases(&self, now: i64) -> StoreResult<Vec<ActionDay>> {
        self.days(
            format!(
                "SELECT {DAY_COLUMNS} FROM action_days \
                 WHERE released_at IS NULL AND starts_at <= $1 ORDER BY starts_at, id COLLATE \"C\""
            ),
            Some(now),
        )
        .await
    }

    async fn next_release_after(&self, now: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(starts_at) FROM action_days WHERE released_at IS NULL AND starts_at > $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn insert_list(
        &self,
        list: &NewList,
        items: &[NewReferral],
    ) -> StoreResult<IntakeResult> {
        let mut tx = self.pool.begin().await?;
        // A concurrent insert of the same id makes this wait for it, then do nothing.
        let claimed = sqlx::query(
            "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, \
             item_count, leaf_hashes, created_at, accepted_at, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (list_id) DO NOTHING",
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
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return self.existing_list(&mut tx, list).await;
        }
        let summary = self.insert_list_tx(&mut tx, list, items).await?;
        tx.commit().await?;
        tracing::debug!(
            list_id = %list.list_id,
            new_targets = summary.new_targets,
            merged = summary.merged,
            "list stored"
        );
        Ok(IntakeResult::Accepted(summary))
    }

    async fn get_list(&self, list_id: &str) -> StoreResult<Option<ListRecord>> {
        let r = sqlx::query(
            "SELECT list_id, agency_id, action_day_id, content_sha256, item_count, created_at, \
             accepted_at, new_targets, merged FROM lists WHERE list_id = $1",
        )
        .bind(list_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::list_record).transpose()?)
    }

    async fn list_items(&self, list_id: &str, now: i64) -> StoreResult<Vec<ItemRecord>> {
        let rs = sqlx::query(ITEM_QUERY)
            .bind(list_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok(rs
            .iter()
            .map(rows::item_record)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn insert_hold(&self, hold: &Hold) -> StoreResult<Hold> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO NOTHING RETURNING {HOLD_COLUMNS}"
        )))
        .bind(&hold.id)
        .bind(&hold.platform)
        .bind(&hold.target)
        .bind(&hold.normalized)
        .bind(&hold.reason)
        .bind(hold.expires_at)
        .bind(hold.created_at)
        .bind(&hold.placed_by)
        .bind(hold.released_at)
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => Ok(rows::hold(&r)?),
            None => Err(StoreError::Conflict(format!(
                "hold {:?} already exists",
                hold.id
            ))),
        }
    }

    async fn release_hold(&self, id: &str, at: i64) -> StoreResult<Option<Hold>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE holds SET released_at = COALESCE(released_at, $2) WHERE id = $1 \
             RETURNING {HOLD_COLUMNS}"
        )))
        .bind(id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::hold).transpose()?)
    }

    async fn get_hold(&self, id: &str) -> StoreResult<Option<Hold>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::hold).transpose()?)
    }

    async fn list_holds(&self, placed_by: Option<&str>) -> StoreResult<Vec<Hold>> {
        let rs = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM holds WHERE $1::text IS NULL OR placed_by = $1 \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC"
        )))
        .bind(placed_by)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs.iter().map(rows::hold).collect::<sqlx::Result<_>>()?)
    }

    async fn claim_deliveries(
        &self,
        platform: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let rs = sqlx::query(
            "UPDATE deliveries d SET state = 1, next_at = $3, attempts = d.attempts + 1 \
             FROM ( \
               SELECT c.id FROM deliveries c \
               WHERE c.platform = $1 AND c.state IN (0, 1) AND c.next_at <= $2 \
                 AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.platform = c.platform \
                   AND h.normalized = c.normalized AND h.released_at IS NULL \
                   AND h.expires_at > $2) \
               ORDER BY c.next_at, c.id LIMIT $4 \
               FOR UPDATE OF c SKIP LOCKED) s \
             WHERE d.id = s.id \
             RETURNING d.id, d.target_id, d.kind, d.attempts",
        )
        .bind(platform)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rs
            .iter()
            .map(rows::claimed)
            .collect::<sqlx::Result<Vec<_>>>()?;
        claimed.sort_unstable_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn delivery_payloads(&self, target_ids: &[i64]) -> StoreResult<Vec<TargetPayload>> {
        let ids = plan::sorted_ids(target_ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let targets = sqlx::query(
            "SELECT id, platform, kind, normalized, original, category, legal_basis, \
             removal_order_ref, action_day_id FROM targets WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::target_payload)
        .collect::<sqlx::Result<Vec<_>>>()?;
        let referrals = sqlx::query(
            "SELECT target_id, list_id, item_index, agency_id, item FROM referrals \
             WHERE target_id = ANY($1) ORDER BY target_id, list_id COLLATE \"C\", item_index",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::referral_payload)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(plan::attach(targets, referrals))
    }

    async fn list_proof_material(
        &self,
        list_ids: &[String],
    ) -> StoreResult<Vec<ListProofMaterial>> {
        let rs = sqlx::query(
            "SELECT list_id, agency_id, jws, item_count, leaf_hashes FROM lists \
             WHERE list_id = ANY($1) ORDER BY list_id COLLATE \"C\"",
        )
        .bind(list_ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(rows::proof_material)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn mark_delivered(&self, delivery_ids: &[i64], at: i64) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE targets SET delivered_at = $1 WHERE delivered_at IS NULL AND id IN \
             (SELECT target_id FROM deliveries WHERE kind = 1 AND state = 1 AND id = ANY($2))",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET state = 2, delivered_at = $1 WHERE state = 1 AND id = ANY($2)",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_retry(&self, delivery_ids: &[i64], next_at: i64, error: &str) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries SET state = 0, next_at = $1, last_error = $2 \
             WHERE state IN (0, 1) AND id = ANY($3)",
        )
        .bind(next_at)
        .bind(error)
        .bind(&ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_failed(&self, delivery_ids: &[i64], at: i64, error: &str) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE targets SET failed_at = $1, fail_reason = $2 WHERE id IN \
             (SELECT target_id FROM deliveries WHERE kind = 1 AND state IN (0, 1) \
              AND id = ANY($3))",
        )
        .bind(at)
        .bind(error)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET state = 3, failed_at = $1, last_error = $2 \
             WHERE state IN (0, 1) AND id = ANY($3)",
        )
        .bind(at)
        .bind(error)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn next_delivery_at(&self, platform: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_at) FROM deliveries WHERE platform = $1 AND state IN (0, 1)",
        )
        .bind(platform)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn record_reports(
        &self,
        platform: &str,
        reports: &[NewReport],
        received_at: i64,
    ) -> StoreResult<Result<ReportCounts, ReportRefusal>> {
        if reports.is_empty() {
            return Ok(Ok(ReportCounts::default()));
        }
        let mut tx = self.pool.begin().await?;

        let targets = plan::report_targets(reports);
        let delivered: HashSet<i64> = sqlx::query_scalar(
            "SELECT t.id FROM targets t JOIN deliveries d ON d.target_id = t.id \
             AND d.kind = 1 AND d.state = 2 WHERE t.platform = $1 AND t.id = ANY($2)",
        )
        .bind(platform)
        .bind(&targets)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        if let Some((index, target_id)) = plan::first_undelivered(reports, &delivered) {
            return Ok(Err(ReportRefusal::NotDelivered { index, target_id }));
        }

        let report_ids: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
        let target_ids: Vec<i64> = reports.iter().map(|r| r.target_id).collect();
        let kinds: Vec<i32> = reports.iter().map(|r| r.kind.as_i32()).collect();
        let outcomes: Vec<i32> = reports.iter().map(|r| r.outcome).collect();
        let reasons: Vec<i32> = reports.iter().map(|r| r.reason).collect();
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

        let effects = ReportEffects::new(reports, &recorded);
        if !effects.acks.is_empty() {
            let ids: Vec<i64> = effects.acks.iter().map(|a| a.0).collect();
            let ats: Vec<i64> = effects.acks.iter().map(|a| a.1).collect();
            sqlx::query(
                "UPDATE targets t SET acked_at = u.at \
                 FROM UNNEST($1::int8[], $2::int8[]) AS u(id, at) \
                 WHERE t.id = u.id AND (t.acked_at IS NULL OR t.acked_at > u.at)",
            )
            .bind(&ids)
            .bind(&ats)
            .execute(&mut *tx)
            .await?;
        }
        if !effects.decisions.is_empty() {
            let d = &effects.decisions;
            let ids: Vec<i64> = d.iter().map(|d| d.target_id).collect();
            let outcomes: Vec<i32> = d.iter().map(|d| d.outcome).collect();
            let reasons: Vec<Option<i32>> = d.iter().map(|d| d.reject_reason).collect();
            let texts: Vec<Option<&str>> = d.iter().map(|d| d.text).collect();
            let ats: Vec<i64> = d.iter().map(|d| d.at).collect();
            sqlx::query(
                "UPDATE targets t SET outcome = u.outcome, reject_reason = u.reason, \
                 outcome_text = u.txt, acted_at = u.at \
                 FROM UNNEST($1::int8[], $2::int4[], $3::int4[], $4::text[], $5::int8[]) \
                      AS u(id, outcome, reason, txt, at) \
                 WHERE t.id = u.id AND (t.acted_at IS NULL OR t.acted_at <= u.at)",
            )
            .bind(&ids)
            .bind(&outcomes)
            .bind(&reasons)
            .bind(&texts)
            .bind(&ats)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        let recorded_n = u32::try_from(recorded.len()).unwrap_or(u32::MAX);
        let total = u32::try_from(reports.len()).unwrap_or(u32::MAX);
        Ok(Ok(ReportCounts {
            recorded: recorded_n,
            duplicates: total.saturating_sub(recorded_n),
        }))
    }

    async fn platform_counts(
        &self,
        action_day_id: &str,
        now: i64,
    ) -> StoreResult<Vec<PlatformCounts>> {
        let rs = sqlx::query(COUNTS_QUERY)
            .bind(action_day_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok(rs
            .iter()
            .map(rows::platform_counts)
            .collect::<sqlx::Result<_>>()?)
    }
}
