//! The hub commands against a stand-in hub: a tonic server over mutual TLS with the dev
//! PKI's hub certificate that records what it is asked and answers from fixed data.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use prost::Message;
use takedown_net::{TlsMaterial, install_crypto_provider, peer_identity, server_tls};
use takedown_protocol::{
    pb::{
        action_day_service_server::{ActionDayService, ActionDayServiceServer},
        hold_service_server::{HoldService, HoldServiceServer},
        referral_service_server::{ReferralService, ReferralServiceServer},
        *,
    },
    signing, timestamp,
};
use tonic::{Request, Response, Status, transport::Server};

use crate::helpers::{Workdir, demo};

/// What the stand-in was asked.
#[derive(Default)]
struct Seen {
    callers: Vec<String>,
    action_days: Vec<CreateActionDayRequest>,
    holds: Vec<PlaceHoldRequest>,
    withdrawals: Vec<WithdrawTargetRequest>,
}

#[derive(Clone)]
struct StandIn {
    seen: Arc<Mutex<Seen>>,
    public_key: Vec<u8>,
}

impl StandIn {
    fn caller<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let id = peer_identity(req).map_err(|e| Status::unauthenticated(e.to_string()))?;
        self.seen.lock().unwrap().callers.push(id.to_uri());
        Ok(id.id.to_string())
    }
}

#[tonic::async_trait]
impl ReferralService for StandIn {
    async fn submit_referral_list(
        &self,
        req: Request<SubmitReferralListRequest>,
    ) -> Result<Response<SubmitReferralListResponse>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let list = ReferralList::decode(r.list.as_slice())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let now = timestamp::now_millis() / 1000;
        let claims = signing::verify(&r.signature, &self.public_key, "takedown-hub", now)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if claims.iss != caller {
            return Err(Status::permission_denied(format!(
                "list issuer {} is not the caller {caller}",
                claims.iss
            )));
        }
        let items = list.items.len() as u32;
        Ok(Response::new(SubmitReferralListResponse {
            list_id: list.list_id,
            items,
            new_targets: items - 3,
            merged_duplicates: 3,
            target_ids: (0..items).map(|i| format!("t-{i}")).collect(),
        }))
    }

    async fn get_list_status(
        &self,
        req: Request<GetListStatusRequest>,
    ) -> Result<Response<ListStatus>, Status> {
        let caller = self.caller(&req)?;
        let id = req.into_inner().list_id;
        if id != "fr-1" {
            return Err(Status::not_found(format!("list {id} not found")));
        }
        let item =
            |index: u32, state: TargetState, reason: RejectReason, detail: &str| ItemStatus {
                index,
                target_id: format!("t-{index}"),
                platform: "telegram".into(),
                normalized_target: format!("demo_channel_{index:04}"),
                state: state as i32,
                reject_reason: reason as i32,
                detail: detail.into(),
            };
        Ok(Response::new(ListStatus {
            list_id: id,
            agency_id: caller,
            action_day_id: Some("ad-1".into()),
            accepted_at: Some(timestamp::from_millis(1_800_000_000_000)),
            item_count: 3,
            items: vec![
                item(0, TargetState::Blocked, RejectReason::Unspecified, ""),
                item(1, TargetState::Held, RejectReason::Unspecified, ""),
                item(
                    2,
                    TargetState::Rejected,
                    RejectReason::NotAViolation,
                    "satire account",
                ),
            ],
        }))
    }

    async fn withdraw_target(
        &self,
        req: Request<WithdrawTargetRequest>,
    ) -> Result<Response<WithdrawTargetResponse>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        let target_id = r.target_id.clone();
        self.seen.lock().unwrap().withdrawals.push(r);
        Ok(Response::new(WithdrawTargetResponse {
            target_id,
            withdrawals_queued: 1,
            target_withdrawn: true,
            referrals_withdrawn: 1,
            referrals_standing: 0,
        }))
    }

    async fn withdraw_list(
        &self,
        req: Request<WithdrawListRequest>,
    ) -> Result<Response<WithdrawListResponse>, Status> {
        self.caller(&req)?;
        Ok(Response::new(WithdrawListResponse {
            list_id: req.into_inner().list_id,
            referrals_withdrawn: 3,
            targets_withdrawn: 2,
            targets_standing: 1,
            withdrawals_queued: 2,
        }))
    }

    async fn uphold_on_scrutiny(
        &self,
        req: Request<takedown_protocol::pb::UpholdOnScrutinyRequest>,
    ) -> Result<Response<takedown_protocol::pb::UpholdOnScrutinyResponse>, Status> {
        self.caller(&req)?;
        Ok(Response::new(
            takedown_protocol::pb::UpholdOnScrutinyResponse {
                target_id: req.into_inner().target_id,
                orders_upheld: 1,
            },
        ))
    }

    async fn preserve_target(
        &self,
        req: Request<takedown_protocol::pb::PreserveTargetRequest>,
    ) -> Result<Response<takedown_protocol::pb::PreserveTargetResponse>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        Ok(Response::new(
            takedown_protocol::pb::PreserveTargetResponse {
                target_id: r.target_id,
                preserved_until: r.until,
                lists_kept: 2,
            },
        ))
    }
}

#[tonic::async_trait]
impl ActionDayService for StandIn {
    async fn create_action_day(
        &self,
        req: Request<CreateActionDayRequest>,
    ) -> Result<Response<ActionDay>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        self.seen.lock().unwrap().action_days.push(r.clone());
        Ok(Response::new(ActionDay {
            id: if r.id.is_empty() {
                "ad-new".into()
            } else {
                r.id
            },
            name: r.name,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            platforms: r.platforms,
            agencies: r.agencies,
            state: ActionDayState::Planned as i32,
            ..Default::default()
        }))
    }

    async fn get_action_day(
        &self,
        _: Request<GetActionDayRequest>,
    ) -> Result<Response<ActionDay>, Status> {
        Err(Status::unimplemented("not in the stand-in"))
    }

    async fn list_action_days(
        &self,
        _: Request<ListActionDaysRequest>,
    ) -> Result<Response<ListActionDaysResponse>, Status> {
        Ok(Response::new(ListActionDaysResponse {
            action_days: vec![ActionDay {
                id: "ad-1".into(),
                name: "Operation Demo".into(),
                state: ActionDayState::Live as i32,
                platforms: vec!["telegram".into(), "tamtam".into()],
                ..Default::default()
            }],
        }))
    }

    async fn close_action_day(
        &self,
        _: Request<CloseActionDayRequest>,
    ) -> Result<Response<ActionDay>, Status> {
        Err(Status::failed_precondition(
            "action day ad-1 is already closed",
        ))
    }

    async fn move_action_day(
        &self,
        _: Request<takedown_protocol::pb::MoveActionDayRequest>,
    ) -> Result<Response<ActionDay>, Status> {
        Err(Status::failed_precondition(
            "action day ad-1 cannot be moved: its H-hour has passed",
        ))
    }
}

#[tonic::async_trait]
impl HoldService for StandIn {
    async fn place_hold(&self, req: Request<PlaceHoldRequest>) -> Result<Response<Hold>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        self.seen.lock().unwrap().holds.push(r.clone());
        Ok(Response::new(Hold {
            id: "h-1".into(),
            platform: r.platform,
            normalized_target: r.target.trim_start_matches('@').to_lowercase(),
            target: r.target,
            reason: r.reason,
            expires_at: r.expires_at,
            ..Default::default()
        }))
    }

    async fn release_hold(&self, _: Request<ReleaseHoldRequest>) -> Result<Response<Hold>, Status> {
        Err(Status::not_found("hold h-9 not found"))
    }

    async fn list_holds(
        &self,
        _: Request<ListHoldsRequest>,
    ) -> Result<Response<ListHoldsResponse>, Status> {
        Ok(Response::new(ListHoldsResponse {
            holds: vec![Hold {
                id: "h-1".into(),
                platform: "telegram".into(),
                target: "@Demo_Channel_0007".into(),
                normalized_target: "demo_channel_0007".into(),
                reason: "live investigation".into(),
                placed_by: "europol".into(),
                ..Default::default()
            }],
        }))
    }
}

/// Starts the stand-in with the hub certificate of `w/pki`; returns its address.
async fn spawn_stand_in(w: &Workdir, seen: Arc<Mutex<Seen>>) -> SocketAddr {
    install_crypto_provider();
    let material = TlsMaterial::load_dir(&w.path("pki"), "hub").unwrap();
    let stand_in = StandIn {
        seen,
        public_key: std::fs::read(w.path("k/fr-1.pub.pem")).unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .tls_config(server_tls(&material))
        .unwrap()
        .add_service(ReferralServiceServer::new(stand_in.clone()))
        .add_service(ActionDayServiceServer::new(stand_in.clone()))
        .add_service(HoldServiceServer::new(stand_in))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

/// Runs the binary off the async runtime.
async fn ctl(w: &Arc<Workdir>, args: &[&str]) -> crate::helpers::Run {
    let w = Arc::clone(w);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        w.run(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_commands_speak_mtls_and_print_answers() {
    let w = Arc::new(Workdir::new());
    w.run(&["certs", "dev", "--out", "pki"]).ok();
    w.run(&["keys", "generate", "--kid", "fr-1", "--out", "k"])
        .ok();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let addr = spawn_stand_in(&w, seen.clone()).await;
    let hub = format!("https://127.0.0.1:{}", addr.port());
    let as_ = |org: &'static str| ["--hub", hub.as_str(), "--certs", "pki", "--as", org];

    // Sign and submit.
    let input = demo("agency-fr.csv");
    w.run(&[
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
        "--list-id",
        "fr-1",
    ])
    .ok();
    let items = takedown_ctl::envelope::Envelope::read(&w.path("fr-1.signed.json"))
        .unwrap()
        .items;
    let r = ctl(
        &w,
        &[
            &as_("agency-fr")[..],
            &["list", "submit", "fr-1.signed.json"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        r.ok().trim(),
        format!(
            "list fr-1: {items} items, {} new targets, 3 merged duplicates",
            items - 3
        )
    );
    // The hub saw the agency's certificate.
    assert_eq!(
        seen.lock().unwrap().callers,
        ["urn:takedown:agency:agency-fr"]
    );

    // The wrong agency is refused by the hub: one line with the status code.
    let r = ctl(
        &w,
        &[
            &as_("agency-de")[..],
            &["list", "submit", "fr-1.signed.json"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        r.one_error_line(),
        "error: PERMISSION_DENIED: list issuer agency-fr is not the caller agency-de"
    );

    // With several files, the refusal names the file; earlier lists are reported first.
    w.run(&[
        "list",
        "sign",
        "--input",
        &input,
        "--agency",
        "agency-de",
        "--kid",
        "fr-1",
        "--key",
        "k/fr-1.key",
        "--list-id",
        "de-1",
    ])
    .ok();
    let r = ctl(
        &w,
        &[
            &as_("agency-fr")[..],
            &["list", "submit", "fr-1.signed.json", "de-1.signed.json"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        r.one_error_line(),
        "error: de-1.signed.json: PERMISSION_DENIED: list issuer agency-de is not the caller agency-fr"
    );
    assert!(r.stdout.starts_with("list fr-1: "), "{}", r.stdout);

    // Status as a table and as JSON.
    let r = ctl(
        &w,
        &[&as_("agency-fr")[..], &["list", "status", "fr-1"]].concat(),
    )
    .await;
    let table = r.ok();
    for words in [
        "blocked",
        "held (deconfliction)",
        "rejected (NOT_A_VIOLATION)",
        "satire account",
        "demo_channel_0002",
        "action day ad-1",
    ] {
        assert!(table.contains(words), "{words} missing in\n{table}");
    }
    let r = ctl(
        &w,
        &[
            &as_("agency-fr")[..],
            &["list", "status", "fr-1", "--format", "json"],
        ]
        .concat(),
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(json["agency_id"], "agency-fr");
    assert_eq!(json["items"][1]["state"], "held (deconfliction)");
    assert_eq!(json["items"][2]["target_id"], "t-2");
    assert_eq!(json["accepted_at"], "2027-01-15T08:00:00Z");

    let r = ctl(
        &w,
        &[&as_("agency-fr")[..], &["list", "status", "nope"]].concat(),
    )
    .await;
    assert_eq!(r.one_error_line(), "error: NOT_FOUND: list nope not found");

    let r = ctl(
        &w,
        &[
            &as_("agency-fr")[..],
            &["list", "withdraw", "t-7", "--reason", "appeal upheld"],
        ]
        .concat(),
    )
    .await;
    assert!(r.ok().contains("withdrew target t-7"));
    assert_eq!(seen.lock().unwrap().withdrawals[0].reason, "appeal upheld");
    let r = ctl(
        &w,
        &[
            &as_("europol")[..],
            &[
                "list",
                "withdraw",
                "t-8",
                "--agency",
                "agency-de",
                "--agency",
                "agency-fr",
                "--reason",
                "scrutiny",
            ],
        ]
        .concat(),
    )
    .await;
    r.ok();
    assert_eq!(
        seen.lock().unwrap().withdrawals[1].agency_ids,
        ["agency-de", "agency-fr"]
    );
    let r = ctl(
        &w,
        &[
            &as_("agency-fr")[..],
            &["list", "withdraw", "--list", "l-1", "--reason", "withdrawn"],
        ]
        .concat(),
    )
    .await;
    assert!(
        r.ok()
            .contains("list l-1: 3 referrals withdrawn; 2 targets withdrawn"),
        "{}",
        r.ok()
    );

    // Action days: relative times become absolute ones.
    let before = timestamp::now_millis() / 1000;
    let r = ctl(
        &w,
        &[
            &as_("europol")[..],
            &[
                "action-day",
                "create",
                "--name",
                "Operation Demo",
                "--starts-at",
                "+5m",
                "--ends-at",
                "+1d",
                "--platform",
                "telegram",
                "tamtam",
                "--platform",
                "x",
                "--agency",
                "agency-fr,agency-de",
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        r.ok()
            .contains("created action day ad-new (Operation Demo)")
    );
    let created = seen.lock().unwrap().action_days[0].clone();
    let starts = created.starts_at.unwrap().seconds;
    assert!(
        (before + 300..=before + 310).contains(&starts),
        "{starts} vs {before}"
    );
    assert_eq!(created.ends_at.unwrap().seconds - starts, 86_400 - 300);
    assert_eq!(created.platforms, ["telegram", "tamtam", "x"]);
    assert_eq!(created.agencies, ["agency-fr", "agency-de"]);

    let r = ctl(&w, &[&as_("europol")[..], &["action-day", "list"]].concat()).await;
    assert!(r.ok().contains("Operation Demo"));
    assert!(r.stdout.contains("live"));
    let r = ctl(
        &w,
        &[&as_("europol")[..], &["action-day", "close", "ad-1"]].concat(),
    )
    .await;
    assert_eq!(
        r.one_error_line(),
        "error: FAILED_PRECONDITION: action day ad-1 is already closed"
    );
    // A bad time is refused before dialling.
    let r = ctl(
        &w,
        &[
            &as_("europol")[..],
            &[
                "action-day",
                "create",
                "--name",
                "x",
                "--starts-at",
                "tomorrow",
                "--ends-at",
                "+1d",
                "--platform",
                "x",
                "--agency",
                "agency-fr",
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        r.one_error_line()
            .starts_with("error: --starts-at: time \"tomorrow\"")
    );

    // Holds.
    let r = ctl(
        &w,
        &[
            &as_("europol")[..],
            &[
                "hold",
                "place",
                "--platform",
                "telegram",
                "--target",
                "@Demo_Channel_0007",
                "--reason",
                "live investigation",
                "--expires",
                "48h",
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        r.ok()
            .contains("placed hold h-1 on telegram demo_channel_0007")
    );
    let hold = seen.lock().unwrap().holds[0].clone();
    let expires = hold.expires_at.unwrap().seconds;
    assert!((before + 172_800..=before + 172_810).contains(&expires));
    let r = ctl(
        &w,
        &[&as_("europol")[..], &["hold", "list", "--format", "json"]].concat(),
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(json[0]["placed_by"], "europol");
    let r = ctl(
        &w,
        &[&as_("europol")[..], &["hold", "release", "h-9"]].concat(),
    )
    .await;
    assert_eq!(r.one_error_line(), "error: NOT_FOUND: hold h-9 not found");
}
