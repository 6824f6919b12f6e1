//! `directory org|key|platform ...`.

use anyhow::Result;
use serde::Serialize;
use takedown_protocol::pb::{
    self, GetAgencyKeysRequest, ListOrganizationsRequest, ListPlatformsRequest,
    RegisterOrganizationRequest, RegisterPlatformRequest, Role,
    directory_service_client::DirectoryServiceClient,
};
use takedown_protocol::staffing::{Staffing, parse_windows};
use tonic::transport::Channel;

use crate::{
    cli::{
        DirectoryCommand, Format, GlobalOptions, KeyCommand, OrgCommand, OrgRole, PlatformCommand,
        StaffingArgs,
    },
    output,
    time::format_timestamp,
};

pub async fn run(global: &GlobalOptions, command: DirectoryCommand) -> Result<()> {
    let channel = global.hub_options().connect().await?;
    let mut client = DirectoryServiceClient::new(channel);
    match command {
        DirectoryCommand::Org(c) => org(&mut client, c).await,
        DirectoryCommand::Key(c) => key(&mut client, c).await,
        DirectoryCommand::Platform(c) => platform(&mut client, c).await,
    }
}

type Client = DirectoryServiceClient<Channel>;

#[derive(Serialize)]
struct OrgView {
    id: String,
    role: &'static str,
    display_name: String,
    registered_at: String,
}

async fn org(client: &mut Client, command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::Add { id, role, name } => {
            let role = match role {
                OrgRole::Agency => Role::Agency,
                OrgRole::Platform => Role::Platform,
                OrgRole::Coordinator => Role::Coordinator,
            };
            let o = ask!(client => register_organization(RegisterOrganizationRequest {
                id,
                role: role as i32,
                display_name: name.unwrap_or_default(),
            }))?;
            println!(
                "registered {} {} ({})",
                output::role(o.role),
                o.id,
                o.display_name
            );
            Ok(())
        }
        OrgCommand::List(f) => {
            let orgs = ask!(client => list_organizations(ListOrganizationsRequest {}))?;
            let views: Vec<OrgView> = orgs
                .organizations
                .into_iter()
                .map(|o| OrgView {
                    role: output::role(o.role),
                    registered_at: format_timestamp(o.registered_at.as_ref()),
                    id: o.id,
                    display_name: o.display_name,
                })
                .collect();
            if f.format == Format::Json {
                return output::print_json(&views);
            }
            let mut t = output::table(["id", "role", "name", "registered"]);
            for v in views {
                t.add_row([v.id, v.role.to_string(), v.display_name, v.registered_at]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct KeyView {
    kid: String,
    agency_id: String,
    state: &'static str,
    valid_from: String,
    retired_at: String,
    compromised_since: String,
    reason: String,
    public_key_pem: String,
}

async fn key(client: &mut Client, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::List { agency, format } => {
            let keys = ask!(client => get_agency_keys(GetAgencyKeysRequest {
                agency_ids: agency.into_iter().collect(),
                kid: String::new(),
            }))?;
            let views: Vec<KeyView> = keys
                .keys
                .into_iter()
                .map(|k| KeyView {
                    state: output::key_state(k.state),
                    valid_from: format_timestamp(k.valid_from.as_ref()),
                    retired_at: format_timestamp(k.retired_at.as_ref()),
                    compromised_since: format_timestamp(k.compromised_since.as_ref()),
                    kid: k.kid,
                    agency_id: k.agency_id,
                    reason: k.reason,
                    public_key_pem: k.public_key_pem,
                })
                .collect();
            if format.format == Format::Json {
                return output::print_json(&views);
            }
            if keys.key_set_version == 0 {
                println!("no key-set statement has been published yet (takedownctl keys publish)");
                return Ok(());
            }
            println!("key-set statement version {}", keys.key_set_version);
            let mut t = output::table([
                "kid",
                "agency",
                "state",
                "valid from",
                "retired",
                "compromised since",
                "reason",
            ]);
            for v in views {
                t.add_row([
                    v.kid,
                    v.agency_id,
                    v.state.to_string(),
                    v.valid_from,
                    v.retired_at,
                    v.compromised_since,
                    v.reason,
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct PlatformView {
    name: String,
    endpoint: String,
    display_name: String,
    registered_at: String,
    /// 0: no cap.
    max_per_minute: u32,
    /// "push" or "pull".
    delivery_mode: &'static str,
    /// Empty when the platform has not said.
    staffed: String,
    contact_point: String,
}

/// The request's staffed hours from the flags: `None` to keep the registered ones.
fn staffing_request(a: StaffingArgs) -> Result<Option<pb::Staffing>> {
    if a.no_staffing {
        return Ok(Some(pb::Staffing::default()));
    }
    let Some(time_zone) = a.time_zone else {
        return Ok(None);
    };
    let mut windows = Vec::new();
    for spec in &a.staffed {
        windows.extend(parse_windows(spec).map_err(|e| anyhow::anyhow!("--staffed {e}"))?);
    }
    let s = Staffing {
        time_zone,
        windows,
        contact_point: a.contact.unwrap_or_default(),
    };
    s.check().map_err(|e| anyhow::anyhow!("--staffed: {e}"))?;
    Ok(Some(s.to_pb()))
}

fn mode_name(m: pb::DeliveryMode) -> &'static str {
    match m {
        pb::DeliveryMode::Pull => "pull",
        _ => "push",
    }
}

/// The platform's staffed hours, if it has said.
fn staffed(p: &pb::Platform) -> Option<Staffing> {
    Staffing::from_pb(p.staffing.as_ref()?).ok().flatten()
}

async fn platform(client: &mut Client, command: PlatformCommand) -> Result<()> {
    match command {
        PlatformCommand::Add {
            name,
            endpoint,
            pull,
            display_name,
            max_per_minute,
            staffing,
        } => {
            let staffing = staffing_request(staffing)?;
            let delivery_mode = if pull {
                pb::DeliveryMode::Pull
            } else {
                pb::DeliveryMode::Push
            };
            let p = ask!(client => register_platform(RegisterPlatformRequest {
                name,
                endpoint: endpoint.unwrap_or_default(),
                display_name: display_name.unwrap_or_default(),
                max_deliveries_per_minute: max_per_minute,
                staffing,
                delivery_mode: delivery_mode as i32,
            }))?;
            let reached = match p.delivery_mode() {
                pb::DeliveryMode::Pull => "pulling its deliveries (no endpoint)".to_string(),
                _ => format!("at {}", p.endpoint),
            };
            match p.max_deliveries_per_minute {
                0 => println!("registered platform {} {reached}", p.name),
                n => println!(
                    "registered platform {} {reached}, at most {n} deliveries per minute",
                    p.name
                ),
            }
            if let Some(s) = staffed(&p) {
                println!("staffed {}", s.describe());
            }
            Ok(())
        }
        PlatformCommand::List(f) => {
            let list = ask!(client => list_platforms(ListPlatformsRequest {}))?;
            let views: Vec<PlatformView> = list
                .platforms
                .into_iter()
                .map(|p| PlatformView {
                    registered_at: format_timestamp(p.registered_at.as_ref()),
                    staffed: staffed(&p).map(|s| s.describe()).unwrap_or_default(),
                    contact_point: p
                        .staffing
                        .as_ref()
                        .map(|s| s.contact_point.clone())
                        .unwrap_or_default(),
                    delivery_mode: mode_name(p.delivery_mode()),
                    name: p.name,
                    endpoint: p.endpoint,
                    display_name: p.display_name,
                    max_per_minute: p.max_deliveries_per_minute,
                })
                .collect();
            if f.format == Format::Json {
                return output::print_json(&views);
            }
            let mut t = output::table([
                "name",
                "endpoint",
                "display name",
                "registered",
                "delivery",
                "per minute",
                "staffed",
                "contact",
            ]);
            for v in views {
                let cap = match v.max_per_minute {
                    0 => "no cap".to_string(),
                    n => n.to_string(),
                };
                let staffed = match v.staffed.as_str() {
                    "" => "not stated".to_string(),
                    s => s.to_string(),
                };
                t.add_row([
                    v.name,
                    v.endpoint,
                    v.display_name,
                    v.registered_at,
                    v.delivery_mode.to_string(),
                    cap,
                    staffed,
                    v.contact_point,
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}
