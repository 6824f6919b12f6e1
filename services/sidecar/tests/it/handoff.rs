//! Handoff to the platform: webhook (with decisions posted back) and command modes, and a
//! handoff interrupted by a restart.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use takedown_protocol::pb;
use takedown_sidecar::document::{HandoffBatch, Kind};

use takedown_tests::{eventually, lists::AgencyKey, receiver::*};

#[derive(Clone, Default)]
struct FakePlatform {
    batches: Arc<Mutex<Vec<HandoffBatch>>>,
    attempts: Arc<AtomicUsize>,
    /// The `Idempotency-Key` header of every attempt.
    keys: Arc<Mutex<Vec<String>>>,
}

async fn hook(State(p): State<FakePlatform>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // A platform checks the batch's signature before anything else.
    if standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&body, &headers)
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    let n = p.attempts.fetch_add(1, Ordering::SeqCst);
    p.keys.lock().unwrap().push(
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret") {
        return StatusCode::UNAUTHORIZED;
    }
    if n == 0 {
        return StatusCode::SERVICE_UNAVAILABLE; // the first attempt fails: retried
    }
    match serde_json::from_slice::<HandoffBatch>(&body) {
        Ok(b) => {
            p.batches.lock().unwrap().push(b);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// Posts decisions as the platform does: signed with the shared secret, a new message id.
async fn post_decisions(addr: std::net::SocketAddr, json: &str) -> (StatusCode, serde_json::Value) {
    let id = format!("msg_{}", uuid::Uuid::now_v7());
    post_raw(addr, json, &signed_headers(&id, json.as_bytes())).await
}

async fn post_raw(
    addr: std::net::SocketAddr,
    json: &str,
    headers: &[(&'static str, String)],
) -> (StatusCode, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::post(format!("http://{addr}/v1/decisions"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = req.body(Full::new(Bytes::from(json.to_string()))).unwrap();
    let resp = client.request(req).await.expect("decisions endpoint");
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A fake platform's webhook receiver, and a sidecar in webhook mode handing to it.
async fn webhook_sidecar(
    env: &Env,
    hub_addr: std::net::SocketAddr,
) -> (FakePlatform, InProcessSidecar) {
    let platform = FakePlatform::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = l.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(platform.clone());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let cfg = env.config(
        hub_addr,
        PLATFORM,
        &format!("mode = \"webhook\"\nurl = \"http://{hook_addr}/hook\"\ntoken = \"s3cret\"\nsecret = \"{SECRET}\""),
    );
    (platform, InProcessSidecar::start(cfg).await)
}

#[tokio::test]
async fn webhook_receives_batches_and_decisions_come_back() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let (platform, sidecar) = webhook_sidecar(&env, hub_addr).await;
    let list = key.delivered("list-1", channels("chan", 3));
    let deliveries: Vec<_> = (0..3).map(|i| list.takedown(i)).collect();
    let targets: Vec<String> = deliveries.iter().map(|d| d.target_id.clone()).collect();

    sidecar
        .client(&env, "hub")
        .await
        .deliver(batch("b1", &[&list], deliveries))
        .await
        .expect("deliver");

    eventually(
        std::time::Duration::from_secs(20),
        "3 acknowledgements",
        || async { kinds(&hub.reports()).0 == 3 },
    )
    .await;
    let batches = platform.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), 1, "handed once, after one failed attempt");
    assert!(platform.attempts.load(Ordering::SeqCst) >= 2);
    let b = &batches[0];
    assert_eq!(b.platform, PLATFORM);
    let keys = platform.keys.lock().unwrap().clone();
    assert!(
        keys.iter().all(|k| *k == b.handoff_id),
        "the failed attempt and its retry carry the batch id as Idempotency-Key: {keys:?}"
    );
    let keys: Vec<String> = b
        .targets
        .iter()
        .map(|t| t.idempotency_key.clone())
        .collect();
    let want: Vec<String> = targets.iter().map(|t| format!("{t}:takedown")).collect();
    assert_eq!(keys, want, "one idempotency key per target and kind");
    let got: Vec<&str> = b.targets.iter().map(|t| t.target_id.as_str()).collect();
    assert_eq!(got, targets.iter().map(String::as_str).collect::<Vec<_>>());
    let t0 = &b.targets[0];
    assert_eq!(t0.kind, Kind::Takedown);
    assert_eq!(t0.normalized_target, "chan0");
    assert_eq!(t0.target_kind, "CHANNEL");
    assert_eq!(t0.referrals[0].agency_id, AGENCY);
    assert_eq!(t0.referrals[0].target, "https://t.me/chan0");
    assert_eq!(t0.referrals[0].legal_basis, "TOS_REFERRAL");
    assert_eq!(
        t0.referrals[0].evidence_sha256.as_deref(),
        Some(&*hex::encode([7u8; 32]))
    );

    // A decision naming a target the sidecar does not hold refuses the whole post.
    let (status, body) = post_decisions(
        sidecar.decisions,
        &format!(
            r#"[{{"target_id":"{}","outcome":"BLOCKED"}},{{"target_id":"t-nowhere","outcome":"BLOCKED"}}]"#,
            targets[0]
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["unknown"], serde_json::json!(["t-nowhere"]));
    let (status, body) = post_decisions(
        sidecar.decisions,
        &format!(r#"[{{"target_id":"{}","outcome":"REJECTED"}}]"#, targets[1]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let good = format!(
        r#"[{{"target_id":"{}","outcome":"BLOCKED","report_id":"dec-0"}},
            {{"target_id":"{}","outcome":"REJECTED","reason":"NOT_A_VIOLATION","text":"satire"}},
            {{"target_id":"{}","outcome":"GEO_BLOCKED","acted_at":"2026-11-29T05:00:00Z"}}]"#,
        targets[0], targets[1], targets[2]
    );
    // Unsigned, signed with another secret, or signed for another body: refused, unread.
    let other =
        standardwebhooks::Webhook::new("whsec_b3RoZXIgc2VjcmV0IG9mIHRoaXJ0eS10d28gYnl0ZXM=")
            .unwrap();
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = vec![
        (
            standardwebhooks::HEADER_WEBHOOK_ID,
            "msg_forged".to_string(),
        ),
        (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string()),
        (
            standardwebhooks::HEADER_WEBHOOK_SIGNATURE,
            other.sign("msg_forged", ts, good.as_bytes()).unwrap(),
        ),
    ];
    for (headers, what) in [
        (Vec::new(), "unsigned"),
        (forged, "another secret"),
        (signed_headers("msg_x", b"[]"), "another body"),
    ] {
        let (status, body) = post_raw(sidecar.decisions, &good, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    let headers = signed_headers("msg_good", good.as_bytes());
    let (status, body) = post_raw(sidecar.decisions, &good, &headers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recorded"], 3);
    // The same message again (a replay, or the platform's retry): nothing more recorded.
    let (status, body) = post_raw(sidecar.decisions, &good, &headers).await;
    assert_eq!(
        (status, body["replayed"].clone()),
        (StatusCode::OK, true.into())
    );
    let (status, body) = post_decisions(
        sidecar.decisions,
        &format!(
            r#"[{{"target_id":"{}","outcome":"BLOCKED","report_id":"dec-0"}}]"#,
            targets[0]
        ),
    )
    .await;
    assert_eq!(
        (status, body["duplicates"].clone()),
        (StatusCode::OK, serde_json::json!(1))
    );

    eventually(
        std::time::Duration::from_secs(20),
        "3 decisions",
        || async { kinds(&hub.reports()) == (3, 3, 0) },
    )
    .await;
    let reports = hub.reports();
    assert_unique_report_ids(&reports);
    let rejected = reports
        .iter()
        .find_map(|r| match &r.report {
            Some(pb::platform_report::Report::Decision(d)) if r.target_id == targets[1] => {
                Some(d.clone())
            }
            _ => None,
        })
        .expect("decision on target 1");
    assert_eq!(rejected.outcome, pb::Outcome::Rejected as i32);
    assert_eq!(rejected.reason, pb::RejectReason::NotAViolation as i32);
    assert_eq!(rejected.text, "satire");
    assert_eq!(
        inbox(&env.inbox_path())
            .await
            .handoff_count()
            .await
            .unwrap(),
        3
    );
    sidecar.stop().await;
}

#[tokio::test]
async fn a_removal_order_is_not_rejected_as_not_a_violation() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let (_platform, sidecar) = webhook_sidecar(&env, hub_addr).await;
    let list = key.delivered(
        "list-ro",
        vec![
            referral(PLATFORM, "https://t.me/tos0"),
            removal_order("https://t.me/ordered0", "RO-1"),
        ],
    );
    let deliveries: Vec<_> = (0..2).map(|i| list.takedown(i)).collect();
    let (tos, ordered) = (
        deliveries[0].target_id.clone(),
        deliveries[1].target_id.clone(),
    );
    sidecar
        .client(&env, "hub")
        .await
        .deliver(batch("b1", &[&list], deliveries))
        .await
        .expect("deliver");
    eventually(
        std::time::Duration::from_secs(20),
        "2 acknowledgements",
        || async { kinds(&hub.reports()).0 == 2 },
    )
    .await;
    let no_violation = |t: &str| {
        format!(r#"{{"target_id":"{t}","outcome":"REJECTED","reason":"NOT_A_VIOLATION"}}"#)
    };
    let (status, body) = post_decisions(
        sidecar.decisions,
        &format!("[{},{}]", no_violation(&tos), no_violation(&ordered)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("decision 1") && msg.contains("Annex III"),
        "{msg}"
    );
    let (status, body) = post_decisions(
        sidecar.decisions,
        &format!(
            r#"[{},{{"target_id":"{ordered}","outcome":"REJECTED","reason":"MANIFEST_ERROR"}}]"#,
            no_violation(&tos)
        ),
    )
    .await;
    assert_eq!(
        (status, body["recorded"].clone()),
        (StatusCode::OK, 2.into())
    );
    sidecar.stop().await;
}

/// A platform program: records each attempt's batch id, fails while `fail` exists,
/// otherwise answers ALREADY_GONE for every target it reads (one JSON object per line).
fn write_script(env: &Env) -> std::path::PathBuf {
    let dir = env.dir.path();
    let script = dir.join("platform.sh");
    std::fs::write(
        &script,
        format!(
            r#"echo "$TAKEDOWN_HANDOFF_ID" >> "{dir}/attempts"
if [ -f "{dir}/fail" ]; then cat > /dev/null; echo "moderation queue is down" >&2; exit 3; fi
grep -o '"target_id":"[^"]*"' | sed 's/^/{{/; s/$/,"outcome":"ALREADY_GONE"}}/'
"#,
            dir = dir.display()
        ),
    )
    .unwrap();
    script
}

fn command_config(env: &Env, hub: std::net::SocketAddr) -> takedown_sidecar::Config {
    let script = write_script(env);
    env.config(
        hub,
        PLATFORM,
        &format!(
            "mode = \"command\"\nprogram = \"sh\"\nargs = [\"{}\"]",
            script.display()
        ),
    )
}

fn attempts(env: &Env) -> usize {
    attempted_ids(env).len()
}

/// The batch id each attempt received, in order.
fn attempted_ids(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.dir.path().join("attempts"))
        .map(|s| s.lines().map(String::from).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn command_prints_outcomes_that_reach_the_hub() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    let sidecar = InProcessSidecar::start(command_config(&env, hub_addr)).await;
    let list = key.delivered("list-1", channels("chan", 4));

    sidecar
        .client(&env, "hub")
        .await
        .deliver(batch(
            "b1",
            &[&list],
            (0..4).map(|i| list.takedown(i)).collect(),
        ))
        .await
        .expect("deliver");

    eventually(
        std::time::Duration::from_secs(20),
        "4 acknowledgements and 4 decisions",
        || async { kinds(&hub.reports()) == (4, 4, 0) },
    )
    .await;
    assert!(hub.reports().iter().all(|r| match &r.report {
        Some(pb::platform_report::Report::Decision(d)) =>
            d.outcome == pb::Outcome::AlreadyGone as i32,
        _ => true,
    }));
    assert_eq!(attempts(&env), 1);
    assert_eq!(
        inbox(&env.inbox_path())
            .await
            .handoff_count()
            .await
            .unwrap(),
        4
    );
    sidecar.stop().await;
}

#[tokio::test]
async fn handoff_interrupted_by_a_restart_resumes_once() {
    let env = Env::new();
    let key = AgencyKey::generate(AGENCY, "fr-1");
    let (hub_addr, hub) = spawn_hub(&env, vec![key.registered(pb::KeyState::Active)]).await;
    std::fs::write(env.dir.path().join("fail"), "").unwrap();
    let sidecar = InProcessSidecar::start(command_config(&env, hub_addr)).await;
    let list = key.delivered("list-1", channels("chan", 4));
    let resp = sidecar
        .client(&env, "hub")
        .await
        .deliver(batch(
            "b1",
            &[&list],
            (0..4).map(|i| list.takedown(i)).collect(),
        ))
        .await
        .expect("deliver")
        .into_inner();
    assert_eq!(
        resp.accepted.len(),
        4,
        "stored even though the platform is down"
    );
    eventually(
        std::time::Duration::from_secs(20),
        "a failed attempt",
        || async { attempts(&env) >= 1 },
    )
    .await;
    sidecar.stop().await;
    {
        let inbox = inbox(&env.inbox_path()).await;
        assert_eq!(inbox.handoff_count().await.unwrap(), 0);
        assert_eq!(inbox.delivery_count().await.unwrap(), 4);
        inbox.close().await;
    }
    assert!(hub.reports().is_empty());

    std::fs::remove_file(env.dir.path().join("fail")).unwrap();
    let sidecar = InProcessSidecar::start(command_config(&env, hub_addr)).await;

    eventually(
        std::time::Duration::from_secs(20),
        "4 acknowledgements and 4 decisions",
        || async { kinds(&hub.reports()) == (4, 4, 0) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let inbox = inbox(&env.inbox_path()).await;
    let per_target = inbox.handoffs_per_target().await.unwrap();
    assert_eq!(per_target.len(), 4);
    assert!(per_target.values().all(|n| *n == 1), "{per_target:?}");
    // Failed attempts, the restart and the attempt that worked: one batch, one id.
    let ids = attempted_ids(&env);
    assert!(ids.len() >= 2, "{ids:?}");
    assert!(
        !ids[0].is_empty() && ids.iter().all(|id| *id == ids[0]),
        "every attempt repeats the same batch: {ids:?}"
    );
    assert_unique_report_ids(&hub.reports());
    sidecar.stop().await;
}
