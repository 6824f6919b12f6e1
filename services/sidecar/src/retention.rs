//! Retention: the sidecar forgets who a target was once the platform has had it for
//! `[retention] days` (see [`crate::inbox::Inbox::purge`] for what goes and what stays).
//! A pass runs at start and then every [`EVERY`]; a failed pass is logged and retried at
//! the next.

use std::time::Duration;

use takedown_protocol::timestamp::now_millis;
use tokio_util::sync::CancellationToken;

use crate::inbox::Inbox;

/// How often a pass runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// The retention task of one inbox.
pub struct Retention {
    pub inbox: Inbox,
    /// How long a handed delivery and a sent report are kept whole.
    pub keep: Duration,
}

impl Retention {
    /// One pass at `now_ms`.
    pub async fn pass(
        &self,
        now_ms: i64,
    ) -> Result<crate::inbox::Purged, crate::inbox::InboxError> {
        let keep_ms = i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX);
        let purged = self.inbox.purge(now_ms.saturating_sub(keep_ms)).await?;
        if purged.deliveries > 0 || purged.reports > 0 {
            tracing::info!(
                deliveries = purged.deliveries,
                reports = purged.reports,
                "retention: purged what identified targets handed before the retention period"
            );
        }
        Ok(purged)
    }

    /// Passes until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(e) = self.pass(now_millis()).await {
                tracing::warn!(error = %e, "retention pass failed; retrying at the next");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    }
}
