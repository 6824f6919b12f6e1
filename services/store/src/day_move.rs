//! Moving an action day before its H-hour. Deliverability is the outbox's `next_at` (the
//! H-hour, set at intake), so a move carries the new H-hour down to every row that holds
//! it, in the transaction that also checks the day is still ahead of its H-hour and
//! rebuilds the day's rollups (their cells are keyed by due time). Intake reads the day's
//! H-hour in its own write transaction ([`crate::Store::insert_list`]), so a list taken in
//! while its day moves is due at the new H-hour, never the old one.
//!
//! The statements are the same text in both dialects (`$N` parameters, which SQLite
//! binds by number too).

use crate::codes::PENDING;
use crate::{
    StoreError, StoreResult,
    model::{DayMove, NewList},
};
use const_format::formatcp;

/// The day itself: `$1` its id, `$2` the new H-hour, `$3` the new end.
pub(crate) const MOVE_DAY: &str =
    "UPDATE action_days SET starts_at = $2, ends_at = $3 WHERE id = $1";

/// What becomes due at the new H-hour: `$1` the day, `$2` the new H-hour. Before the
/// release every pending delivery of the day waits for its H-hour.
pub(crate) const MOVE_DUE: [&str; 3] = [
    "UPDATE lists SET due_at = $2 WHERE action_day_id = $1",
    "UPDATE targets SET due_at = $2 WHERE action_day_id = $1",
    formatcp!(
        "UPDATE deliveries SET next_at = $2 WHERE state = {PENDING} \
     AND target_id IN (SELECT id FROM targets WHERE action_day_id = $1)"
    ),
];

/// The day as the move's transaction read it (`SELECT` [`DAY_STATE`]).
pub(crate) struct DayState {
    pub starts_at: i64,
    pub ends_at: i64,
    pub released_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// What the move reads first (SQLite: the write transaction already excludes every other
/// writer).
pub(crate) const DAY_STATE: &str =
    "SELECT starts_at, ends_at, released_at, closed_at FROM action_days WHERE id = $1";

/// [`DAY_STATE`], locking the row (PostgreSQL).
pub(crate) const DAY_STATE_FOR_UPDATE: &str = const_format::concatcp!(DAY_STATE, " FOR UPDATE");

/// Whether the day may move at `now` to `starts_at`: `Ok(new end)` (`ends_at`, or the old
/// end shifted with the H-hour), or the refusal.
pub(crate) fn plan(
    day: &DayState,
    starts_at: i64,
    ends_at: Option<i64>,
    now: i64,
) -> StoreResult<Result<i64, DayMove>> {
    if day.closed_at.is_some() {
        return Ok(Err(DayMove::Closed));
    }
    if day.released_at.is_some() || day.starts_at <= now {
        return Ok(Err(DayMove::Released {
            starts_at: day.starts_at,
        }));
    }
    let end = ends_at.unwrap_or_else(|| day.ends_at.saturating_add(starts_at - day.starts_at));
    if end <= starts_at {
        return Err(StoreError::Invalid {
            field: "ends_at".into(),
            message: "ends_at must be after the new starts_at".into(),
        });
    }
    Ok(Ok(end))
}

/// `list` due at its day's H-hour `h` as read in the intake transaction: itself, or a copy
/// in `moved` when the day moved since the caller read it.
pub(crate) fn due_at_h_hour<'a>(
    list: &'a NewList,
    h: Option<i64>,
    moved: &'a mut Option<NewList>,
) -> &'a NewList {
    match h {
        Some(h) if h != list.due_at => moved.insert(NewList {
            due_at: h,
            ..list.clone()
        }),
        _ => list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(released_at: Option<i64>, closed_at: Option<i64>) -> DayState {
        DayState {
            starts_at: 10_000,
            ends_at: 13_000,
            released_at,
            closed_at,
        }
    }

    #[test]
    fn a_day_ahead_of_its_h_hour_moves_and_keeps_its_length() {
        assert_eq!(
            plan(&day(None, None), 20_000, None, 5_000).unwrap(),
            Ok(23_000)
        );
        assert_eq!(
            plan(&day(None, None), 6_000, Some(7_000), 5_000).unwrap(),
            Ok(7_000)
        );
    }

    #[test]
    fn a_released_passed_or_closed_day_does_not_move() {
        let released = Err(DayMove::Released { starts_at: 10_000 });
        assert_eq!(
            plan(&day(Some(9_000), None), 20_000, None, 5_000).unwrap(),
            released
        );
        assert_eq!(
            plan(&day(None, None), 20_000, None, 10_000).unwrap(),
            released
        );
        assert_eq!(
            plan(&day(None, Some(1)), 20_000, None, 5_000).unwrap(),
            Err(DayMove::Closed)
        );
    }

    #[test]
    fn an_end_before_the_new_h_hour_names_ends_at() {
        match plan(&day(None, None), 20_000, Some(20_000), 5_000) {
            Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "ends_at"),
            other => panic!("{other:?}"),
        }
    }
}
