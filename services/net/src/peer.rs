//! The identity of an RPC's caller, read from its verified client certificate.

use takedown_protocol::ident::{IDENTITY_URI_PREFIX, Identity};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Why a certificate carries no usable identity.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeerError {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("client certificate cannot be parsed: {0}")]
    Unparsable(String),
    #[error("certificate carries no urn:takedown identity URI")]
    NoIdentity,
    #[error("certificate carries an invalid identity: {0}")]
    BadIdentity(String),
}

/// The identity URI (`urn:takedown:<role>:<id>`) of a DER certificate.
pub fn identity_of_cert(der: &[u8]) -> Result<Identity, PeerError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| PeerError::Unparsable(e.to_string()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| PeerError::Unparsable(e.to_string()))?
        .ok_or(PeerError::NoIdentity)?;
    let uri = san
        .value
        .general_names
        .iter()
        .find_map(|n| match n {
            GeneralName::URI(u) if u.starts_with(IDENTITY_URI_PREFIX) => Some(*u),
            _ => None,
        })
        .ok_or(PeerError::NoIdentity)?;
    Identity::from_uri(uri).map_err(|e| PeerError::BadIdentity(e.to_string()))
}

/// The identity of the caller of `req` (the TLS layer has already verified the chain).
pub fn peer_identity<T>(req: &tonic::Request<T>) -> Result<Identity, PeerError> {
    let certs = req.peer_certs().ok_or(PeerError::NoCertificate)?;
    let first = certs.first().ok_or(PeerError::NoCertificate)?;
    identity_of_cert(first.as_ref())
}
