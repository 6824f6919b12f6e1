//! The stored numbers of the enumerations, by name, for SQL text. Statements name the
//! states and kinds they test (`state IN ({PENDING}, {INFLIGHT})`, formatted in at compile
//! time with `const_format::formatcp!` or at run time with `format!`) instead of spelling
//! numbers; the text the database sees still holds literals, which the partial indexes
//! need (`deliveries_due … WHERE state IN (0, 1)`: a bound parameter would not match it).

use crate::model::{DeliveryKind, DeliveryState, LegalBasis, Outcome, RejectReason, ReportKind};

/// `deliveries.state`.
pub(crate) const PENDING: i32 = DeliveryState::Pending as i32;
pub(crate) const INFLIGHT: i32 = DeliveryState::Inflight as i32;
pub(crate) const DELIVERED: i32 = DeliveryState::Delivered as i32;
pub(crate) const FAILED: i32 = DeliveryState::Failed as i32;

/// `deliveries.kind`.
pub(crate) const TAKEDOWN: i32 = DeliveryKind::Takedown as i32;
pub(crate) const WITHDRAWAL: i32 = DeliveryKind::Withdrawal as i32;

/// `legal_basis` of referrals and targets.
pub(crate) const REMOVAL_ORDER: i32 = LegalBasis::RemovalOrder as i32;

/// `outcome` of targets, reports and rollup cells (0: no decision).
pub(crate) const UNDECIDED: i32 = Outcome::Unspecified as i32;
pub(crate) const BLOCKED: i32 = Outcome::Blocked as i32;
pub(crate) const ALREADY_GONE: i32 = Outcome::AlreadyGone as i32;
pub(crate) const NOT_FOUND: i32 = Outcome::NotFound as i32;
pub(crate) const GEO_BLOCKED: i32 = Outcome::GeoBlocked as i32;
pub(crate) const REJECTED: i32 = Outcome::Rejected as i32;

/// `reason` of a rejection.
pub(crate) const NO_REASON: i32 = RejectReason::Unspecified as i32;
pub(crate) const NOT_A_VIOLATION: i32 = RejectReason::NotAViolation as i32;
pub(crate) const INSUFFICIENT_INFORMATION: i32 = RejectReason::InsufficientInformation as i32;
pub(crate) const MANIFEST_ERROR: i32 = RejectReason::ManifestError as i32;
pub(crate) const FORCE_MAJEURE: i32 = RejectReason::ForceMajeure as i32;
pub(crate) const OTHER_REASON: i32 = RejectReason::Other as i32;

/// `reports.kind`.
pub(crate) const DECISION: i32 = ReportKind::Decision as i32;

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers the migrations' partial indexes and checks spell out.
    #[test]
    fn the_numbers_the_schema_spells() {
        assert_eq!((PENDING, INFLIGHT, DELIVERED, FAILED), (0, 1, 2, 3));
        assert_eq!((TAKEDOWN, WITHDRAWAL), (1, 2));
        assert_eq!(REMOVAL_ORDER, 2);
        // The acting outcomes are BLOCKED ..= GEO_BLOCKED (`BETWEEN` in the clock).
        assert_eq!((UNDECIDED, BLOCKED, GEO_BLOCKED, REJECTED), (0, 1, 4, 5));
        // The cannot-execute reasons are consecutive (`IN` lists them).
        assert_eq!(
            (
                NO_REASON,
                NOT_A_VIOLATION,
                INSUFFICIENT_INFORMATION,
                FORCE_MAJEURE,
                OTHER_REASON
            ),
            (0, 1, 2, 4, 5)
        );
        assert_eq!(DECISION, 2);
    }
}
