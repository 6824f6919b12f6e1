//! The embargo's end: at each action day's H-hour, record the release once and wake the
//! day's platform workers. Deliverability itself is the outbox's `next_at = H-hour`, set at
//! intake, so every embargoed target of the day becomes due at the same instant, a hub that
//! starts after H-hour delivers what is due at once, and nothing is ever released twice.

use std::time::Duration;

use takedown_protocol::timestamp::now_millis;
use takedown_store::Store;
use tokio_util::sync::CancellationToken;

use crate::delivery::Wake;

/// Longest sleep between looks at the schedule.
const MAX_SLEEP: Duration = Duration::from_secs(30);

pub async fn run_scheduler<S: Store>(store: S, wake: Wake, shutdown: CancellationToken) {
    loop {
        let now = now_millis();
        match store.due_releases(now).await {
            Ok(days) => {
                for day in days {
                    for p in &day.platforms {
                        wake.platform(p);
                    }
                    match store.mark_released(&day.id, now).await {
                        Ok(true) => tracing::info!(
                            action_day = %day.id,
                            h_hour = day.starts_at,
                            late_ms = now - day.starts_at,
                            platforms = day.platforms.len(),
                            "action day released"
                        ),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(error = %e, action_day = %day.id, "recording the release failed")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "reading due releases failed"),
        }
        let wait = match store.next_release_after(now).await {
            Ok(Some(next)) => Duration::from_millis((next - now).max(0) as u64).min(MAX_SLEEP),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error = %e, "reading the release schedule failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.schedule_changed_notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
