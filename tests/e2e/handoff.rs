//! Exactly once at the platform: the sidecar is killed (SIGKILL) while the platform holds a
//! batch it has received but not yet answered. What the platform itself recorded is
//! checked: a crash repeats at most the batch in flight, with the same batch id and the
//! same members, and every target carries a stable idempotency key, so a platform that
//! deduplicates on it applies each target once.

use std::time::Duration;

use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referrals, request},
    platform::RecordingPlatform,
    sidecar::Integration,
    world::World,
};

both_backends!(sidecar_killed_inside_handoffs_repeats_no_target_at_the_platform);

const TARGETS: usize = 5_000;
const BATCH: u32 = 1_000;
const KILLS: usize = 3;

async fn sidecar_killed_inside_handoffs_repeats_no_target_at_the_platform(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // The platform answers each batch 1.5 s after it arrived.
    let platform = RecordingPlatform::start(Duration::from_millis(1_500)).await;
    let webhook = Integration::Webhook {
        url: platform.url.clone(),
        batch_size: BATCH,
        max_backlog: None,
    };
    let mut tg = w.sidecar_with("telegram", &webhook).await;
    let mut fr = w.as_org("agency-fr").await;
    for i in 0..TARGETS / 1_000 {
        let list = w.key("agency-fr").list(
            &format!("many-{i}"),
            None,
            referrals("telegram", &format!("once{i}"), 1_000),
        );
        fr.referral
            .submit_referral_list(request(&list))
            .await
            .expect("submit");
    }

    for _ in 0..KILLS {
        // A batch reaches the platform; the sidecar dies before the platform answers.
        platform.wait_for_receipt(platform.receipts().len()).await;
        tg.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        tg.restart().await;
    }
    eventually(LONG, "every target acknowledged at the hub", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL")
            .await
            == TARGETS as i64
    })
    .await;
    // Nothing more is on its way.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen = platform.seen();
    eprintln!(
        "at the platform: {} posts, {} targets received, {} applied, {} batches repeated",
        seen.posts, seen.received, seen.applied, seen.repeated_batches
    );
    assert!(
        seen.in_two_batches.is_empty(),
        "{} targets reached the platform in two different batches (first {:?}): a retry \
         must repeat its batch, not make a new one",
        seen.in_two_batches.len(),
        seen.in_two_batches.first()
    );
    assert!(
        seen.changed_on_retry.is_empty(),
        "batches repeated with other members: {:?}",
        seen.changed_on_retry
    );
    assert_eq!(
        seen.without_key, 0,
        "every target carries its idempotency key"
    );
    assert_eq!(
        seen.bad_header, 0,
        "every POST carries the batch id as its Idempotency-Key header"
    );
    assert_eq!(seen.unsigned, 0, "every POST is signed (Standard Webhooks)");
    assert_eq!(
        seen.applied, TARGETS,
        "the platform applied each target once"
    );
    assert!(
        seen.repeated_batches <= KILLS,
        "{} batches repeated for {KILLS} kills",
        seen.repeated_batches
    );
    assert!(seen.received - seen.applied <= KILLS * BATCH as usize);
}
