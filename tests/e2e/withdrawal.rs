//! Withdrawals take back referrals, not other agencies' work: an agency withdraws its own
//! referral; the target is withdrawn at the platform only when no referral of it stands.

use takedown_protocol::pb::{self, TargetState};
use takedown_tests::{
    Backend, LONG, eventually, hub::HubOptions, lists::referral, pki::COORDINATOR,
    sidecar::AutoPolicy, world::World,
};

both_backends!(an_agency_withdraws_only_its_own_referral);

use tonic::Code;

use crate::code;

fn withdraw(target_id: &str, reason: &str) -> pb::WithdrawTargetRequest {
    pb::WithdrawTargetRequest {
        target_id: target_id.into(),
        reason: reason.into(),
        agency_ids: Vec::new(),
        ..Default::default()
    }
}

async fn an_agency_withdraws_only_its_own_referral(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let tg = w.sidecar("telegram", &AutoPolicy::default()).await;
    let fr = w.key("agency-fr").list(
        "fr-w",
        None,
        vec![
            referral("telegram", "@shared_w"),
            referral("telegram", "@only_fr"),
        ],
    );
    let de = w.key("agency-de").list(
        "de-w",
        None,
        vec![referral("telegram", "https://t.me/shared_w")],
    );
    let fr_ids = w.submit("agency-fr", &fr).await;
    let de_ids = w.submit("agency-de", &de).await;
    assert_eq!(fr_ids[0], de_ids[0], "one target, referred by both");
    let shared = fr_ids[0].clone();
    eventually(LONG, "both targets blocked", || async {
        w.list_items(COORDINATOR, "fr-w")
            .await
            .iter()
            .all(|i| i.state() == TargetState::Blocked)
    })
    .await;

    // An agency cannot take back another agency's referral by naming it.
    let mut named = withdraw(&shared, "not ours");
    named.agency_ids = vec!["agency-de".into()];
    let refused = w
        .as_org("agency-fr")
        .await
        .referral
        .withdraw_target(named)
        .await;
    assert_eq!(code(&refused), Code::InvalidArgument);
    assert!(
        refused.unwrap_err().message().contains("agency-de"),
        "the refusal names the agency"
    );

    // agency-fr withdraws its referral of the shared target: agency-de's still stands.
    let answer = w
        .as_org("agency-fr")
        .await
        .referral
        .withdraw_target(withdraw(&shared, "our referral was wrong"))
        .await
        .expect("fr withdraws")
        .into_inner();
    assert_eq!(
        (
            answer.target_withdrawn,
            answer.referrals_withdrawn,
            answer.referrals_standing,
            answer.withdrawals_queued
        ),
        (false, 1, 1, 0)
    );
    assert_eq!(
        w.list_items("agency-fr", "fr-w").await[0].state(),
        TargetState::Withdrawn,
        "agency-fr sees its referral withdrawn"
    );
    assert_eq!(
        w.list_items("agency-de", "de-w").await[0].state(),
        TargetState::Blocked,
        "agency-de's referral still stands"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    assert_eq!(
        tg.withdrawals().await,
        0,
        "the platform is not asked to restore a target another agency still refers"
    );

    // agency-de withdraws its whole list: no referral of the shared target stands, and
    // the platform is asked to restore it.
    let whole = w
        .as_org("agency-de")
        .await
        .referral
        .withdraw_list(pb::WithdrawListRequest {
            list_id: "de-w".into(),
            reason: "appeal upheld".into(),
            ..Default::default()
        })
        .await
        .expect("de withdraws its list")
        .into_inner();
    assert_eq!(
        (
            whole.referrals_withdrawn,
            whole.targets_withdrawn,
            whole.targets_standing,
            whole.withdrawals_queued
        ),
        (1, 1, 0, 1)
    );
    // Another agency's list is not found, like one that does not exist.
    let other = w
        .as_org("agency-de")
        .await
        .referral
        .withdraw_list(pb::WithdrawListRequest {
            list_id: "fr-w".into(),
            reason: "x".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&other), Code::NotFound);
    assert_eq!(
        w.list_items("agency-de", "de-w").await[0].state(),
        TargetState::Withdrawn
    );
    eventually(LONG, "the platform receives one withdrawal", || async {
        tg.withdrawals().await == 1
    })
    .await;
    assert_eq!(
        w.list_items("agency-fr", "fr-w").await[1].state(),
        TargetState::Blocked,
        "agency-fr's other target is untouched"
    );
}
