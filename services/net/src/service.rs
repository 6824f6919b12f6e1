//! What the hub and the sidecar do the same way around their gRPC services: bind their
//! ports by configuration key, say where they listen (in the log and, for a supervisor or a
//! test that asked for port 0, in a ready file), build one kind of gRPC server, serve it
//! over mutual TLS and drain at shutdown.
//!
//! ```text
//! let mut ports = Ports::new(ready_file);
//! ports.bind("listen", config.listen).await?;          // a taken port stops the start
//! let listener = ports.take("listen")?;
//! let router = service::grpc_server().add_service(health_service).add_service(..);
//! ports.announce()?;                                     // logs, writes the ready file
//! service::serve(router, listener, &tls, "hub", health, shutdown).await?;
//! ```

use std::{
    future::Future,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use http::Response;
use tokio::net::TcpListener;
use tonic::{body::Body, transport::Server};
use tower::{
    layer::util::{Identity, Stack},
    util::MapResponseLayer,
};

use crate::{TlsMaterial, health::Health, tls::TlsError};

/// The longest a request may run on either service before it is answered DEADLINE_EXCEEDED
/// (a client's shorter `grpc-timeout` wins).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The layers every takedown gRPC server has (framing errors answered as the caller's).
pub type Layers = Stack<MapResponseLayer<fn(Response<Body>) -> Response<Body>>, Identity>;
/// A takedown gRPC server with its services added, ready for [`serve`].
pub type Router = tonic::transport::server::Router<Layers>;

/// Why a service could not bind, announce or serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("binding {key} = {addr}: {source}")]
    Bind {
        key: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("no listener bound for {0}")]
    NotBound(&'static str),
    #[error("writing the ready file {}: {source}", path.display())]
    ReadyFile { path: PathBuf, source: io::Error },
    #[error("server TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("serving gRPC: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// The one gRPC server builder of hub and sidecar: [`REQUEST_TIMEOUT`] and the
/// [`crate::protocol_errors`] layer. Add services, then hand it to [`serve`].
pub fn grpc_server() -> Server<Layers> {
    Server::builder()
        .timeout(REQUEST_TIMEOUT)
        .layer(crate::protocol_errors::layer())
}

/// Serves `router` over mutual TLS on `listener` until `shutdown` completes; then every
/// service `health` marked SERVING turns NOT_SERVING and in-flight calls finish.
/// `server` names the service in the log ("hub", "sidecar").
pub async fn serve(
    router: Router,
    listener: TcpListener,
    tls: &TlsMaterial,
    server: &'static str,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let incoming = crate::tls::tls_incoming(listener, tls, server)?;
    router
        .serve_with_incoming_shutdown(incoming, health.drain_after(shutdown, server))
        .await?;
    Ok(())
}

/// A service's listening ports by the configuration key that set each (`listen`,
/// `metrics.listen`, `decisions_listen`), bound before anything is served, and the file
/// that says where they are once the service serves (`--ready-file`).
///
/// Binding port 0 lets the system choose a free port; the ready file is how a supervisor or
/// a test learns which, without the race of picking a "free" port first.
#[derive(Debug, Default)]
pub struct Ports {
    bound: Vec<(&'static str, SocketAddr, Option<TcpListener>)>,
    ready_file: Option<PathBuf>,
}

impl Ports {
    /// No port yet; [`Self::announce`] writes `ready_file` when given.
    pub fn new(ready_file: Option<PathBuf>) -> Self {
        Self {
            bound: Vec::new(),
            ready_file,
        }
    }

    /// Binds `addr` for `key`.
    pub async fn bind(&mut self, key: &'static str, addr: SocketAddr) -> Result<(), ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { key, addr, source })?;
        self.add(key, listener)
    }

    /// Binds `addr` for `key` when the configuration asks for a port there.
    pub async fn bind_if(
        &mut self,
        key: &'static str,
        addr: Option<SocketAddr>,
    ) -> Result<(), ServeError> {
        match addr {
            Some(addr) => self.bind(key, addr).await,
            None => Ok(()),
        }
    }

    /// A listener the caller bound itself, for `key`.
    pub fn add(&mut self, key: &'static str, listener: TcpListener) -> Result<(), ServeError> {
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            key,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        self.bound.retain(|(k, _, _)| *k != key);
        self.bound.push((key, addr, Some(listener)));
        Ok(())
    }

    /// [`Self::add`], by value.
    pub fn with(mut self, key: &'static str, listener: TcpListener) -> Result<Self, ServeError> {
        self.add(key, listener)?;
        Ok(self)
    }

    /// The listener of `key`, if one was bound (and not taken yet).
    pub fn take_if(&mut self, key: &'static str) -> Option<TcpListener> {
        self.bound
            .iter_mut()
            .find(|(k, _, _)| *k == key)
            .and_then(|(_, _, l)| l.take())
    }

    /// The listener of `key`, which the service needs.
    pub fn take(&mut self, key: &'static str) -> Result<TcpListener, ServeError> {
        self.take_if(key).ok_or(ServeError::NotBound(key))
    }

    /// The address bound for `key` (after [`Self::take`] too).
    pub fn addr(&self, key: &str) -> Option<SocketAddr> {
        self.bound
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, a, _)| *a)
    }

    /// Logs every bound address and writes the ready file, if one was asked for: a JSON
    /// object from configuration key to `ip:port`, e.g.
    /// `{"listen":"127.0.0.1:40711","metrics.listen":"127.0.0.1:40713"}`. The file appears
    /// whole (written beside it, then renamed), so a reader never sees half of it.
    pub fn announce(&self) -> Result<(), ServeError> {
        for (key, addr, _) in &self.bound {
            tracing::info!(key, %addr, "listening");
        }
        let Some(path) = &self.ready_file else {
            return Ok(());
        };
        let map: serde_json::Map<String, serde_json::Value> = self
            .bound
            .iter()
            .map(|(k, a, _)| (k.to_string(), a.to_string().into()))
            .collect();
        write_whole(path, &serde_json::Value::Object(map).to_string()).map_err(|source| {
            ServeError::ReadyFile {
                path: path.clone(),
                source,
            }
        })
    }
}

/// How a service binary's `main` ends, the same for the hub and the sidecar: 0 on success;
/// otherwise one line `error: <what failed>: <its causes>` on stderr, and exit code 2 when
/// the configuration was refused (nothing started) or 1 for any other failure.
pub fn exit(result: anyhow::Result<()>) -> std::process::ExitCode {
    let Err(e) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    eprintln!("error: {}", crate::tls::error_chain(e.as_ref()));
    let refused = e.chain().any(|c| c.is::<crate::config::ConfigError>());
    std::process::ExitCode::from(if refused { 2 } else { 1 })
}

/// Reads a ready file [`Ports::announce`] wrote: configuration key to address. `None`
/// while it does not exist yet.
pub fn read_ready_file(
    path: &Path,
) -> io::Result<Option<std::collections::BTreeMap<String, SocketAddr>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_whole(path: &Path, text: &str) -> io::Result<()> {
    let mut beside = path.as_os_str().to_owned();
    beside.push(".partial");
    let beside = PathBuf::from(beside);
    std::fs::write(&beside, text)?;
    std::fs::rename(&beside, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ready_file_names_each_port_the_system_chose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        let mut ports = Ports::new(Some(path.clone()));
        ports
            .bind("listen", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        ports
            .bind_if("metrics.listen", Some("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        ports.bind_if("decisions_listen", None).await.unwrap();
        assert_eq!(read_ready_file(&path).unwrap(), None, "not before announce");
        let listen = ports.take("listen").unwrap();
        ports.announce().unwrap();
        let read = read_ready_file(&path).unwrap().expect("written");
        assert_eq!(read.len(), 2, "{read:?}");
        assert_eq!(read["listen"], listen.local_addr().unwrap());
        assert_ne!(read["listen"].port(), 0);
        assert_eq!(Some(read["metrics.listen"]), ports.addr("metrics.listen"));
        assert!(matches!(
            ports.take("decisions_listen"),
            Err(ServeError::NotBound("decisions_listen"))
        ));
    }

    #[tokio::test]
    async fn a_taken_port_names_its_key() {
        let held = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = held.local_addr().unwrap();
        let e = Ports::new(None)
            .bind("metrics.listen", addr)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("binding metrics.listen = {addr}: ")),
            "{e}"
        );
    }
}
