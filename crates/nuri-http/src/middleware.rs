//! Per-request middleware: Nuri's `x-request-id` on every response, the client's own id echoed
//! as `x-client-request-id`.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

/// Request id assigned by Nuri, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's own `x-request-id`.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub Option<String>);

pub(crate) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = nuri_types::ids::new_request_id();
    let client = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map(str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    req.extensions_mut().insert(ClientRequestId(client.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    if let Some(c) = client.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert("x-client-request-id", c);
    }
    response
}
