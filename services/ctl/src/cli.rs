//! The command line: global options and one subcommand tree per command group.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::HubOptions;

/// takedownctl: submit signed referral lists, follow them, and run action days.
#[derive(Debug, Parser)]
#[command(name = "takedownctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the hub is and who we are.
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// The hub's gRPC endpoint.
    #[arg(
        long,
        global = true,
        env = "TAKEDOWN_HUB",
        default_value = "https://127.0.0.1:7400"
    )]
    pub hub: String,
    /// Directory holding ca.pem and <ORG>.pem/<ORG>.key.
    #[arg(
        long,
        global = true,
        env = "TAKEDOWN_CERTS",
        default_value = "certs/dev",
        value_name = "DIR"
    )]
    pub certs: PathBuf,
    /// Organisation to act as: uses <DIR>/<ORG>.pem and <DIR>/<ORG>.key.
    #[arg(long = "as", global = true, env = "TAKEDOWN_AS", value_name = "ORG")]
    pub as_org: Option<String>,
    /// CA certificate (default <DIR>/ca.pem). Give before the subcommand.
    #[arg(long, env = "TAKEDOWN_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate, instead of --as. Give before the subcommand.
    #[arg(long, env = "TAKEDOWN_CERT", value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key, with --cert. Give before the subcommand.
    #[arg(long, env = "TAKEDOWN_KEY", value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl GlobalOptions {
    /// The hub connection options.
    pub fn hub_options(&self) -> HubOptions {
        HubOptions {
            hub: self.hub.clone(),
            certs: self.certs.clone(),
            as_org: self.as_org.clone(),
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Development certificates (the mTLS PKI).
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Ed25519 list-signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign, submit and follow referral lists.
    #[command(subcommand)]
    List(ListCommand),
    /// Organisations, agency keys and platforms known to the hub.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Plan, inspect and close action days.
    #[command(subcommand)]
    ActionDay(ActionDayCommand),
    /// Deconfliction holds.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// An action day's report: per platform and agency, and blocks over time.
    Summary(SummaryArgs),
    /// Follow an action day live: its table, redrawn on each change until the day closes.
    Watch(WatchArgs),
    /// The hub's hash-chained audit log: export it, verify an export offline.
    #[command(subcommand)]
    Audit(crate::commands::audit::AuditCommand),
    /// An action day's transparency export: TCO figures or statement-of-reasons rows (CSV).
    Export(crate::commands::export::ExportArgs),
    /// Deliveries the hub gave up on (the quarantine), with the reason.
    #[command(subcommand)]
    Deliveries(crate::commands::deliveries::DeliveriesCommand),
}

/// How read commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

// ---- certs ---------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// A development PKI: CA, the hub, and one certificate per organisation.
    Dev(CertsDevArgs),
    /// One more certificate from an existing CA.
    Issue(CertsIssueArgs),
}

#[derive(Debug, Args)]
pub struct CertsDevArgs {
    /// Output directory (default: --certs).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Coordinator organisation ids (repeatable or comma-separated).
    #[arg(long = "coordinator", value_name = "ID", value_delimiter = ',')]
    pub coordinators: Vec<String>,
    /// Agency organisation ids.
    #[arg(long = "agency", value_name = "ID", value_delimiter = ',')]
    pub agencies: Vec<String>,
    /// Platform names (their certificates also get DNS sidecar-<name>).
    #[arg(long = "platform", value_name = "NAME", value_delimiter = ',')]
    pub platforms: Vec<String>,
    /// Extra DNS names for the server certificates (hub and platform sidecars).
    #[arg(long = "dns", value_name = "NAME", value_delimiter = ',')]
    pub dns: Vec<String>,
    /// Replace an existing CA and certificates.
    #[arg(long)]
    pub force: bool,
}

/// Certificate roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertRole {
    Agency,
    Platform,
    Coordinator,
    Hub,
}

#[derive(Debug, Args)]
pub struct CertsIssueArgs {
    #[arg(long, value_enum)]
    pub role: CertRole,
    /// Organisation id (platform name for platforms).
    #[arg(long)]
    pub id: String,
    /// Extra DNS names.
    #[arg(long = "dns", value_name = "NAME", value_delimiter = ',')]
    pub dns: Vec<String>,
    /// Directory holding the CA; the certificate is written there (default: --certs).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an existing certificate of that id.
    #[arg(long)]
    pub force: bool,
}

// ---- keys ----------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// A new Ed25519 signing key: <out>/<kid>.key and <out>/<kid>.pub.pem.
    Generate(KeysGenerateArgs),
    /// A new coordinator root key: <out>/root.key and <out>/root.pub.pem. Keep the
    /// private half offline; hubs and sidecars pin the public half (trust.roots).
    GenerateRoot {
        #[arg(long, value_name = "DIR", default_value = "root")]
        out: PathBuf,
    },
    /// Sign the next key-set statement with a root key and publish it (coordinators):
    /// the newest statement, with the changes asked for, under version + 1.
    Publish(Box<KeysPublishArgs>),
    /// Upload a statement signed elsewhere (`keys publish --out`) to the hub.
    Upload {
        /// The statement file (a compact JWS).
        file: PathBuf,
    },
    /// Download the newest statement, to carry to an offline signing machine
    /// (`keys publish --current FILE --out NEXT`).
    Current {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct KeysPublishArgs {
    /// The root's private key (PKCS#8 PEM); it is read here and never sent.
    #[arg(long, value_name = "FILE")]
    pub root_key: PathBuf,
    /// Another root the newest statement may be signed by (the signing root is trusted).
    #[arg(long, value_name = "FILE")]
    pub trust_root: Vec<PathBuf>,
    /// Start from this statement file instead of asking the hub (offline signing).
    #[arg(long, value_name = "FILE")]
    pub current: Option<PathBuf>,
    /// Write the signed statement here instead of publishing it (offline signing: with
    /// --current, or --first).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Sign the very first statement (version 1) without asking the hub.
    #[arg(long, conflicts_with = "current")]
    pub first: bool,
    /// Add an agency key: AGENCY:KID:PUBLIC_KEY_FILE (`keys generate` writes <kid>.pub.pem).
    #[arg(long, value_name = "AGENCY:KID:FILE")]
    pub add: Vec<String>,
    /// Retire a key: it signs no new list; what it signed before stands.
    #[arg(long, value_name = "KID")]
    pub retire: Vec<String>,
    /// Declare a key compromised: everything it signed from --at on is void.
    #[arg(long, value_name = "KID")]
    pub compromise: Vec<String>,
    /// When the retirement or compromise takes effect (RFC 3339, `now`, `+2h` ...);
    /// for a compromise, the earliest time the key may have leaked.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    pub at: String,
    /// Why keys are retired or compromised, for the record.
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Endorse another root public key for the statements after this one.
    #[arg(long, value_name = "FILE")]
    pub endorse_root: Vec<PathBuf>,
    /// Stop endorsing a root (by its thumbprint, root-...).
    #[arg(long, value_name = "ROOT_KID")]
    pub drop_root: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// Key id (the JWS kid, registered at the hub).
    #[arg(long)]
    pub kid: String,
    #[arg(long, value_name = "DIR", default_value = "keys")]
    pub out: PathBuf,
}

// ---- list ----------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Sign a CSV or JSON referral list into a signed list file.
    Sign(ListSignArgs),
    /// Submit signed list files to the hub.
    Submit(ListSubmitArgs),
    /// The state of each item of a list.
    Status(ListStatusArgs),
    /// Withdraw a referral of a target, or a whole list (after an appeal, scrutiny decision
    /// or correction). The platform is asked to restore the target only once no agency's
    /// referral of it stands.
    Withdraw(ListWithdrawArgs),
    /// Coordinators: record that the host member state's authority scrutinised a target's
    /// cross-border removal orders and found no infringement (TCO Art 4(4)); they stand.
    /// (An infringement found: `list withdraw --ground scrutiny`.)
    Uphold {
        /// The target's id (as `list status` shows it).
        #[arg(long = "target", value_name = "ID")]
        target_id: String,
        /// The authority's decision, in your words (audited).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Coordinators: keep a target's data past the retention period, on a competent
    /// authority's request (TCO Art 6(2)); audited.
    Preserve {
        /// The target's id (as `list status` shows it).
        #[arg(long = "target", value_name = "ID")]
        target_id: String,
        /// Until when (RFC 3339, or from now: `+180d`).
        #[arg(long, allow_hyphen_values = true)]
        until: String,
        /// The competent authority that asked.
        #[arg(long)]
        authority: String,
        /// Its request's reference.
        #[arg(long, default_value = "")]
        reference: String,
    },
}

#[derive(Debug, Args)]
pub struct ListSignArgs {
    /// The referrals: a .csv or .json file.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The submitting agency (default: --as).
    #[arg(long, value_name = "ID")]
    pub agency: Option<String>,
    /// Key id of the signing key.
    #[arg(long)]
    pub kid: String,
    /// The Ed25519 private key (PKCS#8 PEM).
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// The action day the list belongs to (none: released as soon as accepted).
    #[arg(long, value_name = "ID")]
    pub action_day: Option<String>,
    /// List id (default: a new UUID v7).
    #[arg(long, value_name = "ID")]
    pub list_id: Option<String>,
    /// The hub's audience.
    #[arg(long, default_value = "takedown-hub")]
    pub audience: String,
    /// Signature lifetime (at most 24h).
    #[arg(long, default_value = "1h")]
    pub lifetime: String,
    /// Output file (default: <list-id>.signed.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListSubmitArgs {
    /// Signed list files (from `list sign`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListStatusArgs {
    pub list_id: String,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct ListWithdrawArgs {
    /// The target whose referral to withdraw (an agency: its own).
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    pub target_id: Option<String>,
    /// Withdraw every referral of this list instead.
    #[arg(long, value_name = "LIST_ID")]
    pub list: Option<String>,
    /// Coordinators: only this agency's referral of the target (repeatable; default: the
    /// whole target).
    #[arg(long = "agency", value_name = "ID", conflicts_with = "list")]
    pub agencies: Vec<String>,
    #[arg(long)]
    pub reason: String,
    /// The ground, kept with each referral and counted by `export --format tco`.
    #[arg(long, value_enum, default_value_t = WithdrawalGroundArg::Correction)]
    pub ground: WithdrawalGroundArg,
}

/// `--ground` of `list withdraw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WithdrawalGroundArg {
    /// The agency's own correction (or no particular ground).
    Correction,
    /// A complaint or appeal decided for the content provider (TCO Art 10).
    Appeal,
    /// The host member state's authority found a cross-border removal order to infringe
    /// (TCO Art 4(4)): it ceases to have legal effects. Refused for anything else.
    Scrutiny,
    /// An administrative or judicial review annulled the order (TCO Art 9).
    Review,
}

impl WithdrawalGroundArg {
    pub fn to_pb(self) -> takedown_protocol::pb::WithdrawalGround {
        use takedown_protocol::pb::WithdrawalGround as G;
        match self {
            Self::Correction => G::Unspecified,
            Self::Appeal => G::Appeal,
            Self::Scrutiny => G::Scrutiny,
            Self::Review => G::Review,
        }
    }
}

// ---- directory -----------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Agency list-signing keys, as the newest key-set statement states them.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Platforms and their sidecar endpoints.
    #[command(subcommand)]
    Platform(PlatformCommand),
}

/// Organisation roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgRole {
    Agency,
    Platform,
    Coordinator,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an organisation.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long, value_enum)]
        role: OrgRole,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List organisations.
    List(FormatArg),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the keys of the newest key-set statement (change them with `keys publish`).
    List {
        /// Only this agency's keys.
        #[arg(long, value_name = "ID")]
        agency: Option<String>,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Register a platform or update its endpoint.
    Add {
        #[arg(long)]
        name: String,
        /// The sidecar's gRPC endpoint (https://host:port): the hub delivers to it (push).
        #[arg(long, value_name = "URL", required_unless_present = "pull")]
        endpoint: Option<String>,
        /// The platform's sidecar connects out and pulls its share (it opens no port, and
        /// the platform has no endpoint); its configuration says `mode = "pull"`.
        #[arg(long, conflicts_with = "endpoint")]
        pull: bool,
        #[arg(long)]
        display_name: Option<String>,
        /// The most deliveries the platform accepts in any minute (0 removes the cap; left
        /// out, a registered platform keeps its own).
        #[arg(long, value_name = "N")]
        max_per_minute: Option<u32>,
        #[command(flatten)]
        staffing: StaffingArgs,
    },
    /// List platforms.
    List(FormatArg),
}

/// When a platform's moderation is staffed (left out, a registered platform keeps its own).
#[derive(Debug, Args)]
pub struct StaffingArgs {
    /// The platform's IANA time zone (e.g. Europe/Tallinn); needed with --staffed.
    #[arg(long, value_name = "ZONE", requires = "staffed")]
    pub time_zone: Option<String>,
    /// A weekly staffed window in local time, e.g. "mon-fri 08:00-18:00" or "sat 22:00-06:00"
    /// (repeatable).
    #[arg(long, value_name = "DAYS HH:MM-HH:MM", requires = "time_zone")]
    pub staffed: Vec<String>,
    /// Whom the coordinator reaches out of hours (e-mail address, phone number).
    #[arg(long, value_name = "CONTACT", requires = "staffed")]
    pub contact: Option<String>,
    /// Remove the staffed hours (the platform has not said).
    #[arg(long, conflicts_with_all = ["time_zone", "staffed", "contact"])]
    pub no_staffing: bool,
}

// ---- action days ---------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum ActionDayCommand {
    /// Plan an action day.
    Create(ActionDayCreateArgs),
    /// Show one action day.
    Get {
        id: String,
        #[command(flatten)]
        format: FormatArg,
    },
    /// List action days.
    List(FormatArg),
    /// Move an action day whose H-hour has not come yet.
    Move(ActionDayMoveArgs),
    /// Close an action day (freezes its summary).
    Close { id: String },
}

#[derive(Debug, Args)]
pub struct ActionDayMoveArgs {
    pub id: String,
    /// The new H-hour: RFC 3339 or relative (+30s, +5m, +2h, +1d).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub starts_at: String,
    /// The new end (default: the day keeps its length).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub ends_at: Option<String>,
}

#[derive(Debug, Args)]
pub struct ActionDayCreateArgs {
    #[arg(long)]
    pub name: String,
    /// H-hour: RFC 3339 or relative (+30s, +5m, +2h, +1d).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub starts_at: String,
    /// End: RFC 3339 or relative.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub ends_at: String,
    /// Participating platforms (repeatable, comma-separated or space-separated).
    #[arg(long = "platform", value_name = "P", required = true, num_args = 1.., value_delimiter = ',')]
    pub platforms: Vec<String>,
    /// Participating agencies.
    #[arg(long = "agency", value_name = "A", required = true, num_args = 1.., value_delimiter = ',')]
    pub agencies: Vec<String>,
    /// Action day id (default: chosen by the hub).
    #[arg(long)]
    pub id: Option<String>,
}

// ---- holds ---------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Hold a target back from delivery.
    Place {
        #[arg(long)]
        platform: String,
        #[arg(long)]
        target: String,
        #[arg(long)]
        reason: String,
        /// Expiry: RFC 3339, relative (+48h) or a duration from now (48h).
        #[arg(long, value_name = "TIME")]
        expires: String,
    },
    /// Release a hold.
    Release { id: String },
    /// List holds.
    List(FormatArg),
}

// ---- reports -------------------------------------------------------------------------

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    /// Terminal tables.
    #[default]
    Table,
    /// One CSV table (see --section).
    Csv,
    /// The whole summary as JSON.
    Json,
    /// One self-contained HTML file with a chart (nothing fetched, printable).
    Html,
}

/// The table a CSV report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportSection {
    /// One row per platform.
    #[default]
    Platforms,
    /// One row per agency.
    Agencies,
    /// Cumulative blocks over time: platform, at, cumulative_blocked.
    Blocks,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The action day id.
    #[arg(value_name = "ACTION_DAY")]
    pub action_day: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// The CSV table to write (only with --format csv).
    #[arg(long, value_enum)]
    pub section: Option<ReportSection>,
    /// Write the report to FILE instead of standard output (replaces FILE).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Fit the table to this many columns (default: the terminal's width).
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The action day id.
    #[arg(value_name = "ACTION_DAY")]
    pub action_day: String,
    /// Fit the table to this many columns (default: the terminal's width).
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tls_key_and_signing_key_do_not_clash() {
        let cli = Cli::try_parse_from([
            "takedownctl",
            "--cert",
            "c.pem",
            "--key",
            "c.key",
            "list",
            "sign",
            "--input",
            "l.csv",
            "--kid",
            "k1",
            "--key",
            "k1.key",
            "--as",
            "agency-fr",
        ])
        .unwrap();
        assert_eq!(cli.global.key, Some(PathBuf::from("c.key")));
        assert_eq!(cli.global.as_org.as_deref(), Some("agency-fr"));
        let Command::List(ListCommand::Sign(sign)) = cli.command else {
            panic!("not list sign");
        };
        assert_eq!(sign.key, PathBuf::from("k1.key"));
    }

    #[test]
    fn action_day_lists_take_several_forms() {
        let cli = Cli::try_parse_from([
            "takedownctl",
            "action-day",
            "create",
            "--name",
            "d",
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
        ])
        .unwrap();
        let Command::ActionDay(ActionDayCommand::Create(a)) = cli.command else {
            panic!("not action-day create");
        };
        assert_eq!(a.platforms, ["telegram", "tamtam", "x"]);
        assert_eq!(a.agencies, ["agency-fr", "agency-de"]);
    }
}
