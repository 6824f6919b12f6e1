//! Organisations, agency keys and platforms.

use takedown_store::*;

use crate::support::*;

conformance!(
    organizations_upsert_and_list,
    agency_keys_conflict_revoke_and_list,
    platforms_upsert_and_list,
    registrations_and_changes_are_audited_with_their_caller,
);

async fn organizations_upsert_and_list<S: Store + Probe>(s: S) {
    assert_eq!(s.get_organization("agency-a").await.unwrap(), None);
    let a = s
        .upsert_organization(&org("agency-a", Role::Agency), "europol")
        .await
        .unwrap();
    assert_eq!(a, org("agency-a", Role::Agency));
    s.upsert_organization(&org("europol", Role::Coordinator), "europol")
        .await
        .unwrap();

    // An update changes role and display name but keeps the registration time.
    let changed = Organization {
        role: Role::Coordinator,
        display_name: "renamed".into(),
        registered_at: T0 + 99,
        ..org("agency-a", Role::Agency)
    };
    let stored = s.upsert_organization(&changed, "europol").await.unwrap();
    assert_eq!(stored.role, Role::Coordinator);
    assert_eq!(stored.display_name, "renamed");
    assert_eq!(stored.registered_at, T0);
    assert_eq!(
        s.get_organization("agency-a").await.unwrap(),
        Some(stored.clone())
    );

    let all = s.list_organizations().await.unwrap();
    assert_eq!(
        all.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["agency-a", "europol"]
    );
    assert_eq!(s.count("organizations").await, 2);
}

fn key(kid: &str, agency: &str, at: i64) -> AgencyKey {
    AgencyKey {
        kid: kid.into(),
        agency_id: agency.into(),
        public_key_pem: format!("PEM {kid}"),
        registered_at: at,
        revoked_at: None,
        revoke_reason: None,
    }
}

async fn agency_keys_conflict_revoke_and_list<S: Store + Probe>(s: S) {
    s.insert_agency_key(&key("k2", "agency-b", T0), "europol")
        .await
        .unwrap();
    s.insert_agency_key(&key("k1", "agency-a", T0 + 10), "europol")
        .await
        .unwrap();
    s.insert_agency_key(&key("k0", "agency-a", T0 + 20), "europol")
        .await
        .unwrap();

    // A kid is unique across agencies.
    let err = s
        .insert_agency_key(&key("k1", "agency-b", T0), "europol")
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(m) => assert!(m.contains("k1"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        s.get_agency_key("k1").await.unwrap().unwrap().agency_id,
        "agency-a"
    );

    let revoked = s
        .revoke_agency_key("k1", "compromised", T0 + 100, "europol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 100));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("compromised"));
    // The first revocation is kept.
    let again = s
        .revoke_agency_key("k1", "other", T0 + 200, "europol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(T0 + 100));
    assert_eq!(again.revoke_reason.as_deref(), Some("compromised"));
    assert_eq!(
        s.revoke_agency_key("nope", "x", T0, "europol")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_agency_key("nope").await.unwrap(), None);

    let kids = |ks: Vec<AgencyKey>| ks.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(s.list_agency_keys(&[]).await.unwrap()),
        ["k1", "k0", "k2"]
    );
    assert_eq!(
        kids(s.list_agency_keys(&["agency-a".into()]).await.unwrap()),
        ["k1", "k0"]
    );
    assert_eq!(
        kids(s.list_agency_keys(&["agency-z".into()]).await.unwrap()),
        Vec::<String>::new()
    );
}

async fn platforms_upsert_and_list<S: Store + Probe>(s: S) {
    let p = Platform {
        name: "video".into(),
        endpoint: "https://video.example:7443".into(),
        display_name: "Video".into(),
        registered_at: T0,
    };
    assert_eq!(s.upsert_platform(&p, "europol").await.unwrap(), p);
    let moved = Platform {
        endpoint: "https://video2.example:7443".into(),
        registered_at: T0 + 5,
        ..p.clone()
    };
    let stored = s.upsert_platform(&moved, "europol").await.unwrap();
    assert_eq!(stored.endpoint, "https://video2.example:7443");
    assert_eq!(stored.registered_at, T0);
    s.upsert_platform(
        &Platform {
            name: "audio".into(),
            ..p.clone()
        },
        "europol",
    )
    .await
    .unwrap();
    assert_eq!(s.get_platform("video").await.unwrap(), Some(stored));
    assert_eq!(s.get_platform("none").await.unwrap(), None);
    let names: Vec<String> = s
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
    s.upsert_organization(&a, "europol").await.unwrap();
    // The same registration again changes nothing and records nothing.
    s.upsert_organization(&a, "europol").await.unwrap();
    let renamed = Organization {
        display_name: "Agence A".into(),
        ..a.clone()
    };
    s.upsert_organization(&renamed, "coord-2").await.unwrap();
    let p = Platform {
        name: "video".into(),
        endpoint: "https://video.example:7443".into(),
        display_name: "Video".into(),
        registered_at: T0,
    };
    s.upsert_platform(&p, "europol").await.unwrap();
    let moved = Platform {
        endpoint: "https://video2.example:7443".into(),
        registered_at: T0 + 5,
        ..p.clone()
    };
    s.upsert_platform(&moved, "coord-2").await.unwrap();
    s.upsert_platform(&moved, "coord-2").await.unwrap();

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
