//! A sidecar under test in-process, without a real hub: the sidecar's own integration tests
//! (`services/sidecar/tests`) drive it as the hub would, against a fake hub.
//!
//! - [`Env`]: a temporary directory with the test PKI ([`TestPki`]) and the inbox file.
//! - [`FakeHub`]: the two services a sidecar calls (`GetKeySet`, `ReportOutcomes`) over
//!   mutual TLS, recording what it was sent and answering as a test tells it.
//! - [`DeliveredList`]: a list signed by an agency ([`AgencyKey::delivered`]) and its items
//!   with their inclusion proofs, as the hub delivers them.
//! - [`InProcessSidecar`]: the real sidecar started through [`takedown_sidecar::run`].

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use prost::Message;
use takedown_net::{TlsMaterial, service::Ports};
use takedown_protocol::{
    ident::{Identity, IdentityRole},
    keyset,
    merkle::Tree,
    pb::{
        self,
        directory_service_server::{DirectoryService, DirectoryServiceServer},
        platform_service_server::{PlatformService, PlatformServiceServer},
        receiver_service_client::ReceiverServiceClient,
    },
    signing, target,
};
use takedown_sidecar::{Config, Inbox, config};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Request, Response, Status, transport::Channel};

use crate::{
    lists::AgencyKey,
    pki::{TestPki, identity},
};

/// The platform whose sidecar is under test.
pub const PLATFORM: &str = "telegram";
/// The agency whose lists it receives.
pub const AGENCY: &str = "agency-fr";
/// The audience agencies sign for.
pub const AUDIENCE: &str = "takedown-hub";
/// The webhook integration's shared secret (the same as the recording platform's).
pub const SECRET: &str = crate::platform::WEBHOOK_SECRET;
/// `[integration]` of a platform that blocks everything at once.
pub const AUTO_BLOCK_ALL: &str = r#"mode = "auto"
block_share = 1.0
reject_share = 0.0
gone_share = 0.0"#;

/// Standard Webhooks headers for `body` under [`SECRET`], with message id `id`.
pub fn signed_headers(id: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let sig = standardwebhooks::Webhook::new(SECRET)
        .expect("secret")
        .sign(id, ts, body)
        .expect("sign");
    vec![
        (standardwebhooks::HEADER_WEBHOOK_ID, id.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, sig),
    ]
}

/// The sidecar's logs in the test output when `TEST_LOG` is set (a `RUST_LOG` filter).
pub fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The identity `name` of `role`.
pub fn id(role: IdentityRole, name: &str) -> Identity {
    identity(role, name)
}

/// A temp dir holding the test PKI (`pki/`) and the inbox file.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pki: TestPki,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Self {
        init_tracing();
        takedown_net::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = TestPki::generate(&dir.path().join("pki"));
        Self { dir, pki }
    }

    pub fn tls(&self, stem: &str) -> TlsMaterial {
        self.pki.material(stem)
    }

    pub fn inbox_path(&self) -> PathBuf {
        self.dir.path().join("inbox.db")
    }

    /// A configuration of [`PLATFORM`]'s sidecar, presenting `cert_stem`'s certificate,
    /// reporting to the hub at `hub`, with `integration` (the `[integration]` table, as an
    /// operator writes it). Its ports are the system's choice.
    pub fn config(&self, hub: SocketAddr, cert_stem: &str, integration: &str) -> Config {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let integration: config::Integration =
            toml::from_str(integration).expect("an [integration] table");
        let hub_endpoint = format!("https://127.0.0.1:{}", hub.port());
        let mut c = crate::sidecar::base_config(
            &self.pki,
            PLATFORM,
            cert_stem,
            self.inbox_path(),
            &hub_endpoint,
        );
        c.decisions_listen = Some(any_port);
        c.integration = integration;
        c.handoff = config::HandoffSettings {
            batch_size: 50,
            interval_ms: 50,
            ..Default::default()
        };
        c.report = config::ReportSettings {
            batch_size: 100,
            interval_ms: 50,
        };
        c.validate().expect("a valid test configuration");
        c
    }
}

/// How the fake hub answers ReportOutcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportMode {
    Ok,
    Unavailable,
}

#[derive(Default)]
pub struct HubState {
    pub keys: Vec<pb::AgencyKey>,
    pub reports: Vec<pb::PlatformReport>,
    pub report_calls: usize,
    pub key_calls: usize,
    pub deny_targets: HashSet<String>,
    pub mode: Option<ReportMode>,
    /// GetKeySet answers this late (a hub under load, or one that hangs).
    pub key_delay: std::time::Duration,
    /// The statement last signed from `keys`, re-signed with a higher version whenever
    /// `keys` changes.
    pub signed: Option<(u64, Vec<pb::AgencyKey>, String)>,
}

/// The hub as [`PLATFORM`]'s sidecar sees it: key-set statements signed with the test
/// PKI's coordinator root, and a recorder of outcome reports.
#[derive(Clone)]
pub struct FakeHub {
    pub state: Arc<Mutex<HubState>>,
    /// The coordinator root: (thumbprint, PKCS#8 PEM).
    pub root: Arc<(String, String)>,
}

impl HubState {
    /// A key-set statement of `keys`, signed by `root`: revoked keys are compromised and
    /// retired keys retired since the beginning of time.
    fn statement(&mut self, root: &(String, String)) -> String {
        if let Some((_, _, jws)) = self.signed.as_ref().filter(|s| s.1 == self.keys) {
            return jws.clone();
        }
        let version = self.signed.as_ref().map_or(1, |s| s.0 + 1);
        let claims = keyset::KeySetClaims {
            version,
            iat: 1_700_000_000,
            keys: self
                .keys
                .iter()
                .map(|k| keyset::StatementKey {
                    agency_id: k.agency_id.clone(),
                    kid: k.kid.clone(),
                    public_key_pem: k.public_key_pem.clone(),
                    valid_from: 0,
                    retired_at: (k.state == pb::KeyState::Retired as i32).then_some(0),
                    compromised_since: (k.state == pb::KeyState::Revoked as i32).then_some(0),
                    reason: String::new(),
                })
                .collect(),
            roots: Vec::new(),
        };
        let jws = keyset::sign(&claims, &root.0, root.1.as_bytes()).expect("sign statement");
        self.signed = Some((version, self.keys.clone(), jws.clone()));
        jws
    }
}

impl FakeHub {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn reports(&self) -> Vec<pb::PlatformReport> {
        self.lock().reports.clone()
    }

    pub fn set_mode(&self, m: ReportMode) {
        self.lock().mode = Some(m);
    }
}

#[tonic::async_trait]
impl DirectoryService for FakeHub {
    async fn register_organization(
        &self,
        _: Request<pb::RegisterOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
    async fn list_organizations(
        &self,
        _: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
    async fn publish_key_set(
        &self,
        _: Request<pb::PublishKeySetRequest>,
    ) -> Result<Response<pb::KeySetStatement>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
    async fn get_key_set(
        &self,
        req: Request<pb::GetKeySetRequest>,
    ) -> Result<Response<pb::KeySetStatement>, Status> {
        let caller = takedown_net::peer_identity(&req)
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        assert_eq!(caller, id(IdentityRole::Platform, PLATFORM));
        let delay = {
            let mut st = self.lock();
            st.key_calls += 1;
            st.key_delay
        };
        tokio::time::sleep(delay).await;
        let mut st = self.lock();
        let jws = st.statement(&self.root);
        Ok(Response::new(pb::KeySetStatement {
            version: st.signed.as_ref().map_or(0, |s| s.0),
            jws,
            ..Default::default()
        }))
    }
    type WatchKeySetStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::KeySetStatement, Status>>;
    async fn watch_key_set(
        &self,
        _: Request<pb::WatchKeySetRequest>,
    ) -> Result<Response<Self::WatchKeySetStream>, Status> {
        Err(Status::unimplemented("fake hub: no push; the sidecar asks"))
    }
    async fn get_agency_keys(
        &self,
        _: Request<pb::GetAgencyKeysRequest>,
    ) -> Result<Response<pb::GetAgencyKeysResponse>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
    async fn register_platform(
        &self,
        _: Request<pb::RegisterPlatformRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
    async fn list_platforms(
        &self,
        _: Request<pb::ListPlatformsRequest>,
    ) -> Result<Response<pb::ListPlatformsResponse>, Status> {
        Err(Status::unimplemented("fake hub"))
    }
}

#[tonic::async_trait]
impl PlatformService for FakeHub {
    async fn pull_deliveries(
        &self,
        _: Request<pb::PullDeliveriesRequest>,
    ) -> Result<Response<pb::PullDeliveriesResponse>, Status> {
        // These tests push; pull mode is tested against the real hub (tests/e2e/pull.rs).
        Err(Status::failed_precondition(
            "the fake hub delivers by push only",
        ))
    }

    async fn report_outcomes(
        &self,
        req: Request<pb::ReportOutcomesRequest>,
    ) -> Result<Response<pb::ReportOutcomesResponse>, Status> {
        let caller = takedown_net::peer_identity(&req)
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        if caller != id(IdentityRole::Platform, PLATFORM) {
            return Err(Status::permission_denied("not a platform"));
        }
        let req = req.into_inner();
        let mut st = self.lock();
        st.report_calls += 1;
        if st.mode == Some(ReportMode::Unavailable) {
            return Err(Status::unavailable("hub is busy"));
        }
        if let Some(i) = req
            .reports
            .iter()
            .position(|r| st.deny_targets.contains(&r.target_id))
        {
            return Err(Status::permission_denied(format!(
                "report {i}: target {} was not delivered to you",
                req.reports[i].target_id
            )));
        }
        let mut recorded = 0;
        let mut duplicates = 0;
        for r in req.reports {
            if st.reports.iter().any(|x| x.report_id == r.report_id) {
                duplicates += 1;
            } else {
                recorded += 1;
                st.reports.push(r);
            }
        }
        Ok(Response::new(pb::ReportOutcomesResponse {
            recorded,
            duplicates,
        }))
    }
}

/// Starts the fake hub on a port the system picks, with the hub's certificate.
pub async fn spawn_hub(env: &Env, keys: Vec<pb::AgencyKey>) -> (SocketAddr, FakeHub) {
    let root_pem = std::fs::read_to_string(env.pki.root_key()).expect("root key");
    let root_public = std::fs::read_to_string(env.pki.root_public()).expect("root public key");
    let hub = FakeHub {
        state: Arc::new(Mutex::new(HubState {
            keys,
            mode: Some(ReportMode::Ok),
            ..HubState::default()
        })),
        root: Arc::new((keyset::thumbprint(&root_public).expect("root"), root_pem)),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind hub");
    let addr = listener.local_addr().expect("hub addr");
    let tls = env.tls("hub");
    let svc = hub.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(takedown_net::server_tls(&tls))
            .expect("hub tls")
            .add_service(DirectoryServiceServer::new(svc.clone()))
            .add_service(PlatformServiceServer::new(svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("fake hub");
    });
    (addr, hub)
}

impl AgencyKey {
    /// This key as the hub's directory lists it, in `state`.
    pub fn registered(&self, state: pb::KeyState) -> pb::AgencyKey {
        pb::AgencyKey {
            kid: self.kid.clone(),
            agency_id: self.agency.clone(),
            public_key_pem: self.public_pem.clone(),
            state: state as i32,
            ..Default::default()
        }
    }

    /// Signs `items` (encoded referrals) as list `list_id`, as the hub delivers a list:
    /// with a submission token that expired long ago, as it has at H-hour.
    pub fn delivered(&self, list_id: &str, items: Vec<Vec<u8>>) -> DeliveredList {
        let tree = Tree::from_items(&items);
        let claims = signing::ListClaims {
            iss: self.agency.clone(),
            aud: AUDIENCE.into(),
            jti: list_id.into(),
            iat: 1_700_000_000,
            exp: 1_700_003_600,
            nbf: None,
            action_day: None,
            item_count: items.len() as u64,
            merkle_root: hex::encode(tree.root()),
        };
        let jws = signing::sign(&claims, &self.kid, self.private_pem.as_bytes()).expect("sign");
        DeliveredList {
            sig: pb::ListSignature {
                list_id: list_id.into(),
                agency_id: self.agency.clone(),
                jws,
                item_count: items.len() as u64,
            },
            items,
            tree,
        }
    }
}

/// A signed list as the hub delivers it: its signature, its items and their tree.
pub struct DeliveredList {
    pub sig: pb::ListSignature,
    pub items: Vec<Vec<u8>>,
    pub tree: Tree,
}

impl DeliveredList {
    /// Item `i` with its inclusion proof.
    pub fn evidence(&self, i: usize) -> pb::ReferralEvidence {
        pb::ReferralEvidence {
            list_id: self.sig.list_id.clone(),
            item_index: i as u64,
            item: self.items[i].clone(),
            audit_path: self.tree.packed_proof(i).expect("index in range"),
        }
    }

    /// A takedown of item `i`, as the hub would deliver it.
    pub fn takedown(&self, i: usize) -> pb::TargetDelivery {
        let r = pb::Referral::decode(self.items[i].as_slice()).expect("referral");
        let normalized = target::normalize(&r.platform, &r.target).expect("normalizes");
        pb::TargetDelivery {
            delivery_id: format!("d-{}-{i}", self.sig.list_id),
            kind: pb::DeliveryKind::Takedown as i32,
            target_id: format!("t-{}", normalized.as_str()),
            platform: r.platform.clone(),
            target_kind: r.kind,
            normalized_target: normalized.into_string(),
            original_target: r.target.clone(),
            category: r.category.clone(),
            legal_basis: r.legal_basis,
            removal_order_ref: String::new(),
            agencies: vec![self.sig.agency_id.clone()],
            referrals: vec![self.evidence(i)],
            withdrawal_reason: String::new(),
            action_day_id: None,
        }
    }
}

/// A channel referral with evidence and a note, encoded.
pub fn referral(platform: &str, target: &str) -> Vec<u8> {
    channel(crate::lists::referral(platform, target)).encode_to_vec()
}

/// A removal order of a [`PLATFORM`] channel, encoded.
pub fn removal_order(target: &str, reference: &str) -> Vec<u8> {
    channel(crate::lists::removal_order(PLATFORM, target, reference)).encode_to_vec()
}

fn channel(r: pb::Referral) -> pb::Referral {
    pb::Referral {
        kind: pb::TargetKind::Channel as i32,
        evidence_sha256: vec![7; 32],
        note: "claims attacks".into(),
        ..r
    }
}

/// `n` telegram channels `https://t.me/<prefix><i>` as encoded referrals.
pub fn channels(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| referral(PLATFORM, &format!("https://t.me/{prefix}{i}")))
        .collect()
}

/// A Deliver batch for [`PLATFORM`] of `deliveries` from `lists`.
pub fn batch(
    batch_id: &str,
    lists: &[&DeliveredList],
    deliveries: Vec<pb::TargetDelivery>,
) -> pb::DeliverRequest {
    pb::DeliverRequest {
        batch_id: batch_id.into(),
        platform: PLATFORM.into(),
        lists: lists.iter().map(|l| l.sig.clone()).collect(),
        deliveries,
    }
}

/// The real sidecar, running in this process.
pub struct InProcessSidecar {
    pub addr: SocketAddr,
    pub decisions: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl InProcessSidecar {
    /// Binds the ports `cfg` names, as the binary does, and runs the sidecar.
    pub async fn start(cfg: Config) -> Self {
        let ports = takedown_sidecar::bind(&cfg, None)
            .await
            .expect("the sidecar's ports");
        let addr = ports.addr("listen").expect("a push sidecar listens");
        // Only webhook and coop mode take decisions; the address is unused otherwise.
        let decisions = ports
            .addr("decisions_listen")
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(takedown_sidecar::run(cfg, ports, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            decisions,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Runs `cfg` on its own listener and returns how it ended (a sidecar that refuses
    /// to start).
    pub async fn run_once(cfg: Config) -> anyhow::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let ports = Ports::new(None).with("listen", listener).expect("ports");
        takedown_sidecar::run(cfg, ports, std::future::pending()).await
    }

    /// Stops it and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("sidecar task").expect("sidecar ran cleanly");
        }
    }

    /// A Deliver client presenting `stem`'s certificate.
    pub async fn client(&self, env: &Env, stem: &str) -> ReceiverServiceClient<Channel> {
        let ch = takedown_net::connect(
            &format!("https://127.0.0.1:{}", self.addr.port()),
            &env.tls(stem),
            Some(id(IdentityRole::Platform, PLATFORM)),
        )
        .await
        .expect("connect to sidecar");
        ReceiverServiceClient::new(ch)
    }
}

/// The inbox file, opened beside the running sidecar (WAL allows it).
pub async fn inbox(path: &Path) -> Inbox {
    Inbox::open(path).await.expect("open inbox")
}

/// Reports at the hub by kind: (acknowledgements, decisions, restorations).
pub fn kinds(reports: &[pb::PlatformReport]) -> (usize, usize, usize) {
    use pb::platform_report::Report;
    reports
        .iter()
        .fold((0, 0, 0), |(a, d, r), x| match x.report {
            Some(Report::Acknowledgement(_)) => (a + 1, d, r),
            Some(Report::Decision(_)) => (a, d + 1, r),
            Some(Report::Restoration(_)) => (a, d, r + 1),
            None => (a, d, r),
        })
}

/// Fails when two reports share a report id.
pub fn assert_unique_report_ids(reports: &[pb::PlatformReport]) {
    let ids: HashSet<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
    assert_eq!(ids.len(), reports.len(), "duplicate report ids");
}
