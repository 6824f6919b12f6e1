//! `summary ACTION_DAY`: the action day's report as a table, CSV, JSON or HTML, on
//! standard output or into a file.

use std::io::Write;

use anyhow::{Context, Result, bail};
use takedown_protocol::pb::{
    GetActionDaySummaryRequest, summary_service_client::SummaryServiceClient,
};

use crate::{
    cli::{GlobalOptions, ReportFormat, ReportSection, SummaryArgs},
    report::{self, Format, Section},
};

pub async fn run(global: &GlobalOptions, args: SummaryArgs) -> Result<()> {
    // Check the options before dialling the hub.
    let (format, section) = choose(args.format, args.section)?;
    let channel = global.hub_options().connect().await?;
    let client = SummaryServiceClient::new(channel);
    let summary = ask!(client => get_action_day_summary(GetActionDaySummaryRequest {
        action_day_id: args.action_day.clone(),
    }))?;
    // A file gets the table whole; a terminal gets it fitted.
    let width = if args.out.is_some() {
        args.width
    } else {
        crate::output::terminal_width(args.width)
    };
    let text = report::render(&summary, format, section, width)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "wrote the report of action day {} to {}",
                summary.action_day_id,
                path.display()
            );
            Ok(())
        }
        None => write_stdout(&text),
    }
}

/// The report format and CSV section; `--section` is refused outside CSV.
pub fn choose(format: ReportFormat, section: Option<ReportSection>) -> Result<(Format, Section)> {
    let format = match format {
        ReportFormat::Table => Format::Table,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => Format::Html,
    };
    let section = match (format, section) {
        (_, None) => Section::default(),
        (Format::Csv, Some(ReportSection::Platforms)) => Section::Platforms,
        (Format::Csv, Some(ReportSection::Agencies)) => Section::Agencies,
        (Format::Csv, Some(ReportSection::Blocks)) => Section::Blocks,
        (_, Some(_)) => {
            bail!("--section only applies to --format csv (the other formats hold every section)")
        }
    };
    Ok((format, section))
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("writing to standard output")?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_only_go_with_csv() {
        assert_eq!(
            choose(ReportFormat::Csv, Some(ReportSection::Blocks)).unwrap(),
            (Format::Csv, Section::Blocks)
        );
        assert_eq!(
            choose(ReportFormat::Csv, None).unwrap(),
            (Format::Csv, Section::Platforms)
        );
        assert_eq!(
            choose(ReportFormat::Html, None).unwrap(),
            (Format::Html, Section::Platforms)
        );
        let e = choose(ReportFormat::Table, Some(ReportSection::Agencies)).unwrap_err();
        assert!(
            e.to_string()
                .contains("--section only applies to --format csv")
        );
    }
}
