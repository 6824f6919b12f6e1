//! The audit log, withdrawals, transparency rows and retention: the rows and the
//! backend-independent pieces (the details JSON of each kind of entry, the reduction of a
//! report batch to its restorations).
//!
//! Every audited write appends exactly one entry in the transaction of the change it
//! records; a batch (a list, a delivered batch, a report batch) gets one entry listing its
//! target ids. The hash of an entry is [`takedown_protocol::audit::entry_hash`]. Details
//! never carry item bytes, target identifiers (targets are named by id, a hold's target by
//! a salted commitment, see [`hold_commitment`]) or the platforms' and agencies' notes, so
//! retention can purge those and the chain still verifies. They do carry the reasons a
//! withdrawing or scrutinising caller gives, as the record of that decision.
//!
//! Entry kinds (`kind`, `actor`, `subject`):
//!
//! | kind | actor | subject |
//! |---|---|---|
//! | `organization_registered`, `organization_updated` | registering coordinator | org id |
//! | `platform_registered`, `platform_updated` | registering coordinator | platform |
//! | `list_accepted` | agency | list id |
//! | `action_day_created`, `action_day_moved`, `action_day_closed` | coordinator | day id |
//! | `action_day_released` | `hub` (at H-hour) | day id |
//! | `delivered`, `delivery_failed` | `hub` | platform |
//! | `reports` | platform | platform |
//! | `key_registered`, `key_revoked` | (before key-set statements) the caller | kid |
//! | `key_set_published` | the uploading coordinator | `v<version>` |
//! | `hold_placed` | holder | hold id |
//! | `hold_released` | the releasing caller | hold id |
//! | `referrals_withdrawn` | withdrawing organisation | target id or list id |
//! | `target_withdrawn` | withdrawing organisation | target id |
//! | `scrutiny_upheld` | coordinator | target id |
//! | `preservation_extended` | coordinator | target id |
//! | `retention_purge` | `hub` | `retention` |

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::model::{
    DeliveryKind, LegalBasis, ListId, NewReport, OrgId, Outcome, PlatformName, RejectReason,
    ReportBody, RestorationResult, TargetId, TargetKind,
};

/// The actor of entries the hub records on its own (or without a caller id).
pub const HUB_ACTOR: &str = "hub";

/// PostgreSQL advisory lock key serializing appends across hub replicas ("takedown" audit).
pub const PG_AUDIT_LOCK: i64 = 0x7461_6b65_6175_6474;

/// PostgreSQL advisory lock key serializing a retention pass with preservation requests
/// ("takeret"): a request either sees the lists before the pass purges them (and the pass,
/// waiting, then sees the request), or sees them purged.
pub const PG_RETENTION_LOCK: i64 = 0x0074_616b_6572_6574;

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub subject: String,
    /// JSON text, exactly as hashed.
    pub details: String,
    /// 32 bytes.
    pub prev_hash: Vec<u8>,
    /// 32 bytes.
    pub hash: Vec<u8>,
}

/// An entry to append (seq and hashes are assigned by the store).
#[derive(Debug, Clone)]
pub(crate) struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub kind: &'static str,
    pub subject: String,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(
        at: i64,
        actor: impl Into<String>,
        kind: &'static str,
        subject: impl Into<String>,
        details: Value,
    ) -> Self {
        Self {
            at,
            actor: actor.into(),
            kind,
            subject: subject.into(),
            details,
        }
    }

    /// The details as stored and hashed (compact JSON, keys in insertion order).
    pub fn details_text(&self) -> String {
        self.details.to_string()
    }

    /// Seq and hash of the entry that follows `prev` (`None`: the first entry).
    pub fn chain(&self, prev: Option<(i64, Vec<u8>)>) -> (i64, [u8; 32], [u8; 32]) {
        let (seq, prev_hash) = match prev {
            Some((s, h)) => (
                s + 1,
                h.try_into().unwrap_or(takedown_protocol::audit::GENESIS),
            ),
            None => (1, takedown_protocol::audit::GENESIS),
        };
        let hash = takedown_protocol::audit::entry_hash(
            u64::try_from(seq).unwrap_or(0),
            self.at,
            &self.actor,
            self.kind,
            &self.subject,
            &self.details_text(),
            &prev_hash,
        );
        (seq, prev_hash, hash)
    }
}

pub use takedown_protocol::pb::WithdrawalGround;

/// Why referrals are taken back: the ground, kept with each referral and counted by the
/// TCO figures, and the caller's own words (purged with the list at retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawalReason<'a> {
    pub ground: WithdrawalGround,
    pub text: &'a str,
}

/// A scrutiny withdrawal (TCO Art 4(4)) that names referrals other than cross-border
/// removal orders: only the host member state's scrutiny of a cross-border order ends it.
pub(crate) fn scrutiny_refused(not_cross_border: i64) -> crate::StoreError {
    crate::StoreError::Invalid {
        field: "ground".into(),
        message: format!(
            "scrutiny (TCO Art 4) ends only cross-border removal orders; {not_cross_border} of \
             the referrals named is not one: withdraw them on another ground"
        ),
    }
}

impl<'a> WithdrawalReason<'a> {
    /// A withdrawal on no particular ground (an agency's own correction).
    pub fn text(text: &'a str) -> Self {
        Self {
            ground: WithdrawalGround::Unspecified,
            text,
        }
    }
}

/// Who withdraws referrals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawer {
    /// Any referral.
    Coordinator(OrgId),
    /// Only this agency's own referrals (in any of its lists).
    Agency(OrgId),
}

impl Withdrawer {
    pub fn id(&self) -> &OrgId {
        match self {
            Self::Coordinator(id) | Self::Agency(id) => id,
        }
    }
}

/// Which referrals a withdrawal takes back. A withdrawal takes back referrals, never a
/// target outright: the target is withdrawn (and the platform asked to restore it) only
/// once no referral of it stands. An agency only ever takes back its own referrals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithdrawalScope {
    /// One target's referrals: those of `agencies`, or (empty) every referral the
    /// withdrawer may take back.
    Target {
        target_id: TargetId,
        agencies: Vec<OrgId>,
    },
    /// Every referral of one list.
    List { list_id: ListId },
}

impl WithdrawalScope {
    /// One target's referrals, all the withdrawer may take back.
    pub fn target(target_id: TargetId) -> Self {
        Self::Target {
            target_id,
            agencies: Vec::new(),
        }
    }

    /// The audit entry's subject.
    pub(crate) fn subject(&self) -> String {
        match self {
            Self::Target { target_id, .. } => target_id.to_string(),
            Self::List { list_id } => list_id.to_string(),
        }
    }
}

/// The answer to a withdrawal (a repeated one takes back nothing and answers alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// Referrals this call took back.
    pub referrals_withdrawn: u32,
    /// Every target of the scope, by id.
    pub targets: Vec<TargetWithdrawal>,
}

/// Where one target of a withdrawal's scope stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetWithdrawal {
    pub target_id: TargetId,
    pub platform: PlatformName,
    /// When the target was withdrawn (by this call or before); `None` while a referral of
    /// it stands.
    pub withdrawn_at: Option<i64>,
    /// Referrals of the target that still stand (another agency's, say).
    pub referrals_standing: u32,
    /// WITHDRAWAL deliveries queued for the target (0 when it was never sent).
    pub withdrawals_queued: u32,
    /// True when this call withdrew the target.
    pub changed: bool,
}

/// A target's facts for the transparency exports.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TransparencyRow {
    #[sqlx(rename = "id")]
    pub target_id: TargetId,
    pub platform: PlatformName,
    pub normalized: String,
    pub kind: TargetKind,
    pub category: String,
    pub legal_basis: LegalBasis,
    pub removal_order_ref: String,
    pub delivered_at: Option<i64>,
    pub acted_at: Option<i64>,
    pub outcome: Option<Outcome>,
    pub reject_reason: Option<RejectReason>,
    pub withdrawn_at: Option<i64>,
    /// The removal-order clock's net time to action (see [`crate::clock`]).
    pub ro_elapsed: Option<i64>,
    pub restoration: Option<RestorationResult>,
    pub restoration_at: Option<i64>,
    /// For a removal order: the order whose reference the target carries (the earliest
    /// referral citing it), when its facts are stored.
    #[sqlx(skip)]
    pub order: Option<crate::RemovalOrderFacts>,
    /// The ground that order's referral was withdrawn on (`None`: it stands).
    #[sqlx(skip)]
    pub order_withdrawn_on: Option<WithdrawalGround>,
    /// When the host member state's scrutiny upheld that order (TCO Art 4(4)).
    #[sqlx(skip)]
    pub order_upheld_on_scrutiny_at: Option<i64>,
}

/// A `removal_orders` row: the order's facts, the ground its referral was withdrawn on, if
/// it was, and when a scrutiny upheld it, if one did.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OrderRow {
    target_id: TargetId,
    reference: String,
    #[sqlx(flatten)]
    facts: crate::RemovalOrderFacts,
    withdraw_ground: Option<WithdrawalGround>,
    scrutiny_upheld_at: Option<i64>,
}

/// Gives each removal-order row of `rows` the facts of the order whose reference it carries:
/// the first of `orders` (in (target, list, item) order) for its target with that
/// reference.
pub(crate) fn attach_orders(rows: &mut [TransparencyRow], orders: Vec<OrderRow>) {
    type Order = (
        crate::RemovalOrderFacts,
        Option<WithdrawalGround>,
        Option<i64>,
    );
    let mut first: HashMap<(i64, String), Order> = HashMap::with_capacity(orders.len());
    for o in orders {
        first.entry((o.target_id.get(), o.reference)).or_insert((
            o.facts,
            o.withdraw_ground,
            o.scrutiny_upheld_at,
        ));
    }
    for r in rows
        .iter_mut()
        .filter(|r| r.legal_basis == LegalBasis::RemovalOrder)
    {
        if let Some((facts, ground, upheld)) =
            first.remove(&(r.target_id.get(), r.removal_order_ref.clone()))
        {
            r.order = Some(facts);
            r.order_withdrawn_on = ground;
            r.order_upheld_on_scrutiny_at = upheld;
        }
    }
}

/// What a retention pass purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeCounts {
    pub lists: u64,
    pub referrals: u64,
    /// Targets all of whose lists are purged: notes cleared, identifiers pseudonymised.
    pub targets: u64,
    /// Holds released or expired before the cutoff: target, identifier and reason purged.
    pub holds: u64,
}

impl PurgeCounts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a purged target's identifiers (its normalized form and the agency's original text)
/// are replaced with, followed by the target id: `purged #<id>`. It holds a blank,
/// which no normalized target can (see `takedown_protocol::target`), so it never matches a
/// later referral, and it keeps `(scope, platform, normalized)` unique. It carries nothing
/// of the identifier: the pseudonym cannot be reversed.
pub(crate) const PSEUDONYM_PREFIX: &str = "purged #";

/// The audit entry of a retention pass.
pub(crate) fn retention_purged(
    at: i64,
    cutoff: i64,
    lists: &[String],
    c: &PurgeCounts,
) -> AuditEvent {
    AuditEvent::new(
        at,
        HUB_ACTOR,
        "retention_purge",
        "retention",
        json!({
            "cutoff": cutoff,
            "lists": lists,
            "referrals": c.referrals,
            "targets": c.targets,
            "holds": c.holds,
        }),
    )
}

/// A competent authority's request that a target be preserved past the retention period
/// (TCO Art 6(2)), recorded by coordinator `by` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPreservation<'a> {
    pub target_id: TargetId,
    /// Kept until then (milliseconds since the epoch); later than `at`.
    pub until: i64,
    pub authority: &'a str,
    pub reference: &'a str,
    pub by: &'a OrgId,
    pub at: i64,
}

/// What a preservation request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preservation {
    /// Recorded: the target is kept until `until` (the latest of its requests), with the
    /// `lists` not yet purged that refer to it.
    Kept { until: i64, lists: u32 },
    /// Too late: retention purged the target's data at `at`; nothing was recorded.
    AlreadyPurged { at: i64 },
}

/// The audit entry of a preservation request.
pub(crate) fn preservation_extended(p: &NewPreservation<'_>, until: i64) -> AuditEvent {
    AuditEvent::new(
        p.at,
        p.by,
        "preservation_extended",
        p.target_id.to_string(),
        json!({
            "until": p.until,
            "preserved_until": until,
            "authority": p.authority,
            "reference": p.reference,
        }),
    )
}

/// The restoration result a report batch leaves on each target: (target id, result, text,
/// at), latest report wins, only reports stored by this call.
pub(crate) fn restorations<'a>(
    reports: &'a [NewReport],
    recorded: &HashSet<String>,
) -> Vec<(i64, RestorationResult, &'a str, i64)> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut by_target: HashMap<i64, (i64, RestorationResult, &'a str, i64)> = HashMap::new();
    for r in reports {
        let ReportBody::Restoration(result) = r.body else {
            continue;
        };
        if !recorded.contains(&r.report_id) || !seen.insert(r.report_id.as_str()) {
            continue;
        }
        let id = r.target_id.get();
        let newer = by_target.get(&id).is_none_or(|x| r.at >= x.3);
        if newer {
            by_target.insert(id, (id, result, r.text.as_str(), r.at));
        }
    }
    let mut out: Vec<_> = by_target.into_values().collect();
    out.sort_unstable_by_key(|x| x.0);
    out
}

/// The `reports` entry of a batch: target ids per kind of the reports stored by this call.
pub(crate) fn reports_event(
    platform: &str,
    reports: &[NewReport],
    recorded: &HashSet<String>,
    received_at: i64,
) -> Option<AuditEvent> {
    if recorded.is_empty() {
        return None;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut acks = Vec::new();
    let mut decisions = Vec::new();
    let mut restorations = Vec::new();
    for r in reports {
        if !recorded.contains(&r.report_id) || !seen.insert(r.report_id.as_str()) {
            continue;
        }
        match r.body {
            ReportBody::Acknowledgement => acks.push(json!(r.target_id)),
            ReportBody::Decision { outcome, reason } => {
                decisions.push(json!([r.target_id, outcome as i32, reason as i32]))
            }
            ReportBody::Restoration(result) => {
                restorations.push(json!([r.target_id, result as i32]))
            }
        }
    }
    Some(AuditEvent::new(
        received_at,
        platform,
        "reports",
        platform,
        json!({
            "recorded": recorded.len(),
            "duplicates": reports.len().saturating_sub(recorded.len()),
            "acknowledged": acks,
            "decisions": decisions,
            "restorations": restorations,
        }),
    ))
}

/// Hex Merkle root of a list's concatenated 32-byte leaf hashes.
pub(crate) fn merkle_root_hex(leaf_hashes: &[u8]) -> String {
    let leaves = leaf_hashes
        .chunks_exact(32)
        .filter_map(takedown_protocol::merkle::hash_from_slice)
        .collect();
    let root = takedown_protocol::merkle::Tree::from_leaves(leaves).root();
    root.iter().map(|b| format!("{b:02x}")).collect()
}

/// An organisation registered (`before` absent) or changed; `None` when nothing changed.
pub(crate) fn organization_registered(
    org: &crate::model::Organization,
    before: Option<&crate::model::Organization>,
    by: &str,
    at: i64,
) -> Option<AuditEvent> {
    let kind = match before {
        None => "organization_registered",
        Some(b) if b == org => return None,
        Some(_) => "organization_updated",
    };
    Some(AuditEvent::new(
        at,
        by,
        kind,
        org.id.as_str(),
        json!({
            "role": org.role.as_str(),
            "display_name": org.display_name,
            "previous_role": before.map(|b| b.role.as_str()),
        }),
    ))
}

/// A platform registered (`before` absent) or changed (endpoint or display name); `None`
/// when nothing changed.
pub(crate) fn platform_registered(
    p: &crate::model::Platform,
    before: Option<&crate::model::Platform>,
    by: &str,
    at: i64,
) -> Option<AuditEvent> {
    let kind = match before {
        None => "platform_registered",
        Some(b) if b == p => return None,
        Some(_) => "platform_updated",
    };
    Some(AuditEvent::new(
        at,
        by,
        kind,
        p.name.as_str(),
        json!({
            "endpoint": p.endpoint,
            "display_name": p.display_name,
            "previous_endpoint": before.map(|b| b.endpoint.as_str()),
            "max_per_minute": p.max_per_minute,
            "staffing": p.staffing,
            "delivery_mode": crate::model::mode_name(p.mode),
        }),
    ))
}

pub(crate) fn key_set_published(k: &crate::model::KeySetRecord) -> AuditEvent {
    use sha2::Digest;
    AuditEvent::new(
        k.published_at,
        &k.published_by,
        "key_set_published",
        format!("v{}", k.version),
        json!({
            "version": k.version,
            "statement_sha256": hex::encode(sha2::Sha256::digest(k.jws.as_bytes())),
        }),
    )
}

pub(crate) fn action_day_created(d: &crate::model::ActionDay, by: &str) -> AuditEvent {
    AuditEvent::new(
        d.created_at,
        by,
        "action_day_created",
        d.id.as_str(),
        json!({
            "starts_at": d.starts_at,
            "ends_at": d.ends_at,
            "platforms": d.platforms,
            "agencies": d.agencies,
        }),
    )
}

/// `action_day_closed` or `action_day_released`.
pub(crate) fn action_day_event(id: &str, kind: &'static str, at: i64, by: &str) -> AuditEvent {
    AuditEvent::new(at, by, kind, id, json!({}))
}

pub(crate) fn action_day_moved(
    id: &str,
    from: (i64, i64),
    to: (i64, i64),
    at: i64,
    by: &str,
) -> AuditEvent {
    AuditEvent::new(
        at,
        by,
        "action_day_moved",
        id,
        json!({
            "from_starts_at": from.0,
            "from_ends_at": from.1,
            "starts_at": to.0,
            "ends_at": to.1,
        }),
    )
}

pub(crate) fn list_accepted(
    l: &crate::model::NewList,
    s: &crate::model::IntakeSummary,
) -> AuditEvent {
    let sha: String = l
        .content_sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    AuditEvent::new(
        l.accepted_at,
        l.agency_id.as_str(),
        "list_accepted",
        l.list_id.as_str(),
        json!({
            "action_day_id": l.action_day_id,
            "items": l.item_count,
            "merkle_root": merkle_root_hex(&l.leaf_hashes),
            "content_sha256": sha,
            "new_targets": s.new_targets,
            "merged": s.merged,
            "target_ids": s.target_ids,
        }),
    )
}

/// The audit entry of referrals taken back.
pub(crate) fn referrals_withdrawn(
    at: i64,
    by: &Withdrawer,
    scope: &WithdrawalScope,
    reason: &WithdrawalReason<'_>,
    taken: u64,
    targets: &[TargetWithdrawal],
) -> AuditEvent {
    let agencies = match scope {
        WithdrawalScope::Target { agencies, .. } => agencies.clone(),
        WithdrawalScope::List { .. } => Vec::new(),
    };
    let mut details = json!({
        "scope": match scope {
            WithdrawalScope::Target { .. } => "target",
            WithdrawalScope::List { .. } => "list",
        },
        "agencies": agencies,
        "reason": reason.text,
        "referrals": taken,
        "targets_withdrawn": targets.iter().filter(|t| t.changed).count(),
    });
    if reason.ground != WithdrawalGround::Unspecified {
        details["ground"] = json!(
            reason
                .ground
                .as_str_name()
                .trim_start_matches("WITHDRAWAL_GROUND_")
        );
    }
    AuditEvent::new(at, by.id(), "referrals_withdrawn", scope.subject(), details)
}

/// The audit entry of a target withdrawn (its last referral taken back) and its answer.
/// The audit entry of a scrutiny that upheld a target's cross-border removal orders.
pub(crate) fn scrutiny_upheld(
    at: i64,
    by: &str,
    target_id: i64,
    orders: u64,
    reason: &str,
) -> AuditEvent {
    AuditEvent::new(
        at,
        by,
        "scrutiny_upheld",
        target_id.to_string(),
        json!({ "orders": orders, "reason": reason }),
    )
}

/// No standing cross-border removal order of the target to scrutinise.
pub(crate) fn nothing_to_scrutinise() -> crate::StoreError {
    crate::StoreError::Invalid {
        field: "target_id".into(),
        message: "the target has no standing cross-border removal order to scrutinise \
                  (TCO Art 4)"
            .into(),
    }
}

pub(crate) fn target_withdrawn(
    at: i64,
    by: &Withdrawer,
    target_id: i64,
    platform: PlatformName,
    queued: u64,
    cancelled: u64,
) -> (AuditEvent, TargetWithdrawal) {
    let event = AuditEvent::new(
        at,
        by.id(),
        "target_withdrawn",
        target_id.to_string(),
        json!({
            "platform": platform,
            "withdrawal_queued": queued > 0,
            "takedown_cancelled": cancelled > 0,
        }),
    );
    let answer = TargetWithdrawal {
        target_id: TargetId::new(target_id),
        platform,
        withdrawn_at: Some(at),
        referrals_standing: 0,
        withdrawals_queued: u32::try_from(queued).unwrap_or(0),
        changed: true,
    };
    (event, answer)
}

/// A fresh salt for a hold's target commitment (kept in `holds.salt` until retention).
pub(crate) fn hold_salt() -> [u8; 16] {
    rand::random()
}

/// SHA-256(salt || platform || 0x00 || normalized), hex: what a hold's audit entry says of
/// its target. With the salt (kept at the hub until retention purges it with the
/// identifier) an auditor can check which target a hold was about; without it, nobody can.
pub fn hold_commitment(salt: &[u8], platform: &str, normalized: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(platform.as_bytes());
    h.update([0u8]);
    h.update(normalized.as_bytes());
    hex::encode(h.finalize())
}

pub(crate) fn hold_placed(h: &crate::model::Hold, salt: &[u8]) -> AuditEvent {
    AuditEvent::new(
        h.created_at,
        h.placed_by.as_str(),
        "hold_placed",
        h.id.as_str(),
        json!({
            "platform": h.platform,
            "target_commitment": hold_commitment(salt, &h.platform, &h.normalized),
            "expires_at": h.expires_at,
        }),
    )
}

/// The release of a hold: the entry of its placing (same subject) names the target.
pub(crate) fn hold_released(h: &crate::model::Hold, at: i64, by: &str) -> AuditEvent {
    AuditEvent::new(
        at,
        by,
        "hold_released",
        h.id.as_str(),
        json!({ "platform": h.platform }),
    )
}

/// One entry per platform of a batch of deliveries that changed state: (platform, target
/// id, kind) rows, sorted in place.
pub(crate) fn delivery_events(
    changed: &mut [(String, i64, i32)],
    kind: &'static str,
    at: i64,
    error: Option<&str>,
) -> Vec<AuditEvent> {
    changed.sort_unstable();
    let mut out = Vec::new();
    for group in changed.chunk_by(|a, b| a.0 == b.0) {
        let ids = |k: i32| -> Vec<i64> { group.iter().filter(|x| x.2 == k).map(|x| x.1).collect() };
        let mut details = json!({
            "takedowns": ids(DeliveryKind::Takedown as i32),
            "withdrawals": ids(DeliveryKind::Withdrawal as i32),
        });
        if let (Some(e), Some(map)) = (error, details.as_object_mut()) {
            map.insert("error".into(), json!(e));
        }
        out.push(AuditEvent::new(
            at,
            HUB_ACTOR,
            kind,
            group[0].0.as_str(),
            details,
        ));
    }
    out
}
