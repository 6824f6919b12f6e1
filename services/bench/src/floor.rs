//! The durable floor: the delivery baseline that does only the work the design requires,
//! on the same backend as the hub it is compared with, in this process.
//!
//! - **Hub side**, in a fresh database of the backend: one delivery and one target row per
//!   target, claimed in batches of the hub's `batch_size` (`UPDATE … RETURNING`, with
//!   `FOR UPDATE SKIP LOCKED` on PostgreSQL), `max_in_flight` batches per platform at once;
//!   per answered batch one transaction marking the deliveries and targets delivered with an
//!   audit entry, then one recording an acknowledgement and a decision per target (report
//!   rows, the target's facts, an audit entry). Audit entries are a SHA-256 chain.
//! - **The wire**: the same payload bytes the hub sends (each target with its referral's
//!   item bytes and inclusion proof, each list's signature once per batch), over tonic
//!   with mutual TLS, to five receivers.
//! - **Receivers**: one Ed25519 verification per list (then remembered), one inclusion
//!   proof per item, and in one SQLite transaction per batch (WAL, `synchronous=NORMAL`,
//!   as the sidecar) the inbox rows and the outbox rows of the two reports per target; a
//!   second transaction marks the reports sent.
//!
//! What it leaves out, so that it is a floor and not a copy: reading the payloads back
//! from the database (the hub reads the referrals' item bytes per batch), the report RPC
//! from receiver to hub (the floor's hub records the reports itself), rollups, holds,
//! rate limits, retries, leases and metrics.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures::future::try_join_all;
use sha2::{Digest, Sha256};
use sqlx::{
    PgPool, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use takedown_protocol::{
    merkle,
    pb::{
        self,
        receiver_service_server::{ReceiverService, ReceiverServiceServer},
    },
    signing,
    timestamp::now_millis,
};
use takedown_tests::{Backend, db::TestDb, lists::AgencyKey, pki::TestPki};
use tokio::sync::Mutex;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::{
    lists::PLATFORMS,
    procs::{cpu_ms, cpu_ms_of_all},
    rawgrpc::CancelOnDrop,
};

const MAX_MESSAGE: usize = 256 * 1024 * 1024;
const AUDIENCE: &str = "takedown-hub";

/// One floor run's figures.
pub struct Floor {
    /// From the first claim to the last batch's reports recorded.
    pub took: Duration,
    /// CPU per target of this process (hub side and receivers) and of the PostgreSQL
    /// server (zero on SQLite).
    pub process_cpu_us: f64,
    pub db_cpu_us: f64,
}

/// Runs the floor once over `payloads` (the Deliver requests per platform, in the hub's
/// shape); `n` targets in all.
pub async fn run(
    backend: Backend,
    pki: &TestPki,
    keys: &[AgencyKey],
    payloads: &BTreeMap<String, Vec<pb::DeliverRequest>>,
    batch_size: usize,
    in_flight: usize,
    n: usize,
) -> Result<Floor> {
    let dir = tempfile::tempdir()?;
    let Some(db) = TestDb::new(backend, dir.path()).await else {
        bail!("PostgreSQL is unreachable");
    };
    let hub = Db::open(backend, &db.url).await?;
    hub.schema().await?;

    // Every target once, as the hub's outbox holds it at H-hour.
    let mut deliveries: HashMap<String, BTreeMap<i64, pb::TargetDelivery>> = HashMap::new();
    let mut signatures: HashMap<String, pb::ListSignature> = HashMap::new();
    for (platform, batches) in payloads {
        let mine = deliveries.entry(platform.clone()).or_default();
        for b in batches {
            for s in &b.lists {
                signatures
                    .entry(s.list_id.clone())
                    .or_insert_with(|| s.clone());
            }
            for d in &b.deliveries {
                mine.insert(d.delivery_id.parse()?, d.clone());
            }
        }
    }
    let due = now_millis();
    for (platform, mine) in &deliveries {
        hub.populate(platform, &mine.keys().copied().collect::<Vec<_>>(), due)
            .await?;
    }
    let deliveries = Arc::new(deliveries);
    let signatures = Arc::new(signatures);
    let public: HashMap<String, String> = keys
        .iter()
        .map(|k| (k.kid.clone(), k.public_pem.clone()))
        .collect();

    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for p in PLATFORMS {
        let inbox = inbox(&dir.path().join(format!("{p}-inbox.db"))).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let receiver = Receiver {
            inbox,
            keys: public.clone(),
            verified: std::sync::Mutex::new(HashMap::new()),
        };
        let server = tonic::transport::Server::builder()
            .tls_config(takedown_net::server_tls(&pki.material(p)))?
            .add_service(
                ReceiverServiceServer::new(receiver).max_decoding_message_size(MAX_MESSAGE),
            )
            .serve_with_incoming(TcpListenerStream::new(listener));
        servers.push(CancelOnDrop(tokio::spawn(server)));
        clients.push((
            p,
            crate::rawgrpc::client(&pki.material("hub"), p, addr).await?,
        ));
    }

    let hub = Arc::new(hub);
    let chain = Arc::new(Mutex::new((0i64, [0u8; 32])));
    let pg_before = backend_cpu(backend)?;
    let me = std::process::id();
    let cpu_before = cpu_ms(me)?;
    let start = Instant::now();
    let mut workers = Vec::new();
    for (platform, client) in clients {
        for _ in 0..in_flight.max(1) {
            let (hub, chain, deliveries, signatures) = (
                hub.clone(),
                chain.clone(),
                deliveries.clone(),
                signatures.clone(),
            );
            let mut client = client.clone();
            workers.push(tokio::spawn(async move {
                let mut done = 0usize;
                loop {
                    let ids = hub.claim(platform, batch_size, now_millis()).await?;
                    if ids.is_empty() {
                        return anyhow::Ok(done);
                    }
                    let mine = &deliveries[platform];
                    let mut lists = BTreeMap::new();
                    let mut batch = Vec::with_capacity(ids.len());
                    for id in &ids {
                        let d = mine.get(id).context("claimed an unknown delivery")?;
                        for r in &d.referrals {
                            lists
                                .entry(r.list_id.clone())
                                .or_insert_with(|| signatures[&r.list_id].clone());
                        }
                        batch.push(d.clone());
                    }
                    let answer = client
                        .deliver(pb::DeliverRequest {
                            batch_id: format!("{platform}-{}", ids[0]),
                            platform: platform.to_string(),
                            lists: lists.into_values().collect(),
                            deliveries: batch,
                        })
                        .await
                        .context("Deliver")?
                        .into_inner();
                    if answer.accepted.len() != ids.len() {
                        bail!(
                            "the floor's {platform} receiver accepted {} of {}",
                            answer.accepted.len(),
                            ids.len()
                        );
                    }
                    hub.delivered(&ids, now_millis(), &chain).await?;
                    hub.reported(platform, &ids, now_millis(), &chain).await?;
                    done += ids.len();
                }
            }));
        }
    }
    let mut total = 0;
    for w in try_join_all(workers).await? {
        total += w?;
    }
    let took = start.elapsed();
    let cpu = cpu_ms(me)? - cpu_before;
    let pg = backend_cpu(backend)? - pg_before;
    drop(servers);
    if total != n {
        bail!("the floor delivered {total} of {n} targets");
    }
    Ok(Floor {
        took,
        process_cpu_us: cpu * 1000.0 / n as f64,
        db_cpu_us: pg * 1000.0 / n as f64,
    })
}

fn backend_cpu(backend: Backend) -> Result<f64> {
    match backend {
        Backend::Sqlite => Ok(0.0),
        Backend::Postgres => cpu_ms_of_all("postgres"),
    }
}

/// The floor's hub database.
enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// The floor's tables: the part of the hub's schema its write paths touch.
const SCHEMA: [&str; 5] = [
    "CREATE TABLE f_targets (id BIGINT PRIMARY KEY, platform TEXT NOT NULL, \
     delivered_at BIGINT, acked_at BIGINT, outcome INTEGER, acted_at BIGINT)",
    "CREATE TABLE f_deliveries (id BIGINT PRIMARY KEY, target_id BIGINT NOT NULL \
     REFERENCES f_targets (id), platform TEXT NOT NULL, state INTEGER NOT NULL, \
     next_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, delivered_at BIGINT)",
    "CREATE INDEX f_due ON f_deliveries (platform, next_at, id) WHERE state IN (0, 1)",
    "CREATE TABLE f_reports (report_id TEXT PRIMARY KEY, target_id BIGINT NOT NULL \
     REFERENCES f_targets (id), kind INTEGER NOT NULL, outcome INTEGER NOT NULL, \
     at BIGINT NOT NULL)",
    "CREATE TABLE f_audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, \
     subject TEXT NOT NULL, details TEXT NOT NULL, hash TEXT NOT NULL)",
];

/// `(kind, outcome)` of the two reports a receiver makes per target: an acknowledgement,
/// then BLOCKED.
const REPORTS: [(i32, i32); 2] = [(1, 0), (2, 1)];

/// Appends an audit entry to the chain inside transaction `tx` and commits it; the chain's
/// head moves only once the entry is committed.
macro_rules! append {
    ($tx:ident, $chain:ident, $at:expr, $kind:expr, $subject:expr, $details:expr) => {{
        let mut head = $chain.lock().await;
        let (seq, hash) = next(&head, $at, $kind, $details);
        sqlx::query("INSERT INTO f_audit VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(seq)
            .bind($at)
            .bind($kind)
            .bind($subject)
            .bind($details)
            .bind(hex(&hash))
            .execute(&mut *$tx)
            .await?;
        $tx.commit().await?;
        *head = (seq, hash);
    }};
}

impl Db {
    async fn open(backend: Backend, url: &str) -> Result<Self> {
        Ok(match backend {
            Backend::Sqlite => {
                let opts: SqliteConnectOptions = url.parse()?;
                Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(
                            opts.create_if_missing(true)
                                .journal_mode(SqliteJournalMode::Wal)
                                .synchronous(SqliteSynchronous::Normal)
                                .foreign_keys(true)
                                .busy_timeout(Duration::from_secs(10)),
                        )
                        .await?,
                )
            }
            Backend::Postgres => Self::Pg(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(10)
                    .connect(url)
                    .await?,
            ),
        })
    }

    async fn schema(&self) -> Result<()> {
        for s in SCHEMA {
            match self {
                Self::Sqlite(p) => sqlx::query(s).execute(p).await.map(drop)?,
                Self::Pg(p) => sqlx::query(s).execute(p).await.map(drop)?,
            }
        }
        Ok(())
    }

    /// One target and one due delivery per id (not timed).
    async fn populate(&self, platform: &str, ids: &[i64], due: i64) -> Result<()> {
        for chunk in ids.chunks(10_000) {
            let json = serde_json::to_string(chunk)?;
            match self {
                Self::Sqlite(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(
                        "INSERT INTO f_targets (id, platform) \
                         SELECT value, $2 FROM json_each($1)",
                    )
                    .bind(&json)
                    .bind(platform)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO f_deliveries (id, target_id, platform, state, next_at) \
                         SELECT value, value, $2, 0, $3 FROM json_each($1)",
                    )
                    .bind(&json)
                    .bind(platform)
                    .bind(due)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                Self::Pg(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(
                        "INSERT INTO f_targets (id, platform) SELECT unnest($1::BIGINT[]), $2",
                    )
                    .bind(chunk)
                    .bind(platform)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO f_deliveries (id, target_id, platform, state, next_at) \
                         SELECT i, i, $2, 0, $3 FROM unnest($1::BIGINT[]) AS i",
                    )
                    .bind(chunk)
                    .bind(platform)
                    .bind(due)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Claims up to `limit` due deliveries of `platform`, oldest first.
    async fn claim(&self, platform: &str, limit: usize, now: i64) -> Result<Vec<i64>> {
        let lease = now + 60_000;
        let limit = limit as i64;
        let mut ids: Vec<i64> = match self {
            Self::Sqlite(p) => {
                sqlx::query_scalar(
                    "UPDATE f_deliveries SET state = 1, attempts = attempts + 1, next_at = $3 \
                     WHERE id IN (SELECT id FROM f_deliveries WHERE platform = $1 \
                     AND state IN (0, 1) AND next_at <= $2 ORDER BY next_at, id LIMIT $4) \
                     RETURNING id",
                )
                .bind(platform)
                .bind(now)
                .bind(lease)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Self::Pg(p) => {
                sqlx::query_scalar(
                    "UPDATE f_deliveries SET state = 1, attempts = attempts + 1, next_at = $3 \
                     WHERE id IN (SELECT id FROM f_deliveries WHERE platform = $1 \
                     AND state IN (0, 1) AND next_at <= $2 ORDER BY next_at, id LIMIT $4 \
                     FOR UPDATE SKIP LOCKED) RETURNING id",
                )
                .bind(platform)
                .bind(now)
                .bind(lease)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        };
        ids.sort_unstable();
        Ok(ids)
    }

    /// The answered batch: deliveries and targets delivered, one audit entry.
    async fn delivered(&self, ids: &[i64], at: i64, chain: &Mutex<(i64, [u8; 32])>) -> Result<()> {
        let json = serde_json::to_string(ids)?;
        let details = format!("{{\"deliveries\":{json}}}");
        match self {
            Self::Sqlite(p) => {
                let mut tx = p.begin().await?;
                sqlx::query(
                    "UPDATE f_deliveries SET state = 2, delivered_at = $1 \
                     WHERE state = 1 AND id IN (SELECT value FROM json_each($2))",
                )
                .bind(at)
                .bind(&json)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE f_targets SET delivered_at = $1 WHERE delivered_at IS NULL \
                     AND id IN (SELECT value FROM json_each($2))",
                )
                .bind(at)
                .bind(&json)
                .execute(&mut *tx)
                .await?;
                append!(tx, chain, at, "deliveries_delivered", "", &details);
            }
            Self::Pg(p) => {
                let mut tx = p.begin().await?;
                sqlx::query(
                    "UPDATE f_deliveries SET state = 2, delivered_at = $1 \
                     WHERE state = 1 AND id = ANY($2)",
                )
                .bind(at)
                .bind(ids)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE f_targets SET delivered_at = $1 WHERE delivered_at IS NULL \
                     AND id = ANY($2)",
                )
                .bind(at)
                .bind(ids)
                .execute(&mut *tx)
                .await?;
                append!(tx, chain, at, "deliveries_delivered", "", &details);
            }
        }
        Ok(())
    }

    /// The receiver's two reports per target: report rows, the targets' acknowledgement
    /// and decision, one audit entry.
    async fn reported(
        &self,
        platform: &str,
        ids: &[i64],
        at: i64,
        chain: &Mutex<(i64, [u8; 32])>,
    ) -> Result<()> {
        let mut report_ids = Vec::with_capacity(ids.len() * 2);
        let mut targets = Vec::with_capacity(ids.len() * 2);
        let mut kinds = Vec::with_capacity(ids.len() * 2);
        let mut outcomes = Vec::with_capacity(ids.len() * 2);
        for &id in ids {
            for (kind, outcome) in REPORTS {
                report_ids.push(format!("{platform}-{id}-{kind}"));
                targets.push(id);
                kinds.push(kind);
                outcomes.push(outcome);
            }
        }
        let json = serde_json::to_string(ids)?;
        let details =
            format!("{{\"platform\":\"{platform}\",\"acks\":{json},\"decisions\":{json}}}");
        match self {
            Self::Sqlite(p) => {
                let rows: Vec<_> = (0..report_ids.len())
                    .map(|i| (&report_ids[i], targets[i], kinds[i], outcomes[i]))
                    .collect();
                let rows = serde_json::to_string(&rows)?;
                let mut tx = p.begin().await?;
                sqlx::query(
                    "INSERT INTO f_reports (report_id, target_id, kind, outcome, at) \
                     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, $2 \
                     FROM json_each($1) WHERE true ON CONFLICT (report_id) DO NOTHING",
                )
                .bind(&rows)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE f_targets SET acked_at = COALESCE(acked_at, $1), outcome = 1, \
                     acted_at = COALESCE(acted_at, $1) WHERE id IN (SELECT value FROM json_each($2))",
                )
                .bind(at)
                .bind(&json)
                .execute(&mut *tx)
                .await?;
                append!(tx, chain, at, "reports", platform, &details);
            }
            Self::Pg(p) => {
                let mut tx = p.begin().await?;
                sqlx::query(
                    "INSERT INTO f_reports (report_id, target_id, kind, outcome, at) \
                     SELECT *, $5 FROM unnest($1::TEXT[], $2::BIGINT[], $3::INT[], $4::INT[]) \
                     ON CONFLICT (report_id) DO NOTHING",
                )
                .bind(&report_ids)
                .bind(&targets)
                .bind(&kinds)
                .bind(&outcomes)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE f_targets SET acked_at = COALESCE(acked_at, $1), outcome = 1, \
                     acted_at = COALESCE(acted_at, $1) WHERE id = ANY($2)",
                )
                .bind(at)
                .bind(ids)
                .execute(&mut *tx)
                .await?;
                append!(tx, chain, at, "reports", platform, &details);
            }
        }
        Ok(())
    }
}

/// The chain's next (seq, hash) after `head` for an entry.
fn next(head: &(i64, [u8; 32]), at: i64, kind: &str, details: &str) -> (i64, [u8; 32]) {
    let seq = head.0 + 1;
    let mut h = Sha256::new();
    h.update(head.1);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    h.update(kind.as_bytes());
    h.update(details.as_bytes());
    (seq, h.finalize().into())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A receiver's inbox database, as the sidecar opens its own.
async fn inbox(path: &std::path::Path) -> Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10)),
        )
        .await?;
    for s in [
        "CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, target_id TEXT NOT NULL, \
         kind TEXT NOT NULL, delivery_id TEXT NOT NULL, batch_id TEXT NOT NULL, \
         normalized_target TEXT NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL, \
         UNIQUE (target_id, kind))",
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, report_id TEXT NOT NULL \
         UNIQUE, target_id TEXT NOT NULL, report BLOB NOT NULL, created_at INTEGER NOT NULL, \
         state TEXT NOT NULL DEFAULT 'pending', sent_at INTEGER)",
    ] {
        sqlx::query(s).execute(&pool).await?;
    }
    Ok(pool)
}

/// A receiver that verifies and keeps what it gets, and nothing more.
struct Receiver {
    inbox: SqlitePool,
    /// kid → public key PEM (the key-set statement's keys).
    keys: HashMap<String, String>,
    /// list id → (item count, Merkle root) of the lists whose signature verified.
    verified: std::sync::Mutex<HashMap<String, (u64, merkle::Hash)>>,
}

impl Receiver {
    fn check(&self, req: &pb::DeliverRequest) -> Result<(), String> {
        let mut verified = self.verified.lock().expect("verified lists");
        for s in &req.lists {
            if verified.contains_key(&s.list_id) {
                continue;
            }
            let kid = signing::key_id(&s.jws).map_err(|e| e.to_string())?;
            let pem = self.keys.get(&kid).ok_or("unknown key")?;
            let claims = signing::verify_authorship(&s.jws, pem.as_bytes(), AUDIENCE)
                .map_err(|e| e.to_string())?;
            let root = claims.root().ok_or("no root")?;
            verified.insert(s.list_id.clone(), (claims.item_count, root));
        }
        for d in &req.deliveries {
            for r in &d.referrals {
                let (size, root) = verified.get(&r.list_id).ok_or("list not in the batch")?;
                let proof = merkle::unpack_path(&r.audit_path).ok_or("bad proof")?;
                if !merkle::verify_inclusion(
                    r.item_index,
                    *size,
                    &merkle::leaf_hash(&r.item),
                    &proof,
                    root,
                ) {
                    return Err(format!("proof of {} does not verify", d.delivery_id));
                }
            }
        }
        Ok(())
    }

    async fn keep(&self, req: &pb::DeliverRequest) -> Result<(), sqlx::Error> {
        let now = now_millis();
        let inbox: Vec<_> = req
            .deliveries
            .iter()
            .map(|d| {
                (
                    &d.target_id,
                    &d.delivery_id,
                    &d.normalized_target,
                    serde_json::json!({
                        "target": d.normalized_target,
                        "original": d.original_target,
                        "category": d.category,
                        "agencies": d.agencies,
                    })
                    .to_string(),
                )
            })
            .collect();
        let outbox: Vec<_> = req
            .deliveries
            .iter()
            .flat_map(|d| {
                REPORTS.iter().map(move |(kind, outcome)| {
                    (
                        format!("{}-{kind}", d.target_id),
                        &d.target_id,
                        format!("{kind}:{outcome}"),
                    )
                })
            })
            .collect();
        let inbox = serde_json::to_string(&inbox).expect("inbox rows");
        let outbox = serde_json::to_string(&outbox).expect("outbox rows");
        let mut tx = self.inbox.begin().await?;
        sqlx::query(
            "INSERT INTO inbox (target_id, kind, delivery_id, batch_id, normalized_target, body, \
             received_at) SELECT value ->> 0, 'takedown', value ->> 1, $2, value ->> 2, \
             value ->> 3, $3 FROM json_each($1) WHERE true \
             ON CONFLICT (target_id, kind) DO NOTHING",
        )
        .bind(&inbox)
        .bind(&req.batch_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (report_id, target_id, report, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, $2 FROM json_each($1) \
             WHERE true ON CONFLICT (report_id) DO NOTHING",
        )
        .bind(&outbox)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = $1 WHERE state = 'pending' \
             AND target_id IN (SELECT value ->> 0 FROM json_each($2))",
        )
        .bind(now_millis())
        .bind(&inbox)
        .execute(&self.inbox)
        .await?;
        Ok(())
    }
}

#[tonic::async_trait]
impl ReceiverService for Receiver {
    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        let req = request.into_inner();
        self.check(&req).map_err(Status::invalid_argument)?;
        self.keep(&req)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(pb::DeliverResponse {
            accepted: req.deliveries.into_iter().map(|d| d.delivery_id).collect(),
            rejected: vec![],
        }))
    }
}
