//! Chaos, bounded and seeded. During one action day's release the hub and the platform's
//! sidecar are killed (SIGKILL) at points drawn from a seed, and restarted, while the
//! platform (a webhook receiver that records what it saw) posts its decisions back
//! through the sidecar. Checked where it counts:
//!
//! - at the platform, from its own record: every target arrived (lost 0), and each was
//!   applied once by its idempotency key, never in two different batches (duplicates 0);
//! - at the hub: every decision recorded, and the action day's summary equal to one rebuilt
//!   from the stored facts.
//!
//! The seed and its schedule are printed first and in every failure;
//! `TAKEDOWN_CHAOS_SEED=<n>` replays a schedule.

use std::{collections::BTreeSet, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng};
use takedown_protocol::{pb, timestamp::now_millis};
use takedown_tests::{
    Backend,
    hub::HubOptions,
    lists::referrals,
    pki::COORDINATOR,
    platform::{RecordingPlatform, WEBHOOK_SECRET},
    sidecar::Integration,
    world::World,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends!(seeded_kills_during_a_release_lose_nothing_and_repeat_nothing);

const LISTS: usize = 3;
const PER_LIST: usize = 1_000;
const TARGETS: usize = LISTS * PER_LIST;
/// H-hour, from the start of the schedule.
const H_HOUR_MS: i64 = 4_000;
/// Kills fall in [H-hour - 1 s, H-hour + 5 s].
const WINDOW_MS: (u64, u64) = (3_000, 9_000);
const EVENTS: usize = 4;
const DONE_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Victim {
    Hub,
    Sidecar,
    Both,
}

#[derive(Debug, Clone, Copy)]
struct Kill {
    /// From the start of the schedule.
    at_ms: u64,
    victim: Victim,
    /// How long it stays down.
    down_ms: u64,
}

fn schedule(seed: u64) -> Vec<Kill> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kills: Vec<Kill> = (0..EVENTS)
        .map(|_| Kill {
            at_ms: rng.random_range(WINDOW_MS.0..WINDOW_MS.1),
            victim: match rng.random_range(0..3) {
                0 => Victim::Hub,
                1 => Victim::Sidecar,
                _ => Victim::Both,
            },
            down_ms: rng.random_range(50..1_500),
        })
        .collect();
    kills.sort_by_key(|k| k.at_ms);
    kills
}

fn seed() -> u64 {
    std::env::var("TAKEDOWN_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// Posts the platform's decisions to the sidecar's decisions endpoint, signed as Standard
/// Webhooks specify; true on a 200.
async fn post_decisions(port: u16, target_ids: &[String], n: u64) -> bool {
    let body = serde_json::to_string(
        &target_ids
            .iter()
            .map(|t| serde_json::json!({"target_id": t, "outcome": "BLOCKED"}))
            .collect::<Vec<_>>(),
    )
    .expect("json");
    let id = format!("msg-{n}");
    let ts = now_millis() / 1000;
    let signature = standardwebhooks::Webhook::new(WEBHOOK_SECRET)
        .expect("secret")
        .sign(&id, ts, body.as_bytes())
        .expect("sign");
    let request = format!(
        "POST /v1/decisions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nwebhook-id: {id}\r\nwebhook-timestamp: {ts}\r\n\
         webhook-signature: {signature}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let ok = read.is_ok_and(|r| r.is_ok()) && answer.starts_with(b"HTTP/1.1 200");
    if !ok {
        eprintln!("decisions post {n}: {}", String::from_utf8_lossy(&answer));
    }
    ok
}

/// The platform's moderation: decides every target it received, once, and posts the
/// decisions until the sidecar takes them (it may be down).
async fn moderate(
    platform: &RecordingPlatform,
    port: u16,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut decided: BTreeSet<String> = BTreeSet::new();
    let mut posts = 0u64;
    while !*stop.borrow() {
        let pending: Vec<String> = platform
            .receipts()
            .iter()
            .flat_map(|r| r.targets.iter())
            .filter(|(_, kind)| kind.eq_ignore_ascii_case("takedown"))
            .map(|(t, _)| t.clone())
            .filter(|t| !decided.contains(t))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in pending.chunks(500) {
            posts += 1;
            if post_decisions(port, chunk, posts).await {
                decided.extend(chunk.iter().cloned());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn seeded_kills_during_a_release_lose_nothing_and_repeat_nothing(backend: Backend) {
    let seed = seed();
    let kills = schedule(seed);
    eprintln!("chaos seed {seed} (TAKEDOWN_CHAOS_SEED={seed} replays it): {kills:?}");
    let Some(mut w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let platform = RecordingPlatform::start(Duration::from_millis(300)).await;
    let webhook = Integration::Webhook {
        url: platform.url.clone(),
        batch_size: 250,
        max_backlog: None,
    };
    let mut tg = w.sidecar_with("telegram", &webhook).await;
    // Restarts keep it.
    let decisions_port = tg
        .decisions_port
        .expect("a webhook sidecar takes decisions");

    let started = tokio::time::Instant::now();
    w.action_day("chaos", H_HOUR_MS).await;
    let mut referred: BTreeSet<String> = BTreeSet::new();
    for i in 0..LISTS {
        let list = w.key("agency-fr").list(
            &format!("chaos-{i}"),
            Some("chaos"),
            referrals("telegram", &format!("c{i}x"), PER_LIST),
        );
        referred.extend(w.submit("agency-fr", &list).await);
    }
    assert_eq!(referred.len(), TARGETS, "seed {seed}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let moderation = moderate(&platform, decisions_port, stop_rx);
    let chaos = async {
        for k in &kills {
            tokio::time::sleep_until(started + Duration::from_millis(k.at_ms)).await;
            eprintln!(
                "seed {seed}: +{} ms kill {:?} for {} ms",
                k.at_ms, k.victim, k.down_ms
            );
            if k.victim != Victim::Sidecar {
                w.hub.kill();
            }
            if k.victim != Victim::Hub {
                tg.kill();
            }
            tokio::time::sleep(Duration::from_millis(k.down_ms)).await;
            if k.victim != Victim::Sidecar {
                w.hub.restart().await;
            }
            if k.victim != Victim::Hub {
                tg.restart().await;
            }
        }
        // Decided and acknowledged: the acknowledgement of a batch may come after its
        // decisions, and the summary is compared only once nothing more is on its way.
        let decided =
            "SELECT COUNT(*) FROM targets WHERE outcome IS NOT NULL AND acked_at IS NOT NULL";
        let all = tokio::time::timeout(DONE_WITHIN, async {
            while w.db.scalar(decided).await < TARGETS as i64 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        let _ = stop_tx.send(true);
        assert!(
            all.is_ok(),
            "seed {seed}: {} of {TARGETS} decisions recorded at the hub after {DONE_WITHIN:?} \
             ({} delivered, {} posts at the platform); sidecar log:\n{}",
            w.db.scalar(decided).await,
            w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
                .await,
            platform.receipts().len(),
            tg.log_tail()
        );
    };
    tokio::join!(moderation, chaos);
    // Nothing more is on its way.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // At the platform, from its own record.
    let seen = platform.seen();
    let sidecar_kills = kills.iter().filter(|k| k.victim != Victim::Hub).count();
    eprintln!(
        "seed {seed}: at the platform {} posts, {} targets received, {} applied, {} batches \
         repeated ({sidecar_kills} sidecar kills)",
        seen.posts, seen.received, seen.applied, seen.repeated_batches
    );
    let arrived: BTreeSet<String> = platform
        .receipts()
        .iter()
        .flat_map(|r| r.targets.iter().map(|(t, _)| t.clone()))
        .collect();
    let lost: Vec<&String> = referred.difference(&arrived).collect();
    assert!(
        lost.is_empty(),
        "seed {seed}: {} targets lost: {lost:?}",
        lost.len()
    );
    assert!(
        seen.in_two_batches.is_empty() && seen.changed_on_retry.is_empty(),
        "seed {seed}: duplicates at the platform: {} targets in two batches, {} batches \
         changed on retry",
        seen.in_two_batches.len(),
        seen.changed_on_retry.len()
    );
    assert_eq!(seen.applied, TARGETS, "seed {seed}: applied once each");
    assert_eq!(seen.without_key, 0, "seed {seed}");
    assert!(
        seen.repeated_batches <= sidecar_kills,
        "seed {seed}: {} batches repeated for {sidecar_kills} sidecar kills",
        seen.repeated_batches
    );

    // At the hub: the summary is what the facts say.
    let summary = || async {
        let mut s = w
            .as_org(COORDINATOR)
            .await
            .summary
            .get_action_day_summary(pb::GetActionDaySummaryRequest {
                action_day_id: "chaos".into(),
            })
            .await
            .expect("summary")
            .into_inner();
        s.generated_at = None;
        s
    };
    let before = summary().await;
    let blocked: u64 = before.platforms.iter().map(|p| p.blocked).sum();
    assert_eq!(blocked, TARGETS as u64, "seed {seed}: {before:?}");
    rebuild_summary(&w, backend, "chaos").await;
    assert_eq!(
        summary().await,
        before,
        "seed {seed}: the summary differs from a rebuild"
    );
}

/// Recomputes `day`'s rollups from the facts (what the summary must already say).
pub(crate) async fn rebuild_summary(w: &World, backend: Backend, day: &str) {
    use takedown_store::{Summaries, postgres::PgStore, sqlite::SqliteStore, testing::checked};
    let day = &checked(day);
    match backend {
        Backend::Sqlite => SqliteStore::connect(&w.db.url)
            .await
            .expect("store")
            .rebuild_summary(day)
            .await
            .expect("rebuild"),
        Backend::Postgres => PgStore::connect(&w.db.url)
            .await
            .expect("store")
            .rebuild_summary(day)
            .await
            .expect("rebuild"),
    }
}
