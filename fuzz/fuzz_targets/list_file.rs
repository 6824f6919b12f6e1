//! An agency's CSV or JSON referral file, as `takedownctl list sign` reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_ctl::listfile;

fuzz_target!(|data: &[u8]| {
    let _ = listfile::parse_csv(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = listfile::parse_json(text);
    }
});
