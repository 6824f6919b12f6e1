//! `watch ACTION_DAY`: follows the hub's stream of summaries and redraws the table on each
//! update, until the hub ends the stream (the day closed).
//!
//! On a terminal each update replaces the screen (cursor home, clear screen); otherwise
//! each update is printed as a plain table, separated from the previous by a blank line.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use takedown_protocol::pb::{
    ActionDaySummary, WatchActionDayRequest, summary_service_client::SummaryServiceClient,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    cli::{GlobalOptions, WatchArgs},
    client::HubError,
    commands::summary::write_stdout,
    report::{human, table},
};

/// Cursor to the top-left corner, then clear the screen.
pub const REDRAW: &str = "\x1b[H\x1b[2J";

pub async fn run(global: &GlobalOptions, args: WatchArgs) -> Result<()> {
    let channel = global.hub_options().connect().await?;
    let client = SummaryServiceClient::new(channel);
    let mut stream = ask!(client => watch_action_day(WatchActionDayRequest {
        action_day_id: args.action_day.clone(),
    }))?;
    let terminal = std::io::stdout().is_terminal();
    let mut last_state = None;
    while let Some(summary) = stream
        .message()
        .await
        .map_err(HubError)
        .with_context(|| format!("watching action day {}", args.action_day))?
    {
        // Read each time: the terminal may have been resized.
        let width = crate::output::terminal_width(args.width);
        write_stdout(&frame(&summary, OffsetDateTime::now_utc(), terminal, width))?;
        last_state = Some(human::shorten(&human::state(&summary.state), 40));
    }
    let state = last_state.map_or_else(String::new, |s| format!(" (day {s})"));
    write_stdout(&format!(
        "the hub ended the watch of action day {}{state}\n",
        args.action_day
    ))
}

/// `last update 2026-11-30T07:35:02Z · day live · generated 2026-11-30T07:35:00Z`.
pub fn status_line(summary: &ActionDaySummary, received: OffsetDateTime) -> String {
    let received = received
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    format!(
        "last update {received} · day {} · generated {}",
        human::shorten(&human::state(&summary.state), 40),
        crate::time::format_timestamp(summary.generated_at.as_ref())
    )
}

/// One update as printed: on a terminal the whole screen, otherwise a table and a blank line;
/// the table within `width` columns when given.
pub fn frame(
    summary: &ActionDaySummary,
    received: OffsetDateTime,
    terminal: bool,
    width: Option<u16>,
) -> String {
    let body = format!(
        "{}\n{}",
        status_line(summary, received),
        table::render(summary, width)
    );
    if terminal {
        format!("{REDRAW}{body}")
    } else {
        format!("{body}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn frames_redraw_on_a_terminal_and_stack_otherwise() {
        let s = ActionDaySummary {
            action_day_id: "ad-1".into(),
            state: "ACTION_DAY_STATE_LIVE".into(),
            ..Default::default()
        };
        let at = datetime!(2026-11-30 07:35:02.5 UTC);
        let plain = frame(&s, at, false, None);
        assert!(plain.starts_with("last update 2026-11-30T07:35:02Z · day live · generated \n"));
        assert!(plain.ends_with("\n\n"));
        assert!(!plain.contains('\x1b'));
        let screen = frame(&s, at, true, None);
        assert!(screen.starts_with(REDRAW));
        assert_eq!(
            &screen[REDRAW.len()..],
            plain.trim_end_matches('\n').to_string() + "\n"
        );
    }
}
