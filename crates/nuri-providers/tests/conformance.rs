//! One conformance suite run against every native adapter (Anthropic, Gemini, CLOVA v3, CLOVA
//! v1), each talking to its mock from `nuri-provider-mocks`. The mocks answer the same
//! scenarios in their own wire formats, so every adapter must produce the same OpenAI output;
//! the few provider differences (whether tool arguments stream in fragments, what "overloaded"
//! maps to, whether tools exist) are fields of [`Target`].
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use nuri_config::{ProviderConfig, ProviderKind, Secret, Timeouts};
use nuri_core::provider::{CallContext, ChatReply, Provider, ProviderError, TimeoutKind};
use nuri_provider_mocks::{scenario, MockServer, MOCK_KEY};
use nuri_types::openai::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage};
use serde_json::{json, Value};

#[derive(Clone, Copy)]
enum Mock {
    Anthropic,
    Gemini,
    Clova,
}

#[derive(Clone, Copy)]
pub struct Target {
    kind: ProviderKind,
    mock: Mock,
    api_version: &'static str,
    /// Tool-call arguments arrive in fragments (else whole, in the header chunk).
    fragments: bool,
    /// Tools and JSON mode are offered.
    tools: bool,
    /// The provider can stop for safety (`content_filter`).
    content_filter: bool,
    /// What the provider's overload answer maps to.
    overloaded: fn(&ProviderError) -> bool,
}

const ANTHROPIC: Target = Target {
    kind: ProviderKind::Anthropic,
    mock: Mock::Anthropic,
    api_version: "",
    fragments: true,
    tools: true,
    content_filter: true,
    overloaded: |e| matches!(e, ProviderError::Server { status: 529, .. }),
};
const GEMINI: Target = Target {
    kind: ProviderKind::Gemini,
    mock: Mock::Gemini,
    api_version: "",
    fragments: false,
    tools: true,
    content_filter: true,
    overloaded: |e| matches!(e, ProviderError::Server { status: 503, .. }),
};
const CLOVA_V3: Target = Target {
    kind: ProviderKind::Clova,
    mock: Mock::Clova,
    api_version: "v3",
    fragments: true,
    tools: true,
    content_filter: false,
    overloaded: |e| matches!(e, ProviderError::RateLimited { .. }),
};
const CLOVA_V1: Target = Target {
    api_version: "v1",
    tools: false,
    ..CLOVA_V3
};

async fn start(mock: Mock) -> MockServer {
    match mock {
        Mock::Anthropic => nuri_provider_mocks::anthropic::start().await,
        Mock::Gemini => nuri_provider_mocks::gemini::start().await,
        Mock::Clova => nuri_provider_mocks::clova::start().await,
    }
    .expect("mock starts")
}

fn config(t: &Target, base_url: &str, key: &str, timeouts: Timeouts) -> ProviderConfig {
    ProviderConfig {
        name: "under-test".into(),
        kind: t.kind,
        base_url: base_url.into(),
        api_key: Some(Secret::new(key)),
        api_key_env: Some("UNDER_TEST_KEY".into()),
        api_version: t.api_version.into(),
        stream_usage: true,
        timeouts,
        local: None,
    }
}

async fn setup_with(
    t: &Target,
    key: &str,
    first_byte: Duration,
) -> (MockServer, Arc<dyn Provider>) {
    let timeouts = Timeouts {
        first_byte,
        ..Timeouts::default()
    };
    setup_timeouts(t, key, timeouts).await
}

async fn setup_timeouts(
    t: &Target,
    key: &str,
    timeouts: Timeouts,
) -> (MockServer, Arc<dyn Provider>) {
    let mock = start(t.mock).await;
    let provider = nuri_providers::build(
        &config(t, &mock.base_url, key, timeouts),
        std::path::Path::new("models"),
    )
    .expect("builds");
    (mock, provider)
}

async fn setup(t: &Target) -> (MockServer, Arc<dyn Provider>) {
    setup_with(t, MOCK_KEY, Duration::from_secs(10)).await
}

fn request(model: &str, extra: Value) -> ChatCompletionRequest {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(body).unwrap()
}

fn ctx() -> CallContext {
    CallContext {
        request_id: "req-conformance-1".into(),
    }
}

async fn complete(
    p: &Arc<dyn Provider>,
    req: ChatCompletionRequest,
) -> Result<ChatCompletion, ProviderError> {
    match p.chat(req, &ctx()).await? {
        ChatReply::Complete(c) => Ok(c),
        ChatReply::Stream(_) => panic!("asked for a whole answer, got a stream"),
    }
}

async fn stream(
    p: &Arc<dyn Provider>,
    mut req: ChatCompletionRequest,
) -> Result<Vec<Result<ChatCompletionChunk, ProviderError>>, ProviderError> {
    req.stream = Some(true);
    match p.chat(req, &ctx()).await? {
        ChatReply::Stream(s) => Ok(s.collect().await),
        ChatReply::Complete(_) => panic!("asked for a stream, got a whole answer"),
    }
}

/// Chunks as short strings; also checks every chunk's shape and shared id.
fn describe(items: &[Result<ChatCompletionChunk, ProviderError>]) -> Vec<String> {
    let mut out = Vec::new();
    let mut id = None;
    for item in items {
        let Ok(c) = item else {
            out.push("error".into());
            continue;
        };
        assert_eq!(c.object, "chat.completion.chunk");
        assert!(!c.id.is_empty());
        assert_eq!(
            id.get_or_insert_with(|| c.id.clone()),
            &c.id,
            "one id per stream"
        );
        if let Some(u) = c.usage {
            assert!(c.choices.is_empty(), "usage chunk has no choices");
            out.push(format!(
                "usage:{}/{}/{}",
                u.prompt_tokens, u.completion_tokens, u.total_tokens
            ));
            continue;
        }
        assert_eq!(c.choices.len(), 1);
        let ch = &c.choices[0];
        assert_eq!(ch.index, 0);
        let d = &ch.delta;
        if let Some(reason) = &ch.finish_reason {
            assert!(
                d.role.is_none() && d.content.is_none() && d.tool_calls.is_none(),
                "finish delta is empty"
            );
            out.push(format!("finish:{reason}"));
        } else if d.role.is_some() {
            assert_eq!(d.role.as_deref(), Some("assistant"));
            assert_eq!(d.content.as_deref(), Some(""));
            out.push("role".into());
        } else if let Some(calls) = &d.tool_calls {
            assert_eq!(calls.len(), 1);
            let call = &calls[0];
            let f = call.function.as_ref().unwrap();
            match &call.id {
                Some(cid) => {
                    assert_eq!(call.kind.as_deref(), Some("function"));
                    out.push(format!(
                        "tool:{}:{cid}:{}:{}",
                        call.index,
                        f.name.as_deref().unwrap(),
                        f.arguments.as_deref().unwrap_or("")
                    ));
                }
                None => out.push(format!(
                    "args:{}:{}",
                    call.index,
                    f.arguments.as_deref().unwrap()
                )),
            }
        } else {
            out.push(format!("content:{}", d.content.as_deref().unwrap()));
        }
    }
    out
}

fn contents(items: &[String]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|s| s.strip_prefix("content:"))
        .collect()
}

fn text_of(c: &ChatCompletion) -> &str {
    c.choices[0].message.content.as_deref().unwrap_or_default()
}

fn tools() -> Value {
    json!([{"type":"function","function":{"name":"get_weather","description":"Current weather",
        "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
        {"type":"function","function":{"name":"get_time","description":"Local time",
        "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}])
}

pub async fn plain_text(t: Target) {
    let (_m, p) = setup(&t).await;
    let c = complete(&p, request(scenario::TEXT, json!({})))
        .await
        .unwrap();
    assert_eq!(c.object, "chat.completion");
    assert!(!c.id.is_empty());
    assert_eq!(c.choices.len(), 1);
    assert_eq!(c.choices[0].message.role, "assistant");
    assert_eq!(text_of(&c), "Hello there!");
    assert_eq!(c.choices[0].message.tool_calls, None);
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.usage, Some(Usage::new(11, 6)));
}

pub async fn streaming(t: Target) {
    let (_m, p) = setup(&t).await;
    let items = stream(&p, request(scenario::TEXT, json!({})))
        .await
        .unwrap();
    assert_eq!(
        describe(&items),
        [
            "role",
            "content:Hello",
            "content: there!",
            "finish:stop",
            "usage:11/6/17"
        ]
    );
}

pub async fn korean_split_across_writes(t: Target) {
    let (_m, p) = setup(&t).await;
    let items = stream(&p, request(scenario::KOREAN, json!({})))
        .await
        .unwrap();
    assert_eq!(
        describe(&items),
        [
            "role",
            "content:안녕",
            "content:하세",
            "content:요",
            "finish:stop",
            "usage:11/6/17"
        ]
    );
}

pub async fn system_prompt(t: Target) {
    let (_m, p) = setup(&t).await;
    let req = serde_json::from_value(json!({"model": scenario::ECHO, "max_tokens": 100, "messages": [
        {"role":"system","content":"You are terse."},{"role":"developer","content":"Be kind."},{"role":"user","content":"Hi"}]})).unwrap();
    let c = complete(&p, req).await.unwrap();
    assert_eq!(
        text_of(&c),
        "system=You are terse.\nBe kind.|roles=user|stop=|max=100|temperature=-|tools="
    );
}

pub async fn multi_turn(t: Target) {
    let (_m, p) = setup(&t).await;
    let req = serde_json::from_value(json!({"model": scenario::ECHO, "max_tokens": 100, "temperature": 0.5, "messages": [
        {"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"How are you?"}]})).unwrap();
    let c = complete(&p, req).await.unwrap();
    assert_eq!(
        text_of(&c),
        "system=|roles=user,assistant,user|stop=|max=100|temperature=0.5|tools="
    );
}

pub async fn stop(t: Target) {
    let (_m, p) = setup(&t).await;
    let c = complete(
        &p,
        request(
            scenario::ECHO,
            json!({"max_tokens": 100, "stop": ["END", "STOP"]}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        text_of(&c),
        "system=|roles=user|stop=END,STOP|max=100|temperature=-|tools="
    );
    let c = complete(
        &p,
        request(scenario::ECHO, json!({"max_tokens": 100, "stop": "END"})),
    )
    .await
    .unwrap();
    assert!(text_of(&c).contains("|stop=END|"));
}

pub async fn max_tokens(t: Target) {
    let (_m, p) = setup(&t).await;
    let c = complete(
        &p,
        request(scenario::ECHO, json!({"max_completion_tokens": 7})),
    )
    .await
    .unwrap();
    assert!(text_of(&c).contains("|max=7|"), "{}", text_of(&c));
    let c = complete(&p, request(scenario::LENGTH, json!({"max_tokens": 1})))
        .await
        .unwrap();
    assert_eq!(text_of(&c), "Hello");
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("length"));
    let items = stream(&p, request(scenario::LENGTH, json!({"max_tokens": 1})))
        .await
        .unwrap();
    assert_eq!(
        describe(&items),
        ["role", "content:Hello", "finish:length", "usage:11/6/17"]
    );
}

pub async fn tool_call(t: Target) {
    let (_m, p) = setup(&t).await;
    let req = request(
        scenario::TOOL,
        json!({"tools": tools(), "tool_choice": "auto"}),
    );
    if !t.tools {
        assert!(matches!(
            complete(&p, req).await,
            Err(ProviderError::Unsupported(_))
        ));
        return;
    }
    let c = complete(&p, req).await.unwrap();
    let ch = &c.choices[0];
    assert_eq!(ch.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(ch.message.content, None);
    let calls = ch.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_1");
    assert_eq!(calls[0].kind, "function");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].function.arguments).unwrap(),
        json!({"location":"Paris"})
    );
    assert_eq!(c.usage, Some(Usage::new(11, 6)));
    let echo = complete(
        &p,
        request(
            scenario::ECHO,
            json!({"max_tokens": 2000, "tools": tools()}),
        ),
    )
    .await
    .unwrap();
    assert!(
        text_of(&echo).ends_with("|tools=get_weather,get_time"),
        "{}",
        text_of(&echo)
    );
}

pub async fn streamed_parallel_tool_calls(t: Target) {
    let (_m, p) = setup(&t).await;
    let req = request(scenario::PARALLEL, json!({"tools": tools()}));
    if !t.tools {
        assert!(matches!(
            stream(&p, req).await,
            Err(ProviderError::Unsupported(_))
        ));
        return;
    }
    let items = stream(&p, req).await.unwrap();
    let expected: Vec<&str> = if t.fragments {
        vec![
            "role",
            "tool:0:call_1:get_weather:",
            "args:0:{\"location\":",
            "args:0:\"Paris\"}",
            "tool:1:call_2:get_time:",
            "args:1:{\"location\":",
            "args:1:\"Paris\"}",
            "finish:tool_calls",
            "usage:11/6/17",
        ]
    } else {
        vec![
            "role",
            "tool:0:call_1:get_weather:{\"location\":\"Paris\"}",
            "tool:1:call_2:get_time:{\"location\":\"Paris\"}",
            "finish:tool_calls",
            "usage:11/6/17",
        ]
    };
    assert_eq!(describe(&items), expected);
    let single = stream(&p, request(scenario::TOOL, json!({"tools": tools()})))
        .await
        .unwrap();
    assert_eq!(
        describe(&single)
            .iter()
            .filter(|s| s.starts_with("tool:"))
            .count(),
        1
    );
}

pub async fn json_mode(t: Target) {
    let (_m, p) = setup(&t).await;
    let req = request(
        scenario::JSON,
        json!({"response_format": {"type": "json_object"}}),
    );
    if !t.tools {
        assert!(matches!(
            complete(&p, req).await,
            Err(ProviderError::Unsupported(_))
        ));
        return;
    }
    let c = complete(&p, req.clone()).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text_of(&c)).unwrap(),
        json!({"answer": 42})
    );
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.choices[0].message.tool_calls, None);
    let items = stream(&p, req).await.unwrap();
    let d = describe(&items);
    assert_eq!(
        serde_json::from_str::<Value>(&contents(&d).concat()).unwrap(),
        json!({"answer": 42})
    );
    assert_eq!(&d[d.len() - 2..], ["finish:stop", "usage:11/6/17"]);
    let schema = json!({"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"answer":{"type":"integer"}},"additionalProperties":false}}});
    let c = complete(
        &p,
        request(scenario::JSON, json!({"response_format": schema})),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text_of(&c)).unwrap(),
        json!({"answer": 42})
    );
}

pub async fn content_filter(t: Target) {
    let (_m, p) = setup(&t).await;
    let reason = if t.content_filter {
        "content_filter"
    } else {
        "stop"
    };
    let c = complete(&p, request(scenario::FILTERED, json!({})))
        .await
        .unwrap();
    assert_eq!(text_of(&c), "I can't help with that.");
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some(reason));
    let items = stream(&p, request(scenario::FILTERED, json!({})))
        .await
        .unwrap();
    let d = describe(&items);
    assert_eq!(contents(&d).concat(), "I can't help with that.");
    assert_eq!(d[d.len() - 2], format!("finish:{reason}"));
}

pub async fn bad_request_400(t: Target) {
    let (_m, p) = setup(&t).await;
    let e = complete(&p, request(scenario::BAD_REQUEST, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::InvalidRequest { .. }), "{e:?}");
    let e = stream(&p, request(scenario::BAD_REQUEST, json!({})))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ProviderError::InvalidRequest { .. }), "{e:?}");
}

pub async fn auth_401(t: Target) {
    let (_m, p) = setup_with(&t, "wrong-key-0000", Duration::from_secs(10)).await;
    let e = complete(&p, request(scenario::TEXT, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Auth(_)), "{e:?}");
    assert!(!e.to_string().contains("wrong-key-0000"));
}

pub async fn rate_limited_429(t: Target) {
    let (_m, p) = setup(&t).await;
    let e = complete(&p, request(scenario::RATE_LIMITED, json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{e:?}"
    );
    assert!(e.is_retryable());
}

pub async fn server_error_500(t: Target) {
    let (_m, p) = setup(&t).await;
    let e = complete(&p, request(scenario::SERVER_ERROR, json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Server { status: 500, .. }),
        "{e:?}"
    );
    let e = complete(&p, request(scenario::OVERLOADED, json!({})))
        .await
        .unwrap_err();
    assert!((t.overloaded)(&e), "{e:?}");
    assert!(e.is_retryable());
}

pub async fn malformed_body(t: Target) {
    let (_m, p) = setup(&t).await;
    let e = complete(&p, request(scenario::MALFORMED, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Malformed(_)), "{e:?}");
    let items = stream(&p, request(scenario::MALFORMED, json!({})))
        .await
        .unwrap();
    let d = describe(&items);
    assert_eq!(contents(&d), ["Hello"]);
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Malformed(_)))),
        "{d:?}"
    );
    assert!(!d.iter().any(|s| s.starts_with("finish:")));
}

pub async fn stream_cut(t: Target) {
    let (_m, p) = setup(&t).await;
    let items = stream(&p, request(scenario::CUT, json!({}))).await.unwrap();
    let d = describe(&items);
    assert_eq!(d[0], "role");
    assert_eq!(contents(&d), ["Hello"]);
    assert!(!d.iter().any(|s| s.starts_with("finish:")), "{d:?}");
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Connect(_)))),
        "{d:?}"
    );
}

pub async fn inband_error(t: Target) {
    let (_m, p) = setup(&t).await;
    let items = stream(&p, request(scenario::INBAND_ERROR, json!({})))
        .await
        .unwrap();
    let d = describe(&items);
    assert_eq!(contents(&d), ["Hello"]);
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Server { .. }))),
        "{d:?}"
    );
}

pub async fn slow_upstream(t: Target) {
    let (_m, p) = setup_with(&t, MOCK_KEY, Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let e = complete(&p, request(scenario::SLOW, json!({})))
        .await
        .unwrap_err();
    assert_eq!(e, ProviderError::Timeout(TimeoutKind::FirstByte));
    assert!(started.elapsed() < Duration::from_millis(1500));
    let e = stream(&p, request(scenario::SLOW, json!({})))
        .await
        .err()
        .unwrap();
    assert_eq!(e, ProviderError::Timeout(TimeoutKind::FirstByte));
}

pub async fn stalled_stream(t: Target) {
    let timeouts = Timeouts {
        idle: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let (_m, p) = setup_timeouts(&t, MOCK_KEY, timeouts).await;
    let items = stream(&p, request(scenario::STALL, json!({})))
        .await
        .unwrap();
    let d = describe(&items);
    assert_eq!(contents(&d), ["Hello"]);
    assert!(
        matches!(
            items.last(),
            Some(Err(ProviderError::Timeout(TimeoutKind::Idle)))
        ),
        "{d:?}"
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The key travels only in the provider's auth header, and never reaches logs or errors.
pub async fn secret_never_leaks(t: Target) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (mock, p) = setup(&t).await;
    let mut errors = Vec::new();
    for model in [
        scenario::TEXT,
        scenario::RATE_LIMITED,
        scenario::SERVER_ERROR,
        scenario::MALFORMED,
    ] {
        if let Err(e) = complete(&p, request(model, json!({}))).await {
            errors.push(e.to_string());
        }
        for item in stream(&p, request(model, json!({})))
            .await
            .into_iter()
            .flatten()
        {
            if let Err(e) = item {
                errors.push(e.to_string());
            }
        }
    }
    tracing::debug!("end of secret test");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("end of secret test"), "capture works");
    assert!(!logs.contains(MOCK_KEY), "key in logs");
    assert!(errors.len() >= 3);
    assert!(
        errors.iter().all(|e| !e.contains(MOCK_KEY)),
        "key in an error"
    );
    let header = match t.mock {
        Mock::Anthropic => "x-api-key",
        Mock::Gemini => "x-goog-api-key",
        Mock::Clova => "authorization",
    };
    for r in mock.requests() {
        assert!(!r.body.to_string().contains(MOCK_KEY));
        assert!(!r.query.unwrap_or_default().contains(MOCK_KEY));
        for (name, value) in &r.headers {
            let has = value.to_str().unwrap_or_default().contains(MOCK_KEY);
            assert_eq!(has, name.as_str() == header, "key in header {name}");
        }
    }
}

macro_rules! conformance {
    ($module:ident, $target:expr) => {
        mod $module {
            use super::*;
            conformance!(@cases $target; plain_text, streaming, korean_split_across_writes, system_prompt,
                multi_turn, stop, max_tokens, tool_call, streamed_parallel_tool_calls, json_mode, content_filter,
                bad_request_400, auth_401, rate_limited_429, server_error_500, malformed_body,
                stream_cut, stalled_stream, inband_error, slow_upstream, secret_never_leaks);
        }
    };
    (@cases $target:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                super::$case($target).await;
            }
        )*
    };
}

conformance!(anthropic, ANTHROPIC);
conformance!(gemini, GEMINI);
conformance!(clova_v3, CLOVA_V3);
conformance!(clova_v1, CLOVA_V1);

/// Provider-specific wire details the shared cases do not see.
mod wire {
    use super::*;

    #[tokio::test]
    async fn anthropic_headers_path_and_default_max_tokens() {
        let (mock, p) = setup(&ANTHROPIC).await;
        complete(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        let r = mock.last().unwrap();
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.headers["anthropic-version"], "2023-06-01");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.body["max_tokens"], 4096);
        assert!(r.body.get("stream").is_none());
        stream(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        assert_eq!(mock.last().unwrap().body["stream"], true);
    }

    #[tokio::test]
    async fn gemini_paths_and_embeddings() {
        let (mock, p) = setup(&GEMINI).await;
        complete(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        assert_eq!(
            mock.last().unwrap().path,
            "/v1beta/models/text:generateContent"
        );
        stream(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        let r = mock.last().unwrap();
        assert_eq!(r.path, "/v1beta/models/text:streamGenerateContent");
        assert_eq!(r.query.as_deref(), Some("alt=sse"));
        let e = p
            .embeddings(
                serde_json::from_value(json!({"model":"text-embedding-004","input":["a","b"]}))
                    .unwrap(),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(e.data.len(), 2);
        assert_eq!(e.data[1].index, 1);
        assert_eq!(
            e.data[1].embedding.to_floats().unwrap(),
            vec![0.25, -0.5, 1.0]
        );
        let r = mock.last().unwrap();
        assert_eq!(
            r.path,
            "/v1beta/models/text-embedding-004:batchEmbedContents"
        );
        assert_eq!(r.body["requests"][0]["model"], "models/text-embedding-004");
    }

    #[tokio::test]
    async fn clova_headers_paths_and_status_in_200() {
        let (mock, p) = setup(&CLOVA_V3).await;
        complete(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        let r = mock.last().unwrap();
        assert_eq!(r.path, "/v3/chat-completions/text");
        assert_eq!(
            r.headers["x-ncp-clovastudio-request-id"],
            "req-conformance-1"
        );
        assert_eq!(r.headers["accept"], "application/json");
        stream(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        assert_eq!(mock.last().unwrap().headers["accept"], "text/event-stream");
        let e = complete(&p, request("error-in-200", json!({})))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProviderError::ContextLength(m) if m.contains("40003")),
            "{e:?}"
        );
        let (mock, p) = setup(&CLOVA_V1).await;
        complete(&p, request(scenario::TEXT, json!({})))
            .await
            .unwrap();
        assert_eq!(mock.last().unwrap().path, "/v1/chat-completions/text");
    }
}
