//! The transparency exports of an action day, computed from the stored target facts: the
//! figures the TCO regulation asks of competent authorities for their yearly report, and
//! one statement-of-reasons-style row per target a platform decided on.

use std::collections::BTreeMap;

use takedown_protocol::{pb, timestamp::from_millis};
use takedown_store::TransparencyRow;

/// One hour, the TCO regulation's deadline to act on a removal order.
pub const ONE_HOUR_MS: i64 = 3_600_000;

/// `takedown.v1.LegalBasis::REMOVAL_ORDER`.
const REMOVAL_ORDER: i32 = pb::LegalBasis::RemovalOrder as i32;

/// An enum value's name without its type prefix (`OUTCOME_BLOCKED` → `BLOCKED`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

pub fn outcome_name(v: i32) -> String {
    pb::Outcome::try_from(v)
        .map(|o| short(o.as_str_name(), "OUTCOME_"))
        .unwrap_or_else(|_| v.to_string())
}

pub fn reject_reason_name(v: i32) -> String {
    pb::RejectReason::try_from(v)
        .map(|o| short(o.as_str_name(), "REJECT_REASON_"))
        .unwrap_or_else(|_| v.to_string())
}

pub fn legal_basis_name(v: i32) -> String {
    pb::LegalBasis::try_from(v)
        .map(|o| short(o.as_str_name(), "LEGAL_BASIS_"))
        .unwrap_or_else(|_| v.to_string())
}

pub fn restoration_name(v: i32) -> String {
    pb::RestorationResult::try_from(v)
        .map(|o| short(o.as_str_name(), "RESTORATION_RESULT_"))
        .unwrap_or_else(|_| v.to_string())
}

/// Whether a decision took the content down (or found it already gone).
fn acted(outcome: i32) -> bool {
    outcome == pb::Outcome::Blocked as i32
        || outcome == pb::Outcome::AlreadyGone as i32
        || outcome == pb::Outcome::GeoBlocked as i32
}

/// The TCO figures of the day's removal orders (targets whose legal basis is
/// REMOVAL_ORDER). "Within one hour" counts from delivery to the platform's action.
pub fn tco_figures(action_day_id: &str, rows: &[TransparencyRow]) -> pb::TcoFigures {
    let mut f = pb::TcoFigures {
        action_day_id: action_day_id.to_string(),
        ..Default::default()
    };
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.legal_basis == REMOVAL_ORDER) {
        f.removal_orders_issued += 1;
        if r.withdrawn_at.is_some() {
            f.withdrawn += 1;
        }
        match r.outcome {
            Some(o) if acted(o) => {
                let within = matches!((r.delivered_at, r.acted_at),
                    (Some(d), Some(a)) if a - d <= ONE_HOUR_MS);
                if within {
                    f.acted_within_one_hour += 1;
                } else {
                    f.acted_later += 1;
                }
            }
            Some(o) if o == pb::Outcome::Rejected as i32 => {
                f.refused += 1;
                *refused
                    .entry(reject_reason_name(r.reject_reason.unwrap_or(0)))
                    .or_default() += 1;
            }
            Some(o) if o == pb::Outcome::NotFound as i32 => f.not_found += 1,
            _ => f.no_decision += 1,
        }
    }
    f.refused_by_reason = refused
        .into_iter()
        .map(|(reason, count)| pb::RefusalCount { reason, count })
        .collect();
    f
}

/// One row per target with a decision, in (platform, target id) order.
pub fn statements(rows: &[TransparencyRow]) -> Vec<pb::StatementOfReasons> {
    rows.iter()
        .filter_map(|r| {
            let outcome = r.outcome?;
            Some(pb::StatementOfReasons {
                target_id: r.target_id.to_string(),
                platform: r.platform.clone(),
                target: r.normalized.clone(),
                decision: outcome_name(outcome),
                reject_reason: r.reject_reason.map(reject_reason_name).unwrap_or_default(),
                category: r.category.clone(),
                legal_basis: legal_basis_name(r.legal_basis),
                removal_order_ref: r.removal_order_ref.clone(),
                delivered_at: r.delivered_at.map(from_millis),
                acted_at: r.acted_at.map(from_millis),
                withdrawn_at: r.withdrawn_at.map(from_millis),
                restoration: r.restoration.map(restoration_name).unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        id: i64,
        basis: i32,
        delivered: Option<i64>,
        acted: Option<(i64, i32)>,
    ) -> TransparencyRow {
        TransparencyRow {
            target_id: id,
            platform: if id % 2 == 0 { "video" } else { "social" }.into(),
            normalized: format!("t{id}"),
            category: "terrorist_content".into(),
            legal_basis: basis,
            removal_order_ref: format!("RO-{id}"),
            delivered_at: delivered,
            acted_at: acted.map(|a| a.0),
            outcome: acted.map(|a| a.1),
            reject_reason: None,
            withdrawn_at: None,
            restoration: None,
            restoration_at: None,
        }
    }

    #[test]
    fn figures_of_a_small_scenario() {
        let t = 1_000_000;
        let mut refused = row(5, 2, Some(t), Some((t + 10, 5)));
        refused.reject_reason = Some(1);
        let mut withdrawn = row(6, 2, Some(t), Some((t + 5, 1)));
        withdrawn.withdrawn_at = Some(t + 100);
        withdrawn.restoration = Some(1);
        let rows = vec![
            row(1, 2, Some(t), Some((t + ONE_HOUR_MS, 1))), // within the hour (edge)
            row(2, 2, Some(t), Some((t + ONE_HOUR_MS + 1, 4))), // later
            row(3, 2, Some(t), None),                       // no decision
            row(4, 1, Some(t), Some((t + 1, 1))),           // a ToS referral: not an order
            refused,
            withdrawn,
            row(7, 2, Some(t), Some((t + 1, 3))), // not found
        ];
        let f = tco_figures("d1", &rows);
        assert_eq!(f.removal_orders_issued, 6);
        assert_eq!(f.acted_within_one_hour, 2);
        assert_eq!(f.acted_later, 1);
        assert_eq!(f.refused, 1);
        assert_eq!(
            f.refused_by_reason,
            vec![pb::RefusalCount {
                reason: "NOT_A_VIOLATION".into(),
                count: 1
            }]
        );
        assert_eq!((f.not_found, f.no_decision, f.withdrawn), (1, 1, 1));

        let s = statements(&rows);
        assert_eq!(s.len(), 6);
        let ids: Vec<&str> = s.iter().map(|r| r.target_id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "4", "5", "6", "7"]);
        assert_eq!(s[0].decision, "BLOCKED");
        assert_eq!(s[1].decision, "GEO_BLOCKED");
        assert_eq!(s[2].legal_basis, "TOS_REFERRAL");
        assert_eq!(s[3].reject_reason, "NOT_A_VIOLATION");
        assert_eq!(s[4].restoration, "RESTORED");
        assert_eq!(s[0].removal_order_ref, "RO-1");
        assert_eq!(s[0].acted_at, Some(from_millis(t + ONE_HOUR_MS)));
    }
}
