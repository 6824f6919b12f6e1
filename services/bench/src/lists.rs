//! Realistic referral lists: targets on five platforms in the URL and handle forms agencies
//! send, with a share of duplicates that restate an earlier target in another form (the
//! hub merges them by normalized target).

use anyhow::{Result, bail};
use takedown_protocol::{
    pb::{self, LegalBasis, TargetKind},
    target::normalize,
};

/// The platforms of the benchmarks.
pub const PLATFORMS: [&str; 5] = ["telegram", "tamtam", "x", "facebook", "youtube"];

/// The canonical and an alternative raw form of target `u` (made unique by `prefix`) on
/// `platform`; both normalize to the same target.
fn forms(platform: &str, prefix: &str, u: usize) -> (String, String, TargetKind) {
    let name = format!("{prefix}_{u:07}");
    match platform {
        "telegram" => (
            format!("https://t.me/{name}"),
            format!("@{name}"),
            TargetKind::Channel,
        ),
        "tamtam" => (
            format!("https://tamtam.chat/{name}"),
            format!("https://tt.me/{name}"),
            TargetKind::Channel,
        ),
        "x" => (
            format!(
                "https://x.com/{name}/status/{}",
                1_700_000_000_000u64 + u as u64
            ),
            format!(
                "https://twitter.com/{name}/status/{}?s=20",
                1_700_000_000_000u64 + u as u64
            ),
            TargetKind::Post,
        ),
        "facebook" => (
            format!("https://www.facebook.com/{name}"),
            format!("https://m.facebook.com/{name}/"),
            TargetKind::Account,
        ),
        _ => (
            format!("https://www.youtube.com/watch?v={name}"),
            format!("https://youtu.be/{name}"),
            TargetKind::Post,
        ),
    }
}

fn referral(platform: &str, raw: String, kind: TargetKind, u: usize) -> pb::Referral {
    let mut evidence = [0u8; 32];
    for (i, b) in evidence.iter_mut().enumerate() {
        *b = (u.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8;
    }
    pb::Referral {
        platform: platform.into(),
        kind: kind as i32,
        target: raw,
        category: "terrorist-propaganda".into(),
        legal_basis: LegalBasis::TosReferral as i32,
        removal_order_ref: String::new(),
        evidence_sha256: evidence.to_vec(),
        note: format!("case file {}", 4_000 + u % 997),
        removal_order: None,
    }
}

/// `n` referrals spread round-robin over the five platforms; every `dup_every`th item
/// (0 = none) restates an earlier target of the same platform in its alternative form.
pub fn referrals(n: usize, dup_every: usize, prefix: &str) -> Result<Vec<pb::Referral>> {
    let mut out = Vec::with_capacity(n);
    // Unique targets per platform so far (their numbers).
    let mut seen: [Vec<usize>; 5] = Default::default();
    let mut next = 0usize;
    for i in 0..n {
        let p = i % PLATFORMS.len();
        let platform = PLATFORMS[p];
        let dup = dup_every > 0 && i % dup_every == dup_every - 1 && !seen[p].is_empty();
        if dup {
            let pick = seen[p][(i.wrapping_mul(2_654_435_761)) % seen[p].len()];
            let (_, alt, kind) = forms(platform, prefix, pick);
            out.push(referral(platform, alt, kind, pick));
        } else {
            let u = next;
            next += 1;
            let (canonical, alt, kind) = forms(platform, prefix, u);
            if u < PLATFORMS.len() {
                let (a, b) = (normalize(platform, &canonical), normalize(platform, &alt));
                match (a, b) {
                    (Ok(a), Ok(b)) if a == b => {}
                    (a, b) => bail!("target forms disagree on {platform}: {a:?} vs {b:?}"),
                }
            }
            seen[p].push(u);
            out.push(referral(platform, canonical, kind, u));
        }
    }
    Ok(out)
}

/// How many distinct (platform, normalized target) pairs `referrals` name.
pub fn distinct_targets(referrals: &[pb::Referral]) -> Result<usize> {
    let mut set = std::collections::HashSet::new();
    for r in referrals {
        let n = normalize(&r.platform, &r.target)?;
        set.insert((r.platform.clone(), n.as_str().to_string()));
    }
    Ok(set.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_are_duplicates() {
        let r = referrals(1_000, 10, "t").expect("generated");
        assert_eq!(r.len(), 1_000);
        assert_eq!(distinct_targets(&r).expect("valid"), 900);
        let none = referrals(500, 0, "t").expect("generated");
        assert_eq!(distinct_targets(&none).expect("valid"), 500);
    }
}
