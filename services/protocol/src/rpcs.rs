//! Every RPC of `takedown.v1`, read from the compiled file descriptor set (the same one
//! server reflection serves): what the authorization policy and its tests enumerate,
//! without parsing the proto text.

use prost::Message;

/// One RPC method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpc {
    /// `ReferralService`.
    pub service: String,
    /// `SubmitReferralList`.
    pub method: String,
    /// Whether it answers with a stream.
    pub server_streaming: bool,
}

impl Rpc {
    /// The HTTP/2 path of a call: `/takedown.v1.ReferralService/SubmitReferralList`.
    pub fn path(&self) -> String {
        format!("/takedown.v1.{}/{}", self.service, self.method)
    }
}

/// Every RPC of every `takedown.v1` service, in descriptor order.
///
/// # Panics
///
/// When the embedded descriptor set does not decode (a build fault).
pub fn all() -> Vec<Rpc> {
    let set = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    set.file
        .iter()
        .filter(|f| f.package() == "takedown.v1")
        .flat_map(|f| &f.service)
        .flat_map(|s| {
            s.method.iter().map(|m| Rpc {
                service: s.name().to_string(),
                method: m.name().to_string(),
                server_streaming: m.server_streaming(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_names_every_service_and_streaming_rpc() {
        let rpcs = all();
        let find = |m: &str| rpcs.iter().find(|r| r.method == m).cloned();
        let submit = find("SubmitReferralList").expect("SubmitReferralList");
        assert_eq!(
            submit.path(),
            "/takedown.v1.ReferralService/SubmitReferralList"
        );
        assert!(!submit.server_streaming);
        assert!(
            find("WatchActionDay")
                .expect("WatchActionDay")
                .server_streaming
        );
        assert_eq!(find("Deliver").expect("Deliver").service, "ReceiverService");
    }
}
