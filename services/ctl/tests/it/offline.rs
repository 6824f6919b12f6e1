//! Commands that need no hub: certificates, keys, signing; and the error line.

use prost::Message;
use takedown_ctl::{envelope::Envelope, listfile};
use takedown_net::TlsMaterial;
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    merkle,
    pb::Referral,
    signing,
};

use crate::helpers::{Workdir, demo};

#[test]
fn certs_dev_writes_a_pki_and_refuses_to_overwrite_it() {
    let w = Workdir::new();
    let out = w.run(&["certs", "dev", "--out", "pki"]);
    assert!(out.ok().contains("urn:takedown:hub:hub"));
    for stem in [
        "hub",
        "europol",
        "agency-fr",
        "agency-de",
        "telegram",
        "tamtam",
        "x",
    ] {
        let m = TlsMaterial::load_dir(&w.path("pki"), stem).unwrap();
        let id = m.identity().unwrap();
        assert_eq!(id.id.as_str(), stem);
    }
    let fr = TlsMaterial::load_dir(&w.path("pki"), "agency-fr").unwrap();
    assert_eq!(
        fr.identity().unwrap(),
        Identity::new(IdentityRole::Agency, OrgId::parse("agency-fr").unwrap())
    );
    let ca_before = std::fs::read(w.path("pki/ca.pem")).unwrap();

    let again = w.run(&["certs", "dev", "--out", "pki"]);
    assert!(again.one_error_line().contains("--force"));
    assert_eq!(std::fs::read(w.path("pki/ca.pem")).unwrap(), ca_before);

    w.run(&[
        "certs",
        "dev",
        "--out",
        "pki",
        "--force",
        "--agency",
        "agency-nl",
    ])
    .ok();
    assert_ne!(std::fs::read(w.path("pki/ca.pem")).unwrap(), ca_before);
    assert!(TlsMaterial::load_dir(&w.path("pki"), "agency-nl").is_ok());

    // One more certificate from the same CA.
    w.run(&[
        "--certs", "pki", "certs", "issue", "--role", "platform", "--id", "youtube",
    ])
    .ok();
    let yt = TlsMaterial::load_dir(&w.path("pki"), "youtube").unwrap();
    assert_eq!(yt.identity().unwrap().role, IdentityRole::Platform);
    let again = w.run(&[
        "--certs", "pki", "certs", "issue", "--role", "platform", "--id", "youtube",
    ]);
    assert!(again.one_error_line().contains("already exists"));
}

#[test]
fn keys_generate_writes_a_pair_once() {
    let w = Workdir::new();
    w.run(&["keys", "generate", "--kid", "fr-2026"]).ok();
    let private = std::fs::read_to_string(w.path("keys/fr-2026.key")).unwrap();
    assert!(private.contains("BEGIN PRIVATE KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path("keys/fr-2026.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = w.run(&["keys", "generate", "--kid", "fr-2026"]);
    assert!(again.one_error_line().contains("refusing to overwrite"));
}

#[test]
fn list_sign_writes_an_envelope_that_verifies() {
    let w = Workdir::new();
    w.run(&["keys", "generate", "--kid", "fr-1", "--out", "k"])
        .ok();
    let input = demo("agency-fr.csv");
    let out = w.run(&[
        "list",
        "sign",
        "--input",
        &input,
        "--agency",
        "agency-fr",
        "--kid",
        "fr-1",
        "--key",
        "k/fr-1.key",
        "--action-day",
        "ad-2026-11",
        "--list-id",
        "fr-list-1",
        "--lifetime",
        "2h",
    ]);
    assert!(out.ok().contains("fr-list-1.signed.json"), "{}", out.stdout);

    let envelope = Envelope::read(&w.path("fr-list-1.signed.json")).unwrap();
    let expected = listfile::read_referrals(std::path::Path::new(&input)).unwrap();
    assert_eq!(envelope.list_id, "fr-list-1");
    assert_eq!(envelope.agency_id, "agency-fr");
    assert_eq!(envelope.action_day_id.as_deref(), Some("ad-2026-11"));
    assert_eq!(envelope.items, expected.len() as u64);

    let list = envelope.decode_list().unwrap();
    let items: Vec<Referral> = list
        .items
        .iter()
        .map(|b| Referral::decode(b.as_slice()).unwrap())
        .collect();
    assert_eq!(items, expected);

    let public = std::fs::read(w.path("k/fr-1.pub.pem")).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = signing::verify(&envelope.signature, &public, "takedown-hub", now).unwrap();
    assert_eq!(signing::key_id(&envelope.signature).unwrap(), "fr-1");
    assert_eq!(claims.iss, "agency-fr");
    assert_eq!(claims.jti, "fr-list-1");
    assert_eq!(claims.action_day.as_deref(), Some("ad-2026-11"));
    assert_eq!(claims.item_count, expected.len() as u64);
    assert_eq!(claims.exp - claims.iat, 7200);
    assert_eq!(claims.root(), Some(merkle::root(&list.items)));

    // Another key does not verify it.
    w.run(&["keys", "generate", "--kid", "other", "--out", "k"])
        .ok();
    let other = std::fs::read(w.path("k/other.pub.pem")).unwrap();
    assert!(signing::verify(&envelope.signature, &other, "takedown-hub", now).is_err());
}

#[test]
fn list_sign_defaults_to_a_uuid_v7_and_the_as_agency() {
    let w = Workdir::new();
    w.run(&["keys", "generate", "--kid", "de-1", "--out", "k"])
        .ok();
    let input = w.path("l.json");
    std::fs::write(
        &input,
        r#"[{"platform":"telegram","kind":"channel","target":"@demo_channel_0001","legal_basis":"tos"}]"#,
    )
    .unwrap();
    w.run(&[
        "--as",
        "agency-de",
        "list",
        "sign",
        "--input",
        "l.json",
        "--kid",
        "de-1",
        "--key",
        "k/de-1.key",
    ])
    .ok();
    let files: Vec<String> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".signed.json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let envelope = Envelope::read(&w.path(&files[0])).unwrap();
    let id = uuid::Uuid::parse_str(&envelope.list_id).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(envelope.agency_id, "agency-de");
    assert_eq!(envelope.action_day_id, None);
    assert_eq!(envelope.items, 1);
}

#[test]
fn bad_inputs_give_one_error_line() {
    let w = Workdir::new();
    w.run(&["keys", "generate", "--kid", "fr-1", "--out", "k"])
        .ok();
    std::fs::write(
        w.path("bad.csv"),
        "platform,kind,target,category,legal_basis,removal_order_ref,note\n\
         telegram,channel,@demo_channel_0001,c,tos_referral,,\n\
         telegram,blog,@demo_channel_0002,c,tos_referral,,\n",
    )
    .unwrap();
    let sign = |input: &str, extra: &[&str]| {
        let mut args = vec![
            "list",
            "sign",
            "--input",
            input,
            "--agency",
            "agency-fr",
            "--kid",
            "fr-1",
            "--key",
            "k/fr-1.key",
        ];
        args.extend_from_slice(extra);
        w.run(&args)
    };
    let line = sign("bad.csv", &[]).one_error_line().to_string();
    assert!(
        line.starts_with("error: bad.csv: line 3, column \"kind\": unknown kind \"blog\""),
        "{line}"
    );
    let line = sign("bad.csv", &["--lifetime", "25h"])
        .one_error_line()
        .to_string();
    assert!(line.contains("--lifetime"), "{line}");
    std::fs::write(
        w.path("ok.csv"),
        "platform,kind,target,legal_basis\ntelegram,bot,@demo_bot,tos\n",
    )
    .unwrap();
    let r = w.run(&[
        "list",
        "sign",
        "--input",
        "ok.csv",
        "--agency",
        "agency-fr",
        "--kid",
        "fr-1",
        "--key",
        "k/missing.key",
    ]);
    assert!(r.one_error_line().contains("cannot read signing key"));
    assert!(!w.path("bad.signed.json").exists());
}

#[test]
fn an_unreachable_hub_is_one_error_line() {
    let w = Workdir::new();
    w.run(&["certs", "dev", "--out", "pki"]).ok();
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hub = format!("https://127.0.0.1:{port}");
    let r = w.run(&[
        "--hub",
        &hub,
        "--certs",
        "pki",
        "--as",
        "agency-fr",
        "list",
        "status",
        "some-list",
    ]);
    let line = r.one_error_line();
    assert!(
        line.starts_with(&format!("error: cannot connect to {hub}")),
        "{line}"
    );

    // Without an identity, the message says how to give one.
    let r = w.run(&["--hub", &hub, "--certs", "pki", "hold", "list"]);
    assert!(r.one_error_line().contains("--as ORG"));
    let r = w.run(&[
        "--hub", &hub, "--certs", "pki", "--as", "nobody", "hold", "list",
    ]);
    assert!(
        r.one_error_line()
            .contains("no certificate for nobody in pki")
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let w = Workdir::new();
    assert_eq!(w.run(&["list", "sign"]).code, 2);
    assert_eq!(w.run(&["no-such-command"]).code, 2);
    assert_eq!(
        w.run(&["directory", "org", "add", "--id", "a", "--role", "king"])
            .code,
        2
    );
}
