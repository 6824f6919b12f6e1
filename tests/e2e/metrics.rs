//! `/metrics` on the hub and on a sidecar, scraped over plain HTTP from the real
//! processes: intake refusals by reason, the outbox before and after H-hour, deliveries,
//! reports, handoffs and the key set, each figure checked against what the test did.

use takedown_protocol::pb::{self, TargetState};
use takedown_tests::{
    Backend, LONG, eventually,
    hub::HubOptions,
    lists::{referral, referrals, request},
    metric, scrape,
    sidecar::AutoPolicy,
    world::World,
};

both_backends!(metrics_follow_an_action_day);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn value(text: &str, series: &str) -> f64 {
    metric(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

async fn metrics_follow_an_action_day(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let sidecar = w.sidecar("telegram", &AutoPolicy::default()).await;
    w.action_day("day-m", 3_000).await;

    // One list refused (an unknown platform at item 1), one accepted with 20 targets.
    let bad = w.key("agency-fr").list(
        "bad",
        Some("day-m"),
        vec![referral("telegram", "@ok"), referral("myspace", "@nope")],
    );
    let refused = w
        .as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&bad))
        .await
        .expect_err("an unknown platform");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let good = w
        .key("agency-fr")
        .list("good", Some("day-m"), referrals("telegram", "m", 20));
    w.as_org("agency-fr")
        .await
        .referral
        .submit_referral_list(request(&good))
        .await
        .expect("the list");

    // Before H-hour: the targets wait in the outbox, scheduled.
    let (content_type, hub) = scrape(&w.hub.metrics_url).await;
    assert_eq!(content_type, OPENMETRICS);
    assert!(hub.ends_with("# EOF\n"), "{hub}");
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_intake_refusals_total{code="INVALID_ARGUMENT",field="items[].platform"}"#
        ),
        1.0
    );
    assert_eq!(value(&hub, "takedown_hub_lists_accepted_total"), 1.0);
    assert_eq!(value(&hub, "takedown_hub_items_accepted_total"), 20.0);
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_outbox_deliveries{platform="telegram",state="scheduled"}"#
        ),
        20.0
    );
    assert!(
        metric(
            &hub,
            r#"takedown_hub_deliveries_total{platform="telegram",result="delivered"}"#
        )
        .is_none(),
        "nothing delivered before H-hour:\n{hub}"
    );
    assert!(value(&hub, r#"takedown_hub_db_connections{state="max"}"#) >= 1.0);

    // After H-hour: every target blocked, acknowledged and decided at the hub.
    eventually(LONG, "every target blocked", || async {
        w.list_items("agency-fr", "good")
            .await
            .iter()
            .all(|i| i.state() == TargetState::Blocked)
    })
    .await;
    eventually(LONG, "the sidecar's reports all sent", || async {
        let (_, s) = scrape(&sidecar.metrics_url).await;
        metric(&s, r#"takedown_sidecar_outbox_reports{state="pending"}"#) == Some(0.0)
            && metric(&s, r#"takedown_sidecar_reports_total{result="sent"}"#)
                .is_some_and(|n| n >= 40.0)
    })
    .await;

    // A report on a target that does not exist is refused (and counted).
    let bad_report = w
        .as_org("telegram")
        .await
        .platform
        .report_outcomes(pb::ReportOutcomesRequest {
            reports: vec![pb::PlatformReport {
                report_id: "r-nope".into(),
                target_id: "t-nope".into(),
                report: Some(pb::platform_report::Report::Acknowledgement(
                    pb::Acknowledgement::default(),
                )),
            }],
        })
        .await
        .expect_err("an unknown target");
    assert_eq!(bad_report.code(), tonic::Code::InvalidArgument);

    let (_, hub) = scrape(&w.hub.metrics_url).await;
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_deliveries_total{platform="telegram",result="delivered"}"#
        ),
        20.0
    );
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_report_refusals_total{platform="telegram",code="INVALID_ARGUMENT"}"#
        ),
        1.0
    );
    for state in ["due", "scheduled", "in_flight"] {
        assert_eq!(
            value(
                &hub,
                &format!(
                    r#"takedown_hub_outbox_deliveries{{platform="telegram",state="{state}"}}"#
                )
            ),
            0.0,
            "an emptied outbox reads 0"
        );
    }
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_reports_received_total{platform="telegram",kind="decision",outcome="BLOCKED"}"#
        ),
        20.0
    );
    assert_eq!(
        value(
            &hub,
            r#"takedown_hub_reports_recorded_total{platform="telegram"}"#
        ),
        40.0,
        "20 acknowledgements and 20 decisions"
    );
    assert_eq!(
        value(&hub, r#"takedown_hub_circuit_open{platform="telegram"}"#),
        0.0
    );
    assert!(
        value(
            &hub,
            r#"takedown_hub_deliver_call_seconds_count{platform="telegram"}"#
        ) >= 1.0
    );

    let (_, s) = scrape(&sidecar.metrics_url).await;
    assert_eq!(
        value(
            &s,
            r#"takedown_sidecar_deliveries_total{kind="takedown",result="accepted"}"#
        ),
        20.0
    );
    assert_eq!(value(&s, "takedown_sidecar_deliveries_stored_total"), 20.0);
    assert_eq!(value(&s, "takedown_sidecar_handed_total"), 20.0);
    assert!(value(&s, r#"takedown_sidecar_handoff_batches_total{result="ok"}"#) >= 1.0);
    assert_eq!(value(&s, "takedown_sidecar_key_set_version"), 1.0);
    assert_eq!(value(&s, "takedown_sidecar_key_set_fresh"), 1.0);
    assert!(value(&s, "takedown_sidecar_deliver_seconds_count") >= 1.0);

    // Every series the Grafana dashboard queries is one the services expose.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../services/monitoring/grafana/dashboards/takedown.json"),
    )
    .expect("the dashboard");
    let exposed = format!("{hub}{s}");
    let mut queried = 0;
    for (at, _) in dashboard.match_indices("takedown_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !(name.starts_with("takedown_hub_") || name.starts_with("takedown_sidecar_")) {
            continue;
        }
        queried += 1;
        assert!(
            exposed.lines().any(|l| l.starts_with(&name)
                || l.strip_prefix("# TYPE ")
                    .is_some_and(|t| t.split(' ').next() == Some(name.as_str()))),
            "the dashboard queries {name}, which neither service exposes"
        );
    }
    assert!(queried >= 15, "{queried} series queried");
}
