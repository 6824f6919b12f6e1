//! [ROOST Coop](https://github.com/roostorg/coop)'s REST API, as its API reference
//! documents it: the items the `coop` handoff files, and the action callbacks Coop sends
//! back.
//!
//! # Items (sidecar → Coop)
//!
//! `POST {url}/api/v1/items/async/` with `X-API-KEY`, answered `202 Accepted`. A batch is
//! one request, `{"items": [...]}`; Coop validates every item first and queues all or
//! none. Each target is one item:
//!
//! ```json
//! { "id": "t-…:takedown",          // the target's idempotency key: the same on every retry
//!   "typeId": "<integration.item_type_id>",
//!   "data": {
//!     "kind": "TAKEDOWN",            // or "WITHDRAWAL": restore if acted on
//!     "target": "https://t.me/foo", "normalized_target": "foo", "target_kind": "CHANNEL",
//!     "platform": "telegram", "category": "terrorist-propaganda",
//!     "legal_basis": "REMOVAL_ORDER", "removal_order_ref": "RO-…",       // the latter optional
//!     "issuing_authority": "…", "member_state": "DE",                    // removal orders only
//!     "agencies": ["agency-fr"], "action_day_id": "…", "withdrawal_reason": "…",  // optional
//!     "received_at": "…", "handoff_id": "…", "target_id": "t-…",
//!     "referrals": [ … ]             // each referral as the handoff batch carries it
//!   } }
//! ```
//!
//! Coop keeps data fields its Item Type does not declare, so the Item Type needs to
//! declare only what its reviewers and rules use (at least the fields it marks required).
//!
//! # Action callbacks (Coop → sidecar)
//!
//! Coop POSTs to each Action's callback URL (here `POST /v1/coop/actions` on the decisions
//! endpoint) `{"item": {"id", "typeId"}, "action": {"id"}, "policies": [{"id", "name"}],
//! "decisionReason"?, "actorNote"?, ...}`, signed in the `Coop-Signature` header: base64 of
//! RSASSA-PKCS1-v1_5 with SHA-256 over the raw body, under the organisation's signing key.
//! The item id names the target and the kind it answers; the action id is mapped to an
//! outcome by `integration.actions`, and for REJECTED the first policy the callback names
//! that `integration.policies` maps gives the reason (else `integration.reject_reason`).
//! The report id is derived from the body, so Coop's retries of one callback count once.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    config::CoopSettings,
    document::{HandoffTarget, Kind, OutcomeName, PlatformOutcome, ReasonName},
};

/// The path of Coop's item submission endpoint, under its base URL.
pub const ITEMS_PATH: &str = "/api/v1/items/async/";
/// Where the sidecar takes Coop's action callbacks.
pub const CALLBACK_PATH: &str = "/v1/coop/actions";
/// The header Coop signs its requests in.
pub const SIGNATURE_HEADER: &str = "coop-signature";

/// The `{"items": [...]}` request for `targets` handed in batch `handoff_id`.
pub fn items_request(
    item_type_id: &str,
    platform: &str,
    handoff_id: &str,
    targets: &[HandoffTarget],
) -> serde_json::Value {
    let items: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| item(item_type_id, platform, handoff_id, t))
        .collect();
    serde_json::json!({ "items": items })
}

fn item(
    item_type_id: &str,
    platform: &str,
    handoff_id: &str,
    t: &HandoffTarget,
) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        data.insert(k.to_string(), v);
    };
    let kind = match t.kind {
        Kind::Takedown => "TAKEDOWN",
        Kind::Withdrawal => "WITHDRAWAL",
    };
    put("kind", kind.into());
    put("target", t.original_target.as_str().into());
    put("normalized_target", t.normalized_target.as_str().into());
    put("target_kind", t.target_kind.as_str().into());
    put("platform", platform.into());
    put("category", t.category.as_str().into());
    put("legal_basis", t.legal_basis.as_str().into());
    if let Some(r) = &t.removal_order_ref {
        put("removal_order_ref", r.as_str().into());
    }
    if let Some(order) = t.referrals.iter().find_map(|r| r.removal_order.as_ref()) {
        put("issuing_authority", order.issuing_authority.as_str().into());
        put("member_state", order.member_state.as_str().into());
    }
    put("agencies", t.agencies.clone().into());
    if let Some(d) = &t.action_day_id {
        put("action_day_id", d.as_str().into());
    }
    if let Some(w) = &t.withdrawal_reason {
        put("withdrawal_reason", w.as_str().into());
    }
    put("received_at", t.received_at.as_str().into());
    put("handoff_id", handoff_id.into());
    put("target_id", t.target_id.as_str().into());
    put(
        "referrals",
        serde_json::to_value(&t.referrals).unwrap_or_default(),
    );
    serde_json::json!({
        "id": t.idempotency_key,
        "typeId": item_type_id,
        "data": data,
    })
}

/// Verifies `Coop-Signature` headers under Coop's public key.
pub struct SignatureKey(jsonwebtoken::DecodingKey);

impl SignatureKey {
    /// From a PEM `PUBLIC KEY` (or `RSA PUBLIC KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        jsonwebtoken::DecodingKey::from_rsa_pem(pem)
            .map(Self)
            .map_err(|e| format!("not an RSA public key in PEM: {e}"))
    }

    /// True when `signature` (the header's base64) signs `body`.
    pub fn verify(&self, body: &[u8], signature: &str) -> Result<(), String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|e| format!("{SIGNATURE_HEADER} is not base64: {e}"))?;
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        match jsonwebtoken::crypto::verify(&url_safe, body, &self.0, jsonwebtoken::Algorithm::RS256)
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "{SIGNATURE_HEADER} does not verify under integration.signing_key"
            )),
            Err(e) => Err(format!("{SIGNATURE_HEADER}: {e}")),
        }
    }
}

/// An action callback, the fields the sidecar reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCallback {
    pub item: ItemRef,
    pub action: ActionRef,
    #[serde(default)]
    pub policies: Vec<PolicyRef>,
    #[serde(default)]
    pub decision_reason: Option<String>,
    #[serde(default)]
    pub actor_note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRef {
    pub id: String,
    #[serde(default)]
    pub type_id: String,
}

#[derive(Debug, Deserialize)]
pub struct ActionRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct PolicyRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// Why a callback is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackError {
    /// Not a callback (400).
    Malformed(String),
    /// The item names no target this sidecar filed (404).
    UnknownItem(String),
    /// The callback cannot become an outcome (400).
    Unmapped(String),
}

/// What the configuration maps Coop's actions and policies to.
pub struct Mapping {
    actions: BTreeMap<String, OutcomeName>,
    policies: BTreeMap<String, ReasonName>,
    reject_reason: ReasonName,
}

impl Mapping {
    pub fn new(settings: &CoopSettings) -> Self {
        Self {
            actions: settings.actions.clone(),
            policies: settings.policies.clone(),
            reject_reason: settings.reject_reason,
        }
    }

    /// The outcome `body` (a signed callback) reports.
    pub fn outcome(&self, body: &[u8]) -> Result<PlatformOutcome, CallbackError> {
        let cb: ActionCallback = serde_json::from_slice(body)
            .map_err(|e| CallbackError::Malformed(format!("not a Coop action callback: {e}")))?;
        let (target_id, kind) = cb
            .item
            .id
            .rsplit_once(':')
            .and_then(|(t, k)| Some((t, Kind::parse(k)?)))
            .filter(|(t, _)| !t.is_empty())
            .ok_or_else(|| CallbackError::UnknownItem(cb.item.id.clone()))?;
        let outcome = *self.actions.get(&cb.action.id).ok_or_else(|| {
            CallbackError::Unmapped(format!(
                "Coop action {:?} is not mapped to an outcome (integration.actions)",
                cb.action.id
            ))
        })?;
        if outcome.answers() != kind {
            return Err(CallbackError::Unmapped(format!(
                "Coop action {:?} maps to {outcome:?}, which does not answer item {:?} (a {})",
                cb.action.id,
                cb.item.id,
                kind.as_str()
            )));
        }
        let reason = (outcome == OutcomeName::Rejected).then(|| {
            cb.policies
                .iter()
                .find_map(|p| self.policies.get(&p.id).copied())
                .unwrap_or(self.reject_reason)
        });
        let mut text = format!("Coop action {}", cb.action.id);
        let names: Vec<&str> = cb
            .policies
            .iter()
            .map(|p| if p.name.is_empty() { &p.id } else { &p.name })
            .map(String::as_str)
            .collect();
        if !names.is_empty() {
            text.push_str(&format!(" ({})", names.join(", ")));
        }
        for note in [&cb.decision_reason, &cb.actor_note].into_iter().flatten() {
            if !note.is_empty() {
                text.push_str(": ");
                text.push_str(note);
            }
        }
        Ok(PlatformOutcome {
            target_id: target_id.to_string(),
            outcome,
            reason,
            text,
            acted_at: None,
            report_id: Some(format!("coop-{}", &hex::encode(Sha256::digest(body))[..40])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            actions: [
                ("ban".to_string(), OutcomeName::Blocked),
                ("dismiss".to_string(), OutcomeName::Rejected),
                ("restore".to_string(), OutcomeName::Restored),
            ]
            .into(),
            policies: [("p-info".to_string(), ReasonName::InsufficientInformation)].into(),
            reject_reason: ReasonName::Other,
        }
    }

    fn callback(item: &str, action: &str, policies: &str) -> Vec<u8> {
        format!(
            r#"{{"item":{{"id":"{item}","typeId":"ref"}},"action":{{"id":"{action}"}},"policies":[{policies}],"rules":[],"custom":{{}},"decisionReason":"seen"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn actions_and_policies_map_to_outcomes() {
        let m = mapping();
        let o = m.outcome(&callback("t-1:takedown", "ban", "")).unwrap();
        assert_eq!(
            (o.target_id.as_str(), o.outcome),
            ("t-1", OutcomeName::Blocked)
        );
        assert_eq!(o.reason, None);
        assert_eq!(o.text, "Coop action ban: seen");
        let o = m
            .outcome(&callback(
                "t-1:takedown",
                "dismiss",
                r#"{"id":"p-x","name":"Spam"},{"id":"p-info","name":"Unclear"}"#,
            ))
            .unwrap();
        assert_eq!(o.reason, Some(ReasonName::InsufficientInformation));
        assert_eq!(o.text, "Coop action dismiss (Spam, Unclear): seen");
        let o = m.outcome(&callback("t-1:takedown", "dismiss", "")).unwrap();
        assert_eq!(o.reason, Some(ReasonName::Other), "the default reason");
        let o = m
            .outcome(&callback("t-1:withdrawal", "restore", ""))
            .unwrap();
        assert_eq!(o.outcome, OutcomeName::Restored);
    }

    const PRIVATE: &str = include_str!("../../../tests/fixtures/coop/signing-key.pem");
    const PUBLIC: &str = include_str!("../../../tests/fixtures/coop/signing-key.pub.pem");

    fn sign(body: &[u8]) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap();
        let sig = jsonwebtoken::crypto::sign(body, &key, jsonwebtoken::Algorithm::RS256).unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    #[test]
    fn coop_signatures_verify_over_the_raw_body() {
        let key = SignatureKey::from_pem(PUBLIC.as_bytes()).unwrap();
        let body = callback("t-1:takedown", "ban", "");
        let sig = sign(&body);
        key.verify(&body, &sig).unwrap();
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert!(
            key.verify(&tampered, &sig)
                .unwrap_err()
                .contains("does not verify")
        );
        assert!(
            key.verify(&body, "not base64!")
                .unwrap_err()
                .contains("not base64")
        );
        assert!(
            SignatureKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }

    #[test]
    fn a_retried_callback_has_the_same_report_id() {
        let m = mapping();
        let a = m.outcome(&callback("t-1:takedown", "ban", "")).unwrap();
        let b = m.outcome(&callback("t-1:takedown", "ban", "")).unwrap();
        let c = m.outcome(&callback("t-2:takedown", "ban", "")).unwrap();
        assert_eq!(a.report_id, b.report_id);
        assert_ne!(a.report_id, c.report_id);
    }

    #[test]
    fn what_cannot_become_an_outcome_is_refused() {
        let m = mapping();
        assert!(matches!(
            m.outcome(&callback("t-1:takedown", "warn", "")),
            Err(CallbackError::Unmapped(e)) if e.contains("\"warn\" is not mapped")
        ));
        assert!(matches!(
            m.outcome(&callback("t-1:withdrawal", "ban", "")),
            Err(CallbackError::Unmapped(e)) if e.contains("does not answer")
        ));
        assert_eq!(
            m.outcome(&callback("someone-elses-item", "ban", "")),
            Err(CallbackError::UnknownItem("someone-elses-item".into()))
        );
        assert!(matches!(
            m.outcome(b"{\"item\":1}"),
            Err(CallbackError::Malformed(_))
        ));
    }
}
