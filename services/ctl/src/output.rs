//! Printing: terminal tables for lists, pretty JSON for scripts, and the human words for
//! the hub's enums.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use takedown_protocol::pb::{ActionDayState, KeyState, RejectReason, Role, TargetState};

/// A table with a header row.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header);
    t
}

/// A table with a header row given as a slice.
pub fn table_of(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// The width to fit tables to: `explicit`, else the terminal's when standard output is
/// one, else none (a pipe or a file gets every table whole).
pub fn terminal_width(explicit: Option<u16>) -> Option<u16> {
    explicit.or_else(|| {
        terminal_size::terminal_size_of(std::io::stdout()).map(|(terminal_size::Width(w), _)| w)
    })
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The human words for a target state; rejections carry their reason.
pub fn target_state(state: i32, reason: i32) -> String {
    match TargetState::try_from(state).unwrap_or(TargetState::Unspecified) {
        TargetState::Unspecified => "unknown".into(),
        TargetState::Embargoed => "embargoed".into(),
        TargetState::Held => "held (deconfliction)".into(),
        TargetState::Released => "released".into(),
        TargetState::Delivered => "delivered".into(),
        TargetState::Acknowledged => "acknowledged".into(),
        TargetState::Blocked => "blocked".into(),
        TargetState::AlreadyGone => "already gone".into(),
        TargetState::NotFound => "not found".into(),
        TargetState::GeoBlocked => "geo-blocked".into(),
        TargetState::Rejected => format!("rejected ({})", reject_reason(reason)),
        TargetState::Failed => "failed".into(),
        TargetState::Withdrawn => "withdrawn".into(),
    }
}

/// A reject reason without its prefix: `NOT_A_VIOLATION`, ...
pub fn reject_reason(reason: i32) -> &'static str {
    let name = RejectReason::try_from(reason)
        .unwrap_or(RejectReason::Unspecified)
        .as_str_name();
    name.strip_prefix("REJECT_REASON_").unwrap_or(name)
}

/// `agency`, `platform`, `coordinator`.
pub fn role(role: i32) -> &'static str {
    match Role::try_from(role).unwrap_or(Role::Unspecified) {
        Role::Unspecified => "unknown",
        Role::Agency => "agency",
        Role::Platform => "platform",
        Role::Coordinator => "coordinator",
    }
}

/// `active`, `revoked`.
pub fn key_state(state: i32) -> &'static str {
    match KeyState::try_from(state).unwrap_or(KeyState::Unspecified) {
        KeyState::Unspecified => "unknown",
        KeyState::Active => "active",
        KeyState::Revoked => "compromised",
        KeyState::Retired => "retired",
    }
}

/// `planned`, `live`, `closed`.
pub fn action_day_state(state: i32) -> &'static str {
    match ActionDayState::try_from(state).unwrap_or(ActionDayState::Unspecified) {
        ActionDayState::Unspecified => "unknown",
        ActionDayState::Planned => "planned",
        ActionDayState::Live => "live",
        ActionDayState::Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words() {
        assert_eq!(
            target_state(TargetState::Held as i32, 0),
            "held (deconfliction)"
        );
        assert_eq!(
            target_state(
                TargetState::Rejected as i32,
                RejectReason::NotAViolation as i32
            ),
            "rejected (NOT_A_VIOLATION)"
        );
        assert_eq!(
            target_state(TargetState::AlreadyGone as i32, 0),
            "already gone"
        );
        assert_eq!(target_state(99, 0), "unknown");
        assert_eq!(role(Role::Coordinator as i32), "coordinator");
        assert_eq!(key_state(KeyState::Revoked as i32), "compromised");
        assert_eq!(key_state(KeyState::Retired as i32), "retired");
        assert_eq!(action_day_state(ActionDayState::Live as i32), "live");
    }
}
