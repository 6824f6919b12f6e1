//! Signed heads of the audit chain: the hub signs the chain's length and last hash with an
//! Ed25519 key of its own (made on first start, kept in the database, its public half
//! served with every head) at least once a minute while the chain grows and at every
//! action-day close. An export cut short of a signed head then fails to verify, naming the
//! missing entries (`takedown_protocol::audit::verify_export`).

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use takedown_protocol::{
    audit::{HeadClaims, sign_head},
    keyset::thumbprint,
    timestamp::now_millis,
};
use takedown_store::{
    Store,
    model::{HubAuditKey, SignedHeadRecord},
};
use tokio_util::sync::CancellationToken;

/// How often the head is signed while the chain grows.
pub const EVERY: Duration = Duration::from_secs(60);

/// Signs heads; share it behind an `Arc`.
pub struct HeadSigner {
    hub_id: String,
    key: HubAuditKey,
    /// The seq of the newest head signed (by this hub or another).
    last: tokio::sync::Mutex<i64>,
}

impl HeadSigner {
    /// The hub's audit key (made and stored if there is none yet) and the newest head.
    pub async fn load<S: Store>(store: &S, hub_id: &str) -> anyhow::Result<Self> {
        let (private_pem, public_pem) = takedown_net::pki::generate_root_key()?;
        let kid = thumbprint(&public_pem)?.replacen("root-", "hub-audit-", 1);
        let key = store
            .hub_audit_key(&HubAuditKey {
                kid,
                private_pem,
                public_pem,
                created_at: now_millis(),
            })
            .await
            .context("reading the hub's audit key")?;
        let last = store
            .audit_head_upto(i64::MAX)
            .await
            .context("reading the newest signed audit head")?
            .map_or(0, |h| h.seq);
        Ok(Self {
            hub_id: hub_id.to_string(),
            key,
            last: tokio::sync::Mutex::new(last),
        })
    }

    /// The hub's audit public key (SPKI PEM).
    pub fn public_pem(&self) -> &str {
        &self.key.public_pem
    }

    /// Signs the chain's head if it grew since the last signed one; its seq if signed.
    pub async fn sign_now<S: Store>(&self, store: &S) -> anyhow::Result<Option<i64>> {
        let mut last = self.last.lock().await;
        let seq = store.audit_head().await?;
        if seq == 0 || seq <= *last {
            return Ok(None);
        }
        let entry = store
            .audit_entries(seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .context("the chain's last entry vanished")?;
        let now = now_millis();
        let claims = HeadClaims {
            hub_id: self.hub_id.clone(),
            seq: u64::try_from(seq)?,
            hash: hex::encode(&entry.hash),
            iat: now / 1000,
        };
        let jws = sign_head(&claims, &self.key.kid, self.key.private_pem.as_bytes())
            .map_err(anyhow::Error::msg)?;
        store
            .put_audit_head(&SignedHeadRecord {
                seq,
                jws,
                signed_at: now,
            })
            .await?;
        *last = seq;
        tracing::debug!(seq, "audit head signed");
        Ok(Some(seq))
    }

    /// Signs every `every` until `cancel`, and once more at the end.
    pub async fn run<S: Store>(
        self: Arc<Self>,
        store: S,
        every: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = cancel.cancelled() => true,
            };
            if let Err(e) = self.sign_now(&store).await {
                tracing::warn!(error = %e, "signing the audit head failed; will retry");
            }
            if stop {
                return;
            }
        }
    }
}
