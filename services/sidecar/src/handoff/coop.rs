//! `coop`: files each batch into ROOST Coop as one item submission (see [`crate::coop`]);
//! a 2xx answer (Coop answers 202) means Coop received every item. Decisions come back as
//! Coop's action callbacks on the decisions endpoint.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use super::{HandoffError, http::HttpClient};
use crate::{config::CoopSettings, coop, document::HandoffTarget, inbox::Pending};

pub struct Coop {
    settings: CoopSettings,
    uri: http::Uri,
    /// Where the items go, for errors.
    items_url: String,
    client: HttpClient,
}

impl std::fmt::Debug for Coop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coop")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Coop {
    pub fn new(settings: CoopSettings) -> Result<Self, HandoffError> {
        let items_url = format!("{}{}", settings.url.trim_end_matches('/'), coop::ITEMS_PATH);
        let uri: http::Uri = items_url
            .parse()
            .map_err(|e| HandoffError::Setup(format!("integration.url: {e}")))?;
        let client = HttpClient::new(settings.ca.as_deref(), "integration.ca")?;
        Ok(Self {
            settings,
            uri,
            items_url,
            client,
        })
    }

    /// Files `targets` (the inbox rows of batch `handoff_id`) as Coop items.
    pub async fn hand_off(
        &self,
        platform: &str,
        handoff_id: &str,
        targets: &[Pending],
    ) -> Result<(), HandoffError> {
        let docs = targets
            .iter()
            .map(|t| {
                serde_json::from_str::<HandoffTarget>(&t.body).map_err(|e| {
                    HandoffError::Failed(format!("inbox row of target {}: {e}", t.target_id))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let body = coop::items_request(&self.settings.item_type_id, platform, handoff_id, &docs);
        let req = http::Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-api-key", &self.settings.api_key)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| HandoffError::Failed(format!("request: {e}")))?;
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let answer = self.client.send(&self.items_url, req, timeout).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            // Coop queues all items of a request or none: a 400 names the items it
            // refused (`errors[].pointer`), a 401/403 the API key.
            Err(HandoffError::Failed(format!(
                "Coop ({}) answered {}: {}",
                self.items_url, answer.status, answer.excerpt
            )))
        }
    }
}
