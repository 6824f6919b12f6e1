//! `action-day create|get|list|move|close`.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use takedown_protocol::pb::{
    ActionDay, CloseActionDayRequest, CreateActionDayRequest, GetActionDayRequest,
    ListActionDaysRequest, MoveActionDayRequest, action_day_service_client::ActionDayServiceClient,
};

use crate::{
    cli::{ActionDayCommand, Format, GlobalOptions},
    output,
    time::{format_timestamp, parse_instant, to_timestamp},
};

pub async fn run(global: &GlobalOptions, command: ActionDayCommand) -> Result<()> {
    // Check the times before dialling the hub.
    let move_request = match &command {
        ActionDayCommand::Move(a) => {
            let now = ::time::OffsetDateTime::now_utc();
            let starts = parse_instant(&a.starts_at, now).context("--starts-at")?;
            let ends = a
                .ends_at
                .as_deref()
                .map(|e| parse_instant(e, now).context("--ends-at"))
                .transpose()?;
            if ends.is_some_and(|e| e <= starts) {
                bail!("--ends-at must be after --starts-at");
            }
            Some(MoveActionDayRequest {
                id: a.id.clone(),
                starts_at: Some(to_timestamp(starts)),
                ends_at: ends.map(to_timestamp),
            })
        }
        _ => None,
    };
    let request = match &command {
        ActionDayCommand::Create(a) => {
            let now = ::time::OffsetDateTime::now_utc();
            let starts = parse_instant(&a.starts_at, now).context("--starts-at")?;
            let ends = parse_instant(&a.ends_at, now).context("--ends-at")?;
            if ends <= starts {
                bail!("--ends-at must be after --starts-at");
            }
            Some(CreateActionDayRequest {
                id: a.id.clone().unwrap_or_default(),
                name: a.name.clone(),
                starts_at: Some(to_timestamp(starts)),
                ends_at: Some(to_timestamp(ends)),
                platforms: a.platforms.clone(),
                agencies: a.agencies.clone(),
            })
        }
        _ => None,
    };
    let channel = global.hub_options().connect().await?;
    let client = ActionDayServiceClient::new(channel);
    match command {
        ActionDayCommand::Create(_) => {
            let request = request.context("action day request")?;
            let day = ask!(client => create_action_day(request))?;
            println!(
                "created action day {} ({}), H-hour {}",
                day.id,
                day.name,
                format_timestamp(day.starts_at.as_ref())
            );
            print_staffing_warnings(&day);
            Ok(())
        }
        ActionDayCommand::Get { id, format } => {
            let day = ask!(client => get_action_day(GetActionDayRequest { id }))?;
            let view = ActionDayView::from(day.clone());
            if format.format == Format::Json {
                return output::print_json(&view);
            }
            println!("id:         {}", view.id);
            println!("name:       {}", view.name);
            println!("state:      {}", view.state);
            println!("starts at:  {}", view.starts_at);
            println!("ends at:    {}", view.ends_at);
            println!("platforms:  {}", view.platforms.join(", "));
            println!("agencies:   {}", view.agencies.join(", "));
            println!("created at: {}", view.created_at);
            if !view.released_at.is_empty() {
                println!("released:   {}", view.released_at);
            }
            if !view.closed_at.is_empty() {
                println!("closed:     {}", view.closed_at);
            }
            print_staffing_warnings(&day);
            Ok(())
        }
        ActionDayCommand::List(f) => {
            let days = ask!(client => list_action_days(ListActionDaysRequest {}))?;
            let views: Vec<ActionDayView> = days
                .action_days
                .into_iter()
                .map(ActionDayView::from)
                .collect();
            if f.format == Format::Json {
                return output::print_json(&views);
            }
            let mut t = output::table([
                "id",
                "name",
                "state",
                "starts at",
                "ends at",
                "platforms",
                "agencies",
            ]);
            for v in views {
                t.add_row([
                    v.id,
                    v.name,
                    v.state.to_string(),
                    v.starts_at,
                    v.ends_at,
                    v.platforms.join(", "),
                    v.agencies.join(", "),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ActionDayCommand::Move(_) => {
            let request = move_request.context("move request")?;
            let day = ask!(client => move_action_day(request))?;
            println!(
                "moved action day {} ({}): H-hour {}, ends {}",
                day.id,
                day.name,
                format_timestamp(day.starts_at.as_ref()),
                format_timestamp(day.ends_at.as_ref())
            );
            print_staffing_warnings(&day);
            Ok(())
        }
        ActionDayCommand::Close { id } => {
            let day = ask!(client => close_action_day(CloseActionDayRequest { id }))?;
            println!(
                "closed action day {} ({}) at {}",
                day.id,
                day.name,
                format_timestamp(day.closed_at.as_ref())
            );
            Ok(())
        }
    }
}

/// An action day as printed.
#[derive(Debug, Serialize)]
pub struct ActionDayView {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub starts_at: String,
    pub ends_at: String,
    pub platforms: Vec<String>,
    pub agencies: Vec<String>,
    pub created_at: String,
    pub released_at: String,
    pub closed_at: String,
}

impl From<ActionDay> for ActionDayView {
    fn from(d: ActionDay) -> Self {
        Self {
            state: output::action_day_state(d.state),
            starts_at: format_timestamp(d.starts_at.as_ref()),
            ends_at: format_timestamp(d.ends_at.as_ref()),
            created_at: format_timestamp(d.created_at.as_ref()),
            released_at: format_timestamp(d.released_at.as_ref()),
            closed_at: format_timestamp(d.closed_at.as_ref()),
            id: d.id,
            name: d.name,
            platforms: d.platforms,
            agencies: d.agencies,
        }
    }
}

/// The hub's warnings that H-hour falls outside platforms' staffed hours.
fn print_staffing_warnings(day: &ActionDay) {
    for w in &day.staffing_warnings {
        let next = match w.next_staffed_at.as_ref() {
            Some(t) => format!("; staffed again from {}", format_timestamp(Some(t))),
            None => String::new(),
        };
        let contact = match w.contact_point.as_str() {
            "" => String::new(),
            c => format!("; contact {c}"),
        };
        println!(
            "warning: H-hour is outside {}'s staffed hours: {} there{next}{contact}",
            w.platform, w.local_time
        );
    }
}
