//! Platform rate caps: how much of its due outbox a claim may take, so that a platform
//! capped at N deliveries per minute never receives more than N in any minute, whichever
//! hub replica claims.
//!
//! Each claim adds what it took to the platform's count for the current second
//! (`platform_sends`). A claim counts the current second and the [`COUNTED_SECONDS`]
//! before it: any earlier send was claimed more than 61 seconds before, so two sends the
//! platform could see within one minute of each other are always counted together, with a
//! second to spare for the time a batch takes to arrive. A send counts at every attempt (a
//! retried batch reaches the platform again).

/// The whole seconds before the current one whose sends a claim counts.
pub(crate) const COUNTED_SECONDS: i64 = 62;

/// Counts older than this many seconds are deleted by the claims themselves.
pub(crate) const KEPT_SECONDS: i64 = 120;

/// The unix second of `now_ms`, under which a claim's sends are counted.
pub(crate) fn second(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000)
}

/// The first second a claim at `now_ms` counts.
pub(crate) fn counted_from(now_ms: i64) -> i64 {
    second(now_ms) - COUNTED_SECONDS
}

/// How many deliveries a claim wanting `want` may take under `cap` per minute, with `sent`
/// counted in the window.
pub(crate) fn allowance(cap: i64, sent: i64, want: u32) -> u32 {
    u32::try_from((cap - sent).clamp(0, i64::from(want))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_takes_what_the_window_leaves() {
        assert_eq!(allowance(10, 0, 32), 10);
        assert_eq!(allowance(10, 4, 32), 6);
        assert_eq!(allowance(10, 10, 32), 0);
        assert_eq!(allowance(10, 12, 32), 0, "never negative");
        assert_eq!(allowance(1000, 0, 32), 32, "never more than wanted");
    }

    #[test]
    fn the_window_reaches_past_a_minute() {
        let now = 1_700_000_000_500;
        // A send 61.5 s earlier is still counted; one 63 s earlier is not.
        assert!(second(now - 61_500) >= counted_from(now));
        assert!(second(now - 63_000) < counted_from(now));
        // Whatever the fraction of the second, anything within 61 s is counted.
        for ms in [0, 1, 999] {
            let t = 1_700_000_000_000 + ms;
            assert!(second(t - 61_000) >= counted_from(t), "{ms}");
        }
    }
}
