//! A `Deliver` batch as a sidecar receives it: decoded, each referral's inclusion proof
//! unpacked and checked against its list's signed root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use takedown_protocol::{merkle, pb, signing};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = pb::DeliverRequest::decode(data) else {
        return;
    };
    for l in &req.lists {
        let _ = signing::key_id(&l.jws);
    }
    for d in &req.deliveries {
        for ev in &d.referrals {
            if let Some(path) = merkle::unpack_path(&ev.audit_path) {
                let count = req
                    .lists
                    .iter()
                    .find(|l| l.list_id == ev.list_id)
                    .map_or(0, |l| l.item_count);
                let _ = merkle::verify_inclusion(
                    ev.item_index,
                    count,
                    &merkle::leaf_hash(&ev.item),
                    &path,
                    &[0u8; 32],
                );
            }
            let _ = pb::Referral::decode(ev.item.as_slice());
        }
    }
});
