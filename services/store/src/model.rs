//! The rows the store reads and writes. Times are Unix milliseconds. Identifiers are the
//! checked ids of `takedown_protocol::ident` (stored as text, checked again when read).
//! Enumerations are typed: the wire's enums (`takedown.v1`) where the wire has them, the
//! store's own otherwise; each is stored as its number.

pub use takedown_protocol::ident::{ActionDayId, HoldId, ListId, OrgId, PlatformName, Role};
pub use takedown_protocol::pb::{
    DeliveryKind, DeliveryMode, LegalBasis, Outcome, RejectReason, RestorationResult, TargetKind,
};

/// The store's row ids: numbers the store assigns, each its own type so that a delivery's
/// id is never taken for a target's. Stored as `BIGINT`/`INTEGER`; `Debug` and `Display`
/// print the number.
macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// The row with this id (ids come from the store; tests and decoders make them).
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        /// As the number (audit entries and JSON id sets hold numbers).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <i64 as serde::Deserialize>::deserialize(d).map(Self)
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            i64: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            i64: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <i64 as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            i64: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(Self(<i64 as sqlx::Decode<'r, DB>>::decode(value)?))
            }
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <i64 as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    };
}

row_id!(
    /// A target's id: one per (scope, platform, normalized target).
    TargetId
);
row_id!(
    /// A delivery's id: one per target and kind (takedown, withdrawal) in the outbox.
    DeliveryId
);

/// A delivery's state in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[repr(i32)]
pub enum DeliveryState {
    /// Waiting for `next_at`.
    Pending = 0,
    /// Claimed by a hub; `next_at` is the lease's end.
    Inflight = 1,
    Delivered = 2,
    /// Given up, with a reason.
    Failed = 3,
}

impl TryFrom<i32> for DeliveryState {
    type Error = i32;

    fn try_from(v: i32) -> Result<Self, i32> {
        Ok(match v {
            0 => Self::Pending,
            1 => Self::Inflight,
            2 => Self::Delivered,
            3 => Self::Failed,
            other => return Err(other),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Organization {
    pub id: OrgId,
    pub role: Role,
    pub display_name: String,
    pub registered_at: i64,
}

/// The hub's Ed25519 key for signing audit chain heads, made on first start.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HubAuditKey {
    pub kid: String,
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// SPKI PEM.
    pub public_pem: String,
    pub created_at: i64,
}

impl std::fmt::Debug for HubAuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubAuditKey")
            .field("kid", &self.kid)
            .field("private_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A signed head of the audit chain (`takedown_protocol::audit::HeadClaims` as a JWS).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignedHeadRecord {
    pub seq: i64,
    pub jws: String,
    pub signed_at: i64,
}

/// A coordinator-signed key-set statement as stored: the hub keeps and serves them but
/// verifies each against its pinned roots (`takedown_protocol::keyset`) before use.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeySetRecord {
    /// The statement's version claim; only grows.
    pub version: i64,
    /// The compact JWS, verbatim.
    pub jws: String,
    pub published_at: i64,
    /// The coordinator that uploaded it.
    pub published_by: OrgId,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Platform {
    pub name: PlatformName,
    pub endpoint: String,
    pub display_name: String,
    pub registered_at: i64,
    /// The most deliveries the platform accepts in any minute, across every hub replica;
    /// `None` for no cap.
    #[sqlx(try_from = "crate::rows::Cap")]
    pub max_per_minute: Option<u32>,
    /// When its moderation is staffed; `None` when it has not said.
    #[sqlx(try_from = "crate::rows::StaffingJson")]
    pub staffing: Option<takedown_protocol::staffing::Staffing>,
    /// Push (the hub dials `endpoint`) or pull (the sidecar fetches; no endpoint). Never
    /// `Unspecified` in the store.
    #[sqlx(rename = "delivery_mode", try_from = "crate::rows::ModeName")]
    pub mode: DeliveryMode,
}

/// A delivery mode as the `platforms.delivery_mode` column spells it.
pub fn mode_name(m: DeliveryMode) -> &'static str {
    match m {
        DeliveryMode::Pull => "pull",
        DeliveryMode::Push | DeliveryMode::Unspecified => "push",
    }
}

/// The delivery mode a `platforms.delivery_mode` value names.
pub fn mode_of(name: &str) -> Option<DeliveryMode> {
    match name {
        "push" => Some(DeliveryMode::Push),
        "pull" => Some(DeliveryMode::Pull),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDay {
    pub id: ActionDayId,
    pub name: String,
    /// H-hour.
    pub starts_at: i64,
    pub ends_at: i64,
    /// Sorted platform names.
    pub platforms: Vec<PlatformName>,
    /// Sorted agency ids.
    pub agencies: Vec<OrgId>,
    pub created_at: i64,
    pub released_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// What [`crate::Store::move_action_day`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayMove {
    /// Moved; the day as it is now.
    Moved(ActionDay),
    NotFound,
    Closed,
    /// Its H-hour (`starts_at`) has passed or its share was released: too late to move.
    Released {
        starts_at: i64,
    },
}

/// A verified list, ready to store.
#[derive(Debug, Clone)]
pub struct NewList {
    pub list_id: ListId,
    pub agency_id: OrgId,
    pub action_day_id: Option<ActionDayId>,
    /// SHA-256 of the encoded list bytes: resubmission with the same content is idempotent.
    pub content_sha256: Vec<u8>,
    pub jws: String,
    pub item_count: u32,
    /// Concatenated 32-byte Merkle leaf hashes, in item order.
    pub leaf_hashes: Vec<u8>,
    /// The list's own `created_at`.
    pub created_at: i64,
    pub accepted_at: i64,
    /// When its new targets become deliverable: the action day's H-hour, or `accepted_at`
    /// for the standing scope.
    pub due_at: i64,
    /// The key that signed it (the JWS `kid`).
    pub kid: String,
    /// When the agency says it signed it: the JWS `iat`, Unix seconds.
    pub signed_at: i64,
}

/// A list as found by the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignedListRecord {
    pub list_id: ListId,
    pub agency_id: OrgId,
    pub action_day_id: Option<ActionDayId>,
    /// Unix seconds (the JWS `iat`).
    pub signed_at: i64,
    /// When its targets became, or become, deliverable (Unix ms).
    pub due_at: i64,
}

/// One verified item; its index is its position in the slice given to `insert_list`.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub platform: PlatformName,
    pub kind: TargetKind,
    pub normalized: String,
    pub original: String,
    pub category: String,
    pub legal_basis: LegalBasis,
    pub removal_order_ref: String,
    /// A removal order's Annex I facts the figures count by (`None` for a ToS referral).
    pub removal_order: Option<RemovalOrderFacts>,
    /// The exact encoded `Referral`.
    pub item: Vec<u8>,
}

/// The facts of a removal order (Annex I of Regulation (EU) 2021/784) that the TCO figures
/// count by; the rest of the order stays in the referral's signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RemovalOrderFacts {
    pub issuing_authority: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub member_state: String,
    /// When the order was issued (Unix ms).
    pub issued_at: i64,
    /// The host member state sent a copy (Art 4); `None`: not cross-border.
    pub host_member_state: Option<String>,
}

/// What intake of a list produced (also the stored answer for an idempotent resubmission).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSummary {
    pub new_targets: u32,
    /// Items whose target already existed, or appeared earlier in the same list.
    pub merged: u32,
    /// The target id of each item, in item order.
    pub target_ids: Vec<TargetId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeResult {
    Accepted(IntakeSummary),
    /// The same list (same agency, same content) was already stored: nothing changed.
    Duplicate(IntakeSummary),
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListRecord {
    pub list_id: ListId,
    pub agency_id: OrgId,
    pub action_day_id: Option<ActionDayId>,
    pub content_sha256: Vec<u8>,
    #[sqlx(try_from = "i64")]
    pub item_count: u32,
    pub created_at: i64,
    pub accepted_at: i64,
    #[sqlx(try_from = "i64")]
    pub new_targets: u32,
    #[sqlx(try_from = "i64")]
    pub merged: u32,
}

/// The stored facts about one item's target, from which its state is derived.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ItemRecord {
    #[sqlx(rename = "item_index", try_from = "i64")]
    pub index: u32,
    pub target_id: TargetId,
    pub platform: PlatformName,
    pub normalized: String,
    pub due_at: i64,
    /// An active hold (not released, not expired at `now`) matches the target.
    pub held: bool,
    /// State of the target's TAKEDOWN delivery, if any.
    pub delivery_state: Option<DeliveryState>,
    pub delivered_at: Option<i64>,
    pub acked_at: Option<i64>,
    /// Latest decision.
    pub outcome: Option<Outcome>,
    pub reject_reason: Option<RejectReason>,
    pub outcome_text: Option<String>,
    pub fail_reason: Option<String>,
    pub withdrawn_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Hold {
    pub id: HoldId,
    pub platform: PlatformName,
    /// As given by the holder.
    pub target: String,
    pub normalized: String,
    pub reason: String,
    pub expires_at: i64,
    pub created_at: i64,
    /// Organisation id of the holder: never shown to other agencies.
    pub placed_by: OrgId,
    pub released_at: Option<i64>,
}

/// A delivery the hub gave up on, for the coordinator's quarantine view.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailedDelivery {
    pub id: DeliveryId,
    pub target_id: TargetId,
    pub platform: PlatformName,
    pub normalized: String,
    pub kind: DeliveryKind,
    /// `None` for a standing-scope target.
    pub action_day_id: Option<ActionDayId>,
    pub attempts: i32,
    pub failed_at: i64,
    /// Why: the receiver's refusal (its own message), or the hub's reason.
    #[sqlx(rename = "last_error", try_from = "crate::rows::OptText")]
    pub reason: String,
}

/// A report the hub refused for good, as the platform sent it, for the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefusedReport {
    pub id: i64,
    pub platform: PlatformName,
    pub report_id: String,
    /// The target id as the platform sent it (it may name nothing).
    pub target_id: String,
    /// The hub's answer.
    pub reason: String,
    pub first_at: i64,
    pub last_at: i64,
    /// How often it was sent and refused.
    pub times: i64,
}

/// At most this many refused reports are kept per platform: a platform cannot fill the
/// hub's database with refusals (the ones it already has are still counted).
pub const REFUSED_REPORTS_KEPT: i64 = 10_000;

/// Which failed deliveries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedFilter {
    /// Only this action day's (`None`: every day and the standing scope).
    pub action_day_id: Option<ActionDayId>,
    /// Only this platform's.
    pub platform: Option<PlatformName>,
    /// Only deliveries with a greater id (the previous page's last).
    pub after_id: i64,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub target_id: TargetId,
    pub kind: DeliveryKind,
    /// Attempts including this one.
    pub attempts: i32,
}

/// One platform's undelivered deliveries (see [`crate::Store::outbox_depth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDepth {
    pub platform: PlatformName,
    /// PENDING and due: waiting for a worker.
    pub due: i64,
    /// PENDING and not yet due: embargoed until an H-hour, or waiting out a retry delay.
    pub scheduled: i64,
    /// INFLIGHT: claimed by a hub, answer not yet recorded.
    pub in_flight: i64,
}

/// Connections of the store's pools (see [`crate::Store::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Open connections.
    pub open: u32,
    /// Open and idle.
    pub idle: u32,
    /// The most the pools may open.
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReferralPayload {
    pub list_id: ListId,
    #[sqlx(try_from = "i64")]
    pub item_index: u32,
    pub agency_id: OrgId,
    pub item: Vec<u8>,
}

/// What a platform receives about one target.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TargetPayload {
    #[sqlx(rename = "id")]
    pub target_id: TargetId,
    pub platform: PlatformName,
    pub kind: TargetKind,
    pub normalized: String,
    pub original: String,
    pub category: String,
    pub legal_basis: LegalBasis,
    pub removal_order_ref: String,
    pub action_day_id: Option<ActionDayId>,
    /// In (list id, item index) order.
    #[sqlx(skip)]
    pub referrals: Vec<ReferralPayload>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListProofMaterial {
    pub list_id: ListId,
    pub agency_id: OrgId,
    pub jws: String,
    #[sqlx(try_from = "i64")]
    pub item_count: u32,
    /// Concatenated 32-byte leaf hashes.
    pub leaf_hashes: Vec<u8>,
}

/// Kinds of platform reports (stored as 1, 2, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ReportKind {
    Acknowledgement = 1,
    Decision = 2,
    Restoration = 3,
}

/// What a platform reports about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportBody {
    /// The platform received the target.
    Acknowledgement,
    /// The platform decided; `reason` is `Unspecified` unless the outcome is REJECTED.
    Decision {
        outcome: Outcome,
        reason: RejectReason,
    },
    /// The platform's answer to a withdrawal.
    Restoration(RestorationResult),
}

impl ReportBody {
    pub fn kind(&self) -> ReportKind {
        match self {
            Self::Acknowledgement => ReportKind::Acknowledgement,
            Self::Decision { .. } => ReportKind::Decision,
            Self::Restoration(_) => ReportKind::Restoration,
        }
    }

    /// The stored (kind, outcome, reason) numbers: the outcome column holds a decision's
    /// outcome or a restoration's result, 0 for an acknowledgement.
    pub(crate) fn columns(&self) -> (i32, i32, i32) {
        let kind = self.kind() as i32;
        match *self {
            Self::Acknowledgement => (kind, 0, 0),
            Self::Decision { outcome, reason } => (kind, outcome as i32, reason as i32),
            Self::Restoration(r) => (kind, r as i32, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub report_id: String,
    pub target_id: TargetId,
    pub body: ReportBody,
    pub text: String,
    /// When the platform received / acted.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportCounts {
    pub recorded: u32,
    pub duplicates: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportRefusal {
    /// The report at `index` names a target that was not delivered to this platform.
    NotDelivered { index: usize, target_id: TargetId },
    /// The report at `index` rejects a removal order as NOT_A_VIOLATION: a binding order
    /// is executed, or answered on an Annex III ground (TCO Regulation Art 3(7)-(8)).
    NotAViolationOfAnOrder { index: usize, target_id: TargetId },
}

/// Counts per platform for an action day, all derived from stored facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformCounts {
    pub platform: PlatformName,
    pub referred: i64,
    /// Not yet delivered and under an active hold.
    pub held: i64,
    /// Past H-hour and not held (including delivered ones).
    pub released: i64,
    pub delivered: i64,
    pub acknowledged: i64,
    pub blocked: i64,
    pub already_gone: i64,
    pub not_found: i64,
    pub geo_blocked: i64,
    pub rejected: i64,
    pub failed: i64,
    /// Released, not failed, without a decision yet.
    pub pending: i64,
}

impl PlatformCounts {
    /// A platform's counts, all zero.
    pub fn new(platform: PlatformName) -> Self {
        Self {
            platform,
            referred: 0,
            held: 0,
            released: 0,
            delivered: 0,
            acknowledged: 0,
            blocked: 0,
            already_gone: 0,
            not_found: 0,
            geo_blocked: 0,
            rejected: 0,
            failed: 0,
            pending: 0,
        }
    }
}

/// Whose share of an action day a summary covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SummaryView {
    /// Every target of the day (coordinators).
    All,
    /// Only the targets this agency referred, and only this agency's row.
    Agency(OrgId),
    /// Only this platform's targets, and no per-agency rows.
    Platform(PlatformName),
}

/// Nearest-rank percentiles of exact millisecond values: for `n` values sorted ascending,
/// the p-th percentile is the value at 1-based rank `ceil(p * n / 100)`. All zero when
/// `count` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyPercentiles {
    pub count: i64,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
}

/// One platform's figures of an action day, all derived from stored facts.
///
/// Definitions:
/// - *release* of a target is its `due_at` (the H-hour of an action-day list);
/// - *acted on* means the standing decision is BLOCKED, ALREADY_GONE, NOT_FOUND or
///   GEO_BLOCKED: the content is no longer reachable, whether the platform removed it or
///   found it gone (NOT_FOUND closes the case as much as a block does); REJECTED is not;
/// - `release_to_ack`: `acked_at - due_at` over acknowledged targets; `release_to_action`:
///   `acted_at - due_at` over acted-on targets (negative differences count as 0);
/// - removal orders (legal basis REMOVAL_ORDER) count once delivered; their clock runs from
///   `delivered_at` to the first acting decision in the report history (`reported_at`),
///   paused while a "cannot execute" rejection (INSUFFICIENT_INFORMATION, MANIFEST_ERROR,
///   FORCE_MAJEURE) is the latest decision, i.e. from that report until the next decision;
///   within the hour means a net time of at most 3 600 000 ms;
/// - ToS referrals count once delivered; their clock runs from `delivered_at` to the
///   first acting decision, with no pause.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformFacts {
    pub counts: PlatformCounts,
    /// (reason, count) of rejected targets, by reason, without zeros.
    pub rejected_by_reason: Vec<(RejectReason, i64)>,
    pub release_to_ack: LatencyPercentiles,
    pub release_to_action: LatencyPercentiles,
    pub removal_orders: i64,
    pub removal_orders_acted: i64,
    pub removal_orders_within_hour: i64,
    /// Removal orders whose standing decision is a cannot-execute answer on an Annex III
    /// ground: their clock stands still until the platform decides again.
    pub removal_orders_cannot_execute: i64,
    /// Removal orders acted on after their clock had paused (a cannot-execute answer,
    /// then clarification and action).
    pub removal_orders_resumed: i64,
    /// The time those orders' clocks stood still, in all (each pause to three significant
    /// digits).
    pub removal_orders_paused_ms: i64,
    /// ToS referrals delivered, acted on, and acted on within an hour of delivery (from
    /// delivery to the first acting decision, no pauses: [`crate::clock`]).
    pub tos_referrals: i64,
    pub tos_referrals_acted: i64,
    pub tos_referrals_within_hour: i64,
}

impl PlatformFacts {
    /// A platform's figures, all zero.
    pub fn new(platform: PlatformName) -> Self {
        Self {
            counts: PlatformCounts::new(platform),
            rejected_by_reason: Vec::new(),
            release_to_ack: LatencyPercentiles::default(),
            release_to_action: LatencyPercentiles::default(),
            removal_orders: 0,
            removal_orders_acted: 0,
            removal_orders_within_hour: 0,
            removal_orders_cannot_execute: 0,
            removal_orders_resumed: 0,
            removal_orders_paused_ms: 0,
            tos_referrals: 0,
            tos_referrals_acted: 0,
            tos_referrals_within_hour: 0,
        }
    }
}

/// One agency's figures of an action day. Target counts are of distinct targets the
/// agency referred (a target referred twice by the agency counts once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyFacts {
    pub agency_id: OrgId,
    pub lists: i64,
    /// Items of its lists (referrals).
    pub items: i64,
    /// Its targets that another agency referred as well.
    pub merged_with_other_agencies: i64,
    pub held: i64,
    pub delivered: i64,
    pub blocked: i64,
    pub rejected: i64,
    /// Its delivered targets rejected as NOT_A_VIOLATION.
    pub rejected_not_a_violation: i64,
}

impl AgencyFacts {
    /// An agency's figures, all zero.
    pub fn new(agency_id: OrgId) -> Self {
        Self {
            agency_id,
            lists: 0,
            items: 0,
            merged_with_other_agencies: 0,
            held: 0,
            delivered: 0,
            blocked: 0,
            rejected: 0,
            rejected_not_a_violation: 0,
        }
    }
}

/// A point of a cumulative block series: `cumulative` blocks with `acted_at <= at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPoint {
    pub at: i64,
    pub cumulative: i64,
}

/// Cumulative blocks of one platform over time. Blocks are bucketed by `acted_at` into
/// buckets of width `max(1 s, ceil(span / 200))` (span over all platforms of the view), so
/// a series has at most 201 points; each point is the last block time of its bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSeriesFacts {
    pub platform: PlatformName,
    pub points: Vec<BlockPoint>,
}

/// An action day's summary as the store derives it (see [`crate::Store::action_day_summary`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryFacts {
    /// Platforms with at least one target in the view, by name.
    pub platforms: Vec<PlatformFacts>,
    /// Agencies with at least one list in the view, by id; empty for a platform view.
    pub agencies: Vec<AgencyFacts>,
    /// Platforms with at least one block, by name.
    pub blocks: Vec<BlockSeriesFacts>,
}
