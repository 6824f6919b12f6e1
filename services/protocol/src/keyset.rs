//! Key-set statements: the coordinator's signed word on which agency keys exist.
//!
//! A statement is a compact JWS (EdDSA / Ed25519, header `typ` = [`STATEMENT_TYPE`])
//! signed by a coordinator **root key**. Its claims list every agency list-signing key
//! with its validity (valid from, retired at, compromised since) and the root keys the
//! coordinator endorses for the statements that follow. Versions only grow.
//!
//! Whoever verifies referrals (the hub at intake, every sidecar at delivery) pins one or
//! more root public keys and keeps a [`KeyTrust`]: it accepts a statement only when a
//! trusted root signed it and its version is newer than the newest it holds, so the hub,
//! which stores and serves statements, can neither forge nor roll them back. A root is
//! trusted when it is pinned or endorsed by the newest accepted statement: a new root is
//! accepted only when an existing one signs it.
//!
//! Root keys are named by their [`thumbprint`], so a pin is just a public key file.
//!
//! [`KeySet::check_use`] is the one rule for whether a list signed at a given time may
//! be acted on: a **retired** key no longer signs new lists but what it signed before
//! stands; a **compromised** key invalidates everything it signed from the time the
//! coordinator names, before or after the statement that says so.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ident::OrgId, signing};

/// The JWS header `typ` of a statement, so that no other token passes for one.
pub const STATEMENT_TYPE: &str = "takedown-keyset+jwt";

/// One agency list-signing key as the coordinator states it. Times are Unix seconds,
/// compared with the `iat` of the lists the key signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementKey {
    pub agency_id: String,
    /// The JWS header `kid` of the lists it signs; unique in the statement.
    pub kid: String,
    /// SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
    /// Lists signed before this are not the key's.
    pub valid_from: i64,
    /// Signs no list from this time on; what it signed before stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
    /// Everything it signed from this time on is void.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_since: Option<i64>,
    /// Why it was retired or found compromised, for the record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A coordinator root key the statement endorses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootKey {
    /// The key's [`thumbprint`].
    pub kid: String,
    pub public_key_pem: String,
}

/// The claims of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySetClaims {
    /// Grows by at least one from statement to statement.
    pub version: u64,
    /// When it was signed, Unix seconds.
    pub iat: i64,
    pub keys: Vec<StatementKey>,
    /// Roots trusted, besides the pinned ones, for the statements after this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roots: Vec<RootKey>,
}

/// Why a statement was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    #[error("key-set statement is not a well-formed compact JWS: {0}")]
    Malformed(String),
    #[error("token is not a key-set statement (header typ must be {STATEMENT_TYPE:?})")]
    WrongType,
    #[error("key-set statement algorithm must be EdDSA")]
    WrongAlgorithm,
    #[error("key-set statement is signed by root {kid:?}, which is not a trusted root")]
    UnknownRoot { kid: String },
    #[error("key-set statement signature does not verify against root {kid:?}")]
    Forged { kid: String },
    #[error("key-set statement claims are invalid: {0}")]
    BadClaims(String),
    #[error(
        "key-set statement version {version} is older than version {newest} already held \
         (a rollback)"
    )]
    Rollback { version: u64, newest: u64 },
    #[error("a different key-set statement with version {version} is already held")]
    Conflict { version: u64 },
    #[error("root key is not a valid Ed25519 key: {0}")]
    BadKey(String),
}

/// Why a key may not be used for a list.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyUseError {
    #[error("signing key {kid:?} is not in the coordinator's key-set statement")]
    Unknown { kid: String },
    #[error("signing key {kid:?} belongs to agency {owner:?}, not {agency:?}")]
    OtherAgency {
        kid: String,
        owner: String,
        agency: String,
    },
    #[error(
        "signing key {kid:?} is valid from {}, after the list was signed",
        crate::timestamp::utc(*valid_from)
    )]
    NotYetValid { kid: String, valid_from: i64 },
    #[error(
        "signing key {kid:?} was retired at {}, before the list was signed",
        crate::timestamp::utc(*at)
    )]
    Retired { kid: String, at: i64 },
    #[error(
        "signing key {kid:?} is compromised since {}; lists it signed from then on are void",
        crate::timestamp::utc(*since)
    )]
    Compromised { kid: String, since: i64 },
}

/// The name of a root key: `root-` and the first 16 hex digits of the SHA-256 of its
/// SubjectPublicKeyInfo (the DER inside the PEM).
pub fn thumbprint(public_key_pem: &str) -> Result<String, StatementError> {
    signing::check_public_key(public_key_pem.as_bytes())
        .map_err(|e| StatementError::BadKey(e.to_string()))?;
    let b64: String = public_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| StatementError::BadKey(e.to_string()))?;
    Ok(format!("root-{}", &hex::encode(Sha256::digest(der))[..16]))
}

/// Root public keys by thumbprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots(BTreeMap<String, String>);

impl Roots {
    /// Roots from SPKI PEMs; each is named by its thumbprint.
    pub fn from_pems<'a>(pems: impl IntoIterator<Item = &'a str>) -> Result<Self, StatementError> {
        let mut out = BTreeMap::new();
        for pem in pems {
            out.insert(thumbprint(pem)?, pem.to_string());
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn with(&self, more: &[RootKey]) -> Self {
        let mut out = self.0.clone();
        for r in more {
            out.insert(r.kid.clone(), r.public_key_pem.clone());
        }
        Self(out)
    }
}

/// Signs a statement with a root's Ed25519 private key (PKCS#8 PEM); `root_kid` is the
/// root's [`thumbprint`].
pub fn sign(
    claims: &KeySetClaims,
    root_kid: &str,
    root_private_pem: &[u8],
) -> Result<String, StatementError> {
    check_claims(claims)?;
    let key = EncodingKey::from_ed_pem(root_private_pem)
        .map_err(|e| StatementError::BadKey(e.to_string()))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(root_kid.to_string());
    header.typ = Some(STATEMENT_TYPE.to_string());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| StatementError::BadKey(e.to_string()))
}

/// The claims of a statement, unverified: only for showing what a token says.
pub fn peek(jws: &str) -> Result<KeySetClaims, StatementError> {
    let payload = jws
        .split('.')
        .nth(1)
        .ok_or_else(|| StatementError::Malformed("expected three dot-separated parts".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| StatementError::Malformed(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| StatementError::BadClaims(e.to_string()))
}

/// Verifies a statement's signature against `roots` and checks its claims.
pub fn verify(jws: &str, roots: &Roots) -> Result<KeySetClaims, StatementError> {
    let header =
        jsonwebtoken::decode_header(jws).map_err(|e| StatementError::Malformed(e.to_string()))?;
    if header.typ.as_deref() != Some(STATEMENT_TYPE) {
        return Err(StatementError::WrongType);
    }
    if header.alg != Algorithm::EdDSA {
        return Err(StatementError::WrongAlgorithm);
    }
    let kid = header.kid.unwrap_or_default();
    let pem = roots
        .0
        .get(&kid)
        .ok_or_else(|| StatementError::UnknownRoot { kid: kid.clone() })?;
    let key = DecodingKey::from_ed_pem(pem.as_bytes())
        .map_err(|e| StatementError::BadKey(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = ["iat"].into_iter().map(String::from).collect();
    let data = jsonwebtoken::decode::<KeySetClaims>(jws, &key, &validation).map_err(|e| match e
        .kind()
    {
        ErrorKind::InvalidSignature => StatementError::Forged { kid: kid.clone() },
        ErrorKind::Json(err) => StatementError::BadClaims(err.to_string()),
        ErrorKind::MissingRequiredClaim(c) => {
            StatementError::BadClaims(format!("missing claim {c}"))
        }
        _ => StatementError::Malformed(e.to_string()),
    })?;
    check_claims(&data.claims)?;
    Ok(data.claims)
}

fn check_claims(c: &KeySetClaims) -> Result<(), StatementError> {
    let bad = |m: String| Err(StatementError::BadClaims(m));
    if c.version == 0 {
        return bad("version must be 1 or more".into());
    }
    let mut kids = std::collections::HashSet::new();
    for k in &c.keys {
        if k.kid.is_empty() || k.kid.len() > 128 {
            return bad(format!("key id {:?} must have 1 to 128 characters", k.kid));
        }
        if !kids.insert(k.kid.as_str()) {
            return bad(format!("key id {:?} is listed twice", k.kid));
        }
        OrgId::parse(&k.agency_id)
            .map_err(|e| StatementError::BadClaims(format!("key {:?}: {e}", k.kid)))?;
        signing::check_public_key(k.public_key_pem.as_bytes())
            .map_err(|e| StatementError::BadClaims(format!("key {:?}: {e}", k.kid)))?;
    }
    for r in &c.roots {
        let t = thumbprint(&r.public_key_pem)?;
        if t != r.kid {
            return bad(format!("root {:?} has thumbprint {t}", r.kid));
        }
    }
    Ok(())
}

/// A verified statement, indexed by key id.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub claims: KeySetClaims,
    pub jws: String,
    /// The root that signed it.
    pub signed_by: String,
    by_kid: HashMap<String, usize>,
}

impl KeySet {
    fn new(claims: KeySetClaims, jws: String) -> Self {
        let signed_by = jsonwebtoken::decode_header(&jws)
            .ok()
            .and_then(|h| h.kid)
            .unwrap_or_default();
        let by_kid = claims
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.kid.clone(), i))
            .collect();
        Self {
            claims,
            jws,
            signed_by,
            by_kid,
        }
    }

    pub fn version(&self) -> u64 {
        self.claims.version
    }

    /// The key `kid`, whatever its state.
    pub fn key(&self, kid: &str) -> Option<&StatementKey> {
        self.by_kid.get(kid).map(|&i| &self.claims.keys[i])
    }

    /// The key `kid`, if `agency` may act on a list it signed at `signed_at` (Unix
    /// seconds, the list's `iat`).
    pub fn check_use(
        &self,
        kid: &str,
        agency: &str,
        signed_at: i64,
    ) -> Result<&StatementKey, KeyUseError> {
        let k = self.key(kid).ok_or_else(|| KeyUseError::Unknown {
            kid: kid.to_string(),
        })?;
        if k.agency_id != agency {
            return Err(KeyUseError::OtherAgency {
                kid: kid.to_string(),
                owner: k.agency_id.clone(),
                agency: agency.to_string(),
            });
        }
        if let Some(since) = k.compromised_since.filter(|&s| signed_at >= s) {
            return Err(KeyUseError::Compromised {
                kid: kid.to_string(),
                since,
            });
        }
        if signed_at + (signing::LEEWAY_SECS as i64) < k.valid_from {
            return Err(KeyUseError::NotYetValid {
                kid: kid.to_string(),
                valid_from: k.valid_from,
            });
        }
        if let Some(at) = k.retired_at.filter(|&r| signed_at >= r) {
            return Err(KeyUseError::Retired {
                kid: kid.to_string(),
                at,
            });
        }
        Ok(k)
    }
}

/// What a verifier trusts: its pinned roots and the newest statement accepted.
#[derive(Debug, Clone)]
pub struct KeyTrust {
    pinned: Roots,
    newest: Option<Arc<KeySet>>,
}

/// The outcome of offering a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Newer than what was held; now the newest.
    Accepted { version: u64 },
    /// The very statement already held.
    Unchanged,
}

impl KeyTrust {
    pub fn new(pinned: Roots) -> Self {
        Self {
            pinned,
            newest: None,
        }
    }

    /// Offers `statements` in order, keeping the good ones; the refusals, in order.
    pub fn replay<'a>(
        &mut self,
        statements: impl IntoIterator<Item = &'a str>,
    ) -> Vec<StatementError> {
        statements
            .into_iter()
            .filter_map(|s| self.offer(s).err())
            .collect()
    }

    /// The roots a statement may be signed by now.
    pub fn roots(&self) -> Roots {
        match &self.newest {
            Some(n) => self.pinned.with(&n.claims.roots),
            None => self.pinned.clone(),
        }
    }

    pub fn newest(&self) -> Option<Arc<KeySet>> {
        self.newest.clone()
    }

    /// What [`Self::offer`] would do, without doing it.
    pub fn check(&self, jws: &str) -> Result<(Offer, KeySetClaims), StatementError> {
        if let Some(n) = self.newest.as_ref().filter(|n| n.jws == jws) {
            return Ok((Offer::Unchanged, n.claims.clone()));
        }
        let claims = verify(jws, &self.roots())?;
        if let Some(n) = &self.newest {
            if claims.version < n.version() {
                return Err(StatementError::Rollback {
                    version: claims.version,
                    newest: n.version(),
                });
            }
            if claims.version == n.version() {
                return Err(StatementError::Conflict {
                    version: claims.version,
                });
            }
        }
        Ok((
            Offer::Accepted {
                version: claims.version,
            },
            claims,
        ))
    }

    /// Accepts `jws` if a trusted root signed it and it is newer than the newest held.
    pub fn offer(&mut self, jws: &str) -> Result<Offer, StatementError> {
        let (offer, claims) = self.check(jws)?;
        if let Offer::Accepted { .. } = offer {
            self.newest = Some(Arc::new(KeySet::new(claims, jws.to_string())));
        }
        Ok(offer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Root {
        kid: String,
        private: String,
        public: String,
    }

    fn root() -> Root {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let public = kp.public_key_pem();
        Root {
            kid: thumbprint(&public).unwrap(),
            private: kp.serialize_pem(),
            public,
        }
    }

    fn agency_key(agency: &str, kid: &str) -> StatementKey {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        StatementKey {
            agency_id: agency.into(),
            kid: kid.into(),
            public_key_pem: kp.public_key_pem(),
            valid_from: 1_000,
            retired_at: None,
            compromised_since: None,
            reason: String::new(),
        }
    }

    fn statement(version: u64, keys: Vec<StatementKey>, roots: Vec<RootKey>) -> KeySetClaims {
        KeySetClaims {
            version,
            iat: 2_000,
            keys,
            roots,
        }
    }

    fn signed(r: &Root, c: &KeySetClaims) -> String {
        sign(c, &r.kid, r.private.as_bytes()).unwrap()
    }

    #[test]
    fn a_statement_from_a_pinned_root_is_accepted_and_versions_only_grow() {
        let r = root();
        let mut trust = KeyTrust::new(Roots::from_pems([r.public.as_str()]).unwrap());
        let v1 = signed(
            &r,
            &statement(1, vec![agency_key("agency-fr", "fr-1")], vec![]),
        );
        let v2 = signed(
            &r,
            &statement(2, vec![agency_key("agency-fr", "fr-2")], vec![]),
        );
        assert_eq!(trust.offer(&v1), Ok(Offer::Accepted { version: 1 }));
        assert_eq!(trust.offer(&v1), Ok(Offer::Unchanged));
        assert_eq!(trust.offer(&v2), Ok(Offer::Accepted { version: 2 }));
        assert_eq!(
            trust.offer(&v1),
            Err(StatementError::Rollback {
                version: 1,
                newest: 2
            })
        );
        let other_v2 = signed(&r, &statement(2, vec![], vec![]));
        assert_eq!(
            trust.offer(&other_v2),
            Err(StatementError::Conflict { version: 2 })
        );
        let held = trust.newest().unwrap();
        assert_eq!(held.version(), 2);
        assert!(held.key("fr-2").is_some() && held.key("fr-1").is_none());
    }

    #[test]
    fn an_unknown_root_a_forgery_and_other_tokens_are_refused() {
        let r = root();
        let stranger = root();
        let trust = KeyTrust::new(Roots::from_pems([r.public.as_str()]).unwrap());
        let c = statement(1, vec![agency_key("agency-fr", "fr-1")], vec![]);
        assert_eq!(
            trust.check(&signed(&stranger, &c)).unwrap_err(),
            StatementError::UnknownRoot {
                kid: stranger.kid.clone()
            }
        );
        // The stranger's signature under the pinned root's name.
        let forged = sign(&c, &r.kid, stranger.private.as_bytes()).unwrap();
        assert_eq!(
            trust.check(&forged).unwrap_err(),
            StatementError::Forged { kid: r.kid.clone() }
        );
        // A list signature is not a statement, even from a root's key.
        let list = signing::sign(
            &signing::ListClaims {
                iss: "agency-fr".into(),
                aud: "hub".into(),
                jti: "l".into(),
                iat: 1,
                exp: 2,
                nbf: None,
                action_day: None,
                item_count: 1,
                merkle_root: hex::encode([0u8; 32]),
            },
            &r.kid,
            r.private.as_bytes(),
        )
        .unwrap();
        assert_eq!(trust.check(&list).unwrap_err(), StatementError::WrongType);
        let twice = statement(
            1,
            vec![agency_key("agency-fr", "k"), agency_key("agency-de", "k")],
            vec![],
        );
        assert!(matches!(
            sign(&twice, &r.kid, r.private.as_bytes()),
            Err(StatementError::BadClaims(_))
        ));
    }

    #[test]
    fn a_new_root_is_trusted_only_once_a_trusted_root_endorses_it() {
        let old = root();
        let new = root();
        let mut trust = KeyTrust::new(Roots::from_pems([old.public.as_str()]).unwrap());
        let by_new = signed(&new, &statement(2, vec![], vec![]));
        assert!(matches!(
            trust.check(&by_new),
            Err(StatementError::UnknownRoot { .. })
        ));
        let endorse = RootKey {
            kid: new.kid.clone(),
            public_key_pem: new.public.clone(),
        };
        trust
            .offer(&signed(&old, &statement(1, vec![], vec![endorse])))
            .unwrap();
        assert_eq!(trust.offer(&by_new), Ok(Offer::Accepted { version: 2 }));
        // Version 2 endorses no one: only the pinned root signs version 3.
        assert!(matches!(
            trust.check(&signed(&new, &statement(3, vec![], vec![]))),
            Err(StatementError::UnknownRoot { .. })
        ));
        assert!(
            trust
                .check(&signed(&old, &statement(3, vec![], vec![])))
                .is_ok()
        );
    }

    #[test]
    fn retired_keys_keep_what_they_signed_and_compromised_keys_lose_it() {
        let r = root();
        let mut retired = agency_key("agency-fr", "fr-1");
        retired.retired_at = Some(5_000);
        let mut lost = agency_key("agency-fr", "fr-2");
        lost.compromised_since = Some(5_000);
        let mut trust = KeyTrust::new(Roots::from_pems([r.public.as_str()]).unwrap());
        trust
            .offer(&signed(&r, &statement(1, vec![retired, lost], vec![])))
            .unwrap();
        let set = trust.newest().unwrap();
        assert!(set.check_use("fr-1", "agency-fr", 4_999).is_ok());
        assert!(matches!(
            set.check_use("fr-1", "agency-fr", 5_000),
            Err(KeyUseError::Retired { at: 5_000, .. })
        ));
        assert!(set.check_use("fr-2", "agency-fr", 4_999).is_ok());
        assert!(matches!(
            set.check_use("fr-2", "agency-fr", 6_000),
            Err(KeyUseError::Compromised { since: 5_000, .. })
        ));
        assert!(matches!(
            set.check_use("fr-1", "agency-de", 4_000),
            Err(KeyUseError::OtherAgency { .. })
        ));
        assert!(matches!(
            set.check_use("fr-1", "agency-fr", 10),
            Err(KeyUseError::NotYetValid { .. })
        ));
        assert!(matches!(
            set.check_use("nope", "agency-fr", 4_000),
            Err(KeyUseError::Unknown { .. })
        ));
    }
}
