//! The quarantine, oldest first, every page; coordinators only:
//!
//! - `deliveries failed [--day ACTION_DAY] [--platform NAME] [--format table|json]`: every
//!   delivery the hub gave up on, with the platform's or the hub's reason;
//! - `deliveries refused-reports [--platform NAME] [--format table|json]`: every report the
//!   hub refused for good (the platform's sidecar parked it), with the hub's answer.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;
use takedown_protocol::pb::{
    DeliveryKind, FailedDelivery, ListFailedDeliveriesRequest, ListRefusedReportsRequest,
    RefusedReport, summary_service_client::SummaryServiceClient,
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
    /// Reports the hub refused for good (parked by the platform's sidecar), with the reason.
    RefusedReports(RefusedArgs),
}

#[derive(Debug, Args)]
pub struct RefusedArgs {
    /// Only this platform's.
    #[arg(long, value_name = "NAME")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// A refused report as printed.
#[derive(Debug, Serialize)]
pub struct RefusedView {
    pub platform: String,
    pub report_id: String,
    pub target_id: String,
    pub reason: String,
    pub first_refused_at: String,
    pub last_refused_at: String,
    pub times: u64,
}

impl From<RefusedReport> for RefusedView {
    fn from(r: RefusedReport) -> Self {
        Self {
            first_refused_at: format_timestamp(r.first_refused_at.as_ref()),
            last_refused_at: format_timestamp(r.last_refused_at.as_ref()),
            platform: r.platform,
            report_id: r.report_id,
            target_id: r.target_id,
            reason: r.reason,
            times: r.times,
        }
    }
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
    let channel = global.hub_options().connect().await?;
    let client = SummaryServiceClient::new(channel);
    match command {
        DeliveriesCommand::Failed(args) => failed(&client, args).await,
        DeliveriesCommand::RefusedReports(args) => refused(&client, args).await,
    }
}

async fn refused(
    client: &SummaryServiceClient<tonic::transport::Channel>,
    args: RefusedArgs,
) -> Result<()> {
    let mut views: Vec<RefusedView> = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = ask!(client => list_refused_reports(ListRefusedReportsRequest {
            platform: args.platform.clone().unwrap_or_default(),
            page_size: 1_000,
            page_token: page_token.clone(),
        }))?;
        views.extend(page.reports.into_iter().map(RefusedView::from));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    print(
        &views,
        args.format.format,
        "no refused reports",
        [
            "platform",
            "report id",
            "target id",
            "times",
            "last refused",
            "reason",
        ],
        |v| {
            [
                v.platform.clone(),
                v.report_id.clone(),
                v.target_id.clone(),
                v.times.to_string(),
                v.last_refused_at.clone(),
                v.reason.clone(),
            ]
        },
    )
}

async fn failed(
    client: &SummaryServiceClient<tonic::transport::Channel>,
    args: FailedArgs,
) -> Result<()> {
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
    print(
        &views,
        args.format.format,
        "no failed deliveries",
        [
            "target id",
            "platform",
            "target",
            "kind",
            "day",
            "attempts",
            "failed at",
            "reason",
        ],
        |v| {
            [
                v.target_id.clone(),
                v.platform.clone(),
                v.target.clone(),
                v.kind.to_string(),
                v.action_day_id.clone(),
                v.attempts.to_string(),
                v.failed_at.clone(),
                v.reason.clone(),
            ]
        },
    )
}

/// Prints `views` as JSON or as a table of `row`s under `header` (`none` when empty).
fn print<V: Serialize, const N: usize>(
    views: &[V],
    format: Format,
    none: &str,
    header: [&str; N],
    row: impl Fn(&V) -> [String; N],
) -> Result<()> {
    if format == Format::Json {
        return output::print_json(&views);
    }
    if views.is_empty() {
        println!("{none}");
        return Ok(());
    }
    let mut t = output::table(header);
    for v in views {
        t.add_row(row(v));
    }
    println!("{t}");
    Ok(())
}
