//! Pull mode: a platform whose sidecar may not accept inbound connections fetches its share
//! with `PlatformService/PullDeliveries`. The same embargo, the same exactly-once at the
//! platform through hub and sidecar kills, and a sidecar that was offline for the whole
//! release catches up when it comes back.

use std::{collections::BTreeSet, time::Duration};

use takedown_protocol::{pb, timestamp::now_millis};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::referrals,
    pki::COORDINATOR,
    platform::RecordingPlatform,
    sidecar::{AutoPolicy, Integration},
    world::World,
};

both_backends!(
    a_pulling_sidecar_gets_its_share_at_h_hour_once_through_kills,
    a_pulling_sidecar_offline_through_the_release_catches_up,
    pull_mode_refuses_what_does_not_fit,
);

const ACKED: &str = "SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL";

async fn a_pulling_sidecar_gets_its_share_at_h_hour_once_through_kills(backend: Backend) {
    const LISTS: usize = 4;
    const PER_LIST: usize = 500;
    const TARGETS: usize = LISTS * PER_LIST;
    const H_HOUR_MS: i64 = 6_000;
    let Some(mut w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let registered = w.switch_to_pull("telegram").await;
    assert_eq!(registered.delivery_mode, pb::DeliveryMode::Pull as i32);
    assert_eq!(registered.endpoint, "");
    let platform = RecordingPlatform::start(Duration::from_millis(200)).await;
    let webhook = Integration::Webhook {
        url: platform.url.clone(),
        batch_size: 250,
        max_backlog: None,
    };
    let mut tg = w.sidecar_pulling("telegram", &webhook).await;

    let day = w.action_day("pulled", H_HOUR_MS).await;
    let h_hour = takedown_protocol::timestamp::to_millis(day.starts_at.as_ref().expect("start"));
    let mut referred: BTreeSet<String> = BTreeSet::new();
    for i in 0..LISTS {
        let list = w.key("agency-fr").list(
            &format!("pull-{i}"),
            Some("pulled"),
            referrals("telegram", &format!("p{i}x"), PER_LIST),
        );
        referred.extend(w.submit("agency-fr", &list).await);
    }
    assert_eq!(referred.len(), TARGETS);

    // Embargoed: the sidecar pulls all along, and gets nothing before H-hour.
    let before = Duration::from_millis((h_hour - now_millis() - 1_000).max(0) as u64);
    tokio::time::sleep(before).await;
    assert!(
        now_millis() < h_hour,
        "the test ran too slowly to check the embargo"
    );
    assert_eq!(
        tg.received().await,
        0,
        "nothing reaches the sidecar before H-hour"
    );
    assert!(platform.receipts().is_empty());

    // The release: the hub dies while batches are out, then the sidecar does.
    platform.wait_for_receipt(0).await;
    w.hub.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.hub.restart().await;
    platform.wait_for_receipt(platform.receipts().len()).await;
    tg.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tg.restart().await;

    eventually(LONG, "every target acknowledged at the hub", || async {
        w.db.scalar(ACKED).await == TARGETS as i64
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = tg.first_received_at().await.expect("received");
    assert!(
        first >= h_hour,
        "first receipt {first} before H-hour {h_hour}"
    );

    let seen = platform.seen();
    eprintln!(
        "pull: at the platform {} posts, {} targets received, {} applied, {} batches repeated",
        seen.posts, seen.received, seen.applied, seen.repeated_batches
    );
    let arrived: BTreeSet<String> = platform
        .receipts()
        .iter()
        .flat_map(|r| r.targets.iter().map(|(t, _)| t.clone()))
        .collect();
    assert_eq!(arrived, referred, "every target reached the platform");
    assert!(
        seen.in_two_batches.is_empty() && seen.changed_on_retry.is_empty(),
        "duplicates at the platform: {} targets in two batches, {} batches changed on retry",
        seen.in_two_batches.len(),
        seen.changed_on_retry.len()
    );
    assert_eq!(
        seen.applied, TARGETS,
        "the platform applied each target once"
    );
    assert_eq!(seen.without_key, 0);
    assert!(
        seen.repeated_batches <= 1,
        "one sidecar kill repeats at most one batch"
    );
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 0")
            .await,
        0,
        "nothing is left pending in the outbox"
    );
}

async fn a_pulling_sidecar_offline_through_the_release_catches_up(backend: Backend) {
    const TARGETS: usize = 1_000;
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    w.switch_to_pull("telegram").await;
    let day = w.action_day("offline", 1_500).await;
    let h_hour = takedown_protocol::timestamp::to_millis(day.starts_at.as_ref().expect("start"));
    let list = w.key("agency-fr").list(
        "offline-1",
        Some("offline"),
        referrals("telegram", "off", TARGETS),
    );
    w.submit("agency-fr", &list).await;

    // H-hour passes and nobody pulls: the hub keeps the share, it does not give up on it.
    while now_millis() < h_hour + 3_000 {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
            .await,
        0,
        "nothing was delivered to a platform that did not pull"
    );
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 3")
            .await,
        0,
        "nothing failed for a platform that did not pull yet"
    );

    let tg = w
        .sidecar_pulling("telegram", &Integration::Auto(AutoPolicy::default()))
        .await;
    eventually(LONG, "the late sidecar caught up", || async {
        w.db.scalar(ACKED).await == TARGETS as i64
    })
    .await;
    assert_eq!(tg.received().await, TARGETS as i64);
    tg.expect_each_handed_once(TARGETS, "offline pull").await;
    // The auto platform blocks everything; the outcomes came back over the same mTLS link.
    eventually(LONG, "outcomes reported", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE outcome IS NOT NULL")
            .await
            == TARGETS as i64
    })
    .await;

    // Withdrawals travel the same way: the agency takes its list back, the sidecar pulls
    // one withdrawal per target.
    let withdrawn = w
        .as_org("agency-fr")
        .await
        .referral
        .withdraw_list(pb::WithdrawListRequest {
            list_id: "offline-1".into(),
            reason: "appeal upheld".into(),
            ..Default::default()
        })
        .await
        .expect("withdraw the list")
        .into_inner();
    assert_eq!(withdrawn.withdrawals_queued, TARGETS as u32);
    eventually(LONG, "the withdrawals pulled", || async {
        tg.withdrawals().await == TARGETS as i64
    })
    .await;
}

async fn pull_mode_refuses_what_does_not_fit(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // A push platform that pulls is told why, and nothing is claimed for it.
    let list = w
        .key("agency-fr")
        .list("push-1", None, referrals("telegram", "push", 5));
    w.submit("agency-fr", &list).await;
    let mut tg = w.as_org("telegram").await;
    let err = tg
        .platform
        .pull_deliveries(pb::PullDeliveriesRequest {
            ack: None,
            max_targets: 100,
            wait_ms: 0,
        })
        .await
        .expect_err("a push platform may not pull");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("push"), "{}", err.message());

    let mut coord = w.as_org(COORDINATOR).await;
    // Pull with an endpoint: refused, naming the field; the platform stays as it was.
    let err = coord
        .directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Pull as i32,
            name: "telegram".into(),
            endpoint: "https://127.0.0.1:1".into(),
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: None,
        })
        .await
        .expect_err("pull with an endpoint");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("endpoint"), "{}", err.message());
    // A new platform refused the same way is not created either.
    let err = coord
        .directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: 9,
            name: "vk".into(),
            endpoint: String::new(),
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: None,
        })
        .await
        .expect_err("unknown mode");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("delivery mode 9"),
        "{}",
        err.message()
    );
    let platforms = coord
        .directory
        .list_platforms(pb::ListPlatformsRequest {})
        .await
        .expect("list")
        .into_inner()
        .platforms;
    let telegram = platforms
        .iter()
        .find(|p| p.name == "telegram")
        .expect("telegram");
    assert_eq!(telegram.delivery_mode, pb::DeliveryMode::Push as i32);
    assert!(!telegram.endpoint.is_empty());
    assert!(platforms.iter().all(|p| p.name != "vk"), "{platforms:?}");

    // A pull platform: a wait above the limit is the caller's mistake.
    w.switch_to_pull("tamtam").await;
    let list = w
        .key("agency-fr")
        .list("pull-1", None, referrals("tamtam", "pull", 5));
    w.submit("agency-fr", &list).await;
    let mut tg = w.as_org("tamtam").await;
    let err = tg
        .platform
        .pull_deliveries(pb::PullDeliveriesRequest {
            ack: None,
            max_targets: 100,
            wait_ms: 3_600_000,
        })
        .await
        .expect_err("wait too long");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("wait_ms"), "{}", err.message());
    // A pull gets the share, signed the same way a push would deliver it.
    let got = tg
        .platform
        .pull_deliveries(pb::PullDeliveriesRequest {
            ack: None,
            max_targets: 100,
            wait_ms: 5_000,
        })
        .await
        .expect("pull")
        .into_inner();
    let batch = got.batch.expect("a batch");
    assert_eq!(batch.platform, "tamtam");
    assert_eq!(batch.deliveries.len(), 5);
    assert_eq!(batch.lists.len(), 1, "the agency's signed list rides along");
    // Answering it records the deliveries; a second answer records nothing more.
    let accepted: Vec<String> = batch
        .deliveries
        .iter()
        .map(|t| t.delivery_id.clone())
        .collect();
    let ack = pb::PullAck {
        batch_id: batch.batch_id.clone(),
        accepted,
        rejected: vec![],
    };
    for expected in [5, 0] {
        let r = tg
            .platform
            .pull_deliveries(pb::PullDeliveriesRequest {
                ack: Some(ack.clone()),
                max_targets: 0,
                wait_ms: 0,
            })
            .await
            .expect("ack")
            .into_inner();
        assert_eq!(r.acknowledged, expected);
        assert!(r.batch.is_none(), "an ack-only pull carries no batch");
    }
    assert_eq!(
        w.db.scalar(
            "SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL AND platform = 'tamtam'"
        )
        .await,
        5
    );
}
