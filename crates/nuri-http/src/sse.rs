//! Turning a metered chunk stream into an SSE response body: `data: {chunk}` per chunk, a final
//! `data: [DONE]`, or on failure a final `data: {"error": …}` event after which the stream
//! closes (the OpenAI SDK raises on it).

use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use nuri_core::metering::{MeteredChunk, MeteredStream};
use nuri_core::GatewayError;
use serde::Serialize;

use crate::error::sse_error_json;

const DONE: &[u8] = b"data: [DONE]\n\n";

fn frame(json: &[u8]) -> Bytes {
    let mut buf = Vec::with_capacity(json.len() + 8);
    buf.extend_from_slice(b"data: ");
    buf.extend_from_slice(json);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// The SSE response for a metered stream.
pub(crate) fn response<T: MeteredChunk + Serialize>(stream: MeteredStream<T>) -> Response {
    let body = futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Some(Ok(chunk)) => {
                let json = serde_json::to_vec(&chunk).unwrap_or_default();
                Some((Ok::<_, Infallible>(frame(&json)), Some(stream)))
            }
            Some(Err(e)) => Some((Ok(frame(&sse_error_json(&GatewayError::Upstream(e)))), None)),
            None => Some((Ok(Bytes::from_static(DONE)), None)),
        }
    });
    (
        [
            (http::header::CONTENT_TYPE, "text/event-stream"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
