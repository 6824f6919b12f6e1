//! `auto`: a deterministic simulated moderation, for demos, tests and benchmarks.
//!
//! Per target, SHA-256(seed ‖ target id) gives a number u in [0, 1): u < block_share →
//! BLOCKED; then reject_share → REJECTED (reject_reason); then gone_share → ALREADY_GONE;
//! above that the target stays acknowledged only. A second number picks the delay, uniform
//! in [min_delay_ms, max_delay_ms]. Withdrawals are answered RESTORED. A removal order is
//! never rejected as NOT_A_VIOLATION (a binding order is executed or answered on an Annex
//! III ground): with that reject_reason, its rejections are INSUFFICIENT_INFORMATION.

use sha2::{Digest, Sha256};
use takedown_protocol::pb;

use crate::{
    config::{AutoSettings, parse_reject_reason},
    document::{Kind, OutcomeName, PlatformOutcome, ReasonName, rfc3339},
};

/// The policy.
#[derive(Debug, Clone)]
pub struct Auto {
    settings: AutoSettings,
    reason: ReasonName,
}

impl Auto {
    pub fn new(settings: AutoSettings) -> Self {
        let reason = match parse_reject_reason(&settings.reject_reason) {
            Some(pb::RejectReason::InsufficientInformation) => ReasonName::InsufficientInformation,
            Some(pb::RejectReason::ManifestError) => ReasonName::ManifestError,
            Some(pb::RejectReason::ForceMajeure) => ReasonName::ForceMajeure,
            Some(pb::RejectReason::Other) => ReasonName::Other,
            _ => ReasonName::NotAViolation,
        };
        Self { settings, reason }
    }

    fn draws(&self, target_id: &str) -> (f64, f64) {
        let mut h = Sha256::new();
        h.update(self.settings.seed.to_be_bytes());
        h.update(target_id.as_bytes());
        let d: [u8; 32] = h.finalize().into();
        let unit = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            (u64::from_be_bytes(a) >> 11) as f64 / (1u64 << 53) as f64
        };
        (unit(&d[..8]), unit(&d[8..16]))
    }

    /// The decision on one target and when it is reported (Unix ms), if any.
    pub fn decide(
        &self,
        target_id: &str,
        kind: Kind,
        removal_order: bool,
        handed_at_ms: i64,
    ) -> Option<(PlatformOutcome, i64)> {
        let s = &self.settings;
        let (u, v) = self.draws(target_id);
        let span = s.max_delay_ms.saturating_sub(s.min_delay_ms);
        let delay = s.min_delay_ms + ((span as f64 + 1.0) * v).floor().min(span as f64) as u64;
        let due = handed_at_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        let (outcome, reason) = match kind {
            Kind::Withdrawal => (OutcomeName::Restored, None),
            Kind::Takedown if u < s.block_share => (OutcomeName::Blocked, None),
            Kind::Takedown if u < s.block_share + s.reject_share => {
                let reason = match self.reason {
                    ReasonName::NotAViolation if removal_order => {
                        ReasonName::InsufficientInformation
                    }
                    r => r,
                };
                (OutcomeName::Rejected, Some(reason))
            }
            Kind::Takedown if u < s.block_share + s.reject_share + s.gone_share => {
                (OutcomeName::AlreadyGone, None)
            }
            Kind::Takedown => return None,
        };
        Some((
            PlatformOutcome {
                target_id: target_id.to_string(),
                outcome,
                reason,
                text: "decided by the sidecar's auto policy".into(),
                acted_at: Some(rfc3339(due)),
                report_id: None,
            },
            due,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(block: f64, reject: f64, gone: f64) -> AutoSettings {
        AutoSettings {
            block_share: block,
            reject_share: reject,
            gone_share: gone,
            min_delay_ms: 100,
            max_delay_ms: 200,
            ..AutoSettings::default()
        }
    }

    #[test]
    fn shares_are_roughly_kept_and_runs_repeat() {
        let a = Auto::new(settings(0.5, 0.2, 0.1));
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            let id = format!("t-{i}");
            let d = a.decide(&id, Kind::Takedown, false, 1_000);
            assert_eq!(
                d,
                a.decide(&id, Kind::Takedown, false, 1_000),
                "deterministic"
            );
            match d.map(|(o, due)| {
                assert!((1_100..=1_200).contains(&due), "delay {due}");
                o.outcome
            }) {
                Some(OutcomeName::Blocked) => counts[0] += 1,
                Some(OutcomeName::Rejected) => counts[1] += 1,
                Some(OutcomeName::AlreadyGone) => counts[2] += 1,
                None => counts[3] += 1,
                other => panic!("{other:?}"),
            }
        }
        for (got, want) in counts.iter().zip([2000, 800, 400, 800]) {
            assert!((*got as i64 - want).abs() < 150, "{counts:?}");
        }
        let all = Auto::new(settings(1.0, 0.0, 0.0));
        assert!((0..100).all(|i| {
            all.decide(&format!("x{i}"), Kind::Takedown, false, 0)
                .is_some_and(|(o, _)| o.outcome == OutcomeName::Blocked)
        }));
        let (o, _) = all.decide("w", Kind::Withdrawal, false, 0).unwrap();
        assert_eq!(o.outcome, OutcomeName::Restored);
        // A removal order is refused on an Annex III ground, never as no violation.
        let refuse = Auto::new(settings(0.0, 1.0, 0.0));
        let reason = |ro| refuse.decide("r", Kind::Takedown, ro, 0).unwrap().0.reason;
        assert_eq!(reason(false), Some(ReasonName::NotAViolation));
        assert_eq!(reason(true), Some(ReasonName::InsufficientInformation));
    }
}
