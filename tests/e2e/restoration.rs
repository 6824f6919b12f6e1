//! Restoration, the audit chain and the transparency export end to end: a withdrawal
//! reaches every platform that acted, through a hub crash, and the platform's RESTORED is
//! recorded; the audit log exported from a real hub verifies offline; the transparency
//! export matches the scenario.

use takedown_protocol::{
    audit::verify_jsonl,
    pb::{self, TargetState, audit_service_client::AuditServiceClient},
};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referral, removal_order, request},
    pki::COORDINATOR,
    sidecar::AutoPolicy,
    world::World,
};
use tonic::Code;

use crate::code;

both_backends!(
    a_withdrawal_reaches_every_platform_through_a_hub_restart,
    audit_export_of_an_action_day_verifies_and_transparency_matches,
);

async fn a_withdrawal_reaches_every_platform_through_a_hub_restart(backend: Backend) {
    let opts = HubOptions {
        retry_schedule_ms: vec![100, 200, 400],
        breaker_cooldown_ms: 300,
        ..HubOptions::default()
    };
    let Some(mut w) = World::start(backend, opts).await else {
        return;
    };
    let policy = AutoPolicy::default();
    let mut sidecars = vec![
        w.sidecar("telegram", &policy).await,
        w.sidecar("tamtam", &policy).await,
        w.sidecar("x", &policy).await,
    ];
    let list = w.key("agency-fr").list(
        "fr",
        None,
        vec![
            referral("telegram", "t.me/w_tg"),
            referral("tamtam", "tamtam.chat/w_tt"),
            referral("x", "@w_x"),
            referral("x", "@kept"),
        ],
    );
    let answer = w
        .as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap()
        .into_inner();
    let ids = answer.target_ids.clone();
    eventually(LONG, "every target blocked", || async {
        w.list_items(COORDINATOR, "fr")
            .await
            .iter()
            .all(|i| i.state() == TargetState::Blocked)
    })
    .await;

    // The platforms' sidecars are down while the withdrawals are queued, and the hub dies
    // (SIGKILL) before it can send them: only the outbox carries them over.
    for s in &mut sidecars {
        s.kill();
    }
    // Another agency cannot withdraw agency-fr's target; an unknown target is not found.
    let de = w
        .as_org("agency-de")
        .await
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: ids[0].clone(),
            reason: "not mine".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&de), Code::NotFound);
    let unknown = w
        .as_org(COORDINATOR)
        .await
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: "987654321".into(),
            reason: "x".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&unknown), Code::NotFound);
    for (i, id) in ids[..3].iter().enumerate() {
        let who = if i == 0 { COORDINATOR } else { "agency-fr" };
        let r = w
            .as_org(who)
            .await
            .referral
            .withdraw_target(pb::WithdrawTargetRequest {
                target_id: id.clone(),
                reason: "appeal upheld".into(),
                ..Default::default()
            })
            .await
            .expect("withdraw")
            .into_inner();
        assert_eq!(
            (r.target_id.as_str(), r.withdrawals_queued),
            (id.as_str(), 1)
        );
    }
    // Idempotent: the same answer, nothing more queued.
    let again = w
        .as_org("agency-fr")
        .await
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: ids[1].clone(),
            reason: "again".into(),
            ..Default::default()
        })
        .await
        .expect("withdraw again")
        .into_inner();
    assert_eq!(again.withdrawals_queued, 1);
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 2")
            .await,
        3
    );
    w.hub.kill();
    w.hub.restart().await;
    for s in &mut sidecars {
        s.restart().await;
    }

    for s in &sidecars {
        eventually(
            LONG,
            &format!("{} receives its withdrawal", s.platform),
            || async { s.withdrawals().await == 1 },
        )
        .await;
    }
    eventually(LONG, "the hub records every RESTORED", || async {
        w.db.scalar(
            "SELECT COUNT(*) FROM targets WHERE restoration = 1 AND restoration_at IS NOT NULL",
        )
        .await
            == 3
    })
    .await;
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE withdrawn_at IS NOT NULL")
            .await,
        3,
        "the fourth target is untouched"
    );
    let states = w.list_items(COORDINATOR, "fr").await;
    assert!(
        states[..3]
            .iter()
            .all(|i| i.state() == TargetState::Withdrawn),
        "{states:?}"
    );
    assert_eq!(states[3].state(), TargetState::Blocked);
}

async fn audit_export_of_an_action_day_verifies_and_transparency_matches(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let policy = AutoPolicy::default();
    let _sidecars = [
        w.sidecar("telegram", &policy).await,
        w.sidecar("x", &policy).await,
    ];
    w.action_day("day-a", 1_500).await;
    let list = w.key("agency-fr").list(
        "fr-a",
        Some("day-a"),
        vec![
            removal_order("telegram", "t.me/a1", "RO-1"),
            removal_order("telegram", "t.me/a2", "RO-2"),
            removal_order("x", "@a3", "RO-3"),
            referral("x", "@tos_only"),
        ],
    );
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .unwrap();
    eventually(LONG, "every target blocked", || async {
        w.list_items(COORDINATOR, "fr-a")
            .await
            .iter()
            .all(|i| i.state() == TargetState::Blocked)
    })
    .await;
    // Reports can be recorded before the hub processes the Deliver answer, which is what
    // records the deliveries (and their audit entry): wait for those too.
    eventually(LONG, "every delivery recorded", || async {
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 1 AND state = 2")
            .await
            == 4
    })
    .await;
    let coordinator = w.as_org(COORDINATOR).await;
    coordinator
        .action_day
        .clone()
        .close_action_day(pb::CloseActionDayRequest { id: "day-a".into() })
        .await
        .expect("close");

    // Agencies may not read the log.
    let m = w.pki.material("agency-fr");
    let hub = takedown_protocol::ident::Identity::new(
        takedown_protocol::ident::IdentityRole::Hub,
        takedown_protocol::ident::OrgId::parse("hub").unwrap(),
    );
    let ch = takedown_net::connect(&w.hub.endpoint, &m, Some(hub.clone()))
        .await
        .unwrap();
    let refused = AuditServiceClient::new(ch)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await;
    assert_eq!(code(&refused), Code::PermissionDenied);

    let ch = takedown_net::connect(&w.hub.endpoint, &w.pki.material(COORDINATOR), Some(hub))
        .await
        .unwrap();
    let mut audit = AuditServiceClient::new(ch.clone());
    let mut lines = String::new();
    let mut kinds = Vec::new();
    let mut after = 0;
    loop {
        let page = audit
            .list_audit_entries(pb::ListAuditEntriesRequest {
                after_seq: after,
                limit: 2,
            })
            .await
            .unwrap()
            .into_inner();
        let Some(last) = page.entries.last() else {
            break;
        };
        after = last.seq;
        for e in &page.entries {
            kinds.push(e.kind.clone());
            let r = takedown_ctl::commands::audit::record(e);
            lines.push_str(&serde_json::to_string(&r).unwrap());
            lines.push('\n');
        }
    }
    for k in [
        "key_set_published",
        "action_day_created",
        "list_accepted",
        "action_day_released",
        "delivered",
        "reports",
        "action_day_closed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} entry in {kinds:?}");
    }
    let summary = verify_jsonl(&lines).expect("the exported chain verifies");
    assert_eq!(summary.entries as usize, kinds.len());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, &lines).unwrap();
    takedown_ctl::commands::audit::verify_file(&file).expect("verify_file");
    // Dropping one entry is caught at the entry after it.
    let cut: String = lines
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert_eq!(verify_jsonl(&cut).unwrap_err().line(), 3);

    // The hub signed the chain's head when the day closed: a file cut short of it fails,
    // naming the missing entries, even with its last lines (and any head line) cut off.
    let head = audit
        .get_audit_head(pb::GetAuditHeadRequest { upto_seq: 0 })
        .await
        .expect("a signed head after the day's close")
        .into_inner();
    let closed_at = kinds.iter().position(|k| k == "action_day_closed").unwrap() + 1;
    assert!(
        head.seq as usize >= closed_at,
        "the head covers the day's close (entry {closed_at}), not just {}",
        head.seq
    );
    let signed = head.seq;
    let head = takedown_protocol::audit::HeadLine {
        signed_head: head.signed_head,
        audit_key: head.audit_key,
    };
    let whole = takedown_protocol::audit::verify_export(&lines, Some(&head), None)
        .expect("the whole export verifies against the signed head");
    assert_eq!(whole.signed.map(|h| h.seq), Some(signed));
    let first_five: String = lines.lines().take(5).map(|l| format!("{l}\n")).collect();
    assert!(
        verify_jsonl(&first_five).is_ok(),
        "alone, a cut file still verifies"
    );
    let err = takedown_protocol::audit::verify_export(&first_five, Some(&head), None).unwrap_err();
    assert_eq!(
        err,
        takedown_protocol::audit::ChainError::CutShort { entries: 5, signed }
    );
    assert!(err.to_string().contains("entries 6 to"), "{err}");

    let export = pb::transparency_service_client::TransparencyServiceClient::new(ch)
        .export_transparency(pb::TransparencyRequest {
            action_day_id: "day-a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let tco = export.tco.expect("figures");
    // Three removal orders (and one ToS referral), all blocked at once.
    assert_eq!(tco.removal_orders_issued, 3);
    assert_eq!(tco.acted_within_one_hour, 3);
    assert_eq!((tco.refused, tco.no_decision), (0, 0));
    let mut rows: Vec<(String, String)> = export
        .statements
        .iter()
        .map(|s| (s.platform.clone(), s.decision.clone()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("telegram".to_string(), "BLOCKED".to_string()),
            ("telegram".to_string(), "BLOCKED".to_string()),
            ("x".to_string(), "BLOCKED".to_string()),
            ("x".to_string(), "BLOCKED".to_string()),
        ]
    );
    let mut refs: Vec<&str> = export
        .statements
        .iter()
        .map(|s| s.removal_order_ref.as_str())
        .collect();
    refs.sort();
    assert_eq!(refs, ["", "RO-1", "RO-2", "RO-3"]);
    assert!(
        export
            .statements
            .iter()
            .all(|s| s.delivered_at.is_some() && s.acted_at.is_some())
    );
}
