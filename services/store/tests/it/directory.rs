//! Organisations, key-set statements and platforms.

use takedown_store::*;

use crate::support::*;

conformance!(
    organizations_upsert_and_list,
    key_set_statements_only_grow,
    lists_are_found_by_the_key_that_signed_them,
    platforms_upsert_and_list,
    registrations_and_changes_are_audited_with_their_caller,
    a_value_written_around_the_store_is_refused_naming_its_column,
);

async fn organizations_upsert_and_list<S: Store + Probe>(s: S) {
    assert_eq!(
        s.get_organization(&checked("agency-a")).await.unwrap(),
        None
    );
    let a = s
        .upsert_organization(&org("agency-a", Role::Agency), &checked("europol"))
        .await
        .unwrap();
    assert_eq!(a, org("agency-a", Role::Agency));
    s.upsert_organization(&org("europol", Role::Coordinator), &checked("europol"))
        .await
        .unwrap();

    // An update changes role and display name but keeps the registration time.
    let changed = Organization {
        role: Role::Coordinator,
        display_name: "renamed".into(),
        registered_at: T0 + 99,
        ..org("agency-a", Role::Agency)
    };
    let stored = s
        .upsert_organization(&changed, &checked("europol"))
        .await
        .unwrap();
    assert_eq!(stored.role, Role::Coordinator);
    assert_eq!(stored.display_name, "renamed");
    assert_eq!(stored.registered_at, T0);
    assert_eq!(
        s.get_organization(&checked("agency-a")).await.unwrap(),
        Some(stored.clone())
    );

    let all = s.list_organizations().await.unwrap();
    assert_eq!(
        all.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["agency-a", "europol"]
    );
    assert_eq!(s.count("organizations").await, 2);
}

fn statement(version: i64, by: &str) -> KeySetRecord {
    KeySetRecord {
        version,
        jws: format!("header.claims-{version}.signature"),
        published_at: T0 + version,
        published_by: checked(by),
    }
}

async fn key_set_statements_only_grow<S: Store + Probe>(s: S) {
    assert_eq!(s.key_sets_after(0).await.unwrap(), vec![]);
    s.publish_key_set(&statement(1, "europol")).await.unwrap();
    s.publish_key_set(&statement(3, "europol")).await.unwrap();
    // Not newer than the newest stored: refused, nothing stored.
    for stale in [3, 2] {
        match s.publish_key_set(&statement(stale, "other")).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("version"), "{m}"),
            other => panic!("version {stale}: expected Conflict, got {other:?}"),
        }
    }
    assert_eq!(
        s.key_sets_after(0).await.unwrap(),
        vec![statement(1, "europol"), statement(3, "europol")]
    );
    assert_eq!(
        s.key_sets_after(1).await.unwrap(),
        vec![statement(3, "europol")]
    );
    assert_eq!(s.key_sets_after(3).await.unwrap(), vec![]);
    assert_eq!(s.count("key_set_statements").await, 2);
}

async fn lists_are_found_by_the_key_that_signed_them<S: Store + Probe>(s: S) {
    let early = list("l-early", "agency-a", None, T0, 1, 1);
    let mut late = list("l-late", "agency-a", None, T0 + 1, 1, 2);
    late.signed_at += 100;
    let other = list("l-other", "agency-b", None, T0, 1, 3);
    for l in [&early, &late, &other] {
        s.insert_list(l, &[item("video", &l.list_id)])
            .await
            .unwrap();
    }
    let found = |v: Vec<SignedListRecord>| v.into_iter().map(|l| l.list_id).collect::<Vec<_>>();
    assert_eq!(
        found(s.lists_signed_with("agency-a-k1", 0).await.unwrap()),
        ["l-early", "l-late"]
    );
    assert_eq!(
        found(
            s.lists_signed_with("agency-a-k1", early.signed_at + 1)
                .await
                .unwrap()
        ),
        ["l-late"]
    );
    let l = &s.lists_signed_with("agency-b-k1", 0).await.unwrap()[0];
    assert_eq!(
        (l.agency_id.as_str(), l.signed_at, l.due_at),
        ("agency-b", other.signed_at, T0)
    );
    assert!(s.lists_signed_with("nobody", 0).await.unwrap().is_empty());
}

async fn platforms_upsert_and_list<S: Store + Probe>(s: S) {
    let p = platform("video");
    assert_eq!(s.upsert_platform(&p, &checked("europol")).await.unwrap(), p);
    let moved = Platform {
        endpoint: "https://video2.example:7443".into(),
        registered_at: T0 + 5,
        max_per_minute: Some(600),
        staffing: Some(takedown_protocol::staffing::Staffing {
            time_zone: "Europe/Tallinn".into(),
            windows: takedown_protocol::staffing::parse_windows("mon-fri 08:00-18:00").unwrap(),
            contact_point: "abuse@video.example".into(),
        }),
        mode: DeliveryMode::Pull,
        ..p.clone()
    };
    let stored = s
        .upsert_platform(&moved, &checked("europol"))
        .await
        .unwrap();
    assert_eq!(stored.endpoint, "https://video2.example:7443");
    assert_eq!(stored.max_per_minute, Some(600));
    assert_eq!(stored.staffing, moved.staffing);
    assert_eq!(stored.mode, DeliveryMode::Pull);
    assert_eq!(stored.registered_at, T0);
    s.upsert_platform(
        &Platform {
            name: checked("audio"),
            ..p.clone()
        },
        &checked("europol"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_platform(&checked("video")).await.unwrap(),
        Some(stored)
    );
    assert_eq!(s.get_platform(&checked("none")).await.unwrap(), None);
    let names: Vec<PlatformName> = s
        .list_platforms()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["audio", "video"]);
}

async fn registrations_and_changes_are_audited_with_their_caller<S: Store + Probe>(s: S) {
    let a = Organization {
        display_name: "Agency A".into(),
        ..org("agency-a", Role::Agency)
    };
    s.upsert_organization(&a, &checked("europol"))
        .await
        .unwrap();
    // The same registration again changes nothing and records nothing.
    s.upsert_organization(&a, &checked("europol"))
        .await
        .unwrap();
    let renamed = Organization {
        display_name: "Agence A".into(),
        ..a.clone()
    };
    s.upsert_organization(&renamed, &checked("coord-2"))
        .await
        .unwrap();
    let p = platform("video");
    s.upsert_platform(&p, &checked("europol")).await.unwrap();
    let moved = Platform {
        endpoint: "https://video2.example:7443".into(),
        registered_at: T0 + 5,
        ..p.clone()
    };
    s.upsert_platform(&moved, &checked("coord-2"))
        .await
        .unwrap();
    s.upsert_platform(&moved, &checked("coord-2"))
        .await
        .unwrap();

    let entries = s.audit_entries(0, 100).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("organization_registered", "europol", "agency-a"),
            ("organization_updated", "coord-2", "agency-a"),
            ("platform_registered", "europol", "video"),
            ("platform_updated", "coord-2", "video"),
        ]
    );
    let moved: serde_json::Value = serde_json::from_str(&entries[3].details).unwrap();
    assert_eq!(moved["endpoint"], "https://video2.example:7443");
    assert_eq!(moved["previous_endpoint"], "https://video.example:7443");
}

/// Rows are decoded into the model's types: a number no enum has, a negative cap, staffing
/// that is not JSON or an id that is not one, written by something other than the store, is a
/// database error naming the column, never a wrong value.
async fn a_value_written_around_the_store_is_refused_naming_its_column<S: Store + Probe>(s: S) {
    let by = checked("europol");
    s.upsert_organization(&org("agency-a", Role::Agency), &by)
        .await
        .unwrap();
    let p = Platform {
        max_per_minute: Some(10),
        ..platform("video")
    };
    s.upsert_platform(&p, &by).await.unwrap();

    let refused = |e: StoreError, column: &str| {
        let text = e.to_string();
        assert!(
            matches!(e, StoreError::Database(_)) && text.contains(column),
            "{text:?} names {column}"
        );
    };
    s.execute("UPDATE organizations SET role = 9 WHERE id = 'agency-a'")
        .await;
    refused(
        s.get_organization(&checked("agency-a")).await.unwrap_err(),
        "role",
    );

    // (A delivery mode other than push or pull the schema itself refuses.)
    s.execute("UPDATE platforms SET max_per_minute = -1").await;
    refused(
        s.get_platform(&checked("video")).await.unwrap_err(),
        "max_per_minute",
    );
    s.execute("UPDATE platforms SET max_per_minute = 10, staffing = '{not json'")
        .await;
    refused(s.list_platforms().await.unwrap_err(), "staffing");
    s.execute("UPDATE platforms SET staffing = NULL, name = 'Not A Name'")
        .await;
    refused(s.list_platforms().await.unwrap_err(), "name");
}
