//! A crashed hub's claims come back long before their lease ends: a hub restarting under
//! the same instance id takes its own back at once (on PostgreSQL, the other replicas
//! take a dead hub's back once its heartbeat stops: see `multi_hub`).

use std::time::{Duration, Instant};

use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referrals, request},
    sidecar::AutoPolicy,
    world::World,
};

both_backends!(a_restarted_hub_takes_back_its_claims_at_once);

/// Far longer than the test may take: a claim that waits for its lease fails it.
const LEASE_MS: u64 = 60_000;

async fn a_restarted_hub_takes_back_its_claims_at_once(backend: Backend) {
    let opts = HubOptions {
        batch_size: 10,
        max_in_flight: 1,
        lease_ms: LEASE_MS,
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
        .list("claims", None, referrals("telegram", "c", total));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    // Kill the hub (SIGKILL) while it holds a claim, until one is left behind.
    let mut left_claimed = 0;
    for _ in 0..10 {
        eventually(LONG, "a batch claimed", || async {
            w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 1")
                .await
                > 0
        })
        .await;
        w.hub.kill();
        left_claimed =
            w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 1")
                .await;
        if left_claimed > 0 {
            break;
        }
        w.hub.restart().await;
    }
    assert!(left_claimed > 0, "never killed the hub holding a claim");
    let received_at_kill = tg.received().await;
    assert!(
        received_at_kill < total as i64,
        "the fan-out finished first"
    );

    let restarted = Instant::now();
    w.hub.restart().await;
    eventually(LONG, "every target delivered after the restart", || async {
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 2")
            .await
            == total as i64
    })
    .await;
    let took = restarted.elapsed();
    eprintln!(
        "{left_claimed} deliveries left claimed by the killed hub; all {total} delivered \
         {took:?} after its restart (lease {LEASE_MS} ms)"
    );
    assert!(
        took < Duration::from_millis(LEASE_MS / 2),
        "the claims waited for their lease: {took:?}"
    );
    tg.expect_each_handed_once(total, "after the hub's restart")
        .await;
}
