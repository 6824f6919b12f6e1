//! Need to know: every RPC against every role — the owning agency, another agency, a
//! platform, a coordinator, an unregistered organisation and the hub's own certificate.

use takedown_protocol::{
    ident::IdentityRole,
    pb,
    timestamp::{from_millis, now_millis},
};
use takedown_tests::{
    Backend,
    clients::Clients,
    hub::HubOptions,
    lists::{referral, request},
    pki::COORDINATOR,
    world::World,
};
use tonic::Code::*;

use crate::code;

both_backends!(every_rpc_against_every_role);

struct Roles {
    fr: Clients,
    de: Clients,
    telegram: Clients,
    coord: Clients,
}

async fn every_rpc_against_every_role(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let mut r = Roles {
        fr: w.as_org("agency-fr").await,
        de: w.as_org("agency-de").await,
        telegram: w.as_org("telegram").await,
        coord: w.as_org(COORDINATOR).await,
    };
    let fr_key = w.key("agency-fr").clone();

    // --- ReferralService ---
    let list = fr_key.list("acl-1", None, vec![referral("telegram", "@acl_target")]);
    assert_eq!(
        code(&r.de.referral.submit_referral_list(request(&list)).await),
        PermissionDenied
    );
    assert_eq!(
        code(
            &r.telegram
                .referral
                .submit_referral_list(request(&list))
                .await
        ),
        PermissionDenied
    );
    assert_eq!(
        code(&r.coord.referral.submit_referral_list(request(&list)).await),
        PermissionDenied
    );
    let submitted =
        r.fr.referral
            .submit_referral_list(request(&list))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(submitted.items, 1);
    let status = |id: &str| pb::GetListStatusRequest { list_id: id.into() };
    assert_eq!(
        code(&r.fr.referral.get_list_status(status("acl-1")).await),
        Ok
    );
    assert_eq!(
        code(&r.de.referral.get_list_status(status("acl-1")).await),
        NotFound
    );
    assert_eq!(
        code(&r.telegram.referral.get_list_status(status("acl-1")).await),
        PermissionDenied
    );
    assert_eq!(
        code(&r.coord.referral.get_list_status(status("acl-1")).await),
        Ok
    );
    // Another agency's list and a list that does not exist are indistinguishable.
    let missing =
        r.de.referral
            .get_list_status(status("no-such-list"))
            .await
            .unwrap_err();
    let hidden =
        r.de.referral
            .get_list_status(status("acl-1"))
            .await
            .unwrap_err();
    assert_eq!(
        missing.message().replace("no-such-list", "X"),
        hidden.message().replace("acl-1", "X")
    );
    // Withdrawals: the owning agency and coordinators; another agency's target or list
    // is answered as unknown; platforms not at all.
    let target = submitted.target_ids[0].clone();
    let withdraw = |agency_ids: Vec<String>| pb::WithdrawTargetRequest {
        target_id: target.clone(),
        reason: "access matrix".into(),
        agency_ids,
        ..Default::default()
    };
    assert_eq!(
        code(&r.de.referral.withdraw_target(withdraw(vec![])).await),
        NotFound
    );
    assert_eq!(
        code(&r.telegram.referral.withdraw_target(withdraw(vec![])).await),
        PermissionDenied
    );
    assert_eq!(
        code(
            &r.fr
                .referral
                .withdraw_target(withdraw(vec!["agency-de".into()]))
                .await
        ),
        InvalidArgument
    );
    let withdraw_list = || pb::WithdrawListRequest {
        list_id: "acl-1".into(),
        reason: "access matrix".into(),
        ..Default::default()
    };
    assert_eq!(
        code(&r.de.referral.withdraw_list(withdraw_list()).await),
        NotFound
    );
    assert_eq!(
        code(&r.telegram.referral.withdraw_list(withdraw_list()).await),
        PermissionDenied
    );
    // Scrutiny and preservation: coordinators only.
    let uphold = || pb::UpholdOnScrutinyRequest {
        target_id: target.clone(),
        reason: String::new(),
    };
    for (who, expect) in [
        (&mut r.fr, PermissionDenied),
        (&mut r.telegram, PermissionDenied),
        // A ToS referral has no cross-border order to uphold.
        (&mut r.coord, InvalidArgument),
    ] {
        assert_eq!(
            code(&who.referral.uphold_on_scrutiny(uphold()).await),
            expect
        );
    }
    let preserve = || pb::PreserveTargetRequest {
        target_id: target.clone(),
        until: Some(from_millis(now_millis() + 86_400_000)),
        authority: "BKA".into(),
        reference: String::new(),
    };
    for (who, expect) in [
        (&mut r.fr, PermissionDenied),
        (&mut r.de, PermissionDenied),
        (&mut r.telegram, PermissionDenied),
        (&mut r.coord, Ok),
    ] {
        assert_eq!(
            code(&who.referral.preserve_target(preserve()).await),
            expect
        );
    }

    // --- DirectoryService ---
    let org = |id: &str| pb::RegisterOrganizationRequest {
        id: id.into(),
        role: pb::Role::Agency as i32,
        display_name: String::new(),
    };
    for c in [&mut r.fr, &mut r.de, &mut r.telegram] {
        assert_eq!(
            code(&c.directory.register_organization(org("agency-nl")).await),
            PermissionDenied
        );
        assert_eq!(
            code(
                &c.directory
                    .list_organizations(pb::ListOrganizationsRequest {})
                    .await
            ),
            PermissionDenied
        );
        // Even a statement a real root signed is a coordinator's to publish.
        let jws = w.sign_key_set(&w.key_set.lock().unwrap().clone());
        assert_eq!(
            code(
                &c.directory
                    .publish_key_set(pb::PublishKeySetRequest { jws })
                    .await
            ),
            PermissionDenied
        );
        let platform = pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Push as i32,
            name: "vk".into(),
            endpoint: "https://127.0.0.1:1".into(),
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: None,
        };
        assert_eq!(
            code(&c.directory.register_platform(platform).await),
            PermissionDenied
        );
        // Public keys and platforms are readable by every registered organisation.
        let keys = c
            .directory
            .get_agency_keys(pb::GetAgencyKeysRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(keys.keys.iter().any(|k| k.kid == fr_key.kid));
        assert_eq!(
            code(
                &c.directory
                    .list_platforms(pb::ListPlatformsRequest {})
                    .await
            ),
            Ok
        );
    }
    assert_eq!(
        code(
            &r.coord
                .directory
                .register_organization(org("agency-nl"))
                .await
        ),
        Ok
    );
    assert_eq!(
        code(
            &r.coord
                .directory
                .list_organizations(pb::ListOrganizationsRequest {})
                .await
        ),
        Ok
    );
    // Bad directory input is refused with the field named.
    let bad = r.coord.directory.publish_key_set(pb::PublishKeySetRequest {
        jws: "not a statement".into(),
    });
    assert_eq!(code(&bad.await), InvalidArgument);

    // --- ActionDayService: a day with agency-fr and telegram only ---
    let now = now_millis();
    let day = pb::CreateActionDayRequest {
        id: "acl-day".into(),
        name: "ACL day".into(),
        starts_at: Some(from_millis(now + 3_600_000)),
        ends_at: Some(from_millis(now + 7_200_000)),
        platforms: vec!["telegram".into()],
        agencies: vec!["agency-fr".into()],
    };
    for c in [&mut r.fr, &mut r.de, &mut r.telegram] {
        assert_eq!(
            code(&c.action_day.create_action_day(day.clone()).await),
            PermissionDenied
        );
        assert_eq!(
            code(
                &c.action_day
                    .close_action_day(pb::CloseActionDayRequest {
                        id: "acl-day".into()
                    })
                    .await
            ),
            PermissionDenied
        );
    }
    assert_eq!(
        code(&r.coord.action_day.create_action_day(day.clone()).await),
        Ok
    );
    let get = || pb::GetActionDayRequest {
        id: "acl-day".into(),
    };
    assert_eq!(code(&r.fr.action_day.get_action_day(get()).await), Ok);
    assert_eq!(code(&r.telegram.action_day.get_action_day(get()).await), Ok);
    assert_eq!(code(&r.de.action_day.get_action_day(get()).await), NotFound);
    let listed = |c: &mut Clients| {
        let mut c = c.clone();
        async move {
            c.action_day
                .list_action_days(pb::ListActionDaysRequest {})
                .await
                .unwrap()
                .into_inner()
                .action_days
                .len()
        }
    };
    assert_eq!(listed(&mut r.fr).await, 1);
    assert_eq!(listed(&mut r.de).await, 0);
    assert_eq!(listed(&mut r.coord).await, 1);
    // agency-de does not take part: its list for this day is refused.
    let de_list = w.key("agency-de").list(
        "acl-de-day",
        Some("acl-day"),
        vec![referral("telegram", "@z")],
    );
    assert_eq!(
        code(&r.de.referral.submit_referral_list(request(&de_list)).await),
        PermissionDenied
    );
    // x does not take part: an item for it is refused.
    let fr_x = fr_key.list("acl-fr-x", Some("acl-day"), vec![referral("x", "@z")]);
    assert_eq!(
        code(&r.fr.referral.submit_referral_list(request(&fr_x)).await),
        InvalidArgument
    );

    // --- HoldService ---
    let place = pb::PlaceHoldRequest {
        platform: "telegram".into(),
        target: "@acl_target".into(),
        reason: "live investigation".into(),
        expires_at: Some(from_millis(now + 3_600_000)),
    };
    assert_eq!(
        code(&r.telegram.hold.place_hold(place.clone()).await),
        PermissionDenied
    );
    let hold =
        r.de.hold
            .place_hold(place.clone())
            .await
            .unwrap()
            .into_inner();
    assert_eq!(hold.placed_by, "agency-de", "the holder sees its own hold");
    // The referring agency sees the target held but never who holds it.
    let item =
        r.fr.referral
            .get_list_status(status("acl-1"))
            .await
            .unwrap()
            .into_inner()
            .items
            .remove(0);
    assert_eq!(item.state(), pb::TargetState::Held);
    let fr_holds =
        r.fr.hold
            .list_holds(pb::ListHoldsRequest {})
            .await
            .unwrap()
            .into_inner()
            .holds;
    assert!(
        fr_holds.is_empty(),
        "agency-fr must not see agency-de's hold"
    );
    assert_eq!(
        code(
            &r.fr
                .hold
                .release_hold(pb::ReleaseHoldRequest {
                    hold_id: hold.id.clone()
                })
                .await
        ),
        NotFound
    );
    assert_eq!(
        code(&r.telegram.hold.list_holds(pb::ListHoldsRequest {}).await),
        PermissionDenied
    );
    let coord_holds = r
        .coord
        .hold
        .list_holds(pb::ListHoldsRequest {})
        .await
        .unwrap()
        .into_inner()
        .holds;
    assert_eq!(
        coord_holds[0].placed_by, "agency-de",
        "the coordinator sees the holder"
    );
    assert_eq!(
        code(
            &r.de
                .hold
                .release_hold(pb::ReleaseHoldRequest {
                    hold_id: hold.id.clone()
                })
                .await
        ),
        Ok
    );
    let coord_hold = r.coord.hold.place_hold(place).await.unwrap().into_inner();
    assert_eq!(
        code(
            &r.coord
                .hold
                .release_hold(pb::ReleaseHoldRequest {
                    hold_id: coord_hold.id
                })
                .await
        ),
        Ok
    );

    // --- PlatformService: only platforms, only on targets delivered to them ---
    // A target of acl-day (H-hour in an hour): embargoed, so certainly not delivered (a
    // standing-scope target may be in flight to telegram at any moment, which counts).
    let embargoed = fr_key.list(
        "acl-embargoed",
        Some("acl-day"),
        vec![referral("telegram", "@embargoed")],
    );
    let embargoed_id =
        r.fr.referral
            .submit_referral_list(request(&embargoed))
            .await
            .expect("submit for acl-day")
            .into_inner()
            .target_ids
            .remove(0);
    let report = pb::ReportOutcomesRequest {
        reports: vec![pb::PlatformReport {
            report_id: "r-1".into(),
            target_id: embargoed_id,
            report: Some(pb::platform_report::Report::Acknowledgement(
                pb::Acknowledgement { received_at: None },
            )),
        }],
    };
    for c in [&mut r.fr, &mut r.de, &mut r.coord] {
        assert_eq!(
            code(&c.platform.report_outcomes(report.clone()).await),
            PermissionDenied
        );
    }
    // Not delivered (embargoed): refused, nothing recorded.
    assert_eq!(
        code(&r.telegram.platform.report_outcomes(report.clone()).await),
        PermissionDenied
    );
    assert_eq!(w.db.count("reports").await, 0);
    // Only a platform pulls, and only its own share (the caller's identity names it).
    let pull = pb::PullDeliveriesRequest {
        ack: None,
        max_targets: 10,
        wait_ms: 0,
    };
    for c in [&mut r.fr, &mut r.de, &mut r.coord] {
        assert_eq!(
            code(&c.platform.pull_deliveries(pull.clone()).await),
            PermissionDenied
        );
    }
    // telegram is a push platform: told so, nothing claimed.
    assert_eq!(
        code(&r.telegram.platform.pull_deliveries(pull.clone()).await),
        FailedPrecondition
    );

    // --- SummaryService ---
    let summary = || pb::GetActionDaySummaryRequest {
        action_day_id: "acl-day".into(),
    };
    assert_eq!(
        code(&r.coord.summary.get_action_day_summary(summary()).await),
        Ok
    );
    // Agencies and platforms see the days they take part in (restricted to their share).
    assert_eq!(
        code(&r.fr.summary.get_action_day_summary(summary()).await),
        Ok
    );
    assert_eq!(
        code(&r.telegram.summary.get_action_day_summary(summary()).await),
        Ok
    );
    assert_eq!(
        code(&r.de.summary.get_action_day_summary(summary()).await),
        NotFound
    );

    assert_eq!(
        code(
            &r.coord
                .action_day
                .close_action_day(pb::CloseActionDayRequest {
                    id: "acl-day".into()
                })
                .await
        ),
        Ok
    );
    // Closed: lists for the day are refused.
    let late = fr_key.list(
        "acl-late",
        Some("acl-day"),
        vec![referral("telegram", "@late")],
    );
    assert_eq!(
        code(&r.fr.referral.submit_referral_list(request(&late)).await),
        FailedPrecondition
    );

    // --- Identities that are not allowed at all ---
    // A certificate from the right CA for an organisation not in the directory.
    w.pki.issue(IdentityRole::Agency, "agency-unknown");
    let mut stranger = w.as_org("agency-unknown").await;
    let e = stranger
        .directory
        .list_platforms(pb::ListPlatformsRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), PermissionDenied);
    assert!(e.message().contains("not registered"), "{}", e.message());
    // The hub's own certificate may not call the hub.
    let mut hub_self = w.as_org("hub").await;
    assert_eq!(
        code(
            &hub_self
                .directory
                .list_platforms(pb::ListPlatformsRequest {})
                .await
        ),
        PermissionDenied
    );
    // An agency certificate used for a registered platform's name is refused (role mismatch).
    w.pki.issue(IdentityRole::Agency, "x");
    let mut impostor = w.as_org("x").await;
    assert_eq!(
        code(
            &impostor
                .directory
                .list_platforms(pb::ListPlatformsRequest {})
                .await
        ),
        PermissionDenied
    );
}
