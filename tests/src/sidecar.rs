//! A sidecar process: the real `takedown-sidecar` binary for one platform, in `auto` mode
//! or handing over to a [`crate::platform::RecordingPlatform`] by webhook, with its own
//! inbox file that tests read to see what the sidecar holds.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use sqlx::{Connection, Row};
use takedown_sidecar::{
    config,
    document::{OutcomeName, ReasonName},
};

use crate::{pki::TestPki, proc::ChildProc};

/// How the simulated platform decides.
#[derive(Debug, Clone)]
pub struct AutoPolicy {
    pub block_share: f64,
    pub reject_share: f64,
    pub gone_share: f64,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for AutoPolicy {
    fn default() -> Self {
        Self {
            block_share: 1.0,
            reject_share: 0.0,
            gone_share: 0.0,
            min_delay_ms: 0,
            max_delay_ms: 0,
        }
    }
}

/// How the sidecar hands targets to the platform.
#[derive(Debug, Clone)]
pub enum Integration {
    /// The sidecar's own simulation.
    Auto(AutoPolicy),
    /// POSTs each batch of up to `batch_size` targets to `url`; takes the platform's
    /// decisions on [`SidecarProcess::decisions_port`]. With `max_backlog`, asks the hub to
    /// wait 500 ms while that many wait for the platform.
    Webhook {
        url: String,
        batch_size: u32,
        max_backlog: Option<u32>,
    },
    /// Files each target into the Coop at `url` (see [`crate::coop`]) and takes its action
    /// callbacks on [`SidecarProcess::decisions_port`]: Coop actions `ban` → BLOCKED,
    /// `dismiss` → REJECTED (policy `unclear` → INSUFFICIENT_INFORMATION, else
    /// NOT_A_VIOLATION), `restore` → RESTORED.
    Coop { url: String },
}

impl Integration {
    /// The sidecar's `decisions_listen`, `[integration]` and `[handoff]`, as its own types.
    fn settings(
        &self,
    ) -> (
        Option<SocketAddr>,
        config::Integration,
        config::HandoffSettings,
    ) {
        // The system picks the port; the sidecar's ready file says which.
        let any_port = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let handoff = |batch_size: u32| config::HandoffSettings {
            batch_size,
            interval_ms: 100,
            ..config::HandoffSettings::default()
        };
        match self {
            Self::Auto(p) => (
                None,
                config::Integration::Auto(config::AutoSettings {
                    block_share: p.block_share,
                    reject_share: p.reject_share,
                    reject_reason: "NOT_A_VIOLATION".into(),
                    gone_share: p.gone_share,
                    min_delay_ms: p.min_delay_ms,
                    max_delay_ms: p.max_delay_ms,
                    seed: 7,
                }),
                handoff(500),
            ),
            Self::Webhook {
                url,
                batch_size,
                max_backlog,
            } => (
                any_port,
                config::Integration::Webhook(config::WebhookSettings {
                    url: url.clone(),
                    secret: crate::platform::WEBHOOK_SECRET.into(),
                    token: None,
                    ca: None,
                    timeout_ms: 30_000,
                }),
                config::HandoffSettings {
                    max_backlog: max_backlog.unwrap_or(0),
                    backlog_retry_ms: 500,
                    ..handoff(*batch_size)
                },
            ),
            Self::Coop { url } => (
                any_port,
                config::Integration::Coop(config::CoopSettings {
                    url: url.clone(),
                    api_key: crate::coop::API_KEY.into(),
                    item_type_id: crate::coop::ITEM_TYPE.into(),
                    signing_key: crate::coop::VERIFICATION_KEY.into(),
                    actions: [
                        ("ban", OutcomeName::Blocked),
                        ("dismiss", OutcomeName::Rejected),
                        ("restore", OutcomeName::Restored),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                    policies: [("unclear".to_string(), ReasonName::InsufficientInformation)]
                        .into_iter()
                        .collect(),
                    reject_reason: ReasonName::NotAViolation,
                    ca: None,
                    timeout_ms: 30_000,
                }),
                handoff(100),
            ),
        }
    }
}

pub struct SidecarProcess {
    pub platform: String,
    /// The gRPC port (push mode); 0 for a pull-mode sidecar, which opens none.
    pub port: u16,
    /// Where the platform's decisions go (webhook and coop mode).
    pub decisions_port: Option<u16>,
    /// `http://127.0.0.1:<port>/metrics`: every test sidecar serves its metrics.
    pub metrics_url: String,
    pub inbox: PathBuf,
    proc: ChildProc,
}

impl SidecarProcess {
    /// Starts the sidecar of `platform` on a port the system picks ([`Self::endpoint`]),
    /// reporting to the hub at `hub_endpoint`. The hub delivers to it once the platform is
    /// registered there ([`crate::world::World::sidecar`] does that).
    pub async fn start(
        pki: &TestPki,
        dir: &std::path::Path,
        platform: &str,
        hub_endpoint: &str,
        integration: &Integration,
    ) -> Self {
        Self::launch(pki, dir, platform, true, hub_endpoint, integration).await
    }

    /// Starts the sidecar of `platform` in pull mode (`mode = "pull"`): it opens no gRPC
    /// port and fetches its share from the hub at `hub_endpoint`.
    pub async fn start_pulling(
        pki: &TestPki,
        dir: &std::path::Path,
        platform: &str,
        hub_endpoint: &str,
        integration: &Integration,
    ) -> Self {
        Self::launch(pki, dir, platform, false, hub_endpoint, integration).await
    }

    async fn launch(
        pki: &TestPki,
        dir: &std::path::Path,
        platform: &str,
        push: bool,
        hub_endpoint: &str,
        integration: &Integration,
    ) -> Self {
        let config = dir.join(format!("sidecar-{platform}.toml"));
        let inbox = dir.join(format!("sidecar-{platform}.db"));
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let (decisions_listen, integration, handoff) = integration.settings();
        let mut c = base_config(pki, platform, platform, inbox.clone(), hub_endpoint);
        c.decisions_listen = decisions_listen;
        c.integration = integration;
        c.handoff = handoff;
        c.report = config::ReportSettings {
            batch_size: 1000,
            interval_ms: 100,
        };
        c.metrics.listen = Some(any_port);
        c.mode = if push {
            config::DeliveryMode::Push
        } else {
            config::DeliveryMode::Pull
        };
        c.pull = config::PullSettings {
            batch_size: 500,
            wait_ms: 2000,
        };
        crate::write_toml(&config, &c);
        let mut proc = ChildProc::new(
            "takedown-sidecar",
            config.clone(),
            dir.join(format!("sidecar-{platform}.log")),
        );
        proc.spawn();
        // Written once it serves (push) or pulls.
        let addrs = proc.addresses().await.unwrap_or_else(|e| panic!("{e}"));
        // A restart keeps the ports the system chose, so that the hub and the platform
        // find it where they did.
        if let Some(a) = addrs.get("listen") {
            c.listen = *a;
        }
        c.metrics.listen = addrs.get("metrics.listen").copied();
        c.decisions_listen = addrs.get("decisions_listen").copied();
        crate::write_toml(&config, &c);
        Self {
            platform: platform.into(),
            port: addrs.get("listen").map_or(0, |a| a.port()),
            decisions_port: c.decisions_listen.map(|a| a.port()),
            metrics_url: format!("http://{}/metrics", addrs["metrics.listen"]),
            inbox,
            proc,
        }
    }

    /// `https://127.0.0.1:<port>`: where the hub reaches it (push mode).
    pub fn endpoint(&self) -> String {
        assert_ne!(self.port, 0, "a pull-mode sidecar has no endpoint");
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The process id of the running sidecar.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts the same sidecar (same config, ports and inbox) again; returns once it serves.
    pub async fn restart(&mut self) {
        self.proc.restart_on(self.port).await;
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }

    async fn conn(&self) -> Option<sqlx::SqliteConnection> {
        if !self.inbox.exists() {
            return None;
        }
        sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=ro", self.inbox.display()))
            .await
            .ok()
    }

    /// Takedown targets stored in the inbox (what reached the platform's receiver).
    pub async fn received(&self) -> i64 {
        let Some(mut c) = self.conn().await else {
            return 0;
        };
        sqlx::query("SELECT COUNT(*) FROM deliveries WHERE kind = 'takedown'")
            .fetch_one(&mut c)
            .await
            .map(|r| r.get::<i64, _>(0))
            .unwrap_or(0)
    }

    /// The takedown documents in the inbox, as the platform receives them, in order.
    pub async fn takedown_bodies(&self) -> Vec<serde_json::Value> {
        let Some(mut c) = self.conn().await else {
            return vec![];
        };
        sqlx::query("SELECT body FROM deliveries WHERE kind = 'takedown' ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| serde_json::from_str(&r.get::<String, _>(0)).expect("inbox body"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The newest key-set statement version the sidecar accepted (kept in its inbox).
    pub async fn key_set_version(&self) -> Option<i64> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT MAX(version) FROM key_sets")
            .fetch_one(&mut c)
            .await
            .ok()
            .and_then(|r| r.get::<Option<i64>, _>(0))
    }

    /// Withdrawals stored in the inbox.
    pub async fn withdrawals(&self) -> i64 {
        let Some(mut c) = self.conn().await else {
            return 0;
        };
        sqlx::query("SELECT COUNT(*) FROM deliveries WHERE kind = 'withdrawal'")
            .fetch_one(&mut c)
            .await
            .map(|r| r.get::<i64, _>(0))
            .unwrap_or(0)
    }

    /// The earliest receive time in the inbox (Unix ms).
    pub async fn first_received_at(&self) -> Option<i64> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT MIN(received_at) FROM deliveries")
            .fetch_one(&mut c)
            .await
            .ok()
            .and_then(|r| r.get::<Option<i64>, _>(0))
    }

    /// When each takedown target first reached the sidecar (Unix ms), in order.
    pub async fn received_times(&self) -> Vec<i64> {
        let Some(mut c) = self.conn().await else {
            return vec![];
        };
        sqlx::query(
            "SELECT received_at FROM deliveries WHERE kind = 'takedown' ORDER BY received_at",
        )
        .fetch_all(&mut c)
        .await
        .map(|rows| rows.iter().map(|r| r.get::<i64, _>(0)).collect())
        .unwrap_or_default()
    }

    /// Target ids in the inbox.
    pub async fn received_targets(&self) -> Vec<String> {
        let Some(mut c) = self.conn().await else {
            return vec![];
        };
        sqlx::query("SELECT target_id FROM deliveries WHERE kind = 'takedown' ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .map(|rows| rows.iter().map(|r| r.get::<String, _>(0)).collect())
            .unwrap_or_default()
    }

    /// How many times each takedown target was handed to the platform.
    pub async fn handoffs_per_target(&self) -> HashMap<String, i64> {
        let Some(mut c) = self.conn().await else {
            return HashMap::new();
        };
        sqlx::query(
            "SELECT target_id, COUNT(*) FROM handoffs WHERE kind = 'takedown' GROUP BY target_id",
        )
        .fetch_all(&mut c)
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Waits (up to [`crate::LONG`]) until `n` distinct takedown targets were handed to the
    /// platform, and asserts that none was handed on twice.
    pub async fn expect_each_handed_once(&self, n: usize, what: &str) {
        crate::eventually(
            crate::LONG,
            &format!("{what}: {n} targets handed on"),
            || async { self.handoffs_per_target().await.len() == n },
        )
        .await;
        let handoffs = self.handoffs_per_target().await;
        assert!(
            handoffs.values().all(|c| *c == 1),
            "{what}: the platform saw each target exactly once"
        );
    }
}

/// A sidecar configuration, as the real struct: `platform`'s sidecar presenting `cert`'s
/// certificate from `pki`, reporting to `hub_endpoint`, its inbox in `inbox`; push mode on
/// a port the system picks, the sidecar's defaults everywhere else. Callers set what they
/// test.
pub fn base_config(
    pki: &TestPki,
    platform: &str,
    cert: &str,
    inbox: PathBuf,
    hub_endpoint: &str,
) -> config::Config {
    config::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        hub_endpoint: hub_endpoint.into(),
        inbox,
        ..config::Config::new(
            platform,
            takedown_net::tls::TlsPaths {
                ca: pki.ca_pem(),
                cert: pki.cert(cert),
                key: pki.key(cert),
            },
            config::TrustPaths {
                roots: vec![pki.root_public()],
            },
        )
    }
}
