//! Agency keys, believed only from key-set statements signed by a pinned coordinator root.
//!
//! The hub stores and serves the statements but cannot forge them: each one is verified
//! here against the roots pinned in `trust.roots` (and those the newest accepted statement
//! endorses), and one older than the newest accepted is refused as a rollback. Accepted
//! statements are kept in the inbox and replayed on start, so the sidecar verifies with the
//! newest it has even while the hub is down, and says in its log how old that is.
//!
//! How new statements arrive, without a Deliver ever waiting on the network for them:
//! - [`KeyCache::follow`] holds a `WatchKeySet` stream open to the hub, which pushes each
//!   new statement as it is published (a revocation arrives in about a second), and
//!   reconnects with backoff when the stream breaks;
//! - [`KeyCache::refresh_every`] also asks for the newest statement every
//!   `keys_refresh_secs`, in case a stream stays silent while broken;
//! - a Deliver naming a key id not in the newest statement asks the hub once (at most once
//!   per [`MISS_INTERVAL`] for all key ids, so forged key ids cannot hammer the hub), and
//!   the very first Deliver does when no statement is held yet. No lock is held meanwhile.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use takedown_protocol::{
    keyset::{KeySet, KeyTrust, Offer, Roots, StatementError},
    pb::{self, directory_service_client::DirectoryServiceClient},
    timestamp::now_millis,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{backoff::Backoff, inbox::Inbox};

/// How often key ids not in the newest statement may make the sidecar ask the hub.
pub const MISS_INTERVAL: Duration = Duration::from_secs(1);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot fetch the key-set statement from the hub: {0}")]
    Hub(String),
    #[error("no key-set statement is held yet, and the hub has none to give")]
    NoStatement,
    #[error("the hub's key-set statement was refused: {0}")]
    Refused(#[from] StatementError),
    #[error("cannot record the key-set statement: {0}")]
    Inbox(String),
}

struct State {
    trust: KeyTrust,
    /// When the hub last answered a statement request or stream.
    last_contact: Option<Instant>,
    last_miss: Option<Instant>,
    /// Whether the `WatchKeySet` stream is open (a revocation would arrive at once).
    following: bool,
}

/// How fresh the keys a sidecar verifies with are, for its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A statement is held and the hub pushes new ones (or answered lately).
    Fresh,
    /// A statement is held, but the hub has not been heard from for a while: a revocation
    /// published meanwhile would not be known.
    Stale,
    /// No statement is held: nothing can be verified.
    None,
}

/// The gRPC health service name whose status is [`KeyCache::freshness`]: SERVING when
/// fresh, NOT_SERVING otherwise (the receiver itself stays SERVING: it verifies with the
/// newest statement it holds).
pub const HEALTH_SERVICE: &str = "takedown.sidecar.KeySet";

/// The cache; cheap to share behind an `Arc`. Its lock is a plain mutex held only to read
/// or swap the statement, never across a call to the hub.
pub struct KeyCache {
    client: DirectoryServiceClient<Channel>,
    inbox: Inbox,
    state: Mutex<State>,
    /// One request for the newest statement at a time: a caller that waited for another's
    /// takes its answer rather than ask again.
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    /// The cache, with the statements accepted before replayed against `roots`.
    pub async fn open(channel: Channel, inbox: Inbox, roots: Roots) -> Result<Self, KeyError> {
        let mut trust = KeyTrust::new(roots);
        let saved = inbox
            .key_sets()
            .await
            .map_err(|e| KeyError::Inbox(e.to_string()))?;
        for e in trust.replay(saved.iter().map(String::as_str)) {
            tracing::error!(error = %e, "a key-set statement kept in the inbox no longer verifies");
        }
        if let Some(set) = trust.newest() {
            tracing::info!(
                version = set.version(),
                keys = set.claims.keys.len(),
                "key-set statement from the inbox in force"
            );
        }
        Ok(Self {
            client: DirectoryServiceClient::new(channel),
            inbox,
            state: Mutex::new(State {
                trust,
                last_contact: None,
                last_miss: None,
                following: false,
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest statement accepted, if any.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.state().trust.newest()
    }

    /// Fresh when a statement is held and the hub's stream is open or the hub answered
    /// within `stale_after`.
    pub fn freshness(&self, stale_after: Duration) -> Freshness {
        let st = self.state();
        if st.trust.newest().is_none() {
            return Freshness::None;
        }
        let heard = st.last_contact.is_some_and(|t| t.elapsed() <= stale_after);
        if st.following || heard {
            Freshness::Fresh
        } else {
            Freshness::Stale
        }
    }

    /// Keeps [`HEALTH_SERVICE`] in `health` up to date until `cancel`.
    pub async fn report_health(
        self: Arc<Self>,
        health: tonic_health::server::HealthReporter,
        stale_after: Duration,
        cancel: CancellationToken,
    ) {
        let mut last = None;
        loop {
            let now = self.freshness(stale_after);
            if last != Some(now) {
                let status = match now {
                    Freshness::Fresh => tonic_health::ServingStatus::Serving,
                    Freshness::Stale | Freshness::None => tonic_health::ServingStatus::NotServing,
                };
                health.set_service_status(HEALTH_SERVICE, status).await;
                if last.is_some() || now != Freshness::Fresh {
                    tracing::info!(freshness = ?now, service = HEALTH_SERVICE, "key-set health");
                }
                last = Some(now);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    /// Verifies a statement from the hub; keeps it if it is the newest.
    async fn offer(&self, statement: &pb::KeySetStatement) -> Result<Offer, KeyError> {
        let offer = {
            let mut st = self.state();
            st.last_contact = Some(Instant::now());
            st.trust.offer(&statement.jws)
        };
        match offer {
            Ok(Offer::Accepted { version }) => {
                tracing::info!(version, "key-set statement accepted");
                self.inbox
                    .save_key_set(version, &statement.jws, now_millis())
                    .await
                    .map_err(|e| KeyError::Inbox(e.to_string()))?;
                Ok(Offer::Accepted { version })
            }
            Ok(Offer::Unchanged) => Ok(Offer::Unchanged),
            Err(e) => {
                tracing::error!(
                    error = %e,
                    offered_version = statement.version,
                    held_version = self.current().map(|s| s.version()),
                    "the hub offered a key-set statement that is refused; keeping the one held"
                );
                Err(e.into())
            }
        }
    }

    /// Asks the hub for its newest statement, unless a request that was in flight when
    /// this one began brought a new one.
    async fn fetch(&self) -> Result<Offer, KeyError> {
        let seen = self.current().map(|s| s.version());
        let _one = self.fetching.lock().await;
        if self.current().map(|s| s.version()) != seen {
            return Ok(Offer::Unchanged);
        }
        let mut client = self.client.clone();
        let mut req = tonic::Request::new(pb::GetKeySetRequest {});
        req.set_timeout(CALL_TIMEOUT);
        let resp = tokio::time::timeout(CALL_TIMEOUT, client.get_key_set(req))
            .await
            .map_err(|_| KeyError::Hub("timed out".into()))?;
        match resp {
            Ok(r) => self.offer(&r.into_inner()).await,
            Err(s) if s.code() == tonic::Code::NotFound => {
                self.state().last_contact = Some(Instant::now());
                Err(KeyError::NoStatement)
            }
            Err(s) => Err(KeyError::Hub(format!("{:?}: {}", s.code(), s.message()))),
        }
    }

    fn stale(&self, e: &KeyError) {
        let (version, contact) = {
            let st = self.state();
            (st.trust.newest().map(|s| s.version()), st.last_contact)
        };
        match version {
            Some(v) => tracing::warn!(
                error = %e,
                version = v,
                secs_since_hub_answered = contact.map(|c| c.elapsed().as_secs()),
                "cannot reach the hub for key-set statements; verifying with the newest held"
            ),
            None => tracing::info!(error = %e, "no key-set statement held yet"),
        }
    }

    /// Holds a `WatchKeySet` stream open until `cancel`, reconnecting with backoff.
    pub async fn follow(self: Arc<Self>, cancel: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(15));
        loop {
            let after = self.current().map_or(0, |s| s.version());
            let mut client = self.client.clone();
            let opened = tokio::select! {
                r = client.watch_key_set(pb::WatchKeySetRequest { after_version: after }) => r,
                _ = cancel.cancelled() => return,
            };
            match opened {
                Ok(resp) => {
                    let mut stream = resp.into_inner();
                    {
                        let mut st = self.state();
                        st.last_contact = Some(Instant::now());
                        st.following = true;
                    }
                    loop {
                        let next = tokio::select! {
                            m = stream.message() => m,
                            _ = cancel.cancelled() => return,
                        };
                        match next {
                            Ok(Some(statement)) => {
                                backoff.reset();
                                // A refusal is logged by offer; keep following.
                                let _ = self.offer(&statement).await;
                            }
                            Ok(None) => {
                                self.state().following = false;
                                self.stale(&KeyError::Hub("the hub ended the stream".into()));
                                break;
                            }
                            Err(s) => {
                                self.state().following = false;
                                self.stale(&KeyError::Hub(format!(
                                    "{:?}: {}",
                                    s.code(),
                                    s.message()
                                )));
                                break;
                            }
                        }
                    }
                }
                Err(s) => self.stale(&KeyError::Hub(format!("{:?}: {}", s.code(), s.message()))),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    /// Asks for the newest statement now and then every `interval` until `cancel`.
    pub async fn refresh_every(self: Arc<Self>, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.fetch().await {
                Ok(_) | Err(KeyError::Refused(_)) => {}
                Err(e) => self.stale(&e),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    /// The newest statement, after asking the hub once if it lacks one of `kids` (or if
    /// none is held yet).
    #[tracing::instrument(skip_all, fields(kids = kids.len()))]
    pub async fn keys_for(&self, kids: &[String]) -> Result<Arc<KeySet>, KeyError> {
        let ask = {
            let mut st = self.state();
            let missing = match st.trust.newest() {
                None => true,
                Some(set) => kids.iter().any(|k| set.key(k).is_none()),
            };
            let now = Instant::now();
            let due = st
                .last_miss
                .is_none_or(|t| now.duration_since(t) >= MISS_INTERVAL);
            if missing && due {
                st.last_miss = Some(now);
            }
            missing && due
        };
        if ask {
            match self.fetch().await {
                Ok(_) | Err(KeyError::Refused(_)) => {}
                Err(e) if self.current().is_some() => self.stale(&e),
                Err(e) => return Err(e),
            }
        }
        self.current().ok_or(KeyError::NoStatement)
    }
}
