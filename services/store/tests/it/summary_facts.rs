//! The action-day summary on a hand-computed scenario: counts, nearest-rank percentiles,
//! the paused removal-order clock, per-agency precision, the block series, and the
//! agency and platform views.

use std::collections::HashMap;

use takedown_store::*;

use crate::support::*;

conformance!(summary_of_a_scenario, tos_referrals_run_a_plain_clock);

const MIN: i64 = 60_000;

fn referral(platform: &str, name: &str, removal_order: bool) -> NewReferral {
    let mut r = item(platform, name);
    if !removal_order {
        r.legal_basis = LegalBasis::TosReferral;
        r.removal_order = None;
    }
    r
}

fn decision(id: &str, target_id: TargetId, outcome: i32, reason: i32, at: i64) -> NewReport {
    if outcome == Outcome::Rejected as i32 {
        rejection(id, target_id, reason, at)
    } else {
        report(id, target_id, ReportKind::Decision, outcome, at)
    }
}

fn ack(id: &str, target_id: TargetId, at: i64) -> NewReport {
    report(id, target_id, ReportKind::Acknowledgement, 0, at)
}

fn pct(count: i64, p50: i64, p90: i64, p99: i64) -> LatencyPercentiles {
    LatencyPercentiles {
        count,
        p50,
        p90,
        p99,
    }
}

async fn summary_of_a_scenario<S: Store + Probe>(s: S) {
    let h = T0 + 1000; // H-hour = due_at of every list
    s.insert_action_day(&day("op", h), &checked("europol"))
        .await
        .unwrap();
    s.insert_action_day(&day("other", h), &checked("europol"))
        .await
        .unwrap();

    // (list, agency, items); v1..v3 are removal orders; v1 is referred by both agencies,
    // v2 twice by agency-a.
    let lists: [(&str, &str, Vec<NewReferral>); 3] = [
        (
            "la",
            "agency-a",
            vec![
                referral("video", "v1", true),
                referral("video", "v2", true),
                referral("video", "v3", true),
                referral("video", "v4", false),
                referral("video", "v5", false),
                referral("video", "v6", false),
                referral("social", "s1", false),
                referral("social", "s2", false),
            ],
        ),
        ("la2", "agency-a", vec![referral("video", "v2", true)]),
        (
            "lb",
            "agency-b",
            vec![
                referral("video", "v1", true),
                referral("video", "v7", false),
                referral("social", "s3", false),
                referral("social", "s4", false),
                referral("video", "v8", false),
            ],
        ),
    ];
    let mut id: HashMap<String, TargetId> = HashMap::new();
    for (n, (list_id, agency, items)) in lists.iter().enumerate() {
        let sum = accepted(
            s.insert_list(
                &list(list_id, agency, Some("op"), h, items.len(), n as u8 + 1),
                items,
            )
            .await
            .unwrap(),
        );
        for (it, tid) in items.iter().zip(sum.target_ids) {
            id.insert(it.normalized.clone(), tid);
        }
    }
    // Another day's target and a standing one count nowhere.
    s.insert_list(
        &list("lo", "agency-a", Some("other"), h, 1, 9),
        &[referral("video", "x", false)],
    )
    .await
    .unwrap();
    submit(&s, "ls", h, &[("social", "standing")]).await;
    let t = |n: &str| id[n];

    // s3 stays held.
    s.insert_hold(&hold("hold", "social", "s3", h + 1_000_000_000, "agency-b"))
        .await
        .unwrap();

    // Video: v1..v7 delivered at h + 1 s, v8 stays in flight.
    let claimed = s
        .claim_deliveries(&checked("video"), h, h + 1_000_000_000, 100)
        .await
        .unwrap();
    let delivery = |n: &str| claimed.iter().find(|c| c.target_id == t(n)).unwrap().id;
    let vd = h + 1000;
    let ids: Vec<DeliveryId> = ["v1", "v2", "v3", "v4", "v5", "v6", "v7"]
        .iter()
        .map(|n| delivery(n))
        .collect();
    s.mark_delivered(&ids, vd).await.unwrap();
    // Social: s1, s2 delivered at h + 2 s, s4 failed.
    let sclaimed = s
        .claim_deliveries(&checked("social"), h, h + 1_000_000_000, 100)
        .await
        .unwrap();
    let sdelivery = |n: &str| sclaimed.iter().find(|c| c.target_id == t(n)).unwrap().id;
    assert!(!sclaimed.iter().any(|c| c.target_id == t("s3")), "s3 held");
    let sd = h + 2000;
    s.mark_delivered(&[sdelivery("s1"), sdelivery("s2")], sd)
        .await
        .unwrap();
    s.mark_failed(&[sdelivery("s4")], sd, "unreachable")
        .await
        .unwrap();

    let video_reports = vec![
        // v1 (removal order): cannot execute (INSUFFICIENT_INFORMATION) 10 min after
        // delivery, blocked 90 min after: 80 min paused, 10 min net: within the hour.
        ack("a-v1", t("v1"), h + 1500),
        decision("d-v1-1", t("v1"), 5, 2, vd + 10 * MIN),
        decision("d-v1-2", t("v1"), 1, 0, vd + 90 * MIN),
        // v2 (removal order): blocked after 66 min 40 s, nothing paused: late.
        ack("a-v2", t("v2"), vd + 100),
        decision("d-v2", t("v2"), 1, 0, vd + 4_000_000),
        // v3 (removal order): MANIFEST_ERROR, never acted on.
        decision("d-v3", t("v3"), 5, 3, vd + MIN),
        ack("a-v4", t("v4"), vd + 10_000),
        decision("d-v4", t("v4"), 1, 0, vd + 20_000),
        decision("d-v5", t("v5"), 5, 1, vd + 30_000),
        decision("d-v6", t("v6"), 3, 0, vd + 40_000),
        ack("a-v7", t("v7"), vd + 5000),
        decision("d-v7", t("v7"), 4, 0, vd + 50_000),
    ];
    s.record_reports(&checked("video"), &video_reports, vd + 10 * 3_600_000)
        .await
        .unwrap()
        .unwrap();
    let social_reports = vec![
        ack("a-s1", t("s1"), sd + 1000),
        decision("d-s1", t("s1"), 1, 0, sd + 7000),
        decision("d-s2", t("s2"), 5, 1, sd + 9000),
    ];
    s.record_reports(&checked("social"), &social_reports, sd + 10_000)
        .await
        .unwrap()
        .unwrap();

    let now = h + 10 * 3_600_000;
    let all = s
        .action_day_summary(&checked("op"), &SummaryView::All, now)
        .await
        .unwrap();

    let social = PlatformFacts {
        counts: PlatformCounts {
            platform: checked("social"),
            referred: 4,
            held: 1,
            released: 3,
            delivered: 2,
            acknowledged: 1,
            blocked: 1,
            rejected: 1,
            failed: 1,
            pending: 0,
            ..zero_counts()
        },
        rejected_by_reason: vec![(RejectReason::NotAViolation, 1)],
        // s1: acked 3 s and blocked 9 s after H-hour.
        release_to_ack: pct(1, 3000, 3000, 3000),
        release_to_action: pct(1, 9000, 9000, 9000),
        tos_referrals: 2,
        tos_referrals_acted: 1,
        tos_referrals_within_hour: 1,
        ..zero_facts()
    };
    let video = PlatformFacts {
        counts: PlatformCounts {
            platform: checked("video"),
            referred: 8,
            held: 0,
            released: 8,
            delivered: 7,
            acknowledged: 4,
            blocked: 3,
            not_found: 1,
            geo_blocked: 1,
            rejected: 2,
            failed: 0,
            pending: 1,
            ..zero_counts()
        },
        rejected_by_reason: vec![
            (RejectReason::NotAViolation, 1),
            (RejectReason::ManifestError, 1),
        ],
        // Acks after H-hour: 1100, 1500, 6000, 11000; ranks 2, 4, 4 of 4.
        release_to_ack: pct(4, 1500, 11_000, 11_000),
        // Actions after H-hour: 21 000 (v4), 41 000 (v6), 51 000 (v7), 4 001 000 (v2),
        // 5 401 000 (v1); ranks 3, 5, 5 of 5. Latencies are kept to three significant
        // digits: 5 401 000 reads 5 400 000.
        release_to_action: pct(5, 51_000, 5_400_000, 5_400_000),
        removal_orders: 3,
        removal_orders_acted: 2,
        removal_orders_within_hour: 1,
        // v3 stands answered MANIFEST_ERROR; v1 was acted on after 80 minutes paused.
        removal_orders_cannot_execute: 1,
        removal_orders_resumed: 1,
        removal_orders_paused_ms: 80 * MIN,
        // v4, v6 and v7 acted on within seconds; v5 rejected.
        tos_referrals: 4,
        tos_referrals_acted: 3,
        tos_referrals_within_hour: 3,
    };
    assert_eq!(all.platforms, vec![social.clone(), video]);

    assert_eq!(
        all.agencies,
        vec![
            AgencyFacts {
                agency_id: checked("agency-a"),
                lists: 2,
                items: 9,
                merged_with_other_agencies: 1,
                held: 0,
                delivered: 8,
                blocked: 4,
                rejected: 3,
                rejected_not_a_violation: 2,
            },
            AgencyFacts {
                agency_id: checked("agency-b"),
                lists: 1,
                items: 5,
                merged_with_other_agencies: 1,
                held: 1,
                delivered: 2,
                blocked: 1,
                rejected: 0,
                rejected_not_a_violation: 0,
            },
        ]
    );

    // Blocks at h+9000 (s1), h+21000 (v4), h+4001000 (v2), h+5401000 (v1): a span of
    // 5 392 s, 200 buckets of 27 s read from 10-second slots (buckets of 30 s); each block
    // in a bucket of its own, dated at the end of its slot (h = T0 + 1 s, slots start at
    // multiples of 10 s).
    assert_eq!(
        all.blocks,
        vec![
            BlockSeriesFacts {
                platform: checked("social"),
                points: vec![BlockPoint {
                    at: h + 19_000,
                    cumulative: 1
                }],
            },
            BlockSeriesFacts {
                platform: checked("video"),
                points: vec![
                    BlockPoint {
                        at: h + 29_000,
                        cumulative: 1
                    },
                    BlockPoint {
                        at: h + 4_009_000,
                        cumulative: 2
                    },
                    BlockPoint {
                        at: h + 5_409_000,
                        cumulative: 3
                    },
                ],
            },
        ]
    );

    // Agency-b sees its own targets (v1, v7, v8, s3, s4) and its own row only.
    let b = s
        .action_day_summary(
            &checked("op"),
            &SummaryView::Agency(checked("agency-b")),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        b.platforms,
        vec![
            PlatformFacts {
                counts: PlatformCounts {
                    platform: checked("social"),
                    referred: 2,
                    held: 1,
                    released: 1,
                    failed: 1,
                    ..zero_counts()
                },
                ..zero_facts()
            },
            PlatformFacts {
                counts: PlatformCounts {
                    platform: checked("video"),
                    referred: 3,
                    released: 3,
                    delivered: 2,
                    acknowledged: 2,
                    blocked: 1,
                    geo_blocked: 1,
                    pending: 1,
                    ..zero_counts()
                },
                release_to_ack: pct(2, 1500, 6000, 6000),
                release_to_action: pct(2, 51_000, 5_400_000, 5_400_000),
                removal_orders: 1,
                removal_orders_acted: 1,
                removal_orders_within_hour: 1,
                removal_orders_resumed: 1,
                removal_orders_paused_ms: 80 * MIN,
                tos_referrals: 1,
                tos_referrals_acted: 1,
                tos_referrals_within_hour: 1,
                ..zero_facts()
            },
        ]
    );
    assert_eq!(b.agencies, vec![all.agencies[1].clone()]);
    // Its one block (v1) alone: one-second slots, the point at the end of its second.
    assert_eq!(
        b.blocks,
        vec![BlockSeriesFacts {
            platform: checked("video"),
            points: vec![BlockPoint {
                at: h + 5_402_000,
                cumulative: 1
            }],
        }]
    );

    // A platform sees its own row and series, and no agency rows. A held target does not
    // exist for it: s3 is neither referred nor held in its view.
    let p = s
        .action_day_summary(
            &checked("op"),
            &SummaryView::Platform(checked("social")),
            now,
        )
        .await
        .unwrap();
    let mut social_seen = social.clone();
    social_seen.counts.referred = 3;
    social_seen.counts.held = 0;
    assert_eq!(p.platforms, vec![social_seen]);
    assert!(p.agencies.is_empty());
    // Its one block (s1) alone: one-second slots.
    assert_eq!(
        p.blocks,
        vec![BlockSeriesFacts {
            platform: checked("social"),
            points: vec![BlockPoint {
                at: h + 10_000,
                cumulative: 1
            }],
        }]
    );

    // The older counts agree with the summary's.
    let counts = s.platform_counts(&checked("op"), now).await.unwrap();
    assert_eq!(
        counts,
        all.platforms
            .iter()
            .map(|p| p.counts.clone())
            .collect::<Vec<_>>()
    );

    // The rollups the triggers kept are those a rebuild from the facts alone gives.
    let views = [
        SummaryView::All,
        SummaryView::Agency(checked("agency-a")),
        SummaryView::Agency(checked("agency-b")),
        SummaryView::Platform(checked("video")),
    ];
    let mut kept = Vec::new();
    for v in &views {
        kept.push(s.action_day_summary(&checked("op"), v, now).await.unwrap());
    }
    s.rebuild_summary(&checked("op")).await.unwrap();
    for (v, kept) in views.iter().zip(kept) {
        assert_eq!(
            s.action_day_summary(&checked("op"), v, now).await.unwrap(),
            kept,
            "{v:?} after a rebuild"
        );
    }

    let none = s
        .action_day_summary(&checked("none"), &SummaryView::All, now)
        .await
        .unwrap();
    assert_eq!(none, SummaryFacts::default());
}

/// A ToS referral's hour runs from delivery to its first action, with no pause, whatever
/// the platform decided after it, and an earlier action reported late still counts.
async fn tos_referrals_run_a_plain_clock<S: Store + Probe>(s: S) {
    let h = T0 + 1000;
    s.insert_action_day(&day("tos", h), &checked("europol"))
        .await
        .unwrap();
    let names = [
        "quick",
        "slow",
        "reversed",
        "late_report",
        "undecided",
        "order",
    ];
    let items: Vec<NewReferral> = names
        .iter()
        .map(|n| referral("video", n, *n == "order"))
        .collect();
    let sum = accepted(
        s.insert_list(
            &list("lt", "agency-a", Some("tos"), h, items.len(), 1),
            &items,
        )
        .await
        .unwrap(),
    );
    let t = |n: &str| sum.target_ids[names.iter().position(|x| *x == n).unwrap()];
    let claimed = s
        .claim_deliveries(&checked("video"), h, h + 1_000_000_000, 100)
        .await
        .unwrap();
    let d = h + 1000;
    s.mark_delivered(&claimed.iter().map(|c| c.id).collect::<Vec<_>>(), d)
        .await
        .unwrap();
    let reports = vec![
        // Blocked 30 minutes after delivery: within the hour.
        decision("q", t("quick"), 1, 0, d + 30 * MIN),
        // Blocked after two hours: late.
        decision("s", t("slow"), 1, 0, d + 120 * MIN),
        // Blocked after 10 minutes, then rejected: it was acted on within the hour.
        decision("r1", t("reversed"), 1, 0, d + 10 * MIN),
        decision("r2", t("reversed"), 5, 5, d + 20 * MIN),
        // Rejected first (reason OTHER: a ToS referral has no pause), blocked at 90 min.
        decision("l1", t("late_report"), 5, 2, d + 5 * MIN),
        decision("l2", t("late_report"), 1, 0, d + 90 * MIN),
        // The removal order is not a ToS referral.
        decision("o", t("order"), 1, 0, d + MIN),
    ];
    s.record_reports(&checked("video"), &reports, d + 3 * 3_600_000)
        .await
        .unwrap()
        .unwrap();
    let tos = |f: &SummaryFacts| {
        let p = &f.platforms[0];
        (
            p.tos_referrals,
            p.tos_referrals_acted,
            p.tos_referrals_within_hour,
        )
    };
    let now = d + 3 * 3_600_000;
    let f = s
        .action_day_summary(&checked("tos"), &SummaryView::All, now)
        .await
        .unwrap();
    assert_eq!(tos(&f), (5, 4, 2), "{f:?}");
    assert_eq!(f.platforms[0].removal_orders_within_hour, 1);
    // A block at 40 minutes that reaches the hub after the 90-minute one: the standing
    // decision stays, the first action moves earlier, into the hour.
    s.record_reports(
        &checked("video"),
        &[decision("l0", t("late_report"), 1, 0, d + 40 * MIN)],
        now,
    )
    .await
    .unwrap()
    .unwrap();
    let f = s
        .action_day_summary(&checked("tos"), &SummaryView::All, now)
        .await
        .unwrap();
    assert_eq!(tos(&f), (5, 4, 3), "{f:?}");
    // The rollups kept report by report are what a rebuild from the facts gives.
    s.rebuild_summary(&checked("tos")).await.unwrap();
    let rebuilt = s
        .action_day_summary(&checked("tos"), &SummaryView::All, now)
        .await
        .unwrap();
    assert_eq!(rebuilt, f);
}
