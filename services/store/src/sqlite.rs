//! SQLite backend: one file in WAL mode, the embedded default.
//!
//! SQLite has a single writer. Every transaction that writes starts with `BEGIN IMMEDIATE`,
//! so it takes the write lock up front (waiting up to the busy timeout) instead of failing
//! with `SQLITE_BUSY` when a read transaction tries to upgrade. Single-statement writes run
//! in autocommit, which takes the write lock at the start of the statement.
//!
//! Bulk writes use multi-row `INSERT ... VALUES (...), (...)` in chunks that stay under the
//! bound-parameter limit; every full chunk has the same SQL text, so the prepared statement
//! is reused from the connection's statement cache.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};

use crate::model::*;
use crate::plan::{self, IntakePlan, ReportEffects};
use crate::rows::to_i64;
use crate::{Store, StoreError, StoreResult, migrations};

mod rows {
    crate::rows::row_decoders!(sqlx::sqlite::SqliteRow);
}

/// SQLite's limit on bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const MAX_PARAMS: usize = 32766;
/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 10_000;
/// Connections in the pool: readers run concurrently (WAL), writers queue on the lock.
const POOL_SIZE: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite:path/to/file.db`),
    /// in WAL mode with `synchronous=NORMAL`, foreign keys on and a 10 s busy timeout, and
    /// applies the embedded migrations. An in-memory database (`sqlite::memory:`) gets a
    /// single connection, so that every query sees the same database.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { POOL_SIZE })
            .connect_with(options)
            .await?;
        migrations::sqlite().run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// `?, ?, ...` (`n` anonymous placeholders).
///
/// Bulk statements use anonymous placeholders only: SQLite looks numbered ones (`?NNN`) up
/// in a linear list on every bind, which makes binding tens of thousands of them quadratic,
/// and sqlx cannot mix the two styles. Their binds follow the order of appearance.
fn anon(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// `(literals ?, ?, ...), (...)`: `rows` rows of `literals` (constant SQL such as
/// `"1, 0, "`) followed by `per_row` anonymous placeholders.
fn values_rows(rows: usize, literals: &str, per_row: usize) -> String {
    let one = format!("({literals}{})", anon(per_row));
    let mut s = String::with_capacity(rows * (one.len() + 2));
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push_str(&one);
    }
    s
}

/// Splits `n` rows into chunks of at most `max` rows and gives, for each chunk, its range
/// and its SQL (built once for full chunks).
fn chunks(
    n: usize,
    max: usize,
    sql: impl Fn(usize) -> String,
) -> Vec<(std::ops::Range<usize>, Arc<str>)> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut full: Option<Arc<str>> = None;
    let mut start = 0;
    while start < n {
        let end = (start + max).min(n);
        let text = if end - start == max {
            full.get_or_insert_with(|| Arc::from(sql(max))).clone()
        } else {
            Arc::from(sql(end - start))
        };
        out.push((start..end, text));
        start = end;
    }
    out
}

/// Rows per chunk for `per_row` parameters per row after `leading` ones.
fn rows_per_chunk(leading: usize, per_row: usize) -> usize {
    (MAX_PARAMS - leading) / per_row
}

const DAY_COLUMNS: &str = "id, name, starts_at, ends_at, created_at, released_at, closed_at";

fn day_row(r: &SqliteRow) -> sqlx::Result<ActionDay> {
    Ok(ActionDay {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        platforms: Vec::new(),
        agencies: Vec::new(),
        created_at: r.try_get("created_at")?,
        released_at: r.try_get("released_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

impl SqliteStore {
    /// Fills in the platforms and agencies of these days.
    async fn with_members(&self, mut days: Vec<ActionDay>) -> StoreResult<Vec<ActionDay>> {
        if days.is_empty() {
            return Ok(days);
        }
        let ids: Vec<&str> = days.iter().map(|d| d.id.as_str()).collect();
        let pos: std::collections::HashMap<&str, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut platforms: Vec<(usize, String)> = Vec::new();
        let mut agencies: Vec<(usize, String)> = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let ph = anon(chunk.len());
            for (table, column, out) in [
                ("action_day_platforms", "platform", &mut platforms),
                ("action_day_agencies", "agency_id", &mut agencies),
            ] {
                let sql = format!(
                    "SELECT action_day_id, {column} AS member FROM {table} \
                     WHERE action_day_id IN ({ph}) ORDER BY action_day_id, {column}"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&self.pool).await? {
                    let day: String = r.try_get("action_day_id")?;
                    if let Some(&i) = pos.get(day.as_str()) {
                        out.push((i, r.try_get("member")?));
                    }
                }
            }
        }
        for (i, p) in platforms {
            days[i].platforms.push(p);
        }
        for (i, a) in agencies {
            days[i].agencies.push(a);
        }
        Ok(days)
    }

    async fn days_where(&self, condition: &str, binds: &[i64]) -> StoreResult<Vec<ActionDay>> {
        let sql =
            format!("SELECT {DAY_COLUMNS} FROM action_days {condition} ORDER BY starts_at, id");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(*b);
        }
        let days = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(day_row)
            .collect::<sqlx::Result<Vec<_>>>()?;
        self.with_members(days).await
    }

    /// The stored answer for a list id already present, or `Conflict`.
    async fn existing_list(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        list: &NewList,
    ) -> StoreResult<IntakeResult> {
        let row = sqlx::query(
            "SELECT agency_id, content_sha256, new_targets, merged FROM lists WHERE list_id = ?1",
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
            "SELECT target_id FROM referrals WHERE list_id = ?1 ORDER BY item_index",
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
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in &plan.unique[range] {
                let it = &items[i];
                q = q
                    .bind(scope)
                    .bind(list.action_day_id.as_deref())
                    .bind(list.accepted_at)
                    .bind(list.due_at)
                    .bind(it.platform.as_str())
                    .bind(it.normalized.as_str())
                    .bind(it.kind)
                    .bind(it.original.as_str())
                    .bind(it.category.as_str())
                    .bind(it.legal_basis)
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
            let mut q = sqlx::query(AssertSqlSafe(sql));
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

        // Referrals, one per item.
        for (range, sql) in chunks(items.len(), rows_per_chunk(0, 5), |n| {
            format!(
                "INSERT INTO referrals (list_id, agency_id, item_index, target_id, item) VALUES {}",
                values_rows(n, "", 5)
            )
        }) {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for i in range {
                q = q
                    .bind(list.list_id.as_str())
                    .bind(list.agency_id.as_str())
                    .bind(i as i64)
                    .bind(ids[plan.slot[i]])
                    .bind(items[i].item.as_slice());
            }
            q.execute(&mut **tx).await?;
        }

        // One TAKEDOWN delivery per new target, in target-id order.
        let mut fresh: Vec<(i64, usize)> = Vec::with_capacity(new_targets);
        let existed: HashSet<usize> = missing.into_iter().collect();
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
                values_rows(n, "1, 0, 0, ", 5)
            )
        }) {
            let mut q = sqlx::query(AssertSqlSafe(sql));
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
}

const ITEM_QUERY: &str = "SELECT r.item_index, t.id AS target_id, t.platform, t.normalized, \
    t.due_at, EXISTS (SELECT 1 FROM holds h WHERE h.platform = t.platform \
    AND h.normalized = t.normalized AND h.released_at IS NULL AND h.expires_at > ?2) AS held, \
    d.state AS delivery_state, t.delivered_at, t.acked_at, t.outcome, t.reject_reason, \
    t.outcome_text, t.fail_reason, t.withdrawn_at \
    FROM referrals r JOIN targets t ON t.id = r.target_id \
    LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = 1 \
    WHERE r.list_id = ?1 ORDER BY r.item_index";

const COUNTS_QUERY: &str = "WITH x AS ( \
      SELECT t.platform, t.delivered_at, t.acked_at, t.outcome, \
             COALESCE(d.state, -1) AS dstate, \
             EXISTS (SELECT 1 FROM holds h WHERE h.platform = t.platform \
                     AND h.normalized = t.normalized AND h.released_at IS NULL \
                     AND h.expires_at > ?2) AS held, \
             t.due_at \
      FROM targets t LEFT JOIN deliveries d ON d.target_id = t.id AND d.kind = 1 \
      WHERE t.action_day_id = ?1), \
    y AS (SELECT x.*, (delivered_at IS NOT NULL OR (due_at <= ?2 AND NOT held)) AS rel FROM x) \
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
    FROM y GROUP BY platform ORDER BY platform";

impl Store for SqliteStore {
    async fn upsert_organization(&self, org: &Organization) -> StoreResult<Organization> {
        let r = sqlx::query(
            "INSERT INTO organizations (id, role, display_name, registered_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET role = excluded.role, \
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
            "SELECT id, role, display_name, registered_at FROM organizations WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::organization).transpose()?)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let rs = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(rows::organization)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn insert_agency_key(&self, key: &AgencyKey) -> StoreResult<AgencyKey> {
        let r = sqlx::query(
            "INSERT INTO agency_keys (kid, agency_id, public_key_pem, registered_at, revoked_at, \
             revoke_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kid) DO NOTHING \
             RETURNING kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason",
        )
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
        let r = sqlx::query(
            "UPDATE agency_keys SET revoked_at = COALESCE(revoked_at, ?2), \
             revoke_reason = CASE WHEN revoked_at IS NULL THEN ?3 ELSE revoke_reason END \
             WHERE kid = ?1 \
             RETURNING kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason",
        )
        .bind(kid)
        .bind(at)
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::agency_key).transpose()?)
    }

    async fn get_agency_key(&self, kid: &str) -> StoreResult<Option<AgencyKey>> {
        let r = sqlx::query(
            "SELECT kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason \
             FROM agency_keys WHERE kid = ?1",
        )
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::agency_key).transpose()?)
    }

    async fn list_agency_keys(&self, agency_ids: &[String]) -> StoreResult<Vec<AgencyKey>> {
        const COLUMNS: &str =
            "kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason";
        if agency_ids.is_empty() {
            let sql = format!(
                "SELECT {COLUMNS} FROM agency_keys ORDER BY agency_id, registered_at, rowid"
            );
            let rs = sqlx::query(AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?;
            return Ok(rs
                .iter()
                .map(rows::agency_key)
                .collect::<sqlx::Result<_>>()?);
        }
        let mut keys = Vec::new();
        for chunk in agency_ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM agency_keys WHERE agency_id IN ({}) \
                 ORDER BY agency_id, registered_at, rowid",
                anon(chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for a in chunk {
                q = q.bind(a.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                keys.push(rows::agency_key(&r)?);
            }
        }
        Ok(keys)
    }

    async fn upsert_platform(&self, p: &Platform) -> StoreResult<Platform> {
        let r = sqlx::query(
            "INSERT INTO platforms (name, endpoint, display_name, registered_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
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
            "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = ?1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::platform).transpose()?)
    }

    async fn list_platforms(&self) -> StoreResult<Vec<Platform>> {
        let rs = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at FROM platforms ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs.iter().map(rows::platform).collect::<sqlx::Result<_>>()?)
    }

    async fn insert_action_day(&self, day: &ActionDay) -> StoreResult<ActionDay> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO action_days (id, name, starts_at, ends_at, created_at, released_at, \
             closed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&day.id)
        .bind(&day.name)
        .bind(day.starts_at)
        .bind(day.ends_at)
        .bind(day.created_at)
        .bind(day.released_at)
        .bind(day.closed_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "action day {:?} already exists",
                day.id
            )));
        }
        let platforms = plan::sorted_set(&day.platforms);
        let agencies = plan::sorted_set(&day.agencies);
        for p in &platforms {
            sqlx::query(
                "INSERT INTO action_day_platforms (action_day_id, platform) VALUES (?1, ?2)",
            )
            .bind(&day.id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
        }
        for a in &agencies {
            sqlx::query(
                "INSERT INTO action_day_agencies (action_day_id, agency_id) VALUES (?1, ?2)",
            )
            .bind(&day.id)
            .bind(a)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ActionDay {
            platforms,
            agencies,
            ..day.clone()
        })
    }

    async fn get_action_day(&self, id: &str) -> StoreResult<Option<ActionDay>> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DAY_COLUMNS} FROM action_days WHERE id = ?1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let days = self.with_members(vec![day_row(&r)?]).await?;
        Ok(days.into_iter().next())
    }

    async fn list_action_days(&self) -> StoreResult<Vec<ActionDay>> {
        self.days_where("", &[]).await
    }

    async fn close_action_day(&self, id: &str, at: i64) -> StoreResult<Option<ActionDay>> {
        sqlx::query("UPDATE action_days SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        self.get_action_day(id).await
    }

    async fn mark_released(&self, id: &str, at: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE action_days SET released_at = ?2 WHERE id = ?1 AND released_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn due_releases(&self, now: i64) -> StoreResult<Vec<ActionDay>> {
        self.days_where("WHERE released_at IS NULL AND starts_at <= ?1", &[now])
            .await
    }

    async fn next_release_after(&self, now: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(starts_at) FROM action_days WHERE released_at IS NULL AND starts_at > ?1",
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
        let mut tx = self.write_tx().await?;
        let claimed = sqlx::query(
            "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, \
             item_count, leaf_hashes, created_at, accepted_at, due_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (list_id) DO NOTHING",
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
             accepted_at, new_targets, merged FROM lists WHERE list_id = ?1",
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
        let r = sqlx::query(
            "INSERT INTO holds (id, platform, target, normalized, reason, expires_at, created_at, \
             placed_by, released_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (id) DO NOTHING RETURNING *",
        )
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
        let r = sqlx::query(
            "UPDATE holds SET released_at = COALESCE(released_at, ?2) WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(rows::hold).transpose()?)
    }

    async fn get_hold(&self, id: &str) -> StoreResult<Option<Hold>> {
        let r = sqlx::query("SELECT * FROM holds WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(rows::hold).transpose()?)
    }

    async fn list_holds(&self, placed_by: Option<&str>) -> StoreResult<Vec<Hold>> {
        let rs = sqlx::query(
            "SELECT * FROM holds WHERE ?1 IS NULL OR placed_by = ?1 \
             ORDER BY created_at DESC, id DESC",
        )
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
            "UPDATE deliveries SET state = 1, next_at = ?3, attempts = attempts + 1 \
             WHERE id IN ( \
               SELECT d.id FROM deliveries d \
               WHERE d.platform = ?1 AND d.state IN (0, 1) AND d.next_at <= ?2 \
                 AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.platform = d.platform \
                   AND h.normalized = d.normalized AND h.released_at IS NULL \
                   AND h.expires_at > ?2) \
               ORDER BY d.next_at, d.id LIMIT ?4) \
             RETURNING id, target_id, kind, attempts",
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
        let mut targets = Vec::with_capacity(ids.len());
        let mut referrals = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let ph = anon(chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, platform, kind, normalized, original, category, legal_basis, \
                 removal_order_ref, action_day_id FROM targets WHERE id IN ({ph}) ORDER BY id"
            )));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                targets.push(rows::target_payload(&r)?);
            }
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT target_id, list_id, item_index, agency_id, item FROM referrals \
                 WHERE target_id IN ({ph}) ORDER BY target_id, list_id, item_index"
            )));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                referrals.push(rows::referral_payload(&r)?);
            }
        }
        Ok(plan::attach(targets, referrals))
    }

    async fn list_proof_material(
        &self,
        list_ids: &[String],
    ) -> StoreResult<Vec<ListProofMaterial>> {
        let mut out = Vec::with_capacity(list_ids.len());
        for chunk in list_ids.chunks(IN_CHUNK) {
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT list_id, agency_id, jws, item_count, leaf_hashes FROM lists \
                 WHERE list_id IN ({})",
                anon(chunk.len())
            )));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(rows::proof_material(&r)?);
            }
        }
        out.sort_by(|a, b| a.list_id.cmp(&b.list_id));
        out.dedup_by(|a, b| a.list_id == b.list_id);
        Ok(out)
    }

    async fn mark_delivered(&self, delivery_ids: &[i64], at: i64) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for chunk in ids.chunks(IN_CHUNK) {
            let ph = anon(chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE targets SET delivered_at = ? WHERE delivered_at IS NULL AND id IN \
                 (SELECT target_id FROM deliveries WHERE kind = 1 AND state = 1 AND id IN ({ph}))"
            )))
            .bind(at);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE deliveries SET state = 2, delivered_at = ? WHERE state = 1 AND id IN ({ph})"
            )))
            .bind(at);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_retry(&self, delivery_ids: &[i64], next_at: i64, error: &str) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for chunk in ids.chunks(IN_CHUNK) {
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE deliveries SET state = 0, next_at = ?, last_error = ? \
                 WHERE state IN (0, 1) AND id IN ({})",
                anon(chunk.len())
            )))
            .bind(next_at)
            .bind(error);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_failed(&self, delivery_ids: &[i64], at: i64, error: &str) -> StoreResult<()> {
        let ids = plan::sorted_ids(delivery_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for chunk in ids.chunks(IN_CHUNK) {
            let ph = anon(chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE targets SET failed_at = ?, fail_reason = ? WHERE id IN \
                 (SELECT target_id FROM deliveries WHERE kind = 1 AND state IN (0, 1) \
                  AND id IN ({ph}))"
            )))
            .bind(at)
            .bind(error);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE deliveries SET state = 3, failed_at = ?, last_error = ? \
                 WHERE state IN (0, 1) AND id IN ({ph})"
            )))
            .bind(at)
            .bind(error);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn next_delivery_at(&self, platform: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_at) FROM deliveries WHERE platform = ?1 AND state IN (0, 1)",
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
        let mut tx = self.write_tx().await?;

        let targets = plan::report_targets(reports);
        let mut delivered: HashSet<i64> = HashSet::with_capacity(targets.len());
        for chunk in targets.chunks(IN_CHUNK) {
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT t.id FROM targets t JOIN deliveries d ON d.target_id = t.id \
                 AND d.kind = 1 AND d.state = 2 WHERE t.platform = ? AND t.id IN ({})",
                anon(chunk.len())
            )))
            .bind(platform);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await? {
                delivered.insert(r.try_get("id")?);
            }
        }
        if let Some((index, target_id)) = plan::first_undelivered(reports, &delivered) {
            return Ok(Err(ReportRefusal::NotDelivered { index, target_id }));
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
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in &reports[range] {
                q = q
                    .bind(platform)
                    .bind(received_at)
                    .bind(r.report_id.as_str())
                    .bind(r.target_id)
                    .bind(r.kind.as_i32())
                    .bind(r.outcome)
                    .bind(r.reason)
                    .bind(r.text.as_str())
                    .bind(r.at);
            }
            for row in q.fetch_all(&mut *tx).await? {
                recorded.insert(row.try_get("report_id")?);
            }
        }

        let effects = ReportEffects::new(reports, &recorded);
        for (target_id, at) in &effects.acks {
            sqlx::query(
                "UPDATE targets SET acked_at = ?2 WHERE id = ?1 \
                 AND (acked_at IS NULL OR acked_at > ?2)",
            )
            .bind(*target_id)
            .bind(*at)
            .execute(&mut *tx)
            .await?;
        }
        for d in &effects.decisions {
            sqlx::query(
                "UPDATE targets SET outcome = ?2, reject_reason = ?3, outcome_text = ?4, \
                 acted_at = ?5 WHERE id = ?1 AND (acted_at IS NULL OR acted_at <= ?5)",
            )
            .bind(d.target_id)
            .bind(d.outcome)
            .bind(d.reject_reason)
            .bind(d.text)
            .bind(d.at)
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
