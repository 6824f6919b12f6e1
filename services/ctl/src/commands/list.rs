//! `list sign`, `list submit`, `list status`, `list withdraw`.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use takedown_protocol::{
    ident::OrgId,
    list::ListSpec,
    pb::{
        GetListStatusRequest, ListStatus, PreserveTargetRequest, UpholdOnScrutinyRequest,
        WithdrawListRequest, WithdrawTargetRequest, referral_service_client::ReferralServiceClient,
    },
    signing::MAX_LIFETIME_SECS,
};

use crate::{
    cli::{Format, GlobalOptions, ListCommand, ListSignArgs},
    envelope::Envelope,
    listfile, output,
    time::{format_duration, format_timestamp, parse_duration, parse_instant_now, to_timestamp},
};

pub async fn run(global: &GlobalOptions, command: ListCommand) -> Result<()> {
    match command {
        ListCommand::Sign(a) => sign(global, &a),
        ListCommand::Submit(a) => {
            let channel = global.hub_options().connect().await?;
            let client = ReferralServiceClient::new(channel);
            let several = a.files.len() > 1;
            for file in &a.files {
                let envelope = Envelope::read(file)?;
                let r = ask!(client => submit_referral_list(envelope.to_request()));
                // With several files, say which one the hub refused.
                let r = if several {
                    r.with_context(|| file.display().to_string())?
                } else {
                    r?
                };
                println!(
                    "list {}: {} items, {} new targets, {} merged duplicates",
                    r.list_id, r.items, r.new_targets, r.merged_duplicates
                );
            }
            Ok(())
        }
        ListCommand::Status(a) => {
            let channel = global.hub_options().connect().await?;
            let status = ask!(ReferralServiceClient::new(channel) => get_list_status(GetListStatusRequest {
                list_id: a.list_id.clone(),
            }))?;
            print_status(&status, a.format.format)
        }
        ListCommand::Withdraw(a) => {
            let channel = global.hub_options().connect().await?;
            let client = ReferralServiceClient::new(channel);
            if let Some(list_id) = a.list {
                let r = ask!(client => withdraw_list(WithdrawListRequest {
                    list_id,
                    reason: a.reason,
                    ground: a.ground.to_pb() as i32,
                }))?;
                println!(
                    "list {}: {} referrals withdrawn; {} targets withdrawn (withdrawal queued \
                     {} times), {} kept in force by another referral",
                    r.list_id,
                    r.referrals_withdrawn,
                    r.targets_withdrawn,
                    r.withdrawals_queued,
                    r.targets_standing
                );
                return Ok(());
            }
            let r = ask!(client => withdraw_target(WithdrawTargetRequest {
                target_id: a.target_id.unwrap_or_default(),
                reason: a.reason.clone(),
                agency_ids: a.agencies.clone(),
                ground: a.ground.to_pb() as i32,
            }))?;
            if r.target_withdrawn {
                println!(
                    "withdrew target {}: withdrawal queued to {} platform(s)",
                    r.target_id, r.withdrawals_queued
                );
            } else {
                println!(
                    "withdrew {} referral(s) of target {}; {} other referral(s) keep it in \
                     force, so the platform is not asked to restore it",
                    r.referrals_withdrawn, r.target_id, r.referrals_standing
                );
            }
            Ok(())
        }
        ListCommand::Uphold { target_id, reason } => {
            let channel = global.hub_options().connect().await?;
            let client = ReferralServiceClient::new(channel);
            let r = ask!(client => uphold_on_scrutiny(UpholdOnScrutinyRequest {
                target_id,
                reason,
            }))?;
            println!(
                "target {}: {} cross-border removal order(s) upheld on scrutiny",
                r.target_id, r.orders_upheld
            );
            Ok(())
        }
        ListCommand::Preserve {
            target_id,
            until,
            authority,
            reference,
        } => {
            let until = parse_instant_now(&until).with_context(|| format!("--until {until:?}"))?;
            let channel = global.hub_options().connect().await?;
            let client = ReferralServiceClient::new(channel);
            let r = ask!(client => preserve_target(PreserveTargetRequest {
                target_id,
                until: Some(to_timestamp(until)),
                authority,
                reference,
            }))?;
            println!(
                "target {}: preserved until {} ({} list(s) kept past retention)",
                r.target_id,
                format_timestamp(r.preserved_until.as_ref()),
                r.lists_kept
            );
            Ok(())
        }
    }
}

/// A list id: it names the default output file, so no separators or blanks.
fn check_list_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 128
        || id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
    {
        bail!("list id {id:?} must be 1-128 characters without blanks or slashes");
    }
    Ok(())
}

fn sign(global: &GlobalOptions, a: &ListSignArgs) -> Result<()> {
    let agency = a
        .agency
        .as_deref()
        .or(global.as_org.as_deref())
        .context("no agency: pass --agency ID (or --as ID)")?;
    OrgId::parse(agency).context("--agency")?;
    let lifetime = parse_duration(&a.lifetime).context("--lifetime")?;
    let lifetime_secs = lifetime.whole_seconds();
    if lifetime_secs <= 0 || lifetime_secs > MAX_LIFETIME_SECS {
        bail!(
            "--lifetime {} is outside 1s..24h",
            format_duration(lifetime)
        );
    }
    if let Some(day) = &a.action_day
        && day.trim().is_empty()
    {
        bail!("--action-day is empty");
    }
    crate::keys::check_kid(&a.kid)?;
    let list_id = a
        .list_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    check_list_id(&list_id)?;
    let referrals = listfile::read_referrals(&a.input)?;
    let key_pem = std::fs::read(&a.key)
        .with_context(|| format!("cannot read signing key {}", a.key.display()))?;
    let mut per_platform: BTreeMap<String, usize> = BTreeMap::new();
    for r in &referrals {
        *per_platform.entry(r.platform.clone()).or_default() += 1;
    }
    let count = referrals.len() as u64;
    let issued_at = ::time::OffsetDateTime::now_utc().unix_timestamp();
    let spec = ListSpec {
        list_id: list_id.clone(),
        agency_id: agency.to_string(),
        action_day_id: a.action_day.clone(),
        referrals,
        audience: a.audience.clone(),
        issued_at,
        lifetime_secs,
    };
    let envelope = Envelope::sign(&spec, &a.kid, &key_pem)
        .with_context(|| format!("cannot sign with {}", a.key.display()))?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{list_id}.signed.json")));
    envelope.write(&out)?;
    let platforms: Vec<String> = per_platform
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    println!(
        "signed list {list_id}: {count} referrals ({}) by {agency}, {}, valid {}",
        platforms.join(", "),
        a.action_day.as_deref().map_or_else(
            || "no action day".to_string(),
            |d| format!("action day {d}")
        ),
        format_duration(lifetime)
    );
    println!("wrote {}", out.display());
    Ok(())
}

#[derive(Serialize)]
struct StatusView<'a> {
    list_id: &'a str,
    agency_id: &'a str,
    action_day_id: Option<&'a str>,
    accepted_at: String,
    item_count: u32,
    items: Vec<ItemView<'a>>,
}

#[derive(Serialize)]
struct ItemView<'a> {
    index: u32,
    target_id: &'a str,
    platform: &'a str,
    normalized_target: &'a str,
    state: String,
    detail: &'a str,
}

fn print_status(s: &ListStatus, format: Format) -> Result<()> {
    let items: Vec<ItemView> = s
        .items
        .iter()
        .map(|i| ItemView {
            index: i.index,
            target_id: &i.target_id,
            platform: &i.platform,
            normalized_target: &i.normalized_target,
            state: output::target_state(i.state, i.reject_reason),
            detail: &i.detail,
        })
        .collect();
    let view = StatusView {
        list_id: &s.list_id,
        agency_id: &s.agency_id,
        action_day_id: s.action_day_id.as_deref(),
        accepted_at: format_timestamp(s.accepted_at.as_ref()),
        item_count: s.item_count,
        items,
    };
    if format == Format::Json {
        return output::print_json(&view);
    }
    println!(
        "list {} by {}, {}, accepted {}, {} items",
        view.list_id,
        view.agency_id,
        view.action_day_id.map_or_else(
            || "no action day".to_string(),
            |d| format!("action day {d}")
        ),
        view.accepted_at,
        view.item_count
    );
    let mut table = output::table(["#", "target id", "platform", "target", "state", "detail"]);
    for i in &view.items {
        table.add_row([
            i.index.to_string(),
            i.target_id.to_string(),
            i.platform.to_string(),
            i.normalized_target.to_string(),
            i.state.clone(),
            i.detail.to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ids_that_name_files_safely() {
        assert!(check_list_id("0193a7c2-1111-7abc-8def-000000000001").is_ok());
        assert!(check_list_id("fr-2026-11-30:batch.1").is_ok());
        assert!(check_list_id("").is_err());
        assert!(check_list_id("../etc/passwd").is_err());
        assert!(check_list_id("a b").is_err());
    }
}
