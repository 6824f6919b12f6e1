//! `deliveries failed [--day ACTION_DAY] [--platform NAME] [--format table|json]`: the
//! quarantine, every delivery the hub gave up on (oldest first, all pages), with the
//! platform's or the hub's reason. Coordinators only.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;
use takedown_protocol::pb::{
    DeliveryKind, FailedDelivery, ListFailedDeliveriesRequest,
    summary_service_client::SummaryServiceClient,
};

use crate::{
    cli::{Format, FormatArg, GlobalOptions},
    output,
    time::format_timestamp,
};

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Deliveries given up on and not retried, with the reason.
    Failed(FailedArgs),
}

#[derive(Debug, Args)]
pub struct FailedArgs {
    /// Only this action day's.
    #[arg(long, value_name = "ACTION_DAY")]
    pub day: Option<String>,
    /// Only this platform's.
    #[arg(long, value_name = "NAME")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// A failed delivery as printed.
#[derive(Debug, Serialize)]
pub struct FailedView {
    pub delivery_id: String,
    pub target_id: String,
    pub platform: String,
    pub target: String,
    pub kind: &'static str,
    pub action_day_id: String,
    pub attempts: u32,
    pub failed_at: String,
    pub reason: String,
}

impl From<FailedDelivery> for FailedView {
    fn from(f: FailedDelivery) -> Self {
        Self {
            kind: match DeliveryKind::try_from(f.kind) {
                Ok(DeliveryKind::Withdrawal) => "withdrawal",
                _ => "takedown",
            },
            failed_at: format_timestamp(f.failed_at.as_ref()),
            delivery_id: f.delivery_id,
            target_id: f.target_id,
            platform: f.platform,
            target: f.normalized_target,
            action_day_id: f.action_day_id,
            attempts: f.attempts,
            reason: f.reason,
        }
    }
}

pub async fn run(global: &GlobalOptions, command: DeliveriesCommand) -> Result<()> {
    let DeliveriesCommand::Failed(args) = command;
    let channel = global.hub_options().connect().await?;
    let client = SummaryServiceClient::new(channel);
    let mut views: Vec<FailedView> = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = ask!(client => list_failed_deliveries(ListFailedDeliveriesRequest {
            action_day_id: args.day.clone().unwrap_or_default(),
            platform: args.platform.clone().unwrap_or_default(),
            page_size: 1_000,
            page_token: page_token.clone(),
        }))?;
        views.extend(page.deliveries.into_iter().map(FailedView::from));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if args.format.format == Format::Json {
        return output::print_json(&views);
    }
    if views.is_empty() {
        println!("no failed deliveries");
        return Ok(());
    }
    let mut t = output::table([
        "target id",
        "platform",
        "target",
        "kind",
        "day",
        "attempts",
        "failed at",
        "reason",
    ]);
    for v in &views {
        t.add_row([
            v.target_id.clone(),
            v.platform.clone(),
            v.target.clone(),
            v.kind.to_string(),
            v.action_day_id.clone(),
            v.attempts.to_string(),
            v.failed_at.clone(),
            v.reason.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}
