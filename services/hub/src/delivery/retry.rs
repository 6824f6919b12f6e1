//! Retry policy: which failures are retried, the delay schedule with jitter, and the
//! per-platform circuit breaker.

use std::time::{Duration, Instant};

use rand::Rng;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// What to do with a batch after a failed Deliver call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Retry,
    Fail,
}

/// UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED (and transient server-side
/// failures) are retried; INVALID_ARGUMENT, PERMISSION_DENIED and the other caller errors
/// fail the delivery for good.
pub fn classify(code: Code) -> Verdict {
    match code {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Cancelled
        | Code::Internal
        | Code::Unknown => Verdict::Retry,
        Code::InvalidArgument
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::NotFound
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::DataLoss
        | Code::Ok => Verdict::Fail,
    }
}

/// A receiver asking the hub to slow down: RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo`
/// delay, cut to `max`. The platform answered, so this is flow control, not a failure: the
/// batch waits this delay (not its attempt's), the platform's worker pauses as long, and the
/// circuit breaker is not touched. Without a delay, RESOURCE_EXHAUSTED is retried like any
/// transient failure.
pub fn slow_down(status: &Status, max: Duration) -> Option<Duration> {
    if status.code() != Code::ResourceExhausted {
        return None;
    }
    let delay = status.get_error_details().retry_info()?.retry_delay?;
    Some(delay.min(max))
}

/// The delay before the next attempt after `attempts` attempts: the schedule's entry (the
/// last one repeats), spread by ±`jitter`.
pub fn delay_ms(schedule: &[u64], jitter: f64, attempts: i32, rng: &mut impl Rng) -> u64 {
    let i = (attempts.max(1) as usize - 1).min(schedule.len().saturating_sub(1));
    let base = schedule.get(i).copied().unwrap_or(1_000) as f64;
    let spread = if jitter > 0.0 {
        rng.random_range(-jitter..=jitter)
    } else {
        0.0
    };
    (base * (1.0 + spread)).max(0.0) as u64
}

/// A circuit breaker: after `threshold` consecutive failed batches the platform is paused
/// for `cooldown`; then one trial batch decides (success closes, failure reopens).
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: u32,
    open_until: Option<Instant>,
    last_error: Option<String>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            failures: 0,
            open_until: None,
            last_error: None,
        }
    }

    /// Records a success; true when it ended a run of failures (the circuit closes, or a
    /// failing platform answers again).
    pub fn success(&mut self) -> bool {
        let recovered = self.failures > 0;
        self.failures = 0;
        self.open_until = None;
        self.last_error = None;
        recovered
    }

    /// Records a failure; true when this opened the circuit.
    pub fn failure(&mut self, error: String, now: Instant) -> bool {
        self.failures += 1;
        self.last_error = Some(error);
        if self.failures >= self.threshold {
            let was_open = self.open_until.is_some_and(|u| u > now);
            self.open_until = Some(now + self.cooldown);
            return !was_open;
        }
        false
    }

    /// When open: until when.
    pub fn open_until(&self, now: Instant) -> Option<Instant> {
        self.open_until.filter(|u| *u > now)
    }

    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until(now).is_some()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn retried_and_final_codes() {
        for c in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            assert_eq!(classify(c), Verdict::Retry, "{c:?}");
        }
        for c in [Code::InvalidArgument, Code::PermissionDenied] {
            assert_eq!(classify(c), Verdict::Fail, "{c:?}");
        }
    }

    #[test]
    fn a_receivers_retry_delay_is_honoured_up_to_the_bound() {
        let max = Duration::from_secs(60);
        let asks = |code, delay| {
            Status::with_error_details(
                code,
                "slow down",
                tonic_types::ErrorDetails::with_retry_info(Some(delay)),
            )
        };
        let s = asks(Code::ResourceExhausted, Duration::from_secs(3));
        assert_eq!(slow_down(&s, max), Some(Duration::from_secs(3)));
        let s = asks(Code::ResourceExhausted, Duration::from_secs(3600));
        assert_eq!(slow_down(&s, max), Some(max), "cut to the bound");
        // Another code, or no delay: the ordinary retry schedule.
        let s = asks(Code::Unavailable, Duration::from_secs(3));
        assert_eq!(slow_down(&s, max), None);
        assert_eq!(slow_down(&Status::resource_exhausted("full"), max), None);
    }

    #[test]
    fn schedule_repeats_its_last_step_and_jitter_stays_in_bounds() {
        let mut rng = StdRng::seed_from_u64(7);
        let s = [100, 1_000, 10_000];
        assert_eq!(delay_ms(&s, 0.0, 1, &mut rng), 100);
        assert_eq!(delay_ms(&s, 0.0, 2, &mut rng), 1_000);
        assert_eq!(delay_ms(&s, 0.0, 9, &mut rng), 10_000);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = delay_ms(&s, 0.2, 3, &mut rng);
            assert!((8_000..=12_000).contains(&d), "{d}");
            seen.insert(d);
        }
        assert!(seen.len() > 50, "jitter spreads delays");
    }

    #[test]
    fn breaker_opens_after_threshold_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10));
        assert!(!b.failure("x".into(), t0));
        assert!(!b.failure("x".into(), t0));
        assert!(b.failure("down".into(), t0));
        assert!(b.is_open(t0 + Duration::from_secs(5)));
        assert!(!b.is_open(t0 + Duration::from_secs(11)));
        assert_eq!(b.last_error(), Some("down"));
        // The trial batch fails: open again at once.
        assert!(b.failure("still down".into(), t0 + Duration::from_secs(11)));
        assert!(b.success(), "the trial's success ends the run of failures");
        assert!(!b.is_open(t0 + Duration::from_secs(12)));
        assert_eq!(b.last_error(), None);
        assert!(!b.success(), "nothing to recover from");
    }
}
