//! `webhook`: POSTs each batch as JSON to the platform's URL; a 2xx answer means the
//! platform received it. Decisions come back later through the decisions endpoint.
//!
//! Each POST is signed as [Standard Webhooks](https://www.standardwebhooks.com/) specify:
//! `webhook-id` is the batch id (the same on a retry, so it is also the idempotency key),
//! `webhook-timestamp` the attempt's Unix seconds, and `webhook-signature` `v1,` and the
//! base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under `integration.secret`. The batch id
//! also travels as `Idempotency-Key` (and `X-Takedown-Handoff-Id`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use super::{HandoffError, http::HttpClient};
use crate::config::WebhookSettings;

pub struct Webhook {
    settings: WebhookSettings,
    signer: standardwebhooks::Webhook,
    uri: http::Uri,
    client: HttpClient,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Webhook {
    /// A client for `settings` (trusting `settings.ca` for https when given, else the
    /// public web roots).
    pub fn new(settings: WebhookSettings) -> Result<Self, HandoffError> {
        let uri: http::Uri = settings
            .url
            .parse()
            .map_err(|e| HandoffError::Setup(format!("integration.url: {e}")))?;
        let client = HttpClient::new(settings.ca.as_deref(), "integration.ca")?;
        let signer = standardwebhooks::Webhook::new(&settings.secret)
            .map_err(|e| HandoffError::Setup(format!("integration.secret: {e}")))?;
        Ok(Self {
            settings,
            signer,
            uri,
            client,
        })
    }

    /// POSTs one batch.
    pub async fn hand_off(&self, handoff_id: &str, json: String) -> Result<(), HandoffError> {
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = self
            .signer
            .sign(handoff_id, ts, json.as_bytes())
            .map_err(|e| HandoffError::Failed(format!("signing the batch: {e}")))?;
        let mut req = http::Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, handoff_id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .header("idempotency-key", handoff_id)
            .header("x-takedown-handoff-id", handoff_id);
        if let Some(token) = &self.settings.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(json)))
            .map_err(|e| HandoffError::Failed(format!("request: {e}")))?;
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let answer = self.client.send(&self.settings.url, req, timeout).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(HandoffError::Failed(format!(
                "{} answered {}: {}",
                self.settings.url, answer.status, answer.excerpt
            )))
        }
    }
}
