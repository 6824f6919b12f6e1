//! Store rows → wire messages, and the derived state of a target.

use takedown_protocol::{
    keyset::StatementKey,
    pb::{self, Outcome, TargetState},
    timestamp::{from_millis, opt_from_millis},
};
use takedown_store::{DeliveryState, ItemRecord, model};

use crate::{keys::Current, public_id::PublicIds};

pub fn organization(o: model::Organization) -> pb::Organization {
    pb::Organization {
        id: o.id.into(),
        role: o.role.to_pb() as i32,
        display_name: o.display_name,
        registered_at: Some(from_millis(o.registered_at)),
    }
}

/// A statement key as of `now` (Unix seconds).
pub fn agency_key(k: &StatementKey, now: i64) -> pb::AgencyKey {
    let secs = |s: i64| from_millis(s.saturating_mul(1000));
    let state = if k.compromised_since.is_some_and(|s| s <= now) {
        pb::KeyState::Revoked
    } else if k.retired_at.is_some_and(|r| r <= now) {
        pb::KeyState::Retired
    } else {
        pb::KeyState::Active
    };
    pb::AgencyKey {
        state: state as i32,
        kid: k.kid.clone(),
        agency_id: k.agency_id.clone(),
        public_key_pem: k.public_key_pem.clone(),
        valid_from: Some(secs(k.valid_from)),
        compromised_since: k.compromised_since.map(secs),
        retired_at: k.retired_at.map(secs),
        reason: k.reason.clone(),
    }
}

pub fn key_set(c: &Current) -> pb::KeySetStatement {
    pb::KeySetStatement {
        jws: c.record.jws.clone(),
        version: c.set.version(),
        published_at: Some(from_millis(c.record.published_at)),
        published_by: c.record.published_by.to_string(),
        invalidated_lists: Vec::new(),
    }
}

pub fn platform(p: model::Platform) -> pb::Platform {
    pb::Platform {
        name: p.name.into(),
        endpoint: p.endpoint,
        display_name: p.display_name,
        registered_at: Some(from_millis(p.registered_at)),
        max_deliveries_per_minute: p.max_per_minute.unwrap_or(0),
        staffing: p.staffing.as_ref().map(|s| s.to_pb()),
        delivery_mode: p.mode as i32,
    }
}

pub fn action_day_state(d: &model::ActionDay, now: i64) -> pb::ActionDayState {
    if d.closed_at.is_some() {
        pb::ActionDayState::Closed
    } else if now >= d.starts_at {
        pb::ActionDayState::Live
    } else {
        pb::ActionDayState::Planned
    }
}

pub fn action_day(d: model::ActionDay, now: i64) -> pb::ActionDay {
    pb::ActionDay {
        state: action_day_state(&d, now) as i32,
        id: d.id.into(),
        name: d.name,
        starts_at: Some(from_millis(d.starts_at)),
        ends_at: Some(from_millis(d.ends_at)),
        platforms: d.platforms.into_iter().map(String::from).collect(),
        agencies: d.agencies.into_iter().map(String::from).collect(),
        created_at: Some(from_millis(d.created_at)),
        released_at: opt_from_millis(d.released_at),
        closed_at: opt_from_millis(d.closed_at),
        staffing_warnings: Vec::new(),
    }
}

/// The day's platforms that, by their directory entries, are not staffed at its H-hour.
pub fn staffing_warnings(
    d: &model::ActionDay,
    platforms: &[model::Platform],
) -> Vec<pb::StaffingWarning> {
    platforms
        .iter()
        .filter(|p| d.platforms.contains(&p.name))
        .filter_map(|p| {
            let s = p.staffing.as_ref()?;
            if s.is_staffed(d.starts_at) {
                return None;
            }
            Some(pb::StaffingWarning {
                platform: p.name.to_string(),
                local_time: s.local_time(d.starts_at),
                next_staffed_at: s.next_staffed(d.starts_at).map(from_millis),
                contact_point: s.contact_point.clone(),
            })
        })
        .collect()
}

/// A hold as `viewer_sees_holder` allows: the holder is shown only to coordinators and to
/// the holder itself.
pub fn hold(h: model::Hold, viewer_sees_holder: bool) -> pb::Hold {
    pb::Hold {
        id: h.id.into(),
        platform: h.platform.into(),
        target: h.target,
        normalized_target: h.normalized,
        reason: h.reason,
        expires_at: Some(from_millis(h.expires_at)),
        created_at: Some(from_millis(h.created_at)),
        placed_by: if viewer_sees_holder {
            h.placed_by.into()
        } else {
            String::new()
        },
        released_at: opt_from_millis(h.released_at),
    }
}

/// The state of an item's target, derived from its stored facts at `now`.
pub fn target_state(r: &ItemRecord, now: i64) -> TargetState {
    if r.withdrawn_at.is_some() {
        return TargetState::Withdrawn;
    }
    if let Some(o) = r.outcome {
        return match o {
            Outcome::Blocked => TargetState::Blocked,
            Outcome::AlreadyGone => TargetState::AlreadyGone,
            Outcome::NotFound => TargetState::NotFound,
            Outcome::GeoBlocked => TargetState::GeoBlocked,
            Outcome::Rejected => TargetState::Rejected,
            Outcome::Unspecified => TargetState::Acknowledged,
        };
    }
    if r.delivery_state == Some(DeliveryState::Failed) {
        return TargetState::Failed;
    }
    if r.acked_at.is_some() {
        return TargetState::Acknowledged;
    }
    if r.delivered_at.is_some() {
        return TargetState::Delivered;
    }
    if r.held {
        return TargetState::Held;
    }
    if r.due_at > now {
        return TargetState::Embargoed;
    }
    TargetState::Released
}

pub fn item_status(r: ItemRecord, ids: &PublicIds, now: i64) -> pb::ItemStatus {
    let state = target_state(&r, now);
    let detail = match state {
        TargetState::Rejected => r.outcome_text.clone().unwrap_or_default(),
        TargetState::Failed => r.fail_reason.clone().unwrap_or_default(),
        _ => String::new(),
    };
    pb::ItemStatus {
        index: r.index,
        target_id: ids.target(r.target_id),
        platform: r.platform.into(),
        normalized_target: r.normalized,
        state: state as i32,
        reject_reason: if state == TargetState::Rejected {
            r.reject_reason.unwrap_or_default() as i32
        } else {
            0
        },
        detail,
    }
}

#[cfg(test)]
mod tests {
    use takedown_store::testing::checked;

    use super::*;

    fn item() -> ItemRecord {
        ItemRecord {
            index: 0,
            target_id: takedown_store::TargetId::new(1),
            platform: checked("telegram"),
            normalized: "foo".into(),
            due_at: 1_000,
            held: false,
            delivery_state: Some(DeliveryState::Pending),
            delivered_at: None,
            acked_at: None,
            outcome: None,
            reject_reason: None,
            outcome_text: None,
            fail_reason: None,
            withdrawn_at: None,
        }
    }

    #[test]
    fn states_follow_the_lifecycle() {
        let mut r = item();
        assert_eq!(target_state(&r, 999), TargetState::Embargoed);
        assert_eq!(target_state(&r, 1_000), TargetState::Released);
        r.held = true;
        assert_eq!(target_state(&r, 999), TargetState::Held);
        assert_eq!(target_state(&r, 2_000), TargetState::Held);
        r.delivered_at = Some(2_000);
        assert_eq!(target_state(&r, 3_000), TargetState::Delivered);
        r.acked_at = Some(2_100);
        assert_eq!(target_state(&r, 3_000), TargetState::Acknowledged);
        r.outcome = Some(Outcome::Rejected);
        assert_eq!(target_state(&r, 3_000), TargetState::Rejected);
        r.withdrawn_at = Some(4_000);
        assert_eq!(target_state(&r, 5_000), TargetState::Withdrawn);
        let mut f = item();
        f.delivery_state = Some(DeliveryState::Failed);
        assert_eq!(target_state(&f, 5_000), TargetState::Failed);
    }
}
