//! A key-set statement, as the hub's PublishKeySet and every sidecar's watch receive it:
//! peeked, verified against a pinned root, and offered to a trust holding one already.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_protocol::keyset::{self, KeyTrust, Roots};

const ROOT: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAhiGpm3z25PURK71O+G5/iKRNp821KUW2DARv0QAxmUA=
-----END PUBLIC KEY-----
";

fuzz_target!(|data: &[u8]| {
    let Ok(jws) = std::str::from_utf8(data) else {
        return;
    };
    let _ = keyset::peek(jws);
    let roots = Roots::from_pems([ROOT]).expect("the fixed root");
    let _ = keyset::verify(jws, &roots);
    let mut trust = KeyTrust::new(roots);
    if trust.offer(jws).is_ok() {
        if let Some(set) = trust.newest() {
            for k in &set.claims.keys {
                let _ = set.check_use(&k.kid, &k.agency_id, 0);
            }
        }
    }
});
