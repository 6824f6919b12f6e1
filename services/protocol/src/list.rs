//! Building and signing a referral list: encode each item, compute the Merkle root, sign the
//! claims. Used by `takedownctl list sign`, the demo, tests and benchmarks.

use prost::Message;

use crate::{
    merkle,
    pb::{Referral, ReferralList},
    signing::{self, ListClaims, SignatureError},
    timestamp,
};

/// What to put in a list and how to sign it.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub list_id: String,
    pub agency_id: String,
    pub action_day_id: Option<String>,
    pub referrals: Vec<Referral>,
    /// The hub's audience (`aud`).
    pub audience: String,
    /// Unix seconds used for `iat` (and `created_at`).
    pub issued_at: i64,
    /// Seconds until `exp`; at most 24 h is accepted by the hub.
    pub lifetime_secs: i64,
}

/// A list ready to submit: the exact encoded bytes and the JWS over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedList {
    pub list_id: String,
    pub list: Vec<u8>,
    pub signature: String,
}

/// Encodes the items, builds the list and signs its claims with the agency's Ed25519 key
/// (PKCS#8 PEM) under `kid`.
pub fn build_signed(
    spec: &ListSpec,
    kid: &str,
    private_key_pem: &[u8],
) -> Result<SignedList, SignatureError> {
    let items: Vec<Vec<u8>> = spec.referrals.iter().map(Message::encode_to_vec).collect();
    sign_items(spec, items, kid, private_key_pem)
}

/// Like [`build_signed`] but with already encoded items (kept byte for byte).
pub fn sign_items(
    spec: &ListSpec,
    items: Vec<Vec<u8>>,
    kid: &str,
    private_key_pem: &[u8],
) -> Result<SignedList, SignatureError> {
    let root = merkle::root(&items);
    let claims = ListClaims {
        iss: spec.agency_id.clone(),
        aud: spec.audience.clone(),
        jti: spec.list_id.clone(),
        iat: spec.issued_at,
        exp: spec.issued_at + spec.lifetime_secs,
        nbf: None,
        action_day: spec.action_day_id.clone(),
        item_count: items.len() as u64,
        merkle_root: hex::encode(root),
    };
    let list = ReferralList {
        list_id: spec.list_id.clone(),
        agency_id: spec.agency_id.clone(),
        action_day_id: spec.action_day_id.clone(),
        created_at: Some(timestamp::from_millis(spec.issued_at * 1000)),
        items,
    };
    let signature = signing::sign(&claims, kid, private_key_pem)?;
    Ok(SignedList {
        list_id: spec.list_id.clone(),
        list: list.encode_to_vec(),
        signature,
    })
}
