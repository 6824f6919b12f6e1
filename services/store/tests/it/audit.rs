//! The audit chain, withdrawals and restorations, transparency rows and retention.

use takedown_protocol::audit::{AuditRecord, verify_jsonl};
use takedown_store::*;

use crate::support::*;

conformance!(
    every_state_change_is_chained_and_verifies,
    one_audit_key_and_signed_heads_by_length,
    one_secret_per_name_whoever_offers_first,
    withdrawal_is_authorized_idempotent_and_queues_one_delivery,
    a_withdrawal_takes_back_referrals_not_other_agencies_work,
    restoration_is_recorded_on_the_target,
    retention_purges_bytes_and_notes_and_keeps_counts_and_chain,
    retention_pseudonymises_identifiers_and_purges_expired_holds,
    preservation_keeps_a_target_past_retention_until_its_date,
);

async fn export<S: Store>(s: &S) -> (Vec<AuditEntry>, String) {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &AuditEntry| e.seq);
        let page = s.audit_entries(after, 3).await.expect("audit page");
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let text: String = all
        .iter()
        .map(|e| {
            let r = AuditRecord {
                seq: e.seq as u64,
                at: e.at,
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                subject: e.subject.clone(),
                details: e.details.clone(),
                prev_hash: hex(&e.prev_hash),
                hash: hex(&e.hash),
            };
            serde_json::to_string(&r).expect("json") + "\n"
        })
        .collect();
    (all, text)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn every_state_change_is_chained_and_verifies<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let statement = |version: i64| KeySetRecord {
        version,
        jws: format!("statement {version}"),
        published_at: T0 + version,
        published_by: checked("europol"),
    };
    s.publish_key_set(&statement(1)).await.unwrap();
    s.publish_key_set(&statement(2)).await.unwrap();
    // A stale version changes nothing and records nothing.
    s.publish_key_set(&statement(2)).await.unwrap_err();
    s.insert_hold(&hold("h1", "video", "x", T0 + 10_000, "agency-b"))
        .await
        .unwrap();
    s.release_hold(&checked("h1"), T0 + 3, &checked("europol"))
        .await
        .unwrap();
    s.release_hold(&checked("h1"), T0 + 4, &checked("europol"))
        .await
        .unwrap();
    let items = vec![item("video", "a"), item("social", "b"), item("video", "a")];
    let sum = accepted(
        s.insert_list(&list("l1", "agency-a", Some("d1"), T0, 3, 1), &items)
            .await
            .unwrap(),
    );
    // A duplicate submission records nothing.
    s.insert_list(&list("l1", "agency-a", Some("d1"), T0, 3, 1), &items)
        .await
        .unwrap();
    assert!(s.mark_released(&checked("d1"), T0 + 5).await.unwrap());
    assert!(!s.mark_released(&checked("d1"), T0 + 6).await.unwrap());
    deliver_all(&s, "video", T0 + 7).await;
    let claimed = s
        .claim_deliveries(&checked("social"), T0 + 7, T0 + 99, 10)
        .await
        .unwrap();
    s.mark_failed(&[claimed[0].id], T0 + 8, "receiver refused")
        .await
        .unwrap();
    s.record_reports(
        &checked("video"),
        &[
            report(
                "r1",
                sum.target_ids[0],
                ReportKind::Acknowledgement,
                0,
                T0 + 9,
            ),
            report("r2", sum.target_ids[0], ReportKind::Decision, 1, T0 + 9),
        ],
        T0 + 10,
    )
    .await
    .unwrap()
    .unwrap();
    s.withdraw(
        &WithdrawalScope::target(sum.target_ids[0]),
        &Withdrawer::Coordinator(checked("coord")),
        &WithdrawalReason::text("appeal"),
        T0 + 11,
    )
    .await
    .unwrap()
    .expect("withdrawn");
    s.close_action_day(&checked("d1"), T0 + 12, &checked("europol"))
        .await
        .unwrap();
    s.close_action_day(&checked("d1"), T0 + 13, &checked("europol"))
        .await
        .unwrap();

    let (entries, text) = export(&s).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "action_day_created",
            "key_set_published",
            "key_set_published",
            "hold_placed",
            "hold_released",
            "list_accepted",
            "action_day_released",
            "delivered",
            "delivery_failed",
            "reports",
            "referrals_withdrawn",
            "target_withdrawn",
            "action_day_closed",
        ]
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=13).collect::<Vec<_>>());
    assert_eq!(s.audit_head().await.unwrap(), 13);
    let list_entry = &entries[5];
    assert_eq!(list_entry.actor, "agency-a");
    assert_eq!(list_entry.subject, "l1");
    let details: serde_json::Value = serde_json::from_str(&list_entry.details).unwrap();
    assert_eq!(details["target_ids"], serde_json::json!(sum.target_ids));
    assert_eq!(details["merkle_root"].as_str().map(str::len), Some(64));
    let delivered: serde_json::Value = serde_json::from_str(&entries[7].details).unwrap();
    assert_eq!(entries[7].subject, "video");
    assert_eq!(
        delivered["takedowns"],
        serde_json::json!([sum.target_ids[0]])
    );

    let summary = verify_jsonl(&text).expect("chain verifies");
    assert_eq!(summary.entries, 13);
    assert_eq!(summary.head, hex(&entries[12].hash));
    // Every change names the caller who made it; the H-hour release is the hub's own.
    let actors: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str()))
        .collect();
    for (kind, actor) in [
        ("action_day_created", "europol"),
        ("key_set_published", "europol"),
        ("hold_released", "europol"),
        ("action_day_released", "hub"),
        ("action_day_closed", "europol"),
    ] {
        assert!(
            actors.contains(&(kind, actor)),
            "{kind} by {actor}: {actors:?}"
        );
    }
    // Tampering with a stored entry is caught at that entry (the list's, line 6).
    let tampered = text.replacen("\"actor\":\"agency-a\"", "\"actor\":\"agency-z\"", 1);
    assert_eq!(verify_jsonl(&tampered).unwrap_err().line(), 6);
}

async fn one_audit_key_and_signed_heads_by_length<S: Store + Probe>(s: S) {
    let key = |kid: &str| HubAuditKey {
        kid: kid.into(),
        private_pem: format!("private {kid}"),
        public_pem: format!("public {kid}"),
        created_at: T0,
    };
    // The first key stored stays the hub's key: a second hub starting offers its own.
    assert_eq!(s.hub_audit_key(&key("a")).await.unwrap().kid, "a");
    assert_eq!(s.hub_audit_key(&key("b")).await.unwrap().kid, "a");
    assert_eq!(s.count("hub_audit_keys").await, 1);
    assert_eq!(s.audit_head_upto(i64::MAX).await.unwrap(), None);
    for seq in [3, 7] {
        let h = SignedHeadRecord {
            seq,
            jws: format!("head {seq}"),
            signed_at: T0 + seq,
        };
        s.put_audit_head(&h).await.unwrap();
        s.put_audit_head(&h).await.unwrap();
    }
    let upto = |n| {
        let s = &s;
        async move { s.audit_head_upto(n).await.unwrap().map(|h| h.seq) }
    };
    assert_eq!(
        (
            upto(2).await,
            upto(3).await,
            upto(6).await,
            upto(i64::MAX).await
        ),
        (None, Some(3), Some(3), Some(7))
    );
}

async fn one_secret_per_name_whoever_offers_first<S: Store + Probe>(s: S) {
    // Two replicas starting at once each offer a secret: both get the first one stored.
    let first = s.hub_secret("public-ids", &[1; 32], T0).await.unwrap();
    let second = s.hub_secret("public-ids", &[2; 32], T0 + 1).await.unwrap();
    assert_eq!((first, second), (vec![1; 32], vec![1; 32]));
    // Another name is another secret.
    assert_eq!(
        s.hub_secret("other", &[3; 8], T0).await.unwrap(),
        vec![3; 8]
    );
    assert_eq!(s.count("hub_secrets").await, 2);
}

/// One target's withdrawal, as `by`.
async fn withdraw_one<S: Store>(
    s: &S,
    target: TargetId,
    by: &Withdrawer,
    reason: &str,
    at: i64,
) -> Option<TargetWithdrawal> {
    s.withdraw(
        &WithdrawalScope::target(target),
        by,
        &WithdrawalReason::text(reason),
        at,
    )
    .await
    .expect("withdraw")
    .map(|w| {
        assert_eq!(w.targets.len(), 1);
        w.targets[0].clone()
    })
}

async fn withdrawal_is_authorized_idempotent_and_queues_one_delivery<S: Store + Probe>(s: S) {
    let sum = submit(&s, "l", T0, &[("video", "a"), ("video", "b")]).await;
    let (sent, unsent) = (sum.target_ids[0], sum.target_ids[1]);
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 100, 1)
        .await
        .unwrap();
    assert_eq!(claimed[0].target_id, sent);
    s.mark_delivered(&[claimed[0].id], T0 + 1).await.unwrap();

    let agency_b = Withdrawer::Agency(checked("agency-b"));
    let agency_a = Withdrawer::Agency(checked("agency-a"));
    assert_eq!(withdraw_one(&s, sent, &agency_b, "x", T0 + 2).await, None);
    assert_eq!(
        withdraw_one(&s, TargetId::new(999_999), &agency_a, "x", T0 + 2).await,
        None
    );
    let w = withdraw_one(&s, sent, &agency_a, "court decision", T0 + 3)
        .await
        .expect("referring agency may withdraw");
    assert_eq!(
        (w.withdrawals_queued, w.changed, w.withdrawn_at),
        (1, true, Some(T0 + 3))
    );
    let again = withdraw_one(
        &s,
        sent,
        &Withdrawer::Coordinator(checked("c")),
        "y",
        T0 + 4,
    )
    .await
    .expect("answers");
    assert_eq!(
        (again.withdrawals_queued, again.changed, again.withdrawn_at),
        (1, false, Some(T0 + 3))
    );
    // Never sent: nothing to withdraw at the platform, and the takedown is not sent.
    let u = withdraw_one(&s, unsent, &agency_a, "mistake", T0 + 5)
        .await
        .expect("withdrawn");
    assert_eq!(u.withdrawals_queued, 0);
    assert_eq!(s.count("deliveries WHERE kind = 2").await, 1);
    let entries = s.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "target_withdrawn")
            .count(),
        2
    );

    let claimed = s
        .claim_deliveries(&checked("video"), T0 + 6, T0 + 100, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].target_id, claimed[0].kind),
        (sent, DeliveryKind::Withdrawal)
    );
    assert_eq!(
        s.withdrawal_reasons(&[sent, unsent, TargetId::new(424_242)])
            .await
            .unwrap(),
        vec![
            (sent, "court decision".to_string()),
            (unsent, "mistake".to_string())
        ]
    );
    let items = s.list_items(&checked("l"), T0 + 6).await.unwrap();
    assert_eq!(items[0].withdrawn_at, Some(T0 + 3));
}

async fn a_withdrawal_takes_back_referrals_not_other_agencies_work<S: Store + Probe>(s: S) {
    // agency-a and agency-b both refer "shared"; agency-a also "only_a".
    let a_items = vec![item("video", "shared"), item("video", "only_a")];
    let a = accepted(
        s.insert_list(&list("la", "agency-a", None, T0, 2, 1), &a_items)
            .await
            .unwrap(),
    );
    let b_items = vec![item("video", "shared")];
    let b = accepted(
        s.insert_list(&list("lb", "agency-b", None, T0, 1, 2), &b_items)
            .await
            .unwrap(),
    );
    let shared = a.target_ids[0];
    assert_eq!(b.target_ids[0], shared);
    deliver_all(&s, "video", T0 + 1).await;
    let agency_a = Withdrawer::Agency(checked("agency-a"));
    let agency_b = Withdrawer::Agency(checked("agency-b"));

    // agency-a takes back its referral: agency-b's keeps the target in force.
    let w = withdraw_one(&s, shared, &agency_a, "our mistake", T0 + 2)
        .await
        .expect("agency-a referred it");
    assert_eq!(
        (
            w.withdrawn_at,
            w.referrals_standing,
            w.withdrawals_queued,
            w.changed
        ),
        (None, 1, 0, false)
    );
    assert_eq!(s.count("deliveries WHERE kind = 2").await, 0);
    assert_eq!(
        s.list_items(&checked("la"), T0 + 3).await.unwrap()[0].withdrawn_at,
        Some(T0 + 2)
    );
    assert_eq!(
        s.list_items(&checked("lb"), T0 + 3).await.unwrap()[0].withdrawn_at,
        None
    );
    assert_eq!(
        s.withdrawal_reasons(&[shared]).await.unwrap(),
        vec![],
        "the target itself is not withdrawn"
    );
    // Repeated: nothing more taken back.
    let again = s
        .withdraw(
            &WithdrawalScope::target(shared),
            &agency_a,
            &WithdrawalReason::text("again"),
            T0 + 3,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.referrals_withdrawn, 0);

    // A coordinator names agency-b's referral: none stands, the platform is asked.
    let named = WithdrawalScope::Target {
        target_id: shared,
        agencies: vec![checked("agency-b")],
    };
    let w = s
        .withdraw(
            &named,
            &Withdrawer::Coordinator(checked("europol")),
            &WithdrawalReason::text("scrutiny"),
            T0 + 4,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.referrals_withdrawn, 1);
    assert_eq!(
        (
            w.targets[0].withdrawn_at,
            w.targets[0].withdrawals_queued,
            w.targets[0].changed
        ),
        (Some(T0 + 4), 1, true)
    );
    assert_eq!(
        s.list_items(&checked("lb"), T0 + 5).await.unwrap()[0].withdrawn_at,
        Some(T0 + 4)
    );
    // agency-b cannot take back what a coordinator already did; it still sees the target.
    let b_again = withdraw_one(&s, shared, &agency_b, "late", T0 + 5)
        .await
        .unwrap();
    assert_eq!((b_again.changed, b_again.withdrawals_queued), (false, 1));

    // A whole list: only its owner (or a coordinator) may; "only_a" goes, "shared" was gone.
    let whole = WithdrawalScope::List {
        list_id: checked("la"),
    };
    assert_eq!(
        s.withdraw(&whole, &agency_b, &WithdrawalReason::text("no"), T0 + 6)
            .await
            .unwrap(),
        None
    );
    let l = s
        .withdraw(
            &whole,
            &agency_a,
            &WithdrawalReason::text("list withdrawn"),
            T0 + 6,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.referrals_withdrawn, 1);
    let changed: Vec<(TargetId, bool, u32)> = l
        .targets
        .iter()
        .map(|t| (t.target_id, t.changed, t.withdrawals_queued))
        .collect();
    let mut want = vec![(shared, false, 1), (a.target_ids[1], true, 1)];
    want.sort();
    assert_eq!(changed, want);
    assert_eq!(s.count("deliveries WHERE kind = 2").await, 2);
    let kinds: Vec<String> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.contains("withdrawn"))
        .map(|e| format!("{} {} {}", e.kind, e.actor, e.subject))
        .collect();
    assert_eq!(
        kinds,
        [
            format!("referrals_withdrawn agency-a {shared}"),
            format!("referrals_withdrawn europol {shared}"),
            format!("target_withdrawn europol {shared}"),
            "referrals_withdrawn agency-a la".to_string(),
            format!("target_withdrawn agency-a {}", a.target_ids[1]),
        ]
    );
}

async fn restoration_is_recorded_on_the_target<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let items = vec![item("video", "a"), item("social", "b")];
    let sum = accepted(
        s.insert_list(&list("l", "agency-a", Some("d1"), T0, 2, 1), &items)
            .await
            .unwrap(),
    );
    deliver_all(&s, "video", T0 + 1).await;
    let a = sum.target_ids[0];
    s.record_reports(
        &checked("video"),
        &[report("d", a, ReportKind::Decision, 1, T0 + 2)],
        T0 + 2,
    )
    .await
    .unwrap()
    .unwrap();
    withdraw_one(
        &s,
        a,
        &Withdrawer::Coordinator(checked("c")),
        "appeal",
        T0 + 3,
    )
    .await
    .expect("withdrawn");
    deliver_all(&s, "video", T0 + 4).await;
    s.record_reports(
        &checked("video"),
        &[report("rs", a, ReportKind::Restoration, 1, T0 + 5)],
        T0 + 6,
    )
    .await
    .unwrap()
    .unwrap();
    let rows = s.transparency_rows(&checked("d1")).await.unwrap();
    assert_eq!(rows.len(), 2);
    let video = rows.iter().find(|r| r.target_id == a).expect("row");
    assert_eq!(video.platform, "video");
    assert_eq!(video.outcome, Some(Outcome::Blocked));
    assert_eq!(video.delivered_at, Some(T0 + 1));
    assert_eq!(video.acted_at, Some(T0 + 2));
    assert_eq!(video.withdrawn_at, Some(T0 + 3));
    assert_eq!(
        (video.restoration, video.restoration_at),
        (Some(RestorationResult::Restored), Some(T0 + 5))
    );
    let social = rows.iter().find(|r| r.target_id != a).expect("row");
    assert_eq!((social.delivered_at, social.outcome), (None, None));
    let entries = s.audit_entries(0, 100).await.unwrap();
    let last = entries.last().expect("entries");
    assert_eq!(last.kind, "reports");
    assert!(
        last.details.contains("\"restorations\":[["),
        "{}",
        last.details
    );
}

async fn retention_purges_bytes_and_notes_and_keeps_counts_and_chain<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let items = vec![item("video", "a"), item("social", "b")];
    let sum = accepted(
        s.insert_list(&list("l", "agency-a", Some("d1"), T0, 2, 1), &items)
            .await
            .unwrap(),
    );
    submit(&s, "standing", T0, &[("video", "z")]).await;
    deliver_all(&s, "video", T0 + 1).await;
    let mut r = rejection("d", sum.target_ids[0], 2, T0 + 2);
    r.text = "a private note".into();
    s.record_reports(&checked("video"), &[r], T0 + 2)
        .await
        .unwrap()
        .unwrap();
    s.close_action_day(&checked("d1"), T0 + 3, &checked("europol"))
        .await
        .unwrap();
    let counts_before = s.platform_counts(&checked("d1"), T0 + 4).await.unwrap();

    // Not yet expired.
    assert_eq!(
        s.purge_expired(T0, T0 + 4).await.unwrap(),
        PurgeCounts::default()
    );
    assert_eq!(s.count("referrals WHERE length(item) = 0").await, 0);
    let c = s.purge_expired(T0 + 4, T0 + 5).await.unwrap();
    assert_eq!(
        c,
        PurgeCounts {
            lists: 2,
            referrals: 3,
            targets: 3,
            holds: 0
        }
    );
    assert_eq!(s.count("referrals WHERE length(item) = 0").await, 3);
    assert_eq!(s.count("targets WHERE outcome_text IS NOT NULL").await, 0);
    assert_eq!(s.count("reports WHERE report_text <> ''").await, 0);
    assert_eq!(
        s.platform_counts(&checked("d1"), T0 + 4).await.unwrap(),
        counts_before
    );
    // Purged once.
    assert_eq!(
        s.purge_expired(T0 + 100, T0 + 6).await.unwrap(),
        PurgeCounts::default()
    );
    let (entries, text) = export(&s).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "retention_purge")
            .count(),
        1
    );
    verify_jsonl(&text).expect("chain verifies after purge");
}

async fn retention_pseudonymises_identifiers_and_purges_expired_holds<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let sum = accepted(
        s.insert_list(
            &list("l", "agency-a", Some("d1"), T0, 2, 1),
            &[item("video", "alice_channel"), item("social", "bob_group")],
        )
        .await
        .unwrap(),
    );
    // A standing list accepted later refers to "bob_group" too: a target of its own
    // scope, not yet expired, so it keeps its identifier.
    let mut l2 = list("l2", "agency-b", None, T0 + 50, 1, 2);
    l2.accepted_at = T0 + 50;
    accepted(
        s.insert_list(&l2, &[item("social", "bob_group")])
            .await
            .unwrap(),
    );
    deliver_all(&s, "video", T0 + 1).await;
    let mut released = hold("h-old", "video", "carol_chat", T0 + 1_000, "agency-h");
    released.reason = "operation NIGHTJAR".into();
    s.insert_hold(&released).await.unwrap();
    s.release_hold(&checked("h-old"), T0 + 2, &checked("agency-h"))
        .await
        .unwrap();
    s.insert_hold(&hold(
        "h-live",
        "video",
        "dave_feed",
        T0 + 1_000,
        "agency-h",
    ))
    .await
    .unwrap();
    s.close_action_day(&checked("d1"), T0 + 3, &checked("europol"))
        .await
        .unwrap();
    let counts_before = s.platform_counts(&checked("d1"), T0 + 4).await.unwrap();

    let c = s.purge_expired(T0 + 10, T0 + 11).await.unwrap();
    assert_eq!(
        c,
        PurgeCounts {
            lists: 1,
            referrals: 2,
            targets: 2,
            holds: 1
        }
    );
    let a = sum.target_ids[0];
    assert_eq!(
        s.strings(&format!(
            "SELECT normalized || '|' || original FROM targets WHERE id = {a}"
        ))
        .await,
        vec![format!("purged #{a}|purged #{a}")]
    );
    assert_eq!(
        s.strings(&format!(
            "SELECT normalized FROM deliveries WHERE target_id = {a}"
        ))
        .await,
        vec![format!("purged #{a}")]
    );
    // Nothing of the purged identifiers is left anywhere at the hub: not in the tables,
    // not in the audit chain (a hold's entry names its target by a salted commitment).
    for gone in ["alice_channel", "carol_chat", "NIGHTJAR"] {
        assert_eq!(
            s.count(&format!(
                "targets WHERE normalized LIKE '%{gone}%' OR original LIKE '%{gone}%'"
            ))
            .await,
            0,
            "{gone}"
        );
        assert_eq!(
            s.count(&format!("deliveries WHERE normalized LIKE '%{gone}%'"))
                .await,
            0,
            "{gone}"
        );
        assert_eq!(s.count(&format!("holds WHERE target LIKE '%{gone}%' OR normalized LIKE '%{gone}%' OR reason LIKE '%{gone}%'")).await, 0, "{gone}");
        assert_eq!(
            s.count(&format!(
                "audit_log WHERE details LIKE '%{gone}%' OR subject LIKE '%{gone}%'"
            ))
            .await,
            0,
            "{gone}"
        );
    }
    // What has not expired is kept: the standing list's target, the live hold.
    assert_eq!(s.count("targets WHERE normalized = 'bob_group'").await, 1);
    assert_eq!(
        s.count("holds WHERE normalized = 'dave_feed' AND salt IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        s.count("holds WHERE id = 'h-old' AND salt IS NULL").await,
        1
    );
    assert_eq!(
        s.platform_counts(&checked("d1"), T0 + 4).await.unwrap(),
        counts_before
    );
    // Nothing more to purge at the same cutoff; the chain still verifies.
    assert!(s.purge_expired(T0 + 10, T0 + 12).await.unwrap().is_empty());
    let (entries, text) = export(&s).await;
    let purge = entries
        .iter()
        .find(|e| e.kind == "retention_purge")
        .expect("the purge is audited");
    assert!(purge.details.contains("\"holds\":1"), "{}", purge.details);
    verify_jsonl(&text).expect("chain verifies after pseudonymisation");
}

async fn preservation_keeps_a_target_past_retention_until_its_date<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0), &checked("europol"))
        .await
        .unwrap();
    let sum = accepted(
        s.insert_list(
            &list("l", "agency-a", Some("d1"), T0, 2, 1),
            &[item("video", "kept"), item("social", "also_in_list")],
        )
        .await
        .unwrap(),
    );
    let other = accepted(
        s.insert_list(
            &list("l-other", "agency-b", Some("d1"), T0 + 1, 1, 3),
            &[item("video", "not_kept")],
        )
        .await
        .unwrap(),
    );
    s.close_action_day(&checked("d1"), T0 + 3, &checked("europol"))
        .await
        .unwrap();
    let kept = sum.target_ids[0];
    let europol = checked("europol");
    let request = |until: i64, at: i64| NewPreservation {
        target_id: kept,
        until,
        authority: "BKA",
        reference: "BKA-2026-0042",
        by: &europol,
        at,
    };
    assert_eq!(
        s.preserve(&request(T0 + 100, T0 + 5)).await.unwrap(),
        Some(Preservation::Kept {
            until: T0 + 100,
            lists: 1
        })
    );
    // A shorter request does not shorten it.
    assert_eq!(
        s.preserve(&request(T0 + 50, T0 + 6)).await.unwrap(),
        Some(Preservation::Kept {
            until: T0 + 100,
            lists: 1
        })
    );
    let mut unknown = request(T0 + 100, T0 + 6);
    unknown.target_id = TargetId::new(999_999);
    assert_eq!(s.preserve(&unknown).await.unwrap(), None);

    // Expired, but preserved: only the other list goes.
    let c = s.purge_expired(T0 + 10, T0 + 20).await.unwrap();
    assert_eq!((c.lists, c.targets), (1, 1));
    assert_eq!(s.count("lists WHERE purged_at IS NULL").await, 1);
    assert_eq!(s.count("targets WHERE normalized = 'kept'").await, 1);
    assert_eq!(
        s.count("referrals WHERE list_id = 'l' AND length(item) > 0")
            .await,
        2
    );
    assert_eq!(
        s.count(&format!(
            "targets WHERE id = {} AND normalized LIKE 'purged #%'",
            other.target_ids[0]
        ))
        .await,
        1
    );
    // Once the preservation ends, the next pass purges it.
    let c = s.purge_expired(T0 + 10, T0 + 100).await.unwrap();
    assert_eq!((c.lists, c.targets), (1, 2));
    assert_eq!(s.count("targets WHERE normalized = 'kept'").await, 0);
    // Too late now: nothing is left to preserve, and nothing is recorded.
    assert!(matches!(
        s.preserve(&request(T0 + 500, T0 + 101)).await.unwrap(),
        Some(Preservation::AlreadyPurged { at }) if at == T0 + 100
    ));
    assert_eq!(s.count("preservations").await, 2);
    let (entries, text) = export(&s).await;
    let audited: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "preservation_extended")
        .collect();
    assert_eq!(audited.len(), 2);
    assert_eq!(
        (audited[0].actor.as_str(), audited[0].subject.as_str()),
        ("europol", kept.to_string().as_str())
    );
    assert!(
        audited[0].details.contains("BKA-2026-0042"),
        "{}",
        audited[0].details
    );
    verify_jsonl(&text).expect("chain verifies");
}
