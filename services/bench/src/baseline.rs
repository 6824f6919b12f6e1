//! The intake baseline: the rows the hub stores for one list (the list, its targets, its
//! referrals with the item bytes, one delivery per target), bulk-inserted with plain sqlx
//! into a fresh database of the same backend, in one transaction, with the fastest
//! straightforward method per backend: `INSERT ... SELECT * FROM UNNEST(...)` per table on
//! PostgreSQL, multi-row `INSERT ... VALUES` chunks under the parameter limit on SQLite.

use std::{
    collections::HashMap,
    path::Path,
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{
    Connection, QueryBuilder, Sqlite,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use takedown_protocol::list::SignedList;
use takedown_protocol::{merkle, pb, target::normalize};
use takedown_tests::{Backend, db::TestDb};

/// SQLite's limit of bound parameters per statement.
const SQLITE_MAX_PARAMS: usize = 32_766;

pub struct TargetRow {
    pub id: i64,
    pub platform: String,
    pub normalized: String,
    pub kind: i32,
    pub original: String,
    pub category: String,
    pub legal_basis: i32,
    pub removal_order_ref: String,
}

pub struct ReferralRow {
    pub item_index: i64,
    pub target_id: i64,
    pub item: Vec<u8>,
}

/// Everything intake stores for one list.
pub struct Rows {
    pub list_id: String,
    pub agency_id: String,
    pub day: String,
    pub content_sha256: Vec<u8>,
    pub jws: String,
    pub leaf_hashes: Vec<u8>,
    pub now: i64,
    pub due_at: i64,
    pub merged: i64,
    pub targets: Vec<TargetRow>,
    pub referrals: Vec<ReferralRow>,
}

impl Rows {
    /// The rows of `signed` (decoded from its exact bytes) for action day `day` at `due_at`.
    pub fn of(signed: &SignedList, day: &str, due_at: i64) -> Result<Self> {
        let list = pb::ReferralList::decode(signed.list.as_slice()).context("decoding the list")?;
        let mut ids: HashMap<(String, String), i64> = HashMap::new();
        let mut targets = Vec::new();
        let mut referrals = Vec::with_capacity(list.items.len());
        let mut leaf_hashes = Vec::with_capacity(list.items.len() * 32);
        for (i, item) in list.items.iter().enumerate() {
            leaf_hashes.extend_from_slice(&merkle::leaf_hash(item));
            let r = pb::Referral::decode(item.as_slice()).context("decoding an item")?;
            let n = normalize(&r.platform, &r.target)?.into_string();
            let next = targets.len() as i64 + 1;
            let id = *ids
                .entry((r.platform.clone(), n.clone()))
                .or_insert_with(|| {
                    targets.push(TargetRow {
                        id: next,
                        platform: r.platform.clone(),
                        normalized: n,
                        kind: r.kind,
                        original: r.target.clone(),
                        category: r.category.clone(),
                        legal_basis: r.legal_basis,
                        removal_order_ref: r.removal_order_ref.clone(),
                    });
                    next
                });
            referrals.push(ReferralRow {
                item_index: i as i64,
                target_id: id,
                item: item.clone(),
            });
        }
        Ok(Self {
            list_id: list.list_id,
            agency_id: list.agency_id,
            day: day.to_string(),
            content_sha256: Sha256::digest(&signed.list).to_vec(),
            jws: signed.signature.clone(),
            leaf_hashes,
            now: takedown_protocol::timestamp::now_millis(),
            due_at,
            merged: (referrals.len() - targets.len()) as i64,
            targets,
            referrals,
        })
    }

    /// Rows per table: lists, targets, referrals, deliveries.
    pub fn counts(&self) -> [i64; 4] {
        let t = self.targets.len() as i64;
        [1, t, self.referrals.len() as i64, t]
    }
}

/// One baseline run: a fresh database, the schema, then the timed transaction. Returns the
/// time from `BEGIN` to the end of `COMMIT` and the row counts read back.
pub async fn run(backend: Backend, rows: &Rows, dir: &Path) -> Result<(Duration, [i64; 4])> {
    let Some(db) = TestDb::new(backend, dir).await else {
        anyhow::bail!("PostgreSQL is unreachable");
    };
    let took = match backend {
        Backend::Sqlite => {
            takedown_store::sqlite::SqliteStore::connect(&db.url)
                .await?
                .pool()
                .close()
                .await;
            sqlite(&db.url, rows).await?
        }
        Backend::Postgres => {
            takedown_store::postgres::PgStore::connect(&db.url)
                .await?
                .pool()
                .close()
                .await;
            postgres(&db.url, rows).await?
        }
    };
    Ok((took, db.intake_counts().await))
}

async fn sqlite(url: &str, rows: &Rows) -> Result<Duration> {
    let opts = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, item_count, \
         leaf_hashes, created_at, accepted_at, due_at, new_targets, merged) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&rows.list_id)
    .bind(&rows.agency_id)
    .bind(&rows.day)
    .bind(&rows.content_sha256)
    .bind(&rows.jws)
    .bind(rows.referrals.len() as i64)
    .bind(&rows.leaf_hashes)
    .bind(rows.now)
    .bind(rows.now)
    .bind(rows.due_at)
    .bind(rows.targets.len() as i64)
    .bind(rows.merged)
    .execute(&mut *tx)
    .await?;
    for chunk in rows.targets.chunks(SQLITE_MAX_PARAMS / 12) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO targets (id, scope, action_day_id, platform, normalized, kind, original, \
             category, legal_basis, removal_order_ref, created_at, due_at) ",
        );
        qb.push_values(chunk, |mut b, t| {
            b.push_bind(t.id)
                .push_bind(&rows.day)
                .push_bind(&rows.day)
                .push_bind(&t.platform)
                .push_bind(&t.normalized)
                .push_bind(t.kind)
                .push_bind(&t.original)
                .push_bind(&t.category)
                .push_bind(t.legal_basis)
                .push_bind(&t.removal_order_ref)
                .push_bind(rows.now)
                .push_bind(rows.due_at);
        });
        qb.build().execute(&mut *tx).await?;
    }
    for chunk in rows.referrals.chunks(SQLITE_MAX_PARAMS / 5) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO referrals (list_id, item_index, target_id, agency_id, item) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(&rows.list_id)
                .push_bind(r.item_index)
                .push_bind(r.target_id)
                .push_bind(&rows.agency_id)
                .push_bind(&r.item);
        });
        qb.build().execute(&mut *tx).await?;
    }
    for chunk in rows.targets.chunks(SQLITE_MAX_PARAMS / 8) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO deliveries (target_id, platform, normalized, kind, state, next_at, \
             attempts, created_at) ",
        );
        qb.push_values(chunk, |mut b, t| {
            b.push_bind(t.id)
                .push_bind(&t.platform)
                .push_bind(&t.normalized)
                .push_bind(1i32)
                .push_bind(0i32)
                .push_bind(rows.due_at)
                .push_bind(0i32)
                .push_bind(rows.now);
        });
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(start.elapsed())
}

async fn postgres(url: &str, rows: &Rows) -> Result<Duration> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let t = &rows.targets;
    let ids: Vec<i64> = t.iter().map(|t| t.id).collect();
    let platforms: Vec<&str> = t.iter().map(|t| t.platform.as_str()).collect();
    let normalized: Vec<&str> = t.iter().map(|t| t.normalized.as_str()).collect();
    let kinds: Vec<i32> = t.iter().map(|t| t.kind).collect();
    let originals: Vec<&str> = t.iter().map(|t| t.original.as_str()).collect();
    let categories: Vec<&str> = t.iter().map(|t| t.category.as_str()).collect();
    let bases: Vec<i32> = t.iter().map(|t| t.legal_basis).collect();
    let orders: Vec<&str> = t.iter().map(|t| t.removal_order_ref.as_str()).collect();
    let r = &rows.referrals;
    let indexes: Vec<i64> = r.iter().map(|r| r.item_index).collect();
    let ref_targets: Vec<i64> = r.iter().map(|r| r.target_id).collect();
    let items: Vec<&[u8]> = r.iter().map(|r| r.item.as_slice()).collect();

    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, item_count, \
         leaf_hashes, created_at, accepted_at, due_at, new_targets, merged) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11)",
    )
    .bind(&rows.list_id)
    .bind(&rows.agency_id)
    .bind(&rows.day)
    .bind(&rows.content_sha256)
    .bind(&rows.jws)
    .bind(rows.referrals.len() as i64)
    .bind(&rows.leaf_hashes)
    .bind(rows.now)
    .bind(rows.due_at)
    .bind(rows.targets.len() as i64)
    .bind(rows.merged)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO targets (id, scope, action_day_id, platform, normalized, kind, original, \
         category, legal_basis, removal_order_ref, created_at, due_at) OVERRIDING SYSTEM VALUE \
         SELECT u.id, $9, $9, u.platform, u.normalized, u.kind, u.original, u.category, \
         u.legal_basis, u.removal_order_ref, $10, $11 FROM UNNEST($1::bigint[], $2::text[], \
         $3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::text[]) \
         AS u(id, platform, normalized, kind, original, category, legal_basis, removal_order_ref)",
    )
    .bind(&ids)
    .bind(&platforms)
    .bind(&normalized)
    .bind(&kinds)
    .bind(&originals)
    .bind(&categories)
    .bind(&bases)
    .bind(&orders)
    .bind(&rows.day)
    .bind(rows.now)
    .bind(rows.due_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO referrals (list_id, item_index, target_id, agency_id, item) \
         SELECT $4, u.item_index, u.target_id, $5, u.item \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(item_index, target_id, item)",
    )
    .bind(&indexes)
    .bind(&ref_targets)
    .bind(&items)
    .bind(&rows.list_id)
    .bind(&rows.agency_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO deliveries (target_id, platform, normalized, kind, state, next_at, \
         attempts, created_at) \
         SELECT u.target_id, u.platform, u.normalized, 1, 0, $4, 0, $5 \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[]) AS u(target_id, platform, normalized)",
    )
    .bind(&ids)
    .bind(&platforms)
    .bind(&normalized)
    .bind(rows.due_at)
    .bind(rows.now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(start.elapsed())
}
