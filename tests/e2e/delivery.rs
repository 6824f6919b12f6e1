//! The action day end to end: embargo until H-hour, fan-out to real sidecars, outcomes
//! back, and nothing lost through hub crashes, sidecar outages and sidecar crashes.

use std::time::Duration;

use prost::Message;
use takedown_protocol::{
    pb::{self, TargetState},
    timestamp::now_millis,
};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referral, referrals, request},
    pki::COORDINATOR,
    sidecar::AutoPolicy,
    world::World,
};
use tonic::Code;

both_backends!(
    nothing_before_h_hour_everything_after,
    hub_killed_mid_fan_out_loses_nothing,
    a_sidecar_down_delays_only_its_platform,
    a_platform_back_up_gets_its_backlog_at_once,
    sidecar_killed_before_reporting_loses_no_outcome,
    tampered_item_is_refused_by_the_sidecar,
    a_held_target_is_never_delivered,
    a_platform_cannot_report_on_others_targets,
);

async fn states(w: &World, agency: &str, list_id: &str) -> Vec<TargetState> {
    w.list_items(agency, list_id)
        .await
        .iter()
        .map(|i| i.state())
        .collect()
}

async fn nothing_before_h_hour_everything_after(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let policy = AutoPolicy::default();
    let sidecars = [
        w.sidecar("telegram", &policy).await,
        w.sidecar("tamtam", &policy).await,
        w.sidecar("x", &policy).await,
    ];
    let day = w.action_day("day-1", 4_000).await;
    let h_hour = takedown_protocol::timestamp::to_millis(day.starts_at.as_ref().unwrap());
    let mut fr_items = referrals("telegram", "tg", 30);
    fr_items.extend(referrals("tamtam", "tt", 20));
    fr_items.push(referral("x", "@shared"));
    let fr = w.key("agency-fr").list("fr-day", Some("day-1"), fr_items);
    let de = w.key("agency-de").list(
        "de-day",
        Some("day-1"),
        vec![
            referral("x", "https://x.com/Shared"),
            referral("x", "@only_de"),
            referral("telegram", "t.me/tg_0"),
        ],
    );
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&fr))
        .await
        .unwrap();
    let de_answer = w
        .as_org("agency-de")
        .await
        .referral
        .submit_referral_list(request(&de))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        de_answer.merged_duplicates, 2,
        "x/@shared and telegram/tg_0 merge across agencies"
    );

    // Before H-hour: embargoed, nothing at any sidecar.
    assert!(
        now_millis() < h_hour - 1_000,
        "the test setup took too long"
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(
        states(&w, "agency-fr", "fr-day")
            .await
            .iter()
            .all(|s| *s == TargetState::Embargoed)
    );
    for s in &sidecars {
        assert_eq!(
            s.received().await,
            0,
            "{} received something before H-hour",
            s.platform
        );
    }

    // After H-hour: every target reaches its platform, once, and outcomes come back.
    let expected = [("telegram", 30), ("tamtam", 20), ("x", 2)];
    for (s, (p, n)) in sidecars.iter().zip(expected) {
        eventually(LONG, &format!("{p} receives {n}"), || async {
            s.received().await == n
        })
        .await;
        let first = s.first_received_at().await.unwrap();
        assert!(
            first >= h_hour,
            "{p} received at {first}, before H-hour {h_hour}"
        );
        // Handoff follows receipt by up to one handoff interval.
        s.expect_each_handed_once(n as usize, p).await;
    }
    eventually(LONG, "all blocked at the hub", || async {
        states(&w, "agency-fr", "fr-day")
            .await
            .iter()
            .all(|s| *s == TargetState::Blocked)
    })
    .await;
    // The platform's reports may be recorded before the hub has processed the Deliver
    // answer that sets delivered_at.
    eventually(
        LONG,
        "every target delivered and acknowledged at the hub",
        || async {
            w.db.scalar(
                "SELECT COUNT(*) FROM targets WHERE acked_at IS NULL OR delivered_at IS NULL",
            )
            .await
                == 0
        },
    )
    .await;
    let day = w
        .as_org(COORDINATOR)
        .await
        .action_day
        .get_action_day(pb::GetActionDayRequest { id: "day-1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(day.state(), pb::ActionDayState::Live);
    assert!(day.released_at.is_some(), "the release is recorded");
    let summary = w
        .as_org(COORDINATOR)
        .await
        .summary
        .get_action_day_summary(pb::GetActionDaySummaryRequest {
            action_day_id: "day-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let tg = summary
        .platforms
        .iter()
        .find(|p| p.platform == "telegram")
        .unwrap();
    assert_eq!(
        (
            tg.referred,
            tg.delivered,
            tg.acknowledged,
            tg.blocked,
            tg.pending
        ),
        (30, 30, 30, 30, 0)
    );
}

async fn hub_killed_mid_fan_out_loses_nothing(backend: Backend) {
    let opts = HubOptions {
        batch_size: 10,
        max_in_flight: 1,
        lease_ms: 3_000,
        rpc_timeout_ms: 2_000,
        ..HubOptions::default()
    };
    let Some(mut w) = World::start(backend, opts).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    let total = 800;
    let list = w
        .key("agency-fr")
        .list("big", None, referrals("telegram", "k", total));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    // Kill the hub (SIGKILL) while the fan-out is under way.
    eventually(LONG, "fan-out started", || async {
        tg.received().await > 0
    })
    .await;
    let at_kill = tg.received().await;
    w.hub.kill();
    assert!(
        at_kill < total as i64,
        "the fan-out finished before the kill ({at_kill}); make it bigger"
    );
    w.hub.restart().await;
    eventually(LONG, "every target delivered after the restart", || async {
        tg.received().await == total as i64
    })
    .await;
    tg.expect_each_handed_once(total, "after the hub's restart")
        .await;
    eventually(LONG, "the hub knows every target delivered", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
            .await
            == total as i64
    })
    .await;
}

async fn a_sidecar_down_delays_only_its_platform(backend: Backend) {
    let opts = HubOptions {
        retry_schedule_ms: vec![100, 200, 400],
        breaker_failures: 2,
        breaker_cooldown_ms: 500,
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    let mut items = referrals("telegram", "up", 50);
    items.extend(referrals("x", "down", 50));
    let list = w.key("agency-fr").list("mixed", None, items);
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    // Telegram is served at once although x's sidecar is down.
    eventually(
        Duration::from_secs(10),
        "telegram served while x is down",
        || async { tg.received().await == 50 },
    )
    .await;
    assert_eq!(
        w.db.scalar(
            "SELECT COUNT(*) FROM targets WHERE platform = 'x' AND delivered_at IS NOT NULL"
        )
        .await,
        0
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // x comes back: its deliveries arrive.
    let x = w.sidecar("x", &AutoPolicy::default()).await;
    eventually(LONG, "x served after it returns", || async {
        x.received().await == 50
    })
    .await;
    eventually(LONG, "x delivered at the hub", || async {
        w.db.scalar(
            "SELECT COUNT(*) FROM targets WHERE platform = 'x' AND delivered_at IS NOT NULL",
        )
        .await
            == 50
    })
    .await;
}

/// The deliveries that failed while a platform was down wait out retry delays of up to a
/// minute; once the platform answers again they go at once, not when each delay ends.
async fn a_platform_back_up_gets_its_backlog_at_once(backend: Backend) {
    let opts = HubOptions {
        // A first retry soon, then a long one: the backlog waits 60 s unless released.
        retry_schedule_ms: vec![100, 60_000],
        breaker_failures: 2,
        breaker_cooldown_ms: 300,
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let down = w
        .key("agency-fr")
        .list("while-down", None, referrals("x", "bl", 50));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&down))
        .await
        .unwrap();
    eventually(LONG, "every delivery to x failed twice", || async {
        w.db.scalar(
            "SELECT COUNT(*) FROM deliveries WHERE platform = 'x' AND state = 0 AND attempts >= 2",
        )
        .await
            == 50
    })
    .await;
    // x comes back, and a new target for it is due now.
    let x = w.sidecar("x", &AutoPolicy::default()).await;
    let up = w
        .key("agency-fr")
        .list("back-up", None, vec![referral("x", "@fresh")]);
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&up))
        .await
        .unwrap();
    let back = std::time::Instant::now();
    eventually(LONG, "x holds the backlog and the new target", || async {
        x.received().await == 51
    })
    .await;
    let took = back.elapsed();
    eprintln!("x received its 50-target backlog {took:?} after it answered again");
    assert!(
        took < Duration::from_secs(20),
        "the backlog waited out its retry delays: {took:?}"
    );
}

async fn sidecar_killed_before_reporting_loses_no_outcome(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // Decisions take 2–3 s: the sidecar dies after acknowledging, before reporting them.
    let slow = AutoPolicy {
        min_delay_ms: 2_000,
        max_delay_ms: 3_000,
        ..AutoPolicy::default()
    };
    let mut tg = w.sidecar("telegram", &slow).await;
    let list = w
        .key("agency-fr")
        .list("slow", None, referrals("telegram", "s", 60));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    eventually(LONG, "all acknowledged", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL")
            .await
            == 60
    })
    .await;
    assert!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE outcome IS NOT NULL")
            .await
            < 60
    );
    tg.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tg.restart().await;
    eventually(LONG, "every decision reaches the hub", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE outcome = 1")
            .await
            == 60
    })
    .await;
    assert!(tg.handoffs_per_target().await.values().all(|c| *c == 1));
}

async fn tampered_item_is_refused_by_the_sidecar(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-t", 3_000).await;
    let list = w
        .key("agency-fr")
        .list("t-list", Some("day-t"), referrals("telegram", "t", 5));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    // Someone with database access swaps item 2's bytes before H-hour.
    let forged = referral("telegram", "t_2")
        .encode_to_vec()
        .into_iter()
        .chain([0x42, 0x01, 0x21])
        .collect::<Vec<u8>>();
    let changed =
        w.db.execute(&format!(
            "UPDATE referrals SET item = {} WHERE list_id = 't-list' AND item_index = 2",
            w.db.blob(&forged)
        ))
        .await;
    assert_eq!(changed, 1);
    eventually(LONG, "the other four delivered", || async {
        tg.received().await == 4
    })
    .await;
    eventually(LONG, "the forged one failed", || async {
        states(&w, "agency-fr", "t-list").await[2] == TargetState::Failed
    })
    .await;
    let status = w
        .as_org("agency-fr")
        .await
        .referral
        .get_list_status(pb::GetListStatusRequest {
            list_id: "t-list".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        status.items[2]
            .detail
            .contains("refused by the platform's receiver"),
        "{}",
        status.items[2].detail
    );
    let handed = tg.received_targets().await;
    assert!(
        !handed.contains(&status.items[2].target_id),
        "the forged target never reaches the platform"
    );
}

async fn a_held_target_is_never_delivered(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-h", 3_000).await;
    let list = w
        .key("agency-fr")
        .list("h-list", Some("day-h"), referrals("telegram", "h", 4));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    // agency-de protects a live investigation on one of agency-fr's targets.
    let hold = w
        .as_org("agency-de")
        .await
        .hold
        .place_hold(pb::PlaceHoldRequest {
            platform: "telegram".into(),
            target: "https://t.me/H_1".into(),
            reason: "undercover operation".into(),
            expires_at: Some(takedown_protocol::timestamp::from_millis(
                now_millis() + 3_600_000,
            )),
        })
        .await
        .unwrap()
        .into_inner();
    eventually(LONG, "the others delivered", || async {
        tg.received().await == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tg.received().await, 3, "the held target is not delivered");
    let st = states(&w, "agency-fr", "h-list").await;
    assert_eq!(st[1], TargetState::Held);
    // The referring agency learns that it is held, never by whom.
    let fr_view = w
        .as_org("agency-fr")
        .await
        .hold
        .list_holds(pb::ListHoldsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(fr_view.holds.is_empty());
    // Released: delivered.
    w.as_org("agency-de")
        .await
        .hold
        .release_hold(pb::ReleaseHoldRequest { hold_id: hold.id })
        .await
        .unwrap();
    eventually(LONG, "delivered once the hold is released", || async {
        tg.received().await == 4
    })
    .await;
}

async fn a_platform_cannot_report_on_others_targets(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    let tt = w.sidecar("tamtam", &AutoPolicy::default()).await;
    let list = w.key("agency-fr").list(
        "r-list",
        None,
        vec![referral("telegram", "@a"), referral("tamtam", "@b")],
    );
    let answer = w
        .as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap()
        .into_inner();
    eventually(LONG, "both delivered", || async {
        tg.received().await == 1 && tt.received().await == 1
    })
    .await;
    eventually(LONG, "reports in", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE outcome IS NOT NULL")
            .await
            == 2
    })
    .await;
    let before = w.db.count("reports").await;
    let tamtam_target = answer.target_ids[1].clone();
    let forged = pb::ReportOutcomesRequest {
        reports: vec![
            pb::PlatformReport {
                report_id: "ok-looking".into(),
                target_id: answer.target_ids[0].clone(),
                report: Some(pb::platform_report::Report::Decision(pb::Decision {
                    outcome: pb::Outcome::Blocked as i32,
                    ..Default::default()
                })),
            },
            pb::PlatformReport {
                report_id: "not-mine".into(),
                target_id: tamtam_target,
                report: Some(pb::platform_report::Report::Decision(pb::Decision {
                    outcome: pb::Outcome::Rejected as i32,
                    reason: pb::RejectReason::NotAViolation as i32,
                    ..Default::default()
                })),
            },
        ],
    };
    let err = w
        .as_org("telegram")
        .await
        .platform
        .report_outcomes(forged)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("report 1"), "{}", err.message());
    assert_eq!(
        w.db.count("reports").await,
        before,
        "the whole batch is refused"
    );
    assert_eq!(
        states(&w, "agency-fr", "r-list").await[1],
        TargetState::Blocked
    );
}
