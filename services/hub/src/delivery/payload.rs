//! What a platform receives: its targets, each referral's exact item bytes with a Merkle
//! inclusion proof, and each list's signature once per batch. Nothing about other platforms'
//! targets travels: proofs carry only sibling hashes.
//!
//! A WITHDRAWAL carries the target's facts and the withdrawal reason, and no referrals:
//! the sidecar restores only a target it already holds.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use takedown_protocol::{keyset::KeySet, merkle, pb, signing};
use takedown_store::{
    ClaimedDelivery, DeliveryId, DeliveryKind, ListId, ListProofMaterial, OrgId, Store,
    StoreResult, TargetId, TargetPayload,
};

use crate::public_id::PublicIds;

/// A list's signature and Merkle tree, kept for proofs.
pub struct ListProof {
    pub signature: pb::ListSignature,
    pub tree: merkle::Tree,
    /// The signing key and the signature's `iat` (Unix seconds), to judge the key's state
    /// at delivery as every sidecar will.
    pub kid: String,
    pub signed_at: i64,
}

/// A bounded cache of list trees (bounded by their total number of leaves), so that a
/// 100 000-item list's tree is built once, not once per batch.
pub struct TreeCache {
    max_leaves: usize,
    inner: Mutex<CacheInner>,
    /// Held while warming, so that workers warming for the same H-hour build each tree
    /// once.
    warming: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<ListId, Arc<ListProof>>,
    order: VecDeque<ListId>,
    leaves: usize,
}

impl TreeCache {
    pub fn new(max_leaves: usize) -> Self {
        Self {
            max_leaves,
            inner: Mutex::new(CacheInner::default()),
            warming: tokio::sync::Mutex::new(()),
        }
    }

    fn get(&self, list_id: &str) -> Option<Arc<ListProof>> {
        self.inner
            .lock()
            .expect("tree cache lock")
            .map
            .get(list_id)
            .cloned()
    }

    fn insert(&self, list_id: ListId, proof: Arc<ListProof>) {
        let mut c = self.inner.lock().expect("tree cache lock");
        if c.map.contains_key(&list_id) {
            return;
        }
        c.leaves += proof.tree.len();
        c.map.insert(list_id.clone(), proof);
        c.order.push_back(list_id);
        while c.leaves > self.max_leaves && c.order.len() > 1 {
            if let Some(p) = c.order.pop_front().and_then(|old| c.map.remove(&old)) {
                c.leaves -= p.tree.len();
            }
        }
    }

    /// Builds the trees of the lists due at `at` ahead of time (an H-hour), so that the
    /// first batches after it need no tree building. Returns how many lists are cached.
    pub async fn warm<S: Store>(&self, store: &S, at: i64) -> StoreResult<usize> {
        let _one_at_a_time = self.warming.lock().await;
        let ids = store.lists_due_at(at).await?;
        // At most 64 lists: the cache evicts its oldest trees when full, and a day of very
        // many lists must not push out trees that batches are using.
        let ids: Vec<ListId> = ids.into_iter().take(64).collect();
        Ok(self.load(store, &ids).await?.len())
    }

    /// The proofs of these lists, loading the missing ones in one store call.
    async fn load<S: Store>(
        &self,
        store: &S,
        list_ids: &[ListId],
    ) -> StoreResult<HashMap<ListId, Arc<ListProof>>> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for id in list_ids {
            match self.get(id) {
                Some(p) => {
                    out.insert(id.clone(), p);
                }
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            let materials = store.list_proof_material(&missing).await?;
            let built = tokio::task::spawn_blocking(move || {
                materials.into_iter().map(build_proof).collect::<Vec<_>>()
            })
            .await
            .map_err(|e| takedown_store::StoreError::NotFound(format!("proof builder: {e}")))?;
            for (list_id, p) in built {
                let p = Arc::new(p);
                self.insert(list_id.clone(), p.clone());
                out.insert(list_id, p);
            }
        }
        Ok(out)
    }
}

/// A WITHDRAWAL: the target's facts and the reason, no referrals.
fn withdrawal(
    c: &ClaimedDelivery,
    p: &TargetPayload,
    reason: &str,
    ids: &PublicIds,
) -> pb::TargetDelivery {
    pb::TargetDelivery {
        delivery_id: ids.delivery(c.id),
        kind: pb::DeliveryKind::Withdrawal as i32,
        target_id: ids.target(p.target_id),
        platform: p.platform.to_string(),
        target_kind: p.kind as i32,
        normalized_target: p.normalized.clone(),
        original_target: p.original.clone(),
        category: p.category.clone(),
        legal_basis: p.legal_basis as i32,
        removal_order_ref: p.removal_order_ref.clone(),
        agencies: Vec::new(),
        referrals: Vec::new(),
        withdrawal_reason: reason.to_string(),
        action_day_id: p.action_day_id.as_ref().map(String::from),
    }
}

/// A list's proof material as its cached proof, under its id.
fn build_proof(m: ListProofMaterial) -> (ListId, ListProof) {
    // Sized up front: collected from a filtering iterator, the leaves would keep up to
    // twice their size in spare capacity for as long as the tree is cached.
    let mut leaves = Vec::with_capacity(m.leaf_hashes.len() / 32);
    leaves.extend(
        m.leaf_hashes
            .chunks_exact(32)
            .filter_map(merkle::hash_from_slice),
    );
    // Verified at intake; read again only for the key and the signing time.
    let kid = signing::key_id(&m.jws).unwrap_or_default();
    let signed_at = signing::peek_claims(&m.jws).map_or(i64::MAX, |c| c.iat);
    let proof = ListProof {
        signature: pb::ListSignature {
            list_id: m.list_id.to_string(),
            agency_id: m.agency_id.into(),
            jws: m.jws,
            item_count: u64::from(m.item_count),
        },
        tree: merkle::Tree::from_leaves(leaves),
        kid,
        signed_at,
    };
    (m.list_id, proof)
}

/// Why a claimed delivery is not sent (the caller fails it with this reason).
pub const NO_REFERRAL: &str = "no deliverable referral for this target";
pub const VOID_KEY: &str = "every referral of this target was signed with a key the coordinator declared \
     compromised (or retired) by then: void at every sidecar, so not delivered";

/// Builds the Deliver request for claimed deliveries. Deliveries not sent are returned
/// separately with the reason (they are failed by the caller): a target that could not be
/// loaded, and one whose every referral was signed with a key `keys` says was not usable
/// then (`KeySet::check_use`, as every sidecar judges it: a void referral is left out).
pub async fn build<S: Store>(
    store: &S,
    cache: &TreeCache,
    keys: Option<&KeySet>,
    ids: &PublicIds,
    platform: &str,
    batch_id: &str,
    claimed: &[ClaimedDelivery],
) -> StoreResult<(pb::DeliverRequest, Vec<(DeliveryId, &'static str)>)> {
    let takedowns: Vec<TargetId> = claimed
        .iter()
        .filter(|c| c.kind == DeliveryKind::Takedown)
        .map(|c| c.target_id)
        .collect();
    let withdrawals: Vec<TargetId> = claimed
        .iter()
        .filter(|c| c.kind == DeliveryKind::Withdrawal)
        .map(|c| c.target_id)
        .collect();
    let payloads = store.delivery_payloads(&takedowns).await?;
    let mut withdrawn: HashMap<TargetId, (TargetPayload, String)> = HashMap::new();
    if !withdrawals.is_empty() {
        let reasons: HashMap<TargetId, String> = store
            .withdrawal_reasons(&withdrawals)
            .await?
            .into_iter()
            .collect();
        // Target facts only: a withdrawal carries no evidence.
        for mut f in store.delivery_payloads(&withdrawals).await? {
            f.referrals.clear();
            if let Some(r) = reasons.get(&f.target_id) {
                withdrawn.insert(f.target_id, (f, r.clone()));
            }
        }
    }
    let list_ids: Vec<ListId> = payloads
        .iter()
        .flat_map(|p| p.referrals.iter().map(|r| r.list_id.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let proofs = cache.load(store, &list_ids).await?;
    // Each payload is moved into its delivery (a takedown is claimed at most once per
    // batch: one delivery per target and kind), so the batch is held once, not twice.
    let mut by_target: HashMap<TargetId, TargetPayload> =
        payloads.into_iter().map(|p| (p.target_id, p)).collect();

    let mut lists: BTreeMap<ListId, pb::ListSignature> = BTreeMap::new();
    let mut deliveries = Vec::with_capacity(claimed.len());
    let mut unusable = Vec::new();
    for c in claimed {
        if c.kind == DeliveryKind::Withdrawal {
            match withdrawn.get(&c.target_id) {
                Some((p, reason)) => deliveries.push(withdrawal(c, p, reason, ids)),
                None => unusable.push((c.id, NO_REFERRAL)),
            }
            continue;
        }
        let Some(p) = by_target
            .remove(&c.target_id)
            .filter(|_| c.kind == DeliveryKind::Takedown)
        else {
            unusable.push((c.id, NO_REFERRAL));
            continue;
        };
        let mut agencies: Vec<OrgId> = Vec::new();
        let mut referrals = Vec::with_capacity(p.referrals.len());
        let mut void = 0;
        for r in p.referrals {
            let Some(lp) = proofs.get(&r.list_id) else {
                continue;
            };
            if keys.is_some_and(|k| k.check_use(&lp.kid, &r.agency_id, lp.signed_at).is_err()) {
                void += 1;
                continue;
            }
            let Some(audit_path) = lp.tree.packed_proof(r.item_index as usize) else {
                continue;
            };
            if !lists.contains_key(&r.list_id) {
                lists.insert(r.list_id.clone(), lp.signature.clone());
            }
            if !agencies.contains(&r.agency_id) {
                agencies.push(r.agency_id);
            }
            referrals.push(pb::ReferralEvidence {
                list_id: r.list_id.into(),
                item_index: u64::from(r.item_index),
                item: r.item,
                audit_path,
            });
        }
        if referrals.is_empty() {
            unusable.push((c.id, if void > 0 { VOID_KEY } else { NO_REFERRAL }));
            continue;
        }
        agencies.sort();
        deliveries.push(pb::TargetDelivery {
            delivery_id: ids.delivery(c.id),
            kind: pb::DeliveryKind::Takedown as i32,
            target_id: ids.target(p.target_id),
            platform: p.platform.into(),
            target_kind: p.kind as i32,
            normalized_target: p.normalized,
            original_target: p.original,
            category: p.category,
            legal_basis: p.legal_basis as i32,
            removal_order_ref: p.removal_order_ref,
            agencies: agencies.into_iter().map(String::from).collect(),
            referrals,
            withdrawal_reason: String::new(),
            action_day_id: p.action_day_id.map(String::from),
        });
    }
    Ok((
        pb::DeliverRequest {
            batch_id: batch_id.to_string(),
            platform: platform.to_string(),
            lists: lists.into_values().collect(),
            deliveries,
        },
        unusable,
    ))
}
