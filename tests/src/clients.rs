//! Typed gRPC clients acting as one organisation.

use takedown_net::TlsMaterial;
use takedown_protocol::{
    ident::{Identity, IdentityRole, OrgId},
    pb::{
        action_day_service_client::ActionDayServiceClient,
        directory_service_client::DirectoryServiceClient, hold_service_client::HoldServiceClient,
        platform_service_client::PlatformServiceClient,
        referral_service_client::ReferralServiceClient,
        summary_service_client::SummaryServiceClient,
        transparency_service_client::TransparencyServiceClient,
    },
};
use tonic::transport::Channel;

const MAX: usize = 256 << 20;

#[derive(Clone)]
pub struct Clients {
    pub referral: ReferralServiceClient<Channel>,
    pub directory: DirectoryServiceClient<Channel>,
    pub action_day: ActionDayServiceClient<Channel>,
    pub hold: HoldServiceClient<Channel>,
    pub platform: PlatformServiceClient<Channel>,
    pub summary: SummaryServiceClient<Channel>,
    pub transparency: TransparencyServiceClient<Channel>,
}

impl Clients {
    pub async fn connect(
        endpoint: &str,
        m: &TlsMaterial,
    ) -> Result<Self, takedown_net::tls::TlsError> {
        let hub = Identity::new(IdentityRole::Hub, OrgId::parse("hub").expect("id"));
        let ch = takedown_net::connect(endpoint, m, Some(hub)).await?;
        Ok(Self {
            referral: ReferralServiceClient::new(ch.clone())
                .max_encoding_message_size(MAX)
                .max_decoding_message_size(MAX),
            directory: DirectoryServiceClient::new(ch.clone()),
            action_day: ActionDayServiceClient::new(ch.clone()),
            hold: HoldServiceClient::new(ch.clone()),
            platform: PlatformServiceClient::new(ch.clone()),
            summary: SummaryServiceClient::new(ch.clone()),
            transparency: TransparencyServiceClient::new(ch),
        })
    }
}
