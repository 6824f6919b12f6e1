//! Intake of a 100 000-item list, timed. Ignored by default:
//! `cargo test -p takedown-store --release --test it perf -- --ignored --nocapture`.

use std::time::Instant;

use takedown_store::*;

use crate::support::*;

conformance!(
    #[ignore = "timing run"]
    insert_list_of_100k_items
);

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
