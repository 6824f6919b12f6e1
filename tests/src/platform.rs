//! A platform's webhook receiver as a real platform would run one: it records every batch
//! it receives (what the platform saw, not what the sidecar thinks it sent), takes its
//! time before answering, and applies each target once by the batch's idempotency keys.
//! Tests count duplicates here.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use tokio::sync::watch;

/// The secret the test sidecars and this receiver share (Standard Webhooks).
pub const WEBHOOK_SECRET: &str = "whsec_dGFrZWRvd24gdGVzdCBzZWNyZXQ6IDMyIGJ5dGVzISE=";

/// One POST as the platform received it.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The batch's `handoff_id` (the body's; the header must agree).
    pub handoff_id: String,
    /// The `Idempotency-Key` header, if sent.
    pub header_key: Option<String>,
    /// The Standard Webhooks signature verified under [`WEBHOOK_SECRET`], and its
    /// `webhook-id` was the batch id.
    pub signed: bool,
    /// Each target's `idempotency_key` in order (`None` where a target lacks one).
    pub keys: Vec<Option<String>>,
    /// Each target's `(target_id, kind)` in order.
    pub targets: Vec<(String, String)>,
}

#[derive(Default)]
struct Record {
    receipts: Vec<Receipt>,
}

#[derive(Clone)]
struct Shared {
    record: Arc<Mutex<Record>>,
    received: watch::Sender<usize>,
    delay: Duration,
}

/// The receiver; dropping it stops nothing (the server lives as long as the test).
pub struct RecordingPlatform {
    pub url: String,
    shared: Shared,
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> &'static str {
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let str_of =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let targets = doc
        .get("targets")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default();
    let handoff_id = str_of(&doc, "handoff_id").unwrap_or_default();
    let signed = standardwebhooks::Webhook::new(WEBHOOK_SECRET)
        .expect("secret")
        .verify(&body, &headers)
        .is_ok()
        && headers
            .get(standardwebhooks::HEADER_WEBHOOK_ID)
            .and_then(|v| v.to_str().ok())
            == Some(handoff_id.as_str());
    let receipt = Receipt {
        signed,
        handoff_id,
        header_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        keys: targets
            .iter()
            .map(|t| str_of(t, "idempotency_key"))
            .collect(),
        targets: targets
            .iter()
            .map(|t| {
                (
                    str_of(t, "target_id").unwrap_or_default(),
                    str_of(t, "kind").unwrap_or_default(),
                )
            })
            .collect(),
    };
    let n = {
        let mut r = s.record.lock().unwrap();
        r.receipts.push(receipt);
        r.receipts.len()
    };
    s.received.send_replace(n);
    // The platform takes its time to queue the batch before it answers.
    tokio::time::sleep(s.delay).await;
    "received"
}

impl RecordingPlatform {
    /// Listens on 127.0.0.1; each POST is answered `delay` after it arrived.
    pub async fn start(delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind platform receiver");
        let addr = listener.local_addr().expect("receiver address");
        let shared = Shared {
            record: Arc::default(),
            received: watch::channel(0).0,
            delay,
        };
        let app = Router::new()
            .route("/handoffs", post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/handoffs"),
            shared,
        }
    }

    /// Every POST so far, in order of arrival.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.shared.record.lock().unwrap().receipts.clone()
    }

    /// Waits until more than `n` POSTs have arrived.
    pub async fn wait_for_receipt(&self, n: usize) {
        let mut rx = self.shared.received.subscribe();
        tokio::time::timeout(crate::LONG, rx.wait_for(|got| *got > n))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for POST number {}", n + 1))
            .expect("receiver alive");
    }

    /// What the platform saw, checked: see [`Seen`].
    pub fn seen(&self) -> Seen {
        Seen::of(&self.receipts())
    }
}

/// What a platform that deduplicates on the documented keys makes of its receipts.
#[derive(Debug, Default)]
pub struct Seen {
    /// POSTs received.
    pub posts: usize,
    /// Targets received, counting repeats.
    pub received: usize,
    /// Targets applied: distinct idempotency keys (a target without a key counts by its
    /// `(target_id, kind)`).
    pub applied: usize,
    /// Batches received more than once (the same `handoff_id` again).
    pub repeated_batches: usize,
    /// Targets whose key arrived in two different batches: a platform deduplicating on
    /// the batch id would apply these twice.
    pub in_two_batches: Vec<String>,
    /// Batches whose repeat did not carry the same members in the same order.
    pub changed_on_retry: Vec<String>,
    /// Targets that arrived without an `idempotency_key`.
    pub without_key: usize,
    /// POSTs whose `Idempotency-Key` header is missing or differs from the body's batch id.
    pub bad_header: usize,
    /// POSTs without a valid signature naming the batch id as `webhook-id`.
    pub unsigned: usize,
}

impl Seen {
    fn of(receipts: &[Receipt]) -> Self {
        let mut seen = Self {
            posts: receipts.len(),
            ..Self::default()
        };
        let mut batches: HashMap<&str, &Receipt> = HashMap::new();
        let mut batch_of_key: BTreeMap<String, &str> = BTreeMap::new();
        for r in receipts {
            seen.received += r.targets.len();
            if r.header_key.as_deref() != Some(r.handoff_id.as_str()) {
                seen.bad_header += 1;
            }
            if !r.signed {
                seen.unsigned += 1;
            }
            if let Some(first) = batches.get(r.handoff_id.as_str()) {
                seen.repeated_batches += 1;
                if first.targets != r.targets || first.keys != r.keys {
                    seen.changed_on_retry.push(r.handoff_id.clone());
                }
            } else {
                batches.insert(&r.handoff_id, r);
            }
            for (key, (target, kind)) in r.keys.iter().zip(&r.targets) {
                let key = match key {
                    Some(k) => k.clone(),
                    None => {
                        seen.without_key += 1;
                        format!("{target}:{kind}")
                    }
                };
                match batch_of_key.get(&key) {
                    Some(b) if *b != r.handoff_id => seen.in_two_batches.push(key),
                    Some(_) => {}
                    None => {
                        batch_of_key.insert(key, &r.handoff_id);
                    }
                }
            }
        }
        seen.applied = batch_of_key.len();
        seen
    }
}
