//! Action days: creation, closing, release bookkeeping.

use takedown_store::*;

use crate::support::*;

conformance!(action_day_lifecycle, releases_due_and_next);

async fn action_day_lifecycle<S: Store + Probe>(s: S) {
    let mut d = day("op-1", T0 + 1000);
    d.platforms.push(checked("video"));
    let stored = s.insert_action_day(&d, &checked("europol")).await.unwrap();
    assert_eq!(stored.platforms, ["social", "video"]);
    assert_eq!(stored.agencies, ["agency-a", "agency-b"]);
    assert_eq!(
        s.get_action_day(&checked("op-1")).await.unwrap(),
        Some(stored.clone())
    );

    match s
        .insert_action_day(&day("op-1", T0), &checked("europol"))
        .await
        .unwrap_err()
    {
        StoreError::Conflict(m) => assert!(m.contains("op-1"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        s.get_action_day(&checked("op-1")).await.unwrap(),
        Some(stored.clone())
    );

    let closed = s
        .close_action_day(&checked("op-1"), T0 + 50, &checked("europol"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.closed_at, Some(T0 + 50));
    assert_eq!(closed.platforms, stored.platforms);
    let again = s
        .close_action_day(&checked("op-1"), T0 + 99, &checked("europol"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.closed_at, Some(T0 + 50));
    assert_eq!(
        s.close_action_day(&checked("none"), T0, &checked("europol"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_action_day(&checked("none")).await.unwrap(), None);

    assert!(s.mark_released(&checked("op-1"), T0 + 1000).await.unwrap());
    assert!(!s.mark_released(&checked("op-1"), T0 + 2000).await.unwrap());
    assert!(!s.mark_released(&checked("none"), T0).await.unwrap());
    assert_eq!(
        s.get_action_day(&checked("op-1"))
            .await
            .unwrap()
            .unwrap()
            .released_at,
        Some(T0 + 1000)
    );
}

async fn releases_due_and_next<S: Store + Probe>(s: S) {
    s.insert_action_day(&day("later", T0 + 5000), &checked("europol"))
        .await
        .unwrap();
    s.insert_action_day(&day("past", T0 - 5000), &checked("europol"))
        .await
        .unwrap();
    s.insert_action_day(&day("now", T0), &checked("europol"))
        .await
        .unwrap();
    s.insert_action_day(&day("soon", T0 + 1000), &checked("europol"))
        .await
        .unwrap();

    let ids = |ds: Vec<ActionDay>| ds.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let due = s.due_releases(T0).await.unwrap();
    assert_eq!(due[0].platforms, ["social", "video"]);
    assert_eq!(ids(due), ["past", "now"]);
    assert_eq!(s.next_release_after(T0).await.unwrap(), Some(T0 + 1000));

    assert!(s.mark_released(&checked("past"), T0).await.unwrap());
    assert!(s.mark_released(&checked("soon"), T0).await.unwrap());
    assert_eq!(ids(s.due_releases(T0).await.unwrap()), ["now"]);
    assert_eq!(s.next_release_after(T0).await.unwrap(), Some(T0 + 5000));
    assert_eq!(s.next_release_after(T0 + 5000).await.unwrap(), None);
    assert_eq!(
        ids(s.list_action_days().await.unwrap()),
        ["past", "now", "soon", "later"]
    );
}
