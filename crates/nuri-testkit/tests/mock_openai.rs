//! Tests of the mock upstream itself, over real HTTP.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt as _;
use nuri_testkit::{MockConfig, MockHandle, MockOpenAi};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn post(mock: &MockHandle, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.base_url()))
        .bearer_auth("sk-provider")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn chat(text: &str) -> Value {
    json!({
        "model": "mock-model",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": text}
        ],
        "max_tokens": 64
    })
}

fn chat_stream(text: &str, include_usage: bool) -> Value {
    let mut body = chat(text);
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// Splits an SSE body framed exactly as OpenAI does (`data: X\n\n`) into its data payloads.
fn sse_data(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "body must end with a blank line: {body:?}"
    );
    let strict: Vec<String> = body
        .strip_suffix("\n\n")
        .unwrap()
        .split("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "one line per event: {ev:?}");
            ev.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event must start with 'data: ': {ev:?}"))
                .to_owned()
        })
        .collect();
    assert_eq!(strict, nuri_testkit::sse::data(body));
    strict
}

fn json_events(data: &[String]) -> Vec<Value> {
    data.iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn content_of(events: &[Value], index: u64) -> String {
    events
        .iter()
        .filter_map(|e| e["choices"].as_array())
        .flatten()
        .filter(|c| c["index"] == index)
        .filter_map(|c| c["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn non_streaming_chat_has_exact_usage_and_headers() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp = post(&mock, "/chat/completions", chat("Say hello please")).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(h["content-type"], "application/json");
    for name in [
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    ] {
        assert!(h.contains_key(name), "{name}");
    }
    assert_eq!(h["x-ratelimit-reset-requests"], "6ms");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock-model");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "Hello from the mock upstream, friend."
    );
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["logprobs"].is_null());
    // "You are terse." = 3 words, "Say hello please" = 3 words; 8 content pieces.
    assert_eq!(body["usage"]["prompt_tokens"], 6);
    assert_eq!(body["usage"]["completion_tokens"], 8);
    assert_eq!(body["usage"]["total_tokens"], 14);

    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].bearer(), Some("sk-provider"));
    assert_eq!(seen[0].json().unwrap()["max_tokens"], 64);
    mock.clear_requests();
    assert!(mock.last_request().is_none());
}

#[tokio::test]
async fn streaming_chat_framing_and_usage_chunk() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp = post(&mock, "/chat/completions", chat_stream("hi", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("x-request-id"));
    let body = resp.text().await.unwrap();
    let data = sse_data(&body);
    // role, 8 content, finish, usage, [DONE]
    assert_eq!(data.len(), 12, "{body}");
    assert_eq!(data.last().unwrap(), "[DONE]");
    let events = json_events(&data);
    let id = events[0]["id"].as_str().unwrap();
    for e in &events {
        assert_eq!(e["id"], id);
        assert_eq!(e["object"], "chat.completion.chunk");
        assert_eq!(e["model"], "mock-model");
    }
    assert_eq!(
        events[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    for e in &events[..10] {
        assert!(e["usage"].is_null() && e.as_object().unwrap().contains_key("usage"));
    }
    for e in &events[1..9] {
        let delta = e["choices"][0]["delta"].as_object().unwrap();
        assert_eq!(delta.len(), 1);
        assert!(delta["content"].is_string());
        assert!(e["choices"][0]["finish_reason"].is_null());
    }
    assert_eq!(events[9]["choices"][0]["delta"], json!({}));
    assert_eq!(events[9]["choices"][0]["finish_reason"], "stop");
    assert_eq!(events[10]["choices"], json!([]));
    assert_eq!(events[10]["usage"]["prompt_tokens"], 4);
    assert_eq!(events[10]["usage"]["completion_tokens"], 8);
    assert_eq!(events[10]["usage"]["total_tokens"], 12);
    assert_eq!(
        content_of(&events, 0),
        "Hello from the mock upstream, friend."
    );
    // The exact first event bytes (field order as the live API sends them).
    assert!(data[0].starts_with(&format!(
        r#"{{"id":"{id}","object":"chat.completion.chunk","created":"#
    )));
    assert!(data[0].ends_with(
        r#""system_fingerprint":"fp_nuri_mock","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}"#
    ));
}

#[tokio::test]
async fn streaming_without_include_usage_has_no_usage_key() {
    let mock = MockOpenAi::start(MockConfig {
        content_chunks: 3,
        ..MockConfig::default()
    });
    let body = post(&mock, "/chat/completions", chat_stream("hi", false))
        .await
        .text()
        .await
        .unwrap();
    let data = sse_data(&body);
    assert_eq!(data.len(), 6); // role, 3 content, finish, [DONE]
    for e in json_events(&data) {
        assert!(!e.as_object().unwrap().contains_key("usage"));
        assert_eq!(e["choices"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn korean_character_split_across_writes_reassembles() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp = post(
        &mock,
        "/chat/completions",
        chat_stream("인사해 주세요 mock:korean", true),
    )
    .await;
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(frame) = stream.next().await {
        frames.push(frame.unwrap().to_vec());
    }
    assert!(
        frames.iter().any(|f| std::str::from_utf8(f).is_err()),
        "some frame must end inside a multibyte character ({} frames)",
        frames.len()
    );
    let body = String::from_utf8(frames.concat()).unwrap();
    let events = json_events(&sse_data(&body));
    assert_eq!(
        content_of(&events, 0),
        "안녕하세요! 저는 누리 모의 서버입니다."
    );
    assert_eq!(events.last().unwrap()["usage"]["completion_tokens"], 8);
    // Korean counts as whitespace-separated words too: 3 + 3.
    assert_eq!(events.last().unwrap()["usage"]["prompt_tokens"], 6);
}

/// Accumulates streamed tool calls per index: (id, name, arguments).
fn tool_calls(events: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for e in events {
        for c in e["choices"].as_array().unwrap() {
            for tc in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"].as_u64().unwrap() as usize;
                if calls.len() <= i {
                    calls.resize(i + 1, Default::default());
                }
                if let Some(id) = tc["id"].as_str() {
                    calls[i].0 = id.to_owned();
                    assert_eq!(tc["type"], "function");
                }
                if let Some(name) = tc["function"]["name"].as_str() {
                    calls[i].1 = name.to_owned();
                }
                calls[i].2 += tc["function"]["arguments"].as_str().unwrap();
            }
        }
    }
    calls
}

#[tokio::test]
async fn tool_calls_stream_in_fragments() {
    let mock = MockOpenAi::start(MockConfig::default());
    let mut body = chat_stream("weather? mock:tool", true);
    body["tools"] = json!([{"type":"function","function":{"name":"lookup","parameters":{}}}]);
    let text = post(&mock, "/chat/completions", body)
        .await
        .text()
        .await
        .unwrap();
    let events = json_events(&sse_data(&text));
    let first = &events[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert!(first["content"].is_null() && first.as_object().unwrap().contains_key("content"));
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, "lookup");
    let args: Value = serde_json::from_str(&calls[0].2).unwrap();
    assert_eq!(args, json!({"city": "Seoul", "unit": "celsius"}));
    let fragments = events
        .iter()
        .filter(|e| e["choices"][0]["delta"]["tool_calls"][0]["id"].is_null())
        .filter(|e| e["choices"][0]["delta"]["tool_calls"].is_array())
        .count();
    assert!(fragments > 2, "arguments must arrive in several fragments");
    let finish = &events[events.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        events.last().unwrap()["usage"]["completion_tokens"],
        fragments as u64
    );

    // Parallel, non-streaming.
    let resp: Value = post(&mock, "/chat/completions", chat("weather? mock:tools=3"))
        .await
        .json()
        .await
        .unwrap();
    let msg = &resp["choices"][0]["message"];
    assert!(msg["content"].is_null());
    assert_eq!(resp["choices"][0]["finish_reason"], "tool_calls");
    let tcs = msg["tool_calls"].as_array().unwrap();
    assert_eq!(tcs.len(), 3);
    assert_eq!(tcs[2]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(tcs[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["city"], "Busan");
}

#[tokio::test]
async fn parallel_tool_calls_stream_by_index() {
    let mock = MockOpenAi::start(MockConfig::default());
    let text = post(
        &mock,
        "/chat/completions",
        chat_stream("x mock:tools=2", false),
    )
    .await
    .text()
    .await
    .unwrap();
    let calls = tool_calls(&json_events(&sse_data(&text)));
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, "call_mock_0");
    assert_eq!(calls[1].0, "call_mock_1");
    for (_, _, args) in &calls {
        serde_json::from_str::<Value>(args).unwrap();
    }
}

#[tokio::test]
async fn n_choices_interleave_and_count() {
    let mock = MockOpenAi::start(MockConfig::default());
    let mut body = chat_stream("hi", true);
    body["n"] = json!(2);
    let text = post(&mock, "/chat/completions", body)
        .await
        .text()
        .await
        .unwrap();
    let events = json_events(&sse_data(&text));
    assert_eq!(content_of(&events, 0), content_of(&events, 1));
    let finishes = events
        .iter()
        .filter(|e| e["choices"][0]["finish_reason"] == "stop")
        .count();
    assert_eq!(finishes, 2);
    assert_eq!(events.last().unwrap()["usage"]["completion_tokens"], 16);

    let mut body = chat("hi");
    body["n"] = json!(3);
    let resp: Value = post(&mock, "/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["choices"].as_array().unwrap().len(), 3);
    assert_eq!(resp["usage"]["completion_tokens"], 24);
}

#[tokio::test]
async fn stop_and_max_tokens_are_honoured() {
    let mock = MockOpenAi::start(MockConfig::default());
    let mut body = chat("hi");
    body["stop"] = json!([" mock", "zzz"]);
    let resp: Value = post(&mock, "/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(resp["choices"][0]["finish_reason"], "stop");
    assert_eq!(resp["usage"]["completion_tokens"], 3);

    let mut body = chat_stream("hi", true);
    body["max_tokens"] = json!(2);
    let text = post(&mock, "/chat/completions", body)
        .await
        .text()
        .await
        .unwrap();
    let events = json_events(&sse_data(&text));
    assert_eq!(content_of(&events, 0), "Hello from");
    assert_eq!(
        events[events.len() - 2]["choices"][0]["finish_reason"],
        "length"
    );
    assert_eq!(events.last().unwrap()["usage"]["completion_tokens"], 2);

    let mut body = chat("hi mock:content=20");
    body["max_completion_tokens"] = json!(12);
    let resp: Value = post(&mock, "/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["choices"][0]["finish_reason"], "length");
    assert_eq!(resp["usage"]["completion_tokens"], 12);
}

#[tokio::test]
async fn errors_before_the_stream() {
    let mock = MockOpenAi::start(MockConfig::default());
    for (status, kind, code) in [
        (400, "invalid_request_error", Value::Null),
        (401, "invalid_request_error", json!("invalid_api_key")),
        (404, "invalid_request_error", json!("model_not_found")),
        (429, "requests", json!("rate_limit_exceeded")),
        (500, "server_error", Value::Null),
        (503, "server_error", Value::Null),
    ] {
        let resp = post(
            &mock,
            "/chat/completions",
            chat_stream(&format!("hi mock:status={status}"), true),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let h = resp.headers().clone();
        let body: Value = resp.json().await.unwrap();
        let err = body["error"].as_object().unwrap();
        assert_eq!(err.len(), 4, "{body}");
        assert!(err["message"].is_string());
        assert_eq!(err["type"], kind);
        assert!(err["param"].is_null());
        assert_eq!(err["code"], code);
        if status == 429 {
            assert_eq!(h["retry-after"], "1");
            assert_eq!(h["retry-after-ms"], "1000");
            assert_eq!(h["x-ratelimit-remaining-requests"], "0");
            assert_eq!(h["x-ratelimit-reset-tokens"], "6m0s");
        } else {
            assert!(!h.contains_key("retry-after"));
        }
    }
    let resp = post(
        &mock,
        "/chat/completions",
        chat("hi mock:status=429 mock:retry_after=7"),
    )
    .await;
    assert_eq!(resp.headers()["retry-after"], "7");
}

#[tokio::test]
async fn error_styles_of_other_servers() {
    let mock = MockOpenAi::start(MockConfig::default());
    let get = |text: &'static str| {
        let mock = &mock;
        async move {
            let resp = post(mock, "/chat/completions", chat(text)).await;
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = get("mock:status=400 mock:style=vllm").await;
    assert_eq!(s, 400);
    assert_eq!(
        b["error"],
        json!({"message": b["error"]["message"], "type": "BadRequestError", "param": null, "code": 400})
    );
    let (_, b) = get("mock:status=404 mock:style=vllm_flat").await;
    assert_eq!(b["object"], "error");
    assert_eq!(b["type"], "NotFoundError");
    assert_eq!(b["code"], 404);
    let (_, b) = get("mock:status=404 mock:style=ollama").await;
    assert_eq!(b["error"]["type"], "not_found_error");
    assert!(b["error"]["code"].is_null());
    let (_, b) = get("mock:status=500 mock:style=ollama_native").await;
    assert!(b["error"].is_string());
}

#[tokio::test]
async fn in_band_error_after_a_few_chunks() {
    let mock = MockOpenAi::start(MockConfig::default());
    let text = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:inband_error mock:after=2", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let data = sse_data(&text);
    assert!(!data.contains(&"[DONE]".to_owned()));
    let events = json_events(&data);
    assert_eq!(events.len(), 4); // role, 2 content, error
    assert_eq!(content_of(&events, 0), "Hello from");
    let err = &events.last().unwrap()["error"];
    assert_eq!(err["type"], "server_error");
    assert!(err["message"].is_string());
}

#[tokio::test]
async fn stream_cut_mid_way_drops_the_connection() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:cut mock:after=4", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    let mut failed = false;
    let mut stream = resp.bytes_stream();
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error, not cleanly");
    let text = String::from_utf8(got).unwrap();
    assert!(!text.contains("[DONE]"));
    let events = json_events(&sse_data(&text));
    assert_eq!(events.len(), 5);
    assert_eq!(content_of(&events, 0), "Hello from the mock");

    // Non-streaming: half a JSON body, then the cut.
    let resp = post(&mock, "/chat/completions", chat("hi mock:cut")).await;
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn delays_before_first_byte_and_between_chunks() {
    let mock = MockOpenAi::start(MockConfig::default());
    let start = Instant::now();
    let resp = post(&mock, "/chat/completions", chat("hi mock:delay_ms=150")).await;
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(resp.status(), 200);

    let start = Instant::now();
    let resp = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:chunk_delay_ms=30 mock:content=3", false),
    )
    .await;
    let headers_at = start.elapsed();
    let mut stream = resp.bytes_stream();
    let mut frames = 0;
    while let Some(f) = stream.next().await {
        f.unwrap();
        frames += 1;
    }
    // role, 3 content, finish, [DONE]: 5 pauses of 30 ms.
    assert!(
        frames >= 6,
        "events must arrive one by one, got {frames} frames"
    );
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(headers_at < Duration::from_millis(140));

    // Server-wide default delay.
    let slow = MockOpenAi::start(MockConfig {
        first_byte_delay: Duration::from_millis(100),
        ..MockConfig::default()
    });
    let start = Instant::now();
    post(&slow, "/chat/completions", chat("hi")).await;
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn garbage_body_with_200() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:garbage", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn legacy_completions() {
    let mock = MockOpenAi::start(MockConfig::default());
    let resp: Value = post(
        &mock,
        "/completions",
        json!({"model": "mock-model", "prompt": "Once upon a time"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(resp["object"], "text_completion");
    assert_eq!(
        resp["choices"][0]["text"],
        "Hello from the mock upstream, friend."
    );
    assert_eq!(resp["usage"]["prompt_tokens"], 4);
    assert_eq!(resp["usage"]["completion_tokens"], 8);

    let text = post(
        &mock,
        "/completions",
        json!({"model": "mock-model", "prompt": ["a", "b c"], "stream": true,
               "max_tokens": 5, "stream_options": {"include_usage": true}}),
    )
    .await
    .text()
    .await
    .unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let events = json_events(&data);
    let joined: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, "Hello from the mock upstream");
    assert_eq!(
        events[events.len() - 2]["choices"][0]["finish_reason"],
        "length"
    );
    assert_eq!(events.last().unwrap()["usage"]["prompt_tokens"], 3);
    assert_eq!(events.last().unwrap()["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn embeddings_float_and_base64_agree() {
    let mock = MockOpenAi::start(MockConfig::default());
    let req = |fmt: &str| json!({"model": "mock-embedding", "input": ["hello world", "안녕"], "encoding_format": fmt});
    let float: Value = post(&mock, "/embeddings", req("float"))
        .await
        .json()
        .await
        .unwrap();
    let b64: Value = post(&mock, "/embeddings", req("base64"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(float["object"], "list");
    assert_eq!(float["usage"]["prompt_tokens"], 3);
    assert_eq!(float["usage"]["total_tokens"], 3);
    for i in 0..2 {
        let v: Vec<f32> = float["data"][i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(v.len(), 8);
        assert_eq!(
            v,
            nuri_testkit::openai::embedding_vector(if i == 0 { "hello world" } else { "안녕" }, 8)
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64["data"][i]["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(decoded, v);
    }
    assert_ne!(float["data"][0]["embedding"], float["data"][1]["embedding"]);
    let dims: Value = post(
        &mock,
        "/embeddings",
        json!({"model": "e", "input": "x", "dimensions": 3}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(dims["data"][0]["embedding"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn models_and_unknown_routes() {
    let mock = MockOpenAi::start(MockConfig {
        reject_unknown_models: true,
        ..MockConfig::default()
    });
    let list: Value = client()
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], "mock-model");
    assert_eq!(list["data"][0]["object"], "model");
    let one = client()
        .get(format!("{}/models/mock-model", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let resp = post(
        &mock,
        "/chat/completions",
        json!({"model": "nope", "messages": [{"role":"user","content":"x"}]}),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );
    let resp = post(&mock, "/nowhere", json!({})).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].is_string());
    let resp = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
}

#[tokio::test]
async fn api_key_is_required_when_configured() {
    let mock = MockOpenAi::start(MockConfig {
        api_key: Some("sk-right".to_owned()),
        ..MockConfig::default()
    });
    let resp = post(&mock, "/chat/completions", chat("hi")).await; // sends sk-provider
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_api_key"
    );
    let resp = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .bearer_auth("sk-right")
        .json(&chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let mock = MockOpenAi::start(MockConfig::default());
    let url = format!("{}/models", mock.base_url());
    assert!(reqwest::get(&url).await.is_ok());
    drop(mock);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // A fresh client: no pooled keep-alive connection.
        if client().get(&url).send().await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still answering after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn no_usage_omits_usage_everywhere() {
    let mock = MockOpenAi::start(MockConfig::default());
    let text = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:no_usage", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let data = sse_data(&text);
    assert_eq!(data.len(), 11); // role, 8 content, finish, [DONE]
    for e in json_events(&data) {
        assert!(!e.as_object().unwrap().contains_key("usage"));
    }
    let body: Value = post(&mock, "/chat/completions", chat("hi mock:no_usage"))
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("usage").is_none());
}

#[tokio::test]
async fn streams_dropped_by_the_client_are_counted() {
    let mock = MockOpenAi::start(MockConfig::default());
    post(&mock, "/chat/completions", chat_stream("hi", true))
        .await
        .text()
        .await
        .unwrap();
    let resp = post(
        &mock,
        "/chat/completions",
        chat_stream("hi mock:content=50 mock:chunk_delay_ms=20", true),
    )
    .await;
    let mut stream = resp.bytes_stream();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.streams().aborted == 0 {
        assert!(
            Instant::now() < deadline,
            "abort not noticed: {:?}",
            mock.streams()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        mock.streams(),
        nuri_testkit::StreamCounts {
            completed: 1,
            aborted: 1
        }
    );
}
