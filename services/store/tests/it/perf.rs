//! Intake of a 100 000-item list, and the delivery write path of an action day (claims,
//! delivered, acknowledgements and decisions in batches of 500), timed. Ignored by default:
//! `cargo test -p takedown-store --release --features test-util --test it perf -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use takedown_store::*;

use crate::support::*;

conformance!(
    #[ignore = "timing run"]
    insert_list_of_100k_items,
    #[ignore = "timing run"]
    delivery_writes_of_10k_targets
);

async fn delivery_writes_of_10k_targets<S: Store + Probe>(s: S) {
    const N: usize = 10_000;
    const BATCH: u32 = 500;
    s.insert_action_day(&day("op", T0), &checked("europol"))
        .await
        .unwrap();
    let items: Vec<NewReferral> = (0..N)
        .map(|i| {
            let mut it = item("video", &format!("example.org/v/{i:06}"));
            // One in ten is a removal order.
            it.legal_basis = if i % 10 == 0 {
                LegalBasis::RemovalOrder
            } else {
                LegalBasis::TosReferral
            };
            it
        })
        .collect();
    accepted(
        s.insert_list(&list("l", "agency-a", Some("op"), T0, N, 1), &items)
            .await
            .unwrap(),
    );
    let (mut claim, mut delivered, mut reported) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut n = 0;
    loop {
        let started = Instant::now();
        let claimed = s
            .claim_deliveries(&checked("video"), T0, T0 + 60_000, BATCH)
            .await
            .unwrap();
        claim += started.elapsed();
        if claimed.is_empty() {
            break;
        }
        n += claimed.len();
        let ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
        let started = Instant::now();
        s.mark_delivered(&ids, T0 + 10).await.unwrap();
        delivered += started.elapsed();
        let reports: Vec<NewReport> = claimed
            .iter()
            .flat_map(|c| {
                [
                    report(
                        &format!("a{}", c.id),
                        c.target_id,
                        ReportKind::Acknowledgement,
                        0,
                        T0 + 20,
                    ),
                    report(
                        &format!("d{}", c.id),
                        c.target_id,
                        ReportKind::Decision,
                        1,
                        T0 + 30,
                    ),
                ]
            })
            .collect();
        let started = Instant::now();
        s.record_reports(&checked("video"), &reports, T0 + 40)
            .await
            .unwrap()
            .unwrap();
        reported += started.elapsed();
    }
    assert_eq!(n, N);
    let total = claim + delivered + reported;
    eprintln!(
        "{}: {N} targets in batches of {BATCH}: claim {claim:.2?}, mark_delivered {delivered:.2?}, \
         record_reports {reported:.2?}; {:.0} targets/s",
        std::any::type_name::<S>(),
        N as f64 / total.as_secs_f64()
    );
}

async fn insert_list_of_100k_items<S: Store + Probe>(s: S) {
    const N: usize = 100_000;
    let mut items: Vec<NewReferral> = (0..N)
        .map(|i| {
            let mut it = item(
                if i % 3 == 0 { "social" } else { "video" },
                &format!("example.org/p/{i:08}"),
            );
            it.item = vec![(i % 251) as u8; 200];
            it
        })
        .collect();
    // 1 % repeats within the list.
    for i in 0..N / 100 {
        items[N - 1 - i] = items[i].clone();
    }
    let l = list("big", "agency-a", None, T0, N, 1);
    let started = Instant::now();
    let sum = accepted(s.insert_list(&l, &items).await.unwrap());
    let first = started.elapsed();
    assert_eq!(sum.new_targets as usize, N - N / 100);

    // A second list overlapping half of the first (merge path).
    let l2 = list("big2", "agency-b", None, T0, N, 2);
    let mut items2 = items.clone();
    for (i, it) in items2.iter_mut().enumerate().skip(N / 2) {
        it.normalized = format!("example.net/q/{i:08}");
    }
    let started = Instant::now();
    let sum2 = accepted(s.insert_list(&l2, &items2).await.unwrap());
    let second = started.elapsed();
    assert_eq!(sum2.new_targets as usize, N / 2);
    eprintln!(
        "insert_list 100k items: all new {:.2?}, half merged {:.2?}",
        first, second
    );
    assert_eq!(s.count("referrals").await, 2 * N as i64);
}
