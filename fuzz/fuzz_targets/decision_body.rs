//! A platform's decisions, as the sidecar's `POST /v1/decisions` and the command
//! integration's output give them: parsed, then each turned into a report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_sidecar::document;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(outcomes) = document::parse_outcomes(text) {
        for o in &outcomes {
            let _ = o.to_report(1_800_000_000_000);
        }
    }
});
