//! Tracing setup: `RUST_LOG` (default: info for takedown crates, warn otherwise), text or
//! JSON output.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub const DEFAULT_FILTER: &str =
    "warn,takedown_hub=info,takedown_store=info,takedown_net=info,takedown_sidecar=info";

/// Installs the global subscriber; `json` switches to one JSON object per line.
pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()
    } else {
        registry.with(fmt::layer().with_target(false)).try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
