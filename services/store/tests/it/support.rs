//! Fixtures and the macro that runs one generic test body on both backends.

use std::future::Future;

use takedown_store::postgres::PgStore;
use takedown_store::sqlite::SqliteStore;
use takedown_store::testing::TestDb;
pub use takedown_store::testing::checked;
use takedown_store::*;

/// A fixed "now" for the tests: 2023-11-14T22:13:20Z in milliseconds.
pub const T0: i64 = 1_700_000_000_000;

/// Raw row access for assertions the trait does not offer.
/// A handle that claims in the name of hub instance `instance`.
pub trait Claiming {
    fn claiming(&self, instance: &str) -> Self;
}

impl Claiming for SqliteStore {
    fn claiming(&self, instance: &str) -> Self {
        self.clone().claiming_as(instance)
    }
}

impl Claiming for PgStore {
    fn claiming(&self, instance: &str) -> Self {
        self.clone().claiming_as(instance)
    }
}

pub trait Probe {
    fn count(&self, table: &str) -> impl Future<Output = i64> + Send;
    /// The text column of every row `sql` returns.
    fn strings(&self, sql: &str) -> impl Future<Output = Vec<String>> + Send;
    /// Runs `sql` around the store (a tool or an operator writing the database directly).
    fn execute(&self, sql: &str) -> impl Future<Output = ()> + Send;
}

impl Probe for SqliteStore {
    async fn execute(&self, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(self.pool())
            .await
            .expect("statement runs");
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.pool())
            .await
            .expect("count rows")
    }

    async fn strings(&self, sql: &str) -> Vec<String> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(self.pool())
            .await
            .expect("query rows")
    }
}

impl Probe for PgStore {
    async fn execute(&self, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(self.pool())
            .await
            .expect("statement runs");
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.pool())
            .await
            .expect("count rows")
    }

    async fn strings(&self, sql: &str) -> Vec<String> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(self.pool())
            .await
            .expect("query rows")
    }
}

/// Every non-zero row of the summary rollups as text, sorted: what the store keeps, to
/// compare with what a rebuild makes of the facts.
pub async fn rollup_rows<S: Probe>(s: &S) -> Vec<String> {
    const DUMPS: &[&str] = &[
        "SELECT 'cell ' || action_day_id || ' ' || agency || ' ' || platform || ' ' \
         || CAST(due_at AS TEXT) || ' ro=' || CAST(removal_order AS TEXT) \
         || ' d=' || CAST(delivered AS TEXT) || ' a=' || CAST(acked AS TEXT) \
         || ' o=' || CAST(outcome AS TEXT) || ' r=' || CAST(reason AS TEXT) \
         || ' f=' || CAST(failed AS TEXT) || ' c=' || CAST(ro_clock AS TEXT) \
         || ' n=' || CAST(n AS TEXT) FROM summary_cells WHERE n <> 0",
        "SELECT 'latency ' || action_day_id || ' ' || agency || ' ' || platform || ' ' \
         || CAST(measure AS TEXT) || ' ' || CAST(bucket AS TEXT) || ' n=' || CAST(n AS TEXT) \
         FROM summary_latency WHERE n <> 0",
        "SELECT 'blocks ' || action_day_id || ' ' || agency || ' ' || CAST(level AS TEXT) \
         || ' ' || CAST(slot AS TEXT) || ' ' || platform || ' n=' || CAST(n AS TEXT) \
         FROM summary_blocks WHERE n <> 0",
        "SELECT 'merged ' || action_day_id || ' ' || agency || ' n=' || CAST(n AS TEXT) \
         FROM summary_merged WHERE n <> 0",
    ];
    let mut rows = Vec::new();
    for sql in DUMPS {
        rows.extend(s.strings(sql).await);
    }
    rows.sort();
    rows
}

/// Row counts of every table that intake writes.
pub async fn intake_rows<S: Probe>(s: &S) -> [i64; 4] {
    [
        s.count("lists").await,
        s.count("targets").await,
        s.count("referrals").await,
        s.count("deliveries").await,
    ]
}

pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(SqliteStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::sqlite().expect("temp dir");
    let store = SqliteStore::connect(db.url())
        .await
        .expect("connect sqlite");
    test(store).await;
    drop(db);
}

pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(PgStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = PgStore::connect(db.url()).await.expect("connect postgres");
    test(store.clone()).await;
    store.pool().close().await;
    drop(db);
}

/// Runs each named generic `async fn name<S: Store + Probe>(store: S)` of the calling module
/// as `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::on_postgres(super::$name).await;
                }
            )*
        }
    };
}

pub fn org(id: &str, role: Role) -> Organization {
    Organization {
        id: checked(id),
        role,
        display_name: format!("{id} display"),
        registered_at: T0,
    }
}

/// A push platform with no cap and no staffed hours.
pub fn platform(name: &str) -> Platform {
    Platform {
        name: checked(name),
        endpoint: format!("https://{name}.example:7443"),
        display_name: format!("{name} display"),
        registered_at: T0,
        max_per_minute: None,
        staffing: None,
        mode: DeliveryMode::Push,
    }
}

pub fn day(id: &str, starts_at: i64) -> ActionDay {
    ActionDay {
        id: checked(id),
        name: format!("{id} name"),
        starts_at,
        ends_at: starts_at + 86_400_000,
        platforms: vec![checked("video"), checked("social")],
        agencies: vec![checked("agency-b"), checked("agency-a")],
        created_at: T0 - 1000,
        released_at: None,
        closed_at: None,
    }
}

/// A list of `n` items; `content` varies the content hash.
pub fn list(
    id: &str,
    agency: &str,
    day: Option<&str>,
    due_at: i64,
    n: usize,
    content: u8,
) -> NewList {
    NewList {
        list_id: checked(id),
        agency_id: checked(agency),
        action_day_id: day.map(checked),
        content_sha256: vec![content; 32],
        jws: format!("jws-of-{id}"),
        item_count: n as u32,
        leaf_hashes: vec![content; 32 * n],
        created_at: T0 - 5000,
        accepted_at: T0,
        due_at,
        kid: format!("{agency}-k1"),
        signed_at: (T0 - 5000) / 1000,
    }
}

pub fn item(platform: &str, normalized: &str) -> NewReferral {
    NewReferral {
        platform: checked(platform),
        kind: TargetKind::Account,
        normalized: normalized.into(),
        original: format!("https://{normalized}"),
        category: "csam".into(),
        legal_basis: LegalBasis::RemovalOrder,
        removal_order_ref: format!("ref-{normalized}"),
        removal_order: Some(order_facts("Bundeskriminalamt", None)),
        item: format!("item:{platform}:{normalized}").into_bytes(),
    }
}

/// A German order's facts, issued an hour before `T0`; cross-border when `host` is named.
pub fn order_facts(authority: &str, host: Option<&str>) -> RemovalOrderFacts {
    RemovalOrderFacts {
        issuing_authority: authority.into(),
        member_state: "DE".into(),
        issued_at: T0 - 3_600_000,
        host_member_state: host.map(String::from),
    }
}

pub fn hold(id: &str, platform: &str, normalized: &str, expires_at: i64, placed_by: &str) -> Hold {
    Hold {
        id: checked(id),
        platform: checked(platform),
        target: format!("https://{normalized}"),
        normalized: normalized.into(),
        reason: "ongoing investigation".into(),
        expires_at,
        created_at: T0,
        placed_by: checked(placed_by),
        released_at: None,
    }
}

pub fn accepted(r: IntakeResult) -> IntakeSummary {
    match r {
        IntakeResult::Accepted(s) => s,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// Inserts a standing-scope list of these (platform, normalized) items, due at `due_at`.
pub async fn submit<S: Store>(
    s: &S,
    id: &str,
    due_at: i64,
    items: &[(&str, &str)],
) -> IntakeSummary {
    let items: Vec<NewReferral> = items.iter().map(|(p, n)| item(p, n)).collect();
    accepted(
        s.insert_list(&list(id, "agency-a", None, due_at, items.len(), 1), &items)
            .await
            .expect("insert list"),
    )
}

/// Claims and delivers everything due for `platform` at `now`; returns the delivery ids.
pub async fn deliver_all<S: Store>(s: &S, platform: &str, now: i64) -> Vec<DeliveryId> {
    let claimed = s
        .claim_deliveries(&checked(platform), now, now + 60_000, 10_000)
        .await
        .expect("claim");
    let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
    s.mark_delivered(&ids, now).await.expect("mark delivered");
    ids
}

/// A report of `kind`; `outcome` is a decision's `Outcome` or a restoration's
/// `RestorationResult` number (ignored for acknowledgements).
pub fn report(id: &str, target_id: TargetId, kind: ReportKind, outcome: i32, at: i64) -> NewReport {
    let body = match kind {
        ReportKind::Acknowledgement => ReportBody::Acknowledgement,
        ReportKind::Decision => ReportBody::Decision {
            outcome: Outcome::try_from(outcome).expect("an outcome"),
            reason: RejectReason::Unspecified,
        },
        ReportKind::Restoration => {
            ReportBody::Restoration(RestorationResult::try_from(outcome).expect("a result"))
        }
    };
    NewReport {
        report_id: id.into(),
        target_id,
        body,
        text: String::new(),
        at,
    }
}

/// A decision report rejecting with `reason` (a `RejectReason` number).
pub fn rejection(id: &str, target_id: TargetId, reason: i32, at: i64) -> NewReport {
    NewReport {
        body: ReportBody::Decision {
            outcome: Outcome::Rejected,
            reason: RejectReason::try_from(reason).expect("a reason"),
        },
        ..report(
            id,
            target_id,
            ReportKind::Decision,
            Outcome::Rejected as i32,
            at,
        )
    }
}

/// Counts of no platform in particular, all zero: the rest of a struct literal that names
/// its platform and the counts it checks.
pub fn zero_counts() -> PlatformCounts {
    PlatformCounts::new(checked("unnamed"))
}

/// Figures of no platform in particular, all zero (see [`zero_counts`]).
pub fn zero_facts() -> PlatformFacts {
    PlatformFacts::new(checked("unnamed"))
}
