//! Signed intake: submit, status, merging across agencies, idempotency, and every bad input
//! refused whole with nothing stored.

use prost::Message;
use takedown_protocol::{
    list::ListSpec,
    pb::{self, TargetState},
    signing::{self, ListClaims},
    timestamp::now_millis,
};
use takedown_tests::{
    Backend,
    hub::HubOptions,
    lists::{AgencyKey, referral, referrals, removal_order, request},
    pki::{self, COORDINATOR},
    world::{World, statement_key},
};
use tonic::Code;

both_backends!(
    submit_status_and_merge_across_agencies,
    every_bad_input_is_refused_whole
);

async fn submit_status_and_merge_across_agencies(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let (fr, de) = (w.key("agency-fr"), w.key("agency-de"));
    let mut fr_c = w.as_org("agency-fr").await;
    let mut de_c = w.as_org("agency-de").await;

    // Four items, two of which are one Telegram target written two ways.
    let fr_list = fr.list(
        "fr-1",
        None,
        vec![
            referral("telegram", "https://t.me/Foo"),
            referral("telegram", "@bar"),
            referral("x", "https://twitter.com/Baz"),
            referral("telegram", "t.me/foo"),
        ],
    );
    let a = fr_c
        .referral
        .submit_referral_list(request(&fr_list))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((a.items, a.new_targets, a.merged_duplicates), (4, 3, 1));
    assert_eq!(
        a.target_ids[0], a.target_ids[3],
        "same target, two spellings"
    );

    // Another agency names the same target: one target, two referrals.
    let de_list = de.list(
        "de-1",
        None,
        vec![
            referral("telegram", "foo"),
            referral("x", "@baz"),
            referral("tamtam", "@q"),
        ],
    );
    let b = de_c
        .referral
        .submit_referral_list(request(&de_list))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((b.items, b.new_targets, b.merged_duplicates), (3, 1, 2));
    assert_eq!(b.target_ids[0], a.target_ids[0]);
    assert_eq!(b.target_ids[1], a.target_ids[2]);
    assert_eq!(w.db.intake_counts().await, [2, 4, 7, 4]);

    // Status: the owner and coordinators see it; another agency cannot tell it exists.
    let status = fr_c
        .referral
        .get_list_status(pb::GetListStatusRequest {
            list_id: "fr-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.item_count, 4);
    assert_eq!(status.items.len(), 4);
    assert_eq!(status.items[0].normalized_target, "foo");
    assert_eq!(status.items[2].normalized_target, "baz");
    for item in &status.items {
        // Standing scope: released at once (no sidecar runs in this test).
        assert_eq!(item.state(), TargetState::Released, "{item:?}");
    }
    let other = de_c
        .referral
        .get_list_status(pb::GetListStatusRequest {
            list_id: "fr-1".into(),
        })
        .await;
    assert_eq!(other.unwrap_err().code(), Code::NotFound);
    let coord = w
        .as_org(COORDINATOR)
        .await
        .referral
        .get_list_status(pb::GetListStatusRequest {
            list_id: "fr-1".into(),
        })
        .await;
    assert!(coord.is_ok());

    // Idempotent: the identical list again gives the same answer and stores nothing new.
    let again = fr_c
        .referral
        .submit_referral_list(request(&fr_list))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, a);
    assert_eq!(w.db.intake_counts().await, [2, 4, 7, 4]);
}

/// Submits `req` as `as_org`, expects `code` and a message containing `needle`, and checks
/// that nothing was stored.
async fn refused(
    w: &World,
    as_org: &str,
    req: pb::SubmitReferralListRequest,
    code: Code,
    needle: &str,
) {
    let before = w.db.intake_counts().await;
    let list_id = pb::ReferralList::decode(req.list.as_slice())
        .map(|l| l.list_id)
        .unwrap_or_default();
    let err = w
        .as_org(as_org)
        .await
        .referral
        .submit_referral_list(req)
        .await
        .expect_err("the hub must refuse this list");
    assert_eq!(err.code(), code, "{needle}: {}", err.message());
    assert!(
        err.message().contains(needle),
        "message {:?} should name {needle:?}",
        err.message()
    );
    assert_eq!(
        w.db.intake_counts().await,
        before,
        "nothing stored for: {needle}"
    );
    if !list_id.is_empty() && list_id != "kept" {
        let st = w
            .as_org(COORDINATOR)
            .await
            .referral
            .get_list_status(pb::GetListStatusRequest { list_id })
            .await;
        assert_eq!(st.unwrap_err().code(), Code::NotFound, "{needle}");
    }
}

fn claims_for(spec: &ListSpec, items: &[Vec<u8>]) -> ListClaims {
    ListClaims {
        iss: spec.agency_id.clone(),
        aud: spec.audience.clone(),
        jti: spec.list_id.clone(),
        iat: spec.issued_at,
        exp: spec.issued_at + spec.lifetime_secs,
        nbf: None,
        action_day: spec.action_day_id.clone(),
        item_count: items.len() as u64,
        merkle_root: hex::encode(takedown_protocol::merkle::root(items)),
    }
}

fn encode_list(spec: &ListSpec, items: Vec<Vec<u8>>) -> Vec<u8> {
    pb::ReferralList {
        list_id: spec.list_id.clone(),
        agency_id: spec.agency_id.clone(),
        action_day_id: spec.action_day_id.clone(),
        created_at: None,
        items,
    }
    .encode_to_vec()
}

async fn every_bad_input_is_refused_whole(backend: Backend) {
    let opts = HubOptions {
        max_list_items: 1_000,
        max_list_bytes: 1 << 20,
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let fr = w.key("agency-fr").clone();
    let de = w.key("agency-de").clone();
    let two = || vec![referral("telegram", "@one"), referral("x", "@two")];
    let inv = Code::InvalidArgument;

    // Forged: the right kid, another private key.
    let forger = AgencyKey::generate("agency-fr", &fr.kid);
    refused(
        &w,
        "agency-fr",
        request(&forger.list("l-forged", None, two())),
        inv,
        "does not verify",
    )
    .await;
    // Signed with another agency's key.
    let mut spec = fr.spec("l-otherkey", None, two());
    spec.agency_id = "agency-fr".into();
    let s = de.sign(&spec);
    refused(
        &w,
        "agency-fr",
        request(&s),
        Code::PermissionDenied,
        "belongs to another agency",
    )
    .await;
    // Unknown kid.
    let stranger = AgencyKey::generate("agency-fr", "never-registered");
    refused(
        &w,
        "agency-fr",
        request(&stranger.list("l-unknown", None, two())),
        inv,
        "is not in the coordinator's key-set statement",
    )
    .await;
    // A compromised key: lists it signs from the time named are void; a retired key
    // signs no new list; a key of another agency is not the caller's.
    let k2 = AgencyKey::generate("agency-fr", "agency-fr-k2");
    let k3 = AgencyKey::generate("agency-fr", "agency-fr-k3");
    let since = now_millis() / 1000 - 600;
    w.publish_keys(|s| {
        let mut lost = statement_key(&k2);
        lost.compromised_since = Some(since);
        lost.reason = "laptop stolen".into();
        let mut old = statement_key(&k3);
        old.retired_at = Some(since);
        s.keys.extend([lost, old]);
    })
    .await;
    refused(
        &w,
        "agency-fr",
        request(&k2.list("l-compromised", None, two())),
        inv,
        "is compromised since",
    )
    .await;
    refused(
        &w,
        "agency-fr",
        request(&k3.list("l-retired", None, two())),
        inv,
        "was retired at",
    )
    .await;
    // Expired, not yet valid, too long a lifetime, wrong audience.
    let now = now_millis() / 1000;
    let mut spec = fr.spec("l-expired", None, two());
    spec.issued_at = now - 7_200;
    spec.lifetime_secs = 3_600;
    refused(&w, "agency-fr", request(&fr.sign(&spec)), inv, "expired").await;
    let mut spec = fr.spec("l-future", None, two());
    spec.issued_at = now + 3_600;
    refused(
        &w,
        "agency-fr",
        request(&fr.sign(&spec)),
        inv,
        "not yet valid",
    )
    .await;
    let mut spec = fr.spec("l-long", None, two());
    spec.lifetime_secs = 25 * 3_600;
    refused(
        &w,
        "agency-fr",
        request(&fr.sign(&spec)),
        inv,
        "exceeds the 24 h",
    )
    .await;
    let mut spec = fr.spec("l-aud", None, two());
    spec.audience = "another-hub".into();
    refused(&w, "agency-fr", request(&fr.sign(&spec)), inv, "audience").await;
    // Issuer is not the caller: agency-de submits agency-fr's list...
    refused(
        &w,
        "agency-de",
        request(&fr.list("l-notmine", None, two())),
        Code::PermissionDenied,
        "is not the caller",
    )
    .await;
    // ...and a list of agency-de whose signature claims agency-fr as issuer.
    let spec = de.spec("l-iss", None, two());
    let items: Vec<Vec<u8>> = spec.referrals.iter().map(Message::encode_to_vec).collect();
    let mut claims = claims_for(&spec, &items);
    claims.iss = "agency-fr".into();
    let jws = signing::sign(&claims, &de.kid, de.private_pem.as_bytes()).unwrap();
    let req = pb::SubmitReferralListRequest {
        list: encode_list(&spec, items),
        signature: jws,
    };
    refused(
        &w,
        "agency-de",
        req,
        Code::PermissionDenied,
        "signature issuer",
    )
    .await;
    // Merkle root and item count that do not match the items.
    let s = fr.list("l-root", None, two());
    let mut list = pb::ReferralList::decode(s.list.as_slice()).unwrap();
    list.items[1] = referral("x", "@swapped").encode_to_vec();
    let req = pb::SubmitReferralListRequest {
        list: list.encode_to_vec(),
        signature: s.signature.clone(),
    };
    refused(&w, "agency-fr", req, inv, "Merkle root").await;
    let mut list = pb::ReferralList::decode(s.list.as_slice()).unwrap();
    list.items.push(referral("x", "@extra").encode_to_vec());
    let req = pb::SubmitReferralListRequest {
        list: list.encode_to_vec(),
        signature: s.signature.clone(),
    };
    refused(&w, "agency-fr", req, inv, "item count").await;
    // Items that fail: does not decode, unknown platform, empty target — named by index.
    let spec = fr.spec("l-decode", None, vec![]);
    let items = vec![
        referral("telegram", "@ok").encode_to_vec(),
        vec![0xff, 0xff, 0xff],
    ];
    refused(
        &w,
        "agency-fr",
        request(&fr.sign_raw(&spec, items)),
        inv,
        "item 1: does not decode",
    )
    .await;
    let s = fr.list(
        "l-platform",
        None,
        vec![referral("telegram", "@ok"), referral("myspace", "@tom")],
    );
    refused(
        &w,
        "agency-fr",
        request(&s),
        inv,
        "item 1: unknown platform",
    )
    .await;
    let s = fr.list("l-empty-target", None, vec![referral("telegram", "   ")]);
    refused(&w, "agency-fr", request(&s), inv, "item 0: empty target").await;
    // A removal order lacking what Annex I of the TCO regulation asks it to state, and a
    // ToS referral that carries an order's content: named by index and field.
    let mut no_state = removal_order("telegram", "@ro_no_state", "RO-1");
    if let Some(o) = no_state.removal_order.as_mut() {
        o.member_state = "CH".into();
    }
    refused(
        &w,
        "agency-fr",
        request(&fr.list("l-annex", None, vec![referral("telegram", "@ok"), no_state])),
        inv,
        "item 1: removal_order.member_state: \"CH\" is not an EU member state",
    )
    .await;
    let mut bare = removal_order("telegram", "@ro_bare", "RO-2");
    bare.removal_order = None;
    refused(
        &w,
        "agency-fr",
        request(&fr.list("l-bare", None, vec![bare])),
        inv,
        "item 0: removal_order.issuing_authority: a removal order states its Annex I content",
    )
    .await;
    let mut tos = referral("telegram", "@tos_with_order");
    tos.removal_order = removal_order("telegram", "@x", "RO-3").removal_order;
    refused(
        &w,
        "agency-fr",
        request(&fr.list("l-tos-order", None, vec![tos])),
        inv,
        "item 0: only a removal order (legal_basis REMOVAL_ORDER) carries Annex I details",
    )
    .await;
    // Empty list.
    let spec = fr.spec("l-empty", None, vec![]);
    refused(
        &w,
        "agency-fr",
        request(&fr.sign_raw(&spec, vec![])),
        inv,
        "list is empty",
    )
    .await;
    // Too many items, too many bytes.
    let s = fr.list("l-many", None, referrals("telegram", "many", 1_001));
    refused(
        &w,
        "agency-fr",
        request(&s),
        Code::ResourceExhausted,
        "limit is 1000",
    )
    .await;
    let mut big = referrals("telegram", "big", 600);
    for r in &mut big {
        r.note = "n".repeat(2_000);
    }
    refused(
        &w,
        "agency-fr",
        request(&fr.list("l-bytes", None, big)),
        Code::ResourceExhausted,
        "bytes",
    )
    .await;
    // A list that does not decode at all.
    let req = pb::SubmitReferralListRequest {
        list: vec![0xff; 10],
        signature: "x.y.z".into(),
    };
    refused(&w, "agency-fr", req, inv, "does not decode").await;

    // Same list id: different content is refused, identical content is idempotent.
    let ok = fr.list("kept", None, two());
    let first = w
        .as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&ok))
        .await
        .unwrap()
        .into_inner();
    let changed = fr.list("kept", None, vec![referral("telegram", "@other")]);
    refused(
        &w,
        "agency-fr",
        request(&changed),
        Code::AlreadyExists,
        "kept",
    )
    .await;
    let before = w.db.intake_counts().await;
    let again = w
        .as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&ok))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(w.db.intake_counts().await, before);

    // No certificate, and a certificate from an untrusted CA: the handshake fails.
    let before = w.db.intake_counts().await;
    let rogue = pki::untrusted_material(
        &w.pki,
        "agency-fr",
        takedown_protocol::ident::IdentityRole::Agency,
    );
    // With TLS 1.3 the client may finish its side of the handshake before the server
    // refuses the certificate: the refusal then surfaces on first use.
    let untrusted = async {
        let mut c = takedown_tests::clients::Clients::connect(&w.hub.endpoint, &rogue)
            .await
            .ok()?;
        c.referral
            .submit_referral_list(request(&fr.list("l-rogue", None, two())))
            .await
            .ok()
    };
    assert!(
        untrusted.await.is_none(),
        "a certificate from an untrusted CA must be refused"
    );
    let ca = std::fs::read(w.pki.ca_pem()).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .domain_name("localhost")
        .ca_certificate(tonic::transport::Certificate::from_pem(ca));
    let no_cert = async {
        let ch =
            tonic::transport::Endpoint::from_shared(format!("https://localhost:{}", w.hub.port))
                .ok()?
                .tls_config(tls)
                .ok()?
                .connect()
                .await
                .ok()?;
        pb::referral_service_client::ReferralServiceClient::new(ch)
            .submit_referral_list(request(&fr.list("l-nocert", None, two())))
            .await
            .ok()
    };
    assert!(
        no_cert.await.is_none(),
        "a caller without a certificate must be refused"
    );
    assert_eq!(w.db.intake_counts().await, before);
    // The hub says which handshakes it refused, and why.
    takedown_tests::eventually(
        takedown_tests::LONG,
        "the hub logs both refused handshakes with their reasons",
        || async {
            let log = w.hub.log_text();
            log.contains("refused a TLS handshake")
                && log.contains("UnknownIssuer")
                && log.contains("peer sent no certificates")
        },
    )
    .await;
}
