//! The access matrix as a table checked against the hub's one authorization policy
//! (`takedown_hub::policy::POLICY`): every RPC the hub serves, called by an agency, a
//! platform and a coordinator with an empty request, answers PERMISSION_DENIED exactly
//! when the policy does not open it to that role. What a role may see of the data it
//! reaches is checked by `access.rs`.

use std::{collections::BTreeMap, time::Duration};

use takedown_hub::{auth::Role, policy::POLICY};
use takedown_tests::{Backend, hub::HubOptions, pki::COORDINATOR, raw, world::World};
use tonic::Code;

both_backends!(every_rpc_answers_every_role_as_the_policy_says);

/// Method name → (`/takedown.v1.Service/Method`, whether it streams its answer).
fn methods() -> BTreeMap<String, (String, bool)> {
    takedown_protocol::rpcs::all()
        .into_iter()
        .map(|r| (r.method.clone(), (r.path(), r.server_streaming)))
        .collect()
}

async fn every_rpc_answers_every_role_as_the_policy_says(backend: Backend) {
    let Some(w) = World::start(backend, HubOptions::default()).await else {
        return;
    };
    let methods = methods();
    let callers = [
        (Role::Agency, "agency-fr"),
        (Role::Platform, "telegram"),
        (Role::Coordinator, COORDINATOR),
    ];
    let mut wrong = Vec::new();
    for (rpc, open_to) in POLICY {
        let (path, streams) = methods
            .get(*rpc)
            .unwrap_or_else(|| panic!("{rpc} is in the policy but in no proto"));
        for (role, org) in callers {
            let answer = if *streams {
                raw::open_stream(&w, org, path, Vec::new(), Duration::from_secs(2)).await
            } else {
                // A call that waits (a pull with nothing due) was let in.
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    raw::call(&w, org, path, Vec::new()),
                )
                .await
                {
                    Ok(r) => r.map(drop),
                    Err(_) => Ok(()),
                }
            };
            let code = answer.err().map_or(Code::Ok, |s| s.code());
            let allowed = open_to.contains(&role);
            let refused = code == Code::PermissionDenied;
            if allowed == refused || matches!(code, Code::Unimplemented | Code::Internal) {
                wrong.push(format!(
                    "{rpc} as {} ({org}): {code:?}, policy {}",
                    role.as_str(),
                    if allowed { "allows" } else { "refuses" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "answers that break the policy:\n{}",
        wrong.join("\n")
    );
}
