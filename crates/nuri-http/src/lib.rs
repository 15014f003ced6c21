//! Nuri's HTTP surface. [`app`] builds the router: `/v1` (OpenAI-compatible, API keys),
//! `/admin/v1` (admin tokens), `/healthz`, `/readyz`, `/metrics`. Handlers extract, call one
//! gateway method and map the result; [`error::ApiError`] is the one place errors become HTTP.

pub mod admin;
mod credits;
pub mod error;
pub mod extract;
pub mod metrics;
mod middleware;
mod sse;
pub mod v1;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use nuri_core::gateway::Gateway;

pub use error::ApiError;
pub use metrics::Metrics;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The pipeline.
    pub gateway: Arc<Gateway>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// IANA time zone whose calendar months are the billing periods.
    pub billing_timezone: Arc<str>,
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(v1::routes())
        .nest("/admin/v1", admin::routes())
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    state
        .gateway
        .store
        .ping()
        .await
        .map_err(|e| ApiError::from(nuri_core::GatewayError::from(e)))?;
    Ok("ready")
}

async fn not_found(uri: http::Uri) -> ApiError {
    ApiError(nuri_core::GatewayError::NotFound(format!(
        "Unknown path {}",
        uri.path()
    )))
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError(nuri_core::GatewayError::MethodNotAllowed(format!(
        "Method {method} is not allowed on {}",
        uri.path()
    )))
}
