//! A list's compact JWS, as `SubmitReferralList` and every sidecar receive it: the header
//! read for its key id and algorithm, then full verification against a fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_protocol::signing;

const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAhiGpm3z25PURK71O+G5/iKRNp821KUW2DARv0QAxmUA=
-----END PUBLIC KEY-----
";

fuzz_target!(|data: &[u8]| {
    let Ok(jws) = std::str::from_utf8(data) else {
        return;
    };
    let _ = signing::key_id(jws);
    let _ = signing::verify(jws, PUBLIC.as_bytes(), "takedown-hub", 1_800_000_000);
    if let Ok(c) = signing::verify_authorship(jws, PUBLIC.as_bytes(), "takedown-hub") {
        let _ = c.root();
    }
});
