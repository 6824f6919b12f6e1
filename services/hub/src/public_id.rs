//! Opaque ids for targets and deliveries, as clients see them.
//!
//! Inside the hub a target and a delivery are row ids: integers that grow by one. On the wire
//! they would tell an agency how many targets other agencies referred between two of its own
//! lists, and a platform how many deliveries went to other platforms. So an id leaves the hub
//! only encrypted: the 16-byte block `row id (8 bytes, big-endian) | kind (1 byte) | 7 zero
//! bytes`, enciphered with AES-256 under a key the deployment makes on its first start and
//! keeps in its database (`hub_secrets`), so every replica and every restart names a row the
//! same way. It is written `t-` (target) or `d-` (delivery) and 32 hex digits.
//!
//! Reading an id deciphers it and checks the kind byte and the zeros: a guessed, mistyped or
//! truncated id, an id of the other kind and one from another deployment are all unknown
//! (the chance that a made-up id reads as a real one is 2⁻⁶⁴). One block cipher call each
//! way; no lookup.

use aes::{
    Aes256,
    cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray},
};
use rand::TryRngCore;
use takedown_store::{DeliveryId, Store, TargetId};

/// The `hub_secrets` name of the key.
const SECRET: &str = "public-ids";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Target,
    Delivery,
    /// A refused report's row: page tokens only.
    Refusal,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Target => b't',
            Kind::Delivery => b'd',
            Kind::Refusal => b'r',
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Target => "t-",
            Kind::Delivery => "d-",
            Kind::Refusal => "r-",
        }
    }
}

/// Turns row ids into public ids and back.
#[derive(Clone)]
pub struct PublicIds {
    cipher: Aes256,
}

impl std::fmt::Debug for PublicIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicIds(<key redacted>)")
    }
}

impl PublicIds {
    /// The deployment's codec: its stored key, made and stored now if this is the first
    /// start of any replica.
    pub async fn load<S: Store>(store: &S, now_ms: i64) -> anyhow::Result<Self> {
        let mut candidate = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut candidate)
            .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
        let key = store.hub_secret(SECRET, &candidate, now_ms).await?;
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "the stored {SECRET:?} secret has {} bytes, not 32",
                key.len()
            )
        })?;
        Ok(Self::new(&key))
    }

    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256::new(GenericArray::from_slice(key)),
        }
    }

    /// The public id of target row `id`.
    pub fn target(&self, id: TargetId) -> String {
        self.encode(Kind::Target, id.get())
    }

    /// The public id of delivery row `id`.
    pub fn delivery(&self, id: DeliveryId) -> String {
        self.encode(Kind::Delivery, id.get())
    }

    /// The public id of refused-report row `id` (a page token).
    pub fn refusal(&self, id: i64) -> String {
        self.encode(Kind::Refusal, id)
    }

    /// The refused-report row a page token names, if this deployment issued it.
    pub fn parse_refusal(&self, public: &str) -> Option<i64> {
        self.decode(Kind::Refusal, public)
    }

    /// The target row a public id names, if this deployment issued it.
    pub fn parse_target(&self, public: &str) -> Option<TargetId> {
        self.decode(Kind::Target, public).map(TargetId::new)
    }

    /// The delivery row a public id names, if this deployment issued it.
    pub fn parse_delivery(&self, public: &str) -> Option<DeliveryId> {
        self.decode(Kind::Delivery, public).map(DeliveryId::new)
    }

    fn encode(&self, kind: Kind, id: i64) -> String {
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(&id.to_be_bytes());
        block[8] = kind.byte();
        let block = GenericArray::from_mut_slice(&mut block);
        self.cipher.encrypt_block(block);
        format!("{}{}", kind.prefix(), hex::encode(block))
    }

    fn decode(&self, kind: Kind, public: &str) -> Option<i64> {
        let digits = public.trim().strip_prefix(kind.prefix())?;
        let mut block = [0u8; 16];
        hex::decode_to_slice(digits, &mut block).ok()?;
        self.cipher
            .decrypt_block(GenericArray::from_mut_slice(&mut block));
        if block[8] != kind.byte() || block[9..].iter().any(|b| *b != 0) {
            return None;
        }
        Some(i64::from_be_bytes(block[..8].try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> PublicIds {
        PublicIds::new(&[7; 32])
    }

    #[test]
    fn ids_round_trip_and_reveal_no_order() {
        let c = ids();
        let mut seen = std::collections::HashSet::new();
        for id in [1, 2, 3, 41, 42, i64::MAX] {
            let (id, delivery) = (TargetId::new(id), DeliveryId::new(id));
            let t = c.target(id);
            assert!(t.starts_with("t-") && t.len() == 34, "{t}");
            assert_eq!(c.parse_target(&t), Some(id));
            assert_eq!(
                c.parse_target(&t.to_uppercase().replace("T-", "t-")),
                Some(id)
            );
            let d = c.delivery(delivery);
            assert!(d.starts_with("d-"), "{d}");
            assert_eq!(c.parse_delivery(&d), Some(delivery));
            assert!(seen.insert(t) && seen.insert(d));
        }
        // Neighbouring rows share no prefix a reader could count on.
        let (a, b) = (c.target(TargetId::new(41)), c.target(TargetId::new(42)));
        assert_ne!(a[2..6], b[2..6]);
    }

    #[test]
    fn made_up_and_foreign_ids_are_unknown() {
        let c = ids();
        let t = c.target(TargetId::new(42));
        // The other kind, a row id as text, a flipped digit, a cut or padded id.
        assert_eq!(c.parse_delivery(&t), None);
        assert_eq!(c.parse_delivery(&t.replacen("t-", "d-", 1)), None);
        assert_eq!(c.parse_target("42"), None);
        assert_eq!(c.parse_target("t-42"), None);
        let flipped = format!("{}{}", &t[..33], if t.ends_with('0') { '1' } else { '0' });
        assert_eq!(c.parse_target(&flipped), None);
        assert_eq!(c.parse_target(&t[..33]), None);
        assert_eq!(c.parse_target(&format!("{t}0")), None);
        assert_eq!(c.parse_target(""), None);
        // Another deployment's key.
        assert_eq!(PublicIds::new(&[8; 32]).parse_target(&t), None);
    }
}
