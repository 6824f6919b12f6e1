//! `export ACTION_DAY --format tco|sor [--out FILE]`: an action day's transparency exports.
//!
//! - `tco`: CSV `figure,count`, the TCO regulation's yearly-report figures for the day's
//!   removal orders: `removal_orders_issued`, `acted_within_one_hour`, `acted_later`,
//!   `refused`, one `refused:<REASON>` row per refusal reason, `not_found`,
//!   `no_decision`, `withdrawn`.
//! - `sor`: CSV, one statement-of-reasons-style row per target a platform decided on:
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The TCO yearly-report figures (CSV figure,count).
    Tco,
    /// One statement-of-reasons row per decided target (CSV).
    Sor,
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

/// The CSV text of an export.
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
        }
        ExportFormat::Sor => {
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
