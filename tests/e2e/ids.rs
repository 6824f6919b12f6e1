//! Ids on the wire are opaque: an agency cannot count the targets other agencies referred
//! between two of its own lists, nor a platform the deliveries that went elsewhere; a row id,
//! a guessed or an altered id names nothing; every restart names a target the same way.

use std::time::Duration;

use takedown_protocol::pb;
use takedown_tests::{
    Backend, eventually, hub::HubOptions, lists::referral, sidecar::AutoPolicy, world::World,
};
use tonic::Code;

both_backends!(ids_on_the_wire_are_opaque_stable_and_unguessable);

const LONG: Duration = Duration::from_secs(30);

/// `prefix` and 32 lowercase hex digits (128 bits).
fn is_opaque(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|h| {
        h.len() == 32
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn withdraw(target_id: &str) -> pb::WithdrawTargetRequest {
    pb::WithdrawTargetRequest {
        target_id: target_id.into(),
        reason: "probe".into(),
        agency_ids: Vec::new(),
        ..Default::default()
    }
}

async fn ids_on_the_wire_are_opaque_stable_and_unguessable(backend: Backend) {
    let Some(mut w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // fr refers one target, de twenty, then fr two more, one of which de referred too.
    let fr = w.key("agency-fr").clone();
    let de = w.key("agency-de").clone();
    let first = w
        .submit(
            "agency-fr",
            &fr.list("fr-1", None, vec![referral("telegram", "@one")]),
        )
        .await;
    let de_items = (0..20)
        .map(|i| referral("telegram", &format!("@de{i}")))
        .collect();
    let de_ids = w
        .submit("agency-de", &de.list("de-1", None, de_items))
        .await;
    let second = w
        .submit(
            "agency-fr",
            &fr.list(
                "fr-2",
                None,
                vec![referral("telegram", "@two"), referral("telegram", "@de0")],
            ),
        )
        .await;
    for id in first.iter().chain(&de_ids).chain(&second) {
        assert!(is_opaque(id, "t-"), "target id {id:?} is not opaque");
    }
    assert_eq!(
        second[1], de_ids[0],
        "one target has one id, whoever refers it"
    );

    // No row id, and no id with one digit changed, names a target.
    let mut fr_c = w.as_org("agency-fr").await;
    let rows = w.db.scalar("SELECT MAX(id) FROM targets").await;
    assert!(rows >= 22, "{rows} target rows");
    let altered = {
        let mut s = second[0].clone();
        let last = if s.ends_with('0') { "1" } else { "0" };
        s.replace_range(33.., last);
        s
    };
    let mut guesses: Vec<String> = (1..=rows).map(|r| r.to_string()).collect();
    guesses.push(altered);
    guesses.push(second[0][..33].to_string());
    for guess in &guesses {
        let err = fr_c
            .referral
            .withdraw_target(withdraw(guess))
            .await
            .expect_err(guess);
        assert_eq!(err.code(), Code::NotFound, "{guess}: {err:?}");
    }
    let withdrawn = "SELECT COUNT(*) FROM referrals WHERE withdrawn_at IS NOT NULL";
    assert_eq!(w.db.scalar(withdrawn).await, 0);

    // The platform sees the same target ids, and opaque delivery ids.
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    eventually(LONG, "all delivered", || async {
        tg.received().await == 22
    })
    .await;
    let bodies = tg.takedown_bodies().await;
    let mut delivered: Vec<String> = Vec::new();
    for b in &bodies {
        let (t, d) = (
            b["target_id"].as_str().unwrap(),
            b["delivery_id"].as_str().unwrap(),
        );
        assert!(is_opaque(t, "t-"), "delivered target id {t:?}");
        assert!(is_opaque(d, "d-"), "delivery id {d:?}");
        delivered.push(t.to_string());
    }
    for id in first.iter().chain(&de_ids).chain(&second) {
        assert!(
            delivered.contains(id),
            "{id} was not delivered under its id"
        );
    }
    // A report naming a row id is refused, and changes nothing (once the sidecar's own
    // acknowledgements and decisions are all in).
    eventually(LONG, "every target acknowledged and decided", || async {
        w.db.scalar(
            "SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL AND outcome IS NOT NULL",
        )
        .await
            == 22
    })
    .await;
    let reports = w.db.count("reports").await;
    let err = w
        .as_org("telegram")
        .await
        .platform
        .report_outcomes(pb::ReportOutcomesRequest {
            reports: vec![pb::PlatformReport {
                report_id: "row-id".into(),
                target_id: "1".into(),
                report: Some(pb::platform_report::Report::Decision(pb::Decision {
                    outcome: pb::Outcome::Blocked as i32,
                    ..Default::default()
                })),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("unknown target"),
        "{}",
        err.message()
    );
    assert_eq!(w.db.count("reports").await, reports);
    // It waits in the coordinator's quarantine, as the platform sent it.
    let q = w
        .as_org(takedown_tests::pki::COORDINATOR)
        .await
        .summary
        .list_refused_reports(pb::ListRefusedReportsRequest::default())
        .await
        .expect("refused reports")
        .into_inner();
    let sent: Vec<(&str, &str)> = q
        .reports
        .iter()
        .map(|r| (r.report_id.as_str(), r.target_id.as_str()))
        .collect();
    assert_eq!(sent, [("row-id", "1")]);

    // A restarted hub names every target as before, and takes its ids back.
    w.hub.restart().await;
    let mut fr_c = w.as_org("agency-fr").await;
    let items = w.list_items("agency-fr", "fr-2").await;
    let again: Vec<String> = items.iter().map(|i| i.target_id.clone()).collect();
    assert_eq!(again, second);
    let answer = fr_c
        .referral
        .withdraw_target(withdraw(&first[0]))
        .await
        .expect("fr withdraws its own target by its id")
        .into_inner();
    assert_eq!(answer.target_id, first[0]);
    assert!(answer.target_withdrawn);
}
