//! A sidecar configuration file, as `takedown-sidecar --config` reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = takedown_sidecar::Config::from_toml(text) {
            let _ = c.decisions_addr();
            let _ = c.platform_name();
        }
    }
});
