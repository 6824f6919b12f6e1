//! Organisations, agency keys and platforms.

use takedown_store::*;

use crate::support::*;

conformance!(
    organizations_upsert_and_list,
    agency_keys_conflict_revoke_and_list,
    platforms_upsert_and_list
);

async fn organizations_upsert_and_list<S: Store + Probe>(s: S) {
    assert_eq!(s.get_organization("agency-a").await.unwrap(), None);
    let a = s
        .upsert_organization(&org("agency-a", Role::Agency))
        .await
        .unwrap();
    assert_eq!(a, org("agency-a", Role::Agency));
    s.upsert_organization(&org("europol", Role::Coordinator))
        .await
        .unwrap();

    // An update changes role and display name but keeps the registration time.
    let changed = Organization {
        role: Role::Coordinator,
        display_name: "renamed".into(),
        registered_at: T0 + 99,
        ..org("agency-a", Role::Agency)
    };
    let stored = s.upsert_organization(&changed).await.unwrap();
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
    s.insert_agency_key(&key("k2", "agency-b", T0))
        .await
        .unwrap();
    s.insert_agency_key(&key("k1", "agency-a", T0 + 10))
        .await
        .unwrap();
    s.insert_agency_key(&key("k0", "agency-a", T0 + 20))
        .await
        .unwrap();

    // A kid is unique across agencies.
    let err = s
        .insert_agency_key(&key("k1", "agency-b", T0))
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
        .revoke_agency_key("k1", "compromised", T0 + 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 100));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("compromised"));
    // The first revocation is kept.
    let again = s
        .revoke_agency_key("k1", "other", T0 + 200)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(T0 + 100));
    assert_eq!(again.revoke_reason.as_deref(), Some("compromised"));
    assert_eq!(s.revoke_agency_key("nope", "x", T0).await.unwrap(), None);
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
    assert_eq!(s.upsert_platform(&p).await.unwrap(), p);
    let moved = Platform {
        endpoint: "https://video2.example:7443".into(),
        registered_at: T0 + 5,
        ..p.clone()
    };
    let stored = s.upsert_platform(&moved).await.unwrap();
    assert_eq!(stored.endpoint, "https://video2.example:7443");
    assert_eq!(stored.registered_at, T0);
    s.upsert_platform(&Platform {
        name: "audio".into(),
        ..p.clone()
    })
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
