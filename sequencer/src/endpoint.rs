//! The sequencer's HTTP endpoint: JSON-RPC (`rpc`), `/metrics` and `/health` on one port.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::rpc::{router, RpcConfig};
use crate::service::Sequencer;

/// The whole HTTP application of a sequencer.
pub fn app(sequencer: Arc<Sequencer>, rpc: RpcConfig) -> Router {
    let probes = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::clone(&sequencer));
    router(sequencer.clone(), sequencer, rpc).merge(probes)
}

async fn metrics(State(sequencer): State<Arc<Sequencer>>) -> String {
    sequencer.metrics.render()
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    sequencer: Arc<Sequencer>,
    rpc: RpcConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(sequencer, rpc))
        .with_graceful_shutdown(shutdown)
        .await
}
