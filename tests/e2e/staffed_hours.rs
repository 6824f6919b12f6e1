//! Staffed hours: a platform's directory entry says when its moderation is staffed, in its
//! own time zone; an action day whose H-hour falls outside them warns the coordinator,
//! naming the platform, its local time and whom to reach, and tells no one else.

use jiff::{Timestamp, ToSpan, civil, tz::TimeZone};
use takedown_protocol::{
    pb,
    timestamp::{from_millis, to_millis},
};
use takedown_tests::{
    Backend, eventually,
    hub::HubOptions,
    lists::{referral, removal_order},
    pki::{AGENCIES, COORDINATOR, PLATFORMS},
    sidecar::AutoPolicy,
    world::{World, platform_row},
};
use tonic::Code;
use tonic_types::StatusExt;

both_backends!(
    an_h_hour_outside_staffed_hours_warns_the_coordinator,
    removal_orders_delivered_out_of_hours_are_counted,
);

fn window(weekday: pb::Weekday, start: &str, end: &str) -> pb::StaffedWindow {
    pb::StaffedWindow {
        weekday: weekday as i32,
        start: start.into(),
        end: end.into(),
    }
}

/// Office hours in Tallinn, Monday to Friday.
fn tallinn_office() -> pb::Staffing {
    use pb::Weekday::*;
    pb::Staffing {
        time_zone: "Europe/Tallinn".into(),
        windows: [Monday, Tuesday, Wednesday, Thursday, Friday]
            .into_iter()
            .map(|d| window(d, "08:00", "18:00"))
            .collect(),
        contact_point: "duty@tamtam.example".into(),
    }
}

/// The next `weekday` at `hour:minute` in `zone`, at least two days from now (Unix ms).
fn next_local(zone: &str, weekday: civil::Weekday, hour: i8, minute: i8) -> i64 {
    let tz = TimeZone::get(zone).unwrap();
    let mut date = Timestamp::now().to_zoned_datetime(tz.clone()).date() + 2.days();
    while date.weekday() != weekday {
        date = date.tomorrow().unwrap();
    }
    tz.to_zoned_datetime(date.at(hour, minute, 0, 0))
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn register(staffing: Option<pb::Staffing>, endpoint: &str) -> pb::RegisterPlatformRequest {
    pb::RegisterPlatformRequest {
        delivery_mode: pb::DeliveryMode::Push as i32,
        name: "tamtam".into(),
        endpoint: endpoint.into(),
        display_name: String::new(),
        max_deliveries_per_minute: None,
        staffing,
    }
}

fn day(id: &str, h_hour: i64) -> pb::CreateActionDayRequest {
    pb::CreateActionDayRequest {
        id: id.into(),
        name: id.into(),
        starts_at: Some(from_millis(h_hour)),
        ends_at: Some(from_millis(h_hour + 3_600_000)),
        platforms: PLATFORMS.iter().map(|s| s.to_string()).collect(),
        agencies: AGENCIES.iter().map(|s| s.to_string()).collect(),
    }
}

async fn an_h_hour_outside_staffed_hours_warns_the_coordinator(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let mut c = w.as_org(COORDINATOR).await;
    let tamtam = w.endpoint("tamtam");

    // A zone that does not exist is refused, naming the field, and changes nothing.
    let mut bad = tallinn_office();
    bad.time_zone = "Europe/Atlantis".into();
    let refused = c
        .directory
        .register_platform(register(Some(bad), &tamtam))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let field = refused.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(field.field_violations[0].field, "staffing.time_zone");
    let mut bad = tallinn_office();
    bad.windows[3].end = "18:60".into();
    let refused = c
        .directory
        .register_platform(register(Some(bad), &tamtam))
        .await
        .unwrap_err();
    assert!(
        refused.message().contains("staffing.windows[3].end"),
        "{refused:?}"
    );
    let listed = c
        .directory
        .list_platforms(pb::ListPlatformsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.platforms.iter().all(|p| p.staffing.is_none()));

    // tamtam keeps office hours in Tallinn; telegram is staffed around the clock; x has not
    // said. Registering again without staffing keeps it.
    c.directory
        .register_platform(register(Some(tallinn_office()), &tamtam))
        .await
        .unwrap();
    let kept = c
        .directory
        .register_platform(register(None, &tamtam))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.staffing, Some(tallinn_office()));
    c.directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Push as i32,
            name: "telegram".into(),
            endpoint: w.endpoint("telegram"),
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: Some(pb::Staffing {
                time_zone: "UTC".into(),
                windows: (1..=7)
                    .map(|d| pb::StaffedWindow {
                        weekday: d,
                        start: "00:00".into(),
                        end: "24:00".into(),
                    })
                    .collect(),
                contact_point: String::new(),
            }),
        })
        .await
        .unwrap();

    // H-hour at 01:30 on a Saturday in Tallinn: tamtam is warned about, and only tamtam.
    let night = next_local("Europe/Tallinn", civil::Weekday::Saturday, 1, 30);
    let created = c
        .action_day
        .create_action_day(day("night", night))
        .await
        .unwrap()
        .into_inner();
    let warned: Vec<&str> = created
        .staffing_warnings
        .iter()
        .map(|w| w.platform.as_str())
        .collect();
    assert_eq!(warned, ["tamtam"]);
    let warning = &created.staffing_warnings[0];
    assert!(
        warning.local_time.starts_with("Sat ")
            && warning.local_time.contains(" 01:30 (Europe/Tallinn, +0"),
        "{warning:?}"
    );
    assert_eq!(warning.contact_point, "duty@tamtam.example");
    let tz = TimeZone::get("Europe/Tallinn").unwrap();
    let saturday = Timestamp::from_millisecond(night)
        .unwrap()
        .to_zoned_datetime(tz.clone())
        .date();
    let monday = tz
        .to_zoned_datetime((saturday + 2.days()).at(8, 0, 0, 0))
        .unwrap()
        .timestamp()
        .as_millisecond();
    assert_eq!(
        warning.next_staffed_at.as_ref().map(to_millis),
        Some(monday),
        "staffed again on Monday at 08:00 Tallinn time"
    );

    // The coordinator sees it again on the day; an agency of the day does not learn the
    // platforms' staffing.
    let got = c
        .action_day
        .get_action_day(pb::GetActionDayRequest { id: "night".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.staffing_warnings, created.staffing_warnings);
    let seen_by_agency = w
        .as_org("agency-fr")
        .await
        .action_day
        .get_action_day(pb::GetActionDayRequest { id: "night".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(seen_by_agency.staffing_warnings.is_empty());

    // H-hour on a Tuesday at 10:00 in Tallinn: nobody to warn about.
    let office = next_local("Europe/Tallinn", civil::Weekday::Tuesday, 10, 0);
    let created = c
        .action_day
        .create_action_day(day("office", office))
        .await
        .unwrap()
        .into_inner();
    assert!(
        created.staffing_warnings.is_empty(),
        "{:?}",
        created.staffing_warnings
    );
    // Moved to the Saturday night: warned about in the move's answer, the same way.
    let moved = c
        .action_day
        .move_action_day(pb::MoveActionDayRequest {
            id: "office".into(),
            starts_at: Some(from_millis(night)),
            ends_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let warned: Vec<&str> = moved
        .staffing_warnings
        .iter()
        .map(|w| w.platform.as_str())
        .collect();
    assert_eq!(warned, ["tamtam"]);
    assert!(
        moved.staffing_warnings[0]
            .local_time
            .contains(" 01:30 (Europe/Tallinn, +0"),
        "{:?}",
        moved.staffing_warnings
    );
}

/// Staffed in UTC only on `weekday` (1 = Monday), all day.
fn only_on(weekday: i32, contact: &str) -> pb::Staffing {
    pb::Staffing {
        time_zone: "UTC".into(),
        windows: vec![pb::StaffedWindow {
            weekday,
            start: "00:00".into(),
            end: "24:00".into(),
        }],
        contact_point: contact.into(),
    }
}

async fn removal_orders_delivered_out_of_hours_are_counted(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let mut c = w.as_org(COORDINATOR).await;
    // tamtam works only three days from today (UTC); telegram every day.
    let today = Timestamp::now()
        .to_zoned_datetime(TimeZone::UTC)
        .weekday()
        .to_monday_one_offset() as i32;
    let away = (today + 2) % 7 + 1;
    c.directory
        .register_platform(register(
            Some(only_on(away, "duty@tamtam.example")),
            &w.endpoint("tamtam"),
        ))
        .await
        .unwrap();
    let mut always = only_on(today, "");
    always.windows = (1..=7)
        .map(|d| pb::StaffedWindow {
            weekday: d,
            start: "00:00".into(),
            end: "24:00".into(),
        })
        .collect();
    c.directory
        .register_platform(pb::RegisterPlatformRequest {
            delivery_mode: pb::DeliveryMode::Push as i32,
            name: "telegram".into(),
            endpoint: w.endpoint("telegram"),
            display_name: String::new(),
            max_deliveries_per_minute: None,
            staffing: Some(always),
        })
        .await
        .unwrap();
    let _tt = w.sidecar("tamtam", &AutoPolicy::default()).await;
    let _tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("ro-day", 2_000).await;
    let list = w.key("agency-fr").list(
        "ro-list",
        Some("ro-day"),
        vec![
            removal_order("tamtam", "@ro_a", "RO-2026-FR-1"),
            removal_order("tamtam", "@ro_b", "RO-2026-FR-2"),
            removal_order("telegram", "@ro_c", "RO-2026-FR-3"),
            referral("tamtam", "@tos_only"),
        ],
    );
    w.submit("agency-fr", &list).await;
    eventually(
        std::time::Duration::from_secs(30),
        "the removal orders delivered",
        || async {
            let s = w.summary_as(COORDINATOR, "ro-day").await;
            platform_row(&s, "tamtam").removal_orders == 2
                && platform_row(&s, "telegram").removal_orders == 1
        },
    )
    .await;
    let s = w.summary_as(COORDINATOR, "ro-day").await;
    assert_eq!(platform_row(&s, "tamtam").removal_orders_out_of_hours, 2);
    assert_eq!(platform_row(&s, "telegram").removal_orders_out_of_hours, 0);
    assert_eq!(
        platform_row(&s, "x").removal_orders_out_of_hours,
        0,
        "x has not said"
    );
    // The platform sees its own count; an agency's view does not carry it.
    let own = w.summary_as("tamtam", "ro-day").await;
    assert_eq!(platform_row(&own, "tamtam").removal_orders_out_of_hours, 2);
    let agency = w.summary_as("agency-fr", "ro-day").await;
    assert!(
        agency
            .platforms
            .iter()
            .all(|p| p.removal_orders_out_of_hours == 0)
    );
}
