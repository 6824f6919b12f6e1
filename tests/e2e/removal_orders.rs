//! Removal orders keep their force through merges and withdrawals: a target's legal basis
//! is the strongest of its standing referrals, whichever agency referred it first.

use takedown_protocol::pb::{self, TargetState};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referral, removal_order, request},
    pki::COORDINATOR,
    sidecar::AutoPolicy,
    world::World,
};
use tonic::Code;

both_backends!(
    a_removal_order_merged_into_a_tos_referral_keeps_its_force,
    a_removal_order_is_not_rejected_as_not_a_violation,
);

async fn a_removal_order_merged_into_a_tos_referral_keeps_its_force(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-ro", 3_000).await;
    // agency-fr refers the channel for review under the terms of service first; agency-de
    // then orders its removal. A second target shows a removal order withdrawn before
    // H-hour: it goes out as the ToS referral that still stands.
    let fr = w.key("agency-fr").list(
        "fr-ro",
        Some("day-ro"),
        vec![
            referral("telegram", "@ro_conflict"),
            referral("telegram", "@ro_withdrawn"),
        ],
    );
    let de = w.key("agency-de").list(
        "de-ro",
        Some("day-ro"),
        vec![
            removal_order("telegram", "https://t.me/ro_conflict", "RO-2026-DE-77"),
            removal_order("telegram", "https://t.me/ro_withdrawn", "RO-2026-DE-78"),
        ],
    );
    for (org, list) in [("agency-fr", &fr), ("agency-de", &de)] {
        w.as_org(org)
            .await
            .referral
            .submit_referral_list(request(list))
            .await
            .expect("submit");
    }
    let de_ids = w.list_items("agency-de", "de-ro").await;
    w.as_org("agency-de")
        .await
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: de_ids[1].target_id.clone(),
            reason: "order revoked by the issuing authority".into(),
            agency_ids: vec![],
        })
        .await
        .expect("withdraw the second order");

    eventually(LONG, "both targets blocked", || async {
        w.list_items(COORDINATOR, "fr-ro")
            .await
            .iter()
            .all(|i| i.state() == TargetState::Blocked)
    })
    .await;
    eventually(LONG, "both deliveries recorded", || async {
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 1 AND state = 2")
            .await
            == 2
    })
    .await;

    // The platform received the first as a removal order, with agency-de's reference.
    let bodies = tg.takedown_bodies().await;
    let body = |name: &str| {
        bodies
            .iter()
            .find(|b| b["normalized_target"] == name)
            .unwrap_or_else(|| panic!("{name} not handed over: {bodies:?}"))
            .clone()
    };
    let conflict = body("ro_conflict");
    assert_eq!(conflict["legal_basis"], "REMOVAL_ORDER", "{conflict}");
    assert_eq!(conflict["removal_order_ref"], "RO-2026-DE-77");
    let withdrawn = body("ro_withdrawn");
    assert_eq!(withdrawn["legal_basis"], "TOS_REFERRAL", "{withdrawn}");

    // The coordinator's figures count it.
    let coordinator = w.as_org(COORDINATOR).await;
    let summary = coordinator
        .summary
        .clone()
        .get_action_day_summary(pb::GetActionDaySummaryRequest {
            action_day_id: "day-ro".into(),
        })
        .await
        .expect("summary")
        .into_inner();
    let tg_summary = summary
        .platforms
        .iter()
        .find(|p| p.platform == "telegram")
        .expect("telegram's figures");
    assert_eq!(
        (tg_summary.removal_orders, tg_summary.removal_orders_acted),
        (1, 1),
        "{tg_summary:?}"
    );
    let export = coordinator
        .transparency
        .clone()
        .export_transparency(pb::TransparencyRequest {
            action_day_id: "day-ro".into(),
        })
        .await
        .expect("transparency export")
        .into_inner();
    assert_eq!(export.tco.expect("figures").removal_orders_issued, 1);
    let mut refs: Vec<&str> = export
        .statements
        .iter()
        .map(|s| s.removal_order_ref.as_str())
        .collect();
    refs.sort();
    assert_eq!(refs, ["", "RO-2026-DE-77"]);
}

fn rejection(report_id: &str, target_id: &str, reason: pb::RejectReason) -> pb::PlatformReport {
    pb::PlatformReport {
        report_id: report_id.into(),
        target_id: target_id.into(),
        report: Some(pb::platform_report::Report::Decision(pb::Decision {
            outcome: pb::Outcome::Rejected as i32,
            reason: reason as i32,
            text: "reviewed".into(),
            ..Default::default()
        })),
    }
}

async fn a_removal_order_is_not_rejected_as_not_a_violation(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // The platform takes its time: the test answers for it.
    let slow = AutoPolicy {
        min_delay_ms: 600_000,
        max_delay_ms: 600_000,
        ..AutoPolicy::default()
    };
    let _tg = w.sidecar("telegram", &slow).await;
    let list = w.key("agency-de").list(
        "de-nav",
        None,
        vec![
            referral("telegram", "@tos_target"),
            removal_order("telegram", "@ordered", "RO-2026-DE-90"),
        ],
    );
    let ids = w
        .as_org("agency-de")
        .await
        .referral
        .submit_referral_list(request(&list))
        .await
        .expect("submit")
        .into_inner()
        .target_ids;
    eventually(LONG, "both acknowledged", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE acked_at IS NOT NULL")
            .await
            == 2
    })
    .await;
    let mut platform = w.as_org("telegram").await.platform;
    let before = w.db.count("reports").await;
    let refused = platform
        .report_outcomes(pb::ReportOutcomesRequest {
            reports: vec![
                rejection("r-0", &ids[0], pb::RejectReason::NotAViolation),
                rejection("r-1", &ids[1], pb::RejectReason::NotAViolation),
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("report 1"),
        "{}",
        refused.message()
    );
    assert_eq!(
        w.db.count("reports").await,
        before,
        "the whole batch is refused"
    );
    // The Annex III grounds are the answers to an order that cannot be executed.
    platform
        .report_outcomes(pb::ReportOutcomesRequest {
            reports: vec![
                rejection("r-0", &ids[0], pb::RejectReason::NotAViolation),
                rejection("r-1", &ids[1], pb::RejectReason::ManifestError),
            ],
        })
        .await
        .expect("a ToS referral may be refused as no violation; an order on Annex III");
    let states: Vec<TargetState> = w
        .list_items("agency-de", "de-nav")
        .await
        .iter()
        .map(|i| i.state())
        .collect();
    assert_eq!(states, [TargetState::Rejected, TargetState::Rejected]);
}
