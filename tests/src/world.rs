//! A registered world: a PKI, a database, a hub, the coordinator, two agencies with signing
//! keys, and three platforms registered for push delivery. Sidecars start on demand, on a
//! port the system picks; starting one registers its endpoint. Until then a platform's
//! endpoint is [`NO_SIDECAR`], where nothing listens.

use std::collections::BTreeMap;

use takedown_protocol::{
    keyset::{self, KeySetClaims, StatementKey},
    pb,
};
use tempfile::TempDir;

use crate::{
    Backend,
    clients::Clients,
    db::TestDb,
    hub::{HubOptions, HubProcess},
    lists::AgencyKey,
    pki::{AGENCIES, COORDINATOR, PLATFORMS, TestPki},
};

/// The endpoint of a platform whose sidecar has not started: port 1, below the range any
/// test binds, so a delivery there is refused at once, as by a sidecar that is down.
pub const NO_SIDECAR: &str = "https://127.0.0.1:1";

pub struct World {
    pub hub: HubProcess,
    pub db: TestDb,
    pub pki: TestPki,
    /// Signing key per agency (kid `<agency>-k1`).
    pub keys: BTreeMap<String, AgencyKey>,
    /// The endpoint registered for each platform (see [`Self::register_endpoint`]).
    endpoints: std::sync::Mutex<BTreeMap<String, String>>,
    /// The key-set statement in force, as the coordinator last signed it.
    pub key_set: std::sync::Mutex<KeySetClaims>,
    /// The relay between the hub and PostgreSQL (`HubOptions::relay_database`).
    pub relay: Option<takedown_store::testing::TcpRelay>,
    pub dir: TempDir,
}

impl World {
    /// Starts a hub on `backend` and registers everyone; `None` when the backend is not
    /// available (PostgreSQL unreachable and not required).
    pub async fn start(backend: Backend, opts: HubOptions) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = TestPki::generate(&dir.path().join("pki"));
        let db = TestDb::new(backend, dir.path()).await?;
        let relay = if opts.relay_database && backend == Backend::Postgres {
            Some(takedown_store::testing::TcpRelay::start(&db.url).await)
        } else {
            None
        };
        let url = relay.as_ref().map_or(db.url.clone(), |r| r.url(&db.url));
        let hub = HubProcess::start_on(&pki, &url, dir.path(), &opts).await;
        let mut world = Self {
            hub,
            db,
            pki,
            keys: BTreeMap::new(),
            key_set: std::sync::Mutex::new(KeySetClaims {
                version: 0,
                iat: 0,
                keys: Vec::new(),
                roots: Vec::new(),
            }),
            endpoints: Default::default(),
            relay,
            dir,
        };
        world.register().await;
        Some(world)
    }

    async fn register(&mut self) {
        let mut c = self.as_org(COORDINATOR).await;
        for a in AGENCIES {
            c.directory
                .register_organization(pb::RegisterOrganizationRequest {
                    id: a.to_string(),
                    role: pb::Role::Agency as i32,
                    display_name: String::new(),
                })
                .await
                .expect("register agency");
            let key = AgencyKey::generate(a, &format!("{a}-k1"));
            self.keys.insert(a.to_string(), key);
        }
        let keys: Vec<StatementKey> = self.keys.values().map(statement_key).collect();
        self.publish_keys(|s| s.keys = keys).await;
        for p in PLATFORMS {
            c.directory
                .register_platform(push_platform(p, NO_SIDECAR))
                .await
                .expect("register platform");
            self.endpoints
                .lock()
                .expect("endpoints")
                .insert(p.to_string(), NO_SIDECAR.into());
        }
    }

    /// The endpoint registered for `platform`: its sidecar's once one started, else
    /// [`NO_SIDECAR`].
    pub fn endpoint(&self, platform: &str) -> String {
        self.endpoints.lock().expect("endpoints")[platform].clone()
    }

    /// Registers `endpoint` for `platform` (push mode; its cap and staffed hours stay).
    pub async fn register_endpoint(&self, platform: &str, endpoint: &str) {
        self.as_org(COORDINATOR)
            .await
            .directory
            .register_platform(push_platform(platform, endpoint))
            .await
            .unwrap_or_else(|e| panic!("registering {platform} at {endpoint}: {e}"));
        self.endpoints
            .lock()
            .expect("endpoints")
            .insert(platform.to_string(), endpoint.to_string());
    }

    /// Signs `claims` with the test PKI's coordinator root.
    pub fn sign_key_set(&self, claims: &KeySetClaims) -> String {
        let public = std::fs::read_to_string(self.pki.root_public()).expect("root public key");
        let private = std::fs::read(self.pki.root_key()).expect("root key");
        keyset::sign(
            claims,
            &keyset::thumbprint(&public).expect("root"),
            &private,
        )
        .expect("sign key set")
    }

    /// The coordinator's next key-set statement: the one in force changed by `change`,
    /// under the next version, signed with the root and published.
    pub async fn publish_keys(
        &self,
        change: impl FnOnce(&mut KeySetClaims),
    ) -> pb::KeySetStatement {
        let claims = {
            let mut held = self.key_set.lock().expect("key set");
            change(&mut held);
            held.version += 1;
            held.iat = takedown_protocol::timestamp::now_millis() / 1000;
            held.clone()
        };
        let jws = self.sign_key_set(&claims);
        self.as_org(COORDINATOR)
            .await
            .directory
            .publish_key_set(pb::PublishKeySetRequest { jws })
            .await
            .expect("publish key set")
            .into_inner()
    }

    /// Clients acting as `org` (its certificate from the test PKI).
    pub async fn as_org(&self, org: &str) -> Clients {
        Clients::connect(&self.hub.endpoint, &self.pki.material(org))
            .await
            .expect("connect to hub")
    }

    /// Submits `list` as `org` (its signing agency); the target id of each item.
    pub async fn submit(
        &self,
        org: &str,
        list: &takedown_protocol::list::SignedList,
    ) -> Vec<String> {
        self.as_org(org)
            .await
            .referral
            .submit_referral_list(crate::lists::request(list))
            .await
            .unwrap_or_else(|e| panic!("{org} submits {}: {e}", list.list_id))
            .into_inner()
            .target_ids
    }

    /// Starts the sidecar of `platform` and registers its endpoint.
    pub async fn sidecar(
        &self,
        platform: &str,
        policy: &crate::sidecar::AutoPolicy,
    ) -> crate::sidecar::SidecarProcess {
        self.sidecar_with(platform, &crate::sidecar::Integration::Auto(policy.clone()))
            .await
    }

    /// Starts `platform`'s sidecar with `integration` and registers its endpoint.
    pub async fn sidecar_with(
        &self,
        platform: &str,
        integration: &crate::sidecar::Integration,
    ) -> crate::sidecar::SidecarProcess {
        let sidecar = crate::sidecar::SidecarProcess::start(
            &self.pki,
            self.dir.path(),
            platform,
            &self.hub.endpoint,
            integration,
        )
        .await;
        self.register_endpoint(platform, &sidecar.endpoint()).await;
        sidecar
    }

    /// Registers `platform` again as one that pulls its deliveries (no endpoint).
    pub async fn switch_to_pull(&self, platform: &str) -> pb::Platform {
        self.endpoints
            .lock()
            .expect("endpoints")
            .insert(platform.to_string(), String::new());
        self.as_org(COORDINATOR)
            .await
            .directory
            .register_platform(pb::RegisterPlatformRequest {
                delivery_mode: pb::DeliveryMode::Pull as i32,
                name: platform.to_string(),
                endpoint: String::new(),
                display_name: String::new(),
                max_deliveries_per_minute: None,
                staffing: None,
            })
            .await
            .expect("register platform as pull")
            .into_inner()
    }

    /// Starts `platform`'s sidecar in pull mode with `integration`.
    pub async fn sidecar_pulling(
        &self,
        platform: &str,
        integration: &crate::sidecar::Integration,
    ) -> crate::sidecar::SidecarProcess {
        crate::sidecar::SidecarProcess::start_pulling(
            &self.pki,
            self.dir.path(),
            platform,
            &self.hub.endpoint,
            integration,
        )
        .await
    }

    /// The status of each item of `list_id`, as `org` sees it.
    pub async fn list_items(&self, org: &str, list_id: &str) -> Vec<pb::ItemStatus> {
        self.as_org(org)
            .await
            .referral
            .get_list_status(pb::GetListStatusRequest {
                list_id: list_id.into(),
            })
            .await
            .expect("list status")
            .into_inner()
            .items
    }

    pub fn key(&self, agency: &str) -> &AgencyKey {
        &self.keys[agency]
    }

    /// Creates an action day starting `in_ms` from now, with every platform and agency.
    /// The day's summary as `org` sees it.
    pub async fn summary_as(&self, org: &str, day: &str) -> pb::ActionDaySummary {
        self.as_org(org)
            .await
            .summary
            .get_action_day_summary(pb::GetActionDaySummaryRequest {
                action_day_id: day.into(),
            })
            .await
            .expect("summary")
            .into_inner()
    }

    pub async fn action_day(&self, id: &str, in_ms: i64) -> pb::ActionDay {
        let now = takedown_protocol::timestamp::now_millis();
        self.as_org(COORDINATOR)
            .await
            .action_day
            .create_action_day(pb::CreateActionDayRequest {
                id: id.into(),
                name: format!("test day {id}"),
                starts_at: Some(takedown_protocol::timestamp::from_millis(now + in_ms)),
                ends_at: Some(takedown_protocol::timestamp::from_millis(
                    now + in_ms + 3_600_000,
                )),
                platforms: PLATFORMS.iter().map(|s| s.to_string()).collect(),
                agencies: AGENCIES.iter().map(|s| s.to_string()).collect(),
            })
            .await
            .expect("create action day")
            .into_inner()
    }
}

/// Registers `platform` as pushed to at `endpoint`; what the request leaves out (display
/// name, cap, staffed hours) a registered platform keeps.
pub fn push_platform(platform: &str, endpoint: &str) -> pb::RegisterPlatformRequest {
    pb::RegisterPlatformRequest {
        delivery_mode: pb::DeliveryMode::Push as i32,
        name: platform.to_string(),
        endpoint: endpoint.to_string(),
        display_name: String::new(),
        max_deliveries_per_minute: None,
        staffing: None,
    }
}

/// `key` as a statement states it: valid from a day ago, neither retired nor compromised.
pub fn statement_key(key: &AgencyKey) -> StatementKey {
    StatementKey {
        agency_id: key.agency.clone(),
        kid: key.kid.clone(),
        public_key_pem: key.public_pem.clone(),
        valid_from: takedown_protocol::timestamp::now_millis() / 1000 - 86_400,
        retired_at: None,
        compromised_since: None,
        reason: String::new(),
    }
}

/// The summary's row of `platform`.
pub fn platform_row<'a>(s: &'a pb::ActionDaySummary, platform: &str) -> &'a pb::PlatformSummary {
    s.platforms
        .iter()
        .find(|p| p.platform == platform)
        .unwrap_or_else(|| panic!("no {platform} row in {s:?}"))
}
