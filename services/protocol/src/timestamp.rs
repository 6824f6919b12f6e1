//! Protobuf timestamps ↔ Unix milliseconds (the store keeps milliseconds).

use prost_types::Timestamp;

/// Unix milliseconds of a protobuf timestamp.
pub fn to_millis(ts: &Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos) / 1_000_000)
}

/// A protobuf timestamp from Unix milliseconds.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// An optional protobuf timestamp from optional Unix milliseconds.
pub fn opt_from_millis(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(from_millis)
}

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_negative_times() {
        for ms in [0, 1, 999, 1000, 1_764_000_000_123, -1, -1001] {
            assert_eq!(to_millis(&from_millis(ms)), ms);
        }
    }
}
