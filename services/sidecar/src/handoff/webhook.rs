//! `webhook`: POSTs each batch as JSON to the platform's URL; a 2xx answer means the
//! platform received it. Decisions come back later through the decisions endpoint.
//!
//! Each POST is signed as [Standard Webhooks](https://www.standardwebhooks.com/) specify:
//! `webhook-id` is the batch id (the same on a retry, so it is also the idempotency key),
//! `webhook-timestamp` the attempt's Unix seconds, and `webhook-signature` `v1,` and the
//! base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under `integration.secret`. The batch id
//! also travels as `Idempotency-Key` (and `X-Takedown-Handoff-Id`).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::HandoffError;
use crate::config::WebhookSettings;

pub struct Webhook {
    settings: WebhookSettings,
    signer: standardwebhooks::Webhook,
    uri: http::Uri,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
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
        takedown_net::install_crypto_provider();
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match &settings.ca {
            Some(ca) => {
                let pem = std::fs::read(ca)
                    .map_err(|e| HandoffError::Setup(format!("{}: {e}", ca.display())))?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert =
                        cert.map_err(|e| HandoffError::Setup(format!("{}: {e}", ca.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| HandoffError::Setup(format!("{}: {e}", ca.display())))?;
                }
                let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| HandoffError::Setup(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
                builder.with_tls_config(cfg)
            }
            None => builder.with_webpki_roots(),
        };
        let signer = standardwebhooks::Webhook::new(&settings.secret)
            .map_err(|e| HandoffError::Setup(format!("integration.secret: {e}")))?;
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
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
        let resp = tokio::time::timeout(timeout, self.client.request(req))
            .await
            .map_err(|_| HandoffError::Failed(format!("{} timed out", self.settings.url)))?
            .map_err(|e| {
                HandoffError::Failed(format!(
                    "{}: {}",
                    self.settings.url,
                    takedown_net::tls::error_chain(&e)
                ))
            })?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(HandoffError::Failed(format!(
                "{} answered {status}",
                self.settings.url
            )))
        }
    }
}
