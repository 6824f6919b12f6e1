//! `export ACTION_DAY --format tco|sor|sor-jsonl|decisions [--out FILE]`: an action day's
//! transparency exports.
//!
//! - `tco`: CSV `figure,count`, the TCO regulation's yearly-report figures for the day's
//!   removal orders: `removal_orders_issued`, `acted_within_one_hour`, `acted_later`,
//!   `refused`, one `refused:<REASON>` row per refusal reason, `not_found`,
//!   `no_decision`, `withdrawn`; then per issuing authority (Art 8(1))
//!   `orders:<MS>:<AUTHORITY>`, `acted_within_one_hour:<MS>:<AUTHORITY>`,
//!   `acted_later:…`, `refused:…` and `no_decision:…` (`<MS>` its member state); then
//!   `cross_border_orders` and one `cross_border_to:<HOST>` row per host member state
//!   (Art 4); then `scrutinised` (Art 8(1)(b)), `upheld_on_scrutiny` (`takedownctl list
//!   uphold`), `ceased_on_scrutiny` (orders withdrawn on ground SCRUTINY: the host member
//!   state's authority found them to infringe, Art 4(4)) and `annulled_on_review` (ground
//!   REVIEW, Art 9).
//! - `sor` (CSV) and `sor-jsonl` (JSON lines): one statement of reasons per restriction a
//!   platform imposed, in the DSA Transparency Database's schema ([`sor`]).
//! - `decisions`: CSV, one row per target a platform decided on, restrictions or not:
//!   `target_id,platform,target,decision,reject_reason,category,legal_basis,
//!   removal_order_ref,delivered_at,acted_at,withdrawn_at,restoration` (times RFC 3339 UTC).

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use takedown_protocol::pb::{
    TransparencyRequest, TransparencyResponse,
    transparency_service_client::TransparencyServiceClient,
};

use crate::{cli::GlobalOptions, time::format_timestamp};

pub mod sor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The TCO yearly-report figures (CSV figure,count).
    Tco,
    /// DSA statements of reasons, one per restriction (CSV, the database's field names).
    Sor,
    /// The same statements as JSON lines, one object per line.
    SorJsonl,
    /// One row per decided target, restrictions or not (CSV).
    Decisions,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The action day id.
    #[arg(value_name = "ACTION_DAY")]
    pub action_day: String,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to FILE instead of standard output (replaces FILE).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(global: &GlobalOptions, args: ExportArgs) -> Result<()> {
    let channel = global.hub_options().connect().await?;
    let client = TransparencyServiceClient::new(channel);
    let resp = ask!(client => export_transparency(TransparencyRequest {
        action_day_id: args.action_day.clone(),
    }))?;
    let text = render(&resp, args.format)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "wrote the export of action day {} to {}",
                args.action_day,
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The text of an export.
pub fn render(resp: &TransparencyResponse, format: ExportFormat) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    match format {
        ExportFormat::Tco => {
            let f = resp.tco.clone().unwrap_or_default();
            w.write_record(["figure", "count"])?;
            let mut row = |k: &str, v: u64| w.write_record([k.to_string(), v.to_string()]);
            row("removal_orders_issued", f.removal_orders_issued)?;
            row("acted_within_one_hour", f.acted_within_one_hour)?;
            row("acted_later", f.acted_later)?;
            row("refused", f.refused)?;
            for r in &f.refused_by_reason {
                row(&format!("refused:{}", r.reason), r.count)?;
            }
            row("not_found", f.not_found)?;
            row("no_decision", f.no_decision)?;
            row("withdrawn", f.withdrawn)?;
            for a in &f.by_authority {
                let who = format!("{}:{}", a.member_state, a.issuing_authority);
                row(&format!("orders:{who}"), a.orders)?;
                row(
                    &format!("acted_within_one_hour:{who}"),
                    a.acted_within_one_hour,
                )?;
                row(&format!("acted_later:{who}"), a.acted_later)?;
                row(&format!("refused:{who}"), a.refused)?;
                row(&format!("no_decision:{who}"), a.no_decision)?;
            }
            row("cross_border_orders", f.cross_border_orders)?;
            for h in &f.cross_border_by_host {
                row(
                    &format!("cross_border_to:{}", h.host_member_state),
                    h.orders,
                )?;
            }
            row("scrutinised", f.scrutinised)?;
            row("upheld_on_scrutiny", f.upheld_on_scrutiny)?;
            row("ceased_on_scrutiny", f.ceased_on_scrutiny)?;
            row("annulled_on_review", f.annulled_on_review)?;
        }
        ExportFormat::Sor => {
            w.write_record(sor::COLUMNS)?;
            for s in resp.statements.iter().filter_map(sor::statement) {
                w.write_record(s.cells())?;
            }
        }
        ExportFormat::SorJsonl => {
            let mut out = String::new();
            for s in resp.statements.iter().filter_map(sor::statement) {
                out.push_str(&serde_json::to_string(&s)?);
                out.push('\n');
            }
            return Ok(out);
        }
        ExportFormat::Decisions => {
            w.write_record([
                "target_id",
                "platform",
                "target",
                "decision",
                "reject_reason",
                "category",
                "legal_basis",
                "removal_order_ref",
                "delivered_at",
                "acted_at",
                "withdrawn_at",
                "restoration",
            ])?;
            for s in &resp.statements {
                w.write_record([
                    s.target_id.as_str(),
                    &s.platform,
                    &s.target,
                    &s.decision,
                    &s.reject_reason,
                    &s.category,
                    &s.legal_basis,
                    &s.removal_order_ref,
                    &format_timestamp(s.delivered_at.as_ref()),
                    &format_timestamp(s.acted_at.as_ref()),
                    &format_timestamp(s.withdrawn_at.as_ref()),
                    &s.restoration,
                ])?;
            }
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
