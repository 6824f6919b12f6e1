//! The delivery outbox: due times, holds, leases, outcomes of attempts, concurrent claims.

use std::collections::HashSet;

use takedown_store::*;

use crate::support::*;

conformance!(
    claims_respect_due_time_order_and_limit,
    holds_block_claims_while_active,
    hold_bookkeeping,
    expired_leases_are_reclaimed,
    delivered_retried_and_failed,
    failed_deliveries_are_listed_by_day_platform_and_page,
    concurrent_claimers_never_share_a_delivery,
    large_batches_cross_chunk_boundaries,
    claims_come_back_with_their_hubs_restart_or_death,
    the_outbox_depth_counts_due_scheduled_and_in_flight,
    a_capped_platform_gets_no_more_than_its_cap_in_any_minute,
    in_flight_to_names_only_the_platforms_claims,
);

async fn in_flight_to_names_only_the_platforms_claims<S: Store + Probe>(s: S) {
    submit(
        &s,
        "l",
        T0,
        &[("video", "a"), ("video", "b"), ("social", "a")],
    )
    .await;
    let video = s
        .claim_deliveries(&checked("video"), T0, T0 + 60_000, 1)
        .await
        .unwrap();
    let social = s
        .claim_deliveries(&checked("social"), T0, T0 + 60_000, 10)
        .await
        .unwrap();
    let all: Vec<DeliveryId> = video
        .iter()
        .chain(&social)
        .map(|c| c.id)
        .chain([DeliveryId::new(i64::MAX)])
        .collect();
    // Only video's own claim: not social's, not video's unclaimed one, not an unknown id.
    assert_eq!(
        s.in_flight_to(&checked("video"), &all).await.unwrap(),
        [video[0].id]
    );
    s.mark_delivered(&[video[0].id], T0 + 1).await.unwrap();
    assert!(
        s.in_flight_to(&checked("video"), &all)
            .await
            .unwrap()
            .is_empty(),
        "delivered is not in flight"
    );
    assert!(
        s.in_flight_to(&checked("video"), &[])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn claims_respect_due_time_order_and_limit<S: Store + Probe>(s: S) {
    submit(&s, "late", T0 + 2000, &[("video", "c")]).await;
    submit(
        &s,
        "early",
        T0 + 1000,
        &[("video", "a"), ("video", "b"), ("social", "a")],
    )
    .await;

    assert!(
        s.claim_deliveries(&checked("video"), T0, T0 + 9999, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.next_delivery_at(&checked("video")).await.unwrap(),
        Some(T0 + 1000)
    );
    assert_eq!(s.next_delivery_at(&checked("none")).await.unwrap(), None);

    let first = s
        .claim_deliveries(&checked("video"), T0 + 2000, T0 + 60_000, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|c| c.attempts == 1));
    let payloads = s
        .delivery_payloads(&first.iter().map(|c| c.target_id).collect::<Vec<_>>())
        .await
        .unwrap();
    // The earliest due come first.
    let mut names: Vec<&str> = payloads.iter().map(|p| p.normalized.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);

    let rest = s
        .claim_deliveries(&checked("video"), T0 + 2000, T0 + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(
        s.claim_deliveries(&checked("video"), T0 + 2000, T0 + 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The in-flight lease is now the next time something may need attention.
    assert_eq!(
        s.next_delivery_at(&checked("video")).await.unwrap(),
        Some(T0 + 60_000)
    );
    assert_eq!(
        s.claim_deliveries(&checked("social"), T0 + 1000, T0 + 2000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn holds_block_claims_while_active<S: Store + Probe>(s: S) {
    submit(
        &s,
        "l",
        T0,
        &[
            ("video", "a"),
            ("video", "b"),
            ("video", "c"),
            ("video", "d"),
        ],
    )
    .await;
    s.insert_hold(&hold("active", "video", "a", T0 + 10_000, "agency-b"))
        .await
        .unwrap();
    s.insert_hold(&hold("expired", "video", "b", T0, "agency-b"))
        .await
        .unwrap();
    s.insert_hold(&hold("released", "video", "c", T0 + 10_000, "agency-b"))
        .await
        .unwrap();
    s.release_hold(&checked("released"), T0 - 1, &checked("europol"))
        .await
        .unwrap()
        .unwrap();
    s.insert_hold(&hold("elsewhere", "social", "d", T0 + 10_000, "agency-b"))
        .await
        .unwrap();

    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 100, 10)
        .await
        .unwrap();
    let names = names_of(&s, &claimed).await;
    assert_eq!(names, ["b", "c", "d"]);
    let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
    s.mark_delivered(&ids, T0 + 1).await.unwrap();

    // Once the hold expires, the target is claimable.
    let later = s
        .claim_deliveries(&checked("video"), T0 + 10_000, T0 + 20_000, 10)
        .await
        .unwrap();
    assert_eq!(names_of(&s, &later).await, ["a"]);
}

async fn names_of<S: Store>(s: &S, claimed: &[ClaimedDelivery]) -> Vec<String> {
    let ids: Vec<TargetId> = claimed.iter().map(|c| c.target_id).collect();
    let mut names: Vec<String> = s
        .delivery_payloads(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.normalized)
        .collect();
    names.sort();
    names
}

async fn hold_bookkeeping<S: Store + Probe>(s: S) {
    let h1 = s
        .insert_hold(&hold("h1", "video", "a", T0 + 10, "agency-a"))
        .await
        .unwrap();
    assert_eq!(h1, hold("h1", "video", "a", T0 + 10, "agency-a"));
    let mut h2 = hold("h2", "video", "b", T0 + 10, "agency-b");
    h2.created_at = T0 + 1;
    s.insert_hold(&h2).await.unwrap();
    let mut h3 = hold("h3", "video", "c", T0 + 10, "agency-a");
    h3.created_at = T0 + 2;
    s.insert_hold(&h3).await.unwrap();

    match s
        .insert_hold(&hold("h1", "social", "z", T0, "agency-b"))
        .await
        .unwrap_err()
    {
        StoreError::Conflict(m) => assert!(m.contains("h1"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(s.get_hold(&checked("h1")).await.unwrap(), Some(h1));

    let released = s
        .release_hold(&checked("h1"), T0 + 5, &checked("europol"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.released_at, Some(T0 + 5));
    let again = s
        .release_hold(&checked("h1"), T0 + 6, &checked("europol"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.released_at, Some(T0 + 5));
    assert_eq!(
        s.release_hold(&checked("none"), T0, &checked("europol"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_hold(&checked("none")).await.unwrap(), None);

    let ids = |hs: Vec<Hold>| hs.into_iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_holds(None).await.unwrap()), ["h3", "h2", "h1"]);
    assert_eq!(
        ids(s.list_holds(Some(&checked("agency-a"))).await.unwrap()),
        ["h3", "h1"]
    );
    assert_eq!(
        ids(s.list_holds(Some(&checked("nobody"))).await.unwrap()),
        Vec::<String>::new()
    );
}

async fn expired_leases_are_reclaimed<S: Store + Probe>(s: S) {
    submit(&s, "l", T0, &[("video", "a")]).await;
    let first = s
        .claim_deliveries(&checked("video"), T0, T0 + 1000, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    // Not before the lease runs out.
    assert!(
        s.claim_deliveries(&checked("video"), T0 + 999, T0 + 2000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second = s
        .claim_deliveries(&checked("video"), T0 + 1000, T0 + 2000, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempts, 2);
}

async fn delivered_retried_and_failed<S: Store + Probe>(s: S) {
    let sum = submit(
        &s,
        "l",
        T0,
        &[("video", "ok"), ("video", "retry"), ("video", "fail")],
    )
    .await;
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 1000, 10)
        .await
        .unwrap();
    let by_target = |t: TargetId| claimed.iter().find(|c| c.target_id == t).unwrap().id;
    let (ok, retry, fail) = (
        by_target(sum.target_ids[0]),
        by_target(sum.target_ids[1]),
        by_target(sum.target_ids[2]),
    );

    s.mark_delivered(&[ok], T0 + 10).await.unwrap();
    s.mark_retry(&[retry], T0 + 5000, "connection refused")
        .await
        .unwrap();
    s.mark_failed(&[fail], T0 + 20, "too many attempts")
        .await
        .unwrap();
    // Not INFLIGHT any more: a second mark_delivered changes nothing.
    s.mark_delivered(&[ok, retry, fail], T0 + 30).await.unwrap();

    let items = s.list_items(&checked("l"), T0 + 40).await.unwrap();
    assert_eq!(items[0].delivery_state, Some(DeliveryState::Delivered));
    assert_eq!(items[0].delivered_at, Some(T0 + 10));
    assert_eq!(items[1].delivery_state, Some(DeliveryState::Pending));
    assert_eq!(items[1].delivered_at, None);
    assert_eq!(items[2].delivery_state, Some(DeliveryState::Failed));
    assert_eq!(items[2].fail_reason.as_deref(), Some("too many attempts"));
    assert_eq!(items[2].delivered_at, None);

    // The retry waits for its time, then counts as a second attempt.
    assert_eq!(
        s.next_delivery_at(&checked("video")).await.unwrap(),
        Some(T0 + 5000)
    );
    assert!(
        s.claim_deliveries(&checked("video"), T0 + 4999, T0 + 9000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s
        .claim_deliveries(&checked("video"), T0 + 5000, T0 + 9000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (retry, 2));
    s.mark_delivered(&[retry], T0 + 5001).await.unwrap();
    assert_eq!(s.next_delivery_at(&checked("video")).await.unwrap(), None);
    s.mark_delivered(&[], T0).await.unwrap();
    s.mark_retry(&[], T0, "").await.unwrap();
    s.mark_failed(&[], T0, "").await.unwrap();
}

async fn failed_deliveries_are_listed_by_day_platform_and_page<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let items = vec![item("video", "a"), item("social", "b"), item("video", "c")];
    let on_day = accepted(
        s.insert_list(&list("l1", "agency-a", Some("d1"), T0, 3, 1), &items)
            .await
            .unwrap(),
    );
    let standing = submit(&s, "l2", T0, &[("video", "s"), ("video", "ok")]).await;
    let mut ids = Vec::new();
    for p in ["video", "social"] {
        ids.extend(
            s.claim_deliveries(&checked(p), T0, T0 + 1000, 10)
                .await
                .unwrap(),
        );
    }
    let id_of = |t: TargetId| ids.iter().find(|c| c.target_id == t).unwrap().id;
    let refused = "refused by the platform's receiver: the message is not a valid DeliverRequest";
    for t in [
        on_day.target_ids[0],
        on_day.target_ids[1],
        standing.target_ids[0],
    ] {
        s.mark_failed(&[id_of(t)], T0 + 50, refused).await.unwrap();
    }
    s.mark_failed(&[id_of(on_day.target_ids[2])], T0 + 60, "no referral")
        .await
        .unwrap();
    s.mark_delivered(&[id_of(standing.target_ids[1])], T0 + 70)
        .await
        .unwrap();

    let list = |day: Option<&str>, platform: Option<&str>, after_id: i64, limit: u32| {
        let s = &s;
        let f = FailedFilter {
            action_day_id: day.map(checked),
            platform: platform.map(checked),
            after_id,
            limit,
        };
        async move { s.failed_deliveries(&f).await.unwrap() }
    };
    let all = list(None, None, 0, 100).await;
    assert_eq!(all.len(), 4, "the delivered one is not listed: {all:?}");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "by id");
    let a = all
        .iter()
        .find(|f| f.target_id == on_day.target_ids[0])
        .unwrap();
    assert_eq!(
        (
            a.platform.as_str(),
            a.normalized.as_str(),
            a.kind,
            a.action_day_id.as_deref(),
            a.attempts,
            a.failed_at,
            a.reason.as_str()
        ),
        (
            "video",
            "a",
            DeliveryKind::Takedown,
            Some("d1"),
            1,
            T0 + 50,
            refused
        )
    );
    let day_video = list(Some("d1"), Some("video"), 0, 100).await;
    let targets: Vec<TargetId> = day_video.iter().map(|f| f.target_id).collect();
    assert_eq!(targets, [on_day.target_ids[0], on_day.target_ids[2]]);
    assert_eq!(list(Some("d1"), None, 0, 100).await.len(), 3);
    assert_eq!(list(None, Some("social"), 0, 100).await.len(), 1);
    assert!(list(Some("d2"), None, 0, 100).await.is_empty());
    // Pages: two, then the rest after the second's id.
    let first = list(None, None, 0, 2).await;
    let rest = list(None, None, first[1].id.get(), 2).await;
    assert_eq!([first, rest].concat(), all);
}

async fn concurrent_claimers_never_share_a_delivery<S: Store + Probe>(s: S) {
    let names: Vec<String> = (0..600).map(|i| format!("t/{i}")).collect();
    let items: Vec<(&str, &str)> = names.iter().map(|n| ("video", n.as_str())).collect();
    submit(&s, "l", T0, &items).await;

    let per_task = claim_concurrently(&s, "video", T0, 4, 7).await;
    let all: Vec<DeliveryId> = per_task.iter().flatten().copied().collect();
    let per_task: Vec<usize> = per_task.iter().map(Vec::len).collect();
    let distinct: HashSet<DeliveryId> = all.iter().copied().collect();
    assert_eq!(all.len(), 600, "claimed per task: {per_task:?}");
    assert_eq!(distinct.len(), 600);
}

async fn large_batches_cross_chunk_boundaries<S: Store + Probe>(s: S) {
    const N: usize = 12_500;
    let names: Vec<String> = (0..N).map(|i| format!("t/{i}")).collect();
    let items: Vec<(&str, &str)> = names.iter().map(|n| ("video", n.as_str())).collect();
    let sum = submit(&s, "l", T0, &items).await;

    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 1000, 20_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), N);
    let payloads = s.delivery_payloads(&sum.target_ids).await.unwrap();
    assert_eq!(payloads.len(), N);
    assert!(payloads.iter().all(|p| p.referrals.len() == 1));
    let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
    s.mark_delivered(&ids, T0 + 1).await.unwrap();

    let acks: Vec<NewReport> = sum
        .target_ids
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            report(
                &format!("ack-{i}"),
                t,
                ReportKind::Acknowledgement,
                0,
                T0 + 2,
            )
        })
        .collect();
    let counts = s
        .record_reports(&checked("video"), &acks, T0 + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        ReportCounts {
            recorded: N as u32,
            duplicates: 0
        }
    );
    let items = s.list_items(&checked("l"), T0 + 4).await.unwrap();
    assert!(
        items
            .iter()
            .all(|i| i.delivered_at == Some(T0 + 1) && i.acked_at == Some(T0 + 2))
    );
    let m = s.list_proof_material(&[checked("l")]).await.unwrap();
    assert_eq!(m[0].item_count as usize, N);
}

async fn claims_come_back_with_their_hubs_restart_or_death<S: Store + Probe + Claiming>(s: S) {
    submit(
        &s,
        "l",
        T0,
        &[("video", "a"), ("video", "b"), ("video", "c")],
    )
    .await;
    let (a, b) = (s.claiming("hub-a"), s.claiming("hub-b"));
    assert_eq!(a.release_own_claims(T0).await.unwrap(), 0);
    assert_eq!(b.release_own_claims(T0).await.unwrap(), 0);
    let lease = T0 + 60_000;
    assert_eq!(
        a.claim_deliveries(&checked("video"), T0, lease, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    // Hub A restarts: its two claims are due at once, not at the end of their lease.
    assert_eq!(a.release_own_claims(T0 + 10).await.unwrap(), 2);
    let by_b = b
        .claim_deliveries(&checked("video"), T0 + 10, lease, 10)
        .await
        .unwrap();
    assert_eq!(by_b.len(), 3, "hub A's two and the one nobody claimed");
    // Hub A beats, hub B falls silent: once B is 5 s overdue, A takes its claims back.
    assert!(
        a.heartbeat(T0 + 4_000, T0 - 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        a.heartbeat(T0 + 20_000, T0 + 15_000).await.unwrap(),
        vec![("hub-b".to_string(), 3)]
    );
    assert_eq!(
        a.claim_deliveries(&checked("video"), T0 + 20_000, lease, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // B is forgotten until it beats again; A's claims are its own.
    assert!(
        a.heartbeat(T0 + 21_000, T0 + 16_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.heartbeat(T0 + 22_000, T0 + 17_000)
            .await
            .unwrap()
            .is_empty()
    );
    // A handle claiming for nobody releases nothing.
    assert_eq!(s.release_own_claims(T0 + 30_000).await.unwrap(), 0);
}

async fn the_outbox_depth_counts_due_scheduled_and_in_flight<S: Store + Probe>(s: S) {
    assert_eq!(s.outbox_depth(T0).await.unwrap(), vec![]);
    submit(
        &s,
        "now",
        T0,
        &[("video", "a"), ("video", "b"), ("video", "c")],
    )
    .await;
    submit(&s, "later", T0 + 60_000, &[("video", "d"), ("social", "e")]).await;
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 30_000, 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    s.mark_delivered(&[claimed[0].id], T0 + 10).await.unwrap();
    let depth = |platform: &str, due, scheduled, in_flight| OutboxDepth {
        platform: checked(platform),
        due,
        scheduled,
        in_flight,
    };
    assert_eq!(
        s.outbox_depth(T0 + 20).await.unwrap(),
        vec![depth("social", 0, 1, 0), depth("video", 1, 1, 1)]
    );
    // At H-hour the embargoed are due.
    assert_eq!(
        s.outbox_depth(T0 + 60_000).await.unwrap(),
        vec![depth("social", 1, 0, 0), depth("video", 2, 0, 1)]
    );
    let pools = s.pool_status();
    assert!(
        pools.max >= 1 && pools.open <= pools.max && pools.idle <= pools.open,
        "{pools:?}"
    );
}

async fn a_capped_platform_gets_no_more_than_its_cap_in_any_minute<S: Store + Probe>(s: S) {
    let video = Platform {
        name: checked("video"),
        endpoint: "https://video.example:7443".into(),
        display_name: "Video".into(),
        registered_at: T0,
        max_per_minute: Some(25),
        staffing: None,
        mode: DeliveryMode::Push,
    };
    s.upsert_platform(&video, &checked("europol"))
        .await
        .unwrap();
    let names: Vec<String> = (0..100).map(|i| format!("t/{i}")).collect();
    let mut items: Vec<(&str, &str)> = names.iter().map(|n| ("video", n.as_str())).collect();
    items.push(("social", "uncapped"));
    submit(&s, "l", T0, &items).await;

    // Four claimers at once (on PostgreSQL, four connections, as hub replicas would be)
    // take the cap between them, and nothing more.
    let now = T0 + 500;
    let first: Vec<DeliveryId> = claim_concurrently(&s, "video", now, 4, 7).await.concat();
    assert_eq!(first.len(), 25, "the cap, shared by every claimer");
    assert_eq!(first.iter().collect::<HashSet<_>>().len(), 25);

    // Within the minute (and the second to spare) nothing more, however much is due.
    for later in [30_000, 61_000, 62_000] {
        assert!(
            s.claim_deliveries(&checked("video"), now + later, now + 600_000, 100)
                .await
                .unwrap()
                .is_empty(),
            "{later} ms after the first claim"
        );
    }
    // Another platform is not held back by video's cap.
    assert_eq!(
        s.claim_deliveries(&checked("social"), now, now + 600_000, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    // Once the first claim has left the window, the next 25.
    let second = s
        .claim_deliveries(&checked("video"), now + 63_000, now + 600_000, 100)
        .await
        .unwrap();
    assert_eq!(second.len(), 25);
    // A retried delivery counts again: it reaches the platform again.
    s.mark_retry(&[second[0].id], now + 63_000, "UNAVAILABLE")
        .await
        .unwrap();
    assert!(
        s.claim_deliveries(&checked("video"), now + 64_000, now + 600_000, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Lifting the cap lets the rest go at once.
    s.upsert_platform(
        &Platform {
            max_per_minute: None,
            ..video
        },
        &checked("europol"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.claim_deliveries(&checked("video"), now + 64_000, now + 600_000, 100)
            .await
            .unwrap()
            .len(),
        51,
        "the 50 never claimed and the one put back"
    );
}

/// `claimers` tasks claim `batch` at a time at `now` until a claim comes back empty; the
/// ids each claimed.
async fn claim_concurrently<S: Store>(
    s: &S,
    platform: &'static str,
    now: i64,
    claimers: usize,
    batch: u32,
) -> Vec<Vec<DeliveryId>> {
    let mut tasks = Vec::new();
    for _ in 0..claimers {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_deliveries(&checked(platform), now, now + 600_000, batch)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|c| c.id));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
