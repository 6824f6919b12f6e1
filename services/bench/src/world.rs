//! A registered hub for one measurement: a PKI, a fresh database, the hub process, the
//! agencies with their signing keys, the five platforms (push: each sidecar's endpoint,
//! registered once it serves; pull: no endpoint) and an action day.

use anyhow::{Context, Result, bail};
use takedown_protocol::{pb, timestamp};
use takedown_tests::{
    Backend,
    clients::Clients,
    db::TestDb,
    lists::AgencyKey,
    pki::{AGENCIES, COORDINATOR, TestPki},
};
use tempfile::TempDir;

use crate::{lists::PLATFORMS, procs::Hub};

/// The action day every benchmark list belongs to.
pub const DAY: &str = "bench-day";

/// Agency signing keys, made once per benchmark so that lists can be signed once.
pub fn agency_keys() -> Vec<AgencyKey> {
    AGENCIES
        .iter()
        .map(|a| AgencyKey::generate(a, &format!("{a}-k1")))
        .collect()
}

pub struct World {
    pub hub: Hub,
    pub db: TestDb,
    pub pki: TestPki,
    pub dir: TempDir,
}

impl World {
    /// A hub on a fresh database of `backend` with everyone registered; the platforms
    /// pull their deliveries when `pull`.
    pub async fn start(
        backend: Backend,
        keys: &[AgencyKey],
        max_list_items: usize,
        pull: bool,
    ) -> Result<Self> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let pki = TestPki::generate(&dir.path().join("pki"));
        for p in PLATFORMS {
            if !pki.cert(p).exists() {
                pki.issue(takedown_protocol::ident::IdentityRole::Platform, p);
            }
        }
        let Some(db) = TestDb::new(backend, dir.path()).await else {
            bail!("PostgreSQL is unreachable");
        };
        let hub = Hub::start(&pki, &db, dir.path(), max_list_items).await?;
        let mut world = Self { hub, db, pki, dir };
        world.register(keys, pull).await?;
        Ok(world)
    }

    async fn register(&mut self, keys: &[AgencyKey], pull: bool) -> Result<()> {
        let mut c = self.as_org(COORDINATOR).await?;
        for key in keys {
            c.directory
                .register_organization(pb::RegisterOrganizationRequest {
                    id: key.agency.clone(),
                    role: pb::Role::Agency as i32,
                    display_name: String::new(),
                })
                .await
                .context("register agency")?;
        }
        // The coordinator's key-set statement of every agency key, signed with the root.
        let claims = takedown_protocol::keyset::KeySetClaims {
            version: 1,
            iat: takedown_protocol::timestamp::now_millis() / 1000,
            keys: keys
                .iter()
                .map(takedown_tests::world::statement_key)
                .collect(),
            roots: Vec::new(),
        };
        let public = std::fs::read_to_string(self.pki.root_public()).context("root public key")?;
        let private = std::fs::read(self.pki.root_key()).context("root key")?;
        let jws = takedown_protocol::keyset::sign(
            &claims,
            &takedown_protocol::keyset::thumbprint(&public)?,
            &private,
        )?;
        c.directory
            .publish_key_set(pb::PublishKeySetRequest { jws })
            .await
            .context("publish the key set")?;
        for p in PLATFORMS {
            let (mode, endpoint) = if pull {
                (pb::DeliveryMode::Pull, String::new())
            } else {
                let none = takedown_tests::world::NO_SIDECAR.to_string();
                (pb::DeliveryMode::Push, none)
            };
            c.directory
                .register_platform(pb::RegisterPlatformRequest {
                    delivery_mode: mode as i32,
                    name: p.to_string(),
                    endpoint,
                    display_name: String::new(),
                    max_deliveries_per_minute: None,
                    staffing: None,
                })
                .await
                .context("register platform")?;
        }
        Ok(())
    }

    /// Registers `endpoint` for the push platform `platform` (its sidecar serves there).
    pub async fn register_endpoint(&self, platform: &str, endpoint: &str) -> Result<()> {
        self.as_org(COORDINATOR)
            .await?
            .directory
            .register_platform(takedown_tests::world::push_platform(platform, endpoint))
            .await
            .with_context(|| format!("register {platform} at {endpoint}"))?;
        Ok(())
    }

    /// Clients acting as `org`.
    pub async fn as_org(&self, org: &str) -> Result<Clients> {
        Clients::connect(&self.hub.endpoint, &self.pki.material(org))
            .await
            .with_context(|| format!("connecting to the hub as {org}"))
    }

    /// Creates [`DAY`] with H-hour at `starts_at` (Unix ms), every platform and agency.
    pub async fn action_day(&self, starts_at: i64, agencies: &[AgencyKey]) -> Result<()> {
        self.as_org(COORDINATOR)
            .await?
            .action_day
            .create_action_day(pb::CreateActionDayRequest {
                id: DAY.into(),
                name: "benchmark day".into(),
                starts_at: Some(timestamp::from_millis(starts_at)),
                ends_at: Some(timestamp::from_millis(starts_at + 6 * 3_600_000)),
                platforms: PLATFORMS.iter().map(|s| s.to_string()).collect(),
                agencies: agencies.iter().map(|k| k.agency.clone()).collect(),
            })
            .await
            .context("create action day")?;
        Ok(())
    }
}
