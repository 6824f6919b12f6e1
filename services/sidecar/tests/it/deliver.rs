//! Deliver: verification, storage, handoff once, outcomes reported.

use std::collections::HashMap;

use takedown_protocol::pb;

use takedown_tests::{eventually, lists::AgencyKey, receiver::*};

#[tokio::test]
async fn valid_batch_is_stored_handed_off_once_and_reported() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-1", channels("chan", 7));
    let deliveries: Vec<_> = (0..7).map(|i| list.takedown(i)).collect();
    let ids: Vec<String> = deliveries.iter().map(|d| d.delivery_id.clone()).collect();

    let resp = sidecar
        .client(&env, "hub")
        .await
        .deliver(batch("b1", &[&list], deliveries))
        .await
        .expect("deliver")
        .into_inner();

    assert_eq!(resp.accepted, ids);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    eventually(
        std::time::Duration::from_secs(20),
        "7 acknowledgements and 7 decisions",
        || async { kinds(&hub.reports()) == (7, 7, 0) },
    )
    .await;
    let reports = hub.reports();
    assert_unique_report_ids(&reports);
    for r in &reports {
        if let Some(pb::platform_report::Report::Decision(d)) = &r.report {
            assert_eq!(d.outcome, pb::Outcome::Blocked as i32);
        }
    }
    let inbox = inbox(&env.inbox_path()).await;
    assert_eq!(inbox.handoff_count().await.unwrap(), 7);
    // The signature was checked once and the keys fetched once, not per target.
    assert_eq!(hub.lock().key_calls, 1);
    sidecar.stop().await;
}

#[tokio::test]
async fn redelivery_is_accepted_again_but_not_handed_twice() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-1", channels("chan", 5));
    let mut client = sidecar.client(&env, "hub").await;
    let first = (0..5).map(|i| list.takedown(i)).collect();
    client
        .deliver(batch("b1", &[&list], first))
        .await
        .expect("first");
    eventually(
        std::time::Duration::from_secs(20),
        "first handoff",
        || async { kinds(&hub.reports()).0 == 5 },
    )
    .await;

    // The hub retries with new delivery ids (it never saw our answer).
    let again: Vec<_> = (0..5)
        .map(|i| {
            let mut d = list.takedown(i);
            d.delivery_id = format!("retry-{i}");
            d
        })
        .collect();
    let resp = client
        .deliver(batch("b2", &[&list], again))
        .await
        .expect("redeliver")
        .into_inner();

    assert_eq!(resp.accepted.len(), 5, "a redelivery is acknowledged again");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let inbox = inbox(&env.inbox_path()).await;
    assert_eq!(inbox.delivery_count().await.unwrap(), 5);
    assert_eq!(inbox.handoff_count().await.unwrap(), 5);
    assert_eq!(kinds(&hub.reports()), (5, 5, 0));
    sidecar.stop().await;
}

#[tokio::test]
async fn forged_items_are_rejected_and_the_good_ones_pass() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let impostor = AgencyKey::generate(AGENCY, "fr-1"); // same kid, other key
    let revoked = AgencyKey::generate(AGENCY, "fr-old");
    let (hub_addr, hub) = spawn_hub(
        &env,
        vec![
            key.registered(pb::KeyState::Active),
            revoked.registered(pb::KeyState::Revoked),
        ],
    )
    .await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;

    let mut items = channels("good", 6);
    items.push(referral("x", "@someone")); // item 6: another platform's target
    let list = key.delivered("list-1", items);
    let forged = impostor.delivered("list-forged", channels("forged", 2));
    let old = revoked.delivered("list-old", channels("old", 1));
    let unknown_kid =
        AgencyKey::generate(AGENCY, "fr-unknown").delivered("list-unknown", channels("u", 1));

    let good = list.takedown(0);
    let good2 = list.takedown(5);
    let mut bad_proof = list.takedown(1);
    bad_proof.referrals[0].audit_path[0] ^= 1;
    let mut other_platform = list.takedown(6);
    other_platform.platform = PLATFORM.into();
    other_platform.normalized_target = "someone".into();
    other_platform.target_id = "t-someone".into();
    let mut wrong_target = list.takedown(2);
    wrong_target.normalized_target = "somebody-else".into();
    let mut swapped_item = list.takedown(3);
    swapped_item.referrals[0].item = list.items[4].clone(); // proof of 3, bytes of 4
    let mut not_ours = list.takedown(4);
    not_ours.agencies = vec!["agency-de".into()];
    let forged_sig = forged.takedown(0);
    let revoked_key = old.takedown(0);
    let unknown_key = unknown_kid.takedown(0);
    let mut missing_list = list.takedown(0);
    missing_list.delivery_id = "d-missing".into();
    missing_list.target_id = "t-missing".into();
    missing_list.referrals[0].list_id = "list-nowhere".into();
    let mut no_referral = list.takedown(0);
    no_referral.delivery_id = "d-empty".into();
    no_referral.target_id = "t-empty".into();
    no_referral.referrals.clear();
    let mut wrong_platform = list.takedown(0);
    wrong_platform.delivery_id = "d-x".into();
    wrong_platform.platform = "x".into();

    let expected: Vec<(&str, &str)> = vec![
        (bad_proof.delivery_id.as_str(), "inclusion proof"),
        (other_platform.delivery_id.as_str(), "for platform x"),
        (wrong_target.delivery_id.as_str(), "normalizes to"),
        (swapped_item.delivery_id.as_str(), "inclusion proof"),
        (
            not_ours.delivery_id.as_str(),
            "not among the delivery's agencies",
        ),
        (forged_sig.delivery_id.as_str(), "does not verify"),
        (revoked_key.delivery_id.as_str(), "is compromised since"),
        (
            unknown_key.delivery_id.as_str(),
            "is not in the coordinator's key-set statement",
        ),
        ("d-missing", "not in the batch"),
        ("d-empty", "no referral"),
        ("d-x", "not telegram"),
    ];
    let expected: HashMap<String, &str> = expected
        .into_iter()
        .map(|(d, r)| (d.to_string(), r))
        .collect();
    let deliveries = vec![
        good.clone(),
        bad_proof.clone(),
        other_platform.clone(),
        wrong_target.clone(),
        swapped_item.clone(),
        not_ours.clone(),
        forged_sig.clone(),
        revoked_key.clone(),
        unknown_key.clone(),
        missing_list,
        no_referral,
        wrong_platform,
        good2.clone(),
    ];

    let resp = sidecar
        .client(&env, "hub")
        .await
        .deliver(batch(
            "b1",
            &[&list, &forged, &old, &unknown_kid],
            deliveries,
        ))
        .await
        .expect("the batch is never refused whole")
        .into_inner();

    assert_eq!(
        resp.accepted,
        vec![good.delivery_id.clone(), good2.delivery_id.clone()]
    );
    assert_eq!(resp.rejected.len(), expected.len(), "{:#?}", resp.rejected);
    for r in &resp.rejected {
        let want = expected
            .get(&r.delivery_id)
            .unwrap_or_else(|| panic!("unexpected rejection {r:?}"));
        assert!(
            r.reason.contains(want),
            "{}: {:?} lacks {want:?}",
            r.delivery_id,
            r.reason
        );
    }
    eventually(
        std::time::Duration::from_secs(20),
        "the good ones reported",
        || async { kinds(&hub.reports()) == (2, 2, 0) },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let reported: Vec<String> = hub.reports().iter().map(|r| r.target_id.clone()).collect();
    assert!(
        reported
            .iter()
            .all(|t| *t == good.target_id || *t == good2.target_id),
        "{reported:?}"
    );
    let inbox = inbox(&env.inbox_path()).await;
    assert_eq!(inbox.handoff_count().await.unwrap(), 2);
    assert_eq!(inbox.delivery_count().await.unwrap(), 2);
    sidecar.stop().await;
}

#[tokio::test]
async fn only_the_hub_may_deliver() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, _hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-1", channels("chan", 1));

    for stem in [AGENCY, "x", PLATFORM] {
        let err = sidecar
            .client(&env, stem)
            .await
            .deliver(batch("b1", &[&list], vec![list.takedown(0)]))
            .await
            .expect_err("not the hub");
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{stem}: {err}");
        assert!(
            err.message().contains("urn:takedown:hub:hub"),
            "{}",
            err.message()
        );
    }
    let inbox = inbox(&env.inbox_path()).await;
    assert_eq!(inbox.delivery_count().await.unwrap(), 0);
    sidecar.stop().await;
}

#[tokio::test]
async fn withdrawals_restore_only_held_targets() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-1", channels("chan", 2));
    let mut client = sidecar.client(&env, "hub").await;
    client
        .deliver(batch("b1", &[&list], vec![list.takedown(0)]))
        .await
        .expect("takedown");
    let withdraw = |d: pb::TargetDelivery| pb::TargetDelivery {
        delivery_id: format!("w-{}", d.delivery_id),
        kind: pb::DeliveryKind::Withdrawal as i32,
        referrals: Vec::new(),
        withdrawal_reason: "appeal upheld".into(),
        ..d
    };
    let held = withdraw(list.takedown(0));
    let unknown = withdraw(list.takedown(1));

    let resp = client
        .deliver(batch("b2", &[], vec![held.clone(), unknown.clone()]))
        .await
        .expect("withdrawals")
        .into_inner();

    assert_eq!(resp.accepted, vec![held.delivery_id.clone()]);
    assert_eq!(resp.rejected.len(), 1);
    assert!(
        resp.rejected[0].reason.contains("unknown target"),
        "{:?}",
        resp.rejected
    );
    eventually(
        std::time::Duration::from_secs(20),
        "restoration reported",
        || async { kinds(&hub.reports()) == (1, 1, 1) },
    )
    .await;
    let restored = hub
        .reports()
        .into_iter()
        .find_map(|r| match r.report {
            Some(pb::platform_report::Report::Restoration(x)) => Some((r.target_id, x.result)),
            _ => None,
        })
        .expect("a restoration");
    assert_eq!(
        restored,
        (
            held.target_id.clone(),
            pb::RestorationResult::Restored as i32
        )
    );
    sidecar.stop().await;
}

#[tokio::test]
async fn a_certificate_of_another_identity_is_refused_at_startup() {
    let env = Env::new();
    let (hub_addr, _hub) = spawn_hub(&env, vec![]).await;
    let cfg = env.config(hub_addr, "x", AUTO_BLOCK_ALL);

    let err = InProcessSidecar::run_once(cfg)
        .await
        .expect_err("x's certificate is not telegram's");

    let msg = format!("{err:#}");
    assert!(msg.contains("urn:takedown:platform:telegram"), "{msg}");
}

#[tokio::test]
async fn a_full_batch_of_1000_targets_goes_through() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-big", channels("chan", 1000));
    let deliveries: Vec<_> = (0..1000).map(|i| list.takedown(i)).collect();
    let mut client = sidecar.client(&env, "hub").await;

    let started = std::time::Instant::now();
    let resp = client
        .deliver(batch("b1", &[&list], deliveries))
        .await
        .expect("deliver")
        .into_inner();
    let stored_in = started.elapsed();

    assert_eq!(resp.accepted.len(), 1000);
    eventually(
        std::time::Duration::from_secs(60),
        "2000 reports",
        || async { kinds(&hub.reports()) == (1000, 1000, 0) },
    )
    .await;
    eprintln!(
        "1000 targets: stored in {stored_in:?}, handed and reported in {:?}",
        started.elapsed()
    );
    assert_eq!(
        inbox(&env.inbox_path())
            .await
            .handoff_count()
            .await
            .unwrap(),
        1000
    );
    sidecar.stop().await;
}

#[tokio::test]
async fn an_unknown_key_id_is_looked_up_again_but_at_most_once_a_second() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let late = AgencyKey::generate(AGENCY, "fr-2");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = late.delivered("list-late", channels("late", 1));
    let mut client = sidecar.client(&env, "hub").await;
    // The load at startup first (a Deliver meanwhile would take its answer).
    eventually(
        std::time::Duration::from_secs(10),
        "the first key load",
        || async { hub.lock().key_calls >= 1 },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..3 {
        let resp = client
            .deliver(batch("b", &[&list], vec![list.takedown(0)]))
            .await
            .expect("deliver")
            .into_inner();
        assert!(
            resp.rejected[0]
                .reason
                .contains("\"fr-2\" is not in the coordinator's key-set statement"),
            "{resp:?}"
        );
    }
    assert_eq!(
        hub.lock().key_calls,
        2,
        "one full load, one look-up of fr-2"
    );

    hub.lock().keys.push(late.registered(pb::KeyState::Active));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = client
        .deliver(batch("b", &[&list], vec![list.takedown(0)]))
        .await
        .expect("deliver")
        .into_inner();

    assert_eq!(resp.accepted.len(), 1, "{resp:?}");
    assert_eq!(hub.lock().key_calls, 3);
    sidecar.stop().await;
}

#[tokio::test]
async fn no_deliver_waits_for_a_key_refresh() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let mut cfg = env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL);
    cfg.keys_refresh_secs = 1;
    let sidecar = InProcessSidecar::start(cfg).await;
    eventually(
        std::time::Duration::from_secs(10),
        "the first key load",
        || async { hub.lock().key_calls >= 1 },
    )
    .await;
    // From now on the hub takes 5 s to answer, and the keys held are due for a refresh.
    hub.lock().key_delay = std::time::Duration::from_secs(5);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let mut client = sidecar.client(&env, "hub").await;
    for i in 0..3 {
        let list = key.delivered(&format!("list-{i}"), channels(&format!("k{i}-"), 2));
        let started = std::time::Instant::now();
        let resp = client
            .deliver(batch(
                "b",
                &[&list],
                vec![list.takedown(0), list.takedown(1)],
            ))
            .await
            .expect("deliver")
            .into_inner();
        assert_eq!(resp.accepted.len(), 2, "{resp:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "Deliver {i} waited {:?} behind a key refresh",
            started.elapsed()
        );
    }
    sidecar.stop().await;
}

#[tokio::test]
async fn health_reports_the_receiver_serving() {
    let env = Env::new();
    let (hub_addr, _hub) = spawn_hub(&env, vec![]).await;
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let ch = takedown_net::connect(
        &format!("https://127.0.0.1:{}", sidecar.addr.port()),
        &env.tls("hub"),
        Some(id(
            takedown_protocol::ident::IdentityRole::Platform,
            PLATFORM,
        )),
    )
    .await
    .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch);

    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "takedown.v1.ReceiverService".into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;

    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    sidecar.stop().await;
}

#[tokio::test]
async fn health_says_whether_the_keys_are_fresh() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let mut cfg = env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL);
    cfg.keys_refresh_secs = 1;
    let sidecar = InProcessSidecar::start(cfg).await;
    let ch = takedown_net::connect(
        &format!("https://127.0.0.1:{}", sidecar.addr.port()),
        &env.tls("hub"),
        Some(id(
            takedown_protocol::ident::IdentityRole::Platform,
            PLATFORM,
        )),
    )
    .await
    .expect("connect");
    let health = tonic_health::pb::health_client::HealthClient::new(ch);
    let status = || {
        let mut h = health.clone();
        async move {
            h.check(tonic_health::pb::HealthCheckRequest {
                service: takedown_sidecar::keys::HEALTH_SERVICE.into(),
            })
            .await
            .map(|r| r.into_inner().status)
            .unwrap_or(-1)
        }
    };
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    eventually(
        std::time::Duration::from_secs(10),
        "the key set fresh",
        || async { status().await == serving },
    )
    .await;
    // The hub stops answering (this fake hub pushes nothing, so only its answers count):
    // after three missed refreshes the keys are stale, while the receiver still serves.
    hub.lock().key_delay = std::time::Duration::from_secs(30);
    eventually(
        std::time::Duration::from_secs(15),
        "the key set stale",
        || async { status().await != serving },
    )
    .await;
    let mut h = health.clone();
    let receiver = h
        .check(tonic_health::pb::HealthCheckRequest {
            service: "takedown.v1.ReceiverService".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(receiver, serving);
    sidecar.stop().await;
}
