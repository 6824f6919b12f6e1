//! The hub's hash-chained audit log: the canonical encoding of an entry, its hash, and an
//! offline verifier of an exported chain.
//!
//! # Encoding (version 1)
//!
//! An entry's hash is `SHA-256(encoding)` where `encoding` is, in order:
//!
//! 1. the 16 ASCII bytes `takedown-audit-1`,
//! 2. `seq` as 8 bytes big-endian (unsigned, the first entry is 1),
//! 3. `at` (Unix milliseconds) as 8 bytes big-endian two's complement,
//! 4. `actor`, `kind`, `subject` and `details` (the exact stored JSON text, not
//!    re-serialized), each as its UTF-8 byte length in 4 bytes big-endian followed by the
//!    bytes,
//! 5. `prev_hash`: the 32 raw bytes of the previous entry's hash (32 zero bytes for the
//!    first entry).
//!
//! Exported entries carry both hashes as lowercase hex. A chain verifies when the first
//! entry has `seq` 1 and the zero previous hash, every next entry has `seq` one more than
//! the one before and `prev_hash` equal to its hash, and every `hash` is the hash of its
//! entry. A changed entry fails its own hash; a deleted or reordered entry breaks the
//! `seq`/`prev_hash` link of the entry that follows in the file. Removing entries from the
//! end can only be caught against a head hash known from elsewhere: the verifier prints the
//! head.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separation prefix of the version 1 encoding.
pub const DOMAIN: &[u8; 16] = b"takedown-audit-1";

/// The previous hash of the first entry.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// One entry as exported (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub subject: String,
    /// JSON text, exactly as hashed.
    pub details: String,
    /// Lowercase hex of 32 bytes.
    pub prev_hash: String,
    /// Lowercase hex of 32 bytes.
    pub hash: String,
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// The canonical encoding of an entry (see the module documentation).
pub fn encode(
    seq: u64,
    at: i64,
    actor: &str,
    kind: &str,
    subject: &str,
    details: &str,
    prev_hash: &[u8; 32],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        DOMAIN.len() + 16 + 16 + actor.len() + kind.len() + subject.len() + details.len() + 32,
    );
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&at.to_be_bytes());
    put_str(&mut buf, actor);
    put_str(&mut buf, kind);
    put_str(&mut buf, subject);
    put_str(&mut buf, details);
    buf.extend_from_slice(prev_hash);
    buf
}

/// The hash of an entry.
pub fn entry_hash(
    seq: u64,
    at: i64,
    actor: &str,
    kind: &str,
    subject: &str,
    details: &str,
    prev_hash: &[u8; 32],
) -> [u8; 32] {
    Sha256::digest(encode(seq, at, actor, kind, subject, details, prev_hash)).into()
}

/// Why a chain does not verify; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("line {line}: not an audit entry: {message}")]
    Malformed { line: usize, message: String },
    #[error(
        "line {line} (seq {seq}): expected seq {expected}: an entry is missing or out of order"
    )]
    Sequence {
        line: usize,
        seq: u64,
        expected: u64,
    },
    #[error("line {line} (seq {seq}): prev_hash does not match the previous entry's hash")]
    Link { line: usize, seq: u64 },
    #[error("line {line} (seq {seq}): hash does not match the entry's content")]
    Hash { line: usize, seq: u64 },
    #[error("the signed head does not verify: {0}")]
    Head(String),
    #[error(
        "the file is cut short: it ends at entry {entries}, but the hub signed a head over \
         {signed} entries (entries {} to {signed} are missing)",
        entries + 1
    )]
    CutShort { entries: u64, signed: u64 },
    #[error("entry {seq} does not match the hub's signed head (a different chain)")]
    HeadMismatch { seq: u64 },
}

impl ChainError {
    /// The 1-based line of the first entry that does not match.
    pub fn line(&self) -> usize {
        match self {
            Self::Malformed { line, .. }
            | Self::Sequence { line, .. }
            | Self::Link { line, .. }
            | Self::Hash { line, .. } => *line,
            Self::Head(_) | Self::CutShort { .. } | Self::HeadMismatch { .. } => 0,
        }
    }
}

/// A verified chain: its length and head hash (hex; the zero hash when empty), and what
/// the hub's signed head says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub entries: u64,
    pub head: String,
    /// The signed head checked, if the export held one or one was given.
    pub signed: Option<HeadClaims>,
}

/// The JWS header `typ` of a signed chain head.
pub const HEAD_TYPE: &str = "takedown-audit-head+jwt";

/// What the hub signs of its chain: its length and last hash at a time. An export is
/// whole up to `seq` only if it holds entry `seq` with this hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadClaims {
    pub hub_id: String,
    pub seq: u64,
    /// Hex SHA-256 of entry `seq`.
    pub hash: String,
    /// When it was signed, Unix seconds.
    pub iat: i64,
}

/// The line an export ends with (and what `audit head` writes): the newest signed head the
/// export covers, and the hub's audit public key it verifies with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadLine {
    pub signed_head: String,
    pub audit_key: String,
}

/// Signs a chain head with the hub's audit key (Ed25519 PKCS#8 PEM).
pub fn sign_head(claims: &HeadClaims, kid: &str, private_pem: &[u8]) -> Result<String, String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = EncodingKey::from_ed_pem(private_pem).map_err(|e| e.to_string())?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    header.typ = Some(HEAD_TYPE.to_string());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| e.to_string())
}

/// Verifies a signed chain head against the hub's audit public key (SPKI PEM).
pub fn verify_head(jws: &str, public_pem: &str) -> Result<HeadClaims, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header = jsonwebtoken::decode_header(jws).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some(HEAD_TYPE) || header.alg != Algorithm::EdDSA {
        return Err(format!("not an EdDSA {HEAD_TYPE}"));
    }
    let key = DecodingKey::from_ed_pem(public_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims = ["iat"].into_iter().map(String::from).collect();
    jsonwebtoken::decode::<HeadClaims>(jws, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn hash_from_hex(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

/// Verifies a JSON-lines export (blank lines are skipped) and, when it ends with a
/// [`HeadLine`], that it is whole up to the head the hub signed.
pub fn verify_jsonl(text: &str) -> Result<ChainSummary, ChainError> {
    verify_export(text, None, None)
}

/// Verifies an export against the newest signed head it holds, or `head` when given (a
/// head fetched apart from the file: cutting the file then cannot hide what is missing).
/// `audit_key` (the hub's audit public key, SPKI PEM) overrides the key the head line
/// carries.
pub fn verify_export(
    text: &str,
    head: Option<&HeadLine>,
    audit_key: Option<&str>,
) -> Result<ChainSummary, ChainError> {
    let mut prev = GENESIS;
    let mut expected: u64 = 1;
    let mut in_file: Option<HeadLine> = None;
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if let Some(h) = raw
            .contains("\"signed_head\"")
            .then(|| serde_json::from_str::<HeadLine>(raw).ok())
            .flatten()
        {
            in_file = Some(h);
            continue;
        }
        let rec: AuditRecord = serde_json::from_str(raw).map_err(|e| ChainError::Malformed {
            line,
            message: e.to_string(),
        })?;
        if rec.seq != expected {
            return Err(ChainError::Sequence {
                line,
                seq: rec.seq,
                expected,
            });
        }
        let stated_prev = hash_from_hex(&rec.prev_hash).ok_or_else(|| ChainError::Malformed {
            line,
            message: "prev_hash is not 32 bytes of hex".into(),
        })?;
        if stated_prev != prev {
            return Err(ChainError::Link { line, seq: rec.seq });
        }
        let stated = hash_from_hex(&rec.hash).ok_or_else(|| ChainError::Malformed {
            line,
            message: "hash is not 32 bytes of hex".into(),
        })?;
        let computed = entry_hash(
            rec.seq,
            rec.at,
            &rec.actor,
            &rec.kind,
            &rec.subject,
            &rec.details,
            &prev,
        );
        if computed != stated {
            return Err(ChainError::Hash { line, seq: rec.seq });
        }
        prev = computed;
        hashes.push(computed);
        expected += 1;
    }
    let entries = expected - 1;
    let signed = match head.or(in_file.as_ref()) {
        None => None,
        Some(h) => {
            let key = audit_key.unwrap_or(&h.audit_key);
            let claims = verify_head(&h.signed_head, key).map_err(ChainError::Head)?;
            if claims.seq > entries {
                return Err(ChainError::CutShort {
                    entries,
                    signed: claims.seq,
                });
            }
            let at = claims
                .seq
                .checked_sub(1)
                .and_then(|i| hashes.get(i as usize));
            let matches = match at {
                Some(h) => hash_from_hex(&claims.hash).as_ref() == Some(h),
                None => claims.seq == 0,
            };
            if !matches {
                return Err(ChainError::HeadMismatch { seq: claims.seq });
            }
            Some(claims)
        }
    };
    Ok(ChainSummary {
        entries,
        head: hex::encode(prev),
        signed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let details = format!("{{\"n\":{seq}}}");
                let h = entry_hash(seq, 1000 + seq as i64, "hub", "test", "s", &details, &prev);
                let r = AuditRecord {
                    seq,
                    at: 1000 + seq as i64,
                    actor: "hub".into(),
                    kind: "test".into(),
                    subject: "s".into(),
                    details,
                    prev_hash: hex::encode(prev),
                    hash: hex::encode(h),
                };
                prev = h;
                r
            })
            .collect()
    }

    fn jsonl(rs: &[AuditRecord]) -> String {
        rs.iter()
            .map(|r| serde_json::to_string(r).expect("serializes") + "\n")
            .collect()
    }

    #[test]
    fn untouched_chain_verifies() {
        let rs = chain(5);
        let s = verify_jsonl(&jsonl(&rs)).expect("verifies");
        assert_eq!(s.entries, 5);
        assert_eq!(s.head, rs[4].hash);
        assert_eq!(verify_jsonl("").expect("empty").entries, 0);
    }

    #[test]
    fn changed_field_names_the_entry() {
        let mut rs = chain(5);
        rs[2].details = "{\"n\":99}".into();
        assert_eq!(
            verify_jsonl(&jsonl(&rs)),
            Err(ChainError::Hash { line: 3, seq: 3 })
        );
        let mut rs = chain(5);
        rs[1].at += 1;
        assert_eq!(verify_jsonl(&jsonl(&rs)).unwrap_err().line(), 2);
    }

    #[test]
    fn rehashed_change_breaks_the_next_link() {
        let mut rs = chain(4);
        rs[1].actor = "mallory".into();
        let prev = hash_from_hex(&rs[1].prev_hash).expect("hex");
        let r = &rs[1];
        rs[1].hash = hex::encode(entry_hash(
            r.seq, r.at, &r.actor, &r.kind, &r.subject, &r.details, &prev,
        ));
        assert_eq!(
            verify_jsonl(&jsonl(&rs)),
            Err(ChainError::Link { line: 3, seq: 3 })
        );
    }

    #[test]
    fn deleted_entry_names_the_next() {
        let mut rs = chain(5);
        rs.remove(1);
        assert_eq!(
            verify_jsonl(&jsonl(&rs)),
            Err(ChainError::Sequence {
                line: 2,
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn swapped_entries_name_the_first_moved() {
        let mut rs = chain(5);
        rs.swap(2, 3);
        assert_eq!(
            verify_jsonl(&jsonl(&rs)),
            Err(ChainError::Sequence {
                line: 3,
                seq: 4,
                expected: 3
            })
        );
    }

    #[test]
    fn encoding_is_length_prefixed() {
        // Moving a byte between adjacent fields changes the hash.
        let a = entry_hash(1, 0, "ab", "c", "", "{}", &GENESIS);
        let b = entry_hash(1, 0, "a", "bc", "", "{}", &GENESIS);
        assert_ne!(a, b);
    }

    #[test]
    fn a_file_cut_short_of_its_signed_head_fails_naming_the_gap() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let rs = chain(5);
        let head = |seq: u64| HeadLine {
            signed_head: sign_head(
                &HeadClaims {
                    hub_id: "hub".into(),
                    seq,
                    hash: rs[seq as usize - 1].hash.clone(),
                    iat: 1,
                },
                "audit-1",
                kp.serialize_pem().as_bytes(),
            )
            .unwrap(),
            audit_key: kp.public_key_pem(),
        };
        let whole = format!(
            "{}{}\n",
            jsonl(&rs),
            serde_json::to_string(&head(5)).unwrap()
        );
        let s = verify_jsonl(&whole).expect("whole export verifies");
        assert_eq!((s.entries, s.signed.map(|h| h.seq)), (5, Some(5)));
        // Cut to three entries (and its head line dropped): the head given apart catches it.
        let cut = jsonl(&rs[..3]);
        assert_eq!(verify_jsonl(&cut).unwrap().signed, None);
        let err = verify_export(&cut, Some(&head(5)), None).unwrap_err();
        assert_eq!(
            err,
            ChainError::CutShort {
                entries: 3,
                signed: 5
            }
        );
        assert!(
            err.to_string().contains("entries 4 to 5 are missing"),
            "{err}"
        );
        // A head over fewer entries covers a longer file.
        let s = verify_export(&jsonl(&rs), Some(&head(3)), None).unwrap();
        assert_eq!(s.signed.map(|h| h.seq), Some(3));
        // Another key, or another chain, is refused.
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        assert!(matches!(
            verify_export(&jsonl(&rs), Some(&head(5)), Some(&other.public_key_pem())),
            Err(ChainError::Head(_))
        ));
        let mut forged = head(5);
        forged.signed_head = sign_head(
            &HeadClaims {
                hub_id: "hub".into(),
                seq: 2,
                hash: rs[3].hash.clone(),
                iat: 1,
            },
            "audit-1",
            kp.serialize_pem().as_bytes(),
        )
        .unwrap();
        assert_eq!(
            verify_export(&jsonl(&rs), Some(&forged), None).unwrap_err(),
            ChainError::HeadMismatch { seq: 2 }
        );
    }
}
