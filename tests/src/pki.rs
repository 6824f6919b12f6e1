//! A development PKI per test: the CA, the hub, a coordinator, agencies and platforms, the
//! coordinator root key of key-set statements; and an
//! untrusted PKI whose certificates the hub must refuse.

use std::path::{Path, PathBuf};

use takedown_net::{TlsMaterial, pki::Ca};
use takedown_protocol::ident::{Identity, IdentityRole, OrgId};

pub const COORDINATOR: &str = "europol";
pub const AGENCIES: &[&str] = &["agency-fr", "agency-de"];
pub const PLATFORMS: &[&str] = &["telegram", "tamtam", "x"];

pub struct TestPki {
    pub dir: PathBuf,
    ca: Ca,
}

pub fn identity(role: IdentityRole, id: &str) -> Identity {
    Identity::new(role, OrgId::parse(id).expect("valid org id"))
}

impl TestPki {
    /// Generates the CA and certificates for the default world into `dir`.
    pub fn generate(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("pki dir");
        let ca = Ca::generate("test CA").expect("CA");
        ca.write(dir).expect("write CA");
        takedown_net::pki::write_root_key(dir).expect("coordinator root key");
        let pki = Self {
            dir: dir.to_path_buf(),
            ca,
        };
        pki.issue(IdentityRole::Hub, "hub");
        pki.issue(IdentityRole::Coordinator, COORDINATOR);
        for a in AGENCIES {
            pki.issue(IdentityRole::Agency, a);
        }
        for p in PLATFORMS {
            pki.issue(IdentityRole::Platform, p);
        }
        pki
    }

    /// Issues one more certificate (files `<id>.pem` / `<id>.key`).
    pub fn issue(&self, role: IdentityRole, id: &str) {
        self.ca
            .issue(&identity(role, id), &[])
            .expect("issue")
            .write(&self.dir, id)
            .expect("write cert");
    }

    pub fn material(&self, id: &str) -> TlsMaterial {
        TlsMaterial::load_dir(&self.dir, id).expect("tls material")
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// The coordinator root's public key, which the hub and the sidecars pin.
    pub fn root_public(&self) -> PathBuf {
        self.dir.join(takedown_net::pki::DEV_ROOT_PUBLIC)
    }
    /// The coordinator root's private key, which signs key-set statements.
    pub fn root_key(&self) -> PathBuf {
        self.dir.join(takedown_net::pki::DEV_ROOT_KEY)
    }
    pub fn cert(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pem"))
    }
    pub fn key(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.key"))
    }
}

/// Material signed by another CA but trusting the real CA (so the client side of the
/// handshake is happy): the hub must refuse it.
pub fn untrusted_material(real: &TestPki, id: &str, role: IdentityRole) -> TlsMaterial {
    let rogue = Ca::generate("rogue CA").expect("rogue CA");
    let issued = rogue.issue(&identity(role, id), &[]).expect("rogue cert");
    TlsMaterial {
        ca_pem: std::fs::read(real.ca_pem()).expect("real CA"),
        cert_pem: issued.cert_pem.into_bytes(),
        key_pem: issued.key_pem.into_bytes(),
    }
}
