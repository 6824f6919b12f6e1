//! The durable inbox (and outbox) in a SQLite file of its own: WAL, embedded migrations.
//!
//! - `deliveries`: verified targets, unique on (target id, kind), with the batch they were
//!   put in (`handoff_id`) and `handed_at` set once the platform has received them.
//! - `batches`: each handoff batch, recorded before the platform sees it; open
//!   (`done_at` NULL) until the platform took it. At most one is open: it is what a
//!   failed attempt or a crash repeats, with the same id and members.
//! - `handoffs`: one row per target handed over (what operators count).
//! - `outbox`: reports for the hub, each with a report id fixed when written.
//!
//! Bulk writes are multi-row statements inside one transaction. Every write runs on one
//! dedicated connection, so the receiver, the handoff and the reporter queue for it in the
//! process rather than sleeping in SQLite's busy handler; reads use the other connections.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    str::FromStr,
    time::Duration,
};

use prost::Message;
use sqlx::{
    QueryBuilder, Row, SqlSafeStr, Sqlite, SqlitePool,
    migrate::{Migration, MigrationType, Migrator},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use takedown_protocol::pb;

use crate::document::Kind;

/// Rows per multi-row statement (SQLite allows 32 766 bound values).
const CHUNK: usize = 500;

/// Why the inbox failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("inbox database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("inbox migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("inbox row {seq}: {reason}")]
    Corrupt { seq: i64, reason: String },
}

/// A verified delivery to store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub target_id: String,
    pub kind: Kind,
    pub delivery_id: String,
    pub normalized_target: String,
    /// The target as the platform will receive it (JSON).
    pub body: String,
}

/// A stored delivery waiting for its handoff.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub target_id: String,
    pub kind: Kind,
    /// A takedown whose legal basis is REMOVAL_ORDER.
    pub removal_order: bool,
    pub body: String,
}

/// A handoff batch: its id, members and `handed_at` are fixed when it is first opened.
#[derive(Debug, Clone)]
pub struct OpenBatch {
    pub handoff_id: String,
    /// When the batch was first opened (the document's `handed_at`).
    pub handed_at: i64,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub targets: Vec<Pending>,
}

/// A report waiting to be sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: i64,
    pub report: pb::PlatformReport,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// What a retention pass purged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Deliveries whose target, referrals and notes were dropped.
    pub deliveries: u64,
    /// Reports sent or parked, deleted.
    pub reports: u64,
}

/// Outbox rows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    pub parked: i64,
}

/// The store; clones share one pool.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection.
    writer: SqlitePool,
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "inbox".into(),
            MigrationType::Simple,
            include_str!("../migrations/0001_inbox.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "batches".into(),
            MigrationType::Simple,
            include_str!("../migrations/0002_batches.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "key sets".into(),
            MigrationType::Simple,
            include_str!("../migrations/0003_key_sets.sql").into_sql_str(),
            false,
        ),
    ])
}

impl Inbox {
    /// Opens (creating when missing) and migrates the inbox at `path`.
    pub async fn open(path: &Path) -> Result<Self, InboxError> {
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        migrator().run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(3)
            .connect_with(opts)
            .await?;
        Ok(Self { pool, writer })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Stores deliveries in one transaction; ones already held (same target id and kind)
    /// are left as they are. Returns how many were new.
    pub async fn store(
        &self,
        batch_id: &str,
        rows: &[NewDelivery],
        now_ms: i64,
    ) -> Result<u64, InboxError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.writer.begin().await?;
        let mut new = 0;
        for chunk in rows.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO deliveries (target_id, kind, delivery_id, batch_id, \
                 normalized_target, body, received_at) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.target_id.clone())
                    .push_bind(r.kind.as_str())
                    .push_bind(r.delivery_id.clone())
                    .push_bind(batch_id.to_string())
                    .push_bind(r.normalized_target.clone())
                    .push_bind(r.body.clone())
                    .push_bind(now_ms);
            });
            qb.push(" ON CONFLICT (target_id, kind) DO NOTHING");
            new += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Which of `target_ids` this sidecar holds a takedown for.
    pub async fn held_takedowns(
        &self,
        target_ids: &[String],
    ) -> Result<HashSet<String>, InboxError> {
        Ok(self
            .kinds_of(target_ids)
            .await?
            .into_iter()
            .filter(|(_, kinds)| kinds.contains(&Kind::Takedown))
            .map(|(t, _)| t)
            .collect())
    }

    /// Which of `target_ids` this sidecar holds as removal orders (takedowns whose legal
    /// basis is REMOVAL_ORDER).
    pub async fn removal_orders(
        &self,
        target_ids: &[String],
    ) -> Result<HashSet<String>, InboxError> {
        let mut out = HashSet::new();
        for chunk in target_ids.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT target_id FROM deliveries WHERE kind = 'takedown' \
                 AND json_extract(body, '$.legal_basis') = 'REMOVAL_ORDER' AND target_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.clone());
            }
            qb.push(")");
            for row in qb.build().fetch_all(&self.pool).await? {
                out.insert(row.try_get("target_id")?);
            }
        }
        Ok(out)
    }

    /// The kinds of delivery held for each of `target_ids` (absent: none).
    pub async fn kinds_of(
        &self,
        target_ids: &[String],
    ) -> Result<HashMap<String, HashSet<Kind>>, InboxError> {
        let mut out: HashMap<String, HashSet<Kind>> = HashMap::new();
        for chunk in target_ids.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT target_id, kind FROM deliveries WHERE target_id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.clone());
            }
            qb.push(")");
            for row in qb.build().fetch_all(&self.pool).await? {
                let t: String = row.try_get("target_id")?;
                let k: String = row.try_get("kind")?;
                if let Some(k) = Kind::parse(&k) {
                    out.entry(t).or_default().insert(k);
                }
            }
        }
        Ok(out)
    }

    /// The batch to hand over next: the open one if there is one (a failed attempt or a
    /// crash left it), else a new batch `new_id` of the oldest `limit` deliveries in no
    /// batch yet, recorded before anything is handed over. `None` when nothing waits.
    pub async fn next_batch(
        &self,
        limit: u32,
        new_id: &str,
        now_ms: i64,
    ) -> Result<Option<OpenBatch>, InboxError> {
        let mut tx = self.writer.begin().await?;
        let open: Option<(String, i64)> = sqlx::query_as(
            "SELECT handoff_id, handed_at FROM batches WHERE done_at IS NULL \
             ORDER BY rowid LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let (handoff_id, handed_at) = match open {
            Some(open) => open,
            None => {
                let waiting: Option<i64> = sqlx::query_scalar(
                    "SELECT seq FROM deliveries WHERE handed_at IS NULL AND handoff_id IS NULL \
                     LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                if waiting.is_none() {
                    return Ok(None);
                }
                sqlx::query("INSERT INTO batches (handoff_id, handed_at) VALUES (?, ?)")
                    .bind(new_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE deliveries SET handoff_id = ?1 WHERE seq IN \
                     (SELECT seq FROM deliveries WHERE handed_at IS NULL AND handoff_id IS NULL \
                      ORDER BY seq LIMIT ?2)",
                )
                .bind(new_id)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?;
                (new_id.to_string(), now_ms)
            }
        };
        let attempt: i64 = sqlx::query_scalar(
            "UPDATE batches SET attempts = attempts + 1 WHERE handoff_id = ? RETURNING attempts",
        )
        .bind(&handoff_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        // The members are fixed now; read them beside the writer.
        let targets = self.members(&handoff_id).await?;
        Ok(Some(OpenBatch {
            handoff_id,
            handed_at,
            attempt,
            targets,
        }))
    }

    /// The deliveries of batch `handoff_id`, in order.
    async fn members(&self, handoff_id: &str) -> Result<Vec<Pending>, InboxError> {
        let rows = sqlx::query(
            "SELECT seq, target_id, kind, body, \
             json_extract(body, '$.legal_basis') = 'REMOVAL_ORDER' AS removal_order \
             FROM deliveries WHERE handoff_id = ? ORDER BY seq",
        )
        .bind(handoff_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let kind: String = row.try_get("kind")?;
                Ok(Pending {
                    seq,
                    target_id: row.try_get("target_id")?,
                    kind: Kind::parse(&kind).ok_or_else(|| InboxError::Corrupt {
                        seq,
                        reason: format!("unknown kind {kind:?}"),
                    })?,
                    removal_order: row
                        .try_get::<Option<bool>, _>("removal_order")?
                        .unwrap_or(false),
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }

    /// Records that the platform received batch `handoff_id` (its `targets`): in one
    /// transaction, closes the batch, marks its members handed (only those not handed
    /// yet), logs each handoff, and queues the reports of the targets just marked.
    /// Returns the targets marked.
    pub async fn record_handoff(
        &self,
        handoff_id: &str,
        mode: &str,
        targets: &[Pending],
        reports: &[(pb::PlatformReport, i64)],
        now_ms: i64,
    ) -> Result<Vec<i64>, InboxError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE batches SET done_at = ?1 WHERE handoff_id = ?2 AND done_at IS NULL")
            .bind(now_ms)
            .bind(handoff_id)
            .execute(&mut *tx)
            .await?;
        let marked: Vec<i64> = sqlx::query_scalar(
            "UPDATE deliveries SET handed_at = ?1 \
             WHERE handoff_id = ?2 AND handed_at IS NULL RETURNING seq",
        )
        .bind(now_ms)
        .bind(handoff_id)
        .fetch_all(&mut *tx)
        .await?;
        let marked_set: HashSet<i64> = marked.iter().copied().collect();
        let handed: Vec<&Pending> = targets
            .iter()
            .filter(|t| marked_set.contains(&t.seq))
            .collect();
        for chunk in handed.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO handoffs (handoff_id, target_id, kind, mode, handed_at) ",
            );
            qb.push_values(chunk, |mut b, t| {
                b.push_bind(handoff_id.to_string())
                    .push_bind(t.target_id.clone())
                    .push_bind(t.kind.as_str())
                    .push_bind(mode.to_string())
                    .push_bind(now_ms);
            });
            qb.build().execute(&mut *tx).await?;
        }
        let handed_ids: HashSet<&str> = handed.iter().map(|t| t.target_id.as_str()).collect();
        let reports: Vec<&(pb::PlatformReport, i64)> = reports
            .iter()
            .filter(|(r, _)| handed_ids.contains(r.target_id.as_str()))
            .collect();
        insert_reports(&mut tx, &reports, now_ms).await?;
        tx.commit().await?;
        Ok(marked)
    }

    /// Queues reports (due at their time); a report id already queued is ignored.
    /// Returns how many were new.
    pub async fn enqueue_reports(
        &self,
        reports: &[(pb::PlatformReport, i64)],
        now_ms: i64,
    ) -> Result<u64, InboxError> {
        let mut tx = self.writer.begin().await?;
        let refs: Vec<&(pb::PlatformReport, i64)> = reports.iter().collect();
        let n = insert_reports(&mut tx, &refs, now_ms).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Pending reports due by `now_ms`, oldest first.
    pub async fn due_reports(&self, limit: u32, now_ms: i64) -> Result<Vec<Outgoing>, InboxError> {
        let rows = sqlx::query(
            "SELECT seq, report, attempts FROM outbox WHERE state = 'pending' AND due_at <= ? \
             ORDER BY due_at, seq LIMIT ?",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let bytes: Vec<u8> = row.try_get("report")?;
                let report = pb::PlatformReport::decode(bytes.as_slice()).map_err(|e| {
                    InboxError::Corrupt {
                        seq,
                        reason: e.to_string(),
                    }
                })?;
                let attempts: i64 = row.try_get("attempts")?;
                Ok(Outgoing {
                    seq,
                    report,
                    attempts,
                })
            })
            .collect()
    }

    /// When the next pending report falls due, if any.
    pub async fn next_due(&self) -> Result<Option<i64>, InboxError> {
        Ok(
            sqlx::query_scalar("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Marks reports sent.
    pub async fn mark_sent(&self, seqs: &[i64], now_ms: i64) -> Result<(), InboxError> {
        self.update_outbox(seqs, "state = 'sent', sent_at = ", Some(now_ms), None)
            .await
    }

    /// Counts a failed attempt on reports that stay pending.
    pub async fn mark_failed(&self, seqs: &[i64], error: &str) -> Result<(), InboxError> {
        self.update_outbox(seqs, "attempts = attempts + 1", None, Some(error))
            .await
    }

    /// Counts a failed attempt and puts reports off until `until` (Unix ms).
    pub async fn defer(&self, seqs: &[i64], until: i64, error: &str) -> Result<(), InboxError> {
        self.update_outbox(
            seqs,
            "attempts = attempts + 1, due_at = ",
            Some(until),
            Some(error),
        )
        .await
    }

    /// Parks reports the hub refused for good; they are not retried.
    pub async fn park(&self, seqs: &[i64], error: &str) -> Result<(), InboxError> {
        self.update_outbox(
            seqs,
            "state = 'parked', attempts = attempts + 1",
            None,
            Some(error),
        )
        .await
    }

    async fn update_outbox(
        &self,
        seqs: &[i64],
        set: &str,
        value: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), InboxError> {
        let mut tx = self.writer.begin().await?;
        for chunk in seqs.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE outbox SET ");
            qb.push(set);
            if let Some(v) = value {
                qb.push_bind(v);
            }
            if let Some(e) = error {
                qb.push(", last_error = ");
                qb.push_bind(e.to_string());
            }
            qb.push(" WHERE seq IN (");
            let mut sep = qb.separated(", ");
            for s in chunk {
                sep.push_bind(*s);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records an accepted key-set statement (again: no change).
    pub async fn save_key_set(
        &self,
        version: u64,
        jws: &str,
        now_ms: i64,
    ) -> Result<(), InboxError> {
        sqlx::query(
            "INSERT INTO key_sets (version, jws, accepted_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(jws)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The key-set statements accepted so far, oldest first.
    pub async fn key_sets(&self) -> Result<Vec<String>, InboxError> {
        Ok(
            sqlx::query_scalar("SELECT jws FROM key_sets ORDER BY version")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// How many handoffs were recorded in all.
    /// Deliveries stored and not yet handed to the platform, counted up to `cap` (the
    /// count stops there: it is asked on every Deliver call).
    pub async fn backlog(&self, cap: u32) -> Result<u32, InboxError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE handed_at IS NULL LIMIT ?1)",
        )
        .bind(i64::from(cap))
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u32)
    }

    pub async fn handoff_count(&self) -> Result<i64, InboxError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM handoffs")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Handoffs per (target id, kind), for checks that nothing went twice.
    pub async fn handoffs_per_target(&self) -> Result<HashMap<(String, String), i64>, InboxError> {
        let rows = sqlx::query(
            "SELECT target_id, kind, COUNT(*) AS n FROM handoffs GROUP BY target_id, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    (r.try_get("target_id")?, r.try_get("kind")?),
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    /// (open, idle, most) connections of the inbox's pools, together.
    pub fn pool_status(&self) -> (u32, u32, u32) {
        [&self.writer, &self.pool]
            .iter()
            .fold((0, 0, 0), |(o, i, m), p| {
                (
                    o + p.size(),
                    i + u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
                    m + p.options().get_max_connections(),
                )
            })
    }

    /// Every delivery's stored body, in arrival order (for inspection and tests).
    pub async fn bodies(&self) -> Result<Vec<String>, InboxError> {
        Ok(
            sqlx::query_scalar("SELECT body FROM deliveries ORDER BY seq")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// How many deliveries are held.
    pub async fn delivery_count(&self) -> Result<i64, InboxError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Drops what identifies a target from deliveries handed to the platform before
    /// `cutoff_ms` (their batch done): the target as named, the referrals with their notes
    /// and evidence. What stays is what the sidecar still needs and names nobody: the
    /// opaque target and delivery ids, the kind and the idempotency key (so that a
    /// delivery repeated later is still recognised and never handed twice), and the legal
    /// basis (so that NOT_A_VIOLATION on a removal order is still refused). Deletes
    /// reports sent or parked before `cutoff_ms`; pending ones stay.
    pub async fn purge(&self, cutoff_ms: i64) -> Result<Purged, InboxError> {
        let mut tx = self.writer.begin().await?;
        let deliveries = sqlx::query(
            "UPDATE deliveries SET normalized_target = '', \
               body = json_object('idempotency_key', json_extract(body, '$.idempotency_key'), \
                 'target_id', target_id, 'delivery_id', delivery_id, \
                 'kind', json_extract(body, '$.kind'), \
                 'legal_basis', json_extract(body, '$.legal_basis'), 'purged', json('true')) \
             WHERE handed_at IS NOT NULL AND handed_at < ?1 AND normalized_target <> '' \
               AND (handoff_id IS NULL OR handoff_id IN \
                    (SELECT handoff_id FROM batches WHERE done_at IS NOT NULL))",
        )
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let reports =
            sqlx::query("DELETE FROM outbox WHERE state IN ('sent', 'parked') AND created_at < ?1")
                .bind(cutoff_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(Purged {
            deliveries,
            reports,
        })
    }

    /// Outbox rows by state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, InboxError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut c = OutboxCounts::default();
        for r in rows {
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            match state.as_str() {
                "pending" => c.pending = n,
                "sent" => c.sent = n,
                _ => c.parked = n,
            }
        }
        Ok(c)
    }
}

async fn insert_reports(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    reports: &[&(pb::PlatformReport, i64)],
    now_ms: i64,
) -> Result<u64, InboxError> {
    let mut n = 0;
    for chunk in reports.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO outbox (report_id, target_id, report, created_at, due_at) ",
        );
        qb.push_values(chunk, |mut b, (r, due)| {
            b.push_bind(r.report_id.clone())
                .push_bind(r.target_id.clone())
                .push_bind(r.encode_to_vec())
                .push_bind(now_ms)
                .push_bind(*due);
        });
        qb.push(" ON CONFLICT (report_id) DO NOTHING");
        n += qb.build().execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}
