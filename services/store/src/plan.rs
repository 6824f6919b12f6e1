//! Backend-independent work done in memory around the queries: deduplicating a list's
//! items before their targets are written, reducing a batch of reports to its effect on
//! each target, and assembling delivery payloads.

use std::collections::{HashMap, HashSet};

use crate::model::{
    IntakeSummary, LegalBasis, NewList, NewReferral, NewReport, OrgId, RejectReason, ReportBody,
    TargetId, TargetPayload,
};

/// A list's items grouped by target.
pub(crate) struct IntakePlan {
    /// The representative item of each distinct (platform, normalized) pair, sorted by
    /// that pair so that concurrent writers touch targets in the same order: its first
    /// removal order, else its first item (a new target takes its fields; see
    /// [`crate::basis`]).
    pub unique: Vec<usize>,
    /// For each item, its position in `unique`.
    pub slot: Vec<usize>,
}

impl IntakePlan {
    pub fn new(items: &[NewReferral]) -> Self {
        let mut first: HashMap<(&str, &str), usize> = HashMap::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            let rep = first
                .entry((it.platform.as_str(), it.normalized.as_str()))
                .or_insert(i);
            if it.legal_basis == LegalBasis::RemovalOrder
                && items[*rep].legal_basis != LegalBasis::RemovalOrder
            {
                *rep = i;
            }
        }
        let mut unique: Vec<usize> = first.values().copied().collect();
        unique.sort_unstable_by(|&a, &b| {
            (items[a].platform.as_str(), items[a].normalized.as_str())
                .cmp(&(items[b].platform.as_str(), items[b].normalized.as_str()))
        });
        let position: HashMap<(&str, &str), usize> = unique
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                (
                    (items[i].platform.as_str(), items[i].normalized.as_str()),
                    pos,
                )
            })
            .collect();
        let slot = items
            .iter()
            .map(|it| position[&(it.platform.as_str(), it.normalized.as_str())])
            .collect();
        Self { unique, slot }
    }

    /// Position in `unique` of each (platform, normalized) pair.
    pub fn positions<'a>(&self, items: &'a [NewReferral]) -> HashMap<(&'a str, &'a str), usize> {
        self.unique
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                (
                    (items[i].platform.as_str(), items[i].normalized.as_str()),
                    pos,
                )
            })
            .collect()
    }

    /// The summary once every distinct target has an id (`ids[pos]` for `unique[pos]`).
    pub fn summary(&self, ids: &[i64], new_targets: usize) -> IntakeSummary {
        let target_ids: Vec<TargetId> = self
            .slot
            .iter()
            .map(|&pos| TargetId::new(ids[pos]))
            .collect();
        let new_targets = u32::try_from(new_targets).unwrap_or(u32::MAX);
        let total = u32::try_from(target_ids.len()).unwrap_or(u32::MAX);
        IntakeSummary {
            new_targets,
            merged: total.saturating_sub(new_targets),
            target_ids,
        }
    }
}

/// The latest decision about one target in a batch of reports.
#[derive(Clone, Copy)]
pub(crate) struct Decision<'a> {
    pub outcome: i32,
    /// `None` when the platform gave no reason (0).
    pub reject_reason: Option<i32>,
    /// `None` when empty.
    pub text: Option<&'a str>,
    pub at: i64,
}

/// What the newly recorded reports of a batch change on one target: applied in one
/// update, so that the row changes once per batch.
pub(crate) struct TargetEffect<'a> {
    pub target_id: i64,
    /// The earliest acknowledgement time.
    pub ack: Option<i64>,
    pub decision: Option<Decision<'a>>,
    /// The earliest decision that leaves the content unreachable, whichever decision is
    /// the latest (`targets.first_acted_at`).
    pub first_act: Option<i64>,
}

/// What the newly recorded reports of a batch change on their targets.
pub(crate) struct ReportEffects<'a> {
    /// By target id.
    pub targets: Vec<TargetEffect<'a>>,
}

impl<'a> ReportEffects<'a> {
    /// Reduces the reports whose ids were stored by this call (`recorded`; the first
    /// occurrence of an id repeated in the batch is the stored one). Acknowledgements keep
    /// the earliest time; decisions keep the latest (a later report wins a tie).
    pub fn new(reports: &'a [NewReport], recorded: &HashSet<String>) -> Self {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut targets: HashMap<i64, TargetEffect<'a>> = HashMap::new();
        for r in reports {
            if !recorded.contains(&r.report_id) || !seen.insert(r.report_id.as_str()) {
                continue;
            }
            let effect = || TargetEffect {
                target_id: r.target_id.get(),
                ack: None,
                decision: None,
                first_act: None,
            };
            match r.body {
                ReportBody::Acknowledgement => {
                    let e = targets.entry(r.target_id.get()).or_insert_with(effect);
                    e.ack = Some(e.ack.map_or(r.at, |at| at.min(r.at)));
                }
                ReportBody::Decision { outcome, reason } => {
                    let e = targets.entry(r.target_id.get()).or_insert_with(effect);
                    if crate::clock::is_acting(outcome) {
                        e.first_act = Some(e.first_act.map_or(r.at, |at| at.min(r.at)));
                    }
                    if e.decision.is_none_or(|d| r.at >= d.at) {
                        e.decision = Some(Decision {
                            outcome: outcome as i32,
                            reject_reason: (reason != RejectReason::Unspecified)
                                .then_some(reason as i32),
                            text: (!r.text.is_empty()).then_some(r.text.as_str()),
                            at: r.at,
                        });
                    }
                }
                ReportBody::Restoration(_) => {}
            }
        }
        let mut targets: Vec<TargetEffect<'a>> = targets.into_values().collect();
        targets.sort_unstable_by_key(|t| t.target_id);
        Self { targets }
    }

    /// The targets that received a decision.
    pub fn decided(&self) -> Vec<i64> {
        self.targets
            .iter()
            .filter(|t| t.decision.is_some())
            .map(|t| t.target_id)
            .collect()
    }
}

/// Applies a batch's effects: the acknowledgement when it is earlier than the stored one,
/// the decision when it is not older than the stored one, the first action when it is
/// earlier than the stored one. Placeholders, per row: target id, acknowledgement time,
/// outcome, reason, text, decision time, first action time (NULL where the batch has
/// none); the dialects bind them as `u(id, ack, outcome, reason, txt, at, act)`.
macro_rules! apply_effects_set {
    ($t:literal) => {
        concat!(
            "acked_at = CASE WHEN u.ack IS NOT NULL AND (",
            $t,
            "acked_at IS NULL OR ",
            $t,
            "acked_at > u.ack) THEN u.ack ELSE ",
            $t,
            "acked_at END, ",
            "outcome = CASE WHEN u.at IS NOT NULL AND (",
            $t,
            "acted_at IS NULL OR ",
            $t,
            "acted_at <= u.at) THEN u.outcome ELSE ",
            $t,
            "outcome END, ",
            "reject_reason = CASE WHEN u.at IS NOT NULL AND (",
            $t,
            "acted_at IS NULL OR ",
            $t,
            "acted_at <= u.at) THEN u.reason ELSE ",
            $t,
            "reject_reason END, ",
            "outcome_text = CASE WHEN u.at IS NOT NULL AND (",
            $t,
            "acted_at IS NULL OR ",
            $t,
            "acted_at <= u.at) THEN u.txt ELSE ",
            $t,
            "outcome_text END, ",
            "acted_at = CASE WHEN u.at IS NOT NULL AND (",
            $t,
            "acted_at IS NULL OR ",
            $t,
            "acted_at <= u.at) THEN u.at ELSE ",
            $t,
            "acted_at END, ",
            "first_acted_at = CASE WHEN u.act IS NOT NULL AND (",
            $t,
            "first_acted_at IS NULL OR ",
            $t,
            "first_acted_at > u.act) THEN u.act ELSE ",
            $t,
            "first_acted_at END"
        )
    };
}
pub(crate) use apply_effects_set;

/// The rows of an effects update that change something (`t` names the targets table).
macro_rules! apply_effects_where {
    ($t:literal) => {
        concat!(
            "((u.ack IS NOT NULL AND (",
            $t,
            "acked_at IS NULL OR ",
            $t,
            "acked_at > u.ack)) ",
            "OR (u.at IS NOT NULL AND (",
            $t,
            "acted_at IS NULL OR ",
            $t,
            "acted_at <= u.at)) ",
            "OR (u.act IS NOT NULL AND (",
            $t,
            "first_acted_at IS NULL OR ",
            $t,
            "first_acted_at > u.act)))"
        )
    };
}
pub(crate) use apply_effects_where;

/// The distinct target ids of a batch of reports, sorted.
pub(crate) fn report_targets(reports: &[NewReport]) -> Vec<i64> {
    let mut ids: Vec<i64> = reports.iter().map(|r| r.target_id.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Why a batch of reports is refused, if it is: the first report whose target is not
/// among `delivered` (target id to its legal basis), else the first that answers a
/// removal order NOT_A_VIOLATION.
pub(crate) fn refusal(
    reports: &[NewReport],
    delivered: &HashMap<i64, i32>,
) -> Option<crate::model::ReportRefusal> {
    use crate::model::{Outcome, ReportRefusal};
    if let Some((index, r)) = reports
        .iter()
        .enumerate()
        .find(|(_, r)| !delivered.contains_key(&r.target_id.get()))
    {
        return Some(ReportRefusal::NotDelivered {
            index,
            target_id: r.target_id,
        });
    }
    reports
        .iter()
        .enumerate()
        .find(|(_, r)| {
            matches!(
                r.body,
                ReportBody::Decision {
                    outcome: Outcome::Rejected,
                    reason: RejectReason::NotAViolation,
                }
            ) && delivered.get(&r.target_id.get()) == Some(&(LegalBasis::RemovalOrder as i32))
        })
        .map(|(index, r)| ReportRefusal::NotAViolationOfAnOrder {
            index,
            target_id: r.target_id,
        })
}

/// Attaches referrals (target id, payload) to their targets; both sorted by the caller
/// (targets by id, referrals by target, list id, item index).
pub(crate) fn attach(
    mut targets: Vec<TargetPayload>,
    referrals: Vec<crate::rows::ReferralRow>,
) -> Vec<TargetPayload> {
    targets.sort_unstable_by_key(|t| t.target_id);
    let pos: HashMap<TargetId, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.target_id, i))
        .collect();
    for r in referrals {
        if let Some(&i) = pos.get(&r.target_id) {
            targets[i].referrals.push(r.payload);
        }
    }
    for t in &mut targets {
        t.referrals
            .sort_by(|a, b| (&a.list_id, a.item_index).cmp(&(&b.list_id, b.item_index)));
    }
    targets
}

/// Sorted, deduplicated copy of names.
pub(crate) fn sorted_set<T: Clone + Ord>(names: &[T]) -> Vec<T> {
    let mut v = names.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Sorted, deduplicated ids.
pub(crate) fn sorted_ids<I: Copy + Into<i64>>(ids: &[I]) -> Vec<i64> {
    let mut v: Vec<i64> = ids.iter().map(|&id| id.into()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The stored list a resubmission names: who submitted it, its content hash and its answer.
pub(crate) struct StoredList {
    pub agency_id: OrgId,
    pub content_sha256: Vec<u8>,
    pub new_targets: i64,
    pub merged: i64,
}

/// Idempotency: the same agency and content get the stored answer
/// ([`duplicate_answer`]); anything else under the same list id is a conflict.
pub(crate) fn resubmission(list: &NewList, stored: &StoredList) -> Result<(), crate::StoreError> {
    if stored.agency_id != list.agency_id || stored.content_sha256 != list.content_sha256 {
        return Err(crate::StoreError::Conflict(format!(
            "list {:?} already exists with other content",
            list.list_id
        )));
    }
    Ok(())
}

/// The stored answer of an identical resubmission.
pub(crate) fn duplicate_answer(
    stored: &StoredList,
    target_ids: Vec<i64>,
) -> Result<crate::IntakeResult, sqlx::Error> {
    Ok(crate::IntakeResult::Duplicate(IntakeSummary {
        new_targets: crate::rows::count(stored.new_targets)?,
        merged: crate::rows::count(stored.merged)?,
        target_ids: target_ids.into_iter().map(TargetId::new).collect(),
    }))
}
