//! The coordinator's side of key-set statements: the next statement from the newest one
//! and the changes asked for, and a plain account of what changed, shown before signing.

use std::collections::BTreeSet;

use takedown_protocol::{
    ident::OrgId,
    keyset::{KeySetClaims, RootKey, StatementKey, thumbprint},
    signing,
    timestamp::utc,
};

/// What a coordinator asks of the next statement. Times are Unix seconds.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// (agency, kid, SPKI PEM), valid from `now`.
    pub add: Vec<(String, String, String)>,
    pub retire: Vec<String>,
    pub compromise: Vec<String>,
    /// When a retirement or compromise takes effect.
    pub at: i64,
    pub reason: String,
    /// Root public keys (SPKI PEM) to endorse.
    pub endorse_roots: Vec<String>,
    /// Root thumbprints to stop endorsing.
    pub drop_roots: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty()
            && self.retire.is_empty()
            && self.compromise.is_empty()
            && self.endorse_roots.is_empty()
            && self.drop_roots.is_empty()
    }
}

/// Why the next statement cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error("nothing to change: name --add, --retire, --compromise, --endorse-root or --drop-root")]
    Nothing,
    #[error("--add {0:?}: expected AGENCY:KID:PUBLIC_KEY_FILE")]
    BadAdd(String),
    #[error("agency id {0:?} is not a valid organisation id")]
    BadAgency(String),
    #[error("key id {0:?} must have 1 to 128 characters")]
    BadKid(String),
    #[error("key {kid:?}: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("key {0:?} is already in the statement; add a new key id instead")]
    Exists(String),
    #[error("key {0:?} is not in the statement")]
    Unknown(String),
    #[error("key {kid:?} was already retired at {at}")]
    AlreadyRetired { kid: String, at: String },
    #[error("root {0:?} is not endorsed by the statement")]
    UnknownRoot(String),
    #[error("root key: {0}")]
    Root(String),
}

/// Splits `AGENCY:KID:FILE`.
pub fn parse_add(spec: &str) -> Result<(String, String, String), ChangeError> {
    let mut parts = spec.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(k), Some(f)) if !a.is_empty() && !k.is_empty() && !f.is_empty() => {
            Ok((a.to_string(), k.to_string(), f.to_string()))
        }
        _ => Err(ChangeError::BadAdd(spec.to_string())),
    }
}

/// The statement after `current` (none: the first) with `changes`, signed at `now`; and
/// one line per change, for the coordinator to read before it is published.
pub fn next(
    current: Option<&KeySetClaims>,
    changes: &Changes,
    now: i64,
) -> Result<(KeySetClaims, Vec<String>), ChangeError> {
    if changes.is_empty() {
        return Err(ChangeError::Nothing);
    }
    let mut next = KeySetClaims {
        version: current.map_or(1, |c| c.version + 1),
        iat: now,
        keys: current.map(|c| c.keys.clone()).unwrap_or_default(),
        roots: current.map(|c| c.roots.clone()).unwrap_or_default(),
    };
    let mut said = Vec::new();
    for (agency, kid, pem) in &changes.add {
        OrgId::parse(agency).map_err(|_| ChangeError::BadAgency(agency.clone()))?;
        if kid.is_empty() || kid.len() > 128 {
            return Err(ChangeError::BadKid(kid.clone()));
        }
        signing::check_public_key(pem.as_bytes()).map_err(|e| ChangeError::BadKey {
            kid: kid.clone(),
            reason: e.to_string(),
        })?;
        if next.keys.iter().any(|k| &k.kid == kid) {
            return Err(ChangeError::Exists(kid.clone()));
        }
        next.keys.push(StatementKey {
            agency_id: agency.clone(),
            kid: kid.clone(),
            public_key_pem: pem.clone(),
            valid_from: now,
            retired_at: None,
            compromised_since: None,
            reason: String::new(),
        });
        said.push(format!(
            "add key {kid} of {agency}, valid from {}",
            utc(now)
        ));
    }
    fn find<'a>(
        keys: &'a mut [StatementKey],
        kid: &str,
    ) -> Result<&'a mut StatementKey, ChangeError> {
        keys.iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| ChangeError::Unknown(kid.to_string()))
    }
    for kid in &changes.retire {
        let k = find(&mut next.keys, kid)?;
        if let Some(at) = k.retired_at {
            return Err(ChangeError::AlreadyRetired {
                kid: kid.clone(),
                at: utc(at),
            });
        }
        k.retired_at = Some(changes.at);
        if !changes.reason.is_empty() {
            k.reason = changes.reason.clone();
        }
        said.push(format!(
            "retire key {kid} of {} at {}: lists it signed before stand",
            k.agency_id,
            utc(changes.at)
        ));
    }
    for kid in &changes.compromise {
        let k = find(&mut next.keys, kid)?;
        // A compromise only ever moves earlier: what was void stays void.
        let since = k
            .compromised_since
            .map_or(changes.at, |s| s.min(changes.at));
        k.compromised_since = Some(since);
        if !changes.reason.is_empty() {
            k.reason = changes.reason.clone();
        }
        said.push(format!(
            "key {kid} of {} compromised since {}: every list it signed from then on is void",
            k.agency_id,
            utc(since)
        ));
    }
    for pem in &changes.endorse_roots {
        let kid = thumbprint(pem).map_err(|e| ChangeError::Root(e.to_string()))?;
        if !next.roots.iter().any(|r| r.kid == kid) {
            next.roots.push(RootKey {
                kid: kid.clone(),
                public_key_pem: pem.clone(),
            });
            said.push(format!(
                "endorse root {kid} for the statements after this one"
            ));
        }
    }
    for kid in &changes.drop_roots {
        let before = next.roots.len();
        next.roots.retain(|r| &r.kid != kid);
        if next.roots.len() == before {
            return Err(ChangeError::UnknownRoot(kid.clone()));
        }
        said.push(format!("stop endorsing root {kid}"));
    }
    let agencies: BTreeSet<&str> = next.keys.iter().map(|k| k.agency_id.as_str()).collect();
    said.push(format!(
        "version {}: {} keys of {} agencies, {} endorsed roots",
        next.version,
        next.keys.len(),
        agencies.len(),
        next.roots.len()
    ));
    Ok((next, said))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> String {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
            .unwrap()
            .public_key_pem()
    }

    #[test]
    fn the_next_statement_carries_the_old_keys_and_the_changes() {
        let add = Changes {
            add: vec![("agency-fr".into(), "fr-1".into(), pem())],
            ..Changes::default()
        };
        let (v1, _) = next(None, &add, 1_000).unwrap();
        assert_eq!(v1.version, 1);
        assert_eq!(v1.keys[0].valid_from, 1_000);
        let lost = Changes {
            add: vec![("agency-fr".into(), "fr-2".into(), pem())],
            compromise: vec!["fr-1".into()],
            at: 900,
            reason: "laptop stolen".into(),
            ..Changes::default()
        };
        let (v2, said) = next(Some(&v1), &lost, 2_000).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.keys.len(), 2);
        assert_eq!(v2.keys[0].compromised_since, Some(900));
        assert_eq!(v2.keys[0].reason, "laptop stolen");
        assert!(
            said.iter()
                .any(|l| l.contains("fr-1") && l.contains("void"))
        );
        // A later compromise time does not shorten the void span.
        let later = Changes {
            compromise: vec!["fr-1".into()],
            at: 5_000,
            ..Changes::default()
        };
        let (v3, _) = next(Some(&v2), &later, 3_000).unwrap();
        assert_eq!(v3.keys[0].compromised_since, Some(900));
    }

    #[test]
    fn wrong_changes_are_refused_by_name() {
        let (v1, _) = next(
            None,
            &Changes {
                add: vec![("agency-fr".into(), "fr-1".into(), pem())],
                ..Changes::default()
            },
            1,
        )
        .unwrap();
        let again = Changes {
            add: vec![("agency-fr".into(), "fr-1".into(), pem())],
            ..Changes::default()
        };
        assert_eq!(
            next(Some(&v1), &again, 2).unwrap_err(),
            ChangeError::Exists("fr-1".into())
        );
        let unknown = Changes {
            retire: vec!["nope".into()],
            ..Changes::default()
        };
        assert_eq!(
            next(Some(&v1), &unknown, 2).unwrap_err(),
            ChangeError::Unknown("nope".into())
        );
        assert_eq!(
            next(Some(&v1), &Changes::default(), 2).unwrap_err(),
            ChangeError::Nothing
        );
        assert_eq!(
            parse_add("agency-fr:fr-1").unwrap_err(),
            ChangeError::BadAdd("agency-fr:fr-1".into())
        );
        assert_eq!(
            parse_add("agency-fr:fr-1:keys/fr-1.pub.pem").unwrap().2,
            "keys/fr-1.pub.pem"
        );
    }
}
