//! Agency public keys, fetched from the hub's directory and cached in memory.
//!
//! The whole key set is loaded on first use and refreshed after `keys_refresh_secs` (so a
//! revocation is learned); a key id not in the cache is fetched on its own, at most once
//! per second per key id, so a stream of forged key ids cannot hammer the hub.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use takedown_protocol::pb::{self, directory_service_client::DirectoryServiceClient};
use tokio::sync::Mutex;
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

/// The cache; cheap to share behind an `Arc`.
pub struct KeyCache {
    client: DirectoryServiceClient<Channel>,
    refresh: Duration,
    state: Mutex<State>,
}

impl KeyCache {
    pub fn new(channel: Channel, refresh: Duration) -> Self {
        Self {
            client: DirectoryServiceClient::new(channel),
            refresh,
            state: Mutex::new(State {
                keys: Arc::new(KeySet::new()),
                loaded_at: None,
                last_miss: HashMap::new(),
            }),
        }
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

    /// The keys, including every one of `kids` the hub knows.
    #[tracing::instrument(skip_all, fields(kids = kids.len()))]
    pub async fn keys_for(&self, kids: &[String]) -> Result<Arc<KeySet>, KeyError> {
        let mut st = self.state.lock().await;
        let stale = st.loaded_at.is_none_or(|t| t.elapsed() >= self.refresh);
        if stale {
            match self.fetch("").await {
                Ok(keys) => {
                    st.keys = Arc::new(keys.into_iter().map(|k| (k.kid.clone(), k)).collect());
                    st.loaded_at = Some(Instant::now());
                    tracing::debug!(keys = st.keys.len(), "agency keys loaded");
                }
                Err(e) if st.loaded_at.is_some() => {
                    tracing::warn!(error = %e, "agency key refresh failed; keeping the cached keys");
                }
                Err(e) => return Err(e),
            }
        }
        let mut fetched: Vec<pb::AgencyKey> = Vec::new();
        for kid in kids {
            if st.keys.contains_key(kid) || fetched.iter().any(|k| &k.kid == kid) {
                continue;
            }
            let now = Instant::now();
            if st
                .last_miss
                .get(kid)
                .is_some_and(|t| now.duration_since(*t) < MISS_INTERVAL)
            {
                continue;
            }
            st.last_miss.insert(kid.clone(), now);
            if st.last_miss.len() > 10_000 {
                st.last_miss
                    .retain(|_, t| now.duration_since(*t) < MISS_INTERVAL);
            }
            let found = self.fetch(kid).await?;
            tracing::debug!(kid, found = found.len(), "unknown key id looked up");
            fetched.extend(found.into_iter().filter(|k| &k.kid == kid));
        }
        if !fetched.is_empty() {
            let mut keys = (*st.keys).clone();
            keys.extend(fetched.into_iter().map(|k| (k.kid.clone(), k)));
            st.keys = Arc::new(keys);
        }
        Ok(st.keys.clone())
    }
}
