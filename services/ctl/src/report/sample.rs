//! A hand-built summary for the renderers' tests: three platforms (one with an open
//! circuit, one without timings), two agencies and a cumulative-blocks series per platform.

use takedown_protocol::{
    pb::{
        ActionDaySummary, AgencySummary, BlockPoint, BlockSeries, Percentiles, PlatformSummary,
        RejectCount,
    },
    timestamp::from_millis,
};

/// H-hour of the sample: 2026-11-30T06:00:00Z.
pub const H_HOUR_MS: i64 = 1_796_018_400_000;

fn reasons(list: &[(&str, u64)]) -> Vec<RejectCount> {
    list.iter()
        .map(|(reason, count)| RejectCount {
            reason: reason.to_string(),
            count: *count,
        })
        .collect()
}

fn series(platform: &str, points: &[(i64, u64)]) -> BlockSeries {
    BlockSeries {
        platform: platform.into(),
        points: points
            .iter()
            .map(|(minutes, n)| BlockPoint {
                at: Some(from_millis(H_HOUR_MS + minutes * 60_000)),
                cumulative_blocked: *n,
            })
            .collect(),
    }
}

pub fn summary() -> ActionDaySummary {
    let telegram = PlatformSummary {
        platform: "telegram".into(),
        referred: 1200,
        held: 30,
        released: 1170,
        delivered: 1150,
        acknowledged: 1140,
        blocked: 950,
        already_gone: 60,
        not_found: 40,
        geo_blocked: 10,
        rejected: 12,
        rejected_by_reason: reasons(&[("INSUFFICIENT_INFORMATION", 4), ("NOT_A_VIOLATION", 8)]),
        failed: 5,
        pending: 73,
        block_rate: 950.0 / 1150.0,
        release_to_ack: Some(Percentiles {
            count: 1140,
            p50_ms: 850,
            p90_ms: 2400,
            p99_ms: 180_000,
        }),
        release_to_action: Some(Percentiles {
            count: 1072,
            p50_ms: 61_000,
            p90_ms: 600_000,
            p99_ms: 3_000_000,
        }),
        removal_orders: 20,
        removal_orders_acted: 18,
        removal_orders_within_hour: 15,
        removal_orders_late: 3,
        removal_orders_within_hour_share: 0.75,
        removal_orders_cannot_execute: 1,
        removal_orders_resumed: 2,
        removal_orders_paused_ms: 1_800_000,
        removal_orders_out_of_hours: 0,
        tos_referrals: 1130,
        tos_referrals_acted: 1054,
        tos_referrals_within_hour: 980,
        tos_referrals_within_hour_share: 980.0 / 1130.0,
        circuit_open: false,
        last_error: String::new(),
    };
    let tamtam = PlatformSummary {
        platform: "tamtam".into(),
        referred: 640,
        held: 10,
        released: 630,
        delivered: 600,
        acknowledged: 590,
        blocked: 410,
        already_gone: 25,
        not_found: 15,
        geo_blocked: 0,
        rejected: 30,
        rejected_by_reason: reasons(&[("NOT_A_VIOLATION", 30)]),
        failed: 2,
        pending: 120,
        block_rate: 410.0 / 600.0,
        release_to_ack: Some(Percentiles {
            count: 590,
            p50_ms: 1200,
            p90_ms: 4500,
            p99_ms: 9000,
        }),
        release_to_action: Some(Percentiles {
            count: 450,
            p50_ms: 300_000,
            p90_ms: 1_800_000,
            p99_ms: 5_400_000,
        }),
        removal_orders: 4,
        removal_orders_acted: 3,
        removal_orders_within_hour: 1,
        removal_orders_late: 2,
        removal_orders_within_hour_share: 0.25,
        removal_orders_cannot_execute: 1,
        removal_orders_resumed: 0,
        removal_orders_paused_ms: 0,
        removal_orders_out_of_hours: 2,
        tos_referrals: 596,
        tos_referrals_acted: 447,
        tos_referrals_within_hour: 300,
        tos_referrals_within_hour_share: 300.0 / 596.0,
        circuit_open: true,
        last_error: "sidecar unavailable: connection refused".into(),
    };
    let x = PlatformSummary {
        platform: "x".into(),
        referred: 90,
        released: 90,
        delivered: 80,
        blocked: 20,
        pending: 60,
        block_rate: 0.25,
        ..Default::default()
    };
    ActionDaySummary {
        action_day_id: "ad-2026-11".into(),
        name: "Operation Daybreak".into(),
        starts_at: Some(from_millis(H_HOUR_MS)),
        state: "ACTION_DAY_STATE_LIVE".into(),
        generated_at: Some(from_millis(H_HOUR_MS + 95 * 60_000)),
        platforms: vec![telegram, tamtam, x],
        agencies: vec![
            AgencySummary {
                agency_id: "agency-fr".into(),
                lists: 3,
                items: 1300,
                merged_with_other_agencies: 140,
                held: 25,
                delivered: 1210,
                blocked: 900,
                rejected: 26,
                not_a_violation_share: 0.017,
            },
            AgencySummary {
                agency_id: "agency-de".into(),
                lists: 2,
                items: 770,
                merged_with_other_agencies: 140,
                held: 15,
                delivered: 620,
                blocked: 480,
                rejected: 16,
                not_a_violation_share: 0.0194,
            },
        ],
        blocks_over_time: vec![
            series("telegram", &[(0, 0), (10, 300), (30, 800), (90, 950)]),
            series("tamtam", &[(0, 0), (20, 150), (90, 410)]),
            series("x", &[(5, 0), (60, 20)]),
        ],
    }
}
