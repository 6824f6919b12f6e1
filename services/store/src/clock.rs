//! The one definition of "acted on within one hour" that the summary, its reports and
//! every export use, for removal orders and for ToS referrals.
//!
//! A removal order's hour runs from its receipt by the platform (its delivery to the
//! platform's receiver, `delivered_at`; TCO Regulation Art 3(3)) to the first decision that
//! leaves the content unreachable ([`is_acting`]: BLOCKED, ALREADY_GONE, NOT_FOUND,
//! GEO_BLOCKED). It pauses while a cannot-execute answer on an Annex III ground
//! (INSUFFICIENT_INFORMATION, MANIFEST_ERROR, FORCE_MAJEURE) awaits clarification, i.e.
//! until the platform's next decision (Art 3(7)-(8)). The store computes the net time as
//! each report batch arrives and keeps it as the target's `ro_elapsed`.
//!
//! A ToS referral's hour runs from the same delivery to the same first acting decision
//! (`first_acted_at`, kept by the report batch's update of its targets), with no pause: no
//! law gives a voluntary referral one. [`of`] reads both.

use takedown_protocol::pb::{LegalBasis, Outcome};

/// One hour, in milliseconds.
pub const ONE_HOUR_MS: i64 = 3_600_000;

/// Whether a decision leaves the content unreachable: the platform acted on it, or found
/// it gone.
pub fn is_acting(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Blocked | Outcome::AlreadyGone | Outcome::NotFound | Outcome::GeoBlocked
    )
}

/// Where a target stands on the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoClock {
    /// Not delivered, or not acted on yet.
    Running,
    /// Acted on within the hour (a removal order: net of pauses).
    WithinHour,
    /// Acted on, later.
    Late,
}

/// The clock of a target of `legal_basis`, delivered at `delivered_at`: a removal order's
/// net time to action is `ro_elapsed`; a ToS referral's is from delivery to
/// `first_acted_at` (an action before delivery counts as at delivery).
pub fn of(
    legal_basis: LegalBasis,
    delivered_at: Option<i64>,
    ro_elapsed: Option<i64>,
    first_acted_at: Option<i64>,
) -> RoClock {
    let elapsed = match (legal_basis, delivered_at) {
        (LegalBasis::RemovalOrder, Some(_)) => ro_elapsed,
        (LegalBasis::TosReferral, Some(d)) => first_acted_at.map(|a| (a - d).max(0)),
        _ => None,
    };
    match elapsed {
        Some(el) if el <= ONE_HOUR_MS => RoClock::WithinHour,
        Some(_) => RoClock::Late,
        None => RoClock::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RO: LegalBasis = LegalBasis::RemovalOrder;
    const TOS: LegalBasis = LegalBasis::TosReferral;

    #[test]
    fn each_basis_runs_its_own_clock() {
        let d = Some(1_000);
        // A removal order reads its net (paused) time, whatever its first action says.
        assert_eq!(
            of(RO, d, Some(ONE_HOUR_MS), Some(9 * ONE_HOUR_MS)),
            RoClock::WithinHour
        );
        assert_eq!(of(RO, d, Some(ONE_HOUR_MS + 1), None), RoClock::Late);
        assert_eq!(of(RO, d, None, Some(2_000)), RoClock::Running);
        // A ToS referral runs from delivery to its first action, with no pause.
        assert_eq!(
            of(TOS, d, None, Some(1_000 + ONE_HOUR_MS)),
            RoClock::WithinHour
        );
        assert_eq!(
            of(TOS, d, Some(10), Some(1_001 + ONE_HOUR_MS)),
            RoClock::Late
        );
        assert_eq!(of(TOS, d, None, Some(0)), RoClock::WithinHour);
        assert_eq!(of(TOS, d, None, None), RoClock::Running);
        // Nothing runs before delivery.
        assert_eq!(of(TOS, None, None, Some(5)), RoClock::Running);
        assert_eq!(of(RO, None, Some(5), None), RoClock::Running);
    }
}
