//! Times and durations as people type them on a command line.
//!
//! An instant is RFC 3339 (`2026-11-30T06:00:00Z`), `now`, or relative to now: `+30s`,
//! `+5m`, `+2h`, `+1d` (the `+` may be left out: `48h`). A duration is one or more
//! `<number><unit>` parts with units `s`, `m`, `h`, `d` (`90s`, `1h30m`, `2d`).

use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

/// Why a time or duration could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    #[error("empty duration")]
    EmptyDuration,
    #[error(
        "duration {0:?} is not of the form <number><unit> with units s, m, h, d (e.g. 30s, 5m, 1h30m, 2d)"
    )]
    BadDuration(String),
    #[error("duration {0:?} is too large")]
    DurationTooLarge(String),
    #[error(
        "time {0:?} is neither RFC 3339 (2026-11-30T06:00:00Z), nor now, nor relative (+30s, +5m, +2h, +1d)"
    )]
    BadInstant(String),
    #[error("time {0:?} is out of range")]
    OutOfRange(String),
}

/// Parses a duration such as `30s`, `5m`, `2h`, `1d` or `1h30m`.
pub fn parse_duration(input: &str) -> Result<Duration, TimeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(TimeError::EmptyDuration);
    }
    let bad = || TimeError::BadDuration(input.to_string());
    let too_large = || TimeError::DurationTooLarge(input.to_string());
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let seconds_per_unit = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let part = number.checked_mul(seconds_per_unit).ok_or_else(too_large)?;
        total = total.checked_add(part).ok_or_else(too_large)?;
    }
    Ok(Duration::seconds(total))
}

/// Parses an instant: RFC 3339, `now`, `+<duration>` or a bare `<duration>` (both relative
/// to `now`).
pub fn parse_instant(input: &str, now: OffsetDateTime) -> Result<OffsetDateTime, TimeError> {
    let s = input.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let relative = s.strip_prefix('+').unwrap_or(s);
    match parse_duration(relative) {
        Ok(d) => now
            .checked_add(d)
            .ok_or_else(|| TimeError::OutOfRange(input.to_string())),
        Err(TimeError::DurationTooLarge(_)) => Err(TimeError::OutOfRange(input.to_string())),
        Err(_) => Err(TimeError::BadInstant(input.to_string())),
    }
}

/// Parses an instant relative to the current time; see [`parse_instant`].
pub fn parse_instant_now(input: &str) -> Result<OffsetDateTime, TimeError> {
    parse_instant(input, OffsetDateTime::now_utc())
}

/// The protobuf timestamp of an instant (millisecond precision).
pub fn to_timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    let millis = (t.unix_timestamp_nanos() / 1_000_000) as i64;
    takedown_protocol::timestamp::from_millis(millis)
}

/// RFC 3339 (UTC) of a protobuf timestamp; empty when absent.
pub fn format_timestamp(ts: Option<&prost_types::Timestamp>) -> String {
    let Some(ts) = ts else {
        return String::new();
    };
    let nanos = i128::from(takedown_protocol::timestamp::to_millis(ts)) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{}s", ts.seconds))
}

/// A duration written back the way [`parse_duration`] reads it (`1h30m`, `45s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.whole_seconds();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
        secs = -secs;
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::seconds(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::minutes(5)));
        assert_eq!(parse_duration("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse_duration("1d"), Ok(Duration::days(1)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("48h"), Ok(Duration::days(2)));
        assert_eq!(parse_duration(""), Err(TimeError::EmptyDuration));
        for bad in ["h", "5", "5x", "-5m", "1.5h", "5 m", "m5"] {
            assert!(
                matches!(parse_duration(bad), Err(TimeError::BadDuration(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(TimeError::DurationTooLarge(_))
        ));
    }

    #[test]
    fn instants() {
        let now = datetime!(2026-11-29 04:00:00 UTC);
        assert_eq!(
            parse_instant("2026-11-30T06:00:00Z", now),
            Ok(datetime!(2026-11-30 06:00:00 UTC))
        );
        assert_eq!(
            parse_instant("2026-11-30T07:00:00+01:00", now),
            Ok(datetime!(2026-11-30 06:00:00 UTC))
        );
        assert_eq!(parse_instant("now", now), Ok(now));
        assert_eq!(parse_instant("+30s", now), Ok(now + Duration::seconds(30)));
        assert_eq!(parse_instant("+5m", now), Ok(now + Duration::minutes(5)));
        assert_eq!(parse_instant("+2h", now), Ok(now + Duration::hours(2)));
        assert_eq!(parse_instant("+1d", now), Ok(now + Duration::days(1)));
        assert_eq!(parse_instant("48h", now), Ok(now + Duration::hours(48)));
        for bad in ["tomorrow", "2026-11-30", "+", "+5y", "2026-11-30 06:00"] {
            assert!(
                matches!(parse_instant(bad, now), Err(TimeError::BadInstant(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_instant("+999999999999d", now),
            Err(TimeError::OutOfRange(_))
        ));
    }

    #[test]
    fn timestamps_round_trip_and_format() {
        let t = datetime!(2026-11-30 06:00:00.250 UTC);
        let ts = to_timestamp(t);
        assert_eq!(ts.seconds, t.unix_timestamp());
        assert_eq!(ts.nanos, 250_000_000);
        assert_eq!(format_timestamp(Some(&ts)), "2026-11-30T06:00:00.25Z");
        assert_eq!(format_timestamp(None), "");
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
        assert_eq!(format_duration(Duration::seconds(45)), "45s");
        assert_eq!(format_duration(Duration::days(2)), "2d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
