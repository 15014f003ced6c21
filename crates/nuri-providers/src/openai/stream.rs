//! OpenAI SSE (`data: {chunk}` … `data: [DONE]`) → typed chunks. An in-band `{"error":…}` event
//! becomes an error; a stream that ends without `[DONE]` is reported as cut.

use futures::StreamExt;
use nuri_core::provider::{ChunkStream, CompletionStream, ProviderError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::ByteStream;
use crate::sse::SseParser;

struct State {
    bytes: ByteStream,
    parser: SseParser,
    provider: String,
    finished: bool,
}

/// Parses the next chunk of type `T`, or the end of the stream.
async fn next_item<T: DeserializeOwned>(state: &mut State) -> Option<Result<T, ProviderError>> {
    loop {
        if state.finished {
            return None;
        }
        if let Some(event) = state.parser.next_event() {
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                state.finished = true;
                return None;
            }
            let value: Value = match serde_json::from_str(data) {
                Ok(v) => v,
                Err(e) => {
                    state.finished = true;
                    return Some(Err(ProviderError::Malformed(format!(
                        "{} sent a stream event that is not JSON: {e}",
                        state.provider
                    ))));
                }
            };
            if let Some(err) = value.get("error") {
                state.finished = true;
                let (message, code, _) = crate::http::error_fields(value.to_string().as_bytes());
                let _ = err;
                return Some(Err(ProviderError::Server {
                    status: code.and_then(|c| c.parse().ok()).unwrap_or(500),
                    message,
                    retry_after: None,
                }));
            }
            return Some(serde_json::from_value::<T>(value).map_err(|e| {
                state.finished = true;
                ProviderError::Malformed(format!(
                    "{} sent a chunk of the wrong shape: {e}",
                    state.provider
                ))
            }));
        }
        match state.bytes.next().await {
            Some(Ok(bytes)) => state.parser.push(&bytes),
            Some(Err(e)) => {
                state.finished = true;
                return Some(Err(e));
            }
            None => {
                if let Some(event) = state.parser.finish() {
                    // A final event without its blank line: treat it as complete.
                    state
                        .parser
                        .push(format!("data: {}\n\n", event.data).as_bytes());
                    continue;
                }
                state.finished = true;
                return Some(Err(ProviderError::Connect(format!(
                    "{}'s stream ended before it was complete",
                    state.provider
                ))));
            }
        }
    }
}

fn parse<T: DeserializeOwned + Send + 'static>(
    bytes: ByteStream,
    provider: String,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, ProviderError>> + Send>> {
    let state = State {
        bytes,
        parser: SseParser::new(),
        provider,
        finished: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        let item = next_item::<T>(&mut state).await?;
        Some((item, state))
    }))
}

/// Chat chunks from an OpenAI SSE body.
pub fn chat_chunks(bytes: ByteStream, provider: String) -> ChunkStream {
    parse(bytes, provider)
}

/// Text-completion chunks from an OpenAI SSE body.
pub fn completion_chunks(bytes: ByteStream, provider: String) -> CompletionStream {
    parse(bytes, provider)
}
