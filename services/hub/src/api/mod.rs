//! The gRPC services. Each RPC authenticates its caller, checks the caller's role and need
//! to know, and maps its errors to `tonic::Status` through [`crate::error`].

pub mod action_day;
pub mod audit;
pub mod convert;
pub mod directory;
pub mod failed;
pub mod hold;
pub mod platform;
pub mod referral;
pub mod summary;

use std::sync::Arc;

use crate::{
    audit_heads::HeadSigner,
    delivery::{PlatformHealth, Wake},
    intake::IntakeConfig,
    keys::KeyDirectory,
    metrics::HubMetrics,
    public_id::PublicIds,
};

/// What every service shares.
pub struct HubState<S> {
    pub store: S,
    pub intake: IntakeConfig,
    /// Wakes delivery workers when something became deliverable.
    pub wake: Wake,
    /// Delivery health per platform (circuit breaker), for summaries.
    pub health: PlatformHealth,
    /// Agency keys, from the newest verified key-set statement.
    pub keys: Arc<KeyDirectory>,
    /// Signs heads of the audit chain.
    pub audit_heads: Arc<HeadSigner>,
    /// The opaque ids of targets and deliveries on the wire.
    pub ids: PublicIds,
    pub metrics: Arc<HubMetrics>,
    /// Pull-mode platforms' sidecars fetching their share.
    pub pulls: Arc<crate::delivery::pull::Pulls<S>>,
}

pub type Shared<S> = Arc<HubState<S>>;

/// Authenticates the caller, or returns the status.
macro_rules! caller {
    ($state:expr, $req:expr) => {
        crate::auth::authenticate(&$state.store, &$req)
            .await
            .map_err(tonic::Status::from)?
    };
}
pub(crate) use caller;
