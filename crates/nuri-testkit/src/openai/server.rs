//! The axum server: routes, recording, headers and the streamed body.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body as AxumBody;
use axum::extract::{Path, Request};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::Router;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, StatusCode};

use super::catalog;
use super::directives::ErrorStyle;
use super::errors::ApiError;
use super::faults::{self, FaultSwitch};
use super::render::{self, Body, Ids, Reply, Step};
use super::request;
use super::template::Templates;
use super::{lock, MockConfig, RecordedRequest, StreamStats};

/// Shared by all requests of one server.
pub(crate) struct State {
    config: MockConfig,
    recorded: Arc<Mutex<Vec<RecordedRequest>>>,
    counter: AtomicU64,
    templates: Option<Templates>,
    streams: Arc<StreamStats>,
    faults: Arc<FaultSwitch>,
}

impl State {
    pub fn new(
        config: MockConfig,
        recorded: Arc<Mutex<Vec<RecordedRequest>>>,
        streams: Arc<StreamStats>,
        faults: Arc<FaultSwitch>,
    ) -> Arc<Self> {
        Arc::new(Self {
            streams,
            faults,
            templates: Templates::build(&config),
            config,
            recorded,
            counter: AtomicU64::new(1),
        })
    }
}

/// Serves the mock on `listener` until `shutdown` completes (the benchmark binary's entry
/// point; tests use [`super::MockOpenAi::start`]). Accepted connections get `TCP_NODELAY`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = State::new(
        config,
        Arc::new(Mutex::new(Vec::new())),
        Arc::default(),
        Arc::default(),
    );
    serve_with_state(listener, state, shutdown).await
}

pub(crate) async fn serve_with_state(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Without this a response written as headers + body meets the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(state: Arc<State>) -> Router {
    let chat = Arc::clone(&state);
    let completions = Arc::clone(&state);
    let embeddings = Arc::clone(&state);
    let models = Arc::clone(&state);
    let model = Arc::clone(&state);
    let fallback = state;
    Router::new()
        .route(
            "/v1/chat/completions",
            post(move |req: Request| async move {
                match read(req).await {
                    Ok((parts, body)) => chat_completions(&chat, &parts, body).await,
                    Err(reply) => chat.respond(reply, 0).await,
                }
            }),
        )
        .route(
            "/v1/completions",
            post(move |req: Request| async move {
                match read(req).await {
                    Ok((parts, body)) => legacy_completions(&completions, &parts, body).await,
                    Err(reply) => completions.respond(reply, 0).await,
                }
            }),
        )
        .route(
            "/v1/embeddings",
            post(move |req: Request| async move {
                match read(req).await {
                    Ok((parts, body)) => embeddings_handler(&embeddings, &parts, body).await,
                    Err(reply) => embeddings.respond(reply, 0).await,
                }
            }),
        )
        .route(
            "/v1/models",
            get(move |req: Request| async move {
                let (parts, _) = req.into_parts();
                let id = models.record(&parts, Bytes::new());
                let reply = match models.check_key(&parts.headers) {
                    Err(e) => Reply::error(&e),
                    Ok(()) => catalog::models(&models.config),
                };
                models.respond(reply, id).await
            }),
        )
        .route(
            "/v1/models/{id}",
            get(move |Path(name): Path<String>, req: Request| async move {
                let (parts, _) = req.into_parts();
                let id = model.record(&parts, Bytes::new());
                let reply = match model.check_key(&parts.headers) {
                    Err(e) => Reply::error(&e),
                    Ok(()) => catalog::model(&model.config, &name),
                };
                model.respond(reply, id).await
            }),
        )
        .fallback(move |req: Request| async move {
            let (parts, body) = match read(req).await {
                Ok(read) => read,
                Err(reply) => return fallback.respond(reply, 0).await,
            };
            let id = fallback.record(&parts, body);
            let mut err = ApiError::invalid(
                format!("Invalid URL ({} {})", parts.method, parts.uri.path()),
                "url",
            );
            err.status = 404;
            err.param = None;
            fallback.respond(Reply::error(&err), id).await
        })
}

/// The most body the mock reads (gateway tests may send large bodies on purpose).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Splits a request into its head and whole body.
async fn read(req: Request) -> Result<(Parts, Bytes), Reply> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => {
            let mut err =
                ApiError::invalid("request body too large or unreadable".to_owned(), "body");
            err.status = 413;
            Err(Reply::error(&err))
        }
    }
}

async fn chat_completions(state: &State, parts: &Parts, body: Bytes) -> Response {
    let n = state.record(parts, body.clone());
    if let Some(reply) = state.fault().await {
        return state.respond(reply, n).await;
    }
    let reply = match state
        .check_key(&parts.headers)
        .and_then(|()| request::chat(&body))
    {
        Err(e) => Reply::error(&e),
        Ok(job) => match state.check_model(&job.model) {
            Err(e) => Reply::error(&e),
            Ok(()) => {
                let id = format!("chatcmpl-mock{n:012x}");
                let ids = Ids {
                    id: &id,
                    created: now(),
                };
                match state
                    .templates
                    .as_ref()
                    .and_then(|t| t.for_job(&job, &state.config))
                {
                    Some(template) => {
                        let bytes =
                            template.render(ids, &model_json(&job.model), job.prompt_tokens);
                        let mut reply = Reply::json(200, Vec::new());
                        if job.stream {
                            reply.content_type = "text/event-stream";
                            reply.body = Body::Steps(vec![Step::Data(bytes)]);
                        } else {
                            reply.body = Body::Full(bytes);
                        }
                        reply.first_byte_delay = state.config.first_byte_delay;
                        reply
                    }
                    None => render::reply(&job, &state.config, ids),
                }
            }
        },
    };
    state.respond(reply, n).await
}

async fn legacy_completions(state: &State, parts: &Parts, body: Bytes) -> Response {
    let n = state.record(parts, body.clone());
    if let Some(reply) = state.fault().await {
        return state.respond(reply, n).await;
    }
    let reply = match state
        .check_key(&parts.headers)
        .and_then(|()| request::completion(&body))
    {
        Err(e) => Reply::error(&e),
        Ok(job) => match state.check_model(&job.model) {
            Err(e) => Reply::error(&e),
            Ok(()) => {
                let id = format!("cmpl-mock{n:012x}");
                render::reply(
                    &job,
                    &state.config,
                    Ids {
                        id: &id,
                        created: now(),
                    },
                )
            }
        },
    };
    state.respond(reply, n).await
}

async fn embeddings_handler(state: &State, parts: &Parts, body: Bytes) -> Response {
    let n = state.record(parts, body.clone());
    if let Some(reply) = state.fault().await {
        return state.respond(reply, n).await;
    }
    let reply = match state
        .check_key(&parts.headers)
        .and_then(|()| request::embedding(&body))
    {
        Err(e) => Reply::error(&e),
        Ok(job) => match state.check_model(&job.model) {
            Err(e) => Reply::error(&e),
            Ok(()) => catalog::embeddings(&job, &state.config),
        },
    };
    state.respond(reply, n).await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The model name as it sits between the quotes of a JSON string.
fn model_json(model: &str) -> String {
    let plain = model
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        model.to_owned()
    } else {
        let quoted = serde_json::to_string(model).unwrap_or_default();
        quoted
            .get(1..quoted.len().saturating_sub(1))
            .unwrap_or_default()
            .to_owned()
    }
}

static RL_LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
static RL_LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
static RL_REMAINING_REQUESTS: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining-requests");
static RL_REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
static RL_RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
static RL_RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
static RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

impl State {
    /// Records the request (when enabled) and returns its sequence number.
    fn record(&self, parts: &Parts, body: Bytes) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        if self.config.record_requests {
            let u = &parts.uri;
            lock(&self.recorded).push(RecordedRequest {
                method: parts.method.as_str().to_owned(),
                path: u
                    .path_and_query()
                    .map_or_else(|| u.path().to_owned(), |pq| pq.as_str().to_owned()),
                headers: parts.headers.clone(),
                body,
            });
        }
        n
    }

    /// The reply of the instance's failure switch, if it is on.
    async fn fault(&self) -> Option<Reply> {
        let fault = self.faults.take()?;
        faults::reply(fault, "").await
    }

    fn check_key(&self, h: &HeaderMap) -> Result<(), ApiError> {
        let Some(key) = &self.config.api_key else {
            return Ok(());
        };
        let given = h
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given == Some(key.as_str()) {
            Ok(())
        } else {
            Err(ApiError::for_status(401, "", ErrorStyle::OpenAi, 1))
        }
    }

    fn check_model(&self, model: &str) -> Result<(), ApiError> {
        if self.config.reject_unknown_models && !self.config.models.iter().any(|m| m == model) {
            Err(ApiError::for_status(404, model, ErrorStyle::OpenAi, 1))
        } else {
            Ok(())
        }
    }

    async fn respond(&self, reply: Reply, n: u64) -> Response {
        if !reply.first_byte_delay.is_zero() {
            tokio::time::sleep(reply.first_byte_delay).await;
        }
        let body = match reply.body {
            Body::Full(b) => AxumBody::from(b),
            Body::Steps(steps) => {
                AxumBody::from_stream(steps_stream(steps, Arc::clone(&self.streams)))
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() =
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
        if reply.content_type == "text/event-stream" {
            headers.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&format!("req_mock{n:024x}")) {
            headers.insert(REQUEST_ID.clone(), v);
        }
        headers.insert(RL_LIMIT_REQUESTS.clone(), HeaderValue::from_static("10000"));
        headers.insert(RL_LIMIT_TOKENS.clone(), HeaderValue::from_static("2000000"));
        match reply.retry_after {
            None => {
                headers.insert(
                    RL_REMAINING_REQUESTS.clone(),
                    HeaderValue::from_static("9999"),
                );
                headers.insert(
                    RL_REMAINING_TOKENS.clone(),
                    HeaderValue::from_static("1999950"),
                );
                headers.insert(RL_RESET_REQUESTS.clone(), HeaderValue::from_static("6ms"));
                headers.insert(RL_RESET_TOKENS.clone(), HeaderValue::from_static("1ms"));
            }
            Some(secs) => {
                headers.insert(RL_REMAINING_REQUESTS.clone(), HeaderValue::from_static("0"));
                headers.insert(RL_REMAINING_TOKENS.clone(), HeaderValue::from_static("0"));
                headers.insert(RL_RESET_REQUESTS.clone(), HeaderValue::from_static("1s"));
                headers.insert(RL_RESET_TOKENS.clone(), HeaderValue::from_static("6m0s"));
                headers.insert(RETRY_AFTER.clone(), HeaderValue::from(secs));
                headers.insert(RETRY_AFTER_MS.clone(), HeaderValue::from(secs * 1000));
            }
        }
        response
    }
}

/// Counts how streamed bodies end; the stream's state holds it and counts an abort on drop.
struct StreamGuard {
    stats: Arc<StreamStats>,
    done: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.done {
            self.stats.aborted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The body stream of a reply: data, pauses, and a cut that makes hyper drop the connection.
fn steps_stream(
    steps: Vec<Step>,
    stats: Arc<StreamStats>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let guard = StreamGuard { stats, done: false };
    futures::stream::unfold(
        (steps.into_iter(), guard),
        |(mut it, mut guard)| async move {
            loop {
                match it.next() {
                    None => {
                        if !guard.done {
                            guard.done = true;
                            guard.stats.completed.fetch_add(1, Ordering::Relaxed);
                        }
                        return None;
                    }
                    Some(Step::Data(b)) => return Some((Ok(b), (it, guard))),
                    Some(Step::Sleep(d)) => tokio::time::sleep(d).await,
                    Some(Step::Cut) => {
                        // The mock's own doing: neither completed nor aborted by the client.
                        guard.done = true;
                        return Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionAborted,
                                "mock: connection cut mid-stream",
                            )),
                            (it, guard),
                        ));
                    }
                }
            }
        },
    )
}
