//! The command line against the real hub: a coordinator and an agency use `takedownctl` as
//! the README shows, and the hub answers health checks and reflection.

use std::process::Command;

use takedown_protocol::pb;
use takedown_tests::{Backend, hub::HubOptions, pki::COORDINATOR, world::World};

both_backends!(
    takedownctl_drives_the_real_hub,
    health_reflection_and_graceful_stop
);

/// `directory platform list --format json` as the coordinator: one object per platform.
fn platform_list(w: &World) -> Vec<serde_json::Value> {
    let (ok, out, err) = ctl(
        w,
        COORDINATOR,
        &["directory", "platform", "list", "--format", "json"],
    );
    assert!(ok, "{err}");
    match serde_json::from_str(&out).expect("json") {
        serde_json::Value::Array(platforms) => platforms,
        other => panic!("not a list: {other}"),
    }
}

/// Runs `takedownctl --hub <hub> --certs <pki> --as <org> args...`; returns (ok, stdout, stderr).
fn ctl(w: &World, org: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(takedown_tests::bins::path("takedownctl"));
    cmd.args(["--hub", &w.hub.endpoint, "--certs"])
        .arg(&w.pki.dir)
        .args(["--as", org])
        .args(args)
        .current_dir(w.dir.path());
    let run = takedown_tests::cli::Run::of(cmd);
    (run.success(), run.stdout, run.stderr)
}

async fn takedownctl_drives_the_real_hub(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let dir = w.dir.path();
    // The coordinator registers a new agency; the agency makes a key; the coordinator
    // registers it.
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "directory",
            "org",
            "add",
            "--id",
            "agency-nl",
            "--role",
            "agency",
        ],
    );
    assert!(ok, "{err}");
    w.pki
        .issue(takedown_protocol::ident::IdentityRole::Agency, "agency-nl");
    let (ok, _, err) = ctl(
        &w,
        "agency-nl",
        &["keys", "generate", "--kid", "nl-1", "--out", "keys"],
    );
    assert!(ok, "{err}");
    let pubkey = dir.join("keys/nl-1.pub.pem");
    // The coordinator publishes it in the next key-set statement, signed with the root.
    let root_key = w.pki.root_key();
    let add = format!("agency-nl:nl-1:{}", pubkey.display());
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "keys",
            "publish",
            "--root-key",
            root_key.to_str().unwrap(),
            "--add",
            &add,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("add key nl-1 of agency-nl"), "{out}");
    assert!(
        out.contains("published key-set statement version 2"),
        "{out}"
    );
    let (ok, out, err) = ctl(&w, COORDINATOR, &["directory", "key", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("key-set statement version 2") && out.contains("nl-1"),
        "{out}"
    );
    // A platform's cap on deliveries per minute, set and shown as the README says.
    let endpoint = w.endpoint("telegram");
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "directory",
            "platform",
            "add",
            "--name",
            "telegram",
            "--endpoint",
            &endpoint,
            "--max-per-minute",
            "600",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("at most 600 deliveries per minute"), "{out}");
    let caps: Vec<(String, u64)> = platform_list(&w)
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["max_per_minute"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert!(caps.contains(&("telegram".into(), 600)), "{caps:?}");
    assert!(caps.contains(&("x".into(), 0)), "{caps:?}");
    let (ok, out, err) = ctl(&w, COORDINATOR, &["directory", "platform", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("per minute") && out.contains("no cap"),
        "{out}"
    );
    // A platform that pulls, registered as the README says; --pull with an endpoint is
    // refused before anything is sent.
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &["directory", "platform", "add", "--name", "x", "--pull"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("pulling its deliveries"), "{out}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "directory",
            "platform",
            "add",
            "--name",
            "x",
            "--pull",
            "--endpoint",
            "https://127.0.0.1:1",
        ],
    );
    assert!(!ok && err.contains("--endpoint"), "{err}");
    let modes: Vec<(String, String)> = platform_list(&w)
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["delivery_mode"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(modes.contains(&("x".into(), "pull".into())), "{modes:?}");
    assert!(
        modes.contains(&("telegram".into(), "push".into())),
        "{modes:?}"
    );
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "action-day",
            "create",
            "--id",
            "cli-day",
            "--name",
            "CLI day",
            "--starts-at",
            "+1h",
            "--ends-at",
            "+2h",
            "--platform",
            "telegram",
            "--agency",
            "agency-nl",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("cli-day"), "{out}");
    // Moved as the README says, keeping its length; a past H-hour is refused.
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &["action-day", "move", "cli-day", "--starts-at", "+3h"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("moved action day cli-day"), "{out}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &["action-day", "move", "cli-day", "--starts-at", "now"],
    );
    assert!(!ok && err.contains("not in the future"), "{err}");
    // Staffed hours, set as the README says, and the warning of an H-hour outside them.
    let endpoint = w.endpoint("tamtam");
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "directory",
            "platform",
            "add",
            "--name",
            "tamtam",
            "--endpoint",
            &endpoint,
            "--time-zone",
            "Europe/Tallinn",
            "--staffed",
            "mon-fri 08:00-18:00",
            "--staffed",
            "sat 10:00-14:00",
            "--contact",
            "duty@tamtam.example",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("staffed mon-fri 08:00-18:00, sat 10:00-14:00 (Europe/Tallinn)"),
        "{out}"
    );
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "directory",
            "platform",
            "add",
            "--name",
            "tamtam",
            "--endpoint",
            &endpoint,
            "--time-zone",
            "Europe/Tallinn",
            "--staffed",
            "someday 08:00-18:00",
        ],
    );
    assert!(!ok && err.contains("\"someday\" is not a weekday"), "{err}");
    // Sunday 03:00 in Tallinn is 01:00 UTC in winter, 00:00 in summer: either way unstaffed.
    let sunday = next_sunday_utc_at_one();
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "action-day",
            "create",
            "--id",
            "cli-night",
            "--name",
            "CLI night",
            "--starts-at",
            &sunday,
            "--ends-at",
            "+30d",
            "--platform",
            "tamtam",
            "--agency",
            "agency-nl",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("warning: H-hour is outside tamtam's staffed hours: Sun ")
            && out.contains("(Europe/Tallinn, +0")
            && out.contains("contact duty@tamtam.example"),
        "{out}"
    );
    // The agency signs its CSV and submits it.
    std::fs::write(
        dir.join("nl.csv"),
        "platform,kind,target,category,legal_basis,removal_order_ref,note,issuing_authority,\
         member_state,issued_at,points,reasons,legal_statement,contact_point\n\
         telegram,channel,https://t.me/Demo_NL,terrorist-propaganda,tos_referral,,,,,,,,,\n\
         telegram,channel,@demo_nl,terrorist-propaganda,tos_referral,,same target,,,,,,,\n\
         telegram,post,https://t.me/demo_nl/42,terrorist-propaganda,removal_order,RO-NL-1,,\
         Politie,NL,2026-11-01T09:00:00Z,a,Calls to attack,Article 3 TCO,tco@politie.example\n",
    )
    .unwrap();
    let (ok, _, err) = ctl(
        &w,
        "agency-nl",
        &[
            "list",
            "sign",
            "--input",
            "nl.csv",
            "--kid",
            "nl-1",
            "--key",
            "keys/nl-1.key",
            "--action-day",
            "cli-day",
            "--list-id",
            "nl-list-1",
            "--out",
            "nl.signed.json",
        ],
    );
    assert!(ok, "{err}");
    let (ok, out_submit, err) = ctl(&w, "agency-nl", &["list", "submit", "nl.signed.json"]);
    assert!(ok, "{err}");
    assert!(out_submit.contains("nl-list-1"), "{out_submit}");
    let (ok, out, err) = ctl(
        &w,
        "agency-nl",
        &["list", "status", "nl-list-1", "--format", "json"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("embargoed"), "{out}");
    assert!(out.contains("demo_nl/42"), "{out}");
    // `list uphold` as the README shows it: a ToS referral has no cross-border order to
    // uphold, and the refusal says so in one line.
    let status: serde_json::Value = serde_json::from_str(&out).expect("status json");
    let target = status["items"][0]["target_id"]
        .as_str()
        .expect("a target id")
        .to_string();
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "list",
            "uphold",
            "--target",
            &target,
            "--reason",
            "no infringement",
        ],
    );
    assert!(!ok, "a ToS referral cannot be upheld on scrutiny");
    assert!(
        err.contains("INVALID_ARGUMENT") && err.contains("cross-border"),
        "{err}"
    );
    // `list preserve` as the README shows it, and a date in the past refused by the hub.
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "list",
            "preserve",
            "--target",
            &target,
            "--until",
            "+180d",
            "--authority",
            "Politie NL",
            "--reference",
            "NL-2026-7",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("preserved until") && out.contains("list(s) kept past retention"),
        "{out}"
    );
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "list",
            "preserve",
            "--target",
            &target,
            "--until",
            "2020-01-01T00:00:00Z",
            "--authority",
            "Politie NL",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("INVALID_ARGUMENT") && err.contains("until"),
        "{err}"
    );
    // Errors are one clear line: another agency cannot see the list; a bad list is refused.
    let (ok, _, err) = ctl(&w, "agency-fr", &["list", "status", "nl-list-1"]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("NOT_FOUND"), "{err}");
    // Resubmitting is idempotent.
    let (ok, again, err) = ctl(&w, "agency-nl", &["list", "submit", "nl.signed.json"]);
    assert!(ok, "{err}");
    assert_eq!(again, out_submit);
    let summary = w
        .as_org(COORDINATOR)
        .await
        .summary
        .get_action_day_summary(pb::GetActionDaySummaryRequest {
            action_day_id: "cli-day".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summary.platforms[0].referred, 2,
        "two spellings, one target, plus the post"
    );
    // The audit log through the command line: the export ends with the hub's signed head
    // (signed at the latest a minute after the chain grew; the close of a day signs at once).
    let (ok, _, err) = ctl(&w, COORDINATOR, &["action-day", "close", "cli-day"]);
    assert!(ok, "{err}");
    let (ok, _, err) = ctl(&w, COORDINATOR, &["audit", "head", "--out", "head.json"]);
    assert!(ok, "{err}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &["audit", "export", "--out", "audit.jsonl"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = ctl(&w, COORDINATOR, &["audit", "verify", "audit.jsonl"]);
    assert!(
        ok && out.contains("signed head: the hub (hub) signed the first"),
        "{out}{err}"
    );
    let text = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let cut: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("cut.jsonl"), cut).unwrap();
    let (ok, out, _) = ctl(&w, COORDINATOR, &["audit", "verify", "cut.jsonl"]);
    assert!(ok && out.contains("no signed head"), "{out}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &["audit", "verify", "cut.jsonl", "--head", "head.json"],
    );
    assert!(!ok);
    assert!(
        err.contains("cut short") && err.contains("entries 4 to"),
        "{err}"
    );

    // The key turns out compromised since an hour ago: the coordinator is told that the
    // embargoed list is void, before H-hour.
    let an_hour_ago =
        takedown_protocol::timestamp::utc(takedown_protocol::timestamp::now_millis() / 1000 - 3600);
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "keys",
            "publish",
            "--root-key",
            root_key.to_str().unwrap(),
            "--compromise",
            "nl-1",
            "--at",
            &an_hour_ago,
            "--reason",
            "key leaked",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("1 list(s) signed with a key now compromised")
            && out.contains("nl-list-1 of agency-nl")
            && out.contains("still embargoed"),
        "{out}"
    );
    // A root the hub does not pin cannot publish.
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &["keys", "generate-root", "--out", "rogue"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "keys",
            "publish",
            "--root-key",
            "rogue/root.key",
            "--trust-root",
            w.pki.root_public().to_str().unwrap(),
            "--retire",
            "nl-1",
        ],
    );
    assert!(!ok);
    assert!(err.contains("which is not a trusted root"), "{err}");

    // Offline signing: the newest statement carried to the signing machine, the next one
    // carried back and uploaded.
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &["keys", "current", "--out", "statement.jws"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "keys",
            "publish",
            "--root-key",
            root_key.to_str().unwrap(),
            "--retire",
            "nl-1",
            "--out",
            "next.jws",
        ],
    );
    assert!(!ok && err.contains("--current FILE"), "{err}");
    let (ok, out, err) = ctl(
        &w,
        COORDINATOR,
        &[
            "keys",
            "publish",
            "--root-key",
            root_key.to_str().unwrap(),
            "--current",
            "statement.jws",
            "--retire",
            "nl-1",
            "--out",
            "next.jws",
        ],
    );
    assert!(
        ok && out.contains("signed statement version 4"),
        "{out}{err}"
    );
    let (ok, out, err) = ctl(&w, COORDINATOR, &["keys", "upload", "next.jws"]);
    assert!(
        ok && out.contains("published key-set statement version 4"),
        "{out}{err}"
    );
}

async fn health_reflection_and_graceful_stop(backend: Backend) {
    let Some(mut w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let ch = takedown_net::connect(
        &w.hub.endpoint,
        &w.pki.material(COORDINATOR),
        Some(takedown_tests::pki::identity(
            takedown_protocol::ident::IdentityRole::Hub,
            "hub",
        )),
    )
    .await
    .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    for service in [
        "",
        "takedown.v1.ReferralService",
        "takedown.v1.SummaryService",
    ] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service}"
        );
    }
    // Reflection, in v1 and in v1alpha (all that grpcio-reflection speaks): the services the
    // hub serves, and not the sidecars' ReceiverService that shares their descriptor set.
    let v1 = {
        use tonic_reflection::pb::v1::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(ch.clone())
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("no service list")
        };
        list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
    };
    let v1alpha = {
        use tonic_reflection::pb::v1alpha::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(ch)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("no v1alpha service list")
        };
        list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
    };
    for names in [&v1, &v1alpha] {
        for s in [
            "takedown.v1.ReferralService",
            "takedown.v1.DirectoryService",
            "takedown.v1.PlatformService",
            "takedown.v1.TransparencyService",
            "grpc.health.v1.Health",
        ] {
            assert!(names.iter().any(|n| n == s), "{s} not in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n == "takedown.v1.ReceiverService"),
            "the hub does not serve ReceiverService: {names:?}"
        );
    }
    // SIGTERM: the hub drains and exits cleanly.
    assert!(
        w.hub.stop(),
        "the hub exits 0 on SIGTERM:\n{}",
        w.hub.log_tail()
    );
    assert!(w.hub.log_text().contains("hub stopped"));
}

/// The next Sunday at 01:00 UTC, at least a day from now, in RFC 3339.
fn next_sunday_utc_at_one() -> String {
    let mut date = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .unwrap();
    while date.weekday() != jiff::civil::Weekday::Sunday {
        date = date.tomorrow().unwrap();
    }
    format!("{date}T01:00:00Z")
}
