//! `grpc.health.v1` for every service, with one drain: each service the server marks
//! SERVING is remembered, and when shutdown is asked for, every one of them and the server
//! as a whole (`""`) turn NOT_SERVING before in-flight calls finish, so load balancers and
//! probes stop sending work at once.

use std::future::Future;

use tonic::server::NamedService;
use tonic_health::{
    ServingStatus,
    pb::health_server::{Health as HealthService, HealthServer},
    server::HealthReporter,
};

/// The health reporter of one server and the services it marked SERVING.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Vec<&'static str>,
}

impl Health {
    /// A reporter and the health service to add to the server.
    pub fn new() -> (Self, HealthServer<impl HealthService>) {
        let (reporter, server) = tonic_health::server::health_reporter();
        let health = Self {
            reporter,
            services: Vec::new(),
        };
        (health, server)
    }

    /// Marks the gRPC service `S` SERVING (and NOT_SERVING at drain).
    pub async fn serving<S: NamedService>(&mut self) {
        self.reporter.set_serving::<S>().await;
        self.services.push(S::NAME);
    }

    /// The reporter, for statuses a service keeps itself (a freshness check).
    pub fn reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }

    /// Waits for `shutdown`, then marks every service this server marked SERVING, and the
    /// server itself, NOT_SERVING: the future to hand to `serve_with_incoming_shutdown`.
    pub async fn drain_after(self, shutdown: impl Future<Output = ()>, server: &str) {
        shutdown.await;
        tracing::info!(
            server,
            "shutting down: refusing new work, draining in-flight RPCs"
        );
        for name in self.services.iter().copied().chain([""]) {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus as Wire,
        health_client::HealthClient,
    };

    use super::*;

    struct Receiver;
    impl NamedService for Receiver {
        const NAME: &'static str = "takedown.v1.ReceiverService";
    }

    #[tokio::test]
    async fn every_service_marked_serving_turns_not_serving_at_drain() {
        let (mut health, service) = Health::new();
        health.serving::<Receiver>().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    health.drain_after(
                        async {
                            let _ = stopped.await;
                        },
                        "test",
                    ),
                ),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        let mut watches = Vec::new();
        for name in [Receiver::NAME, ""] {
            let mut w = client
                .watch(HealthCheckRequest {
                    service: name.into(),
                })
                .await
                .unwrap()
                .into_inner();
            let first = w.message().await.unwrap().unwrap();
            assert_eq!(first.status(), Wire::Serving, "{name:?}");
            watches.push((name, w));
        }
        stop.send(()).unwrap();
        for (name, mut w) in watches {
            let next = tokio::time::timeout(std::time::Duration::from_secs(5), w.message())
                .await
                .unwrap_or_else(|_| panic!("{name:?} still SERVING after the drain began"))
                .unwrap()
                .unwrap();
            assert_eq!(next.status(), Wire::NotServing, "{name:?}");
        }
        server.abort();
    }
}
