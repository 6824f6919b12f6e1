//! The JSON documents exchanged with the platform.
//!
//! # Handoff batch (sidecar → platform)
//!
//! Webhook mode POSTs it (`Content-Type: application/json`), signed as Standard Webhooks
//! specify (`webhook-id` = `handoff_id`, `webhook-timestamp`, `webhook-signature`; see
//! [`crate::handoff::webhook`]); command mode writes it to the program's standard input. Enum values are the proto names without their prefix; empty
//! optional strings are left out.
//!
//! ```json
//! {
//!   "platform": "telegram",
//!   "handoff_id": "0190f0e4-…",          // one per batch; a retry repeats it
//!   "handed_at": "2026-11-29T05:00:00.123Z",  // when first handed; the same on a retry
//!   "targets": [
//!     {
//!       "idempotency_key": "t-…:takedown",  // one per target and kind, never reused
//!       "target_id": "t-…", "delivery_id": "d-…",
//!       "kind": "TAKEDOWN",               // or "WITHDRAWAL": restore if acted on
//!       "target_kind": "CHANNEL",         // ACCOUNT CHANNEL GROUP CHAT POST BOT UNSPECIFIED
//!       "normalized_target": "foo", "original_target": "https://t.me/foo",
//!       "category": "terrorist-propaganda",
//!       "legal_basis": "TOS_REFERRAL",    // or "REMOVAL_ORDER" (+ "removal_order_ref")
//!       "removal_order_ref": "…",         // optional
//!       "action_day_id": "…",             // optional
//!       "withdrawal_reason": "…",         // optional, withdrawals only
//!       "agencies": ["agency-fr"],
//!       "received_at": "2026-11-29T05:00:00.001Z",
//!       "referrals": [
//!         { "agency_id": "agency-fr", "list_id": "…", "item_index": 3,
//!           "target_kind": "CHANNEL", "target": "@foo", "category": "…",
//!           "legal_basis": "TOS_REFERRAL", "removal_order_ref": "…",
//!           "evidence_sha256": "hex…", "note": "…",      // last three optional
//!           "removal_order": {                         // removal orders only (TCO Annex I)
//!             "issuing_authority": "Bundeskriminalamt", "member_state": "DE",
//!             "issued_at": "2026-11-29T04:00:00Z",
//!             "points": ["INCITES"],                   // Art 2(7) (a) to (e)
//!             "reasons": "…", "legal_statement": "…", "contact_point": "…",
//!             "withhold_information": false,           // true: do not inform the uploader (Art 11(3))
//!             "cross_border": false, "host_member_state": "FR",   // the latter when cross-border
//!             "additional_information": "…", "redress": "…" }     // optional
//!         }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! # Exactly once at the platform
//!
//! Each batch is recorded in the inbox before it is handed over. A failed attempt, or a
//! crash between the platform's receipt and the sidecar's commit, repeats *that* batch:
//! the same `handoff_id`, `handed_at` and targets in the same order. No target is ever
//! handed in two different batches, so a platform gets exactly-once effect by applying
//! each `idempotency_key` once (or each `handoff_id` once: both work). Webhook mode also
//! sends the batch id as the `Idempotency-Key` header; command mode as the
//! `TAKEDOWN_HANDOFF_ID` environment variable.
//!
//! # Outcomes (platform → sidecar)
//!
//! Posted to `POST /v1/decisions` as a JSON array, signed with the integration's secret
//! as Standard Webhooks specify (see [`crate::decisions`]), or printed by the command (one
//! array, or one object per line):
//!
//! ```json
//! [ { "target_id": "t-…",
//!     "outcome": "BLOCKED",   // ALREADY_GONE NOT_FOUND GEO_BLOCKED REJECTED | RESTORED NOT_RESTORED
//!     "reason": "NOT_A_VIOLATION",  // with REJECTED: INSUFFICIENT_INFORMATION MANIFEST_ERROR FORCE_MAJEURE OTHER
//!     "text": "free text",          // optional
//!     "acted_at": "2026-11-29T05:01:00Z",  // optional RFC 3339, default: now
//!     "report_id": "…" } ]          // optional; a retried post with the same id counts once
//! ```
//!
//! RESTORED / NOT_RESTORED answer withdrawals; the others answer takedowns.

use serde::{Deserialize, Serialize};
use takedown_protocol::{pb, timestamp};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// What a delivery asks of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    Takedown,
    Withdrawal,
}

impl Kind {
    /// The inbox column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Takedown => "takedown",
            Self::Withdrawal => "withdrawal",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "takedown" => Some(Self::Takedown),
            "withdrawal" => Some(Self::Withdrawal),
            _ => None,
        }
    }
}

/// A handoff batch as the platform receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandoffBatch {
    pub platform: String,
    pub handoff_id: String,
    pub handed_at: String,
    pub targets: Vec<HandoffTarget>,
}

/// One target of a handoff batch (also the form the inbox stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffTarget {
    /// Stable per target and kind: see [`idempotency_key`].
    pub idempotency_key: String,
    pub target_id: String,
    pub delivery_id: String,
    pub kind: Kind,
    pub target_kind: String,
    pub normalized_target: String,
    pub original_target: String,
    pub category: String,
    pub legal_basis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_day_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_reason: Option<String>,
    pub agencies: Vec<String>,
    pub received_at: String,
    pub referrals: Vec<HandoffReferral>,
}

/// One verified referral of a target: the fields of the agency's signed `Referral`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffReferral {
    pub agency_id: String,
    pub list_id: String,
    pub item_index: u64,
    pub target_kind: String,
    pub target: String,
    pub category: String,
    pub legal_basis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What a removal order states (Annex I of Regulation (EU) 2021/784).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_order: Option<RemovalOrderDocument>,
}

/// A removal order's Annex I content, as the agency signed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovalOrderDocument {
    pub issuing_authority: String,
    pub member_state: String,
    /// RFC 3339; empty if the order carried no time.
    pub issued_at: String,
    /// Points of Art 2(7): INCITES SOLICITS_OFFENCES SOLICITS_PARTICIPATION INSTRUCTS THREATENS.
    pub points: Vec<String>,
    pub reasons: String,
    pub legal_statement: String,
    pub contact_point: String,
    /// The content provider must not be informed (Art 11(3)).
    pub withhold_information: bool,
    /// A copy went to the host member state's authority (Art 4).
    pub cross_border: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_member_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redress: Option<String>,
}

impl RemovalOrderDocument {
    pub fn from_pb(d: &pb::RemovalOrderDetails) -> Self {
        Self {
            issuing_authority: d.issuing_authority.clone(),
            member_state: d.member_state.clone(),
            issued_at: d
                .issued_at
                .as_ref()
                .map(|t| rfc3339(timestamp::to_millis(t)))
                .unwrap_or_default(),
            points: d
                .points
                .iter()
                .map(|p| takedown_protocol::removal_order::point_name(*p).to_string())
                .collect(),
            reasons: d.reasons.clone(),
            legal_statement: d.legal_statement.clone(),
            contact_point: d.contact_point.clone(),
            withhold_information: d.withhold_information,
            cross_border: d.cross_border,
            host_member_state: non_empty(&d.host_member_state),
            additional_information: non_empty(&d.additional_information),
            redress: non_empty(&d.redress),
        }
    }
}

/// The key a platform deduplicates on: one per target and kind, the same through every
/// retry and restart. (Migration 0002 writes the same form into older inbox rows.)
pub fn idempotency_key(target_id: &str, kind: Kind) -> String {
    format!("{target_id}:{}", kind.as_str())
}

/// `Some(s)` unless empty.
pub fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `TARGET_KIND_CHANNEL` → `CHANNEL`.
pub fn target_kind_name(k: i32) -> String {
    let name = pb::TargetKind::try_from(k)
        .unwrap_or(pb::TargetKind::Unspecified)
        .as_str_name();
    name.trim_start_matches("TARGET_KIND_").to_string()
}

/// `LEGAL_BASIS_TOS_REFERRAL` → `TOS_REFERRAL`.
pub fn legal_basis_name(k: i32) -> String {
    let name = pb::LegalBasis::try_from(k)
        .unwrap_or(pb::LegalBasis::Unspecified)
        .as_str_name();
    name.trim_start_matches("LEGAL_BASIS_").to_string()
}

/// Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// RFC 3339 as Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The platform's answer on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformOutcome {
    pub target_id: String,
    pub outcome: OutcomeName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonName>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutcomeName {
    Blocked,
    AlreadyGone,
    NotFound,
    GeoBlocked,
    Rejected,
    Restored,
    NotRestored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonName {
    NotAViolation,
    InsufficientInformation,
    ManifestError,
    ForceMajeure,
    Other,
}

impl ReasonName {
    pub fn to_pb(self) -> pb::RejectReason {
        match self {
            Self::NotAViolation => pb::RejectReason::NotAViolation,
            Self::InsufficientInformation => pb::RejectReason::InsufficientInformation,
            Self::ManifestError => pb::RejectReason::ManifestError,
            Self::ForceMajeure => pb::RejectReason::ForceMajeure,
            Self::Other => pb::RejectReason::Other,
        }
    }
}

impl OutcomeName {
    /// The kind of delivery this outcome answers.
    pub fn answers(self) -> Kind {
        match self {
            Self::Restored | Self::NotRestored => Kind::Withdrawal,
            _ => Kind::Takedown,
        }
    }
}

impl PlatformOutcome {
    /// The report this outcome becomes (with a fresh report id unless the platform chose
    /// one). Errors name what is wrong.
    pub fn to_report(&self, now_ms: i64) -> Result<pb::PlatformReport, String> {
        if self.target_id.is_empty() {
            return Err("target_id is empty".into());
        }
        let acted_at = match &self.acted_at {
            Some(s) => parse_rfc3339(s).ok_or_else(|| format!("acted_at {s:?} is not RFC 3339"))?,
            None => now_ms,
        };
        let acted_at = Some(timestamp::from_millis(acted_at));
        let report = match self.outcome {
            OutcomeName::Restored | OutcomeName::NotRestored => {
                pb::platform_report::Report::Restoration(pb::Restoration {
                    result: if self.outcome == OutcomeName::Restored {
                        pb::RestorationResult::Restored
                    } else {
                        pb::RestorationResult::NotRestored
                    } as i32,
                    text: self.text.clone(),
                    acted_at,
                })
            }
            other => {
                let outcome = match other {
                    OutcomeName::Blocked => pb::Outcome::Blocked,
                    OutcomeName::AlreadyGone => pb::Outcome::AlreadyGone,
                    OutcomeName::NotFound => pb::Outcome::NotFound,
                    OutcomeName::GeoBlocked => pb::Outcome::GeoBlocked,
                    _ => pb::Outcome::Rejected,
                };
                let reason = match (outcome, self.reason) {
                    (pb::Outcome::Rejected, None) => {
                        return Err("outcome REJECTED needs a reason".into());
                    }
                    (_, r) => r.map_or(pb::RejectReason::Unspecified, ReasonName::to_pb),
                };
                pb::platform_report::Report::Decision(pb::Decision {
                    outcome: outcome as i32,
                    reason: reason as i32,
                    text: self.text.clone(),
                    acted_at,
                })
            }
        };
        let report_id = match &self.report_id {
            Some(id) if id.is_empty() || id.len() > 128 => {
                return Err("report_id must be 1 to 128 characters".into());
            }
            Some(id) => id.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        Ok(pb::PlatformReport {
            report_id,
            target_id: self.target_id.clone(),
            report: Some(report),
        })
    }
}

/// Outcomes from text: one JSON array, or one JSON object per line (blank lines skipped).
pub fn parse_outcomes(text: &str) -> Result<Vec<PlatformOutcome>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| format!("outcome array: {e}"));
    }
    trimmed
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("outcome line {}: {e}", i + 1)))
        .collect()
}

/// An acknowledgement report for a target received at `ms`.
pub fn acknowledgement(target_id: &str, ms: i64) -> pb::PlatformReport {
    pb::PlatformReport {
        report_id: uuid::Uuid::new_v4().to_string(),
        target_id: target_id.to_string(),
        report: Some(pb::platform_report::Report::Acknowledgement(
            pb::Acknowledgement {
                received_at: Some(timestamp::from_millis(ms)),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_parse_as_array_or_lines() {
        let a = parse_outcomes(r#"[{"target_id":"a","outcome":"BLOCKED"}]"#).unwrap();
        assert_eq!(a.len(), 1);
        let b = parse_outcomes(
            "{\"target_id\":\"a\",\"outcome\":\"BLOCKED\"}\n\n{\"target_id\":\"b\",\"outcome\":\"REJECTED\",\"reason\":\"OTHER\"}\n",
        )
        .unwrap();
        assert_eq!(b[1].reason, Some(ReasonName::Other));
        assert!(parse_outcomes("{\"target_id\":\"a\",\"outcome\":\"EATEN\"}").is_err());
        assert!(parse_outcomes("  ").unwrap().is_empty());
    }

    #[test]
    fn outcomes_become_reports() {
        let o = PlatformOutcome {
            target_id: "t".into(),
            outcome: OutcomeName::Rejected,
            reason: None,
            text: String::new(),
            acted_at: None,
            report_id: None,
        };
        assert!(o.to_report(0).unwrap_err().contains("reason"));
        let o = PlatformOutcome {
            reason: Some(ReasonName::NotAViolation),
            acted_at: Some("2026-11-29T05:00:00Z".into()),
            report_id: Some("r1".into()),
            ..o
        };
        let r = o.to_report(0).unwrap();
        assert_eq!(r.report_id, "r1");
        match r.report {
            Some(pb::platform_report::Report::Decision(d)) => {
                assert_eq!(d.reason, pb::RejectReason::NotAViolation as i32);
                assert_eq!(
                    d.acted_at.map(|t| timestamp::to_millis(&t)),
                    parse_rfc3339("2026-11-29T05:00:00Z")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_rfc3339(&rfc3339(1_764_000_000_123)),
            Some(1_764_000_000_123)
        );
    }
}
