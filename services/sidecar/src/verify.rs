//! End-to-end verification of a delivery batch, target by target, without trusting the hub.
//!
//! For each referral of a takedown: the list's JWS verifies under the agency key its `kid`
//! names in the newest coordinator-signed key-set statement (authorship and audience; not
//! the token's validity window, which ended long before H-hour), the key is the issuer's
//! and was usable when the list was signed (not retired before, not compromised since:
//! [`KeySet::check_use`], the rule the hub's intake applies too), the claims match the batch's
//! `ListSignature`, the item is in the signed Merkle root at its index, and the decoded
//! referral names this platform, this normalized target and an agency of the delivery.
//! List signature checks are cached per (list id, JWS), so a list is checked once.
//!
//! Pure functions over a key snapshot: no I/O, run on a blocking thread.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use prost::Message;
use takedown_protocol::{
    ident::PlatformName,
    merkle::{self, Hash},
    pb, signing, target,
};

use takedown_protocol::keyset::KeySet;

use crate::document::{self, HandoffReferral, HandoffTarget, Kind};

/// A list signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedList {
    pub agency_id: String,
    pub kid: String,
    /// The signature's `iat`, Unix seconds: when the agency says it signed.
    pub signed_at: i64,
    pub item_count: u64,
    pub root: Hash,
}

type CacheKey = (String, String);
/// Entries and their insertion order.
type CacheInner = (HashMap<CacheKey, VerifiedList>, VecDeque<CacheKey>);

/// Verified list signatures, bounded, oldest evicted first.
pub struct SignatureCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

impl SignatureCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    fn get(&self, list_id: &str, jws: &str) -> Option<VerifiedList> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(&(list_id.to_string(), jws.to_string())).cloned()
    }

    fn put(&self, list_id: &str, jws: &str, v: VerifiedList) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (list_id.to_string(), jws.to_string());
        if g.0.insert(key.clone(), v).is_none() {
            g.1.push_back(key);
        }
        while g.1.len() > self.capacity {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What verification makes of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Good; withdrawals still need the target to be held already.
    Accept(Box<HandoffTarget>),
    Reject {
        delivery_id: String,
        reason: String,
    },
}

/// The key ids the batch's list signatures name (malformed ones are left to [`check`]).
pub fn kids_of(req: &pb::DeliverRequest) -> Vec<String> {
    let mut kids: Vec<String> = req
        .lists
        .iter()
        .filter_map(|l| signing::key_id(&l.jws).ok())
        .collect();
    kids.sort();
    kids.dedup();
    kids
}

/// Everything verification needs besides the batch.
pub struct Context<'a> {
    pub platform: &'a PlatformName,
    pub audience: &'a str,
    /// The newest key-set statement; `None` only for batches of withdrawals alone.
    pub keys: Option<&'a KeySet>,
    pub cache: &'a SignatureCache,
    pub now_ms: i64,
}

/// Checks one list signature (cached when good); the key's state is checked on every use.
fn check_list(ctx: &Context<'_>, ls: &pb::ListSignature) -> Result<VerifiedList, String> {
    let v = match ctx.cache.get(&ls.list_id, &ls.jws) {
        // The claims were checked against the batch's fields when cached; a later batch
        // may carry the same JWS with other fields.
        Some(v) if v.agency_id == ls.agency_id && v.item_count == ls.item_count => v,
        Some(_) => {
            return Err(format!(
                "list {}: agency or item count differ from the signed claims",
                ls.list_id
            ));
        }
        None => {
            let v = verify_list(ctx, ls)?;
            ctx.cache.put(&ls.list_id, &ls.jws, v.clone());
            v
        }
    };
    let keys = ctx
        .keys
        .ok_or_else(|| format!("list {}: no key-set statement is held", ls.list_id))?;
    keys.check_use(&v.kid, &v.agency_id, v.signed_at)
        .map_err(|e| format!("list {}: {e}", ls.list_id))?;
    Ok(v)
}

fn verify_list(ctx: &Context<'_>, ls: &pb::ListSignature) -> Result<VerifiedList, String> {
    let list = &ls.list_id;
    let kid = signing::key_id(&ls.jws).map_err(|e| format!("list {list}: {e}"))?;
    let key = ctx.keys.and_then(|k| k.key(&kid)).ok_or_else(|| {
        format!("list {list}: signing key {kid:?} is not in the coordinator's key-set statement")
    })?;
    let claims = signing::verify_authorship(&ls.jws, key.public_key_pem.as_bytes(), ctx.audience)
        .map_err(|e| format!("list {list}: {e}"))?;
    if claims.iss != ls.agency_id || claims.iss != key.agency_id {
        return Err(format!(
            "list {list}: issuer {:?} does not match agency {:?} and key owner {:?}",
            claims.iss, ls.agency_id, key.agency_id
        ));
    }
    if claims.jti != *list {
        return Err(format!(
            "list {list}: signature is for list {:?}",
            claims.jti
        ));
    }
    if claims.item_count != ls.item_count {
        return Err(format!(
            "list {list}: signed item count {} differs from {}",
            claims.item_count, ls.item_count
        ));
    }
    let root = claims
        .root()
        .ok_or_else(|| format!("list {list}: merkle_root claim is not 64 hex digits"))?;
    Ok(VerifiedList {
        agency_id: claims.iss,
        kid,
        signed_at: claims.iat,
        item_count: claims.item_count,
        root,
    })
}

/// Checks one referral of a delivery of `normalized` on this platform.
fn check_referral(
    ctx: &Context<'_>,
    lists: &HashMap<&str, Result<&pb::ListSignature, String>>,
    d: &pb::TargetDelivery,
    i: usize,
    ev: &pb::ReferralEvidence,
) -> Result<HandoffReferral, String> {
    let at = |msg: String| format!("referral {i}: {msg}");
    let ls = match lists.get(ev.list_id.as_str()) {
        Some(Ok(ls)) => *ls,
        Some(Err(e)) => return Err(at(e.clone())),
        None => return Err(at(format!("list {} is not in the batch", ev.list_id))),
    };
    let v = check_list(ctx, ls).map_err(at)?;
    let proof: Vec<Hash> = merkle::unpack_path(&ev.audit_path)
        .ok_or_else(|| at("inclusion proof length is not a multiple of 32 bytes".into()))?;
    if !merkle::verify_inclusion(
        ev.item_index,
        v.item_count,
        &merkle::leaf_hash(&ev.item),
        &proof,
        &v.root,
    ) {
        return Err(at(format!(
            "inclusion proof of item {} in list {} does not verify",
            ev.item_index, ev.list_id
        )));
    }
    let r = pb::Referral::decode(ev.item.as_slice())
        .map_err(|e| at(format!("item is not a Referral: {e}")))?;
    let item_platform =
        PlatformName::parse(&r.platform).map_err(|e| at(format!("item platform: {e}")))?;
    if &item_platform != ctx.platform {
        return Err(at(format!(
            "item is for platform {item_platform}, not {}",
            ctx.platform
        )));
    }
    let norm = target::normalize(ctx.platform.as_str(), &r.target)
        .map_err(|e| at(format!("item target: {e}")))?;
    if norm.as_str() != d.normalized_target {
        return Err(at(format!(
            "item target {:?} normalizes to {:?}, not {:?}",
            r.target,
            norm.as_str(),
            d.normalized_target
        )));
    }
    if !d.agencies.contains(&v.agency_id) {
        return Err(at(format!(
            "agency {} is not among the delivery's agencies",
            v.agency_id
        )));
    }
    Ok(HandoffReferral {
        agency_id: v.agency_id,
        list_id: ev.list_id.clone(),
        item_index: ev.item_index,
        target_kind: document::target_kind_name(r.kind),
        target: r.target,
        category: r.category,
        legal_basis: document::legal_basis_name(r.legal_basis),
        removal_order_ref: document::non_empty(&r.removal_order_ref),
        evidence_sha256: (!r.evidence_sha256.is_empty()).then(|| hex::encode(&r.evidence_sha256)),
        note: document::non_empty(&r.note),
        removal_order: r
            .removal_order
            .as_ref()
            .map(document::RemovalOrderDocument::from_pb),
    })
}

fn check_delivery(
    ctx: &Context<'_>,
    request_platform: &Result<PlatformName, String>,
    lists: &HashMap<&str, Result<&pb::ListSignature, String>>,
    d: &pb::TargetDelivery,
) -> Result<HandoffTarget, String> {
    match request_platform {
        Ok(p) if p == ctx.platform => {}
        Ok(p) => return Err(format!("batch is for platform {p}, not {}", ctx.platform)),
        Err(e) => return Err(format!("batch platform: {e}")),
    }
    let platform = PlatformName::parse(&d.platform).map_err(|e| format!("platform: {e}"))?;
    if &platform != ctx.platform {
        return Err(format!(
            "target is for platform {platform}, not {}",
            ctx.platform
        ));
    }
    if d.target_id.is_empty() {
        return Err("target_id is empty".into());
    }
    let kind = match pb::DeliveryKind::try_from(d.kind) {
        Ok(pb::DeliveryKind::Takedown) => Kind::Takedown,
        Ok(pb::DeliveryKind::Withdrawal) => Kind::Withdrawal,
        _ => {
            return Err(format!(
                "delivery kind {} is not TAKEDOWN or WITHDRAWAL",
                d.kind
            ));
        }
    };
    let referrals = match kind {
        Kind::Takedown => {
            if d.referrals.is_empty() {
                return Err("takedown carries no referral".into());
            }
            d.referrals
                .iter()
                .enumerate()
                .map(|(i, ev)| check_referral(ctx, lists, d, i, ev))
                .collect::<Result<Vec<_>, _>>()?
        }
        // A withdrawal needs no evidence: it can only restore a target already held.
        Kind::Withdrawal => Vec::new(),
    };
    Ok(HandoffTarget {
        idempotency_key: document::idempotency_key(&d.target_id, kind),
        target_id: d.target_id.clone(),
        delivery_id: d.delivery_id.clone(),
        kind,
        target_kind: document::target_kind_name(d.target_kind),
        normalized_target: d.normalized_target.clone(),
        original_target: d.original_target.clone(),
        category: d.category.clone(),
        legal_basis: document::legal_basis_name(d.legal_basis),
        removal_order_ref: document::non_empty(&d.removal_order_ref),
        action_day_id: d.action_day_id.clone().filter(|s| !s.is_empty()),
        withdrawal_reason: document::non_empty(&d.withdrawal_reason),
        agencies: d.agencies.clone(),
        received_at: document::rfc3339(ctx.now_ms),
        referrals,
    })
}

/// Verifies every delivery of `req` on its own; the verdicts are in delivery order.
pub fn check(ctx: &Context<'_>, req: &pb::DeliverRequest) -> Vec<Verdict> {
    let request_platform = PlatformName::parse(&req.platform).map_err(|e| e.to_string());
    // A list id carried twice with different content is ambiguous: refuse its referrals.
    let mut lists: HashMap<&str, Result<&pb::ListSignature, String>> = HashMap::new();
    for ls in &req.lists {
        match lists.get(ls.list_id.as_str()) {
            None => {
                lists.insert(ls.list_id.as_str(), Ok(ls));
            }
            Some(Ok(prev)) if *prev == ls => {}
            Some(_) => {
                lists.insert(
                    ls.list_id.as_str(),
                    Err(format!(
                        "list {} is carried twice with different signatures",
                        ls.list_id
                    )),
                );
            }
        }
    }
    req.deliveries
        .iter()
        .map(
            |d| match check_delivery(ctx, &request_platform, &lists, d) {
                Ok(t) => Verdict::Accept(Box::new(t)),
                Err(reason) => Verdict::Reject {
                    delivery_id: d.delivery_id.clone(),
                    reason,
                },
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_cache_is_bounded() {
        let c = SignatureCache::new(2);
        let v = VerifiedList {
            agency_id: "a".into(),
            kid: "k".into(),
            signed_at: 0,
            item_count: 1,
            root: [0; 32],
        };
        c.put("l1", "j", v.clone());
        c.put("l2", "j", v.clone());
        c.put("l3", "j", v.clone());
        assert_eq!(c.len(), 2);
        assert!(c.get("l1", "j").is_none());
        assert_eq!(c.get("l3", "j"), Some(v));
        assert!(c.get("l3", "other").is_none());
    }
}
