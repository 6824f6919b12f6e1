//! Wake-ups: intake, holds and the release scheduler tell idle workers that something may
//! have become deliverable, so that nobody waits for a poll interval.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Wake {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    platforms: Mutex<HashMap<String, Arc<Notify>>>,
    platforms_changed: Notify,
    schedule_changed: Notify,
}

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    /// The notifier a platform's worker waits on.
    pub fn for_platform(&self, platform: &str) -> Arc<Notify> {
        let mut map = self.inner.platforms.lock().expect("wake map lock");
        map.entry(platform.to_string()).or_default().clone()
    }

    /// Wakes one platform's worker.
    pub fn platform(&self, platform: &str) {
        self.for_platform(platform).notify_one();
    }

    /// Wakes every platform's worker.
    pub fn all(&self) {
        let map = self.inner.platforms.lock().expect("wake map lock");
        for n in map.values() {
            n.notify_one();
        }
    }

    /// A platform was registered or changed its endpoint.
    pub fn platforms_changed(&self) {
        self.inner.platforms_changed.notify_one();
    }

    pub async fn platforms_changed_notified(&self) {
        self.inner.platforms_changed.notified().await;
    }

    /// An action day was created: the release scheduler recomputes its next wake-up.
    pub fn schedule_changed(&self) {
        self.inner.schedule_changed.notify_one();
    }

    pub async fn schedule_changed_notified(&self) {
        self.inner.schedule_changed.notified().await;
    }
}
