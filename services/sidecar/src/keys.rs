//! Agency public keys, fetched from the hub's directory and cached in memory.
//!
//! A background task ([`KeyCache::refresh_every`]) reloads the whole key set every
//! `keys_refresh_secs` (so a revocation is learned); a failed reload keeps the keys held
//! and says so in the log. A Deliver never waits for a reload: it reads the keys held.
//! Only two things make it call the hub itself, without holding any lock while it waits:
//! the very first load (nothing is held yet), and a key id not in the cache, looked up on
//! its own at most once per second per key id, so a stream of forged key ids cannot
//! hammer the hub.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use takedown_protocol::pb::{self, directory_service_client::DirectoryServiceClient};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// How often one unknown key id may be looked up at the hub.
pub const MISS_INTERVAL: Duration = Duration::from_secs(1);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot fetch agency keys from the hub: {0}")]
    Hub(String),
}

/// Keys by key id.
pub type KeySet = HashMap<String, pb::AgencyKey>;

struct State {
    keys: Arc<KeySet>,
    loaded_at: Option<Instant>,
    last_miss: HashMap<String, Instant>,
}

/// The cache; cheap to share behind an `Arc`. Its lock is a plain mutex held only to read
/// or swap the key set, never across a call to the hub.
pub struct KeyCache {
    client: DirectoryServiceClient<Channel>,
    state: Mutex<State>,
    /// One full load at a time: before the first has finished, Delivers wait for it
    /// rather than start their own; after it, nothing but the refresher takes this.
    loading: tokio::sync::Mutex<()>,
}

impl KeyCache {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: DirectoryServiceClient::new(channel),
            state: Mutex::new(State {
                keys: Arc::new(KeySet::new()),
                loaded_at: None,
                last_miss: HashMap::new(),
            }),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn fetch(&self, kid: &str) -> Result<Vec<pb::AgencyKey>, KeyError> {
        let mut client = self.client.clone();
        let mut req = tonic::Request::new(pb::GetAgencyKeysRequest {
            agency_ids: Vec::new(),
            kid: kid.to_string(),
        });
        req.set_timeout(CALL_TIMEOUT);
        let resp = tokio::time::timeout(CALL_TIMEOUT, client.get_agency_keys(req))
            .await
            .map_err(|_| KeyError::Hub("timed out".into()))?
            .map_err(|s| KeyError::Hub(format!("{:?}: {}", s.code(), s.message())))?;
        Ok(resp.into_inner().keys)
    }

    /// Loads the whole key set and swaps it in.
    async fn reload(&self) -> Result<usize, KeyError> {
        let _one = self.loading.lock().await;
        self.load().await
    }

    /// [`Self::reload`] with `loading` held.
    async fn load(&self) -> Result<usize, KeyError> {
        let keys: KeySet = self
            .fetch("")
            .await?
            .into_iter()
            .map(|k| (k.kid.clone(), k))
            .collect();
        let n = keys.len();
        let mut st = self.state();
        st.keys = Arc::new(keys);
        st.loaded_at = Some(Instant::now());
        Ok(n)
    }

    /// Reloads the key set now and then every `interval` until `cancel`.
    pub async fn refresh_every(self: Arc<Self>, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.reload().await {
                Ok(n) => tracing::debug!(keys = n, "agency keys loaded"),
                Err(e) => match self.state().loaded_at {
                    Some(at) => tracing::warn!(
                        error = %e,
                        age_secs = at.elapsed().as_secs(),
                        "agency key refresh failed; keeping the keys loaded before"
                    ),
                    None => tracing::info!(error = %e, "agency keys not loaded yet"),
                },
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    /// The keys, including every one of `kids` the hub knows.
    #[tracing::instrument(skip_all, fields(kids = kids.len()))]
    pub async fn keys_for(&self, kids: &[String]) -> Result<Arc<KeySet>, KeyError> {
        if self.state().loaded_at.is_none() {
            let _one = self.loading.lock().await;
            if self.state().loaded_at.is_none() {
                self.load().await?;
            }
        }
        // Unknown key ids, each at most once per MISS_INTERVAL.
        let lookups: Vec<String> = {
            let mut st = self.state();
            let now = Instant::now();
            let mut out: Vec<String> = Vec::new();
            for kid in kids {
                if st.keys.contains_key(kid) || out.contains(kid) {
                    continue;
                }
                if st
                    .last_miss
                    .get(kid)
                    .is_some_and(|t| now.duration_since(*t) < MISS_INTERVAL)
                {
                    continue;
                }
                st.last_miss.insert(kid.clone(), now);
                out.push(kid.clone());
            }
            if st.last_miss.len() > 10_000 {
                st.last_miss
                    .retain(|_, t| now.duration_since(*t) < MISS_INTERVAL);
            }
            out
        };
        let mut fetched: Vec<pb::AgencyKey> = Vec::new();
        for kid in &lookups {
            let found = self.fetch(kid).await?;
            tracing::debug!(kid, found = found.len(), "unknown key id looked up");
            fetched.extend(found.into_iter().filter(|k| &k.kid == kid));
        }
        let mut st = self.state();
        if !fetched.is_empty() {
            let mut keys = (*st.keys).clone();
            keys.extend(fetched.into_iter().map(|k| (k.kid.clone(), k)));
            st.keys = Arc::new(keys);
        }
        Ok(st.keys.clone())
    }
}
