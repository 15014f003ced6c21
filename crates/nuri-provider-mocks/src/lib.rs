//! Mock upstream servers for provider-adapter tests: Anthropic Messages ([`anthropic`]),
//! Gemini ([`gemini`]) and CLOVA Studio v3/v1 ([`clova`]), each on `127.0.0.1:0`, reproducing
//! the provider's wire format (headers, SSE framing and event names, error bodies, rate-limit
//! headers) and validating requests the way the real API does where adapters could get it wrong
//! (reference §10).
//!
//! The answer is chosen by the requested model name, one of the [`scenario`] constants, so the
//! same conformance case drives every provider. Every stream event is written in two pieces
//! split at a byte midpoint, so multibyte characters and lines arrive across TCP writes.
//!
//! The `nuri-provider-mock` binary serves one mock on a chosen address (see docs/providers.md).

pub mod anthropic;
pub mod clova;
pub mod gemini;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;

/// The only API key the mocks accept.
pub const MOCK_KEY: &str = "nuri-mock-key-5ecret";

/// Model names that select a mock's answer.
pub mod scenario {
    /// "Hello there!", finish stop, usage 11 + 6.
    pub const TEXT: &str = "text";
    /// A summary of the translated request as the answer's text (see [`crate::Summary`]).
    pub const ECHO: &str = "echo";
    /// "Hello", stopped by the output cap.
    pub const LENGTH: &str = "length";
    /// One call `get_weather({"location":"Paris"})` with id `call_1`.
    pub const TOOL: &str = "tool";
    /// Two calls: `get_weather` (`call_1`) and `get_time` (`call_2`).
    pub const PARALLEL: &str = "parallel";
    /// The JSON answer `{"answer":42}`; the request must ask for JSON.
    pub const JSON: &str = "json";
    /// "안녕하세요" in three pieces (multibyte split across writes).
    pub const KOREAN: &str = "korean";
    /// "I can't help with that.", stopped by the provider's safety filter (Anthropic `refusal`,
    /// Gemini `SAFETY`; CLOVA has no such reason and answers `stop`).
    pub const FILTERED: &str = "filtered";
    /// A 400 with the provider's invalid-request body.
    pub const BAD_REQUEST: &str = "bad-request";
    /// A 429 with the provider's retry hint of 2 seconds.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// A 500 with the provider's server-error body.
    pub const SERVER_ERROR: &str = "server-error";
    /// The provider's overload answer (Anthropic 529, Gemini 503, CLOVA 42902).
    pub const OVERLOADED: &str = "overloaded";
    /// A 200 whose body is not the provider's JSON (in streams: a broken event after "Hello").
    pub const MALFORMED: &str = "malformed";
    /// A stream that stops after "Hello" without its terminator.
    pub const CUT: &str = "cut";
    /// A stream that sends "Hello", then nothing for two seconds, then closes.
    pub const STALL: &str = "stall";
    /// A stream with an in-band error event after "Hello".
    pub const INBAND_ERROR: &str = "inband-error";
    /// Waits two seconds before answering.
    pub const SLOW: &str = "slow";
}

/// One request a mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` if it was not JSON).
    pub body: Value,
}

/// A running mock.
#[derive(Debug)]
pub struct MockServer {
    /// What the provider's SDK calls its base URL (`http://127.0.0.1:<port>`).
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Which provider a mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// Naver CLOVA Studio (v3 and v1 on the same server).
    Clova,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 3] = [Kind::Anthropic, Kind::Gemini, Kind::Clova];

    /// The kind's name as Nuri's config spells it (`anthropic`, `gemini`, `clova`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Anthropic => "anthropic",
            Kind::Gemini => "gemini",
            Kind::Clova => "clova",
        }
    }

    /// The kind named `name` (as [`Kind::name`] spells it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn router(self, log: Log) -> axum::Router {
        match self {
            Kind::Anthropic => anthropic::router(log),
            Kind::Gemini => gemini::router(log),
            Kind::Clova => clova::router(log),
        }
    }
}

/// The most requests a mock remembers; older ones are forgotten so a long-running mock
/// (the `nuri-provider-mock` binary) does not grow without bound.
pub const MAX_RECORDED: usize = 1024;

impl MockServer {
    /// Starts a mock of `kind` on a free port of `127.0.0.1`.
    pub async fn bind(kind: Kind) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve_on(kind, listener)
    }

    /// Starts a mock of `kind` on an already bound listener (the task runs until the server
    /// is dropped).
    pub fn serve_on(kind: Kind, listener: tokio::net::TcpListener) -> std::io::Result<Self> {
        let requests: Log = Arc::new(Mutex::new(Vec::new()));
        let router = kind.router(requests.clone());
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            base_url: format!("http://{addr}"),
            requests,
            task,
        })
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The last request received.
    pub fn last(&self) -> Option<Recorded> {
        self.requests().pop()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) type Log = Arc<Mutex<Vec<Recorded>>>;

pub(crate) fn record(
    log: &Log,
    path: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Value {
    let json = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Ok(mut l) = log.lock() {
        if l.len() >= MAX_RECORDED {
            l.remove(0);
        }
        l.push(Recorded {
            path: path.to_owned(),
            query,
            headers: headers.clone(),
            body: json.clone(),
        });
    }
    json
}

/// A provider-neutral summary of a translated request, which the [`scenario::ECHO`] answer
/// carries: `system=…|roles=…|stop=…|max=…|temperature=…|tools=…`.
#[derive(Debug, Default)]
pub struct Summary {
    /// System prompt.
    pub system: String,
    /// Turn roles, with the provider's model role written `assistant`.
    pub roles: Vec<String>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Output cap.
    pub max: Option<u64>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Tool names.
    pub tools: Vec<String>,
}

impl Summary {
    /// The one-line form.
    pub fn line(&self) -> String {
        format!(
            "system={}|roles={}|stop={}|max={}|temperature={}|tools={}",
            self.system,
            self.roles.join(","),
            self.stop.join(","),
            self.max
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            self.temperature
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            self.tools.join(","),
        )
    }
}

pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn json_response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

/// An event that makes [`sse_response`] pause two seconds instead of writing.
pub(crate) const PAUSE: &str = "\u{0}pause";

/// A `text/event-stream` response writing each event in two pieces split at the byte midpoint,
/// 2 ms apart ([`PAUSE`] waits two seconds).
pub(crate) fn sse_response(headers: &[(&str, &str)], events: Vec<String>) -> Response {
    let pieces: Vec<Option<Bytes>> = events
        .into_iter()
        .flat_map(|e| {
            if e == PAUSE {
                return vec![None];
            }
            let bytes = Bytes::from(e);
            let mid = bytes.len() / 2;
            vec![Some(bytes.slice(..mid)), Some(bytes.slice(mid..))]
        })
        .collect();
    let stream = futures::stream::iter(pieces).then(|p| async move {
        match p {
            Some(p) => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok::<_, std::convert::Infallible>(p)
            }
            None => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(Bytes::new())
            }
        }
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from_stream(stream)).unwrap_or_default()
}

/// Sleeps long enough for a small first-byte timeout to pass.
pub(crate) async fn slow() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
