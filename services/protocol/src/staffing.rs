//! Staffed hours: when a platform's moderation is staffed, in its own time zone, and whom
//! to reach. The hub warns a coordinator whose H-hour falls outside a platform's staffed
//! hours; `takedownctl` writes the windows as people say them ("mon-fri 08:00-18:00").
//!
//! Time zones come from the IANA database bundled into the binary, so a hub answers the
//! same on every machine whatever zoneinfo it has.

use jiff::{Timestamp, civil, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::pb;

/// A platform's staffed hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staffing {
    /// IANA name, e.g. `Europe/Tallinn`.
    pub time_zone: String,
    /// Weekly windows in local time; at least one.
    pub windows: Vec<Window>,
    /// Whom to reach out of hours.
    pub contact_point: String,
}

/// One weekly window, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// Minutes after local midnight, `0..1440`.
    pub start: u16,
    /// Minutes after local midnight, `1..=1440`; not after `start`: on the next day.
    pub end: u16,
}

/// Why staffed hours were refused; `field` is the request field's path under `staffing`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StaffingError {
    pub field: String,
    pub message: String,
}

fn refused(field: impl Into<String>, message: impl Into<String>) -> StaffingError {
    StaffingError {
        field: field.into(),
        message: message.into(),
    }
}

const DAY: u16 = 24 * 60;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `HH:MM` as minutes after midnight; `24:00` only where `end_of_day` is allowed.
fn minutes(s: &str, end_of_day: bool) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end_of_day => Some(DAY),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl Window {
    fn check(&self, index: usize) -> Result<(), StaffingError> {
        let at = |f: &str| format!("windows[{index}].{f}");
        if !(1..=7).contains(&self.weekday) {
            return Err(refused(
                at("weekday"),
                "a weekday (Monday to Sunday) is needed",
            ));
        }
        if self.start >= DAY {
            return Err(refused(at("start"), "must be HH:MM before 24:00"));
        }
        if self.end == 0 || self.end > DAY {
            return Err(refused(at("end"), "must be HH:MM from 00:01 to 24:00"));
        }
        if self.end == self.start {
            return Err(refused(at("end"), "a window cannot end when it starts"));
        }
        Ok(())
    }
}

impl Staffing {
    /// Checks the zone and the windows.
    pub fn check(&self) -> Result<(), StaffingError> {
        self.zone()?;
        if self.windows.is_empty() {
            return Err(refused("windows", "at least one weekly window is needed"));
        }
        for (i, w) in self.windows.iter().enumerate() {
            w.check(i)?;
        }
        if self.contact_point.chars().count() > 256 {
            return Err(refused("contact_point", "at most 256 characters"));
        }
        Ok(())
    }

    fn zone(&self) -> Result<TimeZone, StaffingError> {
        TimeZone::get(self.time_zone.trim()).map_err(|_| {
            refused(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone name (e.g. \"Europe/Tallinn\")",
                    self.time_zone
                ),
            )
        })
    }

    /// The request's staffing: `None` for "none" (no zone and no windows), else checked.
    pub fn from_pb(p: &pb::Staffing) -> Result<Option<Self>, StaffingError> {
        if p.time_zone.trim().is_empty() && p.windows.is_empty() {
            return Ok(None);
        }
        let windows = p
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let at = |f: &str| format!("windows[{i}].{f}");
                Ok(Window {
                    weekday: u8::try_from(w.weekday).unwrap_or(0),
                    start: minutes(&w.start, false).ok_or_else(|| {
                        refused(at("start"), format!("{:?} is not HH:MM", w.start))
                    })?,
                    end: minutes(&w.end, true)
                        .ok_or_else(|| refused(at("end"), format!("{:?} is not HH:MM", w.end)))?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let s = Self {
            time_zone: p.time_zone.trim().to_string(),
            windows,
            contact_point: p.contact_point.trim().to_string(),
        };
        s.check()?;
        Ok(Some(s))
    }

    pub fn to_pb(&self) -> pb::Staffing {
        pb::Staffing {
            time_zone: self.time_zone.clone(),
            windows: self
                .windows
                .iter()
                .map(|w| pb::StaffedWindow {
                    weekday: i32::from(w.weekday),
                    start: hhmm(w.start),
                    end: hhmm(w.end),
                })
                .collect(),
            contact_point: self.contact_point.clone(),
        }
    }

    /// The windows' spans `[start, end)` in Unix ms that begin on local dates from `from`
    /// for `days` days.
    fn spans(&self, tz: &TimeZone, from: civil::Date, days: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        for d in 0..days {
            let Ok(date) = from.checked_add(jiff::Span::new().days(d)) else {
                continue;
            };
            let weekday = date.weekday().to_monday_one_offset() as u8;
            for w in self.windows.iter().filter(|w| w.weekday == weekday) {
                let next_day = u16::from(w.end <= w.start);
                let (Some(s), Some(e)) = (
                    instant(tz, date, w.start),
                    instant(tz, date, w.end + next_day * DAY),
                ) else {
                    continue;
                };
                out.push((s, e));
            }
        }
        out
    }

    fn local_date(tz: &TimeZone, at_ms: i64) -> Option<civil::Date> {
        Some(
            Timestamp::from_millisecond(at_ms)
                .ok()?
                .to_zoned_datetime(tz.clone())
                .date(),
        )
    }

    /// Whether the platform is staffed at `at_ms`. Unchecked staffing counts as staffed.
    pub fn is_staffed(&self, at_ms: i64) -> bool {
        let Ok(tz) = self.zone() else { return true };
        let Some(today) = Self::local_date(&tz, at_ms) else {
            return true;
        };
        let Ok(yesterday) = today.yesterday() else {
            return true;
        };
        self.spans(&tz, yesterday, 2)
            .iter()
            .any(|(s, e)| (*s..*e).contains(&at_ms))
    }

    /// When staffed hours next begin after `at_ms` (within a week).
    pub fn next_staffed(&self, at_ms: i64) -> Option<i64> {
        let tz = self.zone().ok()?;
        let today = Self::local_date(&tz, at_ms)?;
        self.spans(&tz, today.yesterday().ok()?, 9)
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| *s > at_ms)
            .min()
    }

    /// The windows as people write them, grouped by hours:
    /// `mon-fri 08:00-18:00, sat 10:00-14:00 (Europe/Tallinn)`.
    pub fn describe(&self) -> String {
        let mut groups: Vec<((u16, u16), Vec<u8>)> = Vec::new();
        for w in &self.windows {
            match groups.iter_mut().find(|(h, _)| *h == (w.start, w.end)) {
                Some((_, days)) => days.push(w.weekday),
                None => groups.push(((w.start, w.end), vec![w.weekday])),
            }
        }
        let parts: Vec<String> = groups
            .into_iter()
            .map(|((start, end), mut days)| {
                days.sort_unstable();
                days.dedup();
                let mut runs: Vec<String> = Vec::new();
                let mut i = 0;
                while i < days.len() {
                    let mut j = i;
                    while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
                        j += 1;
                    }
                    let name = |d: u8| WEEKDAYS[usize::from(d.clamp(1, 7) - 1)];
                    runs.push(match j - i {
                        0 => name(days[i]).to_string(),
                        1 => format!("{},{}", name(days[i]), name(days[j])),
                        _ => format!("{}-{}", name(days[i]), name(days[j])),
                    });
                    i = j + 1;
                }
                format!("{} {}-{}", runs.join(","), hhmm(start), hhmm(end))
            })
            .collect();
        format!("{} ({})", parts.join(", "), self.time_zone)
    }

    /// `at_ms` in the platform's own time: `Sat 2026-12-05 01:30 (Europe/Tallinn, +02:00)`.
    pub fn local_time(&self, at_ms: i64) -> String {
        let (Ok(tz), Ok(ts)) = (self.zone(), Timestamp::from_millisecond(at_ms)) else {
            return String::new();
        };
        let z = ts.to_zoned_datetime(tz);
        format!(
            "{} ({}, {})",
            z.strftime("%a %Y-%m-%d %H:%M"),
            self.time_zone,
            z.strftime("%:z")
        )
    }
}

/// `minutes` after local midnight of `date` (up to two days on) in Unix ms; a local time
/// that a clock change skips is taken as the instant after the gap.
fn instant(tz: &TimeZone, date: civil::Date, minutes: u16) -> Option<i64> {
    let date = date
        .checked_add(jiff::Span::new().days(i64::from(minutes / DAY)))
        .ok()?;
    let m = minutes % DAY;
    let dt = date.at((m / 60) as i8, (m % 60) as i8, 0, 0);
    Some(tz.to_zoned_datetime(dt).ok()?.timestamp().as_millisecond())
}

/// Windows as people write them: `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`,
/// `daily 22:00-06:00` (a night shift, ending the next morning).
pub fn parse_windows(spec: &str) -> Result<Vec<Window>, StaffingError> {
    let bad = |m: &str| {
        refused(
            "windows",
            format!("{spec:?}: {m} (e.g. \"mon-fri 08:00-18:00\")"),
        )
    };
    let (days, hours) = spec
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("days and hours are needed"))?;
    let (start, end) = hours
        .trim()
        .split_once('-')
        .ok_or_else(|| bad("hours are HH:MM-HH:MM"))?;
    let start = minutes(start, false).ok_or_else(|| bad("the start is not HH:MM"))?;
    let end = minutes(end, true).ok_or_else(|| bad("the end is not HH:MM"))?;
    let day = |d: &str| {
        WEEKDAYS
            .iter()
            .position(|w| d.trim().to_ascii_lowercase().starts_with(w))
            .map(|i| i as u8 + 1)
            .ok_or_else(|| bad(&format!("{d:?} is not a weekday")))
    };
    let mut weekdays = Vec::new();
    for part in days.split(',') {
        match part.trim().to_ascii_lowercase().as_str() {
            "daily" | "every" => weekdays.extend(1..=7),
            p => match p.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    // mon-fri, or round the week end: fri-mon.
                    let mut d = a;
                    loop {
                        weekdays.push(d);
                        if d == b {
                            break;
                        }
                        d = d % 7 + 1;
                    }
                }
                None => weekdays.push(day(p)?),
            },
        }
    }
    let windows: Vec<Window> = weekdays
        .into_iter()
        .map(|weekday| Window {
            weekday,
            start,
            end,
        })
        .collect();
    for (i, w) in windows.iter().enumerate() {
        w.check(i).map_err(|e| bad(&e.message))?;
    }
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339
            .parse::<Timestamp>()
            .expect("timestamp")
            .as_millisecond()
    }

    fn office(tz: &str) -> Staffing {
        Staffing {
            time_zone: tz.into(),
            windows: parse_windows("mon-fri 08:00-18:00").unwrap(),
            contact_point: "abuse@example.org".into(),
        }
    }

    #[test]
    fn office_hours_in_the_platforms_own_zone() {
        let s = office("Europe/Tallinn");
        s.check().unwrap();
        // Friday 2026-12-04 09:00 in Tallinn is 07:00 UTC (EET, +02:00).
        assert!(s.is_staffed(ms("2026-12-04T07:00:00Z")));
        assert!(!s.is_staffed(ms("2026-12-04T05:59:00Z")), "07:59 local");
        assert!(!s.is_staffed(ms("2026-12-04T16:00:00Z")), "18:00 local");
        // Saturday 01:30 local: nobody until Monday 08:00.
        let night = ms("2026-12-04T23:30:00Z");
        assert!(!s.is_staffed(night));
        assert_eq!(s.next_staffed(night), Some(ms("2026-12-07T06:00:00Z")));
        assert_eq!(
            s.local_time(night),
            "Sat 2026-12-05 01:30 (Europe/Tallinn, +02:00)"
        );
    }

    #[test]
    fn night_shifts_run_past_midnight_and_summer_time_moves_the_hours() {
        let s = Staffing {
            time_zone: "America/New_York".into(),
            windows: parse_windows("fri 22:00-06:00").unwrap(),
            contact_point: String::new(),
        };
        // Saturday 2026-07-04 03:00 EDT (-04:00) is within Friday's night shift.
        assert!(s.is_staffed(ms("2026-07-04T07:00:00Z")));
        assert!(!s.is_staffed(ms("2026-07-04T10:30:00Z")), "06:30 local");
        // In winter (EST, -05:00) the same local hour is an hour later in UTC.
        assert!(s.is_staffed(ms("2026-12-05T08:00:00Z")), "03:00 EST");
        assert!(!s.is_staffed(ms("2026-12-05T11:30:00Z")), "06:30 EST");
    }

    #[test]
    fn windows_read_back_as_they_were_written() {
        let mut s = office("Europe/Tallinn");
        s.windows.extend(parse_windows("sat 10:00-14:00").unwrap());
        s.windows.extend(parse_windows("sun 22:00-06:00").unwrap());
        assert_eq!(
            s.describe(),
            "mon-fri 08:00-18:00, sat 10:00-14:00, sun 22:00-06:00 (Europe/Tallinn)"
        );
    }

    #[test]
    fn windows_as_people_write_them() {
        let w = parse_windows("sat,sun 10:00-14:00").unwrap();
        assert_eq!(w.iter().map(|w| w.weekday).collect::<Vec<_>>(), [6, 7]);
        assert_eq!((w[0].start, w[0].end), (600, 840));
        let w = parse_windows("fri-mon 00:00-24:00").unwrap();
        assert_eq!(
            w.iter().map(|w| w.weekday).collect::<Vec<_>>(),
            [5, 6, 7, 1]
        );
        assert_eq!(parse_windows("daily 09:00-17:00").unwrap().len(), 7);
        for bad in [
            "mon",
            "mon 9-17",
            "funday 08:00-18:00",
            "mon 08:00-08:00",
            "mon 24:00-02:00",
        ] {
            assert!(parse_windows(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let mut p = office("Europe/Tallinn").to_pb();
        assert_eq!(
            Staffing::from_pb(&p).unwrap(),
            Some(office("Europe/Tallinn"))
        );
        p.time_zone = "Mars/Olympus".into();
        assert_eq!(Staffing::from_pb(&p).unwrap_err().field, "time_zone");
        p.time_zone = "Europe/Tallinn".into();
        p.windows[2].end = "25:00".into();
        assert_eq!(Staffing::from_pb(&p).unwrap_err().field, "windows[2].end");
        p.windows[2].end = "18:00".into();
        p.windows[1].weekday = 0;
        assert_eq!(
            Staffing::from_pb(&p).unwrap_err().field,
            "windows[1].weekday"
        );
        // No zone and no windows: none.
        assert_eq!(Staffing::from_pb(&pb::Staffing::default()).unwrap(), None);
        p.windows.clear();
        assert_eq!(Staffing::from_pb(&p).unwrap_err().field, "windows");
    }
}
