//! An audit export, as `takedownctl audit verify` reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_protocol::audit;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = audit::verify_jsonl(text);
    }
});
