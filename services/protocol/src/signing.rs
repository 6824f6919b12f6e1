//! Signed referral lists: a compact JWS (EdDSA / Ed25519) whose claims bind the list.
//!
//! Claims: `iss` = agency id, `aud` = the hub's audience, `jti` = list id, `iat` / `exp`
//! (lifetime at most 24 h), optional `nbf`, `action_day`, `item_count` and `merkle_root`
//! (lower-case hex of the RFC 6962 root over the list's item bytes). The header names the
//! signing key in `kid`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::merkle::Hash;

/// Longest lifetime (`exp - iat`) a list signature may have.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;
/// Clock skew tolerated on `iat`, `nbf` and `exp`.
pub const LEEWAY_SECS: u64 = 60;

/// The claims of a list signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListClaims {
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_day: Option<String>,
    pub item_count: u64,
    pub merkle_root: String,
}

impl ListClaims {
    /// The Merkle root claim as bytes, if it is 64 hex digits.
    pub fn root(&self) -> Option<Hash> {
        let bytes = hex::decode(&self.merkle_root).ok()?;
        bytes.try_into().ok()
    }
}

/// Why a list signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("signature is not a well-formed compact JWS: {0}")]
    Malformed(String),
    #[error("signature header names no key id (kid)")]
    MissingKid,
    #[error("signature algorithm must be EdDSA")]
    WrongAlgorithm,
    #[error("signing key is not a valid Ed25519 key: {0}")]
    BadKey(String),
    #[error("signature does not verify against key {kid:?}")]
    Forged { kid: String },
    #[error("signature has expired")]
    Expired,
    #[error("signature is not yet valid")]
    NotYetValid,
    #[error("signature lifetime of {secs} s exceeds the 24 h maximum")]
    LifetimeTooLong { secs: i64 },
    #[error("signature audience {found:?} is not this hub ({expected:?})")]
    WrongAudience { found: String, expected: String },
    #[error("signature claims are missing or invalid: {0}")]
    BadClaims(String),
}

/// Signs claims with an Ed25519 private key (PKCS#8 PEM).
pub fn sign(
    claims: &ListClaims,
    kid: &str,
    private_key_pem: &[u8],
) -> Result<String, SignatureError> {
    let key = EncodingKey::from_ed_pem(private_key_pem)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| SignatureError::BadKey(e.to_string()))
}

/// Checks that a PEM holds an Ed25519 public key (SubjectPublicKeyInfo).
pub fn check_public_key(public_key_pem: &[u8]) -> Result<(), SignatureError> {
    let text = std::str::from_utf8(public_key_pem)
        .map_err(|_| SignatureError::BadKey("not UTF-8 PEM".into()))?;
    if !text.contains("-----BEGIN PUBLIC KEY-----") {
        return Err(SignatureError::BadKey(
            "expected a PEM \"PUBLIC KEY\" (SubjectPublicKeyInfo)".into(),
        ));
    }
    DecodingKey::from_ed_pem(public_key_pem)
        .map(|_| ())
        .map_err(|e| SignatureError::BadKey(e.to_string()))
}

/// The key id a signature names, read before verification to pick the key.
pub fn key_id(jws: &str) -> Result<String, SignatureError> {
    let header = jsonwebtoken::decode_header(jws).map_err(|e| {
        // An algorithm the JWT library does not know ("none", say) is a wrong algorithm,
        // not a list of every algorithm it does know.
        match header_alg(jws) {
            Some(alg) if alg != "EdDSA" => SignatureError::WrongAlgorithm,
            _ => SignatureError::Malformed(e.to_string()),
        }
    })?;
    if header.alg != Algorithm::EdDSA {
        return Err(SignatureError::WrongAlgorithm);
    }
    header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(SignatureError::MissingKid)
}

/// The `alg` of a compact JWS's header, read leniently.
fn header_alg(jws: &str) -> Option<String> {
    use base64::Engine;
    let head = jws.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(String::from)
}

/// The claims of a list signature, unverified: for a list verified before (the hub's own,
/// at delivery time, to judge its key's state again).
pub fn peek_claims(jws: &str) -> Result<ListClaims, SignatureError> {
    use base64::Engine;
    let payload = jws
        .split('.')
        .nth(1)
        .ok_or_else(|| SignatureError::Malformed("expected three dot-separated parts".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| SignatureError::BadClaims(e.to_string()))
}

fn decode_claims(jws: &str, public_key_pem: &[u8]) -> Result<ListClaims, SignatureError> {
    let kid = key_id(jws)?;
    let key = DecodingKey::from_ed_pem(public_key_pem)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    // Times are checked by the callers against their own clock.
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp", "iat", "iss", "aud", "jti"]
        .into_iter()
        .map(String::from)
        .collect();
    let data =
        jsonwebtoken::decode::<ListClaims>(jws, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => SignatureError::Forged { kid: kid.clone() },
            ErrorKind::InvalidAlgorithm => SignatureError::WrongAlgorithm,
            ErrorKind::MissingRequiredClaim(c) => {
                SignatureError::BadClaims(format!("missing claim {c}"))
            }
            ErrorKind::Json(err) => SignatureError::BadClaims(err.to_string()),
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                SignatureError::Malformed(e.to_string())
            }
            _ => SignatureError::Forged { kid: kid.clone() },
        })?;
    Ok(data.claims)
}

/// Verifies who signed a list, long after submission: the signature and the audience, but
/// not the token's validity window. Receivers use this at delivery time, when a list
/// accepted days before H-hour has long expired as a submission token.
pub fn verify_authorship(
    jws: &str,
    public_key_pem: &[u8],
    audience: &str,
) -> Result<ListClaims, SignatureError> {
    let claims = decode_claims(jws, public_key_pem)?;
    if claims.aud != audience {
        return Err(SignatureError::WrongAudience {
            found: claims.aud,
            expected: audience.to_string(),
        });
    }
    Ok(claims)
}

/// Verifies a list signature with the agency's public key (SPKI PEM): the signature,
/// the audience, `exp`, `nbf`, `iat` not in the future and a lifetime of at most 24 h.
/// `now` is Unix seconds. The caller still checks issuer, list id, action day, item count
/// and root against the list itself.
pub fn verify(
    jws: &str,
    public_key_pem: &[u8],
    audience: &str,
    now: i64,
) -> Result<ListClaims, SignatureError> {
    let claims = decode_claims(jws, public_key_pem)?;
    let leeway = LEEWAY_SECS as i64;
    if claims.aud != audience {
        return Err(SignatureError::WrongAudience {
            found: claims.aud,
            expected: audience.to_string(),
        });
    }
    if claims.exp - claims.iat > MAX_LIFETIME_SECS {
        return Err(SignatureError::LifetimeTooLong {
            secs: claims.exp - claims.iat,
        });
    }
    if claims.exp <= claims.iat {
        return Err(SignatureError::BadClaims("exp is not after iat".into()));
    }
    if now > claims.exp + leeway {
        return Err(SignatureError::Expired);
    }
    if claims.iat > now + leeway || claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
        return Err(SignatureError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_algorithm_is_named_plainly() {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let none = format!("{}.{}.", b64(r#"{"alg":"none","kid":"k1"}"#), b64("{}"));
        let err = key_id(&none).unwrap_err();
        assert!(matches!(err, SignatureError::WrongAlgorithm), "{err:?}");
        assert_eq!(err.to_string(), "signature algorithm must be EdDSA");
        // Not a JWS at all: malformed, whatever the library says.
        assert!(matches!(
            key_id("nonsense"),
            Err(SignatureError::Malformed(_))
        ));
    }

    /// A fresh Ed25519 key pair: (PKCS#8 private PEM, SPKI public PEM).
    fn key_pair() -> (String, String) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        (kp.serialize_pem(), kp.public_key_pem())
    }

    fn claims(now: i64) -> ListClaims {
        ListClaims {
            iss: "agency-fr".into(),
            aud: "takedown-hub".into(),
            jti: "list-1".into(),
            iat: now,
            exp: now + 3600,
            nbf: None,
            action_day: None,
            item_count: 2,
            merkle_root: hex::encode([7u8; 32]),
        }
    }

    #[test]
    fn sign_then_verify() {
        let (private, public) = key_pair();
        let now = 1_800_000_000;
        let jws = sign(&claims(now), "k1", private.as_bytes()).unwrap();
        assert_eq!(key_id(&jws).unwrap(), "k1");
        let got = verify(&jws, public.as_bytes(), "takedown-hub", now + 10).unwrap();
        assert_eq!(got, claims(now));
        assert_eq!(got.root(), Some([7u8; 32]));
    }

    #[test]
    fn refusals_name_their_reason() {
        let (private, public) = key_pair();
        let (_, other_public) = key_pair();
        let now = 1_800_000_000;
        let jws = sign(&claims(now), "k1", private.as_bytes()).unwrap();
        assert!(matches!(
            verify(&jws, other_public.as_bytes(), "takedown-hub", now),
            Err(SignatureError::Forged { .. })
        ));
        assert!(matches!(
            verify(&jws, public.as_bytes(), "other-hub", now),
            Err(SignatureError::WrongAudience { .. })
        ));
        assert_eq!(
            verify(&jws, public.as_bytes(), "takedown-hub", now + 3600 + 61),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(&jws, public.as_bytes(), "takedown-hub", now - 120),
            Err(SignatureError::NotYetValid)
        );
        let mut long = claims(now);
        long.exp = now + MAX_LIFETIME_SECS + 1;
        let jws = sign(&long, "k1", private.as_bytes()).unwrap();
        assert!(matches!(
            verify(&jws, public.as_bytes(), "takedown-hub", now),
            Err(SignatureError::LifetimeTooLong { .. })
        ));
        // Tampered payload.
        let jws = sign(&claims(now), "k1", private.as_bytes()).unwrap();
        let mut parts: Vec<&str> = jws.split('.').collect();
        let other = sign(
            &ListClaims {
                item_count: 3,
                ..claims(now)
            },
            "k1",
            private.as_bytes(),
        )
        .unwrap();
        let other_payload = other.split('.').nth(1).unwrap().to_string();
        parts[1] = &other_payload;
        let forged = parts.join(".");
        assert!(matches!(
            verify(&forged, public.as_bytes(), "takedown-hub", now),
            Err(SignatureError::Forged { .. })
        ));
        assert!(matches!(
            key_id("not-a-jws"),
            Err(SignatureError::Malformed(_))
        ));
    }
}
