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
    the_summary_and_the_tco_export_run_one_clock,
    a_cross_border_order_upheld_on_scrutiny_stands_and_counts,
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
            ..Default::default()
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
    // It reaches the platform with what the order states (TCO Annex I).
    let order = conflict["referrals"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["legal_basis"] == "REMOVAL_ORDER"))
        .map(|r| r["removal_order"].clone())
        .unwrap_or_default();
    assert_eq!(
        order["issuing_authority"], "Bundeskriminalamt",
        "{conflict}"
    );
    assert_eq!(order["member_state"], "DE");
    assert_eq!(order["points"], serde_json::json!(["INCITES"]));
    assert_eq!(order["issued_at"], "2026-11-01T00:00:00Z");
    assert_eq!(order["cross_border"], false);
    let withdrawn = body("ro_withdrawn");
    assert_eq!(withdrawn["legal_basis"], "TOS_REFERRAL", "{withdrawn}");

    // The coordinator's figures count it.
    let (tg_summary, export) = figures(&w, "day-ro").await;
    assert_eq!(
        (tg_summary.removal_orders, tg_summary.removal_orders_acted),
        (1, 1),
        "{tg_summary:?}"
    );
    let tco = export.tco.clone().expect("figures");
    assert_eq!(tco.removal_orders_issued, 1);
    // Counted under its issuing authority (Art 8(1)).
    assert_eq!(
        tco.by_authority
            .iter()
            .map(|a| (
                a.member_state.as_str(),
                a.issuing_authority.as_str(),
                a.orders
            ))
            .collect::<Vec<_>>(),
        [("DE", "Bundeskriminalamt", 1)]
    );
    assert_eq!(tco.cross_border_orders, 0);
    let mut refs: Vec<&str> = export
        .statements
        .iter()
        .map(|s| s.removal_order_ref.as_str())
        .collect();
    refs.sort();
    assert_eq!(refs, ["", "RO-2026-DE-77"]);
}

/// What a coordinator sees of `day`: telegram's summary row and the transparency export.
async fn figures(w: &World, day: &str) -> (pb::PlatformSummary, pb::TransparencyResponse) {
    let coordinator = w.as_org(COORDINATOR).await;
    let summary = coordinator
        .summary
        .clone()
        .get_action_day_summary(pb::GetActionDaySummaryRequest {
            action_day_id: day.into(),
        })
        .await
        .expect("summary")
        .into_inner();
    let telegram = summary
        .platforms
        .into_iter()
        .find(|p| p.platform == "telegram")
        .expect("telegram's figures");
    let export = coordinator
        .transparency
        .clone()
        .export_transparency(pb::TransparencyRequest {
            action_day_id: day.into(),
        })
        .await
        .expect("transparency export")
        .into_inner();
    (telegram, export)
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
    let ids = w.submit("agency-de", &list).await;
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

    // The refused report is in the coordinator's quarantine: which one, on which target, why.
    let q = w
        .as_org(COORDINATOR)
        .await
        .summary
        .list_refused_reports(pb::ListRefusedReportsRequest::default())
        .await
        .expect("refused reports")
        .into_inner();
    assert_eq!(q.reports.len(), 1, "{q:?}");
    let r = &q.reports[0];
    assert_eq!(
        (
            r.platform.as_str(),
            r.report_id.as_str(),
            r.target_id.as_str(),
            r.times
        ),
        ("telegram", "r-1", ids[1].as_str(), 1)
    );
    assert!(r.reason.contains("not NOT_A_VIOLATION"), "{}", r.reason);
}

fn decision(
    report_id: &str,
    target_id: &str,
    outcome: pb::Outcome,
    reason: pb::RejectReason,
    acted_at: i64,
) -> pb::PlatformReport {
    pb::PlatformReport {
        report_id: report_id.into(),
        target_id: target_id.into(),
        report: Some(pb::platform_report::Report::Decision(pb::Decision {
            outcome: outcome as i32,
            reason: reason as i32,
            acted_at: Some(takedown_protocol::timestamp::from_millis(acted_at)),
            ..Default::default()
        })),
    }
}

/// A day on which the export's old "acted_at - delivered_at <= 1 h, NOT_FOUND aside"
/// and the summary's clock disagreed: one order answered NOT_FOUND at once, one answered
/// MANIFEST_ERROR after 10 minutes and executed at 70 minutes once clarified (60 minutes
/// paused). Both are within the hour, in the summary and in the export.
async fn the_summary_and_the_tco_export_run_one_clock(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let slow = AutoPolicy {
        min_delay_ms: 600_000,
        max_delay_ms: 600_000,
        ..AutoPolicy::default()
    };
    let _tg = w.sidecar("telegram", &slow).await;
    w.action_day("day-clock", 1_000).await;
    let list = w.key("agency-de").list(
        "de-clock",
        Some("day-clock"),
        vec![
            cross_border(removal_order("telegram", "@gone", "RO-2026-DE-91"), "FR"),
            removal_order("telegram", "@clarified", "RO-2026-DE-92"),
            referral("telegram", "@tos_late"),
        ],
    );
    let ids = w.submit("agency-de", &list).await;
    eventually(LONG, "all three delivered", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
            .await
            == 3
    })
    .await;
    // Ids on the wire are opaque: the rows are found by their targets.
    let delivered = |normalized: &str| {
        let sql = format!("SELECT delivered_at FROM targets WHERE normalized = '{normalized}'");
        let db = &w.db;
        async move { db.scalar(&sql).await }
    };
    let (gone_at, clarified_at) = (delivered("gone").await, delivered("clarified").await);
    let tos_at = delivered("tos_late").await;
    let minute = 60_000;
    let none = pb::RejectReason::Unspecified;
    w.as_org("telegram")
        .await
        .platform
        .report_outcomes(pb::ReportOutcomesRequest {
            reports: vec![
                decision(
                    "c-0",
                    &ids[0],
                    pb::Outcome::NotFound,
                    none,
                    gone_at + 5 * minute,
                ),
                decision(
                    "c-1",
                    &ids[1],
                    pb::Outcome::Rejected,
                    pb::RejectReason::ManifestError,
                    clarified_at + 10 * minute,
                ),
                decision(
                    "c-2",
                    &ids[1],
                    pb::Outcome::Blocked,
                    none,
                    clarified_at + 70 * minute,
                ),
                // A ToS referral has no pause: rejected at 10 minutes (INSUFFICIENT_
                // INFORMATION), blocked at 70, it was acted on late.
                decision(
                    "c-3",
                    &ids[2],
                    pb::Outcome::Rejected,
                    pb::RejectReason::InsufficientInformation,
                    tos_at + 10 * minute,
                ),
                decision(
                    "c-4",
                    &ids[2],
                    pb::Outcome::Blocked,
                    none,
                    tos_at + 70 * minute,
                ),
            ],
        })
        .await
        .expect("the platform's decisions");

    let (tg, export) = figures(&w, "day-clock").await;
    let tco = export.tco.expect("figures");
    assert_eq!(
        (
            tg.removal_orders,
            tg.removal_orders_acted,
            tg.removal_orders_within_hour
        ),
        (2, 2, 2),
        "{tg:?}"
    );
    // The clarified order was acted on after its clock stood still for 60 minutes (from
    // the MANIFEST_ERROR answer to the block); none stands cannot-execute, none is late.
    assert_eq!(
        (
            tg.removal_orders_late,
            tg.removal_orders_cannot_execute,
            tg.removal_orders_resumed,
            tg.removal_orders_paused_ms,
            tg.removal_orders_within_hour_share
        ),
        (0, 0, 1, 60 * minute as u64, 1.0),
        "{tg:?}"
    );
    assert_eq!(
        (
            tg.tos_referrals,
            tg.tos_referrals_acted,
            tg.tos_referrals_within_hour,
            tg.tos_referrals_within_hour_share
        ),
        (1, 1, 0, 0.0),
        "{tg:?}"
    );
    assert_eq!(
        (
            tco.removal_orders_issued,
            tco.acted_within_one_hour,
            tco.acted_later
        ),
        (2, 2, 0),
        "{tco:?}"
    );
    assert_eq!(tco.not_found, 1);
    assert_eq!((tco.ceased_on_scrutiny, tco.annulled_on_review), (0, 0));

    // A scrutiny decision ends the first order (Art 4(4)); the ground is counted. An
    // unknown ground is refused, naming the field, and changes nothing.
    let mut coordinator = w.as_org(COORDINATOR).await;
    let unknown = coordinator
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: ids[1].clone(),
            reason: "x".into(),
            ground: 99,
            ..Default::default()
        })
        .await
        .expect_err("an unknown ground");
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown.message().contains("ground"),
        "{}",
        unknown.message()
    );
    // Only a cross-border order can be upheld on scrutiny; only a coordinator records it.
    let domestic = coordinator
        .referral
        .uphold_on_scrutiny(pb::UpholdOnScrutinyRequest {
            target_id: ids[1].clone(),
            reason: "no infringement".into(),
        })
        .await
        .expect_err("a domestic order has no scrutiny");
    assert_eq!(domestic.code(), Code::InvalidArgument, "{domestic:?}");
    let by_agency = w
        .as_org("agency-de")
        .await
        .referral
        .uphold_on_scrutiny(pb::UpholdOnScrutinyRequest {
            target_id: ids[0].clone(),
            reason: String::new(),
        })
        .await
        .expect_err("agencies do not record scrutinies");
    assert_eq!(by_agency.code(), Code::PermissionDenied);
    // Scrutiny (Art 4) ends only a cross-border order: "@clarified" was not one.
    let not_cross_border = coordinator
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: ids[1].clone(),
            reason: "scrutiny".into(),
            ground: pb::WithdrawalGround::Scrutiny as i32,
            ..Default::default()
        })
        .await
        .expect_err("scrutiny of an order that was not cross-border");
    assert_eq!(not_cross_border.code(), Code::InvalidArgument);
    assert!(
        not_cross_border.message().contains("cross-border"),
        "{}",
        not_cross_border.message()
    );
    coordinator
        .referral
        .withdraw_target(pb::WithdrawTargetRequest {
            target_id: ids[0].clone(),
            reason: "the host member state's authority found an infringement".into(),
            ground: pb::WithdrawalGround::Scrutiny as i32,
            ..Default::default()
        })
        .await
        .expect("withdraw on scrutiny");
    let (_, export) = figures(&w, "day-clock").await;
    let tco = export.tco.expect("figures");
    assert_eq!(
        (
            tco.ceased_on_scrutiny,
            tco.annulled_on_review,
            tco.withdrawn
        ),
        (1, 0, 1)
    );
    assert_eq!((tco.scrutinised, tco.upheld_on_scrutiny), (1, 0));
}

/// The host member state's authority finds no infringement (TCO Art 4(4)): a coordinator
/// records it, the order stands (nothing is withdrawn at the platform), the TCO figures count
/// it scrutinised and upheld, a second call records nothing new, and the audit log names the
/// coordinator.
async fn a_cross_border_order_upheld_on_scrutiny_stands_and_counts(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let _tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-upheld", 1_000).await;
    let list = w.key("agency-de").list(
        "de-upheld",
        Some("day-upheld"),
        vec![
            cross_border(removal_order("telegram", "@upheld", "RO-2026-DE-93"), "AT"),
            removal_order("telegram", "@domestic", "RO-2026-DE-94"),
        ],
    );
    let ids = w.submit("agency-de", &list).await;
    eventually(LONG, "both delivered", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
            .await
            == 2
    })
    .await;
    let (_, before) = figures(&w, "day-upheld").await;
    let before = before.tco.expect("figures");
    assert_eq!((before.scrutinised, before.upheld_on_scrutiny), (0, 0));

    let mut coordinator = w.as_org(COORDINATOR).await;
    let upheld = coordinator
        .referral
        .uphold_on_scrutiny(pb::UpholdOnScrutinyRequest {
            target_id: ids[0].clone(),
            reason: "the Austrian authority found no infringement".into(),
        })
        .await
        .expect("uphold on scrutiny")
        .into_inner();
    assert_eq!(
        (upheld.target_id.as_str(), upheld.orders_upheld),
        (ids[0].as_str(), 1)
    );
    let again = coordinator
        .referral
        .uphold_on_scrutiny(pb::UpholdOnScrutinyRequest {
            target_id: ids[0].clone(),
            reason: "repeated".into(),
        })
        .await
        .expect("a repeated uphold is answered")
        .into_inner();
    assert_eq!(again.orders_upheld, 0, "recorded once");

    let (tg, export) = figures(&w, "day-upheld").await;
    let tco = export.tco.expect("figures");
    assert_eq!(
        (
            tco.removal_orders_issued,
            tco.scrutinised,
            tco.upheld_on_scrutiny,
            tco.ceased_on_scrutiny,
            tco.withdrawn
        ),
        (2, 1, 1, 0, 0),
        "{tco:?}"
    );
    assert_eq!(
        tg.removal_orders, 2,
        "the upheld order still counts: {tg:?}"
    );
    // Nothing was withdrawn: the platform received no withdrawal and the order stands.
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE withdrawn_at IS NOT NULL")
            .await,
        0
    );
    let status = w.list_items("agency-de", "de-upheld").await;
    assert!(
        status
            .iter()
            .all(|i| i.state != TargetState::Withdrawn as i32),
        "{status:?}"
    );
    // Audited once, with the coordinator as actor.
    let sql = format!(
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'scrutiny_upheld' AND actor = '{COORDINATOR}'"
    );
    assert_eq!(w.db.scalar(&sql).await, 1);
}

/// `r` sent to `host`'s competent authority as a cross-border order (TCO Art 4).
fn cross_border(mut r: pb::Referral, host: &str) -> pb::Referral {
    let order = r.removal_order.as_mut().expect("a removal order");
    order.cross_border = true;
    order.host_member_state = host.into();
    r
}
