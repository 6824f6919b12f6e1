//! Configuration: defaults, then a TOML file, then `TAKEDOWN_SIDECAR_*` environment
//! variables (nested keys joined with `__`, e.g. `TAKEDOWN_SIDECAR_TLS__CERT`), validated
//! once at startup.
//!
//! ```toml
//! platform = "telegram"
//! listen = "127.0.0.1:7443"
//! hub_endpoint = "https://127.0.0.1:7400"
//! hub_id = "hub"
//! hub_audience = "takedown-hub"
//! inbox = "sidecar-telegram.db"
//! log_format = "text"              # or "json"
//! decisions_listen = "127.0.0.1:7080"  # modes "webhook" and "coop" only; the default
//!
//! [tls]
//! ca = "certs/ca.pem"
//! cert = "certs/telegram.pem"
//! key = "certs/telegram.key"
//!
//! [trust]
//! roots = ["certs/root.pub.pem"]    # coordinator root public keys, pinned
//!
//! [integration]
//! mode = "auto"                     # or "webhook" / "command" / "coop"
//! block_share = 0.8
//! reject_share = 0.1
//! reject_reason = "NOT_A_VIOLATION"
//! gone_share = 0.1
//! min_delay_ms = 0
//! max_delay_ms = 0
//! seed = 0
//!
//! [handoff]
//! batch_size = 2000
//! interval_ms = 200
//!
//! [report]
//! batch_size = 4000
//! interval_ms = 200
//!
//! [retention]
//! days = 90                         # then handed targets are forgotten (see crate::retention)
//!
//! # mode = "pull"                   # fetch from the hub instead of listening (crate::pull)
//! # [pull]
//! # batch_size = 2000
//! # wait_ms = 20000
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Serialize};
pub use takedown_net::{telemetry::LogFormat, tls::TlsPaths};
use takedown_protocol::{
    ident::{OrgId, PlatformName},
    pb,
};

/// Why the configuration was refused.
pub use takedown_net::config::ConfigError;

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::invalid(field, reason)
}

/// The sidecar's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The platform this sidecar receives for (`telegram`, `x`, ...).
    pub platform: String,
    /// Where the gRPC `ReceiverService` listens (used by the binary to bind); unused in pull
    /// mode.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The hub's gRPC endpoint, for agency keys and outcome reports.
    #[serde(default = "default_hub_endpoint")]
    pub hub_endpoint: String,
    /// The hub's organisation id in its certificate (`urn:takedown:hub:<hub_id>`).
    #[serde(default = "default_hub_id")]
    pub hub_id: String,
    /// The audience agencies sign their lists for.
    #[serde(default = "default_hub_audience")]
    pub hub_audience: String,
    pub tls: TlsPaths,
    /// Whom the sidecar believes about agency keys: not the hub.
    pub trust: TrustPaths,
    /// The SQLite file of the inbox and outbox.
    #[serde(default = "default_inbox")]
    pub inbox: PathBuf,
    #[serde(default)]
    pub log_format: LogFormat,
    /// Where the platform posts its decisions: `POST /v1/decisions` in webhook mode, Coop's
    /// action callbacks `POST /v1/coop/actions` in coop mode; unused in the other modes
    /// (default [`DEFAULT_DECISIONS_LISTEN`], loopback). Every post must be signed: with
    /// `integration.secret` (Standard Webhooks), or by Coop (`Coop-Signature`).
    #[serde(default)]
    pub decisions_listen: Option<SocketAddr>,
    #[serde(default)]
    pub integration: Integration,
    #[serde(default)]
    pub handoff: HandoffSettings,
    #[serde(default)]
    pub report: ReportSettings,
    /// How often the newest key-set statement is asked for, besides the stream the hub
    /// pushes new ones on (a safety net for a stream that breaks silently).
    #[serde(default = "default_keys_refresh_secs")]
    pub keys_refresh_secs: u64,
    /// The Prometheus endpoint (`listen`; off unless set).
    #[serde(default)]
    pub metrics: takedown_net::metrics::MetricsConfig,
    #[serde(default)]
    pub retention: RetentionSettings,
    /// `push` (the hub calls this sidecar on `listen`) or `pull` (the sidecar connects out
    /// to `hub_endpoint` and fetches its share; it opens no gRPC port). The platform's
    /// directory entry at the hub must say the same.
    #[serde(default)]
    pub mode: DeliveryMode,
    /// How a pull-mode sidecar fetches.
    #[serde(default)]
    pub pull: PullSettings,
}

/// How deliveries reach this sidecar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    #[default]
    Push,
    Pull,
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

/// Pull mode ([`crate::pull`]): at most `batch_size` (≤ 5 000) targets per pull; each pull
/// waits up to `wait_ms` (≤ 60 000) at the hub for something to come due.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSettings {
    #[serde(default = "default_handoff_batch")]
    pub batch_size: u32,
    #[serde(default = "default_pull_wait_ms")]
    pub wait_ms: u32,
}

fn default_pull_wait_ms() -> u32 {
    20_000
}

impl Default for PullSettings {
    fn default() -> Self {
        Self {
            batch_size: default_handoff_batch(),
            wait_ms: default_pull_wait_ms(),
        }
    }
}

/// How long the inbox keeps what identifies a target after handing it to the platform,
/// and sent reports ([`crate::retention`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days, at least 1 (default 90).
    #[serde(default = "default_retention_days")]
    pub days: u32,
}

fn default_retention_days() -> u32 {
    90
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            days: default_retention_days(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7443))
}
fn default_hub_endpoint() -> String {
    "https://127.0.0.1:7400".into()
}
fn default_hub_id() -> String {
    "hub".into()
}
fn default_hub_audience() -> String {
    "takedown-hub".into()
}
fn default_inbox() -> PathBuf {
    "sidecar.db".into()
}
fn default_keys_refresh_secs() -> u64 {
    300
}

/// The coordinator root public keys the platform pins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPaths {
    /// SPKI PEM files. Agency keys are believed only from key-set statements one of them
    /// signed, or a root endorsed by the newest statement accepted; the hub cannot forge
    /// or roll back a statement.
    pub roots: Vec<PathBuf>,
}

/// How targets reach the platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Integration {
    Webhook(WebhookSettings),
    Command(CommandSettings),
    Auto(AutoSettings),
    Coop(CoopSettings),
}

impl Default for Integration {
    fn default() -> Self {
        Self::Auto(AutoSettings::default())
    }
}

impl Integration {
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Webhook(_) => "webhook",
            Self::Command(_) => "command",
            Self::Auto(_) => "auto",
            Self::Coop(_) => "coop",
        }
    }
}

/// Where the decisions endpoint listens in webhook and coop mode unless configured:
/// loopback.
pub const DEFAULT_DECISIONS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7080);

/// `mode = "webhook"`: POST each batch as JSON to `url`, signed (Standard Webhooks) with
/// `secret`, which also authenticates the platform's posts to the decisions endpoint.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// The shared secret, `whsec_` and base64 (at least 24 bytes); never logged.
    pub secret: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    #[serde(default)]
    pub token: Option<String>,
    /// A PEM CA to trust for an `https` URL instead of the public web roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_webhook_timeout_ms() -> u64 {
    30_000
}

/// Bytes of key in a `whsec_` secret.
fn secret_bytes(secret: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .map(|k| k.len())
        .unwrap_or(0)
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca", &self.ca)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// `mode = "coop"`: file each target into [ROOST Coop](https://github.com/roostorg/coop)
/// through its REST API (`POST {url}/api/v1/items/async/` with `X-API-KEY`), as an item of
/// the Item Type `item_type_id`; take Coop's action callbacks on the decisions endpoint
/// (`POST /v1/coop/actions`), each verified against Coop's webhook signature verification
/// key (`Coop-Signature`: RSASSA-PKCS1-v1_5 with SHA-256 over the raw body), and map the
/// Coop action (by id) to an outcome, and for REJECTED the first mapped Coop policy (by id)
/// to a reason. See [`crate::coop`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoopSettings {
    /// Coop's base URL, e.g. `https://coop.example.org`.
    pub url: String,
    /// The organisation's Coop API key, sent as `X-API-KEY`; never logged.
    pub api_key: String,
    /// The Coop Item Type the targets are filed as.
    pub item_type_id: String,
    /// Coop's webhook signature verification key (Settings → API Keys), a PEM
    /// `PUBLIC KEY`.
    pub signing_key: PathBuf,
    /// Coop action id → the outcome it means: BLOCKED GEO_BLOCKED ALREADY_GONE NOT_FOUND
    /// REJECTED (takedowns), RESTORED NOT_RESTORED (withdrawals).
    pub actions: std::collections::BTreeMap<String, crate::document::OutcomeName>,
    /// Coop policy id → the reason of a REJECTED outcome.
    #[serde(default)]
    pub policies: std::collections::BTreeMap<String, crate::document::ReasonName>,
    /// The reason of a REJECTED outcome whose callback names no mapped policy.
    #[serde(default = "default_coop_reject_reason")]
    pub reject_reason: crate::document::ReasonName,
    /// A PEM CA to trust for an `https` URL instead of the public web roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_coop_reject_reason() -> crate::document::ReasonName {
    crate::document::ReasonName::Other
}

impl std::fmt::Debug for CoopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoopSettings")
            .field("url", &self.url)
            .field("api_key", &"<redacted>")
            .field("item_type_id", &self.item_type_id)
            .field("signing_key", &self.signing_key)
            .field("actions", &self.actions)
            .field("policies", &self.policies)
            .field("reject_reason", &self.reject_reason)
            .field("ca", &self.ca)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// `mode = "command"`: run `program args...` with the batch JSON on stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
}

/// `mode = "auto"`: a deterministic simulated moderation for demos, tests and benchmarks.
/// Per target, a hash of (target id, seed) picks BLOCKED with `block_share`, REJECTED
/// (`reject_reason`) with `reject_share`, ALREADY_GONE with `gone_share`; the rest is
/// acknowledged only. Each decision comes after a delay uniform in
/// [`min_delay_ms`, `max_delay_ms`], also from the hash. Withdrawals are RESTORED.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoSettings {
    #[serde(default = "default_block_share")]
    pub block_share: f64,
    #[serde(default = "default_reject_share")]
    pub reject_share: f64,
    #[serde(default = "default_reject_reason")]
    pub reject_reason: String,
    #[serde(default = "default_gone_share")]
    pub gone_share: f64,
    #[serde(default)]
    pub min_delay_ms: u64,
    #[serde(default)]
    pub max_delay_ms: u64,
    #[serde(default)]
    pub seed: u64,
}

fn default_block_share() -> f64 {
    0.8
}
fn default_reject_share() -> f64 {
    0.1
}
fn default_gone_share() -> f64 {
    0.1
}
fn default_reject_reason() -> String {
    "NOT_A_VIOLATION".into()
}

impl Default for AutoSettings {
    fn default() -> Self {
        Self {
            block_share: default_block_share(),
            reject_share: default_reject_share(),
            reject_reason: default_reject_reason(),
            gone_share: default_gone_share(),
            min_delay_ms: 0,
            max_delay_ms: 0,
            seed: 0,
        }
    }
}

/// How many inbox rows go to the platform at once, how often the inbox is polled when
/// idle (new deliveries also wake the worker at once), and how much may wait for the
/// platform before the hub is asked to hold back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    #[serde(default = "default_handoff_batch")]
    pub batch_size: u32,
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Deliveries stored but not yet handed to the platform above which a Deliver call is
    /// answered RESOURCE_EXHAUSTED with a retry delay (and a pull-mode sidecar stops
    /// pulling): a platform whose moderation falls behind is not buried. 0: no limit.
    #[serde(default = "default_max_backlog")]
    pub max_backlog: u32,
    /// The delay the hub is asked to wait then (`google.rpc.RetryInfo`).
    #[serde(default = "default_backlog_retry_ms")]
    pub backlog_retry_ms: u64,
}

fn default_max_backlog() -> u32 {
    100_000
}
fn default_backlog_retry_ms() -> u64 {
    5_000
}

fn default_handoff_batch() -> u32 {
    2000
}
fn default_interval_ms() -> u64 {
    200
}

impl Default for HandoffSettings {
    fn default() -> Self {
        Self {
            batch_size: default_handoff_batch(),
            interval_ms: default_interval_ms(),
            max_backlog: default_max_backlog(),
            backlog_retry_ms: default_backlog_retry_ms(),
        }
    }
}

/// Outcome reports to the hub: at most `batch_size` (≤ 5 000) per call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    #[serde(default = "default_report_batch")]
    pub batch_size: u32,
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
}

fn default_report_batch() -> u32 {
    4000
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            batch_size: default_report_batch(),
            interval_ms: default_interval_ms(),
        }
    }
}

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "TAKEDOWN_SIDECAR_";

/// `TAKEDOWN_SIDECAR_*` variables the command line reads, which are not configuration keys
/// (`TAKEDOWN_SIDECAR_CONFIG` names the file).
const COMMAND_LINE_VARIABLES: &[&str] = &["config"];

impl Config {
    /// Defaults, then `file` (when given), then `TAKEDOWN_SIDECAR_*`; validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let fig = takedown_net::config::layers(Figment::new(), file, Self::env())?;
        Self::from_figment(fig)
    }

    /// The `TAKEDOWN_SIDECAR_*` layer. Unlike the hub's `TAKEDOWN_*`, the prefix is the
    /// sidecar's alone, so every variable under it is read and one that names no key of
    /// [`Config`] is refused (`deny_unknown_fields`): a misspelt variable is an error, not
    /// a silent default. The only exceptions are the variables of the command line.
    fn env() -> Env {
        Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
            !COMMAND_LINE_VARIABLES
                .iter()
                .any(|v| key.as_str().eq_ignore_ascii_case(v))
        })
    }

    /// The configuration of `platform`'s sidecar with these certificates and trust roots and
    /// every other key at its default, as a file naming only those would give (not yet
    /// validated: set what differs, then [`Self::validate`]).
    pub fn new(platform: impl Into<String>, tls: TlsPaths, trust: TrustPaths) -> Self {
        Self {
            platform: platform.into(),
            listen: default_listen(),
            hub_endpoint: default_hub_endpoint(),
            hub_id: default_hub_id(),
            hub_audience: default_hub_audience(),
            tls,
            trust,
            inbox: default_inbox(),
            log_format: LogFormat::default(),
            decisions_listen: None,
            integration: Integration::default(),
            handoff: HandoffSettings::default(),
            report: ReportSettings::default(),
            keys_refresh_secs: default_keys_refresh_secs(),
            metrics: takedown_net::metrics::MetricsConfig::default(),
            retention: RetentionSettings::default(),
            mode: DeliveryMode::default(),
            pull: PullSettings::default(),
        }
    }

    /// A configuration from TOML text alone (no environment), validated.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)))
    }

    /// Extracts and validates.
    pub fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        let cfg: Config = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configured platform, checked.
    pub fn platform_name(&self) -> Result<PlatformName, ConfigError> {
        PlatformName::parse(&self.platform).map_err(|e| invalid("platform", e.to_string()))
    }

    /// The hub's organisation id, checked.
    pub fn hub_org(&self) -> Result<OrgId, ConfigError> {
        OrgId::parse(&self.hub_id).map_err(|e| invalid("hub_id", e.to_string()))
    }

    /// Where the decisions endpoint listens: webhook and coop mode only (the sidecar warns at
    /// startup when `decisions_listen` is set for another mode).
    pub fn decisions_addr(&self) -> Option<SocketAddr> {
        match &self.integration {
            Integration::Webhook(_) | Integration::Coop(_) => {
                Some(self.decisions_listen.unwrap_or(DEFAULT_DECISIONS_LISTEN))
            }
            _ => None,
        }
    }

    /// Checks every field; the first problem is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.platform_name()?;
        self.hub_org()?;
        let ep = &self.hub_endpoint;
        if !(ep.starts_with("https://") || ep.starts_with("http://")) || ep.len() < 10 {
            return Err(invalid(
                "hub_endpoint",
                format!("{ep:?} is not https://host:port"),
            ));
        }
        if self.hub_audience.trim().is_empty() {
            return Err(invalid("hub_audience", "is empty"));
        }
        // Paths are checked for form only: the files are read when the sidecar starts.
        if self.inbox.as_os_str().is_empty() {
            return Err(invalid("inbox", "is empty"));
        }
        if let Some(field) = self.tls.empty_field() {
            return Err(invalid(field, "is empty"));
        }
        if self.trust.roots.is_empty() || self.trust.roots.iter().any(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "trust.roots",
                "must name at least one coordinator root public key file",
            ));
        }
        match &self.integration {
            Integration::Webhook(w) => {
                check_http_url(&w.url)?;
                match standardwebhooks::Webhook::new(&w.secret) {
                    Err(e) => return Err(invalid("integration.secret", e.to_string())),
                    Ok(_) if !w.secret.starts_with("whsec_") => {
                        return Err(invalid("integration.secret", "must start with whsec_"));
                    }
                    Ok(_) if secret_bytes(&w.secret) < 24 => {
                        return Err(invalid(
                            "integration.secret",
                            "must hold at least 24 bytes (base64 after whsec_)",
                        ));
                    }
                    Ok(_) => {}
                }
                if w.timeout_ms == 0 {
                    return Err(invalid("integration.timeout_ms", "must be > 0"));
                }
                if w.ca.as_ref().is_some_and(|ca| ca.as_os_str().is_empty()) {
                    return Err(invalid("integration.ca", "is empty"));
                }
            }
            Integration::Coop(c) => {
                check_http_url(&c.url)?;
                if c.api_key.trim().is_empty() {
                    return Err(invalid("integration.api_key", "is empty"));
                }
                if c.item_type_id.trim().is_empty() {
                    return Err(invalid("integration.item_type_id", "is empty"));
                }
                if c.signing_key.as_os_str().is_empty() {
                    return Err(invalid("integration.signing_key", "is empty"));
                }
                if c.actions.is_empty() {
                    return Err(invalid(
                        "integration.actions",
                        "must map at least one Coop action id to an outcome",
                    ));
                }
                if c.timeout_ms == 0 {
                    return Err(invalid("integration.timeout_ms", "must be > 0"));
                }
                if c.ca.as_ref().is_some_and(|ca| ca.as_os_str().is_empty()) {
                    return Err(invalid("integration.ca", "is empty"));
                }
            }
            Integration::Command(c) => {
                if c.program.trim().is_empty() {
                    return Err(invalid("integration.program", "is empty"));
                }
                if c.timeout_ms == 0 {
                    return Err(invalid("integration.timeout_ms", "must be > 0"));
                }
            }
            Integration::Auto(a) => {
                for (field, v) in [
                    ("integration.block_share", a.block_share),
                    ("integration.reject_share", a.reject_share),
                    ("integration.gone_share", a.gone_share),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(invalid(field, format!("{v} is not within 0..=1")));
                    }
                }
                let sum = a.block_share + a.reject_share + a.gone_share;
                if sum > 1.0 + 1e-9 {
                    return Err(invalid(
                        "integration",
                        format!("block_share + reject_share + gone_share = {sum} exceeds 1"),
                    ));
                }
                parse_reject_reason(&a.reject_reason)
                    .ok_or_else(|| invalid("integration.reject_reason", a.reject_reason.clone()))?;
                if a.min_delay_ms > a.max_delay_ms {
                    return Err(invalid(
                        "integration.min_delay_ms",
                        "is greater than max_delay_ms",
                    ));
                }
            }
        }
        if self.handoff.batch_size == 0 || self.handoff.batch_size > 5000 {
            return Err(invalid("handoff.batch_size", "must be within 1..=5000"));
        }
        if !(100..=600_000).contains(&self.handoff.backlog_retry_ms) {
            return Err(invalid(
                "handoff.backlog_retry_ms",
                "must be within 100..=600000 (10 minutes, the most the hub waits)",
            ));
        }
        if self.report.batch_size == 0 || self.report.batch_size > 5000 {
            return Err(invalid("report.batch_size", "must be within 1..=5000"));
        }
        if self.handoff.interval_ms == 0 || self.report.interval_ms == 0 {
            return Err(invalid("interval_ms", "must be > 0"));
        }
        if self.pull.batch_size == 0 || self.pull.batch_size > 5000 {
            return Err(invalid("pull.batch_size", "must be within 1..=5000"));
        }
        if self.pull.wait_ms > 60_000 {
            return Err(invalid("pull.wait_ms", "must be within 0..=60000"));
        }
        if self.retention.days == 0 || self.retention.days > 36_500 {
            return Err(invalid("retention.days", "must be within 1..=36500"));
        }
        Ok(())
    }
}

/// An `http(s)://host...` URL for `integration.url`.
fn check_http_url(url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| invalid("integration.url", format!("{url:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid(
            "integration.url",
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    Ok(())
}

/// `NOT_A_VIOLATION` (or `REJECT_REASON_NOT_A_VIOLATION`) → the enum.
pub fn parse_reject_reason(name: &str) -> Option<pb::RejectReason> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("REJECT_REASON_") {
        upper
    } else {
        format!("REJECT_REASON_{upper}")
    };
    pb::RejectReason::from_str_name(&full).filter(|r| *r != pb::RejectReason::Unspecified)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    const BASE: &str = r#"
        platform = "telegram"
        [tls]
        ca = "ca.pem"
        cert = "telegram.pem"
        key = "telegram.key"
        [trust]
        roots = ["root.pub.pem"]
    "#;

    #[test]
    fn defaults_fill_the_rest() {
        let c = Config::from_toml(BASE).unwrap();
        assert_eq!(c.hub_id, "hub");
        assert_eq!(c.hub_audience, "takedown-hub");
        assert_eq!(c.report.batch_size, 4000);
        assert!(matches!(c.integration, Integration::Auto(_)));
    }

    /// What `Config::new` builds is what a file naming only those keys gives.
    #[test]
    fn new_is_the_minimal_file() {
        let built = Config::new(
            "telegram",
            TlsPaths {
                ca: "ca.pem".into(),
                cert: "telegram.pem".into(),
                key: "telegram.key".into(),
            },
            TrustPaths {
                roots: vec!["root.pub.pem".into()],
            },
        );
        built.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&built).unwrap(),
            serde_json::to_value(Config::from_toml(BASE).unwrap()).unwrap()
        );
    }

    #[test]
    fn modes_parse_and_are_checked() {
        let c = Config::from_toml(&format!(
            "decisions_listen = \"127.0.0.1:7080\"\n{BASE}\n[integration]\nmode = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\ntoken = \"s3cret\"\nsecret = \"whsec_dGFrZWRvd24gdGVzdCBzZWNyZXQ6IDMyIGJ5dGVzISE=\"\n"
        ))
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"), "token leaks in Debug");
        assert!(
            !format!("{c:?}").contains("whsec_"),
            "secret leaks in Debug"
        );
        // The decisions endpoint defaults to loopback, and exists in webhook mode only.
        let c = Config::from_toml(&format!(
            "{BASE}\n[integration]\nmode = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"whsec_dGFrZWRvd24gdGVzdCBzZWNyZXQ6IDMyIGJ5dGVzISE=\"\n"
        ))
        .unwrap();
        assert_eq!(c.decisions_addr(), Some("127.0.0.1:7080".parse().unwrap()));
        let c = Config::from_toml(&format!("decisions_listen = \"0.0.0.0:7080\"\n{BASE}")).unwrap();
        assert_eq!(c.decisions_addr(), None, "auto mode takes no decisions");
        // A webhook needs a real secret.
        for (secret, why) in [
            ("", "whsec_"),
            ("whsec_not*base64", "secret"),
            ("dGFrZWRvd24gdGVzdCBzZWNyZXQ6IDMyIGJ5dGVzISE=", "whsec_"),
            ("whsec_c2hvcnQ=", "24 bytes"),
        ] {
            let err = Config::from_toml(&format!(
                "{BASE}\n[integration]\nmode = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"{secret}\"\n"
            ))
            .unwrap_err();
            assert!(
                err.to_string().contains("integration.secret") && err.to_string().contains(why),
                "{secret:?}: {err}"
            );
        }
        let err = Config::from_toml(&format!(
            "{BASE}\n[integration]\nmode = \"auto\"\nblock_share = 0.9\nreject_share = 0.5\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("exceeds 1"), "{err}");
        let err =
            Config::from_toml(&format!("{BASE}\n[integration]\nmode = \"fax\"\n")).unwrap_err();
        assert!(err.to_string().contains("fax"), "{err}");
        let err = Config::from_toml(&BASE.replace("telegram\"", "Tele gram\"")).unwrap_err();
        assert!(err.to_string().contains("platform"), "{err}");
        let err = Config::from_toml(&format!("hub_endpiont = \"x\"\n{BASE}")).unwrap_err();
        assert!(err.to_string().contains("hub_endpiont"), "{err}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let c = Config::from_toml(include_str!("../sidecar.example.toml")).unwrap();
        assert_eq!(c.platform, "telegram");
        assert!(matches!(c.integration, Integration::Auto(ref a) if a.block_share == 0.8));
    }

    /// Every leaf of a serialized configuration, by its dotted path.
    fn leaves(config: &Config) -> BTreeMap<String, serde_json::Value> {
        takedown_net::config::leaves(config)
    }

    /// Sets `vars` in the jail and loads the configuration from them and `file`.
    #[allow(clippy::result_large_err)]
    fn load_in(
        jail: &mut figment::Jail,
        file: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<Config, ConfigError> {
        for (k, v) in vars {
            jail.set_env(k, v);
        }
        let path = Path::new("sidecar.toml");
        if let Some(text) = file {
            jail.create_file(path, text)
                .expect("writing the config file");
        }
        Config::load(file.map(|_| path))
    }

    // figment's Jail closures return figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn every_key_can_be_set_through_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = load_in(
                jail,
                None,
                &[
                    ("TAKEDOWN_SIDECAR_PLATFORM", "tamtam"),
                    ("TAKEDOWN_SIDECAR_LISTEN", "0.0.0.0:7444"),
                    ("TAKEDOWN_SIDECAR_HUB_ENDPOINT", "https://hub:7400"),
                    ("TAKEDOWN_SIDECAR_HUB_ID", "hub-2"),
                    ("TAKEDOWN_SIDECAR_HUB_AUDIENCE", "aud-2"),
                    ("TAKEDOWN_SIDECAR_TLS__CA", "/certs/ca.pem"),
                    ("TAKEDOWN_SIDECAR_TLS__CERT", "/certs/tamtam.pem"),
                    ("TAKEDOWN_SIDECAR_TLS__KEY", "/certs/tamtam.key"),
                    (
                        "TAKEDOWN_SIDECAR_TRUST__ROOTS",
                        r#"["/certs/root.pub.pem"]"#,
                    ),
                    ("TAKEDOWN_SIDECAR_INBOX", "/data/inbox.db"),
                    ("TAKEDOWN_SIDECAR_LOG_FORMAT", "json"),
                    ("TAKEDOWN_SIDECAR_DECISIONS_LISTEN", "0.0.0.0:7080"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MODE", "auto"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__BLOCK_SHARE", "0.5"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__REJECT_SHARE", "0.2"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__REJECT_REASON", "OTHER"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__GONE_SHARE", "0.05"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MIN_DELAY_MS", "5"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MAX_DELAY_MS", "10"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__SEED", "7"),
                    ("TAKEDOWN_SIDECAR_HANDOFF__BATCH_SIZE", "100"),
                    ("TAKEDOWN_SIDECAR_HANDOFF__INTERVAL_MS", "50"),
                    ("TAKEDOWN_SIDECAR_HANDOFF__MAX_BACKLOG", "700"),
                    ("TAKEDOWN_SIDECAR_HANDOFF__BACKLOG_RETRY_MS", "2000"),
                    ("TAKEDOWN_SIDECAR_REPORT__BATCH_SIZE", "300"),
                    ("TAKEDOWN_SIDECAR_REPORT__INTERVAL_MS", "60"),
                    ("TAKEDOWN_SIDECAR_KEYS_REFRESH_SECS", "30"),
                    ("TAKEDOWN_SIDECAR_METRICS__LISTEN", "127.0.0.1:9465"),
                    ("TAKEDOWN_SIDECAR_RETENTION__DAYS", "30"),
                    ("TAKEDOWN_SIDECAR_MODE", "pull"),
                    ("TAKEDOWN_SIDECAR_PULL__BATCH_SIZE", "250"),
                    ("TAKEDOWN_SIDECAR_PULL__WAIT_MS", "5000"),
                    // Read by the command line, not a key: not refused.
                    ("TAKEDOWN_SIDECAR_CONFIG", "elsewhere.toml"),
                ],
            )
            .map_err(|e| e.to_string())?;
            let before = leaves(&Config::from_toml(BASE).map_err(|e| e.to_string())?);
            let after = leaves(&c);
            // The default mode is auto; the webhook and command tests below switch it.
            assert_eq!(after["integration.mode"], "auto");
            for (path, default) in before.iter().filter(|(p, _)| *p != "integration.mode") {
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

    const COOP: &str = r#"
        [integration]
        mode = "coop"
        url = "https://coop.example.org"
        api_key = "k3y"
        item_type_id = "takedown-referral"
        signing_key = "coop-signing-key.pub.pem"
        [integration.actions]
        "a-ban" = "BLOCKED"
        "a-dismiss" = "REJECTED"
        "a-restore" = "RESTORED"
        [integration.policies]
        "p-unclear" = "INSUFFICIENT_INFORMATION"
    "#;

    #[test]
    fn coop_settings_map_actions_and_policies() {
        let c = Config::from_toml(&format!("{BASE}{COOP}")).unwrap();
        let Integration::Coop(coop) = &c.integration else {
            panic!("mode is {}", c.integration.mode());
        };
        assert_eq!(coop.actions["a-ban"], crate::document::OutcomeName::Blocked);
        assert_eq!(
            coop.policies["p-unclear"],
            crate::document::ReasonName::InsufficientInformation
        );
        assert_eq!(coop.reject_reason, crate::document::ReasonName::Other);
        assert_eq!(c.decisions_addr(), Some(DEFAULT_DECISIONS_LISTEN));
        assert!(
            !format!("{coop:?}").contains("k3y"),
            "the API key is never logged"
        );

        let err = Config::from_toml(&format!(
            "{BASE}{}",
            COOP.replace("\"BLOCKED\"", "\"EATEN\"")
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("EATEN"), "{err}");
        let err = Config::from_toml(&format!("{BASE}{}", COOP.replace("k3y", " ")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("integration.api_key: is empty"), "{err}");
        let no_actions = COOP
            .split("[integration.actions]")
            .next()
            .unwrap()
            .to_string();
        let err = Config::from_toml(&format!("{BASE}{no_actions}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("actions"), "{err}");
        let err = Config::from_toml(&format!(
            "{BASE}{}",
            COOP.replace("https://coop.example.org", "coop.example.org")
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("integration.url"), "{err}");
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn webhook_settings_can_be_set_through_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = load_in(
                jail,
                Some(BASE),
                &[
                    ("TAKEDOWN_SIDECAR_DECISIONS_LISTEN", "127.0.0.1:7080"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MODE", "webhook"),
                    (
                        "TAKEDOWN_SIDECAR_INTEGRATION__URL",
                        "https://moderation.example/v1",
                    ),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__TOKEN", "s3cret"),
                    (
                        "TAKEDOWN_SIDECAR_INTEGRATION__SECRET",
                        "whsec_dGFrZWRvd24gdGVzdCBzZWNyZXQ6IDMyIGJ5dGVzISE=",
                    ),
                    (
                        "TAKEDOWN_SIDECAR_INTEGRATION__CA",
                        "/certs/moderation-ca.pem",
                    ),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__TIMEOUT_MS", "5000"),
                ],
            )
            .map_err(|e| e.to_string())?;
            let Integration::Webhook(w) = &c.integration else {
                panic!("mode is {}", c.integration.mode());
            };
            assert_eq!(w.url, "https://moderation.example/v1");
            assert_eq!(w.token.as_deref(), Some("s3cret"));
            assert_eq!(w.ca.as_deref(), Some(Path::new("/certs/moderation-ca.pem")));
            assert_eq!(w.timeout_ms, 5000);
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn command_settings_can_be_set_through_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = load_in(
                jail,
                Some(BASE),
                &[
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MODE", "command"),
                    (
                        "TAKEDOWN_SIDECAR_INTEGRATION__PROGRAM",
                        "/usr/local/bin/moderate",
                    ),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__ARGS", "[--queue, takedown]"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__TIMEOUT_MS", "9000"),
                ],
            )
            .map_err(|e| e.to_string())?;
            let Integration::Command(cmd) = &c.integration else {
                panic!("mode is {}", c.integration.mode());
            };
            assert_eq!(cmd.program, "/usr/local/bin/moderate");
            assert_eq!(cmd.args, ["--queue", "takedown"]);
            assert_eq!(cmd.timeout_ms, 9000);
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn a_misspelt_variable_is_refused() {
        figment::Jail::expect_with(|jail| {
            let err = load_in(
                jail,
                Some(BASE),
                &[("TAKEDOWN_SIDECAR_HUB_ENDPIONT", "https://h:1")],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("hub_endpiont"), "{err}");
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn shares_over_one_are_refused_with_the_defaults_counted() {
        figment::Jail::expect_with(|jail| {
            // docker-compose.yml's sidecar-telegram once did this: 0.9 + 0.1 + 0.1.
            let err = load_in(
                jail,
                Some(BASE),
                &[
                    ("TAKEDOWN_SIDECAR_INTEGRATION__MODE", "auto"),
                    ("TAKEDOWN_SIDECAR_INTEGRATION__BLOCK_SHARE", "0.9"),
                ],
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("integration: block_share + reject_share + gone_share"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn empty_certificate_paths_are_refused() {
        let err = Config::from_toml(&BASE.replace("\"ca.pem\"", "\"\"")).unwrap_err();
        assert!(err.to_string().contains("tls.ca: is empty"), "{err}");
    }

    #[test]
    fn reject_reasons_parse_short_and_long() {
        assert_eq!(
            parse_reject_reason("not_a_violation"),
            Some(pb::RejectReason::NotAViolation)
        );
        assert_eq!(
            parse_reject_reason("REJECT_REASON_OTHER"),
            Some(pb::RejectReason::Other)
        );
        assert_eq!(parse_reject_reason("UNSPECIFIED"), None);
        assert_eq!(parse_reject_reason("bogus"), None);
    }
}
