//! TLS material, the server config, and the client that checks the server's identity.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use hyper_util::rt::TokioIo;
use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
};
use takedown_protocol::ident::Identity;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint, ServerTlsConfig};

/// Why TLS material or a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} holds no PEM {kind}")]
    Empty { what: String, kind: &'static str },
    #[error("invalid TLS material: {0}")]
    Invalid(String),
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    #[error("the certificate {cert} carries identity {found}, but this service is {expected}")]
    NotOwnIdentity {
        cert: PathBuf,
        found: String,
        expected: String,
    },
}

/// PEM-encoded CA certificate(s), own certificate chain and private key.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The `[tls]` section of every service's configuration: PEM files of the CA, the
/// service's certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsPaths {
    /// `<dir>/ca.pem`, `<dir>/<name>.pem` and `<dir>/<name>.key`, as `takedownctl certs
    /// dev` writes them.
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        }
    }

    /// Reads and checks the three files.
    pub fn load(&self) -> Result<TlsMaterial, TlsError> {
        TlsMaterial::load(&self.ca, &self.cert, &self.key)
    }

    /// [`Self::load`], and checks that the certificate names the service itself (`own`):
    /// a service never starts under another's identity.
    pub fn load_as(&self, own: &Identity) -> Result<TlsMaterial, TlsError> {
        let m = self.load()?;
        let found = m.identity()?;
        if &found != own {
            return Err(TlsError::NotOwnIdentity {
                cert: self.cert.clone(),
                found: found.to_uri(),
                expected: own.to_uri(),
            });
        }
        Ok(m)
    }

    /// The first of `tls.ca`, `tls.cert`, `tls.key` that is empty, for the configuration
    /// checks (the files themselves are read at start).
    pub fn empty_field(&self) -> Option<&'static str> {
        [
            ("tls.ca", &self.ca),
            ("tls.cert", &self.cert),
            ("tls.key", &self.key),
        ]
        .into_iter()
        .find(|(_, p)| p.as_os_str().is_empty())
        .map(|(f, _)| f)
    }
}

impl TlsMaterial {
    /// Reads the CA certificate, the certificate and the key from PEM files.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let m = Self {
            ca_pem: read(ca)?,
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        };
        m.check()?;
        Ok(m)
    }

    /// Reads `<dir>/ca.pem`, `<dir>/<name>.pem` and `<dir>/<name>.key`.
    pub fn load_dir(dir: &Path, name: &str) -> Result<Self, TlsError> {
        TlsPaths::in_dir(dir, name).load()
    }

    /// Parses everything once so that errors surface at startup.
    pub fn check(&self) -> Result<(), TlsError> {
        self.roots()?;
        self.chain()?;
        self.key()?;
        Ok(())
    }

    fn roots(&self) -> Result<rustls::RootCertStore, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let certs = certs(&self.ca_pem, "CA certificate")?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| TlsError::Invalid(format!("CA certificate: {e}")))?;
        }
        Ok(roots)
    }

    fn chain(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        certs(&self.cert_pem, "certificate")
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        rustls_pemfile::private_key(&mut self.key_pem.as_slice())
            .map_err(|e| TlsError::Invalid(format!("private key: {e}")))?
            .ok_or(TlsError::Empty {
                what: "key file".into(),
                kind: "private key",
            })
    }

    /// The identity this material's own certificate carries.
    pub fn identity(&self) -> Result<Identity, TlsError> {
        let chain = self.chain()?;
        crate::peer::identity_of_cert(&chain[0]).map_err(|e| TlsError::Invalid(e.to_string()))
    }
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what: what.to_string(),
            kind: "certificate",
        });
    }
    Ok(certs)
}

/// Installs ring as the process-wide rustls crypto provider (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A tonic server TLS config that requires a client certificate issued by the CA.
pub fn server_tls(m: &TlsMaterial) -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            &m.cert_pem,
            &m.key_pem,
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(&m.ca_pem))
}

/// Checks the chain and name with webpki, then that the end-entity certificate carries the
/// expected identity.
#[derive(Debug)]
struct IdentityVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    expect: Option<Identity>,
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        if let Some(expect) = &self.expect {
            let found = crate::peer::identity_of_cert(end_entity)
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            if &found != expect {
                return Err(rustls::Error::General(format!(
                    "server certificate is {found}, expected {expect}"
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn client_config(
    m: &TlsMaterial,
    expect: Option<Identity>,
) -> Result<rustls::ClientConfig, TlsError> {
    install_crypto_provider();
    let inner = rustls::client::WebPkiServerVerifier::builder(Arc::new(m.roots()?))
        .build()
        .map_err(|e| TlsError::Invalid(format!("CA certificate: {e}")))?;
    let mut cfg = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(IdentityVerifier { inner, expect }))
        .with_client_auth_cert(m.chain()?, m.key()?)
        .map_err(|e| TlsError::Invalid(format!("certificate/key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Splits `https://host:port` (or `host:port`) into host and port.
fn host_port(endpoint: &str) -> Result<(String, u16), TlsError> {
    let bad = |reason: &str| TlsError::Endpoint {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    let uri: http::Uri = format!("https://{rest}")
        .parse()
        .map_err(|_| bad("not host:port"))?;
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().ok_or_else(|| bad("no port"))?;
    Ok((host, port))
}

/// The TLS stream a connector hands to tonic.
type TlsIo = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;

fn endpoint_and_connector(
    endpoint: &str,
    m: &TlsMaterial,
    expect: Option<Identity>,
    timeout: Duration,
) -> Result<
    (
        Endpoint,
        impl tower::Service<http::Uri, Response = TlsIo, Error = std::io::Error, Future = impl Send>
        + Clone
        + Send
        + 'static,
    ),
    TlsError,
> {
    let (host, port) = host_port(endpoint)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(m, expect)?));
    let server_name = ServerName::try_from(host.clone()).map_err(|e| TlsError::Endpoint {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    })?;
    let ep = Endpoint::from_shared(format!("http://{host}:{port}"))
        .map_err(|e| TlsError::Endpoint {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    let svc = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        let addr = format!("{host}:{port}");
        async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    Ok((ep, svc))
}

/// Connects over mutual TLS to `endpoint` (`https://host:port`), presenting `m`'s
/// certificate and, when `expect` is set, refusing a server that is not that identity.
pub async fn connect(
    endpoint: &str,
    m: &TlsMaterial,
    expect: Option<Identity>,
) -> Result<Channel, TlsError> {
    let (ep, svc) = endpoint_and_connector(endpoint, m, expect, Duration::from_secs(5))?;
    ep.connect_with_connector(svc)
        .await
        .map_err(|e| TlsError::Connect {
            endpoint: endpoint.to_string(),
            reason: error_chain(&e),
        })
}

/// Like [`connect`], but connects on first use and reconnects after failures.
pub fn connect_lazy(
    endpoint: &str,
    m: &TlsMaterial,
    expect: Option<Identity>,
    timeout: Duration,
) -> Result<Channel, TlsError> {
    let (ep, svc) = endpoint_and_connector(endpoint, m, expect, timeout)?;
    Ok(ep.connect_with_connector_lazy(svc))
}

/// An error and its sources on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let msg = c.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = c.source();
    }
    s
}

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls server config of [`tls_incoming`]: this side's certificate, a client
/// certificate issued by the CA required, HTTP/2.
pub fn server_config(m: &TlsMaterial) -> Result<rustls::ServerConfig, TlsError> {
    install_crypto_provider();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(m.roots()?))
        .build()
        .map_err(|e| TlsError::Invalid(format!("CA certificate: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(m.chain()?, m.key()?)
        .map_err(|e| TlsError::Invalid(format!("certificate/key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// A server's TLS connections accepted on `listener`, for `Server::serve_with_incoming`.
///
/// Each handshake runs on its own task, so a slow client holds up no one. A refused
/// handshake (no client certificate, one from another CA, an expired one, a client that
/// does not finish within [`HANDSHAKE_TIMEOUT`]) is logged at WARN with the peer's address
/// and the reason, naming `server`: tonic's own acceptor drops them without a word, which
/// leaves an operator nothing to go on when a partner cannot connect. The accept loop
/// ends when the stream is dropped (the server stopped).
pub fn tls_incoming(
    listener: tokio::net::TcpListener,
    m: &TlsMaterial,
    server: &'static str,
) -> Result<
    tokio_stream::wrappers::ReceiverStream<
        Result<tokio_rustls::server::TlsStream<TcpStream>, std::io::Error>,
    >,
    TlsError,
> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(m)?));
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(server, error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => tracing::warn!(
                        server,
                        %peer,
                        reason = %e,
                        "refused a TLS handshake"
                    ),
                    Err(_) => tracing::warn!(
                        server,
                        %peer,
                        reason = "the client did not complete the handshake in time",
                        "refused a TLS handshake"
                    ),
                }
            });
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_parses_common_forms() {
        assert_eq!(
            host_port("https://127.0.0.1:7443").unwrap(),
            ("127.0.0.1".into(), 7443)
        );
        assert_eq!(host_port("localhost:1").unwrap(), ("localhost".into(), 1));
        assert_eq!(host_port("https://[::1]:9/").unwrap(), ("::1".into(), 9));
        assert!(host_port("https://hub").is_err());
    }

    #[test]
    fn a_service_starts_only_under_its_own_identity() {
        use takedown_protocol::ident::{IdentityRole, OrgId};
        let dir = std::env::temp_dir().join(format!("takedown-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = crate::pki::Ca::generate("test CA").unwrap();
        ca.write(&dir).unwrap();
        let telegram = Identity::new(IdentityRole::Platform, OrgId::parse("telegram").unwrap());
        ca.issue(&telegram, &[])
            .unwrap()
            .write(&dir, "telegram")
            .unwrap();
        let paths = TlsPaths::in_dir(&dir, "telegram");
        assert!(paths.load_as(&telegram).is_ok());
        let hub = Identity::new(IdentityRole::Hub, OrgId::parse("hub").unwrap());
        let e = paths.load_as(&hub).unwrap_err().to_string();
        assert!(
            e.contains("telegram.pem")
                && e.contains("urn:takedown:platform:telegram")
                && e.contains("urn:takedown:hub:hub"),
            "{e}"
        );
        assert_eq!(paths.empty_field(), None);
        let mut no_key = paths.clone();
        no_key.key = PathBuf::new();
        assert_eq!(no_key.empty_field(), Some("tls.key"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
