//! A stand-in for ROOST Coop, written from Coop's API reference (`docs/api/` in
//! roostorg/coop): `POST /api/v1/items/async/` checks `X-API-KEY`, validates every item
//! (`id`, `typeId`, `data` object) and answers 202 with `{}` (or 400/401 with Coop's
//! `{"errors": [...]}` and nothing queued), recording what it received; and the
//! moderator's side, posting action callbacks signed as Coop signs them (`Coop-Signature`:
//! base64 RSASSA-PKCS1-v1_5 / SHA-256 over the raw body) with the test key pair in
//! `tests/fixtures/coop/`. Tests count duplicates here, where Coop sees them.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::Engine;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::watch,
};

/// The API key the stand-in accepts and the test sidecars send.
pub const API_KEY: &str = "coop-test-api-key";
/// The Item Type the test sidecars file targets as.
pub const ITEM_TYPE: &str = "takedown-referral";
/// The organisation's signing key (private) and the verification key (public).
pub const SIGNING_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/coop/signing-key.pem");
pub const VERIFICATION_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/coop/signing-key.pub.pem"
);

#[derive(Clone, Default)]
struct Shared {
    items: Arc<Mutex<Vec<Value>>>,
    refused: Arc<Mutex<usize>>,
    received: Arc<Mutex<Option<watch::Sender<usize>>>>,
}

/// The stand-in; it lives as long as the test.
pub struct CoopStandIn {
    /// Coop's base URL.
    pub url: String,
    shared: Shared,
    received: watch::Receiver<usize>,
}

fn coop_error(
    status: StatusCode,
    title: &str,
    detail: String,
    pointer: Option<String>,
) -> (StatusCode, Json<Value>) {
    let mut e = json!({ "status": status.as_u16(), "type": ["/errors/invalid-user-input"], "title": title, "detail": detail });
    if let Some(p) = pointer {
        e["pointer"] = p.into();
    }
    (status, Json(json!({ "errors": [e] })))
}

async fn submit_items(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        *s.refused.lock().unwrap() += 1;
        return coop_error(
            StatusCode::UNAUTHORIZED,
            "Invalid API Key",
            "x-api-key".into(),
            None,
        );
    }
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return coop_error(StatusCode::BAD_REQUEST, "Invalid JSON", e.to_string(), None),
    };
    let Some(items) = doc
        .get("items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
    else {
        return coop_error(
            StatusCode::BAD_REQUEST,
            "Invalid Request",
            "items is required".into(),
            None,
        );
    };
    for (i, item) in items.iter().enumerate() {
        let ok = item
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            && item.get("typeId").and_then(Value::as_str) == Some(ITEM_TYPE)
            && item.get("data").is_some_and(Value::is_object)
            && item["data"].get("target").and_then(Value::as_str).is_some();
        if !ok {
            *s.refused.lock().unwrap() += 1;
            return coop_error(
                StatusCode::BAD_REQUEST,
                "Invalid Data for Item",
                "id, typeId and data (with its required field 'target') are required".into(),
                Some(format!("/items/{i}")),
            );
        }
    }
    let n = {
        let mut all = s.items.lock().unwrap();
        all.extend(items.iter().cloned());
        all.len()
    };
    if let Some(tx) = &*s.received.lock().unwrap() {
        tx.send_replace(n);
    }
    (StatusCode::ACCEPTED, Json(json!({})))
}

impl CoopStandIn {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind Coop stand-in");
        let addr = listener.local_addr().expect("address");
        let (tx, rx) = watch::channel(0);
        let shared = Shared::default();
        *shared.received.lock().unwrap() = Some(tx);
        let app = Router::new()
            .route("/api/v1/items/async/", post(submit_items))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            shared,
            received: rx,
        }
    }

    /// Every item received, in order, counting repeats.
    pub fn items(&self) -> Vec<Value> {
        self.shared.items.lock().unwrap().clone()
    }

    /// Requests refused (bad key or invalid items).
    pub fn refused(&self) -> usize {
        *self.shared.refused.lock().unwrap()
    }

    /// Waits until at least `n` items have arrived.
    pub async fn wait_for_items(&self, n: usize) {
        let mut rx = self.received.clone();
        tokio::time::timeout(crate::LONG, rx.wait_for(|got| *got >= n))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {n} items at Coop"))
            .expect("stand-in alive");
    }
}

/// `Coop-Signature` for `body`, under the test signing key.
pub fn sign(body: &[u8]) -> String {
    let pem = std::fs::read(SIGNING_KEY).expect("read the test signing key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("signing key");
    let sig = jsonwebtoken::crypto::sign(body, &key, jsonwebtoken::Algorithm::RS256).expect("sign");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("base64url");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// An action callback as Coop sends one for `item_id`.
pub fn action_callback(item_id: &str, action: &str, policies: &[(&str, &str)]) -> String {
    json!({
        "item": { "id": item_id, "typeId": ITEM_TYPE, "typeName": "Takedown referral" },
        "action": { "id": action },
        "policies": policies.iter().map(|(id, name)| json!({"id": id, "name": name, "penalty": "HIGH"})).collect::<Vec<_>>(),
        "rules": [],
        "custom": {},
        "actorEmail": "moderator@platform.example",
        "decisionReason": "reviewed",
    })
    .to_string()
}

/// POSTs `body` to the sidecar's callback endpoint with `signature` (none when `None`);
/// the HTTP status and body.
pub async fn post_callback(port: u16, body: &str, signature: Option<&str>) -> (u16, String) {
    let sig = signature
        .map(|s| format!("coop-signature: {s}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /v1/coop/actions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{sig}connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the sidecar");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(crate::LONG, s.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}
