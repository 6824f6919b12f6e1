//! The sidecar's logs, through the service kit ([`takedown_net::telemetry`]): `RUST_LOG` when
//! set, else this default; text or JSON lines on stderr.

use takedown_net::telemetry::LogFormat;

/// The default filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str =
    "warn,takedown_sidecar=info,takedown_net=info,takedown_protocol=info";

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    takedown_net::telemetry::init(format, DEFAULT_FILTER);
}
