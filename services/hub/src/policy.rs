//! Who may call what: the hub's one authorization table, by RPC method name. Every handler
//! asks it first ([`crate::auth::Caller::authorize`]); what a caller then sees of the data
//! its role may reach (an agency its own lists, a platform what was delivered to it) is
//! the handler's to filter. Tests check that every RPC the hub serves (by the compiled
//! descriptors) has exactly one entry and that its handler consults it, so an RPC cannot
//! be added without a policy.

use crate::auth::Role::{self, Agency, Coordinator, Platform};

const EVERYONE: &[Role] = &[Agency, Platform, Coordinator];
const AGENCIES: &[Role] = &[Agency];
const PLATFORMS: &[Role] = &[Platform];
const COORDINATORS: &[Role] = &[Coordinator];
const AGENCIES_AND_COORDINATORS: &[Role] = &[Agency, Coordinator];

/// (RPC method name, the roles that may call it).
pub const POLICY: &[(&str, &[Role])] = &[
    // ReferralService: agencies submit and follow their own lists.
    ("SubmitReferralList", AGENCIES),
    ("GetListStatus", AGENCIES_AND_COORDINATORS),
    ("WithdrawTarget", AGENCIES_AND_COORDINATORS),
    ("WithdrawList", AGENCIES_AND_COORDINATORS),
    ("UpholdOnScrutiny", COORDINATORS),
    ("PreserveTarget", COORDINATORS),
    // DirectoryService: coordinators keep it, everyone reads what it needs.
    ("RegisterOrganization", COORDINATORS),
    ("ListOrganizations", COORDINATORS),
    ("PublishKeySet", COORDINATORS),
    ("GetKeySet", EVERYONE),
    ("WatchKeySet", EVERYONE),
    ("GetAgencyKeys", EVERYONE),
    ("RegisterPlatform", COORDINATORS),
    ("ListPlatforms", EVERYONE),
    // ActionDayService: coordinators run days; participants see theirs.
    ("CreateActionDay", COORDINATORS),
    ("GetActionDay", EVERYONE),
    ("ListActionDays", EVERYONE),
    ("CloseActionDay", COORDINATORS),
    ("MoveActionDay", COORDINATORS),
    // HoldService: a holder's own holds (coordinators: all).
    ("PlaceHold", AGENCIES_AND_COORDINATORS),
    ("ReleaseHold", AGENCIES_AND_COORDINATORS),
    ("ListHolds", AGENCIES_AND_COORDINATORS),
    // PlatformService: a platform's own share and its outcomes.
    ("PullDeliveries", PLATFORMS),
    ("ReportOutcomes", PLATFORMS),
    // SummaryService: each role its own view.
    ("GetActionDaySummary", EVERYONE),
    ("WatchActionDay", EVERYONE),
    ("ListFailedDeliveries", COORDINATORS),
    ("ListRefusedReports", COORDINATORS),
    // AuditService and TransparencyService: coordinators.
    ("ListAuditEntries", COORDINATORS),
    ("GetAuditHead", COORDINATORS),
    ("ExportTransparency", COORDINATORS),
];

/// The roles that may call `rpc`; `None` for a method with no policy (refused).
pub fn roles(rpc: &str) -> Option<&'static [Role]> {
    POLICY.iter().find(|(m, _)| *m == rpc).map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The services the hub does not serve (the sidecar serves `ReceiverService`).
    const NOT_SERVED_BY_THE_HUB: &[&str] = &["ReceiverService"];

    /// The handlers' sources.
    const HANDLERS: &[&str] = &[
        include_str!("api/referral.rs"),
        include_str!("api/directory.rs"),
        include_str!("api/action_day.rs"),
        include_str!("api/hold.rs"),
        include_str!("api/platform.rs"),
        include_str!("api/summary.rs"),
        include_str!("api/failed.rs"),
        include_str!("api/audit.rs"),
    ];

    /// Every RPC of the services the hub serves, from the compiled descriptors.
    fn served_rpcs() -> Vec<String> {
        takedown_protocol::rpcs::all()
            .into_iter()
            .filter(|r| !NOT_SERVED_BY_THE_HUB.contains(&r.service.as_str()))
            .map(|r| r.method)
            .collect()
    }

    #[test]
    fn every_rpc_the_hub_serves_has_exactly_one_policy() {
        let served = served_rpcs();
        assert!(served.len() >= 30, "the descriptors name {served:?}");
        let served: BTreeSet<_> = served.iter().map(String::as_str).collect();
        let names: Vec<&str> = POLICY.iter().map(|(m, _)| *m).collect();
        let policed: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(names.len(), policed.len(), "an RPC with two policies");
        let missing: Vec<_> = served.difference(&policed).collect();
        assert!(missing.is_empty(), "RPCs without a policy: {missing:?}");
        let stale: Vec<_> = policed.difference(&served).collect();
        assert!(
            stale.is_empty(),
            "policies for RPCs the hub does not serve: {stale:?}"
        );
        assert!(POLICY.iter().all(|(_, roles)| !roles.is_empty()));
    }

    #[test]
    fn every_handler_consults_the_policy_once() {
        for (rpc, _) in POLICY {
            let call = format!("authorize(\"{rpc}\")");
            let n: usize = HANDLERS.iter().map(|src| src.matches(&call).count()).sum();
            assert_eq!(
                n, 1,
                "{rpc}: its handler must call `who.{call}` once, found {n}"
            );
        }
        for src in HANDLERS {
            assert!(
                !src.contains(".require("),
                "a handler checks roles beside the policy table"
            );
        }
    }

    #[test]
    fn an_rpc_without_a_policy_is_refused() {
        assert_eq!(roles("NoSuchRpc"), None);
        assert_eq!(roles("PreserveTarget"), Some(COORDINATORS));
    }
}
