//! The development PKI: a CA and one certificate per identity, generated with rcgen.
//!
//! Every certificate carries its identity URI (`urn:takedown:<role>:<id>`), the DNS names
//! and addresses it is served under, and both the server and client EKU (the hub and the
//! sidecars are servers and clients). Files are written as `<dir>/ca.pem`, `<dir>/ca.key`
//! and `<dir>/<id>.pem` + `<dir>/<id>.key`. Private keys are written with mode 0600.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use takedown_protocol::ident::Identity;

/// Why certificate generation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// A certificate authority able to issue certificates.
pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// An issued certificate and its private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    /// A fresh self-signed CA.
    pub fn generate(name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "takedown");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA read back from its certificate and key PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            issuer,
        })
    }

    /// Reads `<dir>/ca.pem` and `<dir>/ca.key`.
    pub fn load_dir(dir: &Path) -> Result<Self, PkiError> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|source| PkiError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        Self::from_pem(&read("ca.pem")?, &read("ca.key")?)
    }

    /// Issues a certificate for `identity`, valid for `dns_names` plus localhost,
    /// 127.0.0.1 and ::1.
    pub fn issue(&self, identity: &Identity, dns_names: &[String]) -> Result<Issued, PkiError> {
        let mut names: Vec<String> = vec!["localhost".into()];
        names.extend(dns_names.iter().cloned());
        names.dedup();
        let mut params = CertificateParams::new(names)?;
        params
            .subject_alt_names
            .push(SanType::URI(identity.to_uri().try_into()?));
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "takedown");
        dn.push(DnType::OrganizationalUnitName, identity.role.as_str());
        dn.push(DnType::CommonName, identity.id.as_str());
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem` and `ca.key` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), PkiError> {
        write_file(dir, "ca.pem", &self.cert_pem, false)?;
        write_file(dir, "ca.key", &self.key_pem, true)
    }
}

impl Issued {
    /// Writes `<stem>.pem` and `<stem>.key` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), PkiError> {
        write_file(dir, &format!("{stem}.pem"), &self.cert_pem, false)?;
        write_file(dir, &format!("{stem}.key"), &self.key_pem, true)
    }
}

fn write_file(dir: &Path, name: &str, content: &str, secret: bool) -> Result<(), PkiError> {
    let path = dir.join(name);
    let err = |source| PkiError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::write(&path, content).map_err(err)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

/// The development coordinator root key: `root.key` (PKCS#8, mode 0600) and
/// `root.pub.pem`, which the hub and the sidecars pin (`trust.roots`) by default.
pub const DEV_ROOT_KEY: &str = "root.key";
pub const DEV_ROOT_PUBLIC: &str = "root.pub.pem";

/// An Ed25519 key pair for signing key-set statements: (PKCS#8 PEM, SPKI PEM).
pub fn generate_root_key() -> Result<(String, String), PkiError> {
    let kp = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    Ok((kp.serialize_pem(), kp.public_key_pem()))
}

/// Writes a fresh root key pair into `dir` as [`DEV_ROOT_KEY`] and [`DEV_ROOT_PUBLIC`].
pub fn write_root_key(dir: &Path) -> Result<(), PkiError> {
    let (private, public) = generate_root_key()?;
    write_file(dir, DEV_ROOT_KEY, &private, true)?;
    write_file(dir, DEV_ROOT_PUBLIC, &public, false)
}

/// Generates a whole development PKI into `dir`: the CA, for each identity a certificate
/// named after its id (the hub's is `hub`), and a coordinator root key for key-set
/// statements ([`write_root_key`]). `dns_of` gives extra DNS names per identity (e.g. the
/// compose service name).
pub fn write_dev_pki(
    dir: &Path,
    identities: &[Identity],
    dns_of: impl Fn(&Identity) -> Vec<String>,
) -> Result<Ca, PkiError> {
    let ca = Ca::generate("takedown development CA")?;
    ca.write(dir)?;
    for id in identities {
        ca.issue(id, &dns_of(id))?.write(dir, id.id.as_str())?;
    }
    write_root_key(dir)?;
    Ok(ca)
}

#[cfg(test)]
mod tests {
    use super::*;
    use takedown_protocol::ident::{IdentityRole, OrgId};

    #[test]
    fn issued_certificates_carry_their_identity() {
        let ca = Ca::generate("test").unwrap();
        let id = Identity::new(IdentityRole::Platform, OrgId::parse("telegram").unwrap());
        let issued = ca.issue(&id, &["sidecar-telegram".into()]).unwrap();
        let der = rustls_pemfile::certs(&mut issued.cert_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(crate::identity_of_cert(&der).unwrap(), id);
        // The CA can be reloaded and still issue.
        let again = Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap();
        again.issue(&id, &[]).unwrap();
    }
}
