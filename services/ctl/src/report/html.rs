//! `--format html`: one self-contained HTML file to keep, mail or print.
//!
//! Inline CSS only; no scripts, fonts, images, links or anything else the browser would
//! fetch, and a Content-Security-Policy that forbids fetching should anything slip in.
//! Every string from the summary goes through the `maud` template and is escaped.
//! Sections: a heading (name, id, H-hour, state, generation time), the platform table
//! (`id="platforms"`, totals in `<tfoot>`), the agency table (`id="agencies"`) and the
//! cumulative-blocks chart (`id="blocks-chart"`, see [`super::svg`]).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use takedown_protocol::pb::{ActionDaySummary, RejectCount};

use super::{Totals, human, svg, table};
use crate::time::format_timestamp;

/// The stylesheet: screen first, then print (black on white, rows kept whole, landscape).
const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1a1a1a; background: #ffffff; margin: 24px 32px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #1a1a1a; padding-bottom: 2px; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
dl.meta dt { font-weight: 600; color: #444444; }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
#platforms { font-size: 12px; }
#platforms th, #platforms td { padding: 3px 4px; }
#platforms thead th { font-size: 11px; }
span.why { color: #666666; font-size: 11px; white-space: normal; }
th, td { border: 1px solid #c8c8c8; padding: 4px 6px; vertical-align: top; }
th { background: #eef1f5; text-align: center; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.name { text-align: left; background: transparent; min-width: 7em; overflow-wrap: anywhere; }
div.wide { overflow-x: auto; }
span.q { color: #666666; font-size: 11px; }
tbody tr:nth-child(even) { background: #f8f9fb; }
tfoot td { font-weight: 700; border-top: 2px solid #1a1a1a; background: #eef1f5; }
.open { color: #b00020; font-weight: 700; }
.error { display: block; font-weight: 400; font-size: 11px; min-width: 7em; overflow-wrap: anywhere; }
p.note { font-size: 12px; color: #444444; margin: 6px 0 0; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #444444; }
#blocks-chart { max-width: 960px; height: auto; font-family: inherit; }
footer { margin-top: 32px; font-size: 12px; color: #666666; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 11px; color: #000000; background: #ffffff; }
  h1, h2, h3, dt, dd, p, td, th, figcaption, footer, .open, span.q, span.why { color: #000000 !important; }
  th, tfoot td, tbody tr:nth-child(even) { background: #ffffff !important; }
  th, td { border-color: #000000; padding: 2px 4px; }
  table, #platforms { font-size: 10px; page-break-inside: auto; }
  #platforms thead th { font-size: 9px; }
  thead { display: table-header-group; }
  tfoot { display: table-row-group; }
  tr, figure { page-break-inside: avoid; break-inside: avoid; }
  h2 { page-break-after: avoid; break-after: avoid; }
  section { page-break-inside: auto; }
  div.wide { overflow: visible; }
}
"#;

/// Nothing may be fetched, whatever the page contains.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// The whole report as one HTML document.
pub fn render(s: &ActionDaySummary) -> String {
    let name = if s.name.trim().is_empty() {
        "Action day".to_string()
    } else {
        s.name.clone()
    };
    let legend = human::reason_legend(&s.platforms);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Action day report: " (name) " (" (s.action_day_id) ")" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "Action day report: " (name) }
                    dl.meta {
                        dt { "Action day" } dd { (s.action_day_id) }
                        dt { "H-hour" } dd { (or_none(format_timestamp(s.starts_at.as_ref()))) }
                        dt { "State" } dd { (human::state(&s.state)) }
                        dt { "Generated" } dd { (or_none(format_timestamp(s.generated_at.as_ref()))) }
                    }
                }
                section {
                    h2 { "Platforms" }
                    div.wide { (platforms(s)) }
                    p.note {
                        "Latencies are p50 / p90 / p99 from release. One-hour clocks of removal orders (RO) and ToS referrals: acted on within one hour of delivery / acted on / delivered."
                        @if !legend.is_empty() { " Rejections: " (legend) "." }
                    }
                    @if let Some(line) = human::removal_order_line(&Totals::of(&s.platforms)) {
                        p.note { "Removal orders: " (line) "." }
                    }
                }
                section {
                    h2 { "Agencies" }
                    (agencies(s))
                    p.note { "Not-a-violation share: the agency's delivered targets rejected as NOT_A_VIOLATION (lower is better)." }
                }
                section {
                    h2 { "Blocks over time" }
                    figure {
                        (svg::blocks_chart(s))
                        figcaption { "Cumulative blocked targets per platform; the dashed line marks H-hour." }
                    }
                }
                footer { "takedownctl summary · figures as reported by the hub at the generation time above." }
            }
        }
    };
    page.into_string()
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        human::NONE.to_string()
    } else {
        s
    }
}

/// A header cell whose `\n` become line breaks.
fn header_cell(label: &str) -> Markup {
    html! {
        th scope="col" {
            // Latency cells label their own lines (p50, p90, p99).
            @for (i, line) in label.split('\n').filter(|l| *l != "p50 / p90 / p99").enumerate() {
                @if i > 0 { br; }
                (line.replace("acknowledged", "acknow\u{ad}ledged").replace('→', " →\u{a0}"))
            }
        }
    }
}

/// Cells 1.. are numbers; the last `text_tail` cells are text.
fn cells(row: &[String], text_tail: usize) -> Markup {
    let last_num = row.len().saturating_sub(text_tail);
    html! {
        @for (i, cell) in row.iter().enumerate() {
            @if i == 0 {
                th.name scope="row" { (cell) }
            } @else if i < last_num {
                td.num { (cell) }
            } @else {
                td { (cell) }
            }
        }
    }
}

/// Index of the rejected column of a platform row.
const REJECTED: usize = 10;

/// Index of the first latency column of a platform row (two of them, then removal orders,
/// ToS referrals and the circuit).
const LATENCIES: usize = 14;

/// The terminal's platform header, with the removal-order and ToS columns as one (a line
/// each), so that the table fits a 1200 px window.
fn platform_header() -> impl Iterator<Item = &'static str> {
    table::PLATFORM_HEADER
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != LATENCIES + 3)
        .map(|(i, h)| {
            if i == LATENCIES + 2 {
                "one-hour clocks\n≤1 h / acted / total"
            } else {
                *h
            }
        })
}

/// The one-hour clocks: removal orders, then ToS referrals.
fn clocks_cell(orders: &str, tos: &str) -> Markup {
    html! {
        td.num {
            span.q { "RO " } (orders) br;
            span.q { "ToS " } (tos)
        }
    }
}

/// Number cells (none of them the row's name).
fn cells_from(row: &[String]) -> Markup {
    html! { @for cell in row { td.num { (cell) } } }
}

/// The rejected count, with its reasons on a second line.
fn rejected_cell(total: u64, by_reason: &[RejectCount]) -> Markup {
    let reasons = human::reasons_condensed(by_reason);
    html! {
        td.num {
            (total)
            @if !reasons.is_empty() { br; span.why { "(" (reasons) ")" } }
        }
    }
}

fn platforms(s: &ActionDaySummary) -> Markup {
    let totals = Totals::of(&s.platforms);
    let totals_row = table::totals_row(&totals, s.platforms.len());
    html! {
        table id="platforms" {
            thead { tr { @for h in platform_header() { (header_cell(h)) } } }
            tbody {
                @for p in &s.platforms {
                    @let row = table::platform_row(p);
                    tr {
                        (cells(&row[..REJECTED], 0))
                        (rejected_cell(p.rejected, &p.rejected_by_reason))
                        (cells_from(&row[REJECTED + 1..LATENCIES]))
                        @for latency in [&p.release_to_ack, &p.release_to_action] {
                            td.num {
                                @match human::percentile_parts(latency.as_ref()) {
                                    Some([p50, p90, p99]) => {
                                        span.q { "p50 " } (p50) br;
                                        span.q { "p90 " } (p90) br;
                                        span.q { "p99 " } (p99)
                                    }
                                    None => (human::NONE),
                                }
                            }
                        }
                        (clocks_cell(&row[LATENCIES + 2], &row[LATENCIES + 3]))
                        td {
                            @if p.circuit_open {
                                span.open { "OPEN" }
                            } @else {
                                "closed"
                            }
                            @if !p.last_error.trim().is_empty() {
                                span.error { (human::shorten(&p.last_error, 200)) }
                            }
                        }
                    }
                }
            }
            tfoot {
                tr {
                    (cells(&totals_row[..REJECTED], 0))
                    (rejected_cell(totals.rejected, &totals.rejected_by_reason))
                    (cells_from(&totals_row[REJECTED + 1..LATENCIES + 2]))
                    (clocks_cell(&totals_row[LATENCIES + 2], &totals_row[LATENCIES + 3]))
                    td { (totals_row[totals_row.len() - 1]) }
                }
            }
        }
    }
}

fn agencies(s: &ActionDaySummary) -> Markup {
    html! {
        table id="agencies" {
            thead { tr { @for h in table::AGENCY_HEADER { (header_cell(h)) } } }
            tbody {
                @for a in &s.agencies {
                    tr { (cells(&table::agency_row(a), 0)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    const FORBIDDEN: [&str; 7] = [
        "http://", "https://", "<script", "src=", "@import", "url(", "<link",
    ];

    fn assert_self_contained(page: &str) {
        let lower = page.to_lowercase();
        for bad in FORBIDDEN {
            assert!(!lower.contains(bad), "the page contains {bad:?}");
        }
    }

    #[test]
    fn the_page_has_tables_and_one_line_per_platform() {
        let page = render(&sample::summary());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>Action day report: Operation Daybreak (ad-2026-11)</title>"));
        assert!(page.contains("2026-11-30T06:00:00Z"));
        assert!(page.contains("2026-11-30T07:35:00Z"));
        assert_eq!(page.matches("id=\"platforms\"").count(), 1);
        assert_eq!(page.matches("id=\"agencies\"").count(), 1);
        assert_eq!(page.matches("id=\"blocks-chart\"").count(), 1);
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches("<polyline").count(), 3);
        for figure in [
            "(NAV 8, INF 4)",
            "(NAV 38, INF 4)",
            ">p50 </span>850 ms<br>",
            "total (3)",
            "agency-de",
        ] {
            assert!(page.contains(figure), "missing {figure}");
        }
        assert!(page.contains("@media print"));
        assert_self_contained(&page);
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut s = sample::summary();
        let evil = "<script>alert(1)</script>";
        s.name = format!("Op {evil}");
        s.action_day_id = "ad\"><img src=x>".into();
        s.platforms[0].platform = format!("tele{evil}");
        s.platforms[1].last_error = format!("{evil} @import url(https://evil.example/x.css)");
        s.agencies[0].agency_id = format!("agency{evil}");
        s.blocks_over_time[0].platform = format!("tele{evil}");
        s.platforms[0].rejected_by_reason[0].reason = evil.into();
        let page = render(&s);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<img"));
        let lower = page.to_lowercase();
        assert!(!lower.contains("<script"));
        // Escaping keeps the text but not the markup: `src=`, URLs survive only as text.
        let without_text: String = strip_text(&lower);
        for bad in FORBIDDEN {
            assert!(!without_text.contains(bad), "markup contains {bad:?}");
        }
    }

    /// The page with the escaped hostile strings removed (what remains is our markup).
    fn strip_text(page: &str) -> String {
        page.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")
            .replace("@import url(https://evil.example/x.css)", "")
            .replace("ad&quot;&gt;&lt;img src=x&gt;", "")
    }

    #[test]
    fn an_empty_day_renders_a_placeholder_chart() {
        let page = render(&ActionDaySummary::default());
        assert!(page.contains("No blocks recorded yet."));
        assert!(page.contains("id=\"blocks-chart\""));
        assert_eq!(page.matches("<polyline").count(), 0);
        assert_self_contained(&page);
    }
}
