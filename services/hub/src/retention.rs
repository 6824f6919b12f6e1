//! Retention: item bytes and notes are kept `retention.days` after the action (by default
//! 183 days, about the six months the TCO regulation keeps removed content), then purged by
//! a background pass (hourly by default). Counts, outcomes and the audit chain are kept.

use std::time::Duration;

use takedown_protocol::timestamp::now_millis;
use takedown_store::Store;
use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;

const DAY_MS: i64 = 86_400_000;

/// The cutoff at `now`: lists whose action ended before it are purged.
pub fn cutoff(cfg: &RetentionConfig, now: i64) -> i64 {
    now.saturating_sub(i64::from(cfg.days).saturating_mul(DAY_MS))
}

/// One pass: purges what expired, logs what was purged.
pub async fn purge_once<S: Store>(store: &S, cfg: &RetentionConfig, now: i64) {
    match store.purge_expired(cutoff(cfg, now), now).await {
        Ok(c) if c.lists > 0 => tracing::info!(
            lists = c.lists,
            referrals = c.referrals,
            targets = c.targets,
            "retention purged item bytes and notes"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "retention pass failed"),
    }
}

/// Runs a pass at start and then every `interval_ms` until `shutdown`.
pub async fn run<S: Store>(store: S, cfg: RetentionConfig, shutdown: CancellationToken) {
    let every = Duration::from_millis(cfg.interval_ms.max(1));
    loop {
        purge_once(&store, &cfg, now_millis()).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_days_before_now() {
        let cfg = RetentionConfig::default();
        assert_eq!(cfg.days, 183);
        assert_eq!(cutoff(&cfg, 200 * DAY_MS), 17 * DAY_MS);
    }
}
