//! `hold place|release|list`.

use anyhow::{Context, Result};
use serde::Serialize;
use takedown_protocol::pb::{
    Hold, ListHoldsRequest, PlaceHoldRequest, ReleaseHoldRequest,
    hold_service_client::HoldServiceClient,
};

use crate::{
    cli::{Format, GlobalOptions, HoldCommand},
    output,
    time::{format_timestamp, parse_instant_now, to_timestamp},
};

pub async fn run(global: &GlobalOptions, command: HoldCommand) -> Result<()> {
    let expires = match &command {
        HoldCommand::Place { expires, .. } => Some(to_timestamp(
            parse_instant_now(expires).context("--expires")?,
        )),
        _ => None,
    };
    let channel = global.hub_options().connect().await?;
    let client = HoldServiceClient::new(channel);
    match command {
        HoldCommand::Place {
            platform,
            target,
            reason,
            ..
        } => {
            let h = ask!(client => place_hold(PlaceHoldRequest {
                platform,
                target,
                reason,
                expires_at: expires,
            }))?;
            println!(
                "placed hold {} on {} {} until {}",
                h.id,
                h.platform,
                h.normalized_target,
                format_timestamp(h.expires_at.as_ref())
            );
            Ok(())
        }
        HoldCommand::Release { id } => {
            let h = ask!(client => release_hold(ReleaseHoldRequest { hold_id: id }))?;
            println!(
                "released hold {} on {} {}",
                h.id, h.platform, h.normalized_target
            );
            Ok(())
        }
        HoldCommand::List(f) => {
            let holds = ask!(client => list_holds(ListHoldsRequest {}))?;
            let views: Vec<HoldView> = holds.holds.into_iter().map(HoldView::from).collect();
            if f.format == Format::Json {
                return output::print_json(&views);
            }
            let mut t = output::table([
                "id",
                "platform",
                "target",
                "reason",
                "expires",
                "placed by",
                "released",
            ]);
            for v in views {
                t.add_row([
                    v.id,
                    v.platform,
                    v.normalized_target,
                    v.reason,
                    v.expires_at,
                    v.placed_by,
                    v.released_at,
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

/// A hold as printed.
#[derive(Debug, Serialize)]
pub struct HoldView {
    pub id: String,
    pub platform: String,
    pub target: String,
    pub normalized_target: String,
    pub reason: String,
    pub expires_at: String,
    pub created_at: String,
    pub placed_by: String,
    pub released_at: String,
}

impl From<Hold> for HoldView {
    fn from(h: Hold) -> Self {
        Self {
            expires_at: format_timestamp(h.expires_at.as_ref()),
            created_at: format_timestamp(h.created_at.as_ref()),
            released_at: format_timestamp(h.released_at.as_ref()),
            id: h.id,
            platform: h.platform,
            target: h.target,
            normalized_target: h.normalized_target,
            reason: h.reason,
            placed_by: h.placed_by,
        }
    }
}
