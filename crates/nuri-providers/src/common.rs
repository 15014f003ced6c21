//! Pieces every native (non-OpenAI) adapter shares: minting ids, building OpenAI chunks in the
//! order §9 of the protocol reference prescribes, posting JSON with the deadlines of
//! [`crate::http`], and driving an SSE body through a per-provider [`Translator`].

use std::collections::VecDeque;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use nuri_config::Timeouts;
use nuri_core::provider::{ChunkStream, ProviderError};
use nuri_types::openai::{
    ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta, Usage,
};
use reqwest::header::HeaderMap;

use crate::http::{self, ByteStream};
use crate::sse::{SseEvent, SseParser};

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A fresh id with the given prefix (`chatcmpl-…`, `call_…`).
pub(crate) fn mint_id(prefix: &str) -> String {
    format!("{prefix}{:024x}", rand::random::<u128>() >> 32)
}

/// Parses an OpenAI `arguments` string into the JSON object providers expect; anything that
/// is not a JSON object is rejected as an invalid request.
pub(crate) fn parse_arguments(arguments: &str) -> Result<serde_json::Value, ProviderError> {
    if arguments.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(ProviderError::InvalidRequest {
            message: "tool call arguments must be a JSON object".into(),
            param: Some("messages".into()),
        }),
    }
}

/// The JSON schema a `response_format` asks for: `Some(None)` for `json_object`,
/// `Some(Some(schema))` for `json_schema`, `None` for text or no format.
pub(crate) fn json_format(format: Option<&serde_json::Value>) -> Option<Option<serde_json::Value>> {
    let format = format?;
    match format.get("type").and_then(serde_json::Value::as_str) {
        Some("json_object") => Some(None),
        Some("json_schema") => Some(
            format
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .cloned(),
        ),
        _ => None,
    }
}

/// Splits `data:<mime>;base64,<data>` into its media type and data.
pub(crate) fn parse_data_uri(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// Rejects `n > 1`, which none of the native providers offer.
pub(crate) fn single_choice(n: Option<u32>) -> Result<(), ProviderError> {
    match n {
        Some(n) if n > 1 => Err(ProviderError::Unsupported(
            "this provider returns one choice per request; n must be 1".into(),
        )),
        _ => Ok(()),
    }
}

/// Builds the OpenAI chunks of one streamed answer (one choice, index 0).
#[derive(Debug, Clone)]
pub(crate) struct Chunks {
    /// Completion id shared by every chunk.
    pub id: String,
    /// Creation time shared by every chunk.
    pub created: i64,
    /// Model name.
    pub model: String,
}

impl Chunks {
    /// A builder for a stream of `model` with a fresh id.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            id: mint_id("chatcmpl-"),
            created: now_secs(),
            model: model.into(),
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<String>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
            extra: Default::default(),
        }
    }

    /// The first chunk: `delta: {role: "assistant", content: ""}`.
    pub fn role(&self) -> ChatCompletionChunk {
        self.chunk(
            Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Delta::default()
            },
            None,
        )
    }

    /// A content delta.
    pub fn content(&self, text: impl Into<String>) -> ChatCompletionChunk {
        self.chunk(
            Delta {
                content: Some(text.into()),
                ..Delta::default()
            },
            None,
        )
    }

    /// The header of tool call `index`: id, type, name and empty arguments (or whole arguments
    /// when the provider sends the call in one piece).
    pub fn tool_header(
        &self,
        index: u32,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ChatCompletionChunk {
        self.tool_delta(ToolCallDelta {
            index,
            id: Some(id.into()),
            kind: Some("function".into()),
            function: Some(FunctionCallDelta {
                name: Some(name.into()),
                arguments: Some(arguments.into()),
            }),
        })
    }

    /// An argument fragment of tool call `index`.
    pub fn tool_arguments(&self, index: u32, fragment: impl Into<String>) -> ChatCompletionChunk {
        self.tool_delta(ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta {
                name: None,
                arguments: Some(fragment.into()),
            }),
        })
    }

    fn tool_delta(&self, call: ToolCallDelta) -> ChatCompletionChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
        )
    }

    /// The finish chunk: empty delta and the finish reason.
    pub fn finish(&self, reason: &str) -> ChatCompletionChunk {
        self.chunk(Delta::default(), Some(reason.to_owned()))
    }

    /// The usage chunk: `choices: []` and the usage.
    pub fn usage(&self, usage: Usage) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: Some(usage),
            extra: Default::default(),
        }
    }
}

/// Turns one provider's SSE events into OpenAI chunks.
pub(crate) trait Translator: Send + 'static {
    /// Handles one event, queueing chunks in `out`; `Ok(true)` when the answer is complete.
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatCompletionChunk>,
    ) -> Result<bool, ProviderError>;

    /// The body ended before [`Translator::event`] said the answer was complete: finish the
    /// answer (providers without a terminator) or say the stream was cut.
    fn end(&mut self, out: &mut VecDeque<ChatCompletionChunk>) -> Result<(), ProviderError>;

    /// Usage known so far, sent as a usage chunk before a mid-stream error so it can be metered.
    fn usage_so_far(&self) -> Option<ChatCompletionChunk> {
        None
    }
}

struct Driver<T> {
    bytes: ByteStream,
    parser: SseParser,
    translator: T,
    queue: VecDeque<ChatCompletionChunk>,
    error: Option<ProviderError>,
    done: bool,
}

impl<T: Translator> Driver<T> {
    fn fail(&mut self, error: ProviderError) {
        if let Some(usage) = self.translator.usage_so_far() {
            self.queue.push_back(usage);
        }
        self.error = Some(error);
        self.done = true;
    }

    async fn next(&mut self) -> Option<Result<ChatCompletionChunk, ProviderError>> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(Ok(chunk));
            }
            if let Some(error) = self.error.take() {
                return Some(Err(error));
            }
            if self.done {
                return None;
            }
            if let Some(event) = self.parser.next_event() {
                match self.translator.event(event, &mut self.queue) {
                    Ok(done) => self.done = done,
                    Err(e) => self.fail(e),
                }
                continue;
            }
            match self.bytes.next().await {
                Some(Ok(bytes)) => self.parser.push(&bytes),
                Some(Err(e)) => self.fail(e),
                None => {
                    let mut done = false;
                    if let Some(event) = self.parser.finish() {
                        match self.translator.event(event, &mut self.queue) {
                            Ok(d) => done = d,
                            Err(e) => {
                                self.fail(e);
                                continue;
                            }
                        }
                    }
                    self.done = true;
                    if !done {
                        if let Err(e) = self.translator.end(&mut self.queue) {
                            self.fail(e);
                        }
                    }
                }
            }
        }
    }
}

/// Drives `bytes` through `translator` into a chunk stream. Chunks translated before an error
/// are delivered first; the error is the last item.
pub(crate) fn drive<T: Translator>(bytes: ByteStream, translator: T) -> ChunkStream {
    let driver = Driver {
        bytes,
        parser: SseParser::new(),
        translator,
        queue: VecDeque::new(),
        error: None,
        done: false,
    };
    Box::pin(futures::stream::unfold(driver, |mut d| async move {
        let item = d.next().await?;
        Some((item, d))
    }))
}

/// The error for a stream that closed before its terminator.
pub(crate) fn cut(provider: &str) -> ProviderError {
    ProviderError::Connect(format!("{provider}'s stream ended before it was complete"))
}

/// The error for an event that is not the provider's JSON.
pub(crate) fn malformed(provider: &str, what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Malformed(format!("{provider} sent {what} that Nuri cannot read: {e}"))
}

/// A non-2xx answer, read whole.
pub(crate) struct Failure {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body (possibly empty).
    pub body: bytes::Bytes,
}

/// Sends `request` with a JSON `body`; a 2xx response is returned, anything else is read whole
/// and returned as a [`Failure`] for the adapter's own error mapping.
pub(crate) async fn post_json(
    request: reqwest::RequestBuilder,
    body: &impl serde::Serialize,
    timeouts: &Timeouts,
    started: Instant,
) -> Result<Result<reqwest::Response, Failure>, ProviderError> {
    let payload = serde_json::to_vec(body).map_err(|e| ProviderError::InvalidRequest {
        message: e.to_string(),
        param: None,
    })?;
    let request = request
        .header("content-type", "application/json")
        .body(payload);
    let response = http::send(request, timeouts).await?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(Ok(response));
    }
    let headers = response.headers().clone();
    let body = http::body_bytes(response, timeouts, started)
        .await
        .unwrap_or_default();
    Ok(Err(Failure {
        status,
        headers,
        body,
    }))
}

/// Maps an HTTP status with the provider's message to a [`ProviderError`] (the common rules;
/// adapters refine them with what their error bodies say).
pub(crate) fn by_status(
    status: u16,
    message: String,
    retry_after: Option<std::time::Duration>,
) -> ProviderError {
    match status {
        401..=403 => ProviderError::Auth(format!("the provider answered HTTP {status}")),
        400 | 404 | 409 | 413 | 415 | 422 => ProviderError::InvalidRequest {
            message: format!("provider rejected the request: {message}"),
            param: None,
        },
        429 => ProviderError::RateLimited {
            message,
            retry_after,
        },
        408 => ProviderError::Timeout(nuri_core::provider::TimeoutKind::FirstByte),
        _ => ProviderError::Server {
            status,
            message,
            retry_after,
        },
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs a translator over a fixed byte stream.
    use futures::StreamExt;
    use nuri_core::provider::ProviderError;
    use nuri_types::openai::ChatCompletionChunk;

    use super::{drive, Translator};

    /// Collects the chunks `translator` makes of `pieces` sent one after another.
    pub(crate) async fn run<T: Translator>(
        translator: T,
        pieces: &[&str],
    ) -> Vec<Result<ChatCompletionChunk, ProviderError>> {
        let owned: Vec<Result<bytes::Bytes, ProviderError>> = pieces
            .iter()
            .map(|p| Ok(bytes::Bytes::from(p.as_bytes().to_vec())))
            .collect();
        drive(Box::pin(futures::stream::iter(owned)), translator)
            .collect()
            .await
    }

    /// A chunk as a short string: `role`, `content:…`, `tool:i:id:name:args`, `args:i:…`,
    /// `finish:…`, `usage:p/c/t`, or `error`.
    pub(crate) fn short(item: &Result<ChatCompletionChunk, ProviderError>) -> String {
        let Ok(c) = item else {
            return "error".into();
        };
        if let Some(u) = c.usage {
            return format!(
                "usage:{}/{}/{}",
                u.prompt_tokens, u.completion_tokens, u.total_tokens
            );
        }
        let Some(ch) = c.choices.first() else {
            return "empty".into();
        };
        if let Some(r) = &ch.finish_reason {
            return format!("finish:{r}");
        }
        let d = &ch.delta;
        if d.role.is_some() {
            return "role".into();
        }
        if let Some(call) = d.tool_calls.as_ref().and_then(|c| c.first()) {
            let f = call.function.clone().unwrap_or_default();
            return match &call.id {
                Some(id) => format!(
                    "tool:{}:{id}:{}:{}",
                    call.index,
                    f.name.unwrap_or_default(),
                    f.arguments.unwrap_or_default()
                ),
                None => format!("args:{}:{}", call.index, f.arguments.unwrap_or_default()),
            };
        }
        format!("content:{}", d.content.clone().unwrap_or_default())
    }
}
