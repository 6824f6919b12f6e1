//! The cumulative-blocks chart as inline SVG: linear scales, "nice" count ticks, time ticks
//! on round UTC boundaries, one polyline per platform, axes and a legend in plain `<text>`.
//!
//! Written by hand (no plotting crate): the chart is small, and plain SVG needs no fonts
//! at build or run time. Markup goes through `maud`, so every name is escaped.

use maud::{Markup, html};
use takedown_protocol::{pb::ActionDaySummary, timestamp::to_millis};
use time::{OffsetDateTime, macros::format_description};

use super::human;

/// Colour-blind-safe line colours (Okabe–Ito), then dashes once they repeat.
pub const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const DASHES: [&str; 3] = ["", "8 4", "2 3"];

/// The stroke colour and dash pattern of the `i`-th series.
pub fn style(i: usize) -> (&'static str, &'static str) {
    (
        COLOURS[i % COLOURS.len()],
        DASHES[(i / COLOURS.len()) % DASHES.len()],
    )
}

/// A linear map from a domain to a range (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
}

impl Scale {
    pub fn map(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if d1 == d0 {
            return (r0 + r1) / 2.0;
        }
        r0 + (v - d0) / (d1 - d0) * (r1 - r0)
    }
}

/// Ticks from 0 to a round maximum ≥ `max`, with whole steps of 1, 2 or 5 × 10ⁿ, about
/// `target` of them.
pub fn count_ticks(max: u64, target: usize) -> Vec<u64> {
    let max = max.max(1);
    let raw = (max as f64 / target.max(1) as f64).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
        .round()
        .max(1.0) as u64;
    let mut ticks = vec![0];
    let mut v = 0u64;
    while v < max {
        v = v.saturating_add(step);
        ticks.push(v);
    }
    ticks
}

/// Tick times (Unix milliseconds) on round UTC boundaries between `start` and `end`, about
/// `target` of them at most, each with its label (`06:30`, `06:30:15`, `11-30 06:00`).
pub fn time_ticks(start_ms: i64, end_ms: i64, target: usize) -> Vec<(i64, String)> {
    const STEPS_S: [i64; 20] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
        86_400, 172_800, 604_800,
    ];
    let target = target.max(1) as i64;
    let span_s = ((end_ms - start_ms) / 1000).max(1);
    let step_s = STEPS_S
        .iter()
        .copied()
        .find(|s| span_s / s <= target)
        .unwrap_or((span_s + target - 1) / target);
    let step_ms = step_s * 1000;
    let mut t = start_ms.div_euclid(step_ms) * step_ms;
    if t < start_ms {
        t += step_ms;
    }
    let mut ticks = Vec::new();
    while t <= end_ms && ticks.len() as i64 <= target * 2 {
        ticks.push((t, time_label(t, step_s, span_s)));
        t += step_ms;
    }
    ticks
}

fn time_label(ms: i64, step_s: i64, span_s: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return String::new();
    };
    let formatted = if span_s > 86_400 {
        t.format(format_description!("[month]-[day] [hour]:[minute]"))
    } else if step_s < 60 {
        t.format(format_description!("[hour]:[minute]:[second]"))
    } else {
        t.format(format_description!("[hour]:[minute]"))
    };
    formatted.unwrap_or_default()
}

/// The `stroke-dasharray` attribute, left out for solid lines.
fn dash_attr(dash: &str) -> Option<&str> {
    Some(dash).filter(|d| !d.is_empty())
}

/// A coordinate with one decimal.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = WIDTH - 250.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = HEIGHT - 55.0;

/// The chart of cumulative blocks over time, one polyline per platform with points.
pub fn blocks_chart(s: &ActionDaySummary) -> Markup {
    let series: Vec<(&str, Vec<(i64, u64)>)> = s
        .blocks_over_time
        .iter()
        .map(|b| {
            let mut points: Vec<(i64, u64)> = b
                .points
                .iter()
                .filter_map(|p| Some((to_millis(p.at.as_ref()?), p.cumulative_blocked)))
                .collect();
            points.sort_by_key(|(t, _)| *t);
            (b.platform.as_str(), points)
        })
        .collect();
    // Every curve starts from 0 at H-hour, not at its first bucket.
    let h_hour = s.starts_at.as_ref().map(to_millis);
    let series: Vec<(&str, Vec<(i64, u64)>)> = series
        .into_iter()
        .map(|(platform, mut points)| {
            if let (Some(h), Some(&(t, _))) = (h_hour, points.first())
                && h < t
            {
                points.insert(0, (h, 0));
            }
            (platform, points)
        })
        .collect();
    let times = series.iter().flat_map(|(_, p)| p.iter().map(|(t, _)| *t));
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        return html! {
            svg id="blocks-chart" role="img" viewBox={"0 0 " (WIDTH) " 80"} width="100%" {
                title { "Cumulative blocks over time" }
                text x=(px(WIDTH / 2.0)) y="45" text-anchor="middle" { "No blocks recorded yet." }
            }
        };
    };
    let start = h_hour.map_or(first, |h| h.min(first));
    let (start, end) = if last > start {
        // A little room on the left, so that an H-hour at the start stays visible.
        (start - (last - start) / 40, last)
    } else {
        (start - 60_000, last + 60_000)
    };
    let max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, n)| *n))
        .max()
        .unwrap_or(0);
    let y_ticks = count_ticks(max, 6);
    let y_max = y_ticks.last().copied().unwrap_or(1).max(1);
    let x = Scale {
        domain: (start as f64, end as f64),
        range: (LEFT, RIGHT),
    };
    let y = Scale {
        domain: (0.0, y_max as f64),
        range: (BOTTOM, TOP),
    };
    let x_ticks = time_ticks(start, end, 8);
    let legend_y = |i: usize| TOP + 10.0 + i as f64 * 22.0;
    html! {
        svg id="blocks-chart" role="img" aria-labelledby="blocks-chart-title"
            viewBox={"0 0 " (WIDTH) " " (HEIGHT)} width="100%" {
            title id="blocks-chart-title" { "Cumulative blocks over time, per platform" }
            g class="grid" {
                @for t in &y_ticks {
                    line x1=(px(LEFT)) x2=(px(RIGHT)) y1=(px(y.map(*t as f64)))
                        y2=(px(y.map(*t as f64))) stroke="#dddddd" stroke-width="1" {}
                    text x=(px(LEFT - 8.0)) y=(px(y.map(*t as f64) + 4.0)) text-anchor="end"
                        font-size="12" { (t) }
                }
                @for (t, label) in &x_ticks {
                    line x1=(px(x.map(*t as f64))) x2=(px(x.map(*t as f64))) y1=(px(BOTTOM))
                        y2=(px(BOTTOM + 5.0)) stroke="#000000" stroke-width="1" {}
                    text x=(px(x.map(*t as f64))) y=(px(BOTTOM + 20.0)) text-anchor="middle"
                        font-size="12" { (label) }
                }
            }
            g class="axes" stroke="#000000" stroke-width="1" {
                line x1=(px(LEFT)) x2=(px(LEFT)) y1=(px(TOP)) y2=(px(BOTTOM)) {}
                line x1=(px(LEFT)) x2=(px(RIGHT)) y1=(px(BOTTOM)) y2=(px(BOTTOM)) {}
            }
            @if let Some(h) = h_hour {
                line x1=(px(x.map(h as f64))) x2=(px(x.map(h as f64))) y1=(px(TOP))
                    y2=(px(BOTTOM)) stroke="#555555" stroke-width="1" stroke-dasharray="4 4" {}
                text x=(px(x.map(h as f64) + 4.0)) y=(px(TOP + 12.0)) font-size="12"
                    fill="#555555" { "H-hour" }
            }
            text x=(px((LEFT + RIGHT) / 2.0)) y=(px(HEIGHT - 12.0)) text-anchor="middle"
                font-size="13" { "time (UTC)" }
            text transform={"translate(16 " (px((TOP + BOTTOM) / 2.0)) ") rotate(-90)"}
                text-anchor="middle" font-size="13" { "cumulative blocked" }
            @for (i, (platform, points)) in series.iter().enumerate() {
                @let (colour, dash) = style(i);
                @if !points.is_empty() {
                    polyline class="series" fill="none" stroke=(colour) stroke-width="2.5"
                        stroke-dasharray=[dash_attr(dash)] stroke-linejoin="round"
                        points=(points.iter()
                            .map(|(t, n)| format!("{},{}", px(x.map(*t as f64)), px(y.map(*n as f64))))
                            .collect::<Vec<_>>().join(" ")) {
                        title { (platform) }
                    }
                }
                @if let Some((t, n)) = points.last() {
                    circle cx=(px(x.map(*t as f64))) cy=(px(y.map(*n as f64))) r="3.5"
                        fill=(colour) {}
                }
                g class="legend" {
                    line x1=(px(RIGHT + 20.0)) x2=(px(RIGHT + 50.0)) y1=(px(legend_y(i)))
                        y2=(px(legend_y(i))) stroke=(colour) stroke-width="3"
                        stroke-dasharray=[dash_attr(dash)] {}
                    text x=(px(RIGHT + 58.0)) y=(px(legend_y(i) + 4.0)) font-size="13" {
                        (human::shorten(platform, 20))
                        " (" (points.last().map_or(0, |(_, n)| *n)) ")"
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_curve_starts_from_zero_at_h_hour() {
        let page = blocks_chart(&crate::report::sample::summary()).into_string();
        // The first point of each polyline: at y = 0 blocked, all at the same x (H-hour).
        let first: Vec<(&str, &str)> = page
            .split("points=\"")
            .skip(1)
            .filter_map(|p| p.split(' ').next()?.split_once(','))
            .collect();
        assert!(first.len() >= 2, "{page}");
        for (x, y) in &first {
            assert_eq!(*y, px(BOTTOM), "a curve starts above 0 at x = {x}");
            assert_eq!(*x, first[0].0, "the curves start at different times");
        }
    }

    #[test]
    fn scales_map_linearly() {
        let s = Scale {
            domain: (0.0, 100.0),
            range: (300.0, 20.0),
        };
        assert_eq!(s.map(0.0), 300.0);
        assert_eq!(s.map(100.0), 20.0);
        assert_eq!(s.map(50.0), 160.0);
        let flat = Scale {
            domain: (5.0, 5.0),
            range: (0.0, 10.0),
        };
        assert_eq!(flat.map(5.0), 5.0);
    }

    #[test]
    fn count_ticks_are_round_and_cover_the_maximum() {
        assert_eq!(count_ticks(950, 6), vec![0, 200, 400, 600, 800, 1000]);
        assert_eq!(count_ticks(0, 6), vec![0, 1]);
        assert_eq!(count_ticks(3, 6), vec![0, 1, 2, 3]);
        assert_eq!(count_ticks(20, 6), vec![0, 5, 10, 15, 20]);
        let big = count_ticks(u64::MAX / 2, 6);
        assert!(big.len() <= 8 && *big.last().unwrap() >= u64::MAX / 2);
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        let h = crate::report::sample::H_HOUR_MS;
        let ticks = time_ticks(h, h + 90 * 60_000, 8);
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "06:00", "06:15", "06:30", "06:45", "07:00", "07:15", "07:30"
            ]
        );
        let short = time_ticks(h + 7_000, h + 40_000, 8);
        assert_eq!(short[0].1, "06:00:10");
        let long = time_ticks(h, h + 3 * 86_400_000, 8);
        assert_eq!(long[0].1, "11-30 12:00");
    }

    #[test]
    fn styles_stay_distinct_past_the_palette() {
        let styles: Vec<_> = (0..COLOURS.len() * 3).map(style).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(!styles[..i].contains(a), "style {i} repeats");
        }
    }
}
