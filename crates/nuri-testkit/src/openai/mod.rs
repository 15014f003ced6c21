//! Mock OpenAI-compatible upstream.
//!
//! Endpoints (all under `/v1`): `POST /chat/completions` and `POST /completions` (non-streaming
//! and `"stream": true`), `POST /embeddings` (`encoding_format` `float` or `base64`),
//! `GET /models` and `GET /models/{id}`. Any other path answers 404 with an OpenAI error body.
//!
//! # Choosing a scenario: directives in the request text
//!
//! Behaviour is chosen **per request by directives written in the request's text**, so a
//! gateway under test forwards them untouched, whatever model name or route it used. A
//! directive is a whitespace-separated word that starts with `mock:`:
//! `mock:NAME` or `mock:NAME=VALUE`. Only these words are read:
//!
//! * chat: the text of the **last message whose role is `user`** (a string `content`, or the
//!   `text` parts of an array `content`, joined with spaces);
//! * completions: the prompt (the last one when `prompt` is an array of strings);
//! * embeddings: every string input.
//!
//! Unknown `mock:` words are ignored; a malformed value (`mock:content=x`) is ignored too.
//!
//! | directive | effect |
//! | --- | --- |
//! | *(none)* | default text answer: [`MockConfig::content_chunks`] content pieces (default 8) of the fixed sentence `Hello from the mock upstream, friend.` (pieces `"Hello"`, `" from"`, `" the"`, `" mock"`, `" upstream"`, `","`, `" friend"`, `"."`, repeated cyclically); streamed as role chunk, one chunk per piece, finish chunk |
//! | `mock:content=N` | `N` content pieces instead |
//! | `mock:echo` | pieces are the words of the directive text (directives removed), cyclically, each but the first with a leading space |
//! | `mock:korean` | Korean pieces (`"안녕하세요"`, `"!"`, `" 저는"`, `" 누리"`, `" 모의"`, `" 서버"`, `"입니다"`, `"."`); when streaming, every event that contains a multibyte character is written in **two flushes split inside that character's UTF-8 bytes** (2 ms apart) |
//! | `mock:tool` | one tool call (`finish_reason` `tool_calls`); name = first tool in the request's `tools`, else `get_weather`; arguments `{"city":"Seoul","unit":"celsius"}` streamed in 8-byte fragments |
//! | `mock:tools=N` | `N` parallel tool calls (`index` 0..N, names cycling through the request's `tools`, cities Seoul, Busan, Incheon, Daegu, Daejeon, …) |
//! | `mock:status=CODE` | error **before** the stream: HTTP `CODE` with an error body (see `mock:style`). 429 also carries `retry-after`, `retry-after-ms` and `x-ratelimit-*` with 0 remaining |
//! | `mock:style=S` | error body style for `mock:status`: `openai` (default, `{"error":{"message","type","param","code"}}` with OpenAI's type/code), `vllm` (`type` `BadRequestError`…, `code` = integer status), `vllm_flat` (old vLLM `{"object":"error",…}`), `ollama` (Ollama's `/v1` layer: type `invalid_request_error`/`not_found_error`/`api_error`, `code` null), `ollama_native` (`{"error":"message"}`) |
//! | `mock:retry_after=S` | `retry-after` seconds on a 429 (default 1) |
//! | `mock:inband_error` | streaming: after `after` content chunks, one `data: {"error":{…}}` event, then the stream ends (no `[DONE]`, no finish chunk); non-streaming: a 500 |
//! | `mock:cut` | after `after` content chunks the connection is dropped mid-body (no finish chunk, no usage, no `[DONE]`); non-streaming: half the JSON body, then dropped |
//! | `mock:after=N` | where `inband_error`, `cut` and `content_filter` strike (default 3) |
//! | `mock:content_filter` | answer truncated to `after` pieces, `finish_reason` `content_filter` |
//! | `mock:delay_ms=MS` | wait before the first byte (status line and headers included) |
//! | `mock:chunk_delay_ms=MS` | wait between SSE events |
//! | `mock:garbage` | `200`, `content-type: application/json`, a non-JSON body |
//! | `mock:no_usage` | no usage anywhere, as from a server that ignores `stream_options`: no usage chunk, no `usage` key on chunks, no `usage` in a JSON answer |
//!
//! Request fields honoured: `stream`, `stream_options.include_usage`, `n` (choices interleave,
//! each with its own role and finish chunk), `stop` (the answer is cut before the first
//! occurrence of any stop string, `finish_reason` `stop`), `max_completion_tokens` /
//! `max_tokens` (at most that many pieces, `finish_reason` `length` when it cut),
//! `encoding_format` and `dimensions` (embeddings). `model` is echoed back.
//!
//! # Usage numbers (exact and deterministic)
//!
//! * `prompt_tokens`: chat: the number of whitespace-separated words over the text of **all**
//!   messages (string contents and `text` parts; directive words count too); completions: words
//!   of all prompts; embeddings: words of all string inputs plus the length of token-array inputs.
//! * `completion_tokens`: the number of content pieces sent, summed over the `n` choices; for
//!   tool calls, the number of argument fragments. A stream that stops early (cut, in-band
//!   error) has no usage chunk.
//! * `total_tokens = prompt_tokens + completion_tokens`.
//!
//! # Wire format
//!
//! SSE events are exactly `data: {json}\n\n` (no `event:` lines), ending with `data: [DONE]\n\n`.
//! First chunk `delta {"role":"assistant","content":""}` (tool calls: `content: null` and the
//! first call's header), then content chunks, then a finish chunk with an empty `delta` and the
//! `finish_reason`; with `stream_options.include_usage` every earlier chunk has `"usage":null`
//! and a last chunk has `"choices":[]` and the `usage`. Every response carries `x-request-id`
//! and the six `x-ratelimit-*` headers (resets as Go durations such as `6ms`).
//!
//! [`MockConfig`] sets server-wide defaults (chunk count, delays, an API key to require).
//!
//! # Failing one instance
//!
//! [`MockHandle::fail_next`] makes the next N model requests of *this* server fail with a
//! [`Fault`] (an HTTP status, a 429 with `retry-after`, a dropped connection, garbage, or a stall
//! before the first byte), whatever their directives; [`MockHandle::heal`] ends it early. Start
//! two mocks to have one route of a model fail while the other serves.

mod catalog;
mod directives;
mod errors;
mod faults;
mod render;
mod request;
mod server;
mod template;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

pub use catalog::embedding_vector;
pub use faults::Fault;
pub use server::serve;

/// Server-wide settings of the mock. Per-request directives override the delays and counts.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Content pieces in the default answer (the performance doc's mock: 8, i.e. 10 chunks
    /// with the role and finish chunks).
    pub content_chunks: usize,
    /// Wait before the first byte of every response.
    pub first_byte_delay: Duration,
    /// Wait between SSE events of every stream.
    pub chunk_delay: Duration,
    /// Models listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Answer 404 `model_not_found` for a `model` not in [`MockConfig::models`].
    pub reject_unknown_models: bool,
    /// When set, requests must carry `Authorization: Bearer <key>` or get a 401.
    pub api_key: Option<String>,
    /// Record every request (method, path, headers, body) for [`MockHandle::requests`].
    /// The benchmark binary turns this off.
    pub record_requests: bool,
    /// Dimensions of embedding vectors when the request does not say `dimensions`.
    pub embedding_dims: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            content_chunks: 8,
            first_byte_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            models: vec!["mock-model".to_owned(), "mock-embedding".to_owned()],
            reject_unknown_models: false,
            api_key: None,
            record_requests: true,
            embedding_dims: 8,
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// All request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The body parsed as JSON (`None` when it is not JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header's value as text (`None` when absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

/// The mock OpenAI-compatible upstream. See the [module docs](self) for the scenarios.
#[derive(Debug)]
pub struct MockOpenAi;

impl MockOpenAi {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime until the handle is dropped.
    ///
    /// # Panics
    /// When called outside a tokio runtime or when no local port can be bound.
    pub fn start(config: MockConfig) -> MockHandle {
        match Self::try_start(config) {
            Ok(handle) => handle,
            Err(err) => panic!("mock upstream could not start: {err}"),
        }
    }

    /// Like [`MockOpenAi::start`] but returns the bind error.
    pub fn try_start(config: MockConfig) -> std::io::Result<MockHandle> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let streams = Arc::new(StreamStats::default());
        let faults = Arc::new(faults::FaultSwitch::default());
        let state = server::State::new(
            config,
            Arc::clone(&recorded),
            Arc::clone(&streams),
            Arc::clone(&faults),
        );
        tokio::spawn(server::serve_with_state(listener, state, async move {
            let _ = stop_rx.await;
        }));
        Ok(MockHandle {
            addr,
            recorded,
            streams,
            faults,
            _stop: stop_tx,
        })
    }
}

/// A running mock; the server shuts down when this is dropped.
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    recorded: Arc<Mutex<Vec<RecordedRequest>>>,
    streams: Arc<StreamStats>,
    faults: Arc<faults::FaultSwitch>,
    // Dropping the sender ends the server's graceful-shutdown future.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl MockHandle {
    /// `http://127.0.0.1:PORT/v1`: what a provider's `base_url` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.recorded).clone()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.recorded).last().cloned()
    }

    /// How the streamed bodies sent so far ended: `completed` ran to their last byte,
    /// `aborted` were dropped first because the client went away (e.g. a gateway that stopped
    /// reading upstream after its own client disconnected). A `mock:cut` counts as neither.
    /// Bodies sent in one piece (plain JSON answers) are not counted.
    pub fn streams(&self) -> StreamCounts {
        StreamCounts {
            completed: self.streams.completed.load(Ordering::Relaxed),
            aborted: self.streams.aborted.load(Ordering::Relaxed),
        }
    }

    /// Makes the next `times` chat, completion and embedding requests fail with `fault`
    /// (overriding their directives; they are still recorded). `u64::MAX`: until
    /// [`MockHandle::heal`]. This is how one route of a model fails while another serves.
    pub fn fail_next(&self, times: u64, fault: Fault) {
        self.faults.set(times, fault);
    }

    /// Turns the failure switch off.
    pub fn heal(&self) {
        self.faults.clear();
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.recorded).clear();
    }
}

/// How streamed bodies ended; see [`MockHandle::streams`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Streams sent to their end.
    pub completed: u64,
    /// Streams dropped before their end because the client went away.
    pub aborted: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StreamStats {
    pub completed: AtomicU64,
    pub aborted: AtomicU64,
}

/// Locks the recording even if a panicking test thread poisoned it.
fn lock(m: &Mutex<Vec<RecordedRequest>>) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
