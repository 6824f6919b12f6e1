//! The outbox: reports survive a restart, are sent once, and a refused report is parked.

use std::time::Duration;

use takedown_protocol::pb;

use takedown_tests::{eventually, lists::AgencyKey, receiver::*};

#[tokio::test]
async fn restart_resumes_reporting_with_nothing_lost_or_duplicated() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    hub.set_mode(ReportMode::Unavailable);
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;
    let list = key.delivered("list-1", channels("chan", 20));
    sidecar
        .client(&env, "hub")
        .await
        .deliver(batch(
            "b1",
            &[&list],
            (0..20).map(|i| list.takedown(i)).collect(),
        ))
        .await
        .expect("deliver");
    let path = env.inbox_path();
    eventually(
        std::time::Duration::from_secs(20),
        "20 handoffs",
        || async { inbox(&path).await.handoff_count().await.unwrap() == 20 },
    )
    .await;
    eventually(
        std::time::Duration::from_secs(20),
        "a refused report attempt",
        || async { hub.lock().report_calls >= 1 },
    )
    .await;

    sidecar.stop().await;

    let counts = inbox(&path).await.outbox_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.sent),
        (40, 0),
        "acknowledged but not reported"
    );
    assert!(hub.reports().is_empty());
    hub.set_mode(ReportMode::Ok);
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;

    eventually(std::time::Duration::from_secs(20), "40 reports", || async {
        kinds(&hub.reports()) == (20, 20, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reports = hub.reports();
    assert_eq!(reports.len(), 40);
    assert_unique_report_ids(&reports);
    let inbox = inbox(&path).await;
    assert_eq!(inbox.handoff_count().await.unwrap(), 20);
    assert_eq!(inbox.outbox_counts().await.unwrap().sent, 40);
    sidecar.stop().await;
}

#[tokio::test]
async fn a_report_refused_as_not_delivered_is_put_off_then_arrives() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let list = key.delivered("list-1", channels("chan", 8));
    let deliveries: Vec<_> = (0..8).map(|i| list.takedown(i)).collect();
    let denied = deliveries[3].target_id.clone();
    hub.lock().deny_targets.insert(denied.clone());
    let sidecar = InProcessSidecar::start(env.config(hub_addr, PLATFORM, AUTO_BLOCK_ALL)).await;

    sidecar
        .client(&env, "hub")
        .await
        .deliver(batch("b1", &[&list], deliveries))
        .await
        .expect("deliver");

    // The other seven go through; the refused one neither blocks them nor loops hot.
    eventually(
        std::time::Duration::from_secs(20),
        "the other 7 targets reported",
        || async { kinds(&hub.reports()) == (7, 7, 0) },
    )
    .await;
    let calls = hub.lock().report_calls;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        hub.lock().report_calls,
        calls,
        "a refused report is put off, not retried at once"
    );
    let path = env.inbox_path();
    let counts = inbox(&path).await.outbox_counts().await.unwrap();
    assert_eq!(counts.parked, 0, "a refusal as not delivered is not final");
    assert!(hub.reports().iter().all(|r| r.target_id != denied));

    // The hub catches up (its Deliver answer was still in flight): the reports arrive.
    hub.lock().deny_targets.clear();
    eventually(
        std::time::Duration::from_secs(20),
        "the put-off reports arrive",
        || async { kinds(&hub.reports()) == (8, 8, 0) },
    )
    .await;
    sidecar.stop().await;
}
