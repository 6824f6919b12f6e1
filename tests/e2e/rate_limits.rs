//! A platform's own pace: the cap on deliveries per minute that its directory entry sets,
//! and a receiver's RESOURCE_EXHAUSTED with a retry delay, both honoured by the hub; the
//! real sidecar sends one when its platform falls behind.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use takedown_protocol::pb::{
    self,
    receiver_service_server::{ReceiverService, ReceiverServiceServer},
};
use takedown_tests::{
    Backend, eventually,
    hub::HubOptions,
    lists::referrals,
    pki::COORDINATOR,
    platform::RecordingPlatform,
    sidecar::{AutoPolicy, Integration},
    world::World,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

both_backends!(
    a_capped_platform_never_receives_more_than_its_cap_in_any_minute,
    a_receivers_request_to_wait_is_honoured,
    a_sidecar_behind_its_platform_asks_the_hub_to_wait,
);

const CAP: usize = 10;

async fn a_capped_platform_never_receives_more_than_its_cap_in_any_minute(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let mut c = w.as_org(COORDINATOR).await;
    let endpoint = w.endpoint("telegram");
    let p = c
        .directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Push as i32,
            name: "telegram".into(),
            endpoint: endpoint.clone(),
            display_name: String::new(),
            max_deliveries_per_minute: Some(CAP as u32),
            staffing: None,
        })
        .await
        .expect("the coordinator sets the cap")
        .into_inner();
    assert_eq!(p.max_deliveries_per_minute, CAP as u32);
    // Registering the endpoint again without a cap keeps the cap.
    let p = c
        .directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Push as i32,
            name: "telegram".into(),
            endpoint,
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.max_deliveries_per_minute, CAP as u32);
    let caps: Vec<(String, u32)> = c
        .directory
        .list_platforms(pb::ListPlatformsRequest {})
        .await
        .unwrap()
        .into_inner()
        .platforms
        .into_iter()
        .map(|p| (p.name, p.max_deliveries_per_minute))
        .collect();
    assert!(caps.contains(&("telegram".into(), CAP as u32)), "{caps:?}");
    assert!(caps.contains(&("tamtam".into(), 0)), "{caps:?}");

    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    let tt = w.sidecar("tamtam", &AutoPolicy::default()).await;
    let mut items = referrals("telegram", "paced", CAP + 5);
    items.extend(referrals("tamtam", "free", CAP + 5));
    let list = w.key("agency-fr").list("paced", None, items);
    w.submit("agency-fr", &list).await;

    eventually(
        Duration::from_secs(20),
        "the first minute's share",
        || async { tg.received().await >= CAP as i64 },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the uncapped platform's share",
        || async { tt.received().await == (CAP + 5) as i64 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        tg.received().await,
        CAP as i64,
        "nothing beyond the cap within the minute"
    );
    eventually(
        Duration::from_secs(90),
        "the rest, a minute later",
        || async { tg.received().await == (CAP + 5) as i64 },
    )
    .await;

    let times = tg.received_times().await;
    for (i, t) in times.iter().enumerate() {
        let within = times[i..].iter().take_while(|u| **u < t + 60_000).count();
        assert!(
            within <= CAP,
            "{within} deliveries within a minute from {t}: {times:?}"
        );
    }
    assert!(
        times[CAP] - times[0] >= 60_000,
        "the next share came {} ms after the first",
        times[CAP] - times[0]
    );
}

/// A stand-in receiver for platform x: it asks the hub to wait `delay` on its first call
/// and accepts everything after; it records when each call came.
#[derive(Clone)]
struct AsksToWait {
    delay: Duration,
    calls: Arc<Mutex<Vec<(Instant, usize)>>>,
}

#[tonic::async_trait]
impl ReceiverService for AsksToWait {
    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        let req = request.into_inner();
        let first = {
            let mut calls = self.calls.lock().unwrap();
            calls.push((Instant::now(), req.deliveries.len()));
            calls.len() == 1
        };
        if first {
            return Err(Status::with_error_details(
                Code::ResourceExhausted,
                "moderation queue full",
                tonic_types::ErrorDetails::with_retry_info(Some(self.delay)),
            ));
        }
        Ok(Response::new(pb::DeliverResponse {
            accepted: req.deliveries.into_iter().map(|d| d.delivery_id).collect(),
            rejected: vec![],
        }))
    }
}

async fn a_receivers_request_to_wait_is_honoured(backend: Backend) {
    let opts = HubOptions {
        // Without the receiver's delay, the batch would come back after 100 ms; and two
        // failures would open the circuit.
        retry_schedule_ms: vec![100],
        breaker_failures: 1,
        breaker_cooldown_ms: 30_000,
        ..HubOptions::default()
    };
    let Some(w) = World::start(backend, opts).await else {
        return;
    };
    let receiver = AsksToWait {
        delay: Duration::from_secs(3),
        calls: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("x's port");
    let endpoint = format!("https://{}", listener.local_addr().expect("x's address"));
    w.register_endpoint("x", &endpoint).await;
    let server = tonic::transport::Server::builder()
        .tls_config(takedown_net::server_tls(&w.pki.material("x")))
        .expect("tls")
        .add_service(ReceiverServiceServer::new(receiver.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    let server = tokio::spawn(server);

    let list = w
        .key("agency-fr")
        .list("asked", None, referrals("x", "asked", 5));
    w.submit("agency-fr", &list).await;
    eventually(Duration::from_secs(20), "the second call", || async {
        receiver.calls.lock().unwrap().len() >= 2
    })
    .await;
    let calls = receiver.calls.lock().unwrap().clone();
    let waited = calls[1].0 - calls[0].0;
    assert!(
        waited >= Duration::from_secs(3),
        "the hub came back after {waited:?}, not the 3 s asked for"
    );
    assert!(
        waited < Duration::from_secs(10),
        "the hub waited {waited:?}: the circuit opened instead"
    );
    assert_eq!(calls[1].1, 5, "the whole batch again");
    eventually(Duration::from_secs(10), "delivered", || async {
        w.list_items("agency-fr", "asked")
            .await
            .iter()
            .all(|i| i.state() == pb::TargetState::Delivered)
    })
    .await;
    server.abort();
}

/// A sidecar whose platform falls behind asks the hub to wait (RESOURCE_EXHAUSTED with a
/// retry delay, `handoff.max_backlog`): what waits for the platform stays bounded, nothing
/// fails at the hub, and everything arrives once.
async fn a_sidecar_behind_its_platform_asks_the_hub_to_wait(backend: Backend) {
    const TARGETS: usize = 1_000;
    const BACKLOG: i64 = 300;
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    // 100 targets a second at most: the hub could send all of them at once.
    let platform = RecordingPlatform::start(Duration::from_millis(1_000)).await;
    let tg = w
        .sidecar_with(
            "telegram",
            &Integration::Webhook {
                url: platform.url.clone(),
                batch_size: 100,
                max_backlog: Some(BACKLOG as u32),
            },
        )
        .await;
    let list = w
        .key("agency-fr")
        .list("behind", None, referrals("telegram", "behind", TARGETS));
    w.submit("agency-fr", &list).await;

    let mut most_waiting = 0;
    let deadline = Instant::now() + takedown_tests::LONG;
    loop {
        let handed = tg.handoffs_per_target().await.len() as i64;
        most_waiting = most_waiting.max(tg.received().await - handed);
        if handed == TARGETS as i64 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tg.expect_each_handed_once(TARGETS, "behind").await;
    // Each call checks before it stores its batch: at most the calls in flight together
    // go above the limit, by a batch each.
    let opts = HubOptions::default();
    let above = (opts.max_in_flight as i64) * opts.batch_size as i64;
    assert!(
        most_waiting < BACKLOG + above,
        "{most_waiting} deliveries waited for the platform (limit {BACKLOG}, {above} in flight)"
    );
    let (_, metrics) = takedown_tests::scrape(&tg.metrics_url).await;
    let refusals =
        takedown_tests::metric(&metrics, "takedown_sidecar_backlog_refusals_total").unwrap_or(0.0);
    assert!(refusals > 0.0, "the sidecar asked the hub to wait");
    eventually(
        takedown_tests::LONG,
        "every delivery recorded at the hub",
        || async {
            w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 2")
                .await
                == TARGETS as i64
        },
    )
    .await;
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM deliveries WHERE state = 3")
            .await,
        0,
        "a request to wait is not a failure"
    );
    let seen = platform.seen();
    assert_eq!(seen.applied, TARGETS);
    assert!(seen.in_two_batches.is_empty());
}
