//! Storing lists: targets created or merged, referrals, deliveries, idempotency, atomicity.

use takedown_store::*;

use crate::support::*;

conformance!(
    an_orders_withdrawal_ground_is_kept,
    a_scrutiny_upholds_only_standing_cross_border_orders,
    new_and_merged_within_a_list,
    merged_across_lists_agencies_and_scopes,
    resubmission_is_idempotent_or_conflicts,
    failed_insert_leaves_nothing,
    stored_list_and_proof_material,
    payloads_carry_every_referral,
    list_items_report_each_state,
    concurrent_inserts_of_one_list_store_it_once,
    concurrent_overlapping_lists_share_targets,
    legal_basis_is_the_strongest_standing_referral,
);

async fn new_and_merged_within_a_list<S: Store + Probe>(s: S) {
    let items = vec![
        item("video", "v/1"),
        item("video", "v/2"),
        item("video", "v/1"),
        item("social", "v/1"),
    ];
    let sum = accepted(
        s.insert_list(&list("l1", "agency-a", None, T0, 4, 1), &items)
            .await
            .unwrap(),
    );
    assert_eq!(sum.new_targets, 3);
    assert_eq!(sum.merged, 1);
    assert_eq!(sum.target_ids.len(), 4);
    assert_eq!(sum.target_ids[0], sum.target_ids[2]);
    assert_ne!(sum.target_ids[0], sum.target_ids[1]);
    assert_ne!(sum.target_ids[0], sum.target_ids[3]);
    assert_eq!(intake_rows(&s).await, [1, 3, 4, 3]);

    // Only new targets get a delivery, one each.
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 1, 100)
        .await
        .unwrap();
    let mut targets: Vec<TargetId> = claimed.iter().map(|c| c.target_id).collect();
    targets.sort_unstable();
    let mut expected = vec![sum.target_ids[0], sum.target_ids[1]];
    expected.sort_unstable();
    assert_eq!(targets, expected);
    assert!(claimed.iter().all(|c| c.kind == DeliveryKind::Takedown));

    let rec = s.get_list(&checked("l1")).await.unwrap().unwrap();
    assert_eq!((rec.new_targets, rec.merged, rec.item_count), (3, 1, 4));
}

async fn merged_across_lists_agencies_and_scopes<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("op", T0 + 1000), &checked("europol"))
        .await
        .unwrap();
    let a = accepted(
        s.insert_list(
            &list("la", "agency-a", Some("op"), T0 + 1000, 2, 1),
            &[item("video", "x"), item("video", "y")],
        )
        .await
        .unwrap(),
    );
    assert_eq!((a.new_targets, a.merged), (2, 0));

    // Another agency, same day: y merges, z is new.
    let b = accepted(
        s.insert_list(
            &list("lb", "agency-b", Some("op"), T0 + 1000, 2, 2),
            &[item("video", "y"), item("video", "z")],
        )
        .await
        .unwrap(),
    );
    assert_eq!((b.new_targets, b.merged), (1, 1));
    assert_eq!(b.target_ids[0], a.target_ids[1]);

    // The standing scope is separate: x there is a new target.
    let c = accepted(
        s.insert_list(
            &list("lc", "agency-a", None, T0, 1, 3),
            &[item("video", "x")],
        )
        .await
        .unwrap(),
    );
    assert_eq!((c.new_targets, c.merged), (1, 0));
    assert_ne!(c.target_ids[0], a.target_ids[0]);
    assert_eq!(intake_rows(&s).await, [3, 4, 5, 4]);

    // Both referrals of y reach the platform with its payload.
    let p = s.delivery_payloads(&[a.target_ids[1]]).await.unwrap();
    let lists: Vec<&str> = p[0].referrals.iter().map(|r| r.list_id.as_str()).collect();
    assert_eq!(lists, ["la", "lb"]);
    assert_eq!(p[0].referrals[1].agency_id, "agency-b");
    assert_eq!(p[0].action_day_id.as_deref(), Some("op"));
}

async fn resubmission_is_idempotent_or_conflicts<S: Store + Probe>(s: S) {
    let items = vec![item("video", "a"), item("video", "b"), item("video", "a")];
    let l = list("l1", "agency-a", None, T0, 3, 7);
    let first = accepted(s.insert_list(&l, &items).await.unwrap());
    let before = intake_rows(&s).await;

    assert_eq!(
        s.insert_list(&l, &items).await.unwrap(),
        IntakeResult::Duplicate(first.clone())
    );
    // Different content under the same id.
    let other_content = list("l1", "agency-a", None, T0, 3, 8);
    assert!(matches!(
        s.insert_list(&other_content, &items).await,
        Err(StoreError::Conflict(_))
    ));
    // Same content, another agency.
    let other_agency = list("l1", "agency-b", None, T0, 3, 7);
    match s.insert_list(&other_agency, &items).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("l1"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(intake_rows(&s).await, before);
}

async fn failed_insert_leaves_nothing<S: Store + Probe>(s: S) {
    submit(&s, "earlier", T0, &[("video", "kept")]).await;
    let before = intake_rows(&s).await;

    // 20 000 items, the last one invalid (empty normalized target): the failure comes
    // after earlier chunks of targets were written.
    let mut items: Vec<NewReferral> = (0..20_000)
        .map(|i| item("video", &format!("t/{i}")))
        .collect();
    items.push(item("video", ""));
    let l = list("broken", "agency-a", None, T0, items.len(), 1);
    let err = s.insert_list(&l, &items).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(intake_rows(&s).await, before);
    assert_eq!(s.get_list(&checked("broken")).await.unwrap(), None);

    // The id was not taken: the valid list goes in.
    items.pop();
    let l = list("broken", "agency-a", None, T0, items.len(), 1);
    let sum = accepted(s.insert_list(&l, &items).await.unwrap());
    assert_eq!(sum.new_targets, 20_000);
}

async fn stored_list_and_proof_material<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("op", T0 + 1000), &checked("europol"))
        .await
        .unwrap();
    let l = list("l1", "agency-a", Some("op"), T0 + 1000, 2, 9);
    s.insert_list(&l, &[item("video", "a"), item("video", "a")])
        .await
        .unwrap();
    submit(&s, "l2", T0, &[("video", "b")]).await;

    let rec = s.get_list(&checked("l1")).await.unwrap().unwrap();
    assert_eq!(
        rec,
        ListRecord {
            list_id: checked("l1"),
            agency_id: checked("agency-a"),
            action_day_id: Some(checked("op")),
            content_sha256: vec![9; 32],
            item_count: 2,
            created_at: T0 - 5000,
            accepted_at: T0,
            new_targets: 1,
            merged: 1,
        }
    );
    assert_eq!(s.get_list(&checked("none")).await.unwrap(), None);

    let m = s
        .list_proof_material(&[checked("l2"), checked("l1"), checked("none")])
        .await
        .unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].list_id, "l1");
    assert_eq!(m[0].jws, "jws-of-l1");
    assert_eq!(m[0].leaf_hashes, vec![9u8; 64]);
    assert_eq!(m[0].item_count, 2);
    assert_eq!(m[1].list_id, "l2");
    assert!(s.list_proof_material(&[]).await.unwrap().is_empty());
}

async fn payloads_carry_every_referral<S: Store + Probe>(s: S) {
    let one = submit(
        &s,
        "l1",
        T0,
        &[("video", "a"), ("video", "b"), ("video", "a")],
    )
    .await;
    let mut second = item("video", "a");
    second.original = "other original".into();
    let two = accepted(
        s.insert_list(&list("l0", "agency-b", None, T0, 1, 2), &[second])
            .await
            .unwrap(),
    );
    assert_eq!(two.target_ids[0], one.target_ids[0]);

    let ids = [
        one.target_ids[1],
        one.target_ids[0],
        one.target_ids[0],
        TargetId::new(999_999),
    ];
    let p = s.delivery_payloads(&ids).await.unwrap();
    assert_eq!(p.len(), 2);
    assert!(p[0].target_id < p[1].target_id);
    let a = p.iter().find(|t| t.target_id == one.target_ids[0]).unwrap();
    // The target keeps the facts of its first referral.
    assert_eq!(a.original, "https://a");
    assert_eq!(a.removal_order_ref, "ref-a");
    assert_eq!(
        (a.kind, a.legal_basis),
        (TargetKind::Account, LegalBasis::RemovalOrder)
    );
    assert_eq!(a.category, "csam");
    assert_eq!(a.action_day_id, None);
    let refs: Vec<(&str, u32)> = a
        .referrals
        .iter()
        .map(|r| (r.list_id.as_str(), r.item_index))
        .collect();
    assert_eq!(refs, [("l0", 0), ("l1", 0), ("l1", 2)]);
    assert_eq!(a.referrals[1].item, b"item:video:a".to_vec());
    assert!(s.delivery_payloads(&[]).await.unwrap().is_empty());
}

async fn list_items_report_each_state<S: Store + Probe>(s: S) {
    let sum = submit(
        &s,
        "l1",
        T0,
        &[
            ("video", "held"),
            ("video", "done"),
            ("video", "failed"),
            ("video", "waiting"),
            ("video", "done"),
        ],
    )
    .await;
    s.insert_hold(&hold("h1", "video", "held", T0 + 10_000, "agency-b"))
        .await
        .unwrap();
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 100, 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let of = |t: TargetId| claimed.iter().find(|c| c.target_id == t).unwrap().id;
    s.mark_delivered(&[of(sum.target_ids[1])], T0 + 5)
        .await
        .unwrap();
    s.mark_failed(&[of(sum.target_ids[2])], T0 + 6, "gone for good")
        .await
        .unwrap();
    let done = sum.target_ids[1];
    s.record_reports(
        &checked("video"),
        &[
            report("r1", done, ReportKind::Acknowledgement, 0, T0 + 7),
            NewReport {
                text: "not illegal here".into(),
                ..rejection("r2", done, 3, T0 + 8)
            },
        ],
        T0 + 9,
    )
    .await
    .unwrap()
    .unwrap();

    let items = s.list_items(&checked("l1"), T0 + 10).await.unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        items.iter().map(|i| i.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    let held = &items[0];
    assert!(held.held);
    assert_eq!(held.delivery_state, Some(DeliveryState::Pending));
    assert_eq!(held.due_at, T0);
    assert_eq!(held.normalized, "held");
    let d = &items[1];
    assert!(!d.held);
    assert_eq!(d.delivery_state, Some(DeliveryState::Delivered));
    assert_eq!(d.delivered_at, Some(T0 + 5));
    assert_eq!(d.acked_at, Some(T0 + 7));
    assert_eq!(d.outcome, Some(Outcome::Rejected));
    assert_eq!(d.reject_reason, Some(RejectReason::ManifestError));
    assert_eq!(d.outcome_text.as_deref(), Some("not illegal here"));
    assert_eq!(
        items[4],
        ItemRecord {
            index: 4,
            ..d.clone()
        }
    );
    let f = &items[2];
    assert_eq!(f.delivery_state, Some(DeliveryState::Failed));
    assert_eq!(f.fail_reason.as_deref(), Some("gone for good"));
    assert_eq!(f.delivered_at, None);
    let w = &items[3];
    assert_eq!(w.delivery_state, Some(DeliveryState::Inflight));
    assert_eq!((w.outcome, w.acked_at, w.withdrawn_at), (None, None, None));

    // The hold expires: no longer held.
    assert!(!s.list_items(&checked("l1"), T0 + 10_000).await.unwrap()[0].held);
    assert!(s.list_items(&checked("none"), T0).await.unwrap().is_empty());
}

async fn concurrent_inserts_of_one_list_store_it_once<S: Store + Probe>(s: S) {
    let items: Vec<NewReferral> = (0..3000)
        .map(|i| item("video", &format!("t/{i}")))
        .collect();
    let l = list("same", "agency-a", None, T0, items.len(), 1);
    let (a, b) = tokio::join!(
        tokio::spawn({
            let (s, l, items) = (s.clone(), l.clone(), items.clone());
            async move { s.insert_list(&l, &items).await.unwrap() }
        }),
        tokio::spawn({
            let (s, l, items) = (s.clone(), l.clone(), items.clone());
            async move { s.insert_list(&l, &items).await.unwrap() }
        }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (won, lost) = match (&a, &b) {
        (IntakeResult::Accepted(x), IntakeResult::Duplicate(y)) => (x, y),
        (IntakeResult::Duplicate(y), IntakeResult::Accepted(x)) => (x, y),
        other => panic!("expected one Accepted and one Duplicate, got {other:?}"),
    };
    assert_eq!(won, lost);
    assert_eq!(intake_rows(&s).await, [1, 3000, 3000, 3000]);
}

async fn concurrent_overlapping_lists_share_targets<S: Store + Probe>(s: S) {
    // a: t/0..2000, b: t/1000..3000 (reversed), from two agencies at once.
    let a: Vec<NewReferral> = (0..2000)
        .map(|i| item("video", &format!("t/{i}")))
        .collect();
    let b: Vec<NewReferral> = (1000..3000)
        .rev()
        .map(|i| item("video", &format!("t/{i}")))
        .collect();
    let la = list("a", "agency-a", None, T0, a.len(), 1);
    let lb = list("b", "agency-b", None, T0, b.len(), 2);
    let (ra, rb) = tokio::join!(
        tokio::spawn({
            let s = s.clone();
            async move { s.insert_list(&la, &a).await.unwrap() }
        }),
        tokio::spawn({
            let s = s.clone();
            async move { s.insert_list(&lb, &b).await.unwrap() }
        }),
    );
    let (ra, rb) = (accepted(ra.unwrap()), accepted(rb.unwrap()));
    assert_eq!(ra.new_targets + rb.new_targets, 3000);
    assert_eq!(ra.merged + rb.merged, 1000);
    // t/1000 is item 1000 of a and item 1999 of b: one target.
    assert_eq!(ra.target_ids[1000], rb.target_ids[1999]);
    assert_eq!(intake_rows(&s).await, [2, 3000, 4000, 3000]);
}

async fn legal_basis_is_the_strongest_standing_referral<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0 + 60_000), &checked("europol"))
        .await
        .unwrap();
    let tos = |platform: &str, name: &str| NewReferral {
        legal_basis: LegalBasis::TosReferral,
        removal_order_ref: String::new(),
        removal_order: None,
        ..item(platform, name)
    };
    let order = |platform: &str, name: &str, reference: &str| NewReferral {
        removal_order_ref: reference.into(),
        removal_order: Some(order_facts(
            &format!("authority of {reference}"),
            (reference == "RO-C").then_some("FR"),
        )),
        ..item(platform, name)
    };
    // agency-a refers three targets under the terms of service.
    let a = accepted(
        s.insert_list(
            &list("la", "agency-a", Some("d1"), T0, 3, 1),
            &[
                tos("video", "merged"),
                tos("social", "sent"),
                tos("video", "kept"),
            ],
        )
        .await
        .unwrap(),
    );
    let (merged, sent, kept) = (a.target_ids[0], a.target_ids[1], a.target_ids[2]);
    // "sent" goes out (its TAKEDOWN is claimed) before any order arrives.
    let claimed = s
        .claim_deliveries(&checked("social"), T0 + 60_000, T0 + 90_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].target_id, sent);
    // agency-b orders "merged" removed (twice in one list) and "sent".
    let b = accepted(
        s.insert_list(
            &list("lb", "agency-b", Some("d1"), T0, 3, 2),
            &[
                order("video", "merged", "RO-B-1"),
                order("social", "sent", "RO-B-2"),
                order("video", "merged", "RO-B-3"),
            ],
        )
        .await
        .unwrap(),
    );
    assert_eq!(b.target_ids, vec![merged, sent, merged]);
    let mut want = vec![
        (merged, LegalBasis::RemovalOrder, "RO-B-1".to_string()),
        // What the platform holds stays as it was sent.
        (sent, LegalBasis::TosReferral, String::new()),
        (kept, LegalBasis::TosReferral, String::new()),
    ];
    want.sort_by_key(|t| t.0);
    assert_eq!(bases(&s).await, want);
    // The transparency rows carry the facts of the order whose reference they carry.
    assert_eq!(
        order_of(&s, merged).await,
        Some(order_facts("authority of RO-B-1", None))
    );
    assert_eq!(order_of(&s, sent).await, None);
    // A new target named twice in one list takes its removal order, not its first item.
    let c = accepted(
        s.insert_list(
            &list("lc", "agency-a", Some("d1"), T0, 2, 3),
            &[tos("video", "fresh"), order("video", "fresh", "RO-C")],
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        basis_of(&s, c.target_ids[0]).await,
        (LegalBasis::RemovalOrder, "RO-C".to_string())
    );
    assert_eq!(
        order_of(&s, c.target_ids[0]).await,
        Some(order_facts("authority of RO-C", Some("FR")))
    );
    // agency-b withdraws its orders: "merged" goes back to the ToS referral that stands.
    s.withdraw(
        &WithdrawalScope::target(merged),
        &Withdrawer::Agency(checked("agency-b")),
        &WithdrawalReason::text("order revoked"),
        T0 + 1,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        basis_of(&s, merged).await,
        (LegalBasis::TosReferral, String::new())
    );
    assert_eq!(order_of(&s, merged).await, None);
}

/// The removal order a day-d1 target's transparency row names.
async fn order_of<S: Store>(s: &S, target: TargetId) -> Option<RemovalOrderFacts> {
    s.transparency_rows(&checked("d1"))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.target_id == target)
        .expect("target of d1")
        .order
}

/// (target, legal basis, removal-order reference) of day d1's targets, by id.
async fn bases<S: Store>(s: &S) -> Vec<(TargetId, LegalBasis, String)> {
    let mut r: Vec<(TargetId, LegalBasis, String)> = s
        .transparency_rows(&checked("d1"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.target_id, t.legal_basis, t.removal_order_ref))
        .collect();
    r.sort_by_key(|t| t.0);
    r
}

async fn basis_of<S: Store>(s: &S, target: TargetId) -> (LegalBasis, String) {
    let (_, basis, reference) = bases(s)
        .await
        .into_iter()
        .find(|t| t.0 == target)
        .expect("target of d1");
    (basis, reference)
}

/// Day d1 and list "lo" of agency-b: a removal order sent cross-border to FR, and a
/// domestic one; their target ids.
async fn cross_border_and_domestic<S: Store>(s: &S) -> (TargetId, TargetId) {
    s.insert_action_day(&day("d1", T0 + 60_000), &checked("europol"))
        .await
        .unwrap();
    let mut cross = item("video", "cross");
    cross.removal_order = Some(order_facts("Bundeskriminalamt", Some("FR")));
    let sum = accepted(
        s.insert_list(
            &list("lo", "agency-b", Some("d1"), T0, 2, 1),
            &[cross, item("video", "domestic")],
        )
        .await
        .unwrap(),
    );
    (sum.target_ids[0], sum.target_ids[1])
}

/// The ground a removal order was withdrawn on reaches the transparency rows (the TCO
/// figures count orders that ceased on scrutiny, Art 4(4)); one that stands has none.
async fn an_orders_withdrawal_ground_is_kept<S: Store + Probe>(s: S) {
    let (cross, kept) = cross_border_and_domestic(&s).await;
    s.withdraw(
        &WithdrawalScope::target(cross),
        &Withdrawer::Coordinator(checked("europol")),
        &WithdrawalReason {
            ground: WithdrawalGround::Scrutiny,
            text: "the host member state found the order to infringe",
        },
        T0 + 1,
    )
    .await
    .unwrap()
    .unwrap();
    let rows = s.transparency_rows(&checked("d1")).await.unwrap();
    let row = |id: TargetId| rows.iter().find(|r| r.target_id == id).unwrap();
    assert_eq!(
        row(cross).order_withdrawn_on,
        Some(WithdrawalGround::Scrutiny)
    );
    assert_eq!(
        row(cross)
            .order
            .as_ref()
            .and_then(|o| o.host_member_state.as_deref()),
        Some("FR")
    );
    assert!(row(cross).withdrawn_at.is_some());
    assert_eq!(row(kept).order_withdrawn_on, None);
    assert!(row(kept).order.is_some());

    // Scrutiny ends only cross-border orders: "kept" was not sent to a host member state,
    // so neither it nor its list can be withdrawn on that ground, and nothing changes.
    let scrutiny = WithdrawalReason {
        ground: WithdrawalGround::Scrutiny,
        text: "scrutiny",
    };
    for scope in [
        WithdrawalScope::target(kept),
        WithdrawalScope::List {
            list_id: checked("lo"),
        },
    ] {
        match s
            .withdraw(
                &scope,
                &Withdrawer::Coordinator(checked("europol")),
                &scrutiny,
                T0 + 2,
            )
            .await
        {
            Err(StoreError::Invalid { field, message }) => {
                assert_eq!(field, "ground");
                assert!(message.contains("1 of the referrals"), "{message}");
            }
            other => panic!("{scope:?}: {other:?}"),
        }
    }
    let rows = s.transparency_rows(&checked("d1")).await.unwrap();
    let kept_row = rows.iter().find(|r| r.target_id == kept).unwrap();
    assert!(kept_row.withdrawn_at.is_none());
    assert_eq!(kept_row.order_withdrawn_on, None);
    // The same withdrawal on its own ground goes through.
    s.withdraw(
        &WithdrawalScope::target(kept),
        &Withdrawer::Coordinator(checked("europol")),
        &WithdrawalReason {
            ground: WithdrawalGround::Review,
            text: "annulled on review",
        },
        T0 + 3,
    )
    .await
    .unwrap()
    .unwrap();
}

/// A scrutiny that finds no infringement upholds the target's standing cross-border orders
/// once, is audited with the coordinator as actor, and reaches the transparency rows; a
/// domestic order has nothing to scrutinise, and an unknown target is not found.
async fn a_scrutiny_upholds_only_standing_cross_border_orders<S: Store + Probe>(s: S) {
    let (cross, domestic) = cross_border_and_domestic(&s).await;
    assert_eq!(
        s.uphold_on_scrutiny(cross, &checked("europol"), "no infringement", T0 + 5)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.uphold_on_scrutiny(cross, &checked("europol"), "again", T0 + 6)
            .await
            .unwrap(),
        Some(0),
        "recorded once"
    );
    match s
        .uphold_on_scrutiny(domestic, &checked("europol"), "x", T0 + 7)
        .await
    {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "target_id"),
        other => panic!("a domestic order: {other:?}"),
    }
    assert_eq!(
        s.uphold_on_scrutiny(TargetId::new(999_999), &checked("europol"), "x", T0 + 8)
            .await
            .unwrap(),
        None
    );
    let rows = s.transparency_rows(&checked("d1")).await.unwrap();
    let row = |id: TargetId| rows.iter().find(|r| r.target_id == id).unwrap();
    assert_eq!(row(cross).order_upheld_on_scrutiny_at, Some(T0 + 5));
    assert_eq!(row(cross).withdrawn_at, None, "the order stands");
    assert_eq!(row(domestic).order_upheld_on_scrutiny_at, None);
    let upheld: Vec<(String, String)> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "scrutiny_upheld")
        .map(|e| (e.actor, e.subject))
        .collect();
    assert_eq!(upheld, [("europol".to_string(), cross.to_string())]);
}
