//! Coordinator reports of an action day, rendered from a `pb::ActionDaySummary`.
//!
//! Pure functions: each takes the summary the hub sent and returns text, so every format is
//! testable without a hub. `takedownctl summary` and `takedownctl watch` call them.
//!
//! - [`table`]: terminal tables (platforms with a totals row, then agencies).
//! - [`csv`]: one CSV section at a time ([`Section`]): platforms, agencies or the block
//!   series; machine-friendly numbers (milliseconds as integers, rates as decimals).
//! - [`json`]: a stable serde structure mirroring the proto (documented there).
//! - [`html`]: one self-contained HTML file (inline CSS, inline SVG chart, no scripts and
//!   nothing fetched), escaped by the `maud` template.
//! - [`svg`]: scales, ticks and the cumulative-blocks chart used by [`html`].
//! - [`human`]: durations, percentages and the condensed rejection breakdown.

use takedown_protocol::pb::{ActionDaySummary, PlatformSummary, RejectCount};

pub mod csv;
pub mod html;
pub mod human;
pub mod json;
pub mod svg;
pub mod table;

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("writing CSV: {0}")]
    CsvFlush(String),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

/// The part of a report a CSV holds (one table per CSV file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    /// One row per platform.
    #[default]
    Platforms,
    /// One row per agency.
    Agencies,
    /// One row per point of the cumulative-blocks series: platform, time, count.
    Blocks,
}

/// Renders a summary in `format`; `section` selects the CSV table (ignored otherwise);
/// `width` is the terminal's, which a table fits (ignored otherwise).
pub fn render(
    summary: &ActionDaySummary,
    format: Format,
    section: Section,
    width: Option<u16>,
) -> Result<String, ReportError> {
    Ok(match format {
        Format::Table => table::render(summary, width),
        Format::Csv => match section {
            Section::Platforms => csv::platforms(summary)?,
            Section::Agencies => csv::agencies(summary)?,
            Section::Blocks => csv::blocks(summary)?,
        },
        Format::Json => json::render(summary)?,
        Format::Html => html::render(summary),
    })
}

/// The sums over all platforms (percentiles do not add up and are left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub referred: u64,
    pub held: u64,
    pub released: u64,
    pub delivered: u64,
    pub acknowledged: u64,
    pub blocked: u64,
    pub already_gone: u64,
    pub not_found: u64,
    pub geo_blocked: u64,
    pub rejected: u64,
    pub failed: u64,
    pub pending: u64,
    pub removal_orders: u64,
    pub removal_orders_acted: u64,
    pub removal_orders_within_hour: u64,
    pub removal_orders_late: u64,
    pub removal_orders_cannot_execute: u64,
    pub removal_orders_resumed: u64,
    pub removal_orders_paused_ms: u64,
    pub removal_orders_out_of_hours: u64,
    pub tos_referrals: u64,
    pub tos_referrals_acted: u64,
    pub tos_referrals_within_hour: u64,
    /// Rejections by reason over all platforms, in order of first appearance.
    pub rejected_by_reason: Vec<RejectCount>,
    /// Platforms whose delivery circuit is open.
    pub circuits_open: usize,
}

impl Totals {
    /// Adds up the platforms' counts (saturating: a hostile summary cannot overflow).
    pub fn of(platforms: &[PlatformSummary]) -> Self {
        let mut t = Totals::default();
        for p in platforms {
            let add = |sum: &mut u64, v: u64| *sum = sum.saturating_add(v);
            add(&mut t.referred, p.referred);
            add(&mut t.held, p.held);
            add(&mut t.released, p.released);
            add(&mut t.delivered, p.delivered);
            add(&mut t.acknowledged, p.acknowledged);
            add(&mut t.blocked, p.blocked);
            add(&mut t.already_gone, p.already_gone);
            add(&mut t.not_found, p.not_found);
            add(&mut t.geo_blocked, p.geo_blocked);
            add(&mut t.rejected, p.rejected);
            add(&mut t.failed, p.failed);
            add(&mut t.pending, p.pending);
            add(&mut t.removal_orders, p.removal_orders);
            add(&mut t.removal_orders_acted, p.removal_orders_acted);
            add(
                &mut t.removal_orders_within_hour,
                p.removal_orders_within_hour,
            );
            add(&mut t.removal_orders_late, p.removal_orders_late);
            add(
                &mut t.removal_orders_cannot_execute,
                p.removal_orders_cannot_execute,
            );
            add(&mut t.removal_orders_resumed, p.removal_orders_resumed);
            add(&mut t.removal_orders_paused_ms, p.removal_orders_paused_ms);
            add(
                &mut t.removal_orders_out_of_hours,
                p.removal_orders_out_of_hours,
            );
            add(&mut t.tos_referrals, p.tos_referrals);
            add(&mut t.tos_referrals_acted, p.tos_referrals_acted);
            add(
                &mut t.tos_referrals_within_hour,
                p.tos_referrals_within_hour,
            );
            for r in &p.rejected_by_reason {
                let name = human::reason_name(&r.reason);
                match t
                    .rejected_by_reason
                    .iter_mut()
                    .find(|seen| seen.reason == name)
                {
                    Some(seen) => add(&mut seen.count, r.count),
                    None => t.rejected_by_reason.push(RejectCount {
                        reason: name.to_string(),
                        count: r.count,
                    }),
                }
            }
            if p.circuit_open {
                t.circuits_open += 1;
            }
        }
        t
    }

    /// Blocked over delivered, over all platforms.
    pub fn block_rate(&self) -> f64 {
        human::rate(self.blocked, self.delivered)
    }
}

#[cfg(test)]
pub(crate) mod sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_and_rate_is_over_all_deliveries() {
        let s = sample::summary();
        let t = Totals::of(&s.platforms);
        assert_eq!(t.referred, 1200 + 640 + 90);
        assert_eq!(t.blocked, 950 + 410 + 20);
        assert_eq!(t.delivered, 1150 + 600 + 80);
        assert_eq!(t.circuits_open, 1);
        assert_eq!(
            human::rejected_breakdown(t.rejected, &t.rejected_by_reason),
            "42 (NAV 38, INF 4)"
        );
        assert!((t.block_rate() - 1380.0 / 1830.0).abs() < 1e-12);
        assert_eq!(Totals::of(&[]).block_rate(), 0.0);
    }
}
