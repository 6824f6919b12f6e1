//! Per-platform counts of an action day, on a small hand-computed scenario.

use takedown_store::*;

use crate::support::*;

conformance!(platform_counts_of_a_scenario);

async fn platform_counts_of_a_scenario<S: Store + Probe>(s: S) {
    let h = T0 + 1000; // H-hour
    s.insert_action_day(&day("op", h), &checked("europol"))
        .await
        .unwrap();
    s.insert_action_day(&day("other", h), &checked("europol"))
        .await
        .unwrap();
    let names = [
        "blocked", "gone", "notfound", "geo", "rejected", "acked", "failed", "inflight", "held",
        "pending",
    ];
    let video: Vec<NewReferral> = names.iter().map(|n| item("video", n)).collect();
    let mut items = video.clone();
    items.push(item("social", "s1"));
    items.push(item("social", "s2"));
    let sum = accepted(
        s.insert_list(
            &list("l", "agency-a", Some("op"), h, items.len(), 1),
            &items,
        )
        .await
        .unwrap(),
    );
    // Another day's targets are not counted.
    s.insert_list(
        &list("l2", "agency-a", Some("other"), h, 1, 2),
        &[item("video", "x")],
    )
    .await
    .unwrap();
    let id = |n: &str| sum.target_ids[names.iter().position(|x| *x == n).unwrap()];

    // Before H-hour: everything embargoed, one target held.
    s.insert_hold(&hold("hold", "video", "held", h + 1_000_000, "agency-b"))
        .await
        .unwrap();
    // A hold that has expired by the time the counts are taken still counts before then.
    s.insert_hold(&hold("short", "social", "s2", h + 10, "agency-b"))
        .await
        .unwrap();
    let before = s.platform_counts(&checked("op"), T0).await.unwrap();
    assert_eq!(
        before,
        vec![
            PlatformCounts {
                platform: checked("social"),
                referred: 2,
                held: 1,
                ..zero_counts()
            },
            PlatformCounts {
                platform: checked("video"),
                referred: 10,
                held: 1,
                ..zero_counts()
            },
        ]
    );

    // At H-hour: claim (9 of this day, x of the other), deliver 6, one fails, one stays
    // in flight, one is retried later (pending), one held.
    let claimed = s
        .claim_deliveries(&checked("video"), h, h + 100_000, 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 10);
    let delivery = |n: &str| claimed.iter().find(|c| c.target_id == id(n)).unwrap().id;
    let delivered: Vec<DeliveryId> = ["blocked", "gone", "notfound", "geo", "rejected", "acked"]
        .iter()
        .map(|n| delivery(n))
        .collect();
    s.mark_delivered(&delivered, h + 1).await.unwrap();
    s.mark_failed(&[delivery("failed")], h + 2, "unreachable")
        .await
        .unwrap();
    s.mark_retry(&[delivery("pending")], h + 50_000, "busy")
        .await
        .unwrap();
    let mut reports = Vec::new();
    for (n, outcome) in [
        ("blocked", 1),
        ("gone", 2),
        ("notfound", 3),
        ("geo", 4),
        ("rejected", 5),
    ] {
        reports.push(report(
            &format!("d-{n}"),
            id(n),
            ReportKind::Decision,
            outcome,
            h + 3,
        ));
    }
    reports.push(report(
        "ack-1",
        id("acked"),
        ReportKind::Acknowledgement,
        0,
        h + 3,
    ));
    reports.push(report(
        "ack-2",
        id("blocked"),
        ReportKind::Acknowledgement,
        0,
        h + 3,
    ));
    s.record_reports(&checked("video"), &reports, h + 4)
        .await
        .unwrap()
        .unwrap();
    // A hold placed on an already delivered target does not make it held.
    s.insert_hold(&hold("late", "video", "blocked", h + 1_000_000, "agency-b"))
        .await
        .unwrap();

    let now = h + 20;
    let counts = s.platform_counts(&checked("op"), now).await.unwrap();
    assert_eq!(
        counts,
        vec![
            PlatformCounts {
                platform: checked("social"),
                referred: 2,
                // s2's hold expired at h + 10: both released, neither decided.
                held: 0,
                released: 2,
                pending: 2,
                ..zero_counts()
            },
            PlatformCounts {
                platform: checked("video"),
                referred: 10,
                held: 1,
                released: 9,
                delivered: 6,
                acknowledged: 2,
                blocked: 1,
                already_gone: 1,
                not_found: 1,
                geo_blocked: 1,
                rejected: 1,
                failed: 1,
                // acked, inflight, pending (failed excluded, held not released).
                pending: 3,
            },
        ]
    );
    assert!(
        s.platform_counts(&checked("none"), now)
            .await
            .unwrap()
            .is_empty()
    );
}
