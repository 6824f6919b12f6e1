//! The development PKI behind `certs dev` and `certs issue`: a CA, the hub's certificate
//! and one certificate per organisation, written with [`takedown_net::pki`].
//!
//! The hub's certificate has stem `hub`, identity `urn:takedown:hub:hub` and DNS `hub`;
//! each platform's has DNS `sidecar-<name>` (the docker-compose service names). Every
//! certificate is also valid for `localhost`, 127.0.0.1 and ::1.

use std::path::{Path, PathBuf};

use takedown_net::pki::{Ca, PkiError, write_dev_pki};
use takedown_protocol::ident::{IdentError, Identity, IdentityRole, OrgId, PlatformName};

/// Organisations of the development PKI when none is named.
pub const DEFAULT_COORDINATORS: [&str; 1] = ["europol"];
pub const DEFAULT_AGENCIES: [&str; 2] = ["agency-fr", "agency-de"];
pub const DEFAULT_PLATFORMS: [&str; 3] = ["telegram", "tamtam", "x"];

/// Why certificates were not written.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{0} already holds a CA; pass --force to replace it and every certificate")]
    CaExists(PathBuf),
    #[error("{0} already exists; pass --force to replace it")]
    CertExists(PathBuf),
    #[error("bad {role} id: {source}")]
    BadId {
        role: &'static str,
        source: IdentError,
    },
    #[error("{0} appears twice")]
    Duplicate(String),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// Who gets a certificate in a development PKI.
#[derive(Debug, Clone, Default)]
pub struct DevPki {
    pub coordinators: Vec<String>,
    pub agencies: Vec<String>,
    pub platforms: Vec<String>,
    /// Extra DNS names for the server certificates (hub and platforms).
    pub dns: Vec<String>,
}

impl DevPki {
    /// The identities to issue, hub first; the defaults when no organisation is named.
    pub fn identities(&self) -> Result<Vec<Identity>, CertsError> {
        let none =
            self.coordinators.is_empty() && self.agencies.is_empty() && self.platforms.is_empty();
        let pick = |given: &[String], default: &[&str]| -> Vec<String> {
            if none {
                default.iter().map(|s| s.to_string()).collect()
            } else {
                given.to_vec()
            }
        };
        let mut out = vec![identity(IdentityRole::Hub, "hub")?];
        for c in pick(&self.coordinators, &DEFAULT_COORDINATORS) {
            out.push(identity(IdentityRole::Coordinator, &c)?);
        }
        for a in pick(&self.agencies, &DEFAULT_AGENCIES) {
            out.push(identity(IdentityRole::Agency, &a)?);
        }
        for p in pick(&self.platforms, &DEFAULT_PLATFORMS) {
            out.push(identity(IdentityRole::Platform, &p)?);
        }
        for (i, id) in out.iter().enumerate() {
            if out[..i].iter().any(|o| o.id == id.id) {
                return Err(CertsError::Duplicate(id.id.to_string()));
            }
        }
        Ok(out)
    }

    /// DNS names of an identity's certificate.
    pub fn dns_of(&self, id: &Identity) -> Vec<String> {
        let mut names = default_dns(id);
        if matches!(id.role, IdentityRole::Hub | IdentityRole::Platform) {
            names.extend(self.dns.iter().cloned());
        }
        names
    }

    /// Writes the CA and every certificate into `dir`; refuses to replace a CA unless
    /// `force`. Returns the identities issued.
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<Identity>, CertsError> {
        let ids = self.identities()?;
        let ca = dir.join("ca.pem");
        if !force && (crate::client::exists(&ca) || crate::client::exists(&dir.join("ca.key"))) {
            return Err(CertsError::CaExists(dir.to_path_buf()));
        }
        write_dev_pki(dir, &ids, |id| self.dns_of(id))?;
        Ok(ids)
    }
}

/// The DNS names every certificate of this identity gets: `hub` for the hub,
/// `sidecar-<name>` for platforms.
pub fn default_dns(id: &Identity) -> Vec<String> {
    match id.role {
        IdentityRole::Hub => vec!["hub".to_string()],
        IdentityRole::Platform => vec![format!("sidecar-{}", id.id)],
        IdentityRole::Agency | IdentityRole::Coordinator => Vec::new(),
    }
}

/// A checked identity; platform names are lower-cased first.
pub fn identity(role: IdentityRole, id: &str) -> Result<Identity, CertsError> {
    let bad = |source| CertsError::BadId {
        role: role.as_str(),
        source,
    };
    let id = match role {
        IdentityRole::Platform => {
            let name = PlatformName::parse(id).map_err(bad)?;
            OrgId::parse(name.as_str()).map_err(bad)?
        }
        _ => OrgId::parse(id).map_err(bad)?,
    };
    Ok(Identity::new(role, id))
}

/// Issues one more certificate from the CA in `dir` and writes `<dir>/<id>.pem` and
/// `<dir>/<id>.key`; refuses to replace them unless `force`.
pub fn issue(
    dir: &Path,
    identity: &Identity,
    extra_dns: &[String],
    force: bool,
) -> Result<PathBuf, CertsError> {
    let pem = dir.join(format!("{}.pem", identity.id));
    if !force && crate::client::exists(&pem) {
        return Err(CertsError::CertExists(pem));
    }
    let ca = Ca::load_dir(dir)?;
    let mut dns = default_dns(identity);
    dns.extend(extra_dns.iter().cloned());
    ca.issue(identity, &dns)?.write(dir, identity.id.as_str())?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_only_when_nobody_is_named() {
        let ids = DevPki::default().identities().unwrap();
        let uris: Vec<String> = ids.iter().map(Identity::to_uri).collect();
        assert_eq!(
            uris,
            [
                "urn:takedown:hub:hub",
                "urn:takedown:coordinator:europol",
                "urn:takedown:agency:agency-fr",
                "urn:takedown:agency:agency-de",
                "urn:takedown:platform:telegram",
                "urn:takedown:platform:tamtam",
                "urn:takedown:platform:x",
            ]
        );
        let only = DevPki {
            agencies: vec!["agency-nl".into()],
            ..Default::default()
        };
        assert_eq!(only.identities().unwrap().len(), 2);
        let bad = DevPki {
            agencies: vec!["Agency NL".into()],
            ..Default::default()
        };
        assert!(matches!(bad.identities(), Err(CertsError::BadId { .. })));
        let dup = DevPki {
            agencies: vec!["x".into()],
            platforms: vec!["x".into()],
            ..Default::default()
        };
        assert!(matches!(dup.identities(), Err(CertsError::Duplicate(_))));
    }

    #[test]
    fn server_certificates_get_their_compose_names() {
        let pki = DevPki {
            dns: vec!["hub.example".into()],
            ..Default::default()
        };
        let ids = pki.identities().unwrap();
        assert_eq!(pki.dns_of(&ids[0]), ["hub", "hub.example"]);
        assert!(pki.dns_of(&ids[2]).is_empty());
        assert_eq!(pki.dns_of(&ids[4]), ["sidecar-telegram", "hub.example"]);
    }
}
