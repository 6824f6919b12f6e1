//! Hub configuration, in layers: defaults, then a TOML file, then `TAKEDOWN_*` environment
//! variables (nested with `__`, e.g. `TAKEDOWN_DELIVERY__BATCH_SIZE=200`). Validated at
//! startup with a clear message.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Serialized},
};
use serde::{Deserialize, Serialize};
pub use takedown_net::{telemetry::LogFormat, tls::TlsPaths};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// `sqlite:takedown.db` (embedded default) or `postgres://user@host/db`.
    pub database_url: String,
    /// This hub's id: its certificate is `urn:takedown:hub:<hub_id>`.
    pub hub_id: String,
    /// The audience (`aud`) that list signatures must name.
    pub audience: String,
    pub tls: TlsPaths,
    pub trust: TrustConfig,
    pub limits: Limits,
    pub delivery: DeliveryConfig,
    /// How long item bytes and notes are kept after the action.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The Prometheus endpoint (`listen`; off unless set).
    #[serde(default)]
    pub metrics: takedown_net::metrics::MetricsConfig,
    /// `text` or `json`.
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("hub_id", &self.hub_id)
            .field("audience", &self.audience)
            .field("tls", &self.tls)
            .field("trust", &self.trust)
            .field("limits", &self.limits)
            .field("delivery", &self.delivery)
            .field("retention", &self.retention)
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// Hides a password in a database URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Whom the hub believes about agency keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Coordinator root public keys (SPKI PEM files). Agency keys are taken only from
    /// key-set statements one of them signed (or that a statement they signed endorses).
    pub roots: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most items a list may carry.
    pub max_list_items: usize,
    /// Most bytes an encoded list may have.
    pub max_list_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Targets per Deliver call.
    pub batch_size: u32,
    /// Batches in flight per platform.
    pub max_in_flight: usize,
    /// Deadline of one Deliver call.
    pub rpc_timeout_ms: u64,
    /// How long a claim is held; must exceed the RPC deadline so that a batch in flight is
    /// not claimed twice, and short enough that a crashed hub's claims come back soon.
    pub lease_ms: u64,
    /// Delays before retry 1, 2, ...; the last one repeats.
    pub retry_schedule_ms: Vec<u64>,
    /// Random spread of each retry delay, as a share (0.2 = ±20 %).
    pub retry_jitter: f64,
    /// Consecutive failed batches that open a platform's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit pauses the platform before a trial batch.
    pub breaker_cooldown_ms: u64,
    /// Longest sleep of an idle worker between looks at the outbox.
    pub poll_ms: u64,
    /// Leaves of list Merkle trees kept for proofs, over all lists (about 64 bytes each;
    /// a tree evicted is rebuilt from the stored leaf hashes when needed again). Bounds
    /// the hub's memory on days of very many targets.
    #[serde(default = "default_tree_cache_leaves")]
    pub tree_cache_leaves: usize,
    /// This hub process's name among the hubs sharing the database: its claims are made
    /// in this name, and a hub starting under it takes them back at once. Stable across
    /// restarts of one replica, distinct between replicas. Default: the host name and the
    /// listen port.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// How often the hub records that it is alive.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// A hub not heard from for this long is taken for dead: the others take its claims
    /// back at once rather than wait out their lease.
    #[serde(default = "default_dead_after_ms")]
    pub dead_after_ms: u64,
    /// The longest pause a receiver's RESOURCE_EXHAUSTED with a retry delay can ask for;
    /// a longer delay is cut to this.
    #[serde(default = "default_max_retry_after_ms")]
    pub max_retry_after_ms: u64,
}

fn default_heartbeat_ms() -> u64 {
    1_000
}

fn default_dead_after_ms() -> u64 {
    5_000
}

fn default_max_retry_after_ms() -> u64 {
    600_000
}

/// Two lists of the largest allowed size (`limits.max_list_items`), about 26 MB.
fn default_tree_cache_leaves() -> usize {
    400_000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after an action day closed (or ended) — or a standing-scope list was accepted —
    /// after which its item bytes and notes are purged.
    pub days: u32,
    /// Time between retention passes.
    pub interval_ms: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            days: 183,
            interval_ms: 3_600_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7400".parse().expect("literal address"),
            database_url: "sqlite:takedown.db".into(),
            hub_id: "hub".into(),
            audience: "takedown-hub".into(),
            tls: TlsPaths::in_dir(Path::new("certs/dev"), "hub"),
            trust: TrustConfig {
                roots: vec!["certs/dev/root.pub.pem".into()],
            },
            limits: Limits {
                max_list_items: 200_000,
                max_list_bytes: 64 * 1024 * 1024,
            },
            delivery: DeliveryConfig {
                batch_size: 2000,
                max_in_flight: 2,
                rpc_timeout_ms: 10_000,
                lease_ms: 30_000,
                retry_schedule_ms: vec![500, 1_000, 2_000, 5_000, 15_000, 60_000],
                retry_jitter: 0.2,
                breaker_failures: 5,
                breaker_cooldown_ms: 10_000,
                poll_ms: 1_000,
                tree_cache_leaves: default_tree_cache_leaves(),
                instance_id: None,
                heartbeat_ms: default_heartbeat_ms(),
                dead_after_ms: default_dead_after_ms(),
                max_retry_after_ms: default_max_retry_after_ms(),
            },
            retention: RetentionConfig::default(),
            metrics: Default::default(),
            log_format: LogFormat::Text,
        }
    }
}

/// Why the configuration was refused (the sidecar's is the same type).
pub use takedown_net::config::ConfigError;

impl DeliveryConfig {
    /// This hub's instance id: `instance_id`, else `<host name>:<listen port>`.
    pub fn instance(&self, listen: SocketAddr) -> String {
        if let Some(id) = &self.instance_id {
            return id.trim().to_string();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "hub".into());
        format!("{host}:{}", listen.port())
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `TAKEDOWN_*` variables; validated.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let fig = takedown_net::config::layers(
            Figment::from(Serialized::defaults(Config::default())),
            file,
            Self::env(),
        )?;
        let cfg: Config = fig.extract().map_err(Box::new)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The `TAKEDOWN_*` layer. Only the hub's own keys are read: other tools share the
    /// prefix (`TAKEDOWN_CONFIG`, takedownctl's `TAKEDOWN_HUB`, the sidecar's
    /// `TAKEDOWN_SIDECAR_*`, test settings) and must not make the hub refuse to start. The
    /// top-level keys are the fields of [`Config`] itself, so a new section is read from
    /// the environment without a second list to update; below them, a misspelt key is
    /// refused (`deny_unknown_fields`).
    fn env() -> Env {
        let keys = takedown_net::config::struct_fields::<Config>();
        Env::prefixed("TAKEDOWN_").split("__").filter(move |key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            keys.iter().any(|k| top.eq_ignore_ascii_case(k))
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, reason: String| Err(ConfigError::invalid(field, reason));
        // The first of `fields` whose value is zero, as the field a refusal names.
        fn zero<'a>(fields: &[(&'a str, u64)]) -> Option<&'a str> {
            fields.iter().find(|(_, v)| *v == 0).map(|f| f.0)
        }
        takedown_store::Backend::of_url(&self.database_url)
            .map_err(|e| ConfigError::invalid("database_url", e.to_string()))?;
        if takedown_protocol::ident::OrgId::parse(&self.hub_id).is_err() {
            return bad("hub_id", format!("{:?} is not a valid id", self.hub_id));
        }
        if self.audience.is_empty() {
            return bad("audience", "must not be empty".into());
        }
        // Paths are checked for form only: the files are read when the hub starts.
        if let Some(field) = self.tls.empty_field() {
            return bad(field, "must not be empty".into());
        }
        if self.trust.roots.is_empty() || self.trust.roots.iter().any(|p| p.as_os_str().is_empty())
        {
            return bad(
                "trust.roots",
                "must name at least one coordinator root public key file".into(),
            );
        }
        let l = &self.limits;
        if let Some(f) = zero(&[
            ("limits.max_list_items", l.max_list_items as u64),
            ("limits.max_list_bytes", l.max_list_bytes as u64),
        ]) {
            return bad(f, "must be positive".into());
        }
        let d = &self.delivery;
        if let Some(f) = zero(&[
            ("delivery.batch_size", u64::from(d.batch_size)),
            ("delivery.max_in_flight", d.max_in_flight as u64),
            ("delivery.heartbeat_ms", d.heartbeat_ms),
            ("delivery.poll_ms", d.poll_ms),
            ("delivery.breaker_failures", u64::from(d.breaker_failures)),
        ]) {
            return bad(f, "must be positive".into());
        }
        if d.lease_ms <= d.rpc_timeout_ms {
            return bad(
                "delivery.lease_ms",
                format!(
                    "{} must exceed delivery.rpc_timeout_ms ({})",
                    d.lease_ms, d.rpc_timeout_ms
                ),
            );
        }
        if d.dead_after_ms < 3 * d.heartbeat_ms {
            return bad(
                "delivery.dead_after_ms",
                format!(
                    "{} must be at least three delivery.heartbeat_ms ({})",
                    d.dead_after_ms, d.heartbeat_ms
                ),
            );
        }
        if d.instance_id
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            return bad("delivery.instance_id", "must not be empty when set".into());
        }
        if d.retry_schedule_ms.is_empty() {
            return bad(
                "delivery.retry_schedule_ms",
                "must list at least one delay".into(),
            );
        }
        if !(0.0..1.0).contains(&d.retry_jitter) {
            return bad("delivery.retry_jitter", "must be in [0, 1)".into());
        }
        if d.tree_cache_leaves < self.limits.max_list_items {
            return bad(
                "delivery.tree_cache_leaves",
                format!(
                    "{} must hold at least one list of limits.max_list_items ({})",
                    d.tree_cache_leaves, self.limits.max_list_items
                ),
            );
        }
        let r = &self.retention;
        if let Some(f) = zero(&[
            ("retention.days", u64::from(r.days)),
            ("retention.interval_ms", r.interval_ms),
        ]) {
            return bad(f, "must be positive".into());
        }
        Ok(())
    }
}

impl DeliveryConfig {
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }

    pub fn max_retry_after(&self) -> Duration {
        Duration::from_millis(self.max_retry_after_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    // figment's Jail closures return figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn environment_overrides_and_other_takedown_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TAKEDOWN_DELIVERY__BATCH_SIZE", "123");
            jail.set_env("TAKEDOWN_LISTEN", "127.0.0.1:9999");
            // Shared prefix, not the hub's: ignored.
            jail.set_env("TAKEDOWN_CONFIG", "hub.toml");
            jail.set_env("TAKEDOWN_HUB", "https://127.0.0.1:7400");
            jail.set_env("TAKEDOWN_REQUIRE_PG", "1");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.delivery.batch_size, 123);
            assert_eq!(c.listen.port(), 9999);
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn retention_days_is_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TAKEDOWN_RETENTION__DAYS", "30");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.retention.days, 30);
            Ok(())
        });
    }

    /// Every leaf of a serialized configuration, by its dotted path.
    fn leaves(config: &Config) -> BTreeMap<String, serde_json::Value> {
        takedown_net::config::leaves(config)
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn every_key_can_be_set_through_the_environment() {
        figment::Jail::expect_with(|jail| {
            for (k, v) in [
                ("TAKEDOWN_LISTEN", "0.0.0.0:7401"),
                ("TAKEDOWN_DATABASE_URL", "postgres://takedown@db/takedown"),
                ("TAKEDOWN_HUB_ID", "hub-2"),
                ("TAKEDOWN_AUDIENCE", "aud-2"),
                ("TAKEDOWN_TLS__CA", "/certs/ca.pem"),
                ("TAKEDOWN_TLS__CERT", "/certs/hub.pem"),
                ("TAKEDOWN_TLS__KEY", "/certs/hub.key"),
                ("TAKEDOWN_TRUST__ROOTS", r#"["/certs/root.pub.pem"]"#),
                ("TAKEDOWN_LIMITS__MAX_LIST_ITEMS", "1000"),
                ("TAKEDOWN_LIMITS__MAX_LIST_BYTES", "2048"),
                ("TAKEDOWN_DELIVERY__BATCH_SIZE", "10"),
                ("TAKEDOWN_DELIVERY__MAX_IN_FLIGHT", "3"),
                ("TAKEDOWN_DELIVERY__RPC_TIMEOUT_MS", "1000"),
                ("TAKEDOWN_DELIVERY__LEASE_MS", "2000"),
                ("TAKEDOWN_DELIVERY__RETRY_SCHEDULE_MS", "[7, 8]"),
                ("TAKEDOWN_DELIVERY__RETRY_JITTER", "0.5"),
                ("TAKEDOWN_DELIVERY__BREAKER_FAILURES", "2"),
                ("TAKEDOWN_DELIVERY__BREAKER_COOLDOWN_MS", "20"),
                ("TAKEDOWN_DELIVERY__POLL_MS", "30"),
                ("TAKEDOWN_DELIVERY__TREE_CACHE_LEAVES", "5000"),
                ("TAKEDOWN_DELIVERY__INSTANCE_ID", "hub-b"),
                ("TAKEDOWN_DELIVERY__HEARTBEAT_MS", "500"),
                ("TAKEDOWN_DELIVERY__DEAD_AFTER_MS", "3000"),
                ("TAKEDOWN_DELIVERY__MAX_RETRY_AFTER_MS", "4000"),
                ("TAKEDOWN_RETENTION__DAYS", "30"),
                ("TAKEDOWN_RETENTION__INTERVAL_MS", "60000"),
                ("TAKEDOWN_METRICS__LISTEN", "127.0.0.1:9464"),
                ("TAKEDOWN_LOG_FORMAT", "json"),
            ] {
                jail.set_env(k, v);
            }
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let before = leaves(&Config::default());
            let after = leaves(&c);
            for (path, default) in &before {
                assert_ne!(
                    after.get(path),
                    Some(default),
                    "{path} was not set from the environment"
                );
            }
            let sections: BTreeSet<&str> = before
                .keys()
                .map(|p| p.split('.').next().unwrap_or_default())
                .collect();
            let fields: BTreeSet<&str> = takedown_net::config::struct_fields::<Config>()
                .iter()
                .copied()
                .collect();
            assert_eq!(
                sections, fields,
                "a top-level key is not covered by this test"
            );
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn a_misspelt_key_of_the_hub_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TAKEDOWN_DELIVERY__BATCHSIZE", "1");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn empty_certificate_paths_are_refused() {
        let mut c = Config::default();
        c.tls.key = PathBuf::new();
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "configuration: tls.key: must not be empty");
    }

    #[test]
    fn lease_must_exceed_rpc_deadline() {
        let mut c = Config::default();
        c.delivery.lease_ms = c.delivery.rpc_timeout_ms;
        assert!(c.validate().unwrap_err().to_string().contains("lease_ms"));
    }

    #[test]
    fn tree_cache_must_hold_a_largest_list() {
        let mut c = Config::default();
        c.delivery.tree_cache_leaves = c.limits.max_list_items - 1;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("tree_cache_leaves"), "{e}");
        c.delivery.tree_cache_leaves = c.limits.max_list_items;
        c.validate().unwrap();
    }

    #[test]
    fn database_url_is_checked_and_redacted() {
        let c = Config {
            database_url: "mysql://x".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
