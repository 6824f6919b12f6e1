//! A `ReportOutcomes` call as the hub receives it from a sidecar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use takedown_protocol::pb;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = pb::ReportOutcomesRequest::decode(data) {
        for r in &req.reports {
            let _ = r.encoded_len();
        }
    }
});
