//! Figures as people read them: durations (`850 ms`, `2.4 s`, `3 min`), percentages,
//! percentile triples, condensed rejection breakdowns and the day's state.

use takedown_protocol::pb::{Percentiles, PlatformSummary, RejectCount, RejectReason};

/// What an absent figure reads as.
pub const NONE: &str = "—";

/// A duration in milliseconds: `850 ms`, `2.4 s`, `42 s`, `3 min`, `12 min`, `1.5 h`.
pub fn duration_ms(ms: u64) -> String {
    const SECOND: f64 = 1000.0;
    const MINUTE: f64 = 60.0 * SECOND;
    const HOUR: f64 = 60.0 * MINUTE;
    let v = ms as f64;
    if ms < 1000 {
        format!("{ms} ms")
    } else if v < 60.0 * SECOND {
        format!("{} s", one_decimal_below_ten(v / SECOND))
    } else if v < HOUR {
        format!("{} min", one_decimal_below_ten(v / MINUTE))
    } else {
        format!("{} h", one_decimal_below_ten(v / HOUR))
    }
}

/// One decimal below 10 (`2.4`, `3`), none from 10 on (`42`).
fn one_decimal_below_ten(v: f64) -> String {
    let s = if v < 9.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    match s.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => s,
    }
}

/// The three percentiles as durations, `None` when nothing was measured.
pub fn percentile_parts(p: Option<&Percentiles>) -> Option<[String; 3]> {
    p.filter(|p| p.count > 0)
        .map(|p| [p.p50_ms, p.p90_ms, p.p99_ms].map(duration_ms))
}

/// `p50 / p90 / p99`, or `—` when nothing was measured.
pub fn percentiles(p: Option<&Percentiles>) -> String {
    match percentile_parts(p) {
        Some(parts) => parts.join(" / "),
        None => NONE.to_string(),
    }
}

/// A share (0.0–1.0) as a percentage with one decimal: `85.0 %`.
pub fn percent(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1} %", share * 100.0)
    } else {
        NONE.to_string()
    }
}

/// `blocked / delivered` of a whole table; 0 when nothing was delivered.
pub fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A reject reason without the enum prefix: `NOT_A_VIOLATION`.
pub fn reason_name(reason: &str) -> &str {
    let r = reason.trim();
    r.strip_prefix("REJECT_REASON_").unwrap_or(r)
}

/// The short form of a reject reason: `NAV`, `INF`, `MAN`, `FM`, `OTH`; others by initials.
pub fn reason_abbrev(reason: &str) -> String {
    let name = reason_name(reason);
    let known = [
        (RejectReason::NotAViolation, "NAV"),
        (RejectReason::InsufficientInformation, "INF"),
        (RejectReason::ManifestError, "MAN"),
        (RejectReason::ForceMajeure, "FM"),
        (RejectReason::Other, "OTH"),
    ];
    for (r, abbrev) in known {
        if reason_name(r.as_str_name()) == name {
            return abbrev.to_string();
        }
    }
    let initials: String = name
        .split(|c: char| c == '_' || c.is_whitespace())
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect();
    if initials.is_empty() {
        "?".to_string()
    } else {
        initials
    }
}

/// The legend of the abbreviations used in `platforms`: `NAV = NOT_A_VIOLATION, ...`.
pub fn reason_legend(platforms: &[PlatformSummary]) -> String {
    let mut seen: Vec<(String, String)> = Vec::new();
    for r in platforms.iter().flat_map(|p| &p.rejected_by_reason) {
        let name = reason_name(&r.reason).to_string();
        if r.count > 0 && !seen.iter().any(|(_, n)| *n == name) {
            seen.push((reason_abbrev(&name), name));
        }
    }
    seen.iter()
        .map(|(a, n)| format!("{} = {}", clean(a), clean(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rejected count with its breakdown: `12 (NAV 8, INF 4)`; largest reasons first.
pub fn rejected(p: &PlatformSummary) -> String {
    rejected_breakdown(p.rejected, &p.rejected_by_reason)
}

/// `total (ABBREV n, ...)` for a rejected count and its reasons.
pub fn rejected_breakdown(total: u64, by_reason: &[RejectCount]) -> String {
    let reasons = reasons_condensed(by_reason);
    if reasons.is_empty() {
        total.to_string()
    } else {
        format!("{total} ({reasons})")
    }
}

/// `NAV 8, INF 4`: the reasons with a count, largest first; empty when none.
pub fn reasons_condensed(by_reason: &[RejectCount]) -> String {
    let mut parts: Vec<(&str, u64)> = by_reason
        .iter()
        .filter(|r| r.count > 0)
        .map(|r| (r.reason.as_str(), r.count))
        .collect();
    parts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    parts
        .iter()
        .map(|(reason, n)| format!("{} {n}", clean(&reason_abbrev(reason))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Removal orders: `acted within 1 h / acted / total`, `—` when there were none (the rest
/// of their figures is in [`removal_order_line`], and per platform in CSV and JSON).
pub fn removal_orders(within_hour: u64, acted: u64, total: u64) -> String {
    if total == 0 {
        NONE.to_string()
    } else {
        format!("{within_hour} / {acted} / {total}")
    }
}

/// The day's removal orders in one sentence (TCO Art 3(3), 3(7)-(8)), or `None` when
/// there were none: delivered, within the hour (and its share), late, standing
/// cannot-execute, and those acted on after a pause with the time their clocks stood still.
pub fn removal_order_line(t: &super::Totals) -> Option<String> {
    if t.removal_orders == 0 {
        return None;
    }
    let share = t.removal_orders_within_hour as f64 / t.removal_orders as f64;
    let mut line = format!(
        "{} delivered; {} within the hour ({}), {} late, {} cannot execute (clock paused)",
        t.removal_orders,
        t.removal_orders_within_hour,
        percent(share),
        t.removal_orders_late,
        t.removal_orders_cannot_execute
    );
    if t.removal_orders_resumed > 0 {
        line.push_str(&format!(
            "; {} acted on after a pause, paused {} in all",
            t.removal_orders_resumed,
            duration_ms(t.removal_orders_paused_ms)
        ));
    }
    if t.removal_orders_out_of_hours > 0 {
        line.push_str(&format!(
            "; {} delivered outside the platform's staffed hours",
            t.removal_orders_out_of_hours
        ));
    }
    Some(line)
}

/// The delivery circuit: `closed` or `OPEN`, with ` *` when there is a last error to read
/// below the table.
pub fn circuit(p: &PlatformSummary) -> String {
    let state = if p.circuit_open { "OPEN" } else { "closed" };
    if p.last_error.trim().is_empty() {
        state.to_string()
    } else {
        format!("{state} *")
    }
}

/// The text with control characters (terminal escapes, ...) replaced by `�`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// At most `max` characters on one line, control characters replaced, `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    let one_line = clean(&s.split_whitespace().collect::<Vec<_>>().join(" "));
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    let mut out = cut.trim_end().to_string();
    out.push('…');
    out
}

/// The day's state as a word: `ACTION_DAY_STATE_LIVE` → `live`.
pub fn state(state: &str) -> String {
    let s = state.trim();
    let s = s.strip_prefix("ACTION_DAY_STATE_").unwrap_or(s);
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(0), "0 ms");
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(1000), "1 s");
        assert_eq!(duration_ms(2400), "2.4 s");
        assert_eq!(duration_ms(42_300), "42 s");
        assert_eq!(duration_ms(180_000), "3 min");
        assert_eq!(duration_ms(90_000), "1.5 min");
        assert_eq!(duration_ms(12 * 60_000 + 20_000), "12 min");
        assert_eq!(duration_ms(5_400_000), "1.5 h");
        assert_eq!(duration_ms(36 * 3_600_000), "36 h");
    }

    #[test]
    fn percentiles_and_rates() {
        let p = Percentiles {
            count: 3,
            p50_ms: 850,
            p90_ms: 2400,
            p99_ms: 180_000,
        };
        assert_eq!(percentiles(Some(&p)), "850 ms / 2.4 s / 3 min");
        assert_eq!(percentiles(None), NONE);
        assert_eq!(percentiles(Some(&Percentiles { count: 0, ..p })), NONE);
        assert_eq!(percent(0.8512), "85.1 %");
        assert_eq!(rate(1, 0), 0.0);
        assert_eq!(rate(1, 4), 0.25);
    }

    #[test]
    fn rejections_condense_largest_first() {
        let p = PlatformSummary {
            rejected: 12,
            rejected_by_reason: vec![
                RejectCount {
                    reason: "INSUFFICIENT_INFORMATION".into(),
                    count: 4,
                },
                RejectCount {
                    reason: "REJECT_REASON_NOT_A_VIOLATION".into(),
                    count: 8,
                },
                RejectCount {
                    reason: "SOMETHING_NEW".into(),
                    count: 0,
                },
            ],
            ..Default::default()
        };
        assert_eq!(rejected(&p), "12 (NAV 8, INF 4)");
        assert_eq!(reason_abbrev("LEGAL_HOLD_ORDER"), "LHO");
        assert_eq!(
            reason_legend(std::slice::from_ref(&p)),
            "INF = INSUFFICIENT_INFORMATION, NAV = NOT_A_VIOLATION"
        );
        assert_eq!(
            rejected(&PlatformSummary {
                rejected: 3,
                ..Default::default()
            }),
            "3"
        );
    }

    #[test]
    fn states_and_circuits() {
        assert_eq!(state("ACTION_DAY_STATE_LIVE"), "live");
        assert_eq!(state("closed"), "closed");
        assert_eq!(state(""), "unknown");
        let mut p = PlatformSummary::default();
        assert_eq!(circuit(&p), "closed");
        p.circuit_open = true;
        assert_eq!(circuit(&p), "OPEN");
        p.last_error = "connection refused".into();
        assert_eq!(circuit(&p), "OPEN *");
        assert_eq!(shorten("evil\u{1b}[2Jname", 40), "evil\u{fffd}[2Jname");
        assert_eq!(
            shorten("connection refused\nby peer at 127.0.0.1:7443", 20),
            "connection refused…"
        );
    }
}
