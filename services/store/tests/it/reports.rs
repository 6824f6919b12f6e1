//! Platform reports: refusals, duplicates, acknowledgements and decisions.

use takedown_store::*;

use crate::support::*;

conformance!(
    reports_on_undelivered_or_foreign_targets_are_refused,
    duplicates_are_counted_and_latest_decision_wins,
    a_report_before_the_deliver_answer_marks_the_target_delivered,
    refused_reports_are_kept_once_per_report_and_paged,
);

async fn refused_reports_are_kept_once_per_report_and_paged<S: Store + Probe>(s: S) {
    let refuse = |platform: &'static str, id: &'static str, reason: &'static str, at: i64| {
        let s = &s;
        async move {
            s.record_refused_report(&checked(platform), id, "t-0", reason, at)
                .await
                .unwrap()
        }
    };
    // The sidecar halves a refused batch, so the same report is refused again and again.
    refuse("video", "r-1", "first", T0).await;
    refuse("video", "r-1", "second", T0 + 5).await;
    refuse("video", "r-2", "other", T0 + 6).await;
    refuse("social", "r-1", "theirs", T0 + 7).await;
    let all = s.refused_reports(None, 0, 10).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let r1 = &all[0];
    assert_eq!(
        (
            r1.platform.as_str(),
            r1.report_id.as_str(),
            r1.target_id.as_str(),
            r1.reason.as_str(),
            r1.first_at,
            r1.last_at,
            r1.times
        ),
        ("video", "r-1", "t-0", "second", T0, T0 + 5, 2)
    );
    assert_eq!(
        s.refused_reports(Some(&checked("social")), 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let page = s.refused_reports(None, 0, 2).await.unwrap();
    let rest = s.refused_reports(None, page[1].id, 2).await.unwrap();
    assert_eq!([page, rest].concat(), all);
}

/// The sidecar may report before the hub has processed its Deliver answer: the report
/// itself proves receipt, so the target counts as delivered at once, and the late answer
/// does not move that time.
async fn a_report_before_the_deliver_answer_marks_the_target_delivered<S: Store + Probe>(s: S) {
    let sum = submit(&s, "early", T0, &[("video", "a")]).await;
    let target = sum.target_ids[0];
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 100, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let ack = report("e1", target, ReportKind::Acknowledgement, 0, T0 + 5);
    let counts = s
        .record_reports(&checked("video"), &[ack], T0 + 7)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts.recorded, 1);
    let item = &s.list_items(&checked("early"), T0 + 8).await.unwrap()[0];
    assert_eq!(
        (item.delivered_at, item.acked_at),
        (Some(T0 + 7), Some(T0 + 5))
    );
    // The Deliver answer arrives late: the delivery row catches up, the time stays.
    s.mark_delivered(&[claimed[0].id], T0 + 50).await.unwrap();
    let item = &s.list_items(&checked("early"), T0 + 60).await.unwrap()[0];
    assert_eq!(item.delivered_at, Some(T0 + 7));
    assert_eq!(item.delivery_state, Some(DeliveryState::Delivered));
}

async fn reports_on_undelivered_or_foreign_targets_are_refused<S: Store + Probe>(s: S) {
    let sum = submit(
        &s,
        "l",
        T0,
        &[("video", "a"), ("social", "b"), ("video", "c")],
    )
    .await;
    let (video_a, social_b, video_c) = (sum.target_ids[0], sum.target_ids[1], sum.target_ids[2]);
    // video/a is claimed (sent) but its answer not yet recorded; video/c stays pending;
    // social/b delivered.
    let claimed = s
        .claim_deliveries(&checked("video"), T0, T0 + 100, 1)
        .await
        .unwrap();
    deliver_all(&s, "social", T0 + 1).await;
    let items = s.list_items(&checked("l"), T0).await.unwrap();
    assert_eq!(items[0].delivery_state, Some(DeliveryState::Inflight));

    // social/b was delivered, but to another platform. video/a counts as sent to video: a
    // sidecar may report before the hub has recorded its Deliver answer.
    let refusal = s
        .record_reports(
            &checked("video"),
            &[
                report("r1", video_a, ReportKind::Acknowledgement, 0, T0 + 2),
                report("r2", social_b, ReportKind::Acknowledgement, 0, T0 + 2),
            ],
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(
        refusal,
        Err(ReportRefusal::NotDelivered {
            index: 1,
            target_id: social_b
        })
    );

    // Deliver video/a; c was never sent.
    s.mark_delivered(&[claimed[0].id], T0 + 101).await.unwrap();
    for (bad, index) in [(social_b, 1), (video_c, 1), (TargetId::new(424_242), 1)] {
        let r = s
            .record_reports(
                &checked("video"),
                &[
                    report("r1", video_a, ReportKind::Acknowledgement, 0, T0 + 2),
                    report("r2", bad, ReportKind::Decision, 1, T0 + 2),
                ],
                T0 + 3,
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Err(ReportRefusal::NotDelivered {
                index,
                target_id: bad
            })
        );
    }
    // Nothing was written.
    assert_eq!(s.count("reports").await, 0);
    let items = s.list_items(&checked("l"), T0 + 200).await.unwrap();
    assert_eq!((items[0].acked_at, items[0].outcome), (None, None));
    assert_eq!(items[1].acked_at, None);

    // The platform that got b may report on it.
    let ok = s
        .record_reports(
            &checked("social"),
            &[report(
                "r9",
                social_b,
                ReportKind::Acknowledgement,
                0,
                T0 + 4,
            )],
            T0 + 5,
        )
        .await
        .unwrap();
    assert_eq!(
        ok,
        Ok(ReportCounts {
            recorded: 1,
            duplicates: 0
        })
    );
    assert_eq!(
        s.record_reports(&checked("video"), &[], T0).await.unwrap(),
        Ok(ReportCounts::default())
    );
}

async fn duplicates_are_counted_and_latest_decision_wins<S: Store + Probe>(s: S) {
    let sum = submit(&s, "l", T0, &[("video", "a"), ("video", "b")]).await;
    let (a, b) = (sum.target_ids[0], sum.target_ids[1]);
    deliver_all(&s, "video", T0).await;

    let counts = s
        .record_reports(
            &checked("video"),
            &[
                report("ack-a-late", a, ReportKind::Acknowledgement, 0, T0 + 20),
                report("ack-a-early", a, ReportKind::Acknowledgement, 0, T0 + 10),
                report("dec-a-1", a, ReportKind::Decision, 1, T0 + 30),
                report("dec-a-1", a, ReportKind::Decision, 3, T0 + 99),
                report("dec-b-2", b, ReportKind::Decision, 2, T0 + 50),
                report("dec-b-1", b, ReportKind::Decision, 5, T0 + 40),
                report("res-b", b, ReportKind::Restoration, 1, T0 + 60),
            ],
            T0 + 100,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        ReportCounts {
            recorded: 6,
            duplicates: 1
        }
    );
    assert_eq!(s.count("reports").await, 6);

    let items = s.list_items(&checked("l"), T0 + 100).await.unwrap();
    assert_eq!(items[0].acked_at, Some(T0 + 10));
    // The repeated id was not applied: the first dec-a-1 stands.
    assert_eq!(items[0].outcome, Some(Outcome::Blocked));
    // The later decision wins, whatever the order in the batch.
    assert_eq!(items[1].outcome, Some(Outcome::AlreadyGone));
    assert_eq!(items[1].acked_at, None);

    // Redelivered reports are duplicates and change nothing; an older decision loses,
    // a newer one wins; the earliest acknowledgement stays.
    let counts = s
        .record_reports(
            &checked("video"),
            &[
                report("dec-b-2", b, ReportKind::Decision, 2, T0 + 50),
                report("dec-b-0", b, ReportKind::Decision, 4, T0 + 45),
                report("dec-a-2", a, ReportKind::Decision, 4, T0 + 31),
                report("ack-a-0", a, ReportKind::Acknowledgement, 0, T0 + 15),
            ],
            T0 + 200,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        ReportCounts {
            recorded: 3,
            duplicates: 1
        }
    );
    let items = s.list_items(&checked("l"), T0 + 200).await.unwrap();
    assert_eq!(items[1].outcome, Some(Outcome::AlreadyGone));
    assert_eq!(items[0].outcome, Some(Outcome::GeoBlocked));
    assert_eq!(items[0].acked_at, Some(T0 + 10));
    assert_eq!(s.count("reports").await, 9);
}
