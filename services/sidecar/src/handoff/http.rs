//! The HTTP client the `webhook` and `coop` handoffs share: HTTP/1.1 over rustls (trusting
//! a configured PEM CA, or else the public web roots), one POST with a timeout.

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::HandoffError;

/// Most of an error answer's body kept for the log.
const ANSWER_EXCERPT: usize = 512;

pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A platform's answer to one POST.
pub struct Answer {
    pub status: http::StatusCode,
    /// The start of the body (at most 512 bytes, lossy UTF-8).
    pub excerpt: String,
}

impl HttpClient {
    /// A client trusting `ca` for https when given (`field` names it in errors), else the
    /// public web roots.
    pub fn new(ca: Option<&Path>, field: &str) -> Result<Self, HandoffError> {
        takedown_net::install_crypto_provider();
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match ca {
            Some(ca) => {
                let setup =
                    |e: String| HandoffError::Setup(format!("{field}: {}: {e}", ca.display()));
                let pem = std::fs::read(ca).map_err(|e| setup(e.to_string()))?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| setup(e.to_string()))?;
                    roots.add(cert).map_err(|e| setup(e.to_string()))?;
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
        let connector = builder.https_or_http().enable_http1().build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends `req`; `url` names the platform in errors. Any answer is returned, a transport
    /// failure or timeout is an error.
    pub async fn send(
        &self,
        url: &str,
        req: http::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Answer, HandoffError> {
        let resp = tokio::time::timeout(timeout, self.client.request(req))
            .await
            .map_err(|_| HandoffError::Failed(format!("{url} timed out")))?
            .map_err(|e| {
                HandoffError::Failed(format!("{url}: {}", takedown_net::tls::error_chain(&e)))
            })?;
        let status = resp.status();
        let excerpt = if status.is_success() {
            String::new()
        } else {
            match tokio::time::timeout(timeout, resp.into_body().collect()).await {
                Ok(Ok(body)) => {
                    let bytes = body.to_bytes();
                    String::from_utf8_lossy(&bytes[..bytes.len().min(ANSWER_EXCERPT)]).into_owned()
                }
                _ => String::new(),
            }
        };
        Ok(Answer { status, excerpt })
    }
}
