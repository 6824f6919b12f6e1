//! Agency keys come only from key-set statements signed by the coordinator's root, and a
//! platform believes its pinned root, not the hub: a hub given a forged key cannot get a
//! referral signed with it past a sidecar; a revocation reaches a running sidecar within
//! seconds; a hub rolled back to an older statement cannot undo it.

use std::time::{Duration, Instant};

use takedown_protocol::{
    keyset,
    pb::{self, TargetState},
    timestamp::now_millis,
};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{AgencyKey, referral},
    pki::COORDINATOR,
    sidecar::AutoPolicy,
    world::{World, statement_key},
};

both_backends!(
    a_hub_given_a_forged_key_cannot_get_it_past_a_sidecar,
    a_revocation_reaches_a_running_sidecar_in_seconds_and_a_rollback_cannot_undo_it,
    the_hub_does_not_deliver_what_a_compromise_voids
);

/// The state and detail of the first item of `list_id`, as the coordinator sees it.
async fn first_item(w: &World, list_id: &str) -> Option<(TargetState, String)> {
    w.list_items(COORDINATOR, list_id)
        .await
        .first()
        .map(|i| (i.state(), i.detail.clone()))
}

async fn a_hub_given_a_forged_key_cannot_get_it_past_a_sidecar(backend: Backend) {
    // The attacker owns the hub: its configuration trusts the attacker's root as well,
    // and its database takes whatever the attacker writes.
    let attacker = tempfile::tempdir().expect("temp dir");
    let (attacker_private, attacker_public) =
        takedown_net::pki::generate_root_key().expect("attacker root");
    let attacker_pin = attacker.path().join("attacker.pub.pem");
    std::fs::write(&attacker_pin, &attacker_public).expect("write attacker root");
    let opts = HubOptions {
        extra_roots: vec![attacker_pin],
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    eventually(
        LONG,
        "the sidecar holds the coordinator's statement",
        || async { tg.key_set_version().await == Some(1) },
    )
    .await;

    // A statement of the attacker's own, written straight into the hub's table: the
    // genuine keys and one more "of agency-fr", under a newer version.
    let forged = AgencyKey::generate("agency-fr", "agency-fr-forged");
    let mut claims = w.key_set.lock().unwrap().clone();
    claims.version = 2;
    claims.keys.push(statement_key(&forged));
    let jws = keyset::sign(
        &claims,
        &keyset::thumbprint(&attacker_public).unwrap(),
        attacker_private.as_bytes(),
    )
    .unwrap();
    w.db.execute(&format!(
        "INSERT INTO key_set_statements (version, jws, published_at, published_by) \
         VALUES (2, '{jws}', {}, 'europol')",
        now_millis()
    ))
    .await;
    // The hub believes it (so would any verifier trusting the hub) ...
    eventually(LONG, "the hub serves the forged key", || async {
        w.as_org("telegram")
            .await
            .directory
            .get_agency_keys(pb::GetAgencyKeysRequest::default())
            .await
            .is_ok_and(|r| r.into_inner().keys.iter().any(|k| k.kid == forged.kid))
    })
    .await;
    // ... and takes a referral "signed by agency-fr" with the forged key.
    let minted = forged.list(
        "minted",
        None,
        vec![referral("telegram", "@a_channel_agency_fr_never_named")],
    );
    let minted_ids = w.submit("agency-fr", &minted).await;
    let genuine = w.key("agency-de").list(
        "genuine",
        None,
        vec![referral("telegram", "@a_real_target")],
    );
    let genuine_ids = w.submit("agency-de", &genuine).await;

    // The genuine referral reaches the platform; the minted one is refused and never does.
    eventually(LONG, "the genuine target is handed on", || async {
        tg.handoffs_per_target().await.contains_key(&genuine_ids[0])
    })
    .await;
    eventually(LONG, "the sidecar refuses the minted target", || async {
        first_item(&w, "minted")
            .await
            .is_some_and(|(state, detail)| {
                state == TargetState::Failed
                    && detail.contains(
                        "\"agency-fr-forged\" is not in the coordinator's key-set statement",
                    )
            })
    })
    .await;
    assert!(
        !tg.received_targets().await.contains(&minted_ids[0]),
        "the minted target is not in the sidecar's inbox"
    );
    assert!(
        !tg.handoffs_per_target().await.contains_key(&minted_ids[0]),
        "the minted target was never handed to the platform"
    );
    assert_eq!(
        tg.key_set_version().await,
        Some(1),
        "the sidecar keeps the coordinator's statement"
    );
    assert!(
        tg.log_text().contains("which is not a trusted root"),
        "the sidecar says why it refused the hub's statement:\n{}",
        tg.log_tail()
    );

    // The refused delivery is in the coordinator's quarantine, with the receiver's reason;
    // it is not retried, and only coordinators may look.
    let failed = |platform: &str| pb::ListFailedDeliveriesRequest {
        platform: platform.into(),
        ..Default::default()
    };
    let mut coordinator = w.as_org(COORDINATOR).await;
    let q = coordinator
        .summary
        .list_failed_deliveries(failed(""))
        .await
        .expect("the quarantine")
        .into_inner();
    assert_eq!(q.deliveries.len(), 1, "{q:?}");
    let f = &q.deliveries[0];
    assert_eq!(
        (
            f.target_id.as_str(),
            f.platform.as_str(),
            q.next_page_token.is_empty()
        ),
        (minted_ids[0].as_str(), "telegram", true)
    );
    assert!(
        f.reason.starts_with("refused by the platform's receiver")
            && f.reason
                .contains("is not in the coordinator's key-set statement"),
        "{}",
        f.reason
    );
    let tamtam = coordinator
        .summary
        .list_failed_deliveries(failed("tamtam"))
        .await
        .expect("tamtam's quarantine")
        .into_inner();
    assert!(tamtam.deliveries.is_empty());
    let e = w
        .as_org("agency-fr")
        .await
        .summary
        .list_failed_deliveries(failed(""))
        .await
        .expect_err("an agency does not see the quarantine");
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
}

async fn a_revocation_reaches_a_running_sidecar_in_seconds_and_a_rollback_cannot_undo_it(
    backend: Backend,
) {
    let Some(mut w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let mut tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    eventually(LONG, "the sidecar holds the first statement", || async {
        tg.key_set_version().await == Some(1)
    })
    .await;
    // One list of each agency, embargoed until H-hour.
    w.action_day("keys-day", 15_000).await;
    let fr = w.key("agency-fr").list(
        "fr-k",
        Some("keys-day"),
        vec![referral("telegram", "@fr_target")],
    );
    let de = w.key("agency-de").list(
        "de-k",
        Some("keys-day"),
        vec![referral("telegram", "@de_target")],
    );
    let fr_ids = w.submit("agency-fr", &fr).await;
    let de_ids = w.submit("agency-de", &de).await;

    // agency-fr's key turns out to have leaked an hour before it signed its list.
    let since = now_millis() / 1000 - 3_600;
    let published = Instant::now();
    let answer = w
        .publish_keys(|s| {
            let k = s
                .keys
                .iter_mut()
                .find(|k| k.kid == "agency-fr-k1")
                .expect("agency-fr's key");
            k.compromised_since = Some(since);
            k.reason = "the key leaked".into();
        })
        .await;
    eventually(
        Duration::from_secs(5),
        "the revocation reaches the running sidecar",
        || async { tg.key_set_version().await == Some(2) },
    )
    .await;
    println!(
        "revocation reached the sidecar {} ms after it was published",
        published.elapsed().as_millis()
    );
    // The coordinator is told which lists the compromise voids, while they are embargoed.
    let void: Vec<(&str, &str, bool)> = answer
        .invalidated_lists
        .iter()
        .map(|l| (l.list_id.as_str(), l.kid.as_str(), l.embargoed))
        .collect();
    assert_eq!(void, [("fr-k", "agency-fr-k1", true)]);

    // The hub is rolled back to the statement before (say, its database restored from a
    // backup) and restarted; so is the sidecar.
    w.hub.kill();
    w.db.execute("DELETE FROM key_set_statements WHERE version = 2")
        .await;
    w.hub.restart().await;
    tg.restart().await;
    eventually(
        LONG,
        "the sidecar refuses the rolled-back statement",
        || async { tg.log_text().contains("older than version 2 already held") },
    )
    .await;
    assert_eq!(tg.key_set_version().await, Some(2));

    // At H-hour agency-de's target is handed on; agency-fr's is refused at the sidecar as
    // signed with a compromised key, though the rolled-back hub delivered it.
    eventually(LONG, "agency-de's target is handed on", || async {
        tg.handoffs_per_target().await.contains_key(&de_ids[0])
    })
    .await;
    eventually(LONG, "agency-fr's target is refused", || async {
        first_item(&w, "fr-k").await.is_some_and(|(state, detail)| {
            state == TargetState::Failed && detail.contains("is compromised since")
        })
    })
    .await;
    assert!(!tg.received_targets().await.contains(&fr_ids[0]));
}

async fn the_hub_does_not_deliver_what_a_compromise_voids(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("void-day", 6_000).await;
    let fr = w.key("agency-fr").list(
        "fr-v",
        Some("void-day"),
        vec![
            referral("telegram", "@only_fr_v"),
            referral("telegram", "@shared_v"),
        ],
    );
    let de = w.key("agency-de").list(
        "de-v",
        Some("void-day"),
        vec![referral("telegram", "@shared_v")],
    );
    let fr_ids = w.submit("agency-fr", &fr).await;
    let de_ids = w.submit("agency-de", &de).await;
    assert_eq!(fr_ids[1], de_ids[0], "one target, referred by both");
    w.publish_keys(|s| {
        let k = s.keys.iter_mut().find(|k| k.kid == "agency-fr-k1").unwrap();
        k.compromised_since = Some(now_millis() / 1000 - 600);
    })
    .await;

    // At H-hour the shared target goes with agency-de's referral alone; agency-fr's own
    // target is failed at the hub, never sent.
    eventually(LONG, "the shared target is handed on", || async {
        tg.handoffs_per_target().await.contains_key(&de_ids[0])
    })
    .await;
    eventually(
        LONG,
        "agency-fr's own target is failed at the hub",
        || async {
            first_item(&w, "fr-v").await.is_some_and(|(state, detail)| {
                state == TargetState::Failed && detail.contains("declared compromised")
            })
        },
    )
    .await;
    assert!(!tg.received_targets().await.contains(&fr_ids[0]));
    let shared = tg
        .takedown_bodies()
        .await
        .into_iter()
        .find(|b| b["target_id"] == de_ids[0].as_str())
        .expect("the shared target's document");
    let agencies: Vec<&str> = shared["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agency_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        agencies,
        ["agency-de"],
        "only the standing referral travels"
    );
}
