//! Retention through the hub: once an action day is past the retention period, the hub
//! purges its item bytes and notes and pseudonymises its targets' identifiers, except for a
//! target a coordinator preserved on a competent authority's request (TCO Art 6(2)); a
//! preservation asked too late, or for a date already past, is refused and changes nothing.

use takedown_protocol::{
    pb,
    timestamp::{from_millis, now_millis},
};
use takedown_tests::{
    Backend, LONG, eventually, hub::HubOptions, lists::referral, pki::COORDINATOR,
    sidecar::AutoPolicy, world::World,
};
use tonic::Code;

both_backends!(retention_pseudonymises_identifiers_and_keeps_what_is_preserved);

const DAY_MS: i64 = 86_400_000;

async fn retention_pseudonymises_identifiers_and_keeps_what_is_preserved(backend: Backend) {
    let opts = HubOptions {
        retention: Some((1, 200)),
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let _tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-old", 1_000).await;
    let list = w.key("agency-fr").list(
        "fr-old",
        Some("day-old"),
        vec![
            referral("telegram", "@kept_for_court"),
            referral("telegram", "@forgotten_channel"),
        ],
    );
    let ids = w.submit("agency-fr", &list).await;
    eventually(LONG, "both delivered", || async {
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL")
            .await
            == 2
    })
    .await;

    let mut coordinator = w.as_org(COORDINATOR).await;
    let preserve = |target: &str, until: i64, authority: &str| pb::PreserveTargetRequest {
        target_id: target.into(),
        until: Some(from_millis(until)),
        authority: authority.into(),
        reference: "BKA-2026-0042".into(),
    };
    // Refused, naming the field, and nothing recorded: a date already past, no authority.
    for (req, field) in [
        (preserve(&ids[0], now_millis() - 1_000, "BKA"), "until"),
        (preserve(&ids[0], now_millis() + DAY_MS, " "), "authority"),
    ] {
        let e = coordinator
            .referral
            .preserve_target(req)
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains(field), "{}", e.message());
    }
    let unknown = coordinator
        .referral
        .preserve_target(preserve("t-0000", now_millis() + DAY_MS, "BKA"))
        .await
        .expect_err("unknown target");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM preservations").await, 0);

    let kept = coordinator
        .referral
        .preserve_target(preserve(&ids[0], now_millis() + 30 * DAY_MS, "BKA"))
        .await
        .expect("preserve")
        .into_inner();
    assert_eq!(
        (kept.target_id.as_str(), kept.lists_kept),
        (ids[0].as_str(), 1)
    );

    // Close the day, and let it have closed long ago: past the one-day retention.
    coordinator
        .action_day
        .close_action_day(pb::CloseActionDayRequest {
            id: "day-old".into(),
        })
        .await
        .expect("close");
    let past = format!(
        "UPDATE action_days SET closed_at = closed_at - {}, ends_at = ends_at - {0}, \
         starts_at = starts_at - {0} WHERE id = 'day-old'",
        400 * DAY_MS
    );
    w.db.execute(&past).await;
    // Preserved: the list is kept whole, identifiers and item bytes included. A second
    // day's list is purged meanwhile.
    let standing =
        w.key("agency-fr")
            .list("fr-lone", None, vec![referral("telegram", "@lone_account")]);
    w.submit("agency-fr", &standing).await;
    let past = format!(
        "UPDATE lists SET accepted_at = accepted_at - {} WHERE list_id = 'fr-lone'",
        400 * DAY_MS
    );
    w.db.execute(&past).await;
    eventually(LONG, "the standing list purged", || async {
        w.db.scalar(
            "SELECT COUNT(*) FROM lists WHERE list_id = 'fr-lone' AND purged_at IS NOT NULL",
        )
        .await
            == 1
    })
    .await;
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE normalized LIKE 'purged #%'")
            .await,
        1
    );
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM lists WHERE list_id = 'fr-old' AND purged_at IS NULL")
            .await,
        1,
        "a list with a preserved target is kept"
    );
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM targets WHERE normalized = 'forgotten_channel'")
            .await,
        1
    );

    // The preservation ends (the authority's date, moved into the past here): the next pass
    // purges the list, and no identifier of it is left at the hub.
    w.db.execute("UPDATE preservations SET until = 1").await;
    eventually(LONG, "the old list purged", || async {
        w.db.scalar("SELECT COUNT(*) FROM lists WHERE list_id = 'fr-old' AND purged_at IS NOT NULL")
            .await
            == 1
    })
    .await;
    for gone in ["kept_for_court", "forgotten_channel", "lone_account"] {
        let sql = format!(
            "SELECT COUNT(*) FROM targets WHERE normalized LIKE '%{gone}%' \
             OR original LIKE '%{gone}%'"
        );
        assert_eq!(w.db.scalar(&sql).await, 0, "{gone}");
        let sql = format!("SELECT COUNT(*) FROM deliveries WHERE normalized LIKE '%{gone}%'");
        assert_eq!(w.db.scalar(&sql).await, 0, "{gone}");
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%{gone}%'");
        assert_eq!(w.db.scalar(&sql).await, 0, "{gone}");
    }
    // The agency's status still counts its items, by pseudonym.
    let items = w.list_items("agency-fr", "fr-old").await;
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.normalized_target.starts_with("purged #")),
        "{items:?}"
    );
    // Too late now: FAILED_PRECONDITION, nothing recorded.
    let late = coordinator
        .referral
        .preserve_target(preserve(&ids[1], now_millis() + DAY_MS, "BKA"))
        .await
        .expect_err("purged");
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(late.message().contains("purged"), "{}", late.message());
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM preservations").await, 1);
    // The preservation is audited with the coordinator as actor.
    let sql = format!(
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'preservation_extended' \
         AND actor = '{COORDINATOR}'"
    );
    assert_eq!(w.db.scalar(&sql).await, 1);
}
