//! Retention: after its period the inbox no longer says who a handed target was, yet still
//! recognises the delivery (never handed twice) and still knows a removal order.

use takedown_protocol::pb;
use takedown_sidecar::{
    document::{HandoffReferral, HandoffTarget, Kind, idempotency_key},
    inbox::{Inbox, NewDelivery, Purged},
    retention::Retention,
};

const DAY_MS: i64 = 86_400_000;
const T0: i64 = 1_800_000_000_000;

fn delivery(name: &str, basis: &str) -> NewDelivery {
    let target_id = format!("t-{name}");
    let body = HandoffTarget {
        idempotency_key: idempotency_key(&target_id, Kind::Takedown),
        target_id: target_id.clone(),
        delivery_id: format!("d-{name}"),
        kind: Kind::Takedown,
        target_kind: "CHANNEL".into(),
        normalized_target: name.into(),
        original_target: format!("https://t.me/{name}"),
        category: "terrorist-propaganda".into(),
        legal_basis: basis.into(),
        removal_order_ref: None,
        action_day_id: None,
        withdrawal_reason: None,
        agencies: vec!["agency-fr".into()],
        received_at: "2027-01-15T08:00:00Z".into(),
        referrals: vec![HandoffReferral {
            agency_id: "agency-fr".into(),
            list_id: "l1".into(),
            item_index: 0,
            target_kind: "CHANNEL".into(),
            target: format!("@{name}"),
            category: "terrorist-propaganda".into(),
            legal_basis: basis.into(),
            removal_order_ref: None,
            evidence_sha256: None,
            note: Some(format!("{name} claims attacks")),
            removal_order: None,
        }],
    };
    NewDelivery {
        target_id,
        kind: Kind::Takedown,
        delivery_id: format!("d-{name}"),
        normalized_target: name.into(),
        body: serde_json::to_string(&body).unwrap(),
    }
}

/// Hands the next batch to the platform at `at`, with one sent report per target.
async fn hand(inbox: &Inbox, id: &str, at: i64) -> usize {
    let batch = inbox
        .next_batch(100, id, at)
        .await
        .unwrap()
        .expect("a batch");
    let reports: Vec<(pb::PlatformReport, i64)> = batch
        .targets
        .iter()
        .map(|t| {
            (
                pb::PlatformReport {
                    report_id: format!("ack-{}", t.target_id),
                    target_id: t.target_id.clone(),
                    report: Some(pb::platform_report::Report::Acknowledgement(
                        pb::Acknowledgement {
                            received_at: Some(takedown_protocol::timestamp::from_millis(at)),
                        },
                    )),
                },
                at,
            )
        })
        .collect();
    inbox
        .record_handoff(&batch.handoff_id, "auto", &batch.targets, &reports, at)
        .await
        .unwrap();
    let due = inbox.due_reports(100, at).await.unwrap();
    let seqs: Vec<i64> = due.iter().map(|r| r.seq).collect();
    inbox.mark_sent(&seqs, at).await.unwrap();
    batch.targets.len()
}

async fn bodies(inbox: &Inbox) -> Vec<String> {
    inbox.bodies().await.unwrap()
}

#[tokio::test]
async fn handed_targets_are_forgotten_after_the_retention_period() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&dir.path().join("inbox.db")).await.unwrap();
    // Two targets handed on day 0 (one a removal order), one received on day 40 and
    // handed then, one received on day 40 and not handed yet.
    inbox
        .store(
            "b1",
            &[
                delivery("old_one", "TOS_REFERRAL"),
                delivery("old_order", "REMOVAL_ORDER"),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(hand(&inbox, "h1", T0).await, 2);
    inbox
        .store(
            "b2",
            &[delivery("recent", "TOS_REFERRAL")],
            T0 + 40 * DAY_MS,
        )
        .await
        .unwrap();
    assert_eq!(hand(&inbox, "h2", T0 + 40 * DAY_MS).await, 1);
    inbox
        .store(
            "b3",
            &[delivery("waiting", "TOS_REFERRAL")],
            T0 + 40 * DAY_MS,
        )
        .await
        .unwrap();

    let retention = Retention {
        inbox: inbox.clone(),
        keep: std::time::Duration::from_secs(30 * 86_400),
    };
    let purged = retention.pass(T0 + 41 * DAY_MS).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            deliveries: 2,
            reports: 2
        }
    );
    let all = bodies(&inbox).await.join("\n");
    for gone in [
        "t.me/old_one",
        "@old_one",
        "old_one claims attacks",
        "t.me/old_order",
        "@old_order",
    ] {
        assert!(!all.contains(gone), "{gone} still in the inbox:\n{all}");
    }
    for kept in ["t.me/recent", "@waiting", "recent claims attacks"] {
        assert!(all.contains(kept), "{kept} was purged too early:\n{all}");
    }
    // The handoff log and the dedupe stay: the same deliveries again are not new.
    assert_eq!(inbox.handoff_count().await.unwrap(), 3);
    let again = inbox
        .store(
            "b4",
            &[
                delivery("old_one", "TOS_REFERRAL"),
                delivery("old_order", "REMOVAL_ORDER"),
            ],
            T0 + 42 * DAY_MS,
        )
        .await
        .unwrap();
    assert_eq!(again, 0, "a purged delivery must still be recognised");
    // A removal order is still known as one (NOT_A_VIOLATION on it stays refused).
    let orders = inbox
        .removal_orders(&["t-old_order".to_string(), "t-old_one".to_string()])
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert!(orders.contains("t-old_order"));
    // The recent report stays until its own period ends; a second pass changes nothing.
    assert_eq!(inbox.outbox_counts().await.unwrap().sent, 1);
    assert_eq!(
        retention.pass(T0 + 41 * DAY_MS).await.unwrap(),
        Purged::default()
    );
    // Once the recent target's period is over it goes too; the waiting one (never
    // handed) is kept whatever its age.
    let later = retention.pass(T0 + 80 * DAY_MS).await.unwrap();
    assert_eq!(
        later,
        Purged {
            deliveries: 1,
            reports: 1
        }
    );
    let all = bodies(&inbox).await.join("\n");
    assert!(!all.contains("t.me/recent"), "{all}");
    assert!(all.contains("t.me/waiting"), "{all}");
}
