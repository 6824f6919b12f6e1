//! Intake of a signed referral list: every check, then one store transaction.
//!
//! Checks, in order: size, decoding, item count, the caller is the list's agency, the
//! signing key (in the newest key-set statement, the caller's, usable when the list was
//! signed), the JWS (signature, audience, validity
//! window, lifetime), the claims against the list (issuer, list id, action day, item count,
//! Merkle root), the action day (open, the agency and each item's platform take part), and
//! each item (decodes, known platform, kind, target normalizes, legal basis, a removal
//! order's Annex I content: [`removal_order::check`]). Any failure
//! refuses the list whole; nothing is stored.

use std::collections::HashSet;

use prost::Message;
use sha2::{Digest, Sha256};
use takedown_protocol::{
    ident::PlatformName,
    keyset::{KeySet, KeyUseError},
    merkle,
    pb::{self, LegalBasis, TargetKind},
    removal_order, signing, target, timestamp,
};
use takedown_store::{
    ActionDayId, IntakeResult, IntakeSummary, ListId, NewList, NewReferral, RemovalOrderFacts,
    Store,
};

use crate::{
    auth::Caller,
    config::Limits,
    error::{ApiError, ApiResult},
    public_id::PublicIds,
};

/// What intake needs besides the store.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub audience: String,
    pub limits: Limits,
}

/// Verifies and stores a list; returns the answer (the same for an identical resubmission).
#[tracing::instrument(skip_all, fields(agency = %caller.id, list_id, items))]
pub async fn submit<S: Store>(
    store: &S,
    cfg: &IntakeConfig,
    keys: Option<&KeySet>,
    ids: &PublicIds,
    caller: &Caller,
    req: pb::SubmitReferralListRequest,
    now_ms: i64,
) -> ApiResult<pb::SubmitReferralListResponse> {
    let limits = &cfg.limits;
    if req.list.len() > limits.max_list_bytes {
        return Err(ApiError::ResourceExhausted(format!(
            "list is {} bytes; the limit is {} bytes",
            req.list.len(),
            limits.max_list_bytes
        )));
    }
    let list = pb::ReferralList::decode(req.list.as_slice())
        .map_err(|e| ApiError::invalid("list", format!("list does not decode: {e}")))?;
    // The encoded list is not kept beside its decoded items: only its digest is stored.
    let content_sha256 = Sha256::digest(&req.list).to_vec();
    let signature = req.signature;
    drop(req.list);
    let span = tracing::Span::current();
    span.record("list_id", list.list_id.as_str());
    span.record("items", list.items.len());
    let list_id: ListId = ApiError::parse_id("list.list_id", &list.list_id)?;
    if list.items.is_empty() {
        return Err(ApiError::invalid("list.items", "list is empty"));
    }
    if list.items.len() > limits.max_list_items {
        return Err(ApiError::ResourceExhausted(format!(
            "list has {} items; the limit is {}",
            list.items.len(),
            limits.max_list_items
        )));
    }
    if list.agency_id != caller.id.as_str() {
        return Err(ApiError::PermissionDenied(format!(
            "list agency_id {:?} is not the caller {}",
            list.agency_id, caller.id
        )));
    }
    let action_day_id: Option<ActionDayId> = list
        .action_day_id
        .as_deref()
        .map(|id| ApiError::parse_id("list.action_day_id", id))
        .transpose()?;

    // The signing key.
    let kid =
        signing::key_id(&signature).map_err(|e| ApiError::invalid("signature", e.to_string()))?;
    let keys = keys.ok_or_else(|| {
        ApiError::FailedPrecondition(
            "no agency keys have been published yet: a coordinator publishes a key-set \
             statement first (takedownctl keys publish)"
                .into(),
        )
    })?;
    let key = keys.key(&kid).ok_or_else(|| {
        ApiError::invalid(
            "signature",
            KeyUseError::Unknown { kid: kid.clone() }.to_string(),
        )
    })?;
    if key.agency_id != caller.id {
        return Err(ApiError::PermissionDenied(format!(
            "signing key {kid:?} belongs to another agency"
        )));
    }
    let claims = signing::verify(
        &signature,
        key.public_key_pem.as_bytes(),
        &cfg.audience,
        now_ms.div_euclid(1000),
    )
    .map_err(|e| ApiError::invalid("signature", e.to_string()))?;
    if claims.iss != caller.id {
        return Err(ApiError::PermissionDenied(format!(
            "signature issuer {:?} is not the caller {}",
            claims.iss, caller.id
        )));
    }
    // Valid from, retired, compromised: judged at the time the list says it was signed,
    // as every sidecar judges it again at delivery.
    keys.check_use(&kid, &caller.id, claims.iat)
        .map_err(|e| ApiError::invalid("signature", e.to_string()))?;
    if claims.jti != list.list_id {
        return Err(ApiError::invalid(
            "signature",
            format!(
                "signature jti {:?} is not the list id {:?}",
                claims.jti, list.list_id
            ),
        ));
    }
    if claims.action_day != list.action_day_id {
        return Err(ApiError::invalid(
            "signature",
            format!(
                "the signature names {} but the list names {}",
                day_phrase(claims.action_day.as_deref()),
                day_phrase(list.action_day_id.as_deref())
            ),
        ));
    }
    if claims.item_count != list.items.len() as u64 {
        return Err(ApiError::invalid(
            "signature",
            format!(
                "signature item count {} does not match the list's {} items",
                claims.item_count,
                list.items.len()
            ),
        ));
    }
    let signed_root = claims
        .root()
        .ok_or_else(|| ApiError::invalid("signature", "merkle_root claim is not 64 hex digits"))?;

    // The action day, if any.
    let (due_at, day_platforms) = match &action_day_id {
        None => (now_ms, None),
        Some(day_id) => {
            let day = store.get_action_day(day_id).await?.ok_or_else(|| {
                ApiError::invalid(
                    "list.action_day_id",
                    format!("unknown action day {day_id:?}"),
                )
            })?;
            if day.closed_at.is_some() {
                return Err(ApiError::FailedPrecondition(format!(
                    "action day {day_id:?} is closed"
                )));
            }
            if !day.agencies.contains(&caller.id) {
                return Err(ApiError::PermissionDenied(format!(
                    "agency {} does not take part in action day {day_id:?}",
                    caller.id
                )));
            }
            (day.starts_at, Some(day.platforms))
        }
    };
    let registered: HashSet<PlatformName> = store
        .list_platforms()
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();

    // CPU-bound part (hashing, decoding, normalizing) off the async workers.
    let pb::ReferralList {
        created_at, items, ..
    } = list;
    let signed_at_ms = claims.iat.saturating_mul(1000);
    let checked = tokio::task::spawn_blocking(move || {
        check_items(
            items,
            signed_root,
            &registered,
            day_platforms.as_deref(),
            signed_at_ms,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("intake worker: {e}")))??;

    let new_list = NewList {
        list_id: list_id.clone(),
        agency_id: caller.id.clone(),
        action_day_id,
        content_sha256,
        jws: signature,
        item_count: checked.referrals.len() as u32,
        leaf_hashes: checked.leaf_hashes,
        created_at: created_at
            .as_ref()
            .map(timestamp::to_millis)
            .unwrap_or(now_ms),
        accepted_at: now_ms,
        due_at,
        kid,
        signed_at: claims.iat,
    };
    let summary = match store.insert_list(&new_list, &checked.referrals).await? {
        IntakeResult::Accepted(s) => {
            tracing::info!(
                new_targets = s.new_targets,
                merged = s.merged,
                "list accepted"
            );
            s
        }
        IntakeResult::Duplicate(s) => {
            tracing::info!("identical list resubmitted; answered from the stored result");
            s
        }
    };
    Ok(response(list_id, summary, ids))
}

fn response(list_id: ListId, s: IntakeSummary, ids: &PublicIds) -> pb::SubmitReferralListResponse {
    pb::SubmitReferralListResponse {
        list_id: list_id.into(),
        items: s.target_ids.len() as u32,
        new_targets: s.new_targets,
        merged_duplicates: s.merged,
        target_ids: s.target_ids.iter().map(|t| ids.target(*t)).collect(),
    }
}

struct Checked {
    referrals: Vec<NewReferral>,
    leaf_hashes: Vec<u8>,
}

fn check_items(
    items: Vec<Vec<u8>>,
    signed_root: merkle::Hash,
    registered: &HashSet<PlatformName>,
    day_platforms: Option<&[PlatformName]>,
    signed_at_ms: i64,
) -> ApiResult<Checked> {
    let leaves: Vec<merkle::Hash> = items.iter().map(|i| merkle::leaf_hash(i)).collect();
    let tree = merkle::Tree::from_leaves(leaves);
    if tree.root() != signed_root {
        return Err(ApiError::invalid(
            "signature",
            "Merkle root in the signature does not match the list's items",
        ));
    }
    let mut leaf_hashes = Vec::with_capacity(items.len() * 32);
    for l in tree.leaves() {
        leaf_hashes.extend_from_slice(l);
    }
    let mut referrals = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        referrals.push(check_item(
            i,
            item,
            registered,
            day_platforms,
            signed_at_ms,
        )?);
    }
    Ok(Checked {
        referrals,
        leaf_hashes,
    })
}

fn check_item(
    i: usize,
    item: Vec<u8>,
    registered: &HashSet<PlatformName>,
    day_platforms: Option<&[PlatformName]>,
    signed_at_ms: i64,
) -> ApiResult<NewReferral> {
    let r = pb::Referral::decode(item.as_slice())
        .map_err(|e| ApiError::item(i, "item", format!("does not decode as a Referral: {e}")))?;
    let platform =
        PlatformName::parse(&r.platform).map_err(|e| ApiError::item(i, "platform", e))?;
    if !registered.contains(&platform) {
        return Err(ApiError::item(
            i,
            "platform",
            format!("unknown platform {platform:?}"),
        ));
    }
    if let Some(day) = day_platforms
        && !day.iter().any(|p| p == &platform)
    {
        {
            return Err(ApiError::item(
                i,
                "platform",
                format!("platform {platform:?} does not take part in this action day"),
            ));
        }
    }
    let kind = TargetKind::try_from(r.kind)
        .ok()
        .filter(|k| *k != TargetKind::Unspecified)
        .ok_or_else(|| ApiError::item(i, "kind", format!("invalid target kind {}", r.kind)))?;
    let normalized =
        target::normalize(&platform, &r.target).map_err(|e| ApiError::item(i, "target", e))?;
    let basis = LegalBasis::try_from(r.legal_basis)
        .ok()
        .filter(|b| *b != LegalBasis::Unspecified)
        .ok_or_else(|| {
            ApiError::item(
                i,
                "legal_basis",
                format!("invalid legal basis {}", r.legal_basis),
            )
        })?;
    if basis == LegalBasis::RemovalOrder && r.removal_order_ref.trim().is_empty() {
        return Err(ApiError::item(
            i,
            "removal_order_ref",
            "a removal order needs its reference",
        ));
    }
    let removal_order = match (basis, r.removal_order.as_ref()) {
        (LegalBasis::RemovalOrder, details) => {
            let d = removal_order::check(details, signed_at_ms)
                .map_err(|e| ApiError::item(i, &format!("removal_order.{}", e.field), &e))?;
            Some(RemovalOrderFacts {
                issued_at: d
                    .issued_at
                    .as_ref()
                    .map(timestamp::to_millis)
                    .unwrap_or_default(),
                host_member_state: d.cross_border.then_some(d.host_member_state),
                issuing_authority: d.issuing_authority.trim().to_string(),
                member_state: d.member_state,
            })
        }
        (_, Some(_)) => {
            return Err(ApiError::item(
                i,
                "removal_order",
                "only a removal order (legal_basis REMOVAL_ORDER) carries Annex I details",
            ));
        }
        (_, None) => None,
    };
    if !r.evidence_sha256.is_empty() && r.evidence_sha256.len() != 32 {
        return Err(ApiError::item(
            i,
            "evidence_sha256",
            format!(
                "evidence hash has {} bytes, expected 32",
                r.evidence_sha256.len()
            ),
        ));
    }
    if r.category.len() > 256 || r.removal_order_ref.len() > 256 || r.note.len() > 8192 {
        return Err(ApiError::item(
            i,
            "note",
            "category and removal_order_ref are limited to 256 bytes, note to 8192",
        ));
    }
    Ok(NewReferral {
        platform,
        kind,
        normalized: normalized.into_string(),
        original: r.target.trim().to_string(),
        category: r.category,
        legal_basis: basis,
        removal_order_ref: r.removal_order_ref,
        removal_order,
        item,
    })
}

/// "action day \"d1\"" or "no action day", for messages.
fn day_phrase(day: Option<&str>) -> String {
    match day {
        Some(d) => format!("action day {d:?}"),
        None => "no action day".into(),
    }
}
