//! Agency signing keys and signed lists.

use takedown_protocol::{
    list::{ListSpec, SignedList, build_signed, sign_items},
    pb::{self, LegalBasis, TargetKind},
    timestamp::now_millis,
};

/// An agency's Ed25519 signing key.
#[derive(Clone)]
pub struct AgencyKey {
    pub agency: String,
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
}

impl AgencyKey {
    pub fn generate(agency: &str, kid: &str) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        Self {
            agency: agency.into(),
            kid: kid.into(),
            private_pem: kp.serialize_pem(),
            public_pem: kp.public_key_pem(),
        }
    }

    /// A spec for a list by this key's agency, issued now, valid one hour.
    pub fn spec(
        &self,
        list_id: &str,
        action_day: Option<&str>,
        referrals: Vec<pb::Referral>,
    ) -> ListSpec {
        ListSpec {
            list_id: list_id.into(),
            agency_id: self.agency.clone(),
            action_day_id: action_day.map(str::to_string),
            referrals,
            audience: "takedown-hub".into(),
            issued_at: now_millis() / 1000,
            lifetime_secs: 3600,
        }
    }

    pub fn sign(&self, spec: &ListSpec) -> SignedList {
        build_signed(spec, &self.kid, self.private_pem.as_bytes()).expect("sign")
    }

    /// Signs already encoded items byte for byte.
    pub fn sign_raw(&self, spec: &ListSpec, items: Vec<Vec<u8>>) -> SignedList {
        sign_items(spec, items, &self.kid, self.private_pem.as_bytes()).expect("sign")
    }

    /// Builds and signs a list in one go.
    pub fn list(
        &self,
        list_id: &str,
        action_day: Option<&str>,
        referrals: Vec<pb::Referral>,
    ) -> SignedList {
        self.sign(&self.spec(list_id, action_day, referrals))
    }
}

/// A terms-of-service referral of an account.
pub fn referral(platform: &str, target: &str) -> pb::Referral {
    pb::Referral {
        platform: platform.into(),
        kind: TargetKind::Account as i32,
        target: target.into(),
        category: "terrorist-propaganda".into(),
        legal_basis: LegalBasis::TosReferral as i32,
        removal_order_ref: String::new(),
        evidence_sha256: vec![],
        note: String::new(),
        removal_order: None,
    }
}

/// When [`removal_order`]'s orders were issued (2026-11-01T00:00:00Z).
pub const ORDER_ISSUED_AT_MS: i64 = 1_793_491_200_000;

/// A removal order of an account, with its reference, issued by the German federal police
/// office ([`ORDER_ISSUED_AT_MS`]).
pub fn removal_order(platform: &str, target: &str, reference: &str) -> pb::Referral {
    pb::Referral {
        legal_basis: LegalBasis::RemovalOrder as i32,
        removal_order_ref: reference.into(),
        removal_order: Some(takedown_protocol::removal_order::example(
            "Bundeskriminalamt",
            "DE",
            ORDER_ISSUED_AT_MS,
        )),
        ..referral(platform, target)
    }
}

/// `n` distinct referrals on `platform`: `<prefix>_0`, `<prefix>_1`, ...
pub fn referrals(platform: &str, prefix: &str, n: usize) -> Vec<pb::Referral> {
    (0..n)
        .map(|i| referral(platform, &format!("{prefix}_{i}")))
        .collect()
}

pub fn request(s: &SignedList) -> pb::SubmitReferralListRequest {
    pb::SubmitReferralListRequest {
        list: s.list.clone(),
        signature: s.signature.clone(),
    }
}
