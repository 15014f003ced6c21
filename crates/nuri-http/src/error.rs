//! The one place errors become HTTP responses: status and body from the public error-code table,
//! `retry-after` when the error carries one. Logging happens here too, without secrets.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use nuri_core::GatewayError;
use nuri_types::ErrorBody;

/// A gateway error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub GatewayError);

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        Self(e)
    }
}

impl From<nuri_core::store::StoreError> for ApiError {
    fn from(e: nuri_core::store::StoreError) -> Self {
        Self(GatewayError::from(e))
    }
}

impl ApiError {
    /// The OpenAI error body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(
            self.0.code(),
            self.0.public_message(),
            self.0.param().map(str::to_owned),
        )
    }
}

/// Renders an error body for use inside an SSE stream.
pub fn sse_error_json(error: &GatewayError) -> Vec<u8> {
    serde_json::to_vec(&ApiError(error.clone()).body()).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &self.0 {
            GatewayError::Internal(detail) => tracing::error!(%detail, "internal error"),
            e if status.is_server_error() => {
                tracing::warn!(code = code.as_str(), error = %e, "request failed")
            }
            _ => tracing::debug!(code = code.as_str(), "request refused"),
        }
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let GatewayError::RateLimited { headers, .. } = &self.0 {
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(value) {
                    response.headers_mut().insert(*name, v);
                }
            }
        }
        if let Some(after) = self.0.retry_after() {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
