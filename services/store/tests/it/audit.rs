//! The audit chain, withdrawals and restorations, transparency rows and retention.

use takedown_protocol::audit::{AuditRecord, verify_jsonl};
use takedown_store::*;

use crate::support::*;

conformance!(
    every_state_change_is_chained_and_verifies,
    withdrawal_is_authorized_idempotent_and_queues_one_delivery,
    restoration_is_recorded_on_the_target,
    retention_purges_bytes_and_notes_and_keeps_counts_and_chain,
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
    s.insert_action_day(&day("d1", T0)).await.unwrap();
    s.insert_agency_key(&AgencyKey {
        kid: "k1".into(),
        agency_id: "agency-a".into(),
        public_key_pem: "pem".into(),
        registered_at: T0,
        revoked_at: None,
        revoke_reason: None,
    })
    .await
    .unwrap();
    s.revoke_agency_key("k1", "lost", T0 + 1).await.unwrap();
    // A second revocation changes nothing and records nothing.
    s.revoke_agency_key("k1", "again", T0 + 2).await.unwrap();
    s.insert_hold(&hold("h1", "video", "x", T0 + 10_000, "agency-b"))
        .await
        .unwrap();
    s.release_hold("h1", T0 + 3).await.unwrap();
    s.release_hold("h1", T0 + 4).await.unwrap();
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
    assert!(s.mark_released("d1", T0 + 5).await.unwrap());
    assert!(!s.mark_released("d1", T0 + 6).await.unwrap());
    deliver_all(&s, "video", T0 + 7).await;
    let claimed = s
        .claim_deliveries("social", T0 + 7, T0 + 99, 10)
        .await
        .unwrap();
    s.mark_failed(&[claimed[0].id], T0 + 8, "receiver refused")
        .await
        .unwrap();
    s.record_reports(
        "video",
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
    s.withdraw_target(
        sum.target_ids[0],
        &Withdrawer::Coordinator("coord".into()),
        "appeal",
        T0 + 11,
    )
    .await
    .unwrap()
    .expect("withdrawn");
    s.close_action_day("d1", T0 + 12).await.unwrap();
    s.close_action_day("d1", T0 + 13).await.unwrap();

    let (entries, text) = export(&s).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "action_day_created",
            "key_registered",
            "key_revoked",
            "hold_placed",
            "hold_released",
            "list_accepted",
            "action_day_released",
            "delivered",
            "delivery_failed",
            "reports",
            "target_withdrawn",
            "action_day_closed",
        ]
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert_eq!(s.audit_head().await.unwrap(), 12);
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
    assert_eq!(summary.entries, 12);
    assert_eq!(summary.head, hex(&entries[11].hash));
    // Tampering with a stored entry is caught at that entry.
    let tampered = text.replacen("\"actor\":\"agency-a\"", "\"actor\":\"agency-z\"", 1);
    assert_eq!(verify_jsonl(&tampered).unwrap_err().line(), 2);
}

async fn withdrawal_is_authorized_idempotent_and_queues_one_delivery<S: Store + Probe>(s: S) {
    let sum = submit(&s, "l", T0, &[("video", "a"), ("video", "b")]).await;
    let (sent, unsent) = (sum.target_ids[0], sum.target_ids[1]);
    let claimed = s.claim_deliveries("video", T0, T0 + 100, 1).await.unwrap();
    assert_eq!(claimed[0].target_id, sent);
    s.mark_delivered(&[claimed[0].id], T0 + 1).await.unwrap();

    let agency_b = Withdrawer::Agency("agency-b".into());
    let agency_a = Withdrawer::Agency("agency-a".into());
    assert_eq!(
        s.withdraw_target(sent, &agency_b, "x", T0 + 2)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.withdraw_target(999_999, &agency_a, "x", T0 + 2)
            .await
            .unwrap(),
        None
    );
    let w = s
        .withdraw_target(sent, &agency_a, "court decision", T0 + 3)
        .await
        .unwrap()
        .expect("referring agency may withdraw");
    assert_eq!(
        (w.withdrawals_queued, w.changed, w.withdrawn_at),
        (1, true, T0 + 3)
    );
    let again = s
        .withdraw_target(sent, &Withdrawer::Coordinator("c".into()), "y", T0 + 4)
        .await
        .unwrap()
        .expect("answers");
    assert_eq!(
        (again.withdrawals_queued, again.changed, again.withdrawn_at),
        (1, false, T0 + 3)
    );
    // Never sent: nothing to withdraw at the platform, and the takedown is not sent.
    let u = s
        .withdraw_target(unsent, &agency_a, "mistake", T0 + 5)
        .await
        .unwrap()
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
        .claim_deliveries("video", T0 + 6, T0 + 100, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].target_id, claimed[0].kind),
        (sent, DeliveryKind::Withdrawal)
    );
    assert_eq!(
        s.withdrawal_reasons(&[sent, unsent, 424_242])
            .await
            .unwrap(),
        vec![
            (sent, "court decision".to_string()),
            (unsent, "mistake".to_string())
        ]
    );
    let items = s.list_items("l", T0 + 6).await.unwrap();
    assert_eq!(items[0].withdrawn_at, Some(T0 + 3));
}

async fn restoration_is_recorded_on_the_target<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("d1", T0)).await.unwrap();
    let items = vec![item("video", "a"), item("social", "b")];
    let sum = accepted(
        s.insert_list(&list("l", "agency-a", Some("d1"), T0, 2, 1), &items)
            .await
            .unwrap(),
    );
    deliver_all(&s, "video", T0 + 1).await;
    let a = sum.target_ids[0];
    s.record_reports(
        "video",
        &[report("d", a, ReportKind::Decision, 1, T0 + 2)],
        T0 + 2,
    )
    .await
    .unwrap()
    .unwrap();
    s.withdraw_target(a, &Withdrawer::Coordinator("c".into()), "appeal", T0 + 3)
        .await
        .unwrap()
        .expect("withdrawn");
    deliver_all(&s, "video", T0 + 4).await;
    s.record_reports(
        "video",
        &[report("rs", a, ReportKind::Restoration, 1, T0 + 5)],
        T0 + 6,
    )
    .await
    .unwrap()
    .unwrap();
    let rows = s.transparency_rows("d1").await.unwrap();
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
    s.insert_action_day(&day("d1", T0)).await.unwrap();
    let items = vec![item("video", "a"), item("social", "b")];
    let sum = accepted(
        s.insert_list(&list("l", "agency-a", Some("d1"), T0, 2, 1), &items)
            .await
            .unwrap(),
    );
    submit(&s, "standing", T0, &[("video", "z")]).await;
    deliver_all(&s, "video", T0 + 1).await;
    let mut r = rejection("d", sum.target_ids[0], 1, T0 + 2);
    r.text = "a private note".into();
    s.record_reports("video", &[r], T0 + 2)
        .await
        .unwrap()
        .unwrap();
    s.close_action_day("d1", T0 + 3).await.unwrap();
    let counts_before = s.platform_counts("d1", T0 + 4).await.unwrap();

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
            targets: 3
        }
    );
    assert_eq!(s.count("referrals WHERE length(item) = 0").await, 3);
    assert_eq!(s.count("targets WHERE outcome_text IS NOT NULL").await, 0);
    assert_eq!(s.count("reports WHERE report_text <> ''").await, 0);
    assert_eq!(
        s.platform_counts("d1", T0 + 4).await.unwrap(),
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
