//! CSV for scripts and spreadsheets: one table per file, header row always present.
//!
//! Numbers are machine-friendly: counts and milliseconds as integers, rates and shares as
//! decimals (0.0–1.0, full precision), booleans `true`/`false`, times RFC 3339 (UTC).
//! Latency percentiles that were not measured are 0 with a `_count` of 0, as on the wire.
//! There is no totals row: sum the columns. Rejections have one column per known reason;
//! a reason this version does not know is counted in `rejected_other`.

use takedown_protocol::pb::{ActionDaySummary, PlatformSummary, RejectReason};

use super::{ReportError, human};
use crate::time::format_timestamp;

/// The reasons that get a column of their own, in column order.
const REASONS: [RejectReason; 5] = [
    RejectReason::NotAViolation,
    RejectReason::InsufficientInformation,
    RejectReason::ManifestError,
    RejectReason::ForceMajeure,
    RejectReason::Other,
];

/// The header of [`platforms`].
pub fn platform_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "platform",
        "referred",
        "held",
        "released",
        "delivered",
        "acknowledged",
        "blocked",
        "already_gone",
        "not_found",
        "geo_blocked",
        "rejected",
    ]
    .map(String::from)
    .to_vec();
    for r in REASONS {
        h.push(format!(
            "rejected_{}",
            human::reason_name(r.as_str_name()).to_lowercase()
        ));
    }
    h.extend(["failed", "pending", "block_rate"].map(String::from));
    for latency in ["release_to_ack", "release_to_action"] {
        for part in ["count", "p50_ms", "p90_ms", "p99_ms"] {
            h.push(format!("{latency}_{part}"));
        }
    }
    h.extend(
        [
            "removal_orders",
            "removal_orders_acted",
            "removal_orders_within_hour",
            "removal_orders_within_hour_share",
            "removal_orders_late",
            "removal_orders_cannot_execute",
            "removal_orders_resumed",
            "removal_orders_paused_ms",
            "removal_orders_out_of_hours",
            "tos_referrals",
            "tos_referrals_acted",
            "tos_referrals_within_hour",
            "tos_referrals_within_hour_share",
            "circuit_open",
            "last_error",
        ]
        .map(String::from),
    );
    h
}

/// The header of [`agencies`].
pub const AGENCY_HEADER: [&str; 9] = [
    "agency_id",
    "lists",
    "items",
    "merged_with_other_agencies",
    "held",
    "delivered",
    "blocked",
    "rejected",
    "not_a_violation_share",
];

/// The header of [`blocks`].
pub const BLOCKS_HEADER: [&str; 3] = ["platform", "at", "cumulative_blocked"];

/// One row per platform.
pub fn platforms(s: &ActionDaySummary) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(platform_header())?;
    for p in &s.platforms {
        w.write_record(platform_record(p))?;
    }
    finish(w)
}

fn platform_record(p: &PlatformSummary) -> Vec<String> {
    let mut r = vec![
        p.platform.clone(),
        p.referred.to_string(),
        p.held.to_string(),
        p.released.to_string(),
        p.delivered.to_string(),
        p.acknowledged.to_string(),
        p.blocked.to_string(),
        p.already_gone.to_string(),
        p.not_found.to_string(),
        p.geo_blocked.to_string(),
        p.rejected.to_string(),
    ];
    let mut by_reason = [0u64; REASONS.len()];
    let other = REASONS.len() - 1;
    for rc in &p.rejected_by_reason {
        let name = human::reason_name(&rc.reason);
        let column = REASONS
            .iter()
            .position(|known| human::reason_name(known.as_str_name()) == name)
            .unwrap_or(other);
        by_reason[column] = by_reason[column].saturating_add(rc.count);
    }
    r.extend(by_reason.iter().map(u64::to_string));
    r.extend([
        p.failed.to_string(),
        p.pending.to_string(),
        decimal(p.block_rate),
    ]);
    for latency in [&p.release_to_ack, &p.release_to_action] {
        let l = latency.unwrap_or_default();
        r.extend([l.count, l.p50_ms, l.p90_ms, l.p99_ms].map(|v| v.to_string()));
    }
    r.extend([
        p.removal_orders.to_string(),
        p.removal_orders_acted.to_string(),
        p.removal_orders_within_hour.to_string(),
        decimal(p.removal_orders_within_hour_share),
        p.removal_orders_late.to_string(),
        p.removal_orders_cannot_execute.to_string(),
        p.removal_orders_resumed.to_string(),
        p.removal_orders_paused_ms.to_string(),
        p.removal_orders_out_of_hours.to_string(),
        p.tos_referrals.to_string(),
        p.tos_referrals_acted.to_string(),
        p.tos_referrals_within_hour.to_string(),
        decimal(p.tos_referrals_within_hour_share),
        p.circuit_open.to_string(),
        p.last_error.clone(),
    ]);
    r
}

/// One row per agency.
pub fn agencies(s: &ActionDaySummary) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(AGENCY_HEADER)?;
    for a in &s.agencies {
        w.write_record([
            a.agency_id.clone(),
            a.lists.to_string(),
            a.items.to_string(),
            a.merged_with_other_agencies.to_string(),
            a.held.to_string(),
            a.delivered.to_string(),
            a.blocked.to_string(),
            a.rejected.to_string(),
            decimal(a.not_a_violation_share),
        ])?;
    }
    finish(w)
}

/// One row per point of each platform's cumulative-blocks series.
pub fn blocks(s: &ActionDaySummary) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(BLOCKS_HEADER)?;
    for series in &s.blocks_over_time {
        for point in &series.points {
            w.write_record([
                series.platform.clone(),
                format_timestamp(point.at.as_ref()),
                point.cumulative_blocked.to_string(),
            ])?;
        }
    }
    finish(w)
}

/// A rate as a plain decimal; empty when it is not a number.
fn decimal(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

fn finish(w: ::csv::Writer<Vec<u8>>) -> Result<String, ReportError> {
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::CsvFlush(e.error().to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::CsvFlush(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;
    use std::collections::HashMap;

    fn parse(text: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(String::from))
                    .collect()
            })
            .collect();
        (header, rows)
    }

    #[test]
    fn platforms_parse_back() {
        let mut s = sample::summary();
        s.platforms[2].platform = "x, \"the\" platform".into();
        s.platforms[2].rejected_by_reason = vec![takedown_protocol::pb::RejectCount {
            reason: "SOMETHING_NEW".into(),
            count: 2,
        }];
        let (header, rows) = parse(&platforms(&s).unwrap());
        assert_eq!(header, platform_header());
        assert_eq!(header[0], "platform");
        assert_eq!(header[11], "rejected_not_a_violation");
        assert_eq!(header[12], "rejected_insufficient_information");
        assert_eq!(rows.len(), 3);
        let t = &rows[0];
        assert_eq!(t["platform"], "telegram");
        assert_eq!(t["referred"], "1200");
        assert_eq!(t["rejected"], "12");
        assert_eq!(t["rejected_not_a_violation"], "8");
        assert_eq!(t["rejected_insufficient_information"], "4");
        assert_eq!(t["rejected_other"], "0");
        assert_eq!(t["release_to_ack_p50_ms"], "850");
        assert_eq!(t["release_to_action_p99_ms"], "3000000");
        assert_eq!(t["removal_orders_within_hour"], "15");
        assert_eq!(t["circuit_open"], "false");
        let rate: f64 = t["block_rate"].parse().unwrap();
        assert!((rate - 950.0 / 1150.0).abs() < 1e-12);
        assert_eq!(rows[1]["circuit_open"], "true");
        assert_eq!(
            rows[1]["last_error"],
            "sidecar unavailable: connection refused"
        );
        assert_eq!(rows[2]["platform"], "x, \"the\" platform");
        assert_eq!(rows[2]["release_to_ack_count"], "0");
        assert_eq!(rows[2]["block_rate"], "0.25");
        assert_eq!(rows[2]["rejected_other"], "2");
    }

    #[test]
    fn agencies_and_blocks_parse_back() {
        let s = sample::summary();
        let (header, rows) = parse(&agencies(&s).unwrap());
        assert_eq!(header, AGENCY_HEADER);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["agency_id"], "agency-de");
        assert_eq!(rows[1]["merged_with_other_agencies"], "140");
        assert_eq!(rows[1]["not_a_violation_share"], "0.0194");

        let (header, rows) = parse(&blocks(&s).unwrap());
        assert_eq!(header, BLOCKS_HEADER);
        assert_eq!(rows.len(), 4 + 3 + 2);
        assert_eq!(rows[1]["platform"], "telegram");
        assert_eq!(rows[1]["at"], "2026-11-30T06:10:00Z");
        assert_eq!(rows[1]["cumulative_blocked"], "300");
        assert_eq!(rows[8]["platform"], "x");
        assert_eq!(rows[8]["cumulative_blocked"], "20");
    }

    #[test]
    fn empty_sections_still_have_their_header() {
        let s = ActionDaySummary::default();
        assert_eq!(blocks(&s).unwrap(), "platform,at,cumulative_blocked\n");
        assert_eq!(parse(&agencies(&s).unwrap()).0, AGENCY_HEADER);
        assert_eq!(parse(&platforms(&s).unwrap()).0, platform_header());
    }
}
