//! `takedown-demo`: a whole action day on the embedded default, in one command.
//!
//! It generates a development PKI, starts a hub on a SQLite file and receiver sidecars for
//! telegram, tamtam and x (auto mode: a simulated moderation desk), all over real gRPC with
//! mutual TLS on 127.0.0.1; registers a coordinator's directory (two agencies with signing
//! keys, three platforms); creates an action day a few seconds ahead; signs and submits the
//! two agencies' overlapping demo lists; places a deconfliction hold; waits for H-hour; and
//! prints, per platform, what was referred, delivered, acknowledged, blocked and rejected.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Parser;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use takedown_ctl::{
    envelope::Envelope,
    listfile,
    report::{Totals, human},
};
use takedown_net::{TlsMaterial, pki, tls::TlsPaths};
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    keyset,
    list::ListSpec,
    pb::{
        self, action_day_service_client::ActionDayServiceClient,
        directory_service_client::DirectoryServiceClient, hold_service_client::HoldServiceClient,
        referral_service_client::ReferralServiceClient,
        summary_service_client::SummaryServiceClient,
    },
    timestamp::{from_millis, now_millis},
};
use takedown_sidecar::config::{AutoSettings, Integration, TrustPaths};
use tokio::net::TcpListener;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(
    name = "takedown-demo",
    about = "Runs a whole takedown action day locally"
)]
struct Args {
    /// Where the demo keeps its PKI, databases and signed lists (a temporary directory by default).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seconds from list submission to H-hour.
    #[arg(long, default_value_t = 6)]
    lead: u64,
}

const COORDINATOR: &str = "europol";
const AGENCIES: &[&str] = &["agency-fr", "agency-de"];
/// Platform, share blocked, share rejected (not a violation), share already gone.
const PLATFORMS: &[(&str, f64, f64, f64)] = &[
    ("telegram", 0.90, 0.04, 0.06),
    ("tamtam", 0.78, 0.12, 0.10),
    ("x", 0.70, 0.15, 0.15),
];

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    takedown_net::install_crypto_provider();
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let certs = dir.join("certs");
    let demo_lists = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ctl/demo");

    step("Generating a development PKI (CA, hub, coordinator, agencies, platforms)");
    let mut ids = vec![
        Identity::new(IdentityRole::Hub, OrgId::parse("hub")?),
        Identity::new(IdentityRole::Coordinator, OrgId::parse(COORDINATOR)?),
    ];
    ids.extend(
        AGENCIES
            .iter()
            .map(|a| Identity::new(IdentityRole::Agency, OrgId::parse(a).expect("id"))),
    );
    ids.extend(
        PLATFORMS
            .iter()
            .map(|p| Identity::new(IdentityRole::Platform, OrgId::parse(p.0).expect("id"))),
    );
    pki::write_dev_pki(&certs, &ids, |_| vec![])?;

    step("Starting the hub (SQLite) and sidecars for telegram, tamtam and x (auto mode)");
    let hub_listener = TcpListener::bind("127.0.0.1:0").await?;
    let hub_addr = hub_listener.local_addr()?;
    let hub_endpoint = format!("https://127.0.0.1:{}", hub_addr.port());
    let defaults = takedown_hub::Config::default();
    let hub_cfg = takedown_hub::Config {
        listen: hub_addr,
        database_url: format!("sqlite:{}", dir.join("hub.db").display()),
        tls: takedown_net::tls::TlsPaths::in_dir(&certs, "hub"),
        trust: takedown_hub::config::TrustConfig {
            roots: vec![certs.join(takedown_net::pki::DEV_ROOT_PUBLIC)],
        },
        delivery: takedown_hub::config::DeliveryConfig {
            poll_ms: 250,
            ..defaults.delivery.clone()
        },
        ..defaults
    };
    hub_cfg.validate()?;
    let store = takedown_store::sqlite::SqliteStore::connect(&hub_cfg.database_url).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let hub = tokio::spawn(takedown_hub::run(
        hub_cfg,
        store,
        takedown_net::service::Ports::new(None).with("listen", hub_listener)?,
        stopped(stop_rx.clone()),
    ));
    let mut endpoints = Vec::new();
    let mut sidecars = Vec::new();
    for &(platform, block, reject, gone) in PLATFORMS {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        endpoints.push((
            platform,
            format!("https://127.0.0.1:{}", listener.local_addr()?.port()),
        ));
        let cfg = takedown_sidecar::Config {
            listen: listener.local_addr()?,
            hub_endpoint: hub_endpoint.clone(),
            inbox: dir.join(format!("sidecar-{platform}.db")),
            integration: Integration::Auto(AutoSettings {
                block_share: block,
                reject_share: reject,
                reject_reason: "NOT_A_VIOLATION".into(),
                gone_share: gone,
                min_delay_ms: 200,
                max_delay_ms: 4000,
                seed: 2026,
            }),
            ..takedown_sidecar::Config::new(
                platform,
                TlsPaths {
                    ca: certs.join("ca.pem"),
                    cert: certs.join(format!("{platform}.pem")),
                    key: certs.join(format!("{platform}.key")),
                },
                TrustPaths {
                    roots: vec![certs.join(takedown_net::pki::DEV_ROOT_PUBLIC)],
                },
            )
        };
        cfg.validate()?;
        sidecars.push(tokio::spawn(takedown_sidecar::run(
            cfg,
            takedown_net::service::Ports::new(None).with("listen", listener)?,
            stopped(stop_rx.clone()),
        )));
    }

    let hub_id = Identity::new(IdentityRole::Hub, OrgId::parse("hub")?);
    let connect = |org: &str| {
        let m = TlsMaterial::load_dir(&certs, org);
        let endpoint = hub_endpoint.clone();
        let hub_id = hub_id.clone();
        async move {
            let m = m?;
            for _ in 0..100 {
                if let Ok(ch) = takedown_net::connect(&endpoint, &m, Some(hub_id.clone())).await {
                    return Ok::<Channel, anyhow::Error>(ch);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            bail!("the hub did not come up at {endpoint}")
        }
    };
    let coord = connect(COORDINATOR).await?;
    let mut directory = DirectoryServiceClient::new(coord.clone());

    step("Coordinator: registering agencies and platforms");
    let mut keys = Vec::new();
    for a in AGENCIES {
        directory
            .register_organization(pb::RegisterOrganizationRequest {
                id: a.to_string(),
                role: pb::Role::Agency as i32,
                display_name: String::new(),
            })
            .await?;
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let kid = format!("{a}-2026-1");
        keys.push((a.to_string(), kid, kp.serialize_pem(), kp.public_key_pem()));
    }
    for (platform, endpoint) in &endpoints {
        directory
            .register_platform(pb::RegisterPlatformRequest {
                delivery_mode: pb::DeliveryMode::Push as i32,
                name: platform.to_string(),
                endpoint: endpoint.clone(),
                display_name: String::new(),
                max_deliveries_per_minute: None,
                staffing: None,
            })
            .await?;
    }

    // The key ceremony: the coordinator signs the agencies' public keys with its root key,
    // offline (`takedownctl keys publish`); hub and sidecars pin the root's public half and
    // believe no key the root did not sign, whatever the hub's database says.
    let root_public = std::fs::read_to_string(certs.join(takedown_net::pki::DEV_ROOT_PUBLIC))?;
    let root_kid = keyset::thumbprint(&root_public)?;
    step(&format!(
        "Coordinator: signing the agencies' keys with root key {root_kid} (offline) and publishing them"
    ));
    let now_s = now_millis() / 1000;
    let statement = keyset::KeySetClaims {
        version: 1,
        iat: now_s,
        keys: keys
            .iter()
            .map(|(agency, kid, _, public)| keyset::StatementKey {
                agency_id: agency.clone(),
                kid: kid.clone(),
                public_key_pem: public.clone(),
                valid_from: now_s - 60,
                retired_at: None,
                compromised_since: None,
                reason: String::new(),
            })
            .collect(),
        roots: Vec::new(),
    };
    let root_private = std::fs::read(certs.join(takedown_net::pki::DEV_ROOT_KEY))?;
    directory
        .publish_key_set(pb::PublishKeySetRequest {
            jws: keyset::sign(&statement, &root_kid, &root_private)?,
        })
        .await?;

    let lead_ms = args.lead as i64 * 1000;
    let h_hour = now_millis() + lead_ms;
    let day_id = "demo-action-day";
    ActionDayServiceClient::new(coord.clone())
        .create_action_day(pb::CreateActionDayRequest {
            id: day_id.into(),
            name: "Demo action day (synthetic data)".into(),
            starts_at: Some(from_millis(h_hour)),
            ends_at: Some(from_millis(h_hour + 3_600_000)),
            platforms: PLATFORMS.iter().map(|p| p.0.to_string()).collect(),
            agencies: AGENCIES.iter().map(|a| a.to_string()).collect(),
        })
        .await?;
    step(&format!(
        "Action day {day_id:?} created; H-hour in {} s",
        args.lead
    ));

    for (agency, kid, key, _) in &keys {
        let path = demo_lists.join(format!("{agency}.csv"));
        let referrals = listfile::read_referrals(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let spec = ListSpec {
            list_id: format!("{agency}-{}", uuid::Uuid::now_v7()),
            agency_id: agency.clone(),
            action_day_id: Some(day_id.into()),
            referrals,
            audience: "takedown-hub".into(),
            issued_at: now_millis() / 1000,
            lifetime_secs: 3600,
        };
        let envelope = Envelope::sign(&spec, kid, key.as_bytes())?;
        envelope.write(&dir.join(format!("{agency}.signed.json")))?;
        let mut client = ReferralServiceClient::new(connect(agency).await?);
        let answer = client
            .submit_referral_list(envelope.to_request())
            .await?
            .into_inner();
        println!(
            "  {agency}: signed and submitted {} items -> {} new targets, {} merged with earlier referrals",
            answer.items, answer.new_targets, answer.merged_duplicates
        );
    }

    // agency-de protects a live investigation on one of the shared Telegram targets.
    let hold = HoldServiceClient::new(connect("agency-de").await?)
        .place_hold(pb::PlaceHoldRequest {
            platform: "telegram".into(),
            target: "https://t.me/demo_channel_0005".into(),
            reason: "live investigation (demo)".into(),
            expires_at: Some(from_millis(h_hour + 86_400_000)),
        })
        .await?
        .into_inner();
    println!(
        "  agency-de placed a deconfliction hold on telegram/{}",
        hold.normalized_target
    );

    let mut summary = SummaryServiceClient::new(coord.clone());
    let get = || pb::GetActionDaySummaryRequest {
        action_day_id: day_id.into(),
    };
    let before = summary.get_action_day_summary(get()).await?.into_inner();
    let delivered_early: u64 = before.platforms.iter().map(|p| p.delivered).sum();
    println!(
        "  before H-hour: {} targets embargoed, {delivered_early} delivered",
        before.platforms.iter().map(|p| p.referred).sum::<u64>()
    );
    step("Waiting for H-hour...");
    tokio::time::sleep(Duration::from_millis((h_hour - now_millis()).max(0) as u64)).await;
    step("H-hour: released. Platforms are receiving and deciding");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let last = loop {
        let s = summary.get_action_day_summary(get()).await?.into_inner();
        let pending: u64 = s.platforms.iter().map(|p| p.pending).sum();
        let delivered: u64 = s.platforms.iter().map(|p| p.delivered).sum();
        // Delivered, no decision yet (targets still on their way are not counted here).
        let undecided: u64 = s
            .platforms
            .iter()
            .map(|p| {
                let decided = p.blocked + p.already_gone + p.not_found + p.geo_blocked + p.rejected;
                p.delivered.saturating_sub(decided)
            })
            .sum();
        println!(
            "  +{:>5.1} s  delivered {delivered:>4}  awaiting a decision {undecided:>4}",
            (now_millis() - h_hour) as f64 / 1000.0
        );
        if pending == 0 || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    };
    print_summary(&last);
    let totals = Totals::of(&last.platforms);
    if let Some(line) = human::removal_order_line(&totals) {
        println!(
            "\nRemoval orders (one hour from delivery to act, TCO Regulation Art 3(3)): {line}."
        );
    }
    if totals.tos_referrals > 0 {
        println!(
            "ToS referrals: {} of {} delivered acted on within an hour of delivery.",
            totals.tos_referrals_within_hour, totals.tos_referrals
        );
    }
    let held: u64 = last.platforms.iter().map(|p| p.held).sum();
    if held > 0 {
        println!(
            "\n{held} referred target(s) held back by a deconfliction hold: not delivered while \
             the hold stands (the platform never learns of it)."
        );
    }
    println!(
        "\nFiles (PKI, databases, signed lists) are in {}{}",
        dir.display(),
        if args.dir.is_none() {
            " (removed on exit; pass --dir to keep them)"
        } else {
            ""
        }
    );

    let _ = stop_tx.send(true);
    for s in sidecars {
        s.await??;
    }
    hub.await??;
    let pending: u64 = last.platforms.iter().map(|p| p.pending).sum();
    anyhow::ensure!(
        pending == 0,
        "{pending} delivered targets got no decision within 90 s of H-hour"
    );
    Ok(())
}

fn step(s: &str) {
    println!("==> {s}");
}

fn print_summary(s: &pb::ActionDaySummary) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "platform",
        "referred",
        "held",
        "delivered",
        "acknowledged",
        "blocked",
        "already gone",
        "rejected",
        "pending",
    ]);
    for p in &s.platforms {
        t.add_row([
            p.platform.clone(),
            p.referred.to_string(),
            p.held.to_string(),
            p.delivered.to_string(),
            p.acknowledged.to_string(),
            p.blocked.to_string(),
            p.already_gone.to_string(),
            p.rejected.to_string(),
            p.pending.to_string(),
        ]);
    }
    println!("\n{} ({})\n{t}", s.name, s.action_day_id);
}
