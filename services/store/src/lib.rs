//! The hub's storage: one trait, two backends (SQLite, the embedded default, and
//! PostgreSQL), chosen by URL prefix. Each backend has its own migrations, embedded in the
//! binary, and runtime queries (no compile-time checked macros).
//!
//! Times are Unix milliseconds (`i64`). Enumerations are stored as the `i32` values of
//! their protobuf enums (`TargetKind`, `LegalBasis`, `Outcome`, `RejectReason`, ...).
//! Every method that changes several rows does so in one transaction.
//!
//! # Layout
//!
//! - [`model`]: the rows read and written.
//! - [`audit`]: the hash-chained audit log's entries and kinds, withdrawals, transparency
//!   rows, retention counts.
//! - [`sqlite`]: [`sqlite::SqliteStore`] (a file, WAL).
//! - [`postgres`]: [`postgres::PgStore`] (`FOR UPDATE SKIP LOCKED` outbox claims).
//! - [`clock`]: the removal-order clock, the one definition of "within one hour".
//! - `basis` (private): a target's legal basis, the strongest of its standing referrals.
//! - `migrations` (private): the embedded migrations of each backend.
//! - `plan` (private): in-memory work shared by the backends (deduplicating a list's
//!   items, reducing a batch of reports, assembling payloads).
//! - `rows` (private): row decoders shared by the backends.
//! - `rollup` (private): the summary rollups' contributions, computed in one place from a
//!   target's facts; each backend applies a batch's net change with grouped upserts.
//! - `summary` (private): the action-day summary queries and their assembly, shared by
//!   the backends.
//! - `testing` (feature `test-util`): throwaway SQLite and PostgreSQL databases for tests.
#![forbid(unsafe_code)]

pub mod audit;
mod basis;
pub mod clock;
mod codes;
mod day_move;
mod migrations;
pub mod model;
mod plan;
pub mod postgres;
mod rate;
mod rollup;
mod rows;
pub mod sqlite;
mod summary;
#[cfg(feature = "test-util")]
pub mod testing;
/// The summary queries, for benchmarks' query plans.
#[cfg(feature = "test-util")]
pub use summary::queries as summary_queries;

use std::future::Future;

pub use audit::{
    AuditEntry, NewPreservation, Preservation, PurgeCounts, TargetWithdrawal, TransparencyRow,
    Withdrawal, WithdrawalGround, WithdrawalReason, WithdrawalScope, Withdrawer, hold_commitment,
};
pub use model::*;

/// Storage failures. `Conflict` and `NotFound` are for callers to map; a `Database` error
/// that [`StoreError::is_transient`] is worth retrying; everything else is an internal
/// error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// What the caller asked for cannot be done, because of `field` of its request.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: expected sqlite:... or postgres://...")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the same call can succeed later, unchanged: the database could not be
    /// reached or went away (connection refused or lost, pool timed out or closed, server
    /// shutting down or starting), refused for now (too many connections, SQLite busy or
    /// locked past the busy timeout), or aborted the transaction to resolve a conflict
    /// with another (serialization failure, deadlock). Every write is one transaction, so
    /// nothing of a failed call was stored.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(e) => transient(e),
            _ => false,
        }
    }
}

fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                // PostgreSQL: class 08 connection exception, 40001 serialization failure,
                // 40P01 deadlock, 53300 too many connections, 57P01-57P03 shutting down
                // or starting up.
                code.starts_with("08")
                    || matches!(
                        code.as_ref(),
                        "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
                    )
            }
        }
        _ => false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite:...` or `postgres://...` / `postgresql://...`.
    pub fn of_url(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }
}

/// Everything the hub keeps, one trait per concept. Implemented by [`sqlite::SqliteStore`]
/// and [`postgres::PgStore`], each concept in the backend's file of that name; each has
/// `connect(url)` that runs its migrations. Callers pick the backend with
/// [`Backend::of_url`] and stay generic over `Store` (static dispatch), which brings every
/// concept's methods with it.
pub trait Store:
    Directory
    + ActionDays
    + Intake
    + Holds
    + Outbox
    + Outcomes
    + Audit
    + Retention
    + Summaries
    + Send
    + Sync
    + Clone
    + 'static
{
    /// The connection pools' use right now (both pools together on SQLite).
    fn pool_status(&self) -> PoolStatus;
}

/// The directory: organisations, the coordinators' key-set statements and platforms. Every
/// change is audited with `by`, the id of the organisation whose caller made it.
pub trait Directory: Send + Sync {
    /// Inserts or updates (role, display name) an organisation, auditing a registration
    /// or a change (`organization_registered`, `organization_updated`) by `by`.
    fn upsert_organization(
        &self,
        org: &Organization,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<Organization>> + Send;
    fn get_organization(
        &self,
        id: &OrgId,
    ) -> impl Future<Output = StoreResult<Option<Organization>>> + Send;
    fn list_organizations(&self) -> impl Future<Output = StoreResult<Vec<Organization>>> + Send;
    /// Stores a key-set statement, auditing `key_set_published`; `Conflict` when one
    /// with this version or a newer one is already stored. The caller verified it.
    fn publish_key_set(&self, s: &KeySetRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// Statements newer than `version`, oldest first.
    fn key_sets_after(
        &self,
        version: i64,
    ) -> impl Future<Output = StoreResult<Vec<KeySetRecord>>> + Send;
    /// Inserts or updates (endpoint, display name) a platform, auditing a registration or a
    /// change (`platform_registered`, `platform_updated`, with the previous endpoint).
    fn upsert_platform(
        &self,
        p: &Platform,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<Platform>> + Send;
    fn get_platform(
        &self,
        name: &PlatformName,
    ) -> impl Future<Output = StoreResult<Option<Platform>>> + Send;
    fn list_platforms(&self) -> impl Future<Output = StoreResult<Vec<Platform>>> + Send;
}

/// Action days: created, moved before their H-hour, released at it, closed.
pub trait ActionDays: Send + Sync {
    /// `Conflict` when the id exists.
    fn insert_action_day(
        &self,
        day: &ActionDay,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<ActionDay>> + Send;
    fn get_action_day(
        &self,
        id: &ActionDayId,
    ) -> impl Future<Output = StoreResult<Option<ActionDay>>> + Send;
    fn list_action_days(&self) -> impl Future<Output = StoreResult<Vec<ActionDay>>> + Send;
    /// Sets `closed_at` once; returns the day (unchanged when already closed), `None` when unknown.
    fn close_action_day(
        &self,
        id: &ActionDayId,
        at: i64,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<Option<ActionDay>>> + Send;
    /// Moves a day whose H-hour is still ahead of `now` and that is neither released nor
    /// closed to H-hour `starts_at` and end `ends_at` (`None`: the same length as before),
    /// in one transaction with the due time of its lists, targets and pending deliveries
    /// and its rollups. `Invalid` (field `ends_at`) when the end would not be after the
    /// H-hour.
    fn move_action_day(
        &self,
        id: &ActionDayId,
        starts_at: i64,
        ends_at: Option<i64>,
        now: i64,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<DayMove>> + Send;
    /// Sets `released_at` if it is still unset; true when this call set it (exactly once).
    fn mark_released(
        &self,
        id: &ActionDayId,
        at: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Days whose H-hour has passed (`starts_at <= now`) and whose release is not yet marked.
    fn due_releases(&self, now: i64) -> impl Future<Output = StoreResult<Vec<ActionDay>>> + Send;
    /// The earliest `starts_at` after `now` of a day not yet released.
    fn next_release_after(&self, now: i64)
    -> impl Future<Output = StoreResult<Option<i64>>> + Send;
}

/// Verified lists, stored whole; found by id and by the key that signed them.
pub trait Intake: Send + Sync {
    /// Stores a verified list whole, in one transaction: the list, one target per
    /// (scope, platform, normalized target) — created or found —, one referral per item,
    /// and for each new target one TAKEDOWN delivery with `next_at = list.due_at`.
    /// When `list_id` exists: the same agency and `content_sha256` return `Duplicate` with
    /// the stored answer and change nothing; anything else returns `Conflict`.
    fn insert_list(
        &self,
        list: &NewList,
        items: &[NewReferral],
    ) -> impl Future<Output = StoreResult<IntakeResult>> + Send;
    fn get_list(
        &self,
        list_id: &ListId,
    ) -> impl Future<Output = StoreResult<Option<ListRecord>>> + Send;
    /// The state facts of each item of a list, in item order.
    fn list_items(
        &self,
        list_id: &ListId,
        now: i64,
    ) -> impl Future<Output = StoreResult<Vec<ItemRecord>>> + Send;
    /// Lists signed with key `kid` at or after `since` (Unix seconds), oldest first: what a
    /// compromise of the key from `since` on invalidates.
    fn lists_signed_with(
        &self,
        kid: &str,
        since: i64,
    ) -> impl Future<Output = StoreResult<Vec<SignedListRecord>>> + Send;
}

/// Holds: targets kept back from delivery because they collide with a live investigation.
pub trait Holds: Send + Sync {
    fn insert_hold(&self, hold: &Hold) -> impl Future<Output = StoreResult<Hold>> + Send;
    /// Sets `released_at` once; `None` when unknown.
    fn release_hold(
        &self,
        id: &HoldId,
        at: i64,
        by: &OrgId,
    ) -> impl Future<Output = StoreResult<Option<Hold>>> + Send;
    fn get_hold(&self, id: &HoldId) -> impl Future<Output = StoreResult<Option<Hold>>> + Send;
    /// All holds, or those placed by `placed_by`; newest first.
    fn list_holds(
        &self,
        placed_by: Option<&OrgId>,
    ) -> impl Future<Output = StoreResult<Vec<Hold>>> + Send;
}

/// The delivery outbox: due deliveries claimed under a lease, then delivered, retried or
/// given up on.
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` deliveries of `platform` that are due (`state = PENDING` and
    /// `next_at <= now`) or whose lease expired (`state = INFLIGHT` and `next_at <= now`),
    /// skipping targets under an active hold (`released_at IS NULL AND expires_at > now`,
    /// matched on platform + normalized target). Claimed rows become INFLIGHT with
    /// `next_at = lease_until` and `attempts + 1`. PostgreSQL uses FOR UPDATE SKIP LOCKED.
    /// A platform with `max_per_minute` gets no more than its cap leaves over the last
    /// minute, counted across every store handle on the database (every hub replica).
    fn claim_deliveries(
        &self,
        platform: &PlatformName,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<ClaimedDelivery>>> + Send;
    /// Makes this hub instance's claims (those a process of the same instance id made
    /// before it stopped or crashed) due again at once, instead of when their lease ends,
    /// and registers the instance as alive. Called at startup, before any claim; returns
    /// how many claims came back. A handle claiming for nobody does nothing.
    fn release_own_claims(&self, now: i64) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Records that this hub instance is alive at `now`, and makes the claims of every
    /// other instance last seen alive before `dead_before` due again at once (forgetting
    /// that instance until it beats again). Returns (instance, claims released) for each
    /// instance found dead.
    fn heartbeat(
        &self,
        now: i64,
        dead_before: i64,
    ) -> impl Future<Output = StoreResult<Vec<(String, u64)>>> + Send;
    /// What a platform receives for these targets: target facts and every referral
    /// (list id, item index, item bytes, agency), in target-id order.
    fn delivery_payloads(
        &self,
        target_ids: &[TargetId],
    ) -> impl Future<Output = StoreResult<Vec<TargetPayload>>> + Send;
    /// Signature and leaf hashes of lists, for proofs.
    fn list_proof_material(
        &self,
        list_ids: &[ListId],
    ) -> impl Future<Output = StoreResult<Vec<ListProofMaterial>>> + Send;
    /// Marks INFLIGHT deliveries DELIVERED at `at` (and their targets' `delivered_at`,
    /// first time only). Ignores rows not INFLIGHT.
    fn mark_delivered(
        &self,
        delivery_ids: &[DeliveryId],
        at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The ids among `delivery_ids` that are INFLIGHT deliveries to `platform`, sorted: what
    /// a pull-mode sidecar may answer for.
    fn in_flight_to(
        &self,
        platform: &PlatformName,
        delivery_ids: &[DeliveryId],
    ) -> impl Future<Output = StoreResult<Vec<DeliveryId>>> + Send;
    /// Back to PENDING with `next_at` and `last_error`.
    fn mark_retry(
        &self,
        delivery_ids: &[DeliveryId],
        next_at: i64,
        error: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Makes `platform`'s deliveries that wait out a retry delay (PENDING, attempted
    /// before, `next_at` after `now`) due at `now`: the platform answers again, so its
    /// backlog goes at once. Embargoed deliveries (never attempted) keep their H-hour.
    /// Returns how many.
    fn retry_now(
        &self,
        platform: &PlatformName,
        now: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// FAILED for good, with the reason (and the target's `failed_at`/`fail_reason` for
    /// TAKEDOWN deliveries).
    fn mark_failed(
        &self,
        delivery_ids: &[DeliveryId],
        at: i64,
        error: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The FAILED deliveries `filter` selects, by id: at most `filter.limit`.
    fn failed_deliveries(
        &self,
        filter: &FailedFilter,
    ) -> impl Future<Output = StoreResult<Vec<FailedDelivery>>> + Send;
    /// The ids of the lists whose targets are due at exactly `at` (an action day's H-hour),
    /// so that their proofs can be prepared before it.
    fn lists_due_at(&self, at: i64) -> impl Future<Output = StoreResult<Vec<ListId>>> + Send;
    /// The earliest `next_at` among PENDING or INFLIGHT deliveries of `platform`.
    fn next_delivery_at(
        &self,
        platform: &PlatformName,
    ) -> impl Future<Output = StoreResult<Option<i64>>> + Send;
    /// The outbox per platform at `now` (platforms with nothing waiting are left out), for
    /// the metrics endpoint: one scan of the undelivered deliveries.
    fn outbox_depth(&self, now: i64) -> impl Future<Output = StoreResult<Vec<OutboxDepth>>> + Send;
}

/// What platforms report back (acknowledgements, decisions, restorations), and the reports
/// the hub refused.
pub trait Outcomes: Send + Sync {
    /// Records reports from `platform` in one transaction. Refuses the whole batch with
    /// `ReportRefusal::NotDelivered { index }` when any report names a target that is not
    /// this platform's or is not delivered to it: its TAKEDOWN delivery must be DELIVERED or
    /// INFLIGHT (sent, answer not yet recorded — the sidecar may hand the target on and
    /// report before the hub has processed the Deliver response; the report then sets the
    /// target's `delivered_at`, since it proves receipt). Duplicate `report_id`s are counted, not
    /// stored twice. Acknowledgements set the target's `acked_at` (first one wins);
    /// decisions append to the outcome history and set the target's latest outcome.
    fn record_reports(
        &self,
        platform: &PlatformName,
        reports: &[NewReport],
        received_at: i64,
    ) -> impl Future<Output = StoreResult<Result<ReportCounts, ReportRefusal>>> + Send;
    /// Keeps a refused report (`reason` is the hub's answer): a new row, or for the same
    /// platform and report id the newest reason and one more time; nothing new past
    /// [`REFUSED_REPORTS_KEPT`] rows for the platform.
    fn record_refused_report(
        &self,
        platform: &PlatformName,
        report_id: &str,
        target_id: &str,
        reason: &str,
        at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Refused reports (of `platform` only, when given) with an id above `after_id`, by id.
    fn refused_reports(
        &self,
        platform: Option<&PlatformName>,
        after_id: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<RefusedReport>>> + Send;
}

/// Due process and the record of it: withdrawals, scrutiny, preservations, the hash-chained
/// audit log and its signed heads, the hub's own keys and secrets, and the transparency rows.
pub trait Audit: Send + Sync {
    /// Takes back the referrals `scope` names, in one transaction: `None` when the target
    /// or list is unknown, or `by` is an agency that did not refer the target or does not
    /// own the list (an agency only ever takes back its own referrals). Each target of the
    /// scope of which no referral stands any more is withdrawn: `withdrawn_at` (and the
    /// reason) set, a TAKEDOWN delivery never attempted cancelled, one WITHDRAWAL delivery
    /// (due at `at`) queued when the TAKEDOWN was sent. Audited as `referrals_withdrawn`
    /// and one `target_withdrawn` per target withdrawn. A repeated withdrawal takes back
    /// nothing and answers alike (`changed: false`).
    fn withdraw(
        &self,
        scope: &WithdrawalScope,
        by: &Withdrawer,
        reason: &WithdrawalReason<'_>,
        at: i64,
    ) -> impl Future<Output = StoreResult<Option<Withdrawal>>> + Send;
    /// Records, as coordinator `by`, that the host member state's competent authority
    /// scrutinised the target's standing cross-border removal orders and found no
    /// infringement (TCO Art 4(4)): the orders stand, and the TCO figures count them as
    /// scrutinised. Returns how many orders this upheld (0 when recorded before); `None`
    /// for an unknown target; [`StoreError::Invalid`] when it has no standing cross-border
    /// order. (An infringement found is a withdrawal on ground scrutiny.)
    fn uphold_on_scrutiny(
        &self,
        target_id: TargetId,
        by: &OrgId,
        reason: &str,
        at: i64,
    ) -> impl Future<Output = StoreResult<Option<u32>>> + Send;
    /// Records a competent authority's request to preserve a target past the retention
    /// period (TCO Art 6(2)), audited as `preservation_extended` with coordinator `p.by`
    /// as actor: retention leaves every list that refers to the target until the latest
    /// `until` of its requests. `None` for an unknown target;
    /// [`Preservation::AlreadyPurged`] (nothing recorded) when retention already purged it.
    fn preserve(
        &self,
        p: &NewPreservation<'_>,
    ) -> impl Future<Output = StoreResult<Option<Preservation>>> + Send;
    /// (target id, withdrawal reason) of the withdrawn ones among these targets, by id.
    fn withdrawal_reasons(
        &self,
        target_ids: &[TargetId],
    ) -> impl Future<Output = StoreResult<Vec<(TargetId, String)>>> + Send;
    /// Audit entries with `seq > after_seq`, in seq order, at most `limit`.
    fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;
    /// The last seq of the audit log (0 when empty).
    fn audit_head(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// The hub's audit key: the one stored first, after storing `candidate` if none was.
    fn hub_audit_key(
        &self,
        candidate: &HubAuditKey,
    ) -> impl Future<Output = StoreResult<HubAuditKey>> + Send;
    /// The hub secret named `name`: the one stored first, after storing `candidate` (made
    /// at `at`) if none was. Every replica and every restart gets the same bytes.
    fn hub_secret(
        &self,
        name: &str,
        candidate: &[u8],
        at: i64,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;
    /// Records a signed head of the audit chain (again: no change).
    fn put_audit_head(&self, h: &SignedHeadRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The newest signed head over at most `upto` entries.
    fn audit_head_upto(
        &self,
        upto: i64,
    ) -> impl Future<Output = StoreResult<Option<SignedHeadRecord>>> + Send;
    /// Every target of an action day, by platform then id, for the transparency exports.
    fn transparency_rows(
        &self,
        action_day_id: &ActionDayId,
    ) -> impl Future<Output = StoreResult<Vec<TransparencyRow>>> + Send;
}

/// Retention: what is purged once it has been kept for its time.
pub trait Retention: Send + Sync {
    /// Retention: for lists not yet purged whose action day closed (or, unclosed, ended)
    /// before `cutoff`, and standing-scope lists accepted before `cutoff`, except lists
    /// that refer to a target preserved past `at`, replaces the referral item bytes with an
    /// empty blob and marks the lists purged; for targets all of whose lists are purged,
    /// clears the notes (outcome, withdrawal and restoration texts, report texts, delivery
    /// errors) and replaces the identifiers (normalized form and original text, at the
    /// target and its deliveries) with the pseudonym `purged #<target id>`; for holds
    /// released or expired before `cutoff`, purges their target, identifier and reason.
    /// Appends one `retention_purge` entry when anything was purged. Counts, outcomes and
    /// the audit chain are kept (audit entries name targets by id only).
    fn purge_expired(
        &self,
        cutoff: i64,
        at: i64,
    ) -> impl Future<Output = StoreResult<PurgeCounts>> + Send;
}

/// Action-day summaries, read from the rollups the store keeps in each change's transaction.
pub trait Summaries: Send + Sync {
    /// Per-platform counts of an action day's targets (see [`PlatformCounts`]): the
    /// counts of [`Summaries::action_day_summary`] of the whole day.
    fn platform_counts(
        &self,
        action_day_id: &ActionDayId,
        now: i64,
    ) -> impl Future<Output = StoreResult<Vec<PlatformCounts>>> + Send {
        async move {
            let facts = self
                .action_day_summary(action_day_id, &SummaryView::All, now)
                .await?;
            Ok(facts.platforms.into_iter().map(|p| p.counts).collect())
        }
    }
    /// Everything a summary of an action day shows, restricted to `view`, aggregated in the
    /// database in one read snapshot (see [`PlatformFacts`] for the definitions). `now`
    /// decides which holds are active. An unknown day gives an empty summary.
    fn action_day_summary(
        &self,
        action_day_id: &ActionDayId,
        view: &SummaryView,
        now: i64,
    ) -> impl Future<Output = StoreResult<SummaryFacts>> + Send;
    /// When each of the day's delivered removal orders reached its platform:
    /// `(platform, delivered_at)`, by platform and time. It costs what the day's removal
    /// orders number (a partial index holds only them), not its targets.
    fn removal_order_deliveries(
        &self,
        action_day_id: &ActionDayId,
    ) -> impl Future<Output = StoreResult<Vec<(PlatformName, i64)>>> + Send;
    /// Recomputes an action day's summary rollups (and its removal-order clocks) from the
    /// stored facts alone. The store's writers keep them in the transaction of each change,
    /// which makes this unnecessary in operation; it checks them, and repairs a database
    /// whose facts were written around the store.
    fn rebuild_summary(
        &self,
        action_day_id: &ActionDayId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
