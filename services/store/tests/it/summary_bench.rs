//! `action_day_summary` of an action day with 1 000 000 targets over 10 platforms, filled
//! with bulk SQL, timed (median of 3) with the query plans printed. Ignored by default:
//! `cargo test -p takedown-store --release --features test-util --test it summary_bench -- --ignored --nocapture`.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Row};
use takedown_store::postgres::PgStore;
use takedown_store::sqlite::SqliteStore;
use takedown_store::*;

use crate::support::*;

conformance!(
    #[ignore = "timing run"]
    summary_of_a_million_targets
);

const N: i64 = 1_000_000;
const H: i64 = T0;
const DAY: &str = "bench";

/// Raw SQL for filling and explaining.
pub trait Raw {
    const PG: bool;
    fn exec(&self, sql: &str) -> impl Future<Output = ()> + Send;
    /// The plan of a summary query (`params` as in `summary_queries`), executed for
    /// PostgreSQL (EXPLAIN ANALYZE), not for SQLite (EXPLAIN QUERY PLAN).
    fn plan(&self, sql: &str, params: usize, now: i64) -> impl Future<Output = String> + Send;
}

impl Raw for SqliteStore {
    const PG: bool = false;
    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(self.pool())
            .await
            .expect(sql);
    }
    async fn plan(&self, sql: &str, params: usize, now: i64) -> String {
        let text = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(AssertSqlSafe(text)).bind(DAY);
        q = match params {
            4 => q.bind(now).bind(None::<&str>).bind(None::<&str>),
            3 => q.bind(now).bind(None::<&str>),
            _ => q.bind(None::<&str>),
        };
        q.fetch_all(self.pool())
            .await
            .expect("explain")
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.get::<i64, _>(0),
                    r.get::<i64, _>(1),
                    r.get::<String, _>(3)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Raw for PgStore {
    const PG: bool = true;
    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(self.pool())
            .await
            .expect(sql);
    }
    async fn plan(&self, sql: &str, params: usize, now: i64) -> String {
        let text = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
        let mut q = sqlx::query(AssertSqlSafe(text)).bind(DAY);
        q = match params {
            4 => q.bind(now).bind(None::<&str>).bind(None::<&str>),
            3 => q.bind(now).bind(None::<&str>),
            _ => q.bind(None::<&str>),
        };
        q.fetch_all(self.pool())
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `count` rows numbered `i` from 0, as a recursive CTE named `s`.
fn series(count: i64) -> String {
    format!(
        "WITH RECURSIVE s(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL \
         SELECT i + 1 FROM s WHERE i < {}) ",
        count - 1
    )
}

async fn fill<S: Store + Raw>(s: &S) {
    let mut d = day(DAY, H);
    d.platforms = (0..10).map(|p| checked(&format!("p{p}"))).collect();
    d.agencies = (0..20).map(|a| checked(&format!("a{a}"))).collect();
    s.insert_action_day(&d, &checked("europol")).await.unwrap();
    let blob = if S::PG { "'\\x00'::bytea" } else { "x'00'" };
    let overriding = if S::PG { "OVERRIDING SYSTEM VALUE" } else { "" };
    // 20 lists (one per agency), 1 000 000 targets: 10 % removal orders; 97 % delivered,
    // 1 % failed, 2 % not delivered (half of them held); 90 % acknowledged and decided
    // (70 % blocked, 5 % gone, 5 % not found, 3 % geo-blocked, 7 % rejected).
    s.exec(&format!(
        "{}INSERT INTO lists (list_id, agency_id, action_day_id, content_sha256, jws, \
         item_count, leaf_hashes, created_at, accepted_at, due_at) \
         SELECT 'l' || i, 'a' || i, '{DAY}', {blob}, '', {per_list}, {blob}, {T0}, {T0}, {H} \
         FROM s",
        series(20),
        per_list = N / 20 + N / 400,
    ))
    .await;
    s.exec(&format!(
        "{}INSERT INTO targets (id, scope, action_day_id, platform, normalized, kind, \
           original, category, legal_basis, removal_order_ref, created_at, due_at, \
           delivered_at, acked_at, outcome, reject_reason, acted_at, failed_at) {overriding} \
         SELECT i + 1, '{DAY}', '{DAY}', 'p' || (i % 10), 'n' || i, 1, 'https://n' || i, \
           'terrorism', CASE WHEN (i / 10) % 10 = 3 THEN 2 ELSE 1 END, '', {T0}, {H}, \
           CASE WHEN i % 100 < 97 THEN {H} + i % 1000 END, \
           CASE WHEN i % 100 < 90 THEN {H} + i % 1000 + (i * 7919) % 600000 END, \
           CASE WHEN i % 100 < 70 THEN 1 WHEN i % 100 < 75 THEN 2 WHEN i % 100 < 80 THEN 3 \
                WHEN i % 100 < 83 THEN 4 WHEN i % 100 < 90 THEN 5 END, \
           CASE WHEN i % 100 BETWEEN 83 AND 89 THEN 1 + i % 5 END, \
           CASE WHEN i % 100 < 90 THEN {H} + i % 1000 + (i * 104729) % 7200000 END, \
           CASE WHEN i % 100 = 97 THEN {H} + 5000 END \
         FROM s",
        series(N)
    ))
    .await;
    // One referral per target (agency i % 20), and 5 % also referred by the next agency.
    s.exec(&format!(
        "{}INSERT INTO referrals (list_id, item_index, target_id, agency_id, item) \
         SELECT 'l' || (i % 20), i / 20, i + 1, 'a' || (i % 20), {blob} FROM s",
        series(N)
    ))
    .await;
    s.exec(&format!(
        "{}INSERT INTO referrals (list_id, item_index, target_id, agency_id, item) \
         SELECT 'l' || ((i + 1) % 20), {N} + i, i + 1, 'a' || ((i + 1) % 20), {blob} \
         FROM s WHERE i % 20 = 7",
        series(N)
    ))
    .await;
    // 1 000 active holds on undelivered targets.
    s.exec(&format!(
        "{}INSERT INTO holds (id, platform, target, normalized, reason, expires_at, \
           created_at, placed_by) \
         SELECT 'h' || i, 'p' || (i % 10), 'n' || i, 'n' || i, 'bench', {far}, {T0}, 'a0' \
         FROM s WHERE i % 100 = 98 AND i < 100000",
        series(N),
        far = H + 100 * 86_400_000,
    ))
    .await;
    // The decision history: one decision per decided target, and a "cannot execute"
    // (INSUFFICIENT_INFORMATION) a minute after delivery for a seventh of the targets.
    s.exec(&format!(
        "{}INSERT INTO reports (platform, report_id, target_id, kind, outcome, reason, \
           report_text, reported_at, received_at) \
         SELECT 'p' || (i % 10), 'd' || i, i + 1, 2, \
           CASE WHEN i % 100 < 70 THEN 1 WHEN i % 100 < 75 THEN 2 WHEN i % 100 < 80 THEN 3 \
                WHEN i % 100 < 83 THEN 4 ELSE 5 END, \
           CASE WHEN i % 100 BETWEEN 83 AND 89 THEN 1 + i % 5 ELSE 0 END, '', \
           {H} + i % 1000 + (i * 104729) % 7200000, {H} + i % 1000 + (i * 104729) % 7200000 \
         FROM s WHERE i % 100 < 90",
        series(N)
    ))
    .await;
    s.exec(&format!(
        "{}INSERT INTO reports (platform, report_id, target_id, kind, outcome, reason, \
           report_text, reported_at, received_at) \
         SELECT 'p' || (i % 10), 'c' || i, i + 1, 2, 5, 2, '', {H} + i % 1000 + 60000, \
           {H} + i % 1000 + 60000 \
         FROM s WHERE i % 100 < 90 AND i % 7 = 0",
        series(N)
    ))
    .await;
    s.exec("ANALYZE").await;
}

/// The facts were written around the store (bulk SQL; the triggers kept the rollups, but
/// no writer computed the removal-order clocks): derive the clocks and rebuild the rollups
/// from the facts, timed.
async fn derive<S: Store>(s: &S, backend: &str) {
    let started = Instant::now();
    s.rebuild_summary(&checked(DAY)).await.unwrap();
    eprintln!(
        "{backend}: rebuild_summary of {N} targets in {:.1?}",
        started.elapsed()
    );
}

/// The median of `runs` timings, and the last answer.
async fn timed<S: Store>(
    s: &S,
    view: &SummaryView,
    now: i64,
    runs: usize,
) -> (Duration, SummaryFacts) {
    let mut times = Vec::new();
    let mut facts = SummaryFacts::default();
    for _ in 0..runs {
        let started = Instant::now();
        facts = s
            .action_day_summary(&checked(DAY), view, now)
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], facts)
}

async fn summary_of_a_million_targets<S: Store + Probe + Raw>(s: S) {
    let started = Instant::now();
    fill(&s).await;
    let backend = if S::PG { "PostgreSQL" } else { "SQLite" };
    eprintln!("{backend}: filled in {:.1?}", started.elapsed());
    assert_eq!(s.count("targets").await, N);
    derive(&s, backend).await;

    let now = H + 86_400_000;
    let (all, facts) = timed(&s, &SummaryView::All, now, 3).await;
    let (agency, _) = timed(&s, &SummaryView::Agency(checked("a3")), now, 3).await;
    let (platform, _) = timed(&s, &SummaryView::Platform(checked("p3")), now, 3).await;
    eprintln!(
        "{backend}: action_day_summary of {N} targets (median of 3): all {all:.1?}, \
         one agency {agency:.1?}, one platform {platform:.1?}"
    );

    let referred: i64 = facts.platforms.iter().map(|p| p.counts.referred).sum();
    assert_eq!(referred, N);
    assert_eq!(facts.platforms.len(), 10);
    assert_eq!(facts.agencies.len(), 20);
    assert!(facts.blocks.iter().all(|b| b.points.len() <= 202));
    let held: i64 = facts.platforms.iter().map(|p| p.counts.held).sum();
    assert_eq!(held, 1000);
    let removal_orders: i64 = facts.platforms.iter().map(|p| p.removal_orders).sum();
    let acted: i64 = facts.platforms.iter().map(|p| p.removal_orders_acted).sum();
    let within: i64 = facts
        .platforms
        .iter()
        .map(|p| p.removal_orders_within_hour)
        .sum();
    // Every removal order of the fill is delivered and blocked within two hours.
    assert_eq!(removal_orders, N / 10);
    assert_eq!(acted, removal_orders);
    assert!(within > 0 && within < acted, "{within} of {acted}");
    eprintln!("{backend}: p0 = {:?}", facts.platforms[0]);
    for (name, sql, params) in summary_queries() {
        let started = Instant::now();
        let plan = s.plan(sql, params, now).await;
        eprintln!(
            "--- {backend} plan of {name} ({:.1?}):\n{plan}",
            started.elapsed()
        );
    }
}
