//! The signed list file that `list sign` writes and `list submit` reads.
//!
//! A JSON object:
//!
//! ```json
//! {"list_id": "...", "agency_id": "agency-fr", "action_day_id": "ad-1" | null,
//!  "items": 3, "list": "<standard base64 of the encoded ReferralList>",
//!  "signature": "<compact JWS>"}
//! ```
//!
//! `list` holds the exact bytes that were signed; `list_id`, `agency_id`,
//! `action_day_id` and `items` repeat what is inside, for people and scripts.

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use prost::Message;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use takedown_protocol::{
    list::{ListSpec, SignedList, build_signed},
    pb::{ReferralList, SubmitReferralListRequest},
    signing::SignatureError,
};

/// Why an envelope could not be read, written or decoded.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a signed list file: {message}")]
    Format { path: String, message: String },
    #[error("the list bytes are not an encoded ReferralList: {0}")]
    Decode(String),
    #[error("the envelope says {field} {claimed:?} but the list holds {actual:?}")]
    Mismatch {
        field: &'static str,
        claimed: String,
        actual: String,
    },
}

/// A signed referral list as stored in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub list_id: String,
    pub agency_id: String,
    pub action_day_id: Option<String>,
    pub items: u64,
    /// The encoded `ReferralList`, byte for byte as signed (base64 in JSON).
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub list: Vec<u8>,
    /// The compact JWS over the list's claims.
    pub signature: String,
}

fn to_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    STANDARD
        .decode(text.trim())
        .map_err(|e| serde::de::Error::custom(format!("list is not base64: {e}")))
}

impl Envelope {
    /// The envelope of a freshly signed list.
    pub fn from_signed(
        signed: &SignedList,
        agency_id: &str,
        action_day_id: Option<&str>,
        items: u64,
    ) -> Self {
        Self {
            list_id: signed.list_id.clone(),
            agency_id: agency_id.to_string(),
            action_day_id: action_day_id.map(str::to_string),
            items,
            list: signed.list.clone(),
            signature: signed.signature.clone(),
        }
    }

    /// Builds, signs and wraps a list: [`build_signed`] with the agency's Ed25519 key
    /// (PKCS#8 PEM) under `kid`.
    pub fn sign(
        spec: &ListSpec,
        kid: &str,
        private_key_pem: &[u8],
    ) -> Result<Self, SignatureError> {
        let signed = build_signed(spec, kid, private_key_pem)?;
        Ok(Self::from_signed(
            &signed,
            &spec.agency_id,
            spec.action_day_id.as_deref(),
            spec.referrals.len() as u64,
        ))
    }

    /// Reads an envelope from a JSON file and checks that its summary fields match the
    /// list it carries.
    pub fn read(path: &Path) -> Result<Self, EnvelopeError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| EnvelopeError::Read {
            path: shown.clone(),
            source,
        })?;
        let envelope: Self = serde_json::from_str(&text).map_err(|e| EnvelopeError::Format {
            path: shown,
            message: e.to_string(),
        })?;
        envelope.decode_list()?;
        Ok(envelope)
    }

    /// Writes the envelope as pretty JSON (replacing an existing file).
    pub fn write(&self, path: &Path) -> Result<(), EnvelopeError> {
        let err = |source| EnvelopeError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        text.push('\n');
        std::fs::write(path, text).map_err(err)
    }

    /// Decodes the carried list and checks it against the envelope's summary fields.
    pub fn decode_list(&self) -> Result<ReferralList, EnvelopeError> {
        let list = ReferralList::decode(self.list.as_slice())
            .map_err(|e| EnvelopeError::Decode(e.to_string()))?;
        let mismatch = |field, claimed: String, actual: String| {
            Err(EnvelopeError::Mismatch {
                field,
                claimed,
                actual,
            })
        };
        if list.list_id != self.list_id {
            return mismatch("list_id", self.list_id.clone(), list.list_id);
        }
        if list.agency_id != self.agency_id {
            return mismatch("agency_id", self.agency_id.clone(), list.agency_id);
        }
        if list.action_day_id != self.action_day_id {
            return mismatch(
                "action_day_id",
                format!("{:?}", self.action_day_id),
                format!("{:?}", list.action_day_id),
            );
        }
        if list.items.len() as u64 != self.items {
            return mismatch(
                "items",
                self.items.to_string(),
                list.items.len().to_string(),
            );
        }
        Ok(list)
    }

    /// The request that submits this list.
    pub fn to_request(&self) -> SubmitReferralListRequest {
        SubmitReferralListRequest {
            list: self.list.clone(),
            signature: self.signature.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use takedown_protocol::pb::Referral;

    fn signed() -> (Envelope, ListSpec) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let spec = ListSpec {
            list_id: "list-1".into(),
            agency_id: "agency-fr".into(),
            action_day_id: Some("ad-1".into()),
            referrals: vec![Referral {
                platform: "telegram".into(),
                target: "@demo_channel_0001".into(),
                ..Default::default()
            }],
            audience: "takedown-hub".into(),
            issued_at: 1_800_000_000,
            lifetime_secs: 3600,
        };
        let envelope = Envelope::sign(&spec, "k1", key.serialize_pem().as_bytes()).unwrap();
        (envelope, spec)
    }

    #[test]
    fn round_trips_through_a_file() {
        let (envelope, spec) = signed();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.signed.json");
        envelope.write(&path).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["list"], STANDARD.encode(&envelope.list));
        assert_eq!(json["items"], 1);
        assert_eq!(json["action_day_id"], "ad-1");
        let back = Envelope::read(&path).unwrap();
        assert_eq!(back, envelope);
        let list = back.decode_list().unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(
            Referral::decode(list.items[0].as_slice()).unwrap(),
            spec.referrals[0]
        );
        assert_eq!(back.to_request().signature, envelope.signature);
    }

    #[test]
    fn refuses_envelopes_that_disagree_with_their_list() {
        let (mut envelope, _) = signed();
        envelope.items = 2;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.json");
        envelope.write(&path).unwrap();
        let err = Envelope::read(&path).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::Mismatch { field: "items", .. }),
            "{err}"
        );
        std::fs::write(&path, r#"{"list_id": "x"}"#).unwrap();
        assert!(matches!(
            Envelope::read(&path),
            Err(EnvelopeError::Format { .. })
        ));
        std::fs::write(
            &path,
            r#"{"list_id":"x","agency_id":"a","action_day_id":null,"items":0,"list":"!!","signature":"s"}"#,
        )
        .unwrap();
        let err = Envelope::read(&path).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }
}
