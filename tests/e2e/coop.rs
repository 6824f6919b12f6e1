//! The `coop` handoff against a stand-in for ROOST Coop written from its API reference
//! (Coop itself needs Node.js, PostgreSQL, Redis and more than this test machine runs):
//! each target is filed once as a Coop item, Coop's signed action callbacks become the
//! outcomes the hub records, and callbacks that are unsigned, tampered with, unmapped or
//! about someone else's item are refused and change nothing.

use std::collections::BTreeSet;

use takedown_protocol::pb;
use takedown_tests::{
    Backend, LONG,
    coop::{self, CoopStandIn},
    eventually,
    hub::HubOptions,
    lists::{referrals, request},
    sidecar::Integration,
    world::World,
};

both_backends!(coop_files_each_target_once_and_its_signed_actions_decide);

const TARGETS: usize = 40;

async fn coop_files_each_target_once_and_its_signed_actions_decide(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let coop_server = CoopStandIn::start().await;
    let integration = Integration::Coop {
        url: coop_server.url.clone(),
    };
    let tg = w.sidecar_with("telegram", &integration).await;
    let callback_port = tg.decisions_port.expect("a coop sidecar takes callbacks");
    let mut fr = w.as_org("agency-fr").await;
    let list = w
        .key("agency-fr")
        .list("coop-1", None, referrals("telegram", "coop", TARGETS));
    fr.referral
        .submit_referral_list(request(&list))
        .await
        .expect("submit");

    coop_server.wait_for_items(TARGETS).await;
    eventually(LONG, "every target acknowledged at the hub", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL")
            .await
            == TARGETS as i64
    })
    .await;
    let items = coop_server.items();
    let ids: BTreeSet<String> = items
        .iter()
        .map(|i| i["id"].as_str().expect("item id").to_string())
        .collect();
    assert_eq!(items.len(), TARGETS, "Coop received each target once");
    assert_eq!(ids.len(), TARGETS);
    assert_eq!(
        coop_server.refused(),
        0,
        "the API key and every item were accepted"
    );
    let first = &items[0];
    assert_eq!(first["typeId"], coop::ITEM_TYPE);
    assert_eq!(first["data"]["kind"], "TAKEDOWN");
    assert_eq!(first["data"]["platform"], "telegram");
    assert_eq!(first["data"]["legal_basis"], "TOS_REFERRAL");
    assert_eq!(first["data"]["agencies"], serde_json::json!(["agency-fr"]));
    assert_eq!(first["data"]["referrals"][0]["agency_id"], "agency-fr");
    assert!(
        first["data"]["target"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // Refusals first: none of them may decide anything.
    let item = ids.iter().next().expect("an item").clone();
    let body = coop::action_callback(&item, "ban", &[]);
    let (status, _) = coop::post_callback(callback_port, &body, None).await;
    assert_eq!(status, 401, "an unsigned callback is refused");
    let forged = coop::sign(body.replace("ban", "dismiss").as_bytes());
    let (status, _) = coop::post_callback(callback_port, &body, Some(&forged)).await;
    assert_eq!(status, 401, "a signature over another body is refused");
    let unmapped = coop::action_callback(&item, "warn-user", &[]);
    let (status, answer) = coop::post_callback(
        callback_port,
        &unmapped,
        Some(&coop::sign(unmapped.as_bytes())),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("warn-user"),
        "the refusal names the action: {answer}"
    );
    let foreign = coop::action_callback("t-someone-else:takedown", "ban", &[]);
    let (status, _) = coop::post_callback(
        callback_port,
        &foreign,
        Some(&coop::sign(foreign.as_bytes())),
    )
    .await;
    assert_eq!(status, 404, "an item this sidecar did not file is unknown");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE outcome IS NOT NULL")
            .await,
        0,
        "no refused callback decided a target"
    );

    // The moderators decide: the first half banned, the rest dismissed, half of those as
    // unclear. Each callback is sent twice, as Coop's retries may.
    let mut expected_rejected = 0;
    for (i, id) in ids.iter().enumerate() {
        let body = if i < TARGETS / 2 {
            coop::action_callback(id, "ban", &[("terror", "Terrorist content")])
        } else {
            expected_rejected += 1;
            let policies: &[(&str, &str)] = if i % 2 == 0 {
                &[("unclear", "Unclear")]
            } else {
                &[]
            };
            coop::action_callback(id, "dismiss", policies)
        };
        let signature = coop::sign(body.as_bytes());
        for attempt in 0..2 {
            let (status, answer) =
                coop::post_callback(callback_port, &body, Some(&signature)).await;
            assert_eq!(status, 200, "{answer}");
            let expected = if attempt == 0 {
                r#""recorded":1"#
            } else {
                r#""duplicates":1"#
            };
            assert!(answer.contains(expected), "attempt {attempt}: {answer}");
        }
    }
    let blocked = format!(
        "SELECT COUNT(*) FROM targets WHERE outcome = {}",
        pb::Outcome::Blocked as i32
    );
    let rejected = format!(
        "SELECT COUNT(*) FROM targets WHERE outcome = {}",
        pb::Outcome::Rejected as i32
    );
    eventually(LONG, "every Coop action recorded at the hub", || async {
        w.db.scalar(&blocked).await == (TARGETS / 2) as i64
            && w.db.scalar(&rejected).await == expected_rejected
    })
    .await;
    assert_eq!(
        coop_server.items().len(),
        TARGETS,
        "deciding filed nothing again"
    );
}
