//! Two hub replicas on one PostgreSQL database: they share the fan-out of an action day (the
//! outbox is claimed with `FOR UPDATE SKIP LOCKED` and a lease), and when one of them is
//! killed (SIGKILL) mid-fan-out the survivor takes over its claimed batch once the dead
//! hub's heartbeat stops, well before the claim's lease would end. Every target reaches the platform's handoff exactly once, every delivery ends
//! delivered and acknowledged, and the shared records (release, audit chain, rollups) are
//! written once. PostgreSQL only: SQLite is a single hub's embedded store.

use takedown_protocol::pb::{self, TargetState};
use takedown_tests::{
    Backend, LONG,
    clients::Clients,
    eventually,
    hub::{HubOptions, HubProcess},
    lists::{referrals, request},
    pki::COORDINATOR,
    sidecar::{AutoPolicy, Integration, SidecarProcess},
    world::World,
};

/// Lists of the action day, each of `PER_LIST` telegram targets (the hub's list limit is
/// 1 000 items), signed alternately by the two agencies and submitted alternately to the
/// two hubs.
const LISTS: usize = 3;
const PER_LIST: usize = 1_000;
const TOTAL: usize = LISTS * PER_LIST;

/// A log without its ANSI colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of the integer field `field` on each line of `log` that contains `message`.
fn fields(log: &str, message: &str, field: &str) -> Vec<u64> {
    let key = format!(" {field}=");
    plain(log)
        .lines()
        .filter(|l| l.contains(message))
        .filter_map(|l| {
            let rest = &l[l.find(&key)? + key.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Targets accepted by the sidecar in each batch a hub reports as delivered.
fn hub_batches(hub: &HubProcess) -> Vec<u64> {
    fields(&hub.log_text(), "batch delivered", "accepted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_share_the_fan_out_and_one_survives_the_others_kill() {
    let opts = HubOptions {
        batch_size: 100,
        // Far longer than the takeover may take: the dead hub's claims must come back
        // through its stopped heartbeat (5 s), not their lease.
        lease_ms: 60_000,
        ..HubOptions::default()
    };
    // Hub A: the world's hub (registrations go through it).
    let Some(mut w) = World::start(Backend::Postgres, opts.clone()).await else {
        return;
    };
    // Hub B: same PKI, config and database, its own directory (config and log) and port.
    let dir_b = w.dir.path().join("hub-b");
    std::fs::create_dir(&dir_b).expect("hub B dir");
    let hub_b = HubProcess::start(&w.pki, &w.db, &dir_b, &opts).await;
    // The sidecar reports outcomes to, and fetches agency keys from, the hub that survives.
    let tg = SidecarProcess::start(
        &w.pki,
        w.dir.path(),
        "telegram",
        &hub_b.endpoint,
        &Integration::Auto(AutoPolicy::default()),
    )
    .await;
    w.register_endpoint("telegram", &tg.endpoint()).await;

    // Everything is embargoed until H-hour, so both hubs' workers find it due at once.
    w.action_day("day-m", 6_000).await;
    let agencies = ["agency-fr", "agency-de"];
    for i in 0..LISTS {
        let agency = agencies[i % 2];
        let list = w.key(agency).list(
            &format!("m-{i}"),
            Some("day-m"),
            referrals("telegram", &format!("m{i}"), PER_LIST),
        );
        let endpoint = if i % 2 == 0 {
            &w.hub.endpoint
        } else {
            &hub_b.endpoint
        };
        let answer = Clients::connect(endpoint, &w.pki.material(agency))
            .await
            .expect("connect")
            .referral
            .submit_referral_list(request(&list))
            .await
            .expect("submit")
            .into_inner();
        assert_eq!(answer.target_ids.len(), PER_LIST);
    }
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 1")
            .await,
        TOTAL as i64
    );

    // Hub A dies once both hubs have delivered and a quarter of the targets are in (well
    // into the fan-out, so the kill falls anywhere in hub A's batches).
    eventually(
        LONG,
        "both hubs deliver, a quarter of the targets in",
        || async {
            let n = tg.received().await;
            n == TOTAL as i64
                || (n >= TOTAL as i64 / 4
                    && !hub_batches(&w.hub).is_empty()
                    && !hub_batches(&hub_b).is_empty())
        },
    )
    .await;
    w.hub.kill();
    let killed = std::time::Instant::now();
    let at_kill = tg.received().await;
    let (by_a, by_b) = (hub_batches(&w.hub), hub_batches(&hub_b));
    eprintln!(
        "at the kill: the sidecar holds {at_kill}; hub A delivered {} in {} batches, \
         hub B {} in {} batches",
        by_a.iter().sum::<u64>(),
        by_a.len(),
        by_b.iter().sum::<u64>(),
        by_b.len()
    );
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both hubs deliver (hub A {} batches, hub B {})\nhub A:\n{}\nhub B:\n{}\nsidecar:\n{}",
        by_a.len(),
        by_b.len(),
        w.hub.log_tail(),
        hub_b.log_tail(),
        tg.log_tail()
    );
    assert!(
        at_kill < TOTAL as i64,
        "the fan-out finished before the kill ({at_kill}); make it bigger"
    );

    // The survivor delivers the rest, hub A's claimed batches included once hub A's
    // heartbeat has stopped.
    eventually(LONG, "every target reaches the sidecar", || async {
        tg.received().await == TOTAL as i64
    })
    .await;
    let took = killed.elapsed();
    eprintln!("hub B delivered the rest {took:?} after hub A's kill (lease 60 s)");
    assert!(
        took < std::time::Duration::from_secs(30),
        "hub A's claims waited for their lease: {took:?}"
    );
    tg.expect_each_handed_once(TOTAL, "after hub A was killed")
        .await;
    let mut received = tg.received_targets().await;
    received.sort_unstable();
    received.dedup();
    assert_eq!(received.len(), TOTAL, "no target received twice");

    // At the hub: every delivery delivered, acknowledged and decided, recorded once.
    eventually(
        LONG,
        "every delivery row delivered and every target acknowledged and blocked",
        || async {
            w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 1 AND state <> 2")
                .await
                == 0
                && w.db
                    .scalar(
                        "SELECT COUNT(*) FROM targets WHERE delivered_at IS NULL \
                         OR acked_at IS NULL OR outcome IS DISTINCT FROM 1",
                    )
                    .await
                    == 0
        },
    )
    .await;
    // What was sent twice: at most what hub A had in flight when it died (batches the
    // sidecar stored but hub A never recorded), which the survivor claims again once hub A's
    // heartbeat stops. A hub claiming deliveries the other still held would send far more
    // twice. (A Deliver call cut short by the kill may store its batch without the log
    // line: the lines give a lower bound of what was sent.)
    let sent: u64 = fields(&tg.log_text(), "batch stored", "accepted")
        .iter()
        .sum();
    let sent_twice = sent.saturating_sub(TOTAL as u64);
    let claimed_again =
        w.db.scalar("SELECT COALESCE(SUM(attempts - 1), 0) FROM deliveries WHERE attempts > 1")
            .await;
    eprintln!("after the kill: {claimed_again} deliveries claimed again, {sent_twice} sent again");
    let in_flight = opts.max_in_flight as u64 * u64::from(opts.batch_size);
    assert!(
        sent_twice <= in_flight,
        "{sent_twice} deliveries were sent twice: more than hub A could have in flight"
    );

    assert_eq!(
        w.db.scalar(
            "SELECT COUNT(*) FROM audit_log, \
             jsonb_array_elements_text(details::jsonb -> 'takedowns') AS t(id) \
             WHERE kind = 'delivered'"
        )
        .await,
        TOTAL as i64,
        "each delivery is recorded once in the audit log"
    );
    assert_eq!(
        w.db.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'action_day_released' \
             AND subject = 'day-m'"
        )
        .await,
        1,
        "the release is recorded once"
    );
    // One chain, although both hubs appended to it.
    assert_eq!(
        w.db.scalar(
            "SELECT COUNT(*) FROM audit_log a LEFT JOIN audit_log p ON p.seq = a.seq - 1 \
             WHERE a.seq > 1 AND (p.seq IS NULL OR p.hash <> a.prev_hash)"
        )
        .await,
        0,
        "the audit chain has no gap or fork"
    );

    // Neither hub met an error on the way: a deadlock or a constraint violation between
    // the two hubs' writes would be logged as one.
    for (name, log) in [("A", w.hub.log_text()), ("B", hub_b.log_text())] {
        let log = plain(&log);
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
        assert!(
            errors.is_empty(),
            "hub {name} logged errors:\n{}",
            errors.join("\n")
        );
    }

    // The survivor's view: every item blocked, the summary's rollups (written by both hubs'
    // transactions) agree with the facts.
    let mut coordinator = Clients::connect(&hub_b.endpoint, &w.pki.material(COORDINATOR))
        .await
        .expect("connect");
    for i in 0..LISTS {
        let items = coordinator
            .referral
            .get_list_status(pb::GetListStatusRequest {
                list_id: format!("m-{i}"),
            })
            .await
            .expect("list status")
            .into_inner()
            .items;
        assert_eq!(items.len(), PER_LIST);
        assert!(items.iter().all(|i| i.state() == TargetState::Blocked));
    }
    let summary = coordinator
        .summary
        .get_action_day_summary(pb::GetActionDaySummaryRequest {
            action_day_id: "day-m".into(),
        })
        .await
        .expect("summary")
        .into_inner();
    let tgs = summary
        .platforms
        .iter()
        .find(|p| p.platform == "telegram")
        .expect("telegram in the summary");
    let n = TOTAL as u64;
    assert_eq!(
        (
            tgs.referred,
            tgs.delivered,
            tgs.acknowledged,
            tgs.blocked,
            tgs.failed,
            tgs.pending
        ),
        (n, n, n, n, 0, 0)
    );
}
