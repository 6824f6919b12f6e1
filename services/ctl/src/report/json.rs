//! `--format json`: the summary as a stable, documented structure, pretty-printed.
//!
//! It mirrors `takedown.v1.ActionDaySummary` field for field, with snake_case keys, and
//! differs from the wire only where the wire is awkward for scripts:
//!
//! - times are RFC 3339 strings in UTC (`"2026-11-30T06:00:00Z"`), `null` when absent;
//! - `state` is a lowercase word: `planned`, `live`, `closed` (`unknown` if not sent);
//! - reject reasons are written without their enum prefix (`NOT_A_VIOLATION`);
//! - latency percentiles are always an object `{count, p50_ms, p90_ms, p99_ms}`
//!   (all 0 when nothing was measured);
//! - `block_rate`, `not_a_violation_share`, `removal_orders_within_hour_share` and
//!   `tos_referrals_within_hour_share` are decimals between 0 and 1.
//!
//! ```json
//! { "action_day_id": "ad-1", "name": "…", "starts_at": "…", "state": "live",
//!   "generated_at": "…",
//!   "platforms": [ { "platform": "telegram", "referred": 1200, …,
//!                    "rejected_by_reason": [ { "reason": "NOT_A_VIOLATION", "count": 8 } ],
//!                    "release_to_ack": { "count": 1140, "p50_ms": 850, … }, … } ],
//!   "agencies": [ { "agency_id": "agency-fr", "lists": 3, … } ],
//!   "blocks_over_time": [ { "platform": "telegram",
//!                           "points": [ { "at": "…", "cumulative_blocked": 300 } ] } ] }
//! ```

use serde::{Deserialize, Serialize};
use takedown_protocol::pb;

use super::{ReportError, human};
use crate::time::format_timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub action_day_id: String,
    pub name: String,
    pub starts_at: Option<String>,
    pub state: String,
    pub generated_at: Option<String>,
    pub platforms: Vec<Platform>,
    pub agencies: Vec<Agency>,
    pub blocks_over_time: Vec<BlockSeries>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub platform: String,
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
    pub rejected_by_reason: Vec<RejectCount>,
    pub failed: u64,
    pub pending: u64,
    pub block_rate: f64,
    pub release_to_ack: Percentiles,
    pub release_to_action: Percentiles,
    pub removal_orders: u64,
    pub removal_orders_acted: u64,
    pub removal_orders_within_hour: u64,
    #[serde(default)]
    pub removal_orders_within_hour_share: f64,
    #[serde(default)]
    pub removal_orders_late: u64,
    #[serde(default)]
    pub removal_orders_cannot_execute: u64,
    #[serde(default)]
    pub removal_orders_resumed: u64,
    #[serde(default)]
    pub removal_orders_paused_ms: u64,
    /// Delivered while the platform, by its stated staffed hours, had no one at work.
    #[serde(default)]
    pub removal_orders_out_of_hours: u64,
    #[serde(default)]
    pub tos_referrals: u64,
    #[serde(default)]
    pub tos_referrals_acted: u64,
    #[serde(default)]
    pub tos_referrals_within_hour: u64,
    #[serde(default)]
    pub tos_referrals_within_hour_share: f64,
    pub circuit_open: bool,
    pub last_error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectCount {
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: u64,
    pub p90_ms: u64,
    pub p99_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agency {
    pub agency_id: String,
    pub lists: u64,
    pub items: u64,
    pub merged_with_other_agencies: u64,
    pub held: u64,
    pub delivered: u64,
    pub blocked: u64,
    pub rejected: u64,
    pub not_a_violation_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSeries {
    pub platform: String,
    pub points: Vec<BlockPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockPoint {
    pub at: Option<String>,
    pub cumulative_blocked: u64,
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    Some(format_timestamp(ts)).filter(|s| !s.is_empty())
}

/// A rate that JSON can hold (it has no NaN or infinity).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

impl From<Option<&pb::Percentiles>> for Percentiles {
    fn from(p: Option<&pb::Percentiles>) -> Self {
        p.map(|p| Percentiles {
            count: p.count,
            p50_ms: p.p50_ms,
            p90_ms: p.p90_ms,
            p99_ms: p.p99_ms,
        })
        .unwrap_or_default()
    }
}

impl From<&pb::PlatformSummary> for Platform {
    fn from(p: &pb::PlatformSummary) -> Self {
        Platform {
            platform: p.platform.clone(),
            referred: p.referred,
            held: p.held,
            released: p.released,
            delivered: p.delivered,
            acknowledged: p.acknowledged,
            blocked: p.blocked,
            already_gone: p.already_gone,
            not_found: p.not_found,
            geo_blocked: p.geo_blocked,
            rejected: p.rejected,
            rejected_by_reason: p
                .rejected_by_reason
                .iter()
                .map(|r| RejectCount {
                    reason: human::reason_name(&r.reason).to_string(),
                    count: r.count,
                })
                .collect(),
            failed: p.failed,
            pending: p.pending,
            block_rate: finite(p.block_rate),
            release_to_ack: p.release_to_ack.as_ref().into(),
            release_to_action: p.release_to_action.as_ref().into(),
            removal_orders: p.removal_orders,
            removal_orders_acted: p.removal_orders_acted,
            removal_orders_within_hour: p.removal_orders_within_hour,
            removal_orders_within_hour_share: finite(p.removal_orders_within_hour_share),
            removal_orders_late: p.removal_orders_late,
            removal_orders_cannot_execute: p.removal_orders_cannot_execute,
            removal_orders_resumed: p.removal_orders_resumed,
            removal_orders_paused_ms: p.removal_orders_paused_ms,
            removal_orders_out_of_hours: p.removal_orders_out_of_hours,
            tos_referrals: p.tos_referrals,
            tos_referrals_acted: p.tos_referrals_acted,
            tos_referrals_within_hour: p.tos_referrals_within_hour,
            tos_referrals_within_hour_share: finite(p.tos_referrals_within_hour_share),
            circuit_open: p.circuit_open,
            last_error: p.last_error.clone(),
        }
    }
}

impl From<&pb::AgencySummary> for Agency {
    fn from(a: &pb::AgencySummary) -> Self {
        Agency {
            agency_id: a.agency_id.clone(),
            lists: a.lists,
            items: a.items,
            merged_with_other_agencies: a.merged_with_other_agencies,
            held: a.held,
            delivered: a.delivered,
            blocked: a.blocked,
            rejected: a.rejected,
            not_a_violation_share: finite(a.not_a_violation_share),
        }
    }
}

impl From<&pb::ActionDaySummary> for Summary {
    fn from(s: &pb::ActionDaySummary) -> Self {
        Summary {
            action_day_id: s.action_day_id.clone(),
            name: s.name.clone(),
            starts_at: time(s.starts_at.as_ref()),
            state: human::state(&s.state),
            generated_at: time(s.generated_at.as_ref()),
            platforms: s.platforms.iter().map(Platform::from).collect(),
            agencies: s.agencies.iter().map(Agency::from).collect(),
            blocks_over_time: s
                .blocks_over_time
                .iter()
                .map(|b| BlockSeries {
                    platform: b.platform.clone(),
                    points: b
                        .points
                        .iter()
                        .map(|p| BlockPoint {
                            at: time(p.at.as_ref()),
                            cumulative_blocked: p.cumulative_blocked,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The summary as pretty-printed JSON (with a final newline).
pub fn render(s: &pb::ActionDaySummary) -> Result<String, ReportError> {
    let mut text = serde_json::to_string_pretty(&Summary::from(s))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;
    use serde_json::Value;

    #[test]
    fn json_has_the_documented_keys_and_values() {
        let text = render(&sample::summary()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "action_day_id",
            "name",
            "starts_at",
            "state",
            "generated_at",
            "platforms",
            "agencies",
            "blocks_over_time",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert_eq!(v["starts_at"], "2026-11-30T06:00:00Z");
        assert_eq!(v["generated_at"], "2026-11-30T07:35:00Z");
        assert_eq!(v["state"], "live");
        let telegram = &v["platforms"][0];
        assert_eq!(telegram["platform"], "telegram");
        assert_eq!(telegram["referred"], 1200);
        assert_eq!(telegram["already_gone"], 60);
        assert_eq!(
            telegram["rejected_by_reason"][1]["reason"],
            "NOT_A_VIOLATION"
        );
        assert_eq!(telegram["rejected_by_reason"][1]["count"], 8);
        assert_eq!(telegram["release_to_ack"]["p90_ms"], 2400);
        assert_eq!(telegram["removal_orders_within_hour"], 15);
        assert_eq!(v["platforms"][1]["circuit_open"], true);
        assert_eq!(v["platforms"][2]["release_to_ack"]["count"], 0);
        assert_eq!(v["agencies"][0]["agency_id"], "agency-fr");
        assert_eq!(v["agencies"][0]["not_a_violation_share"], 0.017);
        assert_eq!(
            v["blocks_over_time"][0]["points"][1]["at"],
            "2026-11-30T06:10:00Z"
        );
        assert_eq!(
            v["blocks_over_time"][1]["points"][2]["cumulative_blocked"],
            410
        );
        // Typed round trip.
        let back: Summary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, Summary::from(&sample::summary()));
    }

    #[test]
    fn absent_times_are_null_and_nan_is_zero() {
        let s = pb::ActionDaySummary {
            platforms: vec![pb::PlatformSummary {
                block_rate: f64::NAN,
                ..Default::default()
            }],
            ..Default::default()
        };
        let v: Value = serde_json::from_str(&render(&s).unwrap()).unwrap();
        assert!(v["starts_at"].is_null());
        assert_eq!(v["state"], "unknown");
        assert_eq!(v["platforms"][0]["block_rate"], 0.0);
    }
}
