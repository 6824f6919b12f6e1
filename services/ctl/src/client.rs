//! Reaching the hub: which certificate to present, the mutual-TLS channel, and turning gRPC
//! statuses into one readable line.

use std::path::{Path, PathBuf};

use takedown_net::TlsMaterial;
use takedown_protocol::ident::{Identity, IdentityRole, OrgId};
use tonic::{Status, transport::Channel};

/// The hub to call and the identity to call it with.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// `https://host:port`.
    pub hub: String,
    /// Directory of the development PKI (`ca.pem`, `<org>.pem`, `<org>.key`).
    pub certs: PathBuf,
    /// Organisation whose certificate in `certs` is used.
    pub as_org: Option<String>,
    /// Explicit CA certificate, client certificate and key (override `certs`/`as_org`).
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Why no client identity could be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no identity to call the hub with: pass --as ORG (or TAKEDOWN_AS) to use <certs>/<ORG>.pem, or --cert and --key"
    )]
    NoIdentity,
    #[error(
        "no certificate for {org} in {dir} (expected {org}.pem and {org}.key; `takedownctl certs dev` or `certs issue` makes them)"
    )]
    NoCertificate { org: String, dir: String },
    #[error("--cert and --key go together")]
    HalfIdentity,
    #[error(transparent)]
    Tls(#[from] takedown_net::tls::TlsError),
}

impl HubOptions {
    /// Paths of the CA certificate, the client certificate and its key.
    pub fn paths(&self) -> Result<(PathBuf, PathBuf, PathBuf), ClientError> {
        let ca = self.ca.clone().unwrap_or_else(|| self.certs.join("ca.pem"));
        let (cert, key) = match (&self.cert, &self.key, &self.as_org) {
            (Some(c), Some(k), _) => (c.clone(), k.clone()),
            (Some(_), None, _) | (None, Some(_), _) => return Err(ClientError::HalfIdentity),
            (None, None, Some(org)) => (
                self.certs.join(format!("{org}.pem")),
                self.certs.join(format!("{org}.key")),
            ),
            (None, None, None) => return Err(ClientError::NoIdentity),
        };
        Ok((ca, cert, key))
    }

    /// Loads the TLS material.
    pub fn material(&self) -> Result<TlsMaterial, ClientError> {
        let (ca, cert, key) = self.paths()?;
        if let (Some(org), None) = (&self.as_org, &self.cert)
            && !exists(&cert)
        {
            return Err(ClientError::NoCertificate {
                org: org.clone(),
                dir: self.certs.display().to_string(),
            });
        }
        Ok(TlsMaterial::load(&ca, &cert, &key)?)
    }

    /// Connects to the hub over mutual TLS, requiring the hub's identity
    /// (`urn:takedown:hub:hub`).
    pub async fn connect(&self) -> Result<Channel, ClientError> {
        takedown_net::install_crypto_provider();
        let material = self.material()?;
        Ok(takedown_net::connect(&self.hub, &material, Some(hub_identity())).await?)
    }
}

/// The identity the hub's certificate must carry.
pub fn hub_identity() -> Identity {
    let id = OrgId::parse("hub").expect("\"hub\" is a valid organisation id");
    Identity::new(IdentityRole::Hub, id)
}

/// A hub refusal, shown as `<CODE>: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", code_name(.0.code()), .0.message())]
pub struct HubError(pub Status);

impl From<Status> for HubError {
    fn from(s: Status) -> Self {
        Self(s)
    }
}

/// The canonical gRPC name of a status code (`INVALID_ARGUMENT`, ...).
pub use takedown_net::protocol_errors::code_name;

/// An error and its causes on one line, the way `main` prints it (without `error: `).
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if msg.is_empty() || line.contains(&msg) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&msg);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `path` exists (for refusing to overwrite).
pub(crate) fn exists(path: &Path) -> bool {
    path.try_exists().unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> HubOptions {
        HubOptions {
            hub: "https://127.0.0.1:7400".into(),
            certs: PathBuf::from("certs/dev"),
            as_org: None,
            ca: None,
            cert: None,
            key: None,
        }
    }

    #[test]
    fn identity_paths() {
        assert!(matches!(opts().paths(), Err(ClientError::NoIdentity)));
        let o = HubOptions {
            as_org: Some("agency-fr".into()),
            ..opts()
        };
        let (ca, cert, key) = o.paths().unwrap();
        assert_eq!(ca, PathBuf::from("certs/dev/ca.pem"));
        assert_eq!(cert, PathBuf::from("certs/dev/agency-fr.pem"));
        assert_eq!(key, PathBuf::from("certs/dev/agency-fr.key"));
        let o = HubOptions {
            cert: Some("c.pem".into()),
            key: Some("c.key".into()),
            ca: Some("root.pem".into()),
            ..o
        };
        let (ca, cert, _) = o.paths().unwrap();
        assert_eq!(ca, PathBuf::from("root.pem"));
        assert_eq!(cert, PathBuf::from("c.pem"));
        let o = HubOptions { key: None, ..o };
        assert!(matches!(o.paths(), Err(ClientError::HalfIdentity)));
    }

    #[test]
    fn statuses_and_chains_print_on_one_line() {
        let e = anyhow::Error::new(HubError(Status::invalid_argument(
            "item 3: bad target\nsecond line",
        )));
        assert_eq!(
            error_line(&e),
            "INVALID_ARGUMENT: item 3: bad target second line"
        );
        let e = anyhow::anyhow!("root cause").context("reading x");
        assert_eq!(error_line(&e), "reading x: root cause");
    }
}
