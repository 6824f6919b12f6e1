//! The delivery reference line: raw tonic throughput. Five minimal `ReceiverService` servers
//! (plain tonic, the same mTLS) accept every delivery; a client acting as the hub streams
//! the same payloads the hub sends (batches of the hub's `batch_size`, each target with its
//! referral's exact item bytes and Merkle proof, each list's signature once per batch) to
//! the five receivers concurrently, with the hub's `max_in_flight` batches per receiver.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use prost::Message;
use takedown_net::TlsMaterial;
use takedown_protocol::list::SignedList;
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    merkle,
    pb::{
        self,
        receiver_service_client::ReceiverServiceClient,
        receiver_service_server::{ReceiverService, ReceiverServiceServer},
    },
    target::normalize,
};
use takedown_tests::pki::TestPki;
use tokio_stream::wrappers::TcpListenerStream;
pub(crate) use tokio_util_shim::CancelOnDrop;
use tonic::{Request, Response, Status};

use crate::lists::PLATFORMS;

const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Accepts everything.
struct Accept;

#[tonic::async_trait]
impl ReceiverService for Accept {
    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(pb::DeliverResponse {
            accepted: req.deliveries.into_iter().map(|d| d.delivery_id).collect(),
            rejected: vec![],
        }))
    }
}

/// The Deliver requests per platform, in the hub's shape.
pub fn payloads(
    lists: &[SignedList],
    day: &str,
    batch_size: usize,
) -> Result<BTreeMap<String, Vec<pb::DeliverRequest>>> {
    let mut per: BTreeMap<String, Vec<(pb::ListSignature, pb::TargetDelivery)>> = BTreeMap::new();
    let mut next_id = 0u64;
    for s in lists {
        let list = pb::ReferralList::decode(s.list.as_slice())?;
        let tree = merkle::Tree::from_items(&list.items);
        let sig = pb::ListSignature {
            list_id: list.list_id.clone(),
            agency_id: list.agency_id.clone(),
            jws: s.signature.clone(),
            item_count: list.items.len() as u64,
        };
        for (i, item) in list.items.iter().enumerate() {
            let r = pb::Referral::decode(item.as_slice())?;
            let audit_path = tree.packed_proof(i).context("proof")?;
            next_id += 1;
            let d = pb::TargetDelivery {
                delivery_id: next_id.to_string(),
                kind: pb::DeliveryKind::Takedown as i32,
                target_id: next_id.to_string(),
                platform: r.platform.clone(),
                target_kind: r.kind,
                normalized_target: normalize(&r.platform, &r.target)?.into_string(),
                original_target: r.target.clone(),
                category: r.category.clone(),
                legal_basis: r.legal_basis,
                removal_order_ref: r.removal_order_ref.clone(),
                agencies: vec![list.agency_id.clone()],
                referrals: vec![pb::ReferralEvidence {
                    list_id: list.list_id.clone(),
                    item_index: i as u64,
                    item: item.clone(),
                    audit_path,
                }],
                withdrawal_reason: String::new(),
                action_day_id: Some(day.to_string()),
            };
            per.entry(r.platform).or_default().push((sig.clone(), d));
        }
    }
    let mut out = BTreeMap::new();
    for (platform, items) in per {
        let mut batches = Vec::new();
        for (n, chunk) in items.chunks(batch_size.max(1)).enumerate() {
            let mut sigs: BTreeMap<String, pb::ListSignature> = BTreeMap::new();
            for (s, _) in chunk {
                sigs.entry(s.list_id.clone()).or_insert_with(|| s.clone());
            }
            batches.push(pb::DeliverRequest {
                batch_id: format!("{platform}-{n}"),
                platform: platform.clone(),
                lists: sigs.into_values().collect(),
                deliveries: chunk.iter().map(|(_, d)| d.clone()).collect(),
            });
        }
        out.insert(platform, batches);
    }
    Ok(out)
}

/// One run: starts the five receivers, streams every batch, returns the time from the
/// first send to the last answer and the number of accepted deliveries.
pub async fn run(
    pki: &TestPki,
    payloads: &BTreeMap<String, Vec<pb::DeliverRequest>>,
    in_flight: usize,
) -> Result<(Duration, usize)> {
    let hub = pki.material("hub");
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for p in PLATFORMS {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let m = pki.material(p);
        let server = tonic::transport::Server::builder()
            .tls_config(takedown_net::server_tls(&m))?
            .add_service(ReceiverServiceServer::new(Accept).max_decoding_message_size(MAX_MESSAGE))
            .serve_with_incoming(TcpListenerStream::new(listener));
        servers.push(CancelOnDrop(tokio::spawn(server)));
        clients.push((p, client(&hub, p, addr).await?));
    }
    let start = Instant::now();
    let sends = clients.into_iter().map(|(p, c)| {
        let batches = payloads.get(p).cloned().unwrap_or_default();
        async move {
            let mut accepted = 0usize;
            let mut answers = stream::iter(batches.into_iter().map(|b| {
                let mut c = c.clone();
                async move { c.deliver(b).await }
            }))
            .buffer_unordered(in_flight.max(1));
            while let Some(a) = answers.next().await {
                accepted += a.context("Deliver")?.into_inner().accepted.len();
            }
            anyhow::Ok(accepted)
        }
    });
    let results = futures::future::join_all(sends).await;
    let took = start.elapsed();
    let mut total = 0;
    for r in results {
        total += r?;
    }
    drop(servers);
    Ok((took, total))
}

pub(crate) async fn client(
    hub: &TlsMaterial,
    platform: &str,
    addr: std::net::SocketAddr,
) -> Result<ReceiverServiceClient<tonic::transport::Channel>> {
    let expect = Identity::new(IdentityRole::Platform, OrgId::parse(platform)?);
    let ch = takedown_net::connect(
        &format!("https://127.0.0.1:{}", addr.port()),
        hub,
        Some(expect),
    )
    .await
    .with_context(|| format!("connecting to the raw {platform} receiver"))?;
    Ok(ReceiverServiceClient::new(ch)
        .max_encoding_message_size(MAX_MESSAGE)
        .max_decoding_message_size(MAX_MESSAGE))
}

/// Aborts a spawned task when dropped.
mod tokio_util_shim {
    pub struct CancelOnDrop<T>(pub tokio::task::JoinHandle<T>);
    impl<T> Drop for CancelOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}
