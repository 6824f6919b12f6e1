//! The Prometheus `/metrics` endpoint of the hub and the sidecar: plain HTTP on a port of
//! its own (`[metrics] listen`, off unless set; keep it on loopback or a private network,
//! since it has no TLS and no authentication), OpenMetrics text from a
//! [`prometheus_client`] registry that the service renders on each scrape.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The content type of OpenMetrics text, which Prometheus scrapes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `[metrics]` of a service's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served, e.g. `127.0.0.1:9464`; absent: not served.
    pub listen: Option<SocketAddr>,
}

/// Renders a registry as OpenMetrics text.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// A latency histogram in seconds, buckets from 1 ms doubling to about 33 s.
pub fn seconds_histogram() -> prometheus_client::metrics::histogram::Histogram {
    prometheus_client::metrics::histogram::Histogram::new(
        prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 16),
    )
}

/// [`serve`], logging why it stopped if it failed: for a task of its own.
pub async fn run<F, Fut>(
    listener: TcpListener,
    render: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    if let Err(e) = serve(listener, render, shutdown).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes; each scrape awaits
/// `render`, which gives the body.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    render: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    let render = Arc::new(render);
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let render = render.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], render().await).into_response() }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The `state` label of the database pool's gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    pub state: &'static str,
}

/// `<registry prefix>_db_connections{state="open"|"idle"|"max"}`, registered in `registry`.
pub fn pool_gauge(registry: &mut Registry) -> Family<PoolLabel, Gauge> {
    let g = Family::<PoolLabel, Gauge>::default();
    registry.register(
        "db_connections",
        "Database connections: open, idle, and the most the pools may open",
        g.clone(),
    );
    g
}

/// Sets [`pool_gauge`]'s three values.
pub fn set_pool(g: &Family<PoolLabel, Gauge>, open: u32, idle: u32, max: u32) {
    for (state, v) in [("open", open), ("idle", idle), ("max", max)] {
        g.get_or_create(&PoolLabel { state }).set(i64::from(v));
    }
}
