//! Moving an action day before its H-hour: the embargo moves with it, both ways. A day
//! brought forward is delivered at its new H-hour, lists submitted after the move too; a day
//! postponed delivers nothing at its old H-hour; the summary is what the facts say; a day
//! whose H-hour has passed cannot be moved; only coordinators move days.

use std::time::Duration;

use takedown_protocol::{
    pb,
    timestamp::{from_millis, now_millis, to_millis},
};
use takedown_tests::{
    Backend, LONG, eventually, hub::HubOptions, lists::referrals, pki::COORDINATOR,
    sidecar::AutoPolicy, world::World,
};
use tonic::Code;

both_backends!(moving_an_action_day_moves_its_embargo);

fn move_to(id: &str, starts_at: i64, ends_at: Option<i64>) -> pb::MoveActionDayRequest {
    pb::MoveActionDayRequest {
        id: id.into(),
        starts_at: Some(from_millis(starts_at)),
        ends_at: ends_at.map(from_millis),
    }
}

async fn moving_an_action_day_moves_its_embargo(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    // "soon" first had its H-hour in an hour, "later" in three seconds.
    let soon = w.action_day("soon", 3_600_000).await;
    w.action_day("later", 3_000).await;
    let early = w
        .key("agency-fr")
        .list("soon-1", Some("soon"), referrals("telegram", "soon", 300));
    w.submit("agency-fr", &early).await;
    let postponed = w.key("agency-fr").list(
        "later-1",
        Some("later"),
        referrals("telegram", "later", 200),
    );
    w.submit("agency-fr", &postponed).await;

    let mut coord = w.as_org(COORDINATOR).await;
    // Refused, and nothing moves: an agency, a past H-hour, an end before the H-hour, an
    // unknown day.
    let target = now_millis() + 4_000;
    let denied = w
        .as_org("agency-fr")
        .await
        .action_day
        .move_action_day(move_to("soon", target, None))
        .await
        .expect_err("agencies do not move days");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let past = coord
        .action_day
        .move_action_day(move_to("soon", now_millis() - 1_000, None))
        .await
        .expect_err("a past H-hour");
    assert_eq!(past.code(), Code::InvalidArgument, "{past:?}");
    assert!(
        past.message().contains("not in the future"),
        "{}",
        past.message()
    );
    let backwards = coord
        .action_day
        .move_action_day(move_to("soon", target, Some(target - 1)))
        .await
        .expect_err("an end before the H-hour");
    assert_eq!(backwards.code(), Code::InvalidArgument, "{backwards:?}");
    assert!(
        backwards.message().contains("ends_at"),
        "{}",
        backwards.message()
    );
    let unknown = coord
        .action_day
        .move_action_day(move_to("no-such-day", target, None))
        .await
        .expect_err("an unknown day");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let unchanged = coord
        .action_day
        .get_action_day(pb::GetActionDayRequest { id: "soon".into() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(unchanged.starts_at, soon.starts_at);

    // Brought forward by an hour; the day keeps its length.
    let moved = coord
        .action_day
        .move_action_day(move_to("soon", target, None))
        .await
        .expect("move soon")
        .into_inner();
    assert_eq!(to_millis(moved.starts_at.as_ref().unwrap()), target);
    let length = |d: &pb::ActionDay| {
        to_millis(d.ends_at.as_ref().unwrap()) - to_millis(d.starts_at.as_ref().unwrap())
    };
    assert_eq!(length(&moved), length(&soon));
    // Postponed by an hour.
    let later_h = now_millis() + 3_600_000;
    coord
        .action_day
        .move_action_day(move_to("later", later_h, Some(later_h + 60_000)))
        .await
        .expect("move later");
    // A list taken in after the move is due at the new H-hour too.
    let after =
        w.key("agency-de")
            .list("soon-2", Some("soon"), referrals("telegram", "soon2", 100));
    w.submit("agency-de", &after).await;

    // Nothing before the new H-hour, not even at the old H-hour of "later".
    while now_millis() < target - 300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tg.received().await, 0, "nothing before the new H-hour");
    eventually(
        LONG,
        "the moved day delivered at its new H-hour",
        || async { tg.received().await == 400 },
    )
    .await;
    let first = tg.first_received_at().await.expect("received");
    assert!(
        first >= target,
        "first receipt {first} before the new H-hour {target}"
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        tg.received().await,
        400,
        "nothing of the postponed day was delivered"
    );
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 0")
            .await,
        200,
        "the postponed day's deliveries wait in the outbox"
    );

    // Released: too late to move, and the answer says why.
    let late = coord
        .action_day
        .move_action_day(move_to("soon", now_millis() + 60_000, None))
        .await
        .expect_err("a released day");
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(late.message().contains("has passed"), "{}", late.message());

    // The summaries are what the facts say, moved or not.
    for day in ["soon", "later"] {
        let before = {
            let mut s = w.summary_as(COORDINATOR, day).await;
            s.generated_at = None;
            s
        };
        crate::chaos::rebuild_summary(&w, backend, day).await;
        let mut rebuilt = w.summary_as(COORDINATOR, day).await;
        rebuilt.generated_at = None;
        assert_eq!(rebuilt, before, "{day}: the summary differs from a rebuild");
    }
    // The move is in the audit log, with the H-hour before and after.
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'action_day_moved'")
            .await,
        2
    );
}
