//! Action-day summaries end to end: need-to-know views and the live watch.

use std::time::Duration;

use takedown_protocol::pb;
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referral, referrals, request},
    pki::COORDINATOR,
    sidecar::AutoPolicy,
    world::{World, platform_row},
};

both_backends!(
    an_agency_and_a_platform_see_nothing_of_others,
    the_watch_sees_counts_rise_and_ends_at_close,
);

fn total_blocked(s: &pb::ActionDaySummary) -> u64 {
    s.platforms.iter().map(|p| p.blocked).sum()
}

async fn an_agency_and_a_platform_see_nothing_of_others(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let policy = AutoPolicy::default();
    let _sidecars = [
        w.sidecar("telegram", &policy).await,
        w.sidecar("tamtam", &policy).await,
        w.sidecar("x", &policy).await,
    ];
    w.action_day("sum-day", 2_000).await;
    let mut fr_items = referrals("telegram", "fr", 5);
    fr_items.extend(referrals("tamtam", "tt", 3));
    fr_items.push(referral("x", "@shared"));
    let fr = w.key("agency-fr").list("fr-sum", Some("sum-day"), fr_items);
    let de = w.key("agency-de").list(
        "de-sum",
        Some("sum-day"),
        vec![
            referral("x", "@shared"),
            referral("telegram", "t.me/de_0"),
            referral("telegram", "t.me/de_1"),
        ],
    );
    for (agency, list) in [("agency-fr", &fr), ("agency-de", &de)] {
        w.as_org(agency)
            .await
            .referral
            .submit_referral_list(request(list))
            .await
            .expect("submit");
    }
    // 11 distinct targets: 7 telegram, 3 tamtam, 1 x.
    // Blocked and delivered: a platform's report can be recorded before the hub has
    // processed the Deliver answer that sets delivered_at.
    eventually(LONG, "everything blocked and delivered", || async {
        let s = w.summary_as(COORDINATOR, "sum-day").await;
        total_blocked(&s) == 11 && s.platforms.iter().map(|p| p.delivered).sum::<u64>() == 11
    })
    .await;

    let all = w.summary_as(COORDINATOR, "sum-day").await;
    assert_eq!(platform_row(&all, "telegram").referred, 7);
    assert_eq!(
        platform_row(&all, "telegram")
            .release_to_ack
            .as_ref()
            .unwrap()
            .count,
        7
    );
    let agencies: Vec<&str> = all.agencies.iter().map(|a| a.agency_id.as_str()).collect();
    assert_eq!(agencies, ["agency-de", "agency-fr"]);

    // agency-de: its 3 targets, its own row, nothing that names agency-fr or its targets.
    let de = w.summary_as("agency-de", "sum-day").await;
    assert_eq!(
        de.platforms
            .iter()
            .map(|p| (p.platform.as_str(), p.referred, p.blocked))
            .collect::<Vec<_>>(),
        [("tamtam", 0, 0), ("telegram", 2, 2), ("x", 1, 1)]
    );
    assert_eq!(de.agencies.len(), 1);
    let own = &de.agencies[0];
    assert_eq!(
        (
            own.agency_id.as_str(),
            own.lists,
            own.items,
            own.merged_with_other_agencies,
            own.delivered,
            own.blocked
        ),
        ("agency-de", 1, 3, 1, 3, 3)
    );
    assert_eq!(total_blocked(&de), 3);
    let series_total: u64 = de
        .blocks_over_time
        .iter()
        .filter_map(|s| s.points.last())
        .map(|p| p.cumulative_blocked)
        .sum();
    assert_eq!(series_total, 3);
    assert!(!format!("{de:?}").contains("agency-fr"));
    assert!(
        de.platforms
            .iter()
            .all(|p| !p.circuit_open && p.last_error.is_empty())
    );

    // telegram: its own row and series only, no agency rows.
    let tg = w.summary_as("telegram", "sum-day").await;
    assert_eq!(tg.platforms.len(), 1);
    assert_eq!(
        (
            tg.platforms[0].platform.as_str(),
            tg.platforms[0].referred,
            tg.platforms[0].blocked
        ),
        ("telegram", 7, 7)
    );
    assert!(tg.agencies.is_empty());
    assert!(tg.blocks_over_time.iter().all(|s| s.platform == "telegram"));
    let text = format!("{tg:?}");
    for other in ["tamtam", "\"x\"", "agency-fr", "agency-de"] {
        assert!(
            !text.contains(other),
            "{other} in the telegram view: {text}"
        );
    }
}

async fn the_watch_sees_counts_rise_and_ends_at_close(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let policy = AutoPolicy {
        min_delay_ms: 0,
        max_delay_ms: 3_000,
        ..AutoPolicy::default()
    };
    let _tg = w.sidecar("telegram", &policy).await;
    w.action_day("watch-day", 4_000).await;
    let list = w
        .key("agency-fr")
        .list("watch", Some("watch-day"), referrals("telegram", "w", 40));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .expect("submit");

    let mut stream = w
        .as_org(COORDINATOR)
        .await
        .summary
        .watch_action_day(pb::WatchActionDayRequest {
            action_day_id: "watch-day".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let mut seen: Vec<u64> = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("a snapshot at once")
        .expect("stream")
        .expect("a snapshot");
    assert_eq!(first.state, "ACTION_DAY_STATE_PLANNED");
    assert_eq!(platform_row(&first, "telegram").referred, 40);
    seen.push(platform_row(&first, "telegram").blocked);
    while seen.last() != Some(&40) {
        let s = tokio::time::timeout(LONG, stream.message())
            .await
            .expect("an update before the timeout")
            .expect("stream")
            .expect("the stream goes on while the day is open");
        seen.push(platform_row(&s, "telegram").blocked);
    }
    assert!(
        seen.windows(2).all(|p| p[0] <= p[1]),
        "blocks only rise: {seen:?}"
    );
    assert_eq!(seen[0], 0);
    assert!(
        seen.iter().any(|b| *b > 0 && *b < 40),
        "the watch saw the count rise, not only its end: {seen:?}"
    );

    w.as_org(COORDINATOR)
        .await
        .action_day
        .close_action_day(pb::CloseActionDayRequest {
            id: "watch-day".into(),
        })
        .await
        .expect("close");
    let last = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a last snapshot")
        .expect("stream")
        .expect("a last snapshot before the end");
    assert_eq!(last.state, "ACTION_DAY_STATE_CLOSED");
    assert_eq!(platform_row(&last, "telegram").blocked, 40);
    let end = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends")
        .expect("ends cleanly");
    assert!(end.is_none(), "nothing after the closed snapshot");
}
