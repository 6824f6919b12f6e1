//! A target's legal basis is the strongest of its standing referrals: a removal order
//! above a terms-of-service referral, whichever agency referred the target first. The
//! removal-order reference it carries is that of its earliest standing order (each order
//! keeps its own reference on its referral, and the platform receives every referral).
//!
//! Re-derived when a list refers existing targets and when referrals are withdrawn, for
//! targets whose TAKEDOWN has not been sent yet: once the platform holds a target, its
//! basis is what the platform was told. [`rederive`] keeps the rollups in step.

use std::collections::HashMap;

use takedown_protocol::pb::LegalBasis;

use crate::{
    StoreResult,
    rollup::{self, RollupTx},
};

/// A not-yet-sent target's stored basis beside what its standing referrals make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing {
    pub id: i64,
    pub legal_basis: i32,
    pub removal_order_ref: String,
    /// The strongest basis among standing referrals (`None`: none stands).
    pub strongest: Option<i32>,
    /// The earliest standing removal order's reference (`None`: no order stands).
    pub order_ref: Option<String>,
}

/// The columns of [`Standing`], in order, as the backends read them.
pub(crate) type StandingRow = (i64, i32, String, Option<i32>, Option<String>);

impl From<StandingRow> for Standing {
    fn from(r: StandingRow) -> Self {
        Self {
            id: r.0,
            legal_basis: r.1,
            removal_order_ref: r.2,
            strongest: r.3,
            order_ref: r.4,
        }
    }
}

/// A target's new (basis, reference).
pub(crate) type Change = (i64, i32, String);

impl Standing {
    /// What the target should carry, when that differs from what it carries.
    fn change(&self) -> Option<Change> {
        let basis = self.strongest?;
        let reference = if basis == LegalBasis::RemovalOrder as i32 {
            self.order_ref.clone().unwrap_or_default()
        } else {
            String::new()
        };
        (basis != self.legal_basis || reference != self.removal_order_ref)
            .then_some((self.id, basis, reference))
    }
}

/// The backend's reads and writes for [`rederive`].
pub(crate) trait BasisTx: RollupTx {
    /// [`Standing`] of those of `ids` (sorted) whose TAKEDOWN was never attempted.
    fn standing(&mut self, ids: &[i64]) -> impl Future<Output = StoreResult<Vec<Standing>>> + Send;
    /// Stores each (target, basis, reference).
    fn set_basis(&mut self, changes: &[Change]) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Re-derives the basis of `ids` (sorted) from their standing referrals, in the caller's
/// transaction, moving the rollups of the targets whose basis changes.
pub(crate) async fn rederive<T: BasisTx>(tx: &mut T, ids: &[i64]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let changes: Vec<Change> = tx
        .standing(ids)
        .await?
        .iter()
        .filter_map(Standing::change)
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let changed: Vec<i64> = changes.iter().map(|c| c.0).collect();
    let before = tx.facts(&changed, false).await?;
    tx.set_basis(&changes).await?;
    let basis: HashMap<i64, i32> = changes.iter().map(|c| (c.0, c.1)).collect();
    let (before, after) = rollup::changed_by(before, |f| {
        if let Some(b) = basis.get(&f.id) {
            f.legal_basis = *b;
        }
    });
    rollup::moved(tx, before, after).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOS: i32 = LegalBasis::TosReferral as i32;
    const RO: i32 = LegalBasis::RemovalOrder as i32;

    fn standing(
        basis: i32,
        reference: &str,
        strongest: Option<i32>,
        order: Option<&str>,
    ) -> Standing {
        Standing {
            id: 7,
            legal_basis: basis,
            removal_order_ref: reference.into(),
            strongest,
            order_ref: order.map(String::from),
        }
    }

    #[test]
    fn the_strongest_standing_referral_decides() {
        // A removal order merged into a ToS referral raises it, with the order's reference.
        assert_eq!(
            standing(TOS, "", Some(RO), Some("RO-1")).change(),
            Some((7, RO, "RO-1".into()))
        );
        // The order withdrawn, a ToS referral standing: back to ToS, no reference.
        assert_eq!(
            standing(RO, "RO-1", Some(TOS), None).change(),
            Some((7, TOS, String::new()))
        );
        // The earliest order withdrawn, another standing: its reference.
        assert_eq!(
            standing(RO, "RO-1", Some(RO), Some("RO-2")).change(),
            Some((7, RO, "RO-2".into()))
        );
        // Nothing changes, or nothing stands (the target is withdrawn instead).
        assert_eq!(standing(RO, "RO-1", Some(RO), Some("RO-1")).change(), None);
        assert_eq!(standing(TOS, "", None, None).change(), None);
    }
}
