//! The transparency exports of an action day, computed from the stored target facts: the
//! figures the TCO regulation asks of competent authorities for their yearly report, and
//! one statement-of-reasons-style row per target a platform decided on.

use std::collections::BTreeMap;

use takedown_protocol::{pb, timestamp::from_millis};

use crate::public_id::PublicIds;
use takedown_store::{
    LegalBasis, Outcome, RejectReason, RestorationResult, TransparencyRow, WithdrawalGround,
    clock::{self, RoClock},
};

/// An enum value's name without its type prefix (`OUTCOME_BLOCKED` → `BLOCKED`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

pub fn outcome_name(v: Outcome) -> String {
    short(v.as_str_name(), "OUTCOME_")
}

pub fn reject_reason_name(v: RejectReason) -> String {
    short(v.as_str_name(), "REJECT_REASON_")
}

pub fn legal_basis_name(v: LegalBasis) -> String {
    short(v.as_str_name(), "LEGAL_BASIS_")
}

pub fn restoration_name(v: RestorationResult) -> String {
    short(v.as_str_name(), "RESTORATION_RESULT_")
}

/// The TCO figures of the day's removal orders (targets whose legal basis is
/// REMOVAL_ORDER). "Within one hour" is the summary's clock ([`clock`]): from delivery to
/// the first decision that leaves the content unreachable, paused while a cannot-execute
/// answer awaited clarification.
pub fn tco_figures(action_day_id: &str, rows: &[TransparencyRow]) -> pb::TcoFigures {
    let mut f = pb::TcoFigures {
        action_day_id: action_day_id.to_string(),
        ..Default::default()
    };
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    // By (member state, authority), and by host member state.
    let mut by_authority: BTreeMap<(String, String), pb::AuthorityOrders> = BTreeMap::new();
    let mut by_host: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.legal_basis == LegalBasis::RemovalOrder)
    {
        f.removal_orders_issued += 1;
        let (authority, state) = r
            .order
            .as_ref()
            .map_or((String::new(), String::new()), |o| {
                (o.issuing_authority.clone(), o.member_state.clone())
            });
        let a = by_authority
            .entry((state.clone(), authority.clone()))
            .or_insert_with(|| pb::AuthorityOrders {
                issuing_authority: authority,
                member_state: state,
                ..Default::default()
            });
        a.orders += 1;
        if let Some(host) = r.order.as_ref().and_then(|o| o.host_member_state.clone()) {
            f.cross_border_orders += 1;
            *by_host.entry(host).or_default() += 1;
        }
        if r.order_upheld_on_scrutiny_at.is_some() {
            f.upheld_on_scrutiny += 1;
            f.scrutinised += 1;
        }
        match r.order_withdrawn_on {
            Some(WithdrawalGround::Scrutiny) => {
                f.ceased_on_scrutiny += 1;
                f.scrutinised += 1;
            }
            Some(WithdrawalGround::Review) => f.annulled_on_review += 1,
            _ => {}
        }
        if r.withdrawn_at.is_some() {
            f.withdrawn += 1;
        }
        if r.outcome == Some(Outcome::NotFound) {
            f.not_found += 1;
        }
        match clock::of(r.legal_basis, r.delivered_at, r.ro_elapsed, None) {
            RoClock::WithinHour => {
                f.acted_within_one_hour += 1;
                a.acted_within_one_hour += 1;
            }
            RoClock::Late => {
                f.acted_later += 1;
                a.acted_later += 1;
            }
            RoClock::Running => {}
        }
        match r.outcome {
            Some(o) if clock::is_acting(o) => {}
            Some(Outcome::Rejected) => {
                f.refused += 1;
                a.refused += 1;
                *refused
                    .entry(reject_reason_name(r.reject_reason.unwrap_or_default()))
                    .or_default() += 1;
            }
            _ => {
                f.no_decision += 1;
                a.no_decision += 1;
            }
        }
    }
    f.by_authority = by_authority.into_values().collect();
    f.cross_border_by_host = by_host
        .into_iter()
        .map(|(host_member_state, orders)| pb::HostMemberStateCount {
            host_member_state,
            orders,
        })
        .collect();
    f.refused_by_reason = refused
        .into_iter()
        .map(|(reason, count)| pb::RefusalCount { reason, count })
        .collect();
    f
}

/// One row per target with a decision, in the order of `rows`, each under its public id.
pub fn statements(rows: &[TransparencyRow], ids: &PublicIds) -> Vec<pb::StatementOfReasons> {
    rows.iter()
        .filter_map(|r| {
            let outcome = r.outcome?;
            let order = r.order.as_ref();
            Some(pb::StatementOfReasons {
                target_id: ids.target(r.target_id),
                platform: r.platform.to_string(),
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
                target_kind: short(r.kind.as_str_name(), "TARGET_KIND_"),
                restoration_at: r.restoration_at.map(from_millis),
                issuing_authority: order
                    .map(|o| o.issuing_authority.clone())
                    .unwrap_or_default(),
                member_state: order.map(|o| o.member_state.clone()).unwrap_or_default(),
                order_issued_at: order.map(|o| from_millis(o.issued_at)),
                host_member_state: order
                    .and_then(|o| o.host_member_state.clone())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use takedown_store::{RemovalOrderFacts, testing::checked};

    fn row(
        id: i64,
        basis: LegalBasis,
        delivered: Option<i64>,
        acted: Option<(i64, Outcome)>,
    ) -> TransparencyRow {
        TransparencyRow {
            target_id: takedown_store::TargetId::new(id),
            platform: checked(if id % 2 == 0 { "video" } else { "social" }),
            normalized: format!("t{id}"),
            kind: takedown_store::TargetKind::Channel,
            category: "terrorist_content".into(),
            legal_basis: basis,
            removal_order_ref: format!("RO-{id}"),
            delivered_at: delivered,
            acted_at: acted.map(|a| a.0),
            outcome: acted.map(|a| a.1),
            reject_reason: None,
            withdrawn_at: None,
            // As the store's clock gives it, with no pause.
            ro_elapsed: match (delivered, acted) {
                (Some(d), Some((at, o))) if clock::is_acting(o) => Some(at - d),
                _ => None,
            },
            restoration: None,
            restoration_at: None,
            order: (basis == LegalBasis::RemovalOrder).then(|| RemovalOrderFacts {
                issuing_authority: if id % 3 == 0 { "OCLCTIC" } else { "BKA" }.into(),
                member_state: if id % 3 == 0 { "FR" } else { "DE" }.into(),
                issued_at: 0,
                host_member_state: (id == 2).then(|| "NL".into()),
            }),
            order_withdrawn_on: None,
            // The cross-border order (to NL) was upheld on scrutiny.
            order_upheld_on_scrutiny_at: (id == 2).then_some(0),
        }
    }

    use takedown_store::clock::ONE_HOUR_MS;

    #[test]
    fn figures_of_a_small_scenario() {
        let t = 1_000_000;
        let ro = LegalBasis::RemovalOrder;
        let mut refused = row(5, ro, Some(t), Some((t + 10, Outcome::Rejected)));
        refused.reject_reason = Some(RejectReason::NotAViolation);
        let mut withdrawn = row(6, ro, Some(t), Some((t + 5, Outcome::Blocked)));
        withdrawn.withdrawn_at = Some(t + 100);
        // The host member state's authority found the order to infringe (Art 4(4)).
        withdrawn.order_withdrawn_on = Some(WithdrawalGround::Scrutiny);
        withdrawn.restoration = Some(RestorationResult::Restored);
        let rows = vec![
            // within the hour (edge), later, no decision
            row(1, ro, Some(t), Some((t + ONE_HOUR_MS, Outcome::Blocked))),
            row(
                2,
                ro,
                Some(t),
                Some((t + ONE_HOUR_MS + 1, Outcome::GeoBlocked)),
            ),
            row(3, ro, Some(t), None),
            // a ToS referral: not an order
            row(
                4,
                LegalBasis::TosReferral,
                Some(t),
                Some((t + 1, Outcome::Blocked)),
            ),
            refused,
            withdrawn,
            row(7, ro, Some(t), Some((t + 1, Outcome::NotFound))),
        ];
        let mut paused = row(
            8,
            ro,
            Some(t),
            Some((t + 2 * ONE_HOUR_MS, Outcome::Blocked)),
        );
        // The clock paused 90 minutes while a cannot-execute answer awaited clarification.
        paused.ro_elapsed = Some(ONE_HOUR_MS / 2);
        let rows = [rows, vec![paused]].concat();
        let f = tco_figures("d1", &rows);
        assert_eq!(f.removal_orders_issued, 7);
        // 1 (the edge), 6, 7 (NOT_FOUND: the content is unreachable) and 8 (paused).
        assert_eq!(f.acted_within_one_hour, 4);
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
        // Orders 3 and 6 are French, the others German; order 2 went to the Netherlands too.
        let authorities: Vec<(&str, &str, u64, u64, u64, u64, u64)> = f
            .by_authority
            .iter()
            .map(|a| {
                (
                    a.member_state.as_str(),
                    a.issuing_authority.as_str(),
                    a.orders,
                    a.acted_within_one_hour,
                    a.acted_later,
                    a.refused,
                    a.no_decision,
                )
            })
            .collect();
        assert_eq!(
            authorities,
            [
                ("DE", "BKA", 5, 3, 1, 1, 0),
                ("FR", "OCLCTIC", 2, 1, 0, 0, 1)
            ]
        );
        assert_eq!(f.cross_border_orders, 1);
        assert_eq!((f.ceased_on_scrutiny, f.annulled_on_review), (1, 0));
        assert_eq!(
            (f.scrutinised, f.upheld_on_scrutiny),
            (2, 1),
            "one upheld, one ceased"
        );
        assert_eq!(
            f.cross_border_by_host,
            [pb::HostMemberStateCount {
                host_member_state: "NL".into(),
                orders: 1
            }]
        );

        let codec = PublicIds::new(&[1; 32]);
        let s = statements(&rows, &codec);
        assert_eq!(s.len(), 7);
        let ids: Vec<i64> = s
            .iter()
            .map(|r| codec.parse_target(&r.target_id).unwrap().get())
            .collect();
        assert_eq!(ids, [1, 2, 4, 5, 6, 7, 8]);
        assert_eq!(s[0].decision, "BLOCKED");
        assert_eq!(s[1].decision, "GEO_BLOCKED");
        assert_eq!(s[2].legal_basis, "TOS_REFERRAL");
        assert_eq!(s[3].reject_reason, "NOT_A_VIOLATION");
        assert_eq!(s[4].restoration, "RESTORED");
        assert_eq!(s[0].removal_order_ref, "RO-1");
        assert_eq!(
            (s[0].issuing_authority.as_str(), s[0].member_state.as_str()),
            ("BKA", "DE")
        );
        assert_eq!(
            (
                s[1].host_member_state.as_str(),
                s[2].issuing_authority.as_str()
            ),
            ("NL", "")
        );
        assert_eq!(s[0].target_kind, "CHANNEL");
        assert_eq!(s[0].acted_at, Some(from_millis(t + ONE_HOUR_MS)));
    }
}
