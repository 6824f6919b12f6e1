//! The summary rollups, kept by the store itself: one function ([`Delta::add`]) computes a
//! target's contribution to them from its facts, and every writer that changes those facts
//! adds the contributions before the change with sign -1 and after it with sign +1; each
//! backend applies the net [`Delta`] with one grouped upsert per rollup table, in the
//! transaction of the change. No database trigger takes part.
//!
//! The rollups (see the baseline migrations):
//! - `summary_cells`: targets per (day, agency, platform, due_at, state flags);
//! - `summary_latency`: histograms of release to acknowledgement (measure 0), release
//!   to action (measure 1) and the paused clocks of removal orders acted on after a pause
//!   (measure 2), truncated to three significant digits;
//! - `summary_blocks`: blocks per slot of `acted_at`, at the resolutions of [`LEVELS`];
//! - `summary_merged`: per agency, its targets that another agency referred too.
//!
//! Agency `""` is the whole day; every other agency is one referring agency's share (a
//! target referred by two agencies counts once for the day and once for each agency).

use std::collections::BTreeMap;
use std::future::Future;

use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use takedown_protocol::pb::{LegalBasis, Outcome};

use crate::StoreResult;

/// The measures of `summary_latency`: release to acknowledgement, release to action, and
/// the paused time of removal orders acted on after a pause.
pub(crate) const ACK: i32 = 0;
pub(crate) const ACTION: i32 = 1;
pub(crate) const PAUSED: i32 = 2;

/// The resolutions of `summary_blocks`, in seconds.
pub(crate) const LEVELS: [i64; 5] = [1, 10, 60, 600, 3600];

#[cfg(test)]
use crate::clock::ONE_HOUR_MS;

/// The stored facts of one target that the rollups depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub id: i64,
    /// `None` for the standing scope: no rollups.
    pub action_day_id: Option<String>,
    pub platform: String,
    pub due_at: i64,
    pub legal_basis: i32,
    pub delivered_at: Option<i64>,
    pub acked_at: Option<i64>,
    pub outcome: Option<i32>,
    pub reject_reason: Option<i32>,
    pub acted_at: Option<i64>,
    pub failed_at: Option<i64>,
    /// The removal-order clock: net milliseconds from delivery to the first action.
    pub ro_elapsed: Option<i64>,
    /// How long that clock stood still (0: never).
    pub ro_paused: Option<i64>,
    /// The earliest decision that left the content unreachable (a ToS referral's clock).
    pub first_acted_at: Option<i64>,
}

/// The columns of [`Facts`], for `SELECT`s of `targets`.
pub(crate) const FACT_COLUMNS: &str = "id, action_day_id, platform, due_at, legal_basis, \
     delivered_at, acked_at, outcome, reject_reason, acted_at, failed_at, ro_elapsed, ro_paused, \
     first_acted_at";

impl<'r, R> FromRow<'r, R> for Facts
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(r: &'r R) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            action_day_id: r.try_get("action_day_id")?,
            platform: r.try_get("platform")?,
            due_at: r.try_get("due_at")?,
            legal_basis: r.try_get("legal_basis")?,
            delivered_at: r.try_get("delivered_at")?,
            acked_at: r.try_get("acked_at")?,
            outcome: r.try_get("outcome")?,
            reject_reason: r.try_get("reject_reason")?,
            acted_at: r.try_get("acted_at")?,
            failed_at: r.try_get("failed_at")?,
            ro_elapsed: r.try_get("ro_elapsed")?,
            ro_paused: r.try_get("ro_paused")?,
            first_acted_at: r.try_get("first_acted_at")?,
        })
    }
}

pub(crate) const REMOVAL_ORDER: i32 = LegalBasis::RemovalOrder as i32;
const BLOCKED: i32 = Outcome::Blocked as i32;
const REJECTED: i32 = Outcome::Rejected as i32;

/// [`crate::clock::is_acting`] of a stored outcome.
pub(crate) fn is_acting(outcome: i32) -> bool {
    Outcome::try_from(outcome).is_ok_and(crate::clock::is_acting)
}

/// The state flags of a target's cell, the only place where they are derived from facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CellState {
    pub due_at: i64,
    pub removal_order: i32,
    pub delivered: i32,
    pub acked: i32,
    /// The latest decision's outcome, 0 for none.
    pub outcome: i32,
    /// The reject reason of a REJECTED outcome, 0 when unspecified, unknown or not rejected.
    pub reason: i32,
    pub failed: i32,
    /// 0: not acted on since delivery; 1: acted on within the hour; 2: later, by
    /// [`crate::clock::of`] (a removal order's paused clock, a ToS referral's plain one).
    pub ro_clock: i32,
}

/// What one target adds to the rollups of each of its agencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub cell: CellState,
    /// Release to acknowledgement, bucketed.
    pub ack_bucket: Option<i64>,
    /// Release to action (an acting decision), bucketed.
    pub action_bucket: Option<i64>,
    /// `acted_at` of a block.
    pub block_ms: Option<i64>,
    /// The paused time of a removal order acted on after a pause, bucketed.
    pub paused_bucket: Option<i64>,
}

/// A latency in milliseconds truncated to three significant digits (exact below 1 s).
pub(crate) fn bucket(v: i64) -> i64 {
    let mut unit = 1;
    let mut limit = 1000;
    while v >= limit && limit < 1_000_000_000 {
        unit *= 10;
        limit *= 10;
    }
    if v >= 1_000_000_000 {
        unit = 10_000_000;
    }
    v - v % unit
}

impl Facts {
    /// The facts of a target that intake of `list` creates for `item`.
    pub fn fresh(id: i64, list: &crate::model::NewList, item: &crate::model::NewReferral) -> Self {
        Self {
            id,
            action_day_id: list.action_day_id.as_ref().map(String::from),
            platform: String::from(&item.platform),
            due_at: list.due_at,
            legal_basis: item.legal_basis as i32,
            delivered_at: None,
            acked_at: None,
            outcome: None,
            reject_reason: None,
            acted_at: None,
            failed_at: None,
            ro_elapsed: None,
            ro_paused: None,
            first_acted_at: None,
        }
    }

    /// The target's contribution to the rollups.
    pub fn contribution(&self) -> Contribution {
        let removal_order = self.legal_basis == REMOVAL_ORDER;
        let decided = self.outcome.unwrap_or(0);
        let acting = is_acting(decided);
        let reason = match (decided, self.reject_reason) {
            (REJECTED, Some(r)) if (1..=5).contains(&r) => r,
            _ => 0,
        };
        let basis = LegalBasis::try_from(self.legal_basis).unwrap_or_default();
        let ro_clock = match crate::clock::of(
            basis,
            self.delivered_at,
            self.ro_elapsed,
            self.first_acted_at,
        ) {
            crate::clock::RoClock::Running => 0,
            crate::clock::RoClock::WithinHour => 1,
            crate::clock::RoClock::Late => 2,
        };
        Contribution {
            cell: CellState {
                due_at: self.due_at,
                removal_order: removal_order.into(),
                delivered: self.delivered_at.is_some().into(),
                acked: self.acked_at.is_some().into(),
                outcome: decided,
                reason,
                failed: self.failed_at.is_some().into(),
                ro_clock,
            },
            ack_bucket: self.acked_at.map(|a| bucket((a - self.due_at).max(0))),
            action_bucket: acting
                .then(|| bucket((self.acted_at.unwrap_or(0) - self.due_at).max(0))),
            block_ms: if decided == BLOCKED {
                self.acted_at
            } else {
                None
            },
            paused_bucket: self
                .ro_paused
                .filter(|p| ro_clock != 0 && *p > 0)
                .map(bucket),
        }
    }
}

/// A key of `summary_cells`, in primary-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CellKey<'a> {
    pub day: &'a str,
    pub agency: &'a str,
    pub platform: &'a str,
    pub state: CellState,
}

/// A key of `summary_latency`, in primary-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LatencyKey<'a> {
    pub day: &'a str,
    pub agency: &'a str,
    pub platform: &'a str,
    pub measure: i32,
    pub bucket: i64,
}

/// A key of `summary_blocks`, in primary-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BlockKey<'a> {
    pub day: &'a str,
    pub agency: &'a str,
    pub level: i64,
    pub slot: i64,
    pub platform: &'a str,
}

/// The net change of the rollups that a batch of changes makes, by key (sorted, so that
/// concurrent writers upsert rows in the same order). Keys borrow from the facts.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Delta<'a> {
    pub cells: BTreeMap<CellKey<'a>, i64>,
    pub latency: BTreeMap<LatencyKey<'a>, i64>,
    pub blocks: BTreeMap<BlockKey<'a>, i64>,
    /// (day, agency) → change of its merged targets.
    pub merged: BTreeMap<(&'a str, &'a str), i64>,
}

impl<'a> Delta<'a> {
    /// Adds `sign` times the contribution of a target with these facts and these distinct
    /// referring `agencies` (sorted): for the day (agency `""`) and for each agency; and, when
    /// two agencies or more referred it, one merged target for each of them.
    pub fn add(&mut self, facts: &'a Facts, agencies: &'a [String], sign: i64) {
        let Some(day) = facts.action_day_id.as_deref() else {
            return;
        };
        let c = facts.contribution();
        let platform = facts.platform.as_str();
        for agency in std::iter::once("").chain(agencies.iter().map(String::as_str)) {
            *self
                .cells
                .entry(CellKey {
                    day,
                    agency,
                    platform,
                    state: c.cell,
                })
                .or_default() += sign;
            for (measure, b) in [
                (ACK, c.ack_bucket),
                (ACTION, c.action_bucket),
                (PAUSED, c.paused_bucket),
            ] {
                if let Some(bucket) = b {
                    *self
                        .latency
                        .entry(LatencyKey {
                            day,
                            agency,
                            platform,
                            measure,
                            bucket,
                        })
                        .or_default() += sign;
                }
            }
            if let Some(ms) = c.block_ms {
                for level in LEVELS {
                    *self
                        .blocks
                        .entry(BlockKey {
                            day,
                            agency,
                            level,
                            slot: ms.div_euclid(level * 1000),
                            platform,
                        })
                        .or_default() += sign;
                }
            }
        }
        if agencies.len() >= 2 {
            for agency in agencies {
                *self.merged.entry((day, agency.as_str())).or_default() += sign;
            }
        }
    }

    /// Drops the keys whose changes cancelled out.
    pub fn prune(&mut self) {
        self.cells.retain(|_, n| *n != 0);
        self.latency.retain(|_, n| *n != 0);
        self.blocks.retain(|_, n| *n != 0);
        self.merged.retain(|_, n| *n != 0);
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
            && self.latency.is_empty()
            && self.blocks.is_empty()
            && self.merged.is_empty()
    }
}

/// The distinct referring agencies of each target, from (target id, agency) rows.
#[derive(Debug, Default)]
pub(crate) struct Agencies(std::collections::HashMap<i64, Vec<String>>);

impl Agencies {
    pub fn from_rows(rows: Vec<(i64, String)>) -> Self {
        let mut map: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for (target, agency) in rows {
            map.entry(target).or_default().push(agency);
        }
        for v in map.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        Self(map)
    }

    /// The agencies of a target (none when unknown).
    pub fn of(&self, target_id: i64) -> &[String] {
        self.0.get(&target_id).map_or(&[], Vec::as_slice)
    }

    /// Adds an agency to a target's (kept sorted and distinct).
    pub fn insert(&mut self, target_id: i64, agency: &str) {
        let v = self.0.entry(target_id).or_default();
        if let Err(pos) = v.binary_search_by(|a| a.as_str().cmp(agency)) {
            v.insert(pos, agency.to_string());
        }
    }
}

/// A change of targets whose rollups the store keeps: the facts and agencies before the
/// change, taken by the backend (on PostgreSQL with the rows locked until commit, so that
/// no concurrent writer changes them in between).
#[derive(Debug)]
pub(crate) struct Before {
    pub facts: Vec<Facts>,
    pub agencies: Agencies,
}

impl Before {
    /// The net change from these facts to `after` (the same targets, read after the change,
    /// with the same agencies).
    pub fn delta<'a>(&'a self, after: &'a [Facts]) -> Delta<'a> {
        let mut d = Delta::default();
        for f in &self.facts {
            d.add(f, self.agencies.of(f.id), -1);
        }
        for f in after {
            d.add(f, self.agencies.of(f.id), 1);
        }
        d.prune();
        d
    }
}

/// What an intake changes: its new targets count in with the list's agency as their only
/// one; existing targets (their facts and former agencies read before the referrals are
/// written) move from those agencies to these plus the list's.
#[derive(Debug)]
pub(crate) struct Intake {
    pub existing: Vec<Facts>,
    pub before: Agencies,
    after: Agencies,
}

impl Intake {
    pub fn new(agency: &str, fresh: &[Facts], existing: Vec<Facts>, before: Agencies) -> Self {
        let mut after = Agencies::default();
        for f in fresh {
            after.insert(f.id, agency);
        }
        for f in &existing {
            for a in before.of(f.id) {
                after.insert(f.id, a);
            }
            after.insert(f.id, agency);
        }
        Self {
            existing,
            before,
            after,
        }
    }

    /// The net change, `fresh` being the same new targets as given to [`Self::new`].
    pub fn delta<'a>(&'a self, fresh: &'a [Facts]) -> Delta<'a> {
        let mut d = Delta::default();
        for f in &self.existing {
            d.add(f, self.before.of(f.id), -1);
        }
        for f in fresh.iter().chain(&self.existing) {
            d.add(f, self.after.of(f.id), 1);
        }
        d.prune();
        d
    }
}

/// The contribution of every target of `facts` (a rebuild's page).
pub(crate) fn of_all<'a>(facts: &'a [Facts], agencies: &'a Agencies) -> Delta<'a> {
    let mut d = Delta::default();
    for f in facts {
        d.add(f, agencies.of(f.id), 1);
    }
    d.prune();
    d
}

/// What a backend's write transaction offers the rollup keeping below: reads of facts and
/// agencies, and the grouped upserts of a [`Delta`].
pub(crate) trait RollupTx: Send {
    /// The facts of the action-day targets among `ids` (sorted), by id; with `lock`, their
    /// rows stay locked against other writers until the transaction ends.
    fn facts(
        &mut self,
        ids: &[i64],
        lock: bool,
    ) -> impl Future<Output = StoreResult<Vec<Facts>>> + Send;
    /// Up to `limit` targets of a day with ids above `after_id`, by id.
    fn day_facts(
        &mut self,
        action_day_id: &str,
        after_id: i64,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Facts>>> + Send;
    /// The distinct referring agencies of `ids`.
    fn agencies(&mut self, ids: &[i64]) -> impl Future<Output = StoreResult<Agencies>> + Send;
    /// Adds a net change to the rollups: one upsert per table it touches, in key order.
    fn apply(&mut self, delta: &Delta<'_>) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A change of targets that keeps the rollups: [`Self::begin`] reads (and locks) the
/// targets' facts before the change, the caller changes them, [`Self::end`] reads them
/// again and applies the net difference, all in the caller's transaction.
pub(crate) struct Tracked {
    ids: Vec<i64>,
    before: Before,
}

impl Tracked {
    /// `targets` sorted (rows are locked in that order).
    pub async fn begin<T: RollupTx>(tx: &mut T, targets: &[i64]) -> StoreResult<Self> {
        let facts = tx.facts(targets, true).await?;
        let ids: Vec<i64> = facts.iter().map(|f| f.id).collect();
        let agencies = if ids.is_empty() {
            Agencies::default()
        } else {
            tx.agencies(&ids).await?
        };
        Ok(Self {
            ids,
            before: Before { facts, agencies },
        })
    }

    pub async fn end<T: RollupTx>(self, tx: &mut T) -> StoreResult<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let after = tx.facts(&self.ids, false).await?;
        tx.apply(&self.before.delta(&after)).await
    }
}

/// The rollups of a change whose writer knows each changed target's facts before and after
/// it (`before[i]` and `after[i]` are the same target): on SQLite, the one writer reads the
/// rows a statement will change and applies the change in Rust; on PostgreSQL, a statement
/// returns the rows it changed (`RETURNING`) and the change is undone in Rust. Neither reads
/// the facts twice, and PostgreSQL locks nothing beyond the statement's own rows.
pub(crate) async fn moved<T: RollupTx>(
    tx: &mut T,
    before: Vec<Facts>,
    after: Vec<Facts>,
) -> StoreResult<()> {
    debug_assert!(before.iter().zip(&after).all(|(b, a)| b.id == a.id));
    let ids: Vec<i64> = after
        .iter()
        .filter(|f| f.action_day_id.is_some())
        .map(|f| f.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let agencies = tx.agencies(&ids).await?;
    let before = Before {
        facts: before,
        agencies,
    };
    tx.apply(&before.delta(&after)).await
}

/// Facts changed by `change`, beside the originals: (before, after).
pub(crate) fn changed_by(
    before: Vec<Facts>,
    change: impl Fn(&mut Facts),
) -> (Vec<Facts>, Vec<Facts>) {
    let after = before
        .iter()
        .map(|f| {
            let mut a = f.clone();
            change(&mut a);
            a
        })
        .collect();
    (before, after)
}

/// The rollups of an intake (see [`Intake`]): call with the new targets' facts and the ids
/// of the existing ones before the referrals are written (it reads the former agencies,
/// with the existing targets locked).
pub(crate) async fn intake<T: RollupTx>(
    tx: &mut T,
    agency: &str,
    fresh: &[Facts],
    existing: &[i64],
) -> StoreResult<()> {
    let change = if existing.is_empty() {
        Intake::new(agency, fresh, Vec::new(), Agencies::default())
    } else {
        let mut ids = existing.to_vec();
        ids.sort_unstable();
        let facts = tx.facts(&ids, true).await?;
        let before = tx.agencies(&ids).await?;
        Intake::new(agency, fresh, facts, before)
    };
    tx.apply(&change.delta(fresh)).await
}

/// Adds the rollups of every target of a day (after its rollups were deleted), a page of
/// targets at a time.
pub(crate) async fn add_day<T: RollupTx>(tx: &mut T, action_day_id: &str) -> StoreResult<()> {
    const PAGE: i64 = 10_000;
    let mut after_id = i64::MIN;
    loop {
        let facts = tx.day_facts(action_day_id, after_id, PAGE).await?;
        let Some(last) = facts.last() else {
            return Ok(());
        };
        after_id = last.id;
        let ids: Vec<i64> = facts.iter().map(|f| f.id).collect();
        let agencies = tx.agencies(&ids).await?;
        tx.apply(&of_all(&facts, &agencies)).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            id: 1,
            action_day_id: Some("day".into()),
            platform: "video".into(),
            due_at: 10_000,
            legal_basis: 1,
            delivered_at: None,
            acked_at: None,
            outcome: None,
            reject_reason: None,
            acted_at: None,
            failed_at: None,
            ro_elapsed: None,
            ro_paused: None,
            first_acted_at: None,
        }
    }

    #[test]
    fn buckets_keep_three_significant_digits() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(999), 999);
        assert_eq!(bucket(1234), 1230);
        assert_eq!(bucket(98_765), 98_700);
        assert_eq!(bucket(123_456_789), 123_000_000);
        assert_eq!(bucket(1_234_567_890), 1_230_000_000);
        assert_eq!(bucket(12_345_678_901), 12_340_000_000);
    }

    #[test]
    fn a_fresh_target_counts_once_for_the_day_and_once_per_agency() {
        let f = facts();
        let agencies = vec!["a".to_string()];
        let mut d = Delta::default();
        d.add(&f, &agencies, 1);
        assert_eq!(d.cells.len(), 2);
        assert!(d.cells.values().all(|&n| n == 1));
        assert!(d.latency.is_empty() && d.blocks.is_empty() && d.merged.is_empty());
    }

    #[test]
    fn an_unchanged_target_cancels_out() {
        let f = facts();
        let agencies = vec!["a".to_string(), "b".to_string()];
        let before = Before {
            facts: vec![f.clone()],
            agencies: Agencies::from_rows(vec![(1, "b".into()), (1, "a".into())]),
        };
        assert!(before.delta(std::slice::from_ref(&f)).is_empty());
        let mut d = Delta::default();
        d.add(&f, &agencies, 1);
        assert_eq!(d.merged.len(), 2);
    }

    #[test]
    fn a_block_moves_the_cell_and_adds_latency_and_blocks() {
        let before = Before {
            facts: vec![facts()],
            agencies: Agencies::from_rows(vec![(1, "a".into())]),
        };
        let mut after = facts();
        after.delivered_at = Some(10_500);
        after.acked_at = Some(11_000);
        after.outcome = Some(BLOCKED);
        after.acted_at = Some(12_345);
        let d = before.delta(std::slice::from_ref(&after));
        // Two cells out, two in; two latencies per agency; five block levels per agency.
        assert_eq!(d.cells.len(), 4);
        assert_eq!(d.cells.values().sum::<i64>(), 0);
        assert_eq!(d.latency.len(), 4);
        assert!(d.latency.keys().any(|k| k.measure == 1 && k.bucket == 2340));
        assert_eq!(d.blocks.len(), 10);
        assert!(d.blocks.keys().any(|k| k.level == 10 && k.slot == 1));
    }

    #[test]
    fn removal_order_clock_and_reasons() {
        let mut f = facts();
        f.legal_basis = REMOVAL_ORDER;
        f.delivered_at = Some(1);
        f.ro_elapsed = Some(ONE_HOUR_MS);
        assert_eq!(f.contribution().cell.ro_clock, 1);
        f.ro_elapsed = Some(ONE_HOUR_MS + 1);
        assert_eq!(f.contribution().cell.ro_clock, 2);
        f.delivered_at = None;
        assert_eq!(f.contribution().cell.ro_clock, 0);
        f.outcome = Some(REJECTED);
        f.reject_reason = Some(9);
        assert_eq!(f.contribution().cell.reason, 0);
        f.reject_reason = Some(3);
        assert_eq!(f.contribution().cell.reason, 3);
        f.outcome = Some(BLOCKED);
        assert_eq!(f.contribution().cell.reason, 0);
    }

    #[test]
    fn standing_scope_targets_have_no_rollups() {
        let mut f = facts();
        f.action_day_id = None;
        let mut d = Delta::default();
        d.add(&f, &[], 1);
        assert!(d.is_empty());
    }
}
