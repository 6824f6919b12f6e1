//! The removal-order clock: the one definition of "acted on within one hour" that the
//! summary, its reports and every export use.
//!
//! The hour runs from the order's receipt by the platform (its delivery to the platform's
//! receiver, `delivered_at`; TCO Regulation Art 3(3)) to the first decision that leaves
//! the content unreachable ([`is_acting`]: BLOCKED, ALREADY_GONE, NOT_FOUND, GEO_BLOCKED).
//! It pauses while a cannot-execute answer on an Annex III ground (INSUFFICIENT_INFORMATION,
//! MANIFEST_ERROR, FORCE_MAJEURE) awaits clarification, i.e. until the platform's next
//! decision (Art 3(7)-(8)). The store computes the net time as each report batch arrives
//! and keeps it as the target's `ro_elapsed`; [`of`] reads it.

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
    /// Not a delivered removal order, or not acted on yet.
    Running,
    /// Acted on within the hour (net of pauses).
    WithinHour,
    /// Acted on, later.
    Late,
}

/// The clock of a target of `legal_basis`, delivered at `delivered_at`, whose net time to
/// action is `ro_elapsed`.
pub fn of(legal_basis: LegalBasis, delivered_at: Option<i64>, ro_elapsed: Option<i64>) -> RoClock {
    match (legal_basis, delivered_at, ro_elapsed) {
        (LegalBasis::RemovalOrder, Some(_), Some(el)) if el <= ONE_HOUR_MS => RoClock::WithinHour,
        (LegalBasis::RemovalOrder, Some(_), Some(_)) => RoClock::Late,
        _ => RoClock::Running,
    }
}
