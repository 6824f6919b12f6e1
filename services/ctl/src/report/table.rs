//! Terminal tables: a heading line, the platforms (with a totals row), a legend of the
//! abbreviations, then the agencies.
//!
//! Fitted to a width when one is given (the terminal's): the platform table, about 220
//! columns whole, is split into its counts and its timings (each half keeps the platform
//! column), and a table still too wide wraps its cells.

use comfy_table::{CellAlignment, ContentArrangement, Table};
use takedown_protocol::pb::{ActionDaySummary, PlatformSummary};

use super::{Totals, human};
use crate::{output, time::format_timestamp};

/// Longest delivery error shown below the table.
const ERROR_CHARS: usize = 160;

/// The platform table's header.
pub const PLATFORM_HEADER: [&str; 19] = [
    "platform",
    "referred",
    "held",
    "released",
    "delivered",
    "acknowledged",
    "blocked",
    "already\ngone",
    "not\nfound",
    "geo-\nblocked",
    "rejected",
    "failed",
    "pending",
    "block\nrate",
    "release→ack\np50 / p90 / p99",
    "release→action\np50 / p90 / p99",
    "removal orders\n≤1 h / acted / total",
    "ToS referrals\n≤1 h / acted / total",
    "circuit",
];

/// The agency table's header.
pub const AGENCY_HEADER: [&str; 9] = [
    "agency",
    "lists",
    "items",
    "merged with\nother agencies",
    "held",
    "delivered",
    "blocked",
    "rejected",
    "not a violation\nshare",
];

/// The platform table's column groups after the platform column, in order: the flow, the
/// outcomes, the timings. A table too wide for the terminal is split between groups.
const GROUPS: [std::ops::Range<usize>; 3] = [1..7, 7..14, 14..19];

/// The whole report as text: heading, platforms, legend, agencies; within `width` columns
/// when given.
pub fn render(s: &ActionDaySummary, width: Option<u16>) -> String {
    let mut out = heading(s);
    out.push_str("\n\n");
    for t in platform_tables(s, width) {
        out.push_str(&t.to_string());
        out.push('\n');
    }
    let legend = human::reason_legend(&s.platforms);
    if !legend.is_empty() {
        out.push_str(&format!("rejected: {legend}\n"));
    }
    if let Some(line) = human::removal_order_line(&Totals::of(&s.platforms)) {
        out.push_str(&format!("removal orders: {line}\n"));
    }
    for line in delivery_errors(s) {
        out.push_str(&format!("* {line}\n"));
    }
    out.push('\n');
    out.push_str(&fit(agencies(s), width).to_string());
    out.push('\n');
    out
}

/// Whether every line of `t` is at most `width` characters.
fn fits(t: &Table, width: u16) -> bool {
    t.to_string()
        .lines()
        .all(|l| l.chars().count() <= usize::from(width))
}

/// `t`, wrapping its cells if it is wider than `width`.
fn fit(mut t: Table, width: Option<u16>) -> Table {
    if let Some(w) = width.filter(|w| !fits(&t, *w)) {
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(w);
    }
    t
}

/// The platform table whole, or split between column groups into as few tables as fit
/// `width` (each with the platform column); a group that alone is too wide wraps.
pub fn platform_tables(s: &ActionDaySummary, width: Option<u16>) -> Vec<Table> {
    let whole = platforms(s);
    let Some(w) = width.filter(|w| !fits(&whole, *w)) else {
        return vec![whole];
    };
    let mut rows: Vec<Vec<String>> = s.platforms.iter().map(platform_row).collect();
    rows.push(totals_row(&Totals::of(&s.platforms), s.platforms.len()));
    let table = |columns: &[usize]| {
        let header: Vec<&str> = columns.iter().map(|c| PLATFORM_HEADER[*c]).collect();
        let mut t = output::table_of(&header);
        for r in &rows {
            t.add_row(columns.iter().map(|c| r[*c].clone()).collect::<Vec<_>>());
        }
        // As in the whole table: figures right-aligned, the platform and circuit not.
        for (i, c) in columns.iter().enumerate() {
            if *c != 0 && *c != PLATFORM_HEADER.len() - 1 {
                align_numbers(&mut t, i..i + 1);
            }
        }
        t
    };
    let mut tables = Vec::new();
    let mut columns: Vec<usize> = vec![0];
    for g in GROUPS {
        let wider: Vec<usize> = columns.iter().copied().chain(g.clone()).collect();
        if columns.len() == 1 || fits(&table(&wider), w) {
            columns = wider;
        } else {
            tables.push(fit(table(&columns), Some(w)));
            columns = std::iter::once(0).chain(g).collect();
        }
    }
    tables.push(fit(table(&columns), Some(w)));
    tables
}

/// `Operation Daybreak (ad-1) · H-hour … · live · generated …`.
pub fn heading(s: &ActionDaySummary) -> String {
    let name = if s.name.trim().is_empty() {
        "Action day".to_string()
    } else {
        human::shorten(&s.name, 120)
    };
    format!(
        "{name} ({}) · H-hour {} · {} · generated {}",
        human::shorten(&s.action_day_id, 80),
        or_none(format_timestamp(s.starts_at.as_ref())),
        human::shorten(&human::state(&s.state), 40),
        or_none(format_timestamp(s.generated_at.as_ref())),
    )
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        human::NONE.to_string()
    } else {
        s
    }
}

/// `platform: last delivery error`, for each platform that has one.
pub fn delivery_errors(s: &ActionDaySummary) -> Vec<String> {
    s.platforms
        .iter()
        .filter(|p| !p.last_error.trim().is_empty())
        .map(|p| {
            format!(
                "{}: last delivery error: {}",
                human::shorten(&p.platform, 40),
                human::shorten(&p.last_error, ERROR_CHARS)
            )
        })
        .collect()
}

/// The cells of one platform row.
pub fn platform_row(p: &PlatformSummary) -> Vec<String> {
    vec![
        human::shorten(&p.platform, 40),
        p.referred.to_string(),
        p.held.to_string(),
        p.released.to_string(),
        p.delivered.to_string(),
        p.acknowledged.to_string(),
        p.blocked.to_string(),
        p.already_gone.to_string(),
        p.not_found.to_string(),
        p.geo_blocked.to_string(),
        human::rejected(p),
        p.failed.to_string(),
        p.pending.to_string(),
        human::percent(p.block_rate),
        human::percentiles(p.release_to_ack.as_ref()),
        human::percentiles(p.release_to_action.as_ref()),
        human::removal_orders(
            p.removal_orders_within_hour,
            p.removal_orders_acted,
            p.removal_orders,
        ),
        human::removal_orders(
            p.tos_referrals_within_hour,
            p.tos_referrals_acted,
            p.tos_referrals,
        ),
        human::circuit(p),
    ]
}

/// The cells of the totals row (latency percentiles do not add up: `—`).
pub fn totals_row(t: &Totals, platforms: usize) -> Vec<String> {
    vec![
        format!("total ({platforms})"),
        t.referred.to_string(),
        t.held.to_string(),
        t.released.to_string(),
        t.delivered.to_string(),
        t.acknowledged.to_string(),
        t.blocked.to_string(),
        t.already_gone.to_string(),
        t.not_found.to_string(),
        t.geo_blocked.to_string(),
        human::rejected_breakdown(t.rejected, &t.rejected_by_reason),
        t.failed.to_string(),
        t.pending.to_string(),
        human::percent(t.block_rate()),
        human::NONE.to_string(),
        human::NONE.to_string(),
        human::removal_orders(
            t.removal_orders_within_hour,
            t.removal_orders_acted,
            t.removal_orders,
        ),
        human::removal_orders(
            t.tos_referrals_within_hour,
            t.tos_referrals_acted,
            t.tos_referrals,
        ),
        if t.circuits_open == 0 {
            "all closed".to_string()
        } else {
            format!("{} open", t.circuits_open)
        },
    ]
}

/// One row per platform, then the totals.
pub fn platforms(s: &ActionDaySummary) -> Table {
    let mut t = output::table(PLATFORM_HEADER);
    for p in &s.platforms {
        t.add_row(platform_row(p));
    }
    t.add_row(totals_row(&Totals::of(&s.platforms), s.platforms.len()));
    align_numbers(&mut t, 1..PLATFORM_HEADER.len() - 1);
    t
}

/// The cells of one agency row.
pub fn agency_row(a: &takedown_protocol::pb::AgencySummary) -> Vec<String> {
    vec![
        human::shorten(&a.agency_id, 40),
        a.lists.to_string(),
        a.items.to_string(),
        a.merged_with_other_agencies.to_string(),
        a.held.to_string(),
        a.delivered.to_string(),
        a.blocked.to_string(),
        a.rejected.to_string(),
        human::percent(a.not_a_violation_share),
    ]
}

/// One row per agency.
pub fn agencies(s: &ActionDaySummary) -> Table {
    let mut t = output::table(AGENCY_HEADER);
    for a in &s.agencies {
        t.add_row(agency_row(a));
    }
    align_numbers(&mut t, 1..AGENCY_HEADER.len());
    t
}

fn align_numbers(t: &mut Table, columns: std::ops::Range<usize>) {
    for i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn the_table_holds_the_figures() {
        let s = sample::summary();
        let text = render(&s, None);
        assert!(
            text.starts_with(
                "Operation Daybreak (ad-2026-11) · H-hour 2026-11-30T06:00:00Z · live · generated 2026-11-30T07:35:00Z\n"
            ),
            "{text}"
        );
        for figure in [
            "telegram",
            "1200",
            "1150",
            "950",
            "12 (NAV 8, INF 4)",
            "82.6 %",
            "850 ms / 2.4 s / 3 min",
            "1 min / 10 min / 50 min",
            "15 / 18 / 20",
            "980 / 1054 / 1130",
            "OPEN *",
            "* tamtam: last delivery error: sidecar unavailable: connection refused\n",
            "total (3)",
            "1930",
            "42 (NAV 38, INF 4)",
            "75.4 %",
            "1 open",
            "rejected: INF = INSUFFICIENT_INFORMATION, NAV = NOT_A_VIOLATION",
            "removal orders: 24 delivered; 16 within the hour (66.7 %), 5 late, 2 cannot \
             execute (clock paused); 2 acted on after a pause, paused 30 min in all; 2 delivered \
             outside the platform's staffed hours\n",
            "agency-fr",
            "1300",
            "1.7 %",
            "agency-de",
            "1.9 %",
        ] {
            assert!(text.contains(figure), "missing {figure:?} in\n{text}");
        }
        // One line per platform row, the totals, and the agencies.
        let rows = |name: &str| text.lines().filter(|l| l.contains(name)).count();
        assert_eq!(rows("│ telegram"), 1);
        assert_eq!(rows("│ x "), 1);
        assert_eq!(rows("│ agency-"), 2);
    }

    #[test]
    fn the_report_fits_the_terminal() {
        let s = sample::summary();
        let whole = render(&s, None);
        let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest(&whole) > 200, "the whole table is wide:\n{whole}");
        assert_eq!(
            render(&s, Some(400)),
            whole,
            "a wide terminal gets it whole"
        );
        for width in [160u16, 120, 100, 60] {
            let text = render(&s, Some(width));
            let table_lines = text
                .lines()
                .filter(|l| l.starts_with(['│', '╭', '├', '╰', '┌', '└']));
            for l in table_lines {
                assert!(
                    l.chars().count() <= usize::from(width),
                    "{width} columns: {} in {l:?}\n{text}",
                    l.chars().count()
                );
            }
            if width < 100 {
                // Below that, cells wrap: only the width is promised.
                continue;
            }
            // Every figure is there, unwrapped, the platform named in each part.
            for figure in [
                "1150",
                "82.6 %",
                "12 (NAV 8, INF 4)",
                "15 / 18 / 20",
                "OPEN *",
                "1.7 %",
            ] {
                assert!(
                    text.contains(figure),
                    "{width}: missing {figure:?} in\n{text}"
                );
            }
            let parts = text.matches("│ telegram").count();
            assert!((2..=3).contains(&parts), "{width}: {parts} parts\n{text}");
        }
    }

    #[test]
    fn terminal_escapes_in_names_are_not_printed() {
        let mut s = sample::summary();
        let evil = "\u{1b}[2J\u{1b}]0;pwned\u{7}";
        s.name = format!("Op{evil}");
        s.action_day_id = format!("ad{evil}");
        s.state = evil.into();
        s.platforms[0].platform = format!("tg{evil}");
        s.platforms[0].last_error = format!("err{evil}");
        s.platforms[0].rejected_by_reason[0].reason = evil.into();
        s.agencies[0].agency_id = format!("fr{evil}");
        let text = render(&s, None);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("tg\u{fffd}[2J"));
    }

    #[test]
    fn an_empty_day_still_has_headers_and_totals() {
        let s = ActionDaySummary {
            action_day_id: "ad-0".into(),
            ..Default::default()
        };
        let text = render(&s, None);
        assert!(text.starts_with("Action day (ad-0) · H-hour — · unknown"));
        assert!(text.contains("total (0)"));
        assert!(text.contains("0.0 %"));
        assert!(text.contains("merged with"));
    }
}
