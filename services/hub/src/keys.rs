//! Agency keys, from coordinator-signed key-set statements only.
//!
//! The hub pins the coordinator root public keys of its configuration (`trust.roots`) and
//! holds the newest statement they verify, in memory. Intake checks list signatures
//! against it; `GetAgencyKeys` reads it; `WatchKeySet` streams each new one to sidecars.
//! Statements are stored (`key_set_statements`) so that every hub replica and every
//! restart replays the same chain, oldest first: a row that does not verify (written by
//! anyone but a root holder) is refused and logged, never used.

use std::{sync::Arc, time::Duration};

use takedown_protocol::keyset::{KeySet, KeySetClaims, KeyTrust, Offer, Roots, StatementError};
use takedown_store::{Store, StoreResult, model::KeySetRecord};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The newest statement and how it reached the hub.
#[derive(Debug, Clone)]
pub struct Current {
    pub set: Arc<KeySet>,
    pub record: KeySetRecord,
}

struct State {
    trust: KeyTrust,
    /// Newest version read from the store, good or refused.
    read_up_to: i64,
}

/// The hub's key directory; share it behind an `Arc`.
pub struct KeyDirectory {
    state: std::sync::Mutex<State>,
    tx: watch::Sender<Option<Arc<Current>>>,
}

impl KeyDirectory {
    pub fn new(roots: Roots) -> Self {
        Self {
            state: std::sync::Mutex::new(State {
                trust: KeyTrust::new(roots),
                read_up_to: 0,
            }),
            tx: watch::channel(None).0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest verified statement, if any was published.
    pub fn current(&self) -> Option<Arc<Current>> {
        self.tx.borrow().clone()
    }

    /// Each new statement as it is accepted.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Current>>> {
        self.tx.subscribe()
    }

    /// What publishing `jws` would do.
    pub fn check(&self, jws: &str) -> Result<(Offer, KeySetClaims), StatementError> {
        self.state().trust.check(jws)
    }

    /// Offers a stored statement (read from the store, or just stored by this hub); the
    /// newest is announced to watchers.
    pub fn offer(&self, record: KeySetRecord) -> Result<Offer, StatementError> {
        let mut st = self.state();
        st.read_up_to = st.read_up_to.max(record.version);
        let offer = st.trust.offer(&record.jws)?;
        if let Offer::Accepted { .. } = offer {
            let set = st.trust.newest().expect("just accepted");
            self.tx
                .send_replace(Some(Arc::new(Current { set, record })));
        }
        Ok(offer)
    }

    /// Reads statements stored since the last look (by this hub or another) and offers
    /// them in order; the number accepted.
    pub async fn load<S: Store>(&self, store: &S) -> StoreResult<usize> {
        let after = self.state().read_up_to;
        let mut accepted = 0;
        for record in store.key_sets_after(after).await? {
            let version = record.version;
            match self.offer(record) {
                Ok(Offer::Accepted { .. }) => {
                    accepted += 1;
                    tracing::info!(version, "key-set statement in force");
                }
                Ok(Offer::Unchanged) => {}
                Err(e) => tracing::error!(
                    version,
                    error = %e,
                    "a stored key-set statement does not verify against this hub's roots; \
                     it is ignored"
                ),
            }
        }
        Ok(accepted)
    }

    /// Re-reads the store every `every` until `cancel`, so that a statement published
    /// through another hub replica is in force here too.
    pub async fn follow<S: Store>(
        self: Arc<Self>,
        store: S,
        every: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = cancel.cancelled() => return,
            }
            if let Err(e) = self.load(&store).await {
                tracing::warn!(error = %e, "reading key-set statements failed; will retry");
            }
        }
    }
}
