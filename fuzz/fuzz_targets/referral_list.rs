//! The encoded list of a submission and each of its items, decoded as the hub's intake
//! decodes them, and every item's target normalized for every platform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use takedown_protocol::{merkle, pb, target};

const PLATFORMS: &[&str] = &[
    "telegram", "tamtam", "x", "facebook", "instagram", "youtube", "vk", "other",
];

fn item(bytes: &[u8]) {
    if let Ok(r) = pb::Referral::decode(bytes) {
        let _ = target::normalize(&r.platform, &r.target);
        for p in PLATFORMS {
            let _ = target::normalize(p, &r.target);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = pb::ReferralList::decode(data) {
        let leaves: Vec<_> = list.items.iter().map(|i| merkle::leaf_hash(i)).collect();
        let _ = merkle::Tree::from_items(&list.items);
        let _ = leaves.len();
        for i in &list.items {
            item(i);
        }
    }
    item(data);
});
