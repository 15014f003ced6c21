//! In-process gateway tests: the real router on a real socket, in front of the test kit's mock
//! OpenAI-compatible upstream, with SQLite in a temporary folder.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::TestApp;
use futures::StreamExt;
use serde_json::{json, Value};

fn chat(content: &str) -> Value {
    json!({"model": "acme-chat", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]})
}

#[tokio::test]
async fn chat_answers_with_public_model_and_records_usage() {
    let app = TestApp::start("").await;
    let res = app
        .post("/v1/chat/completions", &app.key, chat("hello there"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["model"], "acme-chat");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock upstream, friend."
    );
    // 4 words of prompt, 8 pieces of answer (the mock's exact counts).
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 8);
    let rec = app.usage_record(&request_id).await;
    assert_eq!(rec["prompt_tokens"], 4);
    assert_eq!(rec["completion_tokens"], 8);
    assert_eq!(rec["provider"], "acme");
    assert_eq!(rec["upstream_model"], "mock-model");
    assert_eq!(rec["status"], 200);
    // priced at 1000/3000 won per million: ceil((4*1000 + 8*3000)/1000) = 28 milli-won
    assert_eq!(rec["cost"], 28);
    assert_eq!(rec["usage_estimated"], false);
}

#[tokio::test]
async fn passthrough_fields_reach_the_upstream_and_client_request_id_is_kept() {
    let app = TestApp::start("").await;
    let mut body = chat("tools please mock:tool");
    body["tools"] = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    body["seed"] = json!(7);
    body["n"] = json!(1);
    body["stop"] = json!(["zzz"]);
    body["response_format"] = json!({"type": "json_object"});
    body["logit_bias"] = json!({"42": 1});
    body["x_vendor_extra"] = json!({"keep": true});
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&app.key)
        .header("x-request-id", "client-123")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-client-request-id"], "client-123");
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    let sent: Value = serde_json::from_slice(&app.mock.last_request().unwrap().body).unwrap();
    assert_eq!(sent["model"], "mock-model");
    assert_eq!(sent["seed"], 7);
    assert_eq!(sent["logit_bias"]["42"], 1);
    assert_eq!(sent["x_vendor_extra"]["keep"], true);
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(
        sent["max_tokens"], 4096,
        "the model's bound is always sent upstream"
    );
    let auth = app.mock.last_request().unwrap().headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(auth, "Bearer upstream-secret");
}

async fn sse(res: reqwest::Response) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(i) = buf.find("\n\n") {
            let event = buf[..i].to_owned();
            buf.drain(..i + 2);
            out.push(event.trim_start_matches("data: ").to_owned());
        }
    }
    out
}

#[tokio::test]
async fn stream_hides_usage_unless_asked_and_always_meters() {
    let app = TestApp::start("").await;
    let mut body = chat("stream please");
    body["stream"] = json!(true);
    let res = app
        .post("/v1/chat/completions", &app.key, body.clone())
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let events = sse(res).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c["model"] == "acme-chat"));
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "usage chunk stripped"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock upstream, friend.");
    let sent: Value = serde_json::from_slice(&app.mock.last_request().unwrap().body).unwrap();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "Nuri always asks for usage"
    );
    let rec = app.usage_record(&id).await;
    assert_eq!(rec["completion_tokens"], 8);
    assert_eq!(rec["usage_estimated"], false);
    assert_eq!(rec["stream"], true);

    body["stream_options"] = json!({"include_usage": true});
    let events = sse(app.post("/v1/chat/completions", &app.key, body).await).await;
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 8);
}

#[tokio::test]
async fn korean_split_across_writes_arrives_whole() {
    let app = TestApp::start("").await;
    let mut body = chat("mock:korean");
    body["stream"] = json!(true);
    let events = sse(app.post("/v1/chat/completions", &app.key, body).await).await;
    let text: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "안녕하세요! 저는 누리 모의 서버입니다.");
}

#[tokio::test]
async fn cut_stream_ends_with_error_event_and_estimated_usage() {
    let app = TestApp::start("").await;
    let mut body = chat("mock:cut mock:after=3");
    body["stream"] = json!(true);
    let res = app.post("/v1/chat/completions", &app.key, body).await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let events = sse(res).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
    let rec = app.usage_record(&id).await;
    assert_eq!(rec["usage_estimated"], true);
    assert!(rec["completion_tokens"].as_u64().unwrap() >= 3);
    assert!(rec["error_code"].is_string());
}

#[tokio::test]
async fn client_disconnect_records_usage_so_far() {
    let app = TestApp::start("").await;
    let mut body = chat("mock:content=50 mock:chunk_delay_ms=20");
    body["stream"] = json!(true);
    let res = app.post("/v1/chat/completions", &app.key, body).await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut stream = res.bytes_stream();
    let _ = stream.next().await;
    let _ = stream.next().await;
    drop(stream);
    let rec = app.usage_record(&id).await;
    assert_eq!(rec["error_code"], "client_disconnected");
    assert!(rec["completion_tokens"].as_u64().unwrap() < 50);
}

#[tokio::test]
async fn upstream_errors_map_to_contract_codes() {
    // Breaker off: this test sends failure after failure on purpose, and checks each mapping.
    let app = TestApp::start("[routing]\nbreaker = { consecutive_failures = 0 }").await;
    for (directive, status, code) in [
        ("mock:status=401", 502, "upstream_auth_error"),
        ("mock:status=500", 502, "upstream_error"),
        (
            "mock:status=429 mock:retry_after=3",
            429,
            "rate_limit_exceeded",
        ),
        (
            "mock:status=400 mock:style=vllm",
            400,
            "invalid_request_error",
        ),
        ("mock:garbage", 502, "upstream_error"),
        ("mock:delay_ms=1500", 504, "upstream_timeout"),
    ] {
        let res = app
            .post("/v1/chat/completions", &app.key, chat(directive))
            .await;
        assert_eq!(res.status(), status, "{directive}");
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{directive}: {body}");
        assert!(!body.to_string().contains("upstream-secret"));
        if status == 429 {
            assert_eq!(retry.as_deref(), Some("3"));
        }
    }
}

#[tokio::test]
async fn bad_input_gets_clean_4xx() {
    let app = TestApp::start("").await;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed", b"{nope".to_vec(), 400, "invalid_request_error"),
        (
            "invalid utf8",
            b"{\"model\":\"\xff\"}".to_vec(),
            400,
            "invalid_request_error",
        ),
        (
            "missing messages",
            br#"{"model":"acme-chat"}"#.to_vec(),
            400,
            "invalid_request_error",
        ),
        (
            "wrong type",
            br#"{"model":"acme-chat","messages":"hi"}"#.to_vec(),
            400,
            "invalid_request_error",
        ),
        (
            "unknown model",
            br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            404,
            "model_not_found",
        ),
        (
            "bad role",
            br#"{"model":"acme-chat","messages":[{"role":"wizard","content":"x"}]}"#.to_vec(),
            400,
            "invalid_request_error",
        ),
        ("too large", vec![b' '; 70_000], 413, "request_too_large"),
    ];
    for (name, body, status, code) in cases {
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&app.key)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{name}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{name}: {v}");
    }
    let res = app
        .client
        .get(app.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = app.client.get(app.url("/v2/nothing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .post("/v1/chat/completions", "nk-not-a-real-key", chat("x"))
        .await;
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let app = TestApp::start("").await;
    let res = app
        .post(
            "/v1/embeddings",
            &app.key,
            json!({"model": "acme-embed", "input": ["a b", "c"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["model"], "acme-embed");
    let floats: Vec<f32> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
    let res = app
        .post(
            "/v1/embeddings",
            &app.key,
            json!({"model": "acme-embed", "input": ["a b", "c"], "encoding_format": "base64"}),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    let b64: nuri_types::openai::EmbeddingVector =
        serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(b64.to_floats().unwrap(), floats);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let res = app
        .post(
            "/v1/embeddings",
            &app.key,
            json!({"model": "acme-chat", "input": "x"}),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn revoked_key_stops_within_a_second_and_tenants_see_only_their_usage() {
    let app = TestApp::start("").await;
    let other = app.new_key().await;
    let res = app
        .post("/v1/chat/completions", &other.0, chat("mine"))
        .await;
    let other_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    app.usage_record(&other_id).await;
    let mine: Value = app
        .client
        .get(app.url("/v1/usage"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["request_id"] != other_id.as_str()));
    let res = app
        .client
        .delete(app.url(&format!("/admin/v1/keys/{}", other.1)))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let res = app
        .post("/v1/chat/completions", &other.0, chat("again"))
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn key_rate_limit_refuses_with_openai_headers() {
    let app = TestApp::start("").await;
    let res = app
        .client
        .patch(app.url(&format!("/admin/v1/keys/{}", app.key_id)))
        .bearer_auth(&app.admin)
        .json(&json!({"limits": {"requests_per_minute": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let first = app
        .post("/v1/chat/completions", &app.key, chat("one"))
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining-requests"], "1");
    assert_eq!(
        app.post("/v1/chat/completions", &app.key, chat("two"))
            .await
            .status(),
        200
    );
    let third = app
        .post("/v1/chat/completions", &app.key, chat("three"))
        .await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(third.headers()["x-ratelimit-remaining-requests"], "0");
    let v: Value = third.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn models_and_admin_errors() {
    let app = TestApp::start("").await;
    let v: Value = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-chat", "acme-embed"]);
    let res = app
        .client
        .get(app.url("/v1/models/acme-chat"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // An API key is not an admin token, and vice versa.
    let res = app
        .client
        .get(app.url("/admin/v1/orgs"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url("/admin/v1/orgs/org_missing/projects"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .post(app.url("/admin/v1/orgs"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let m: Value = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| json!(t))
        .unwrap();
    assert!(m.as_str().unwrap().contains("nuri_requests_total"));
}

#[tokio::test]
async fn project_policy_blocks_redacts_caps_and_hides_models() {
    let app = TestApp::start("").await;
    let put = |policy: Value| {
        let req = app
            .client
            .put(app.url(&format!("/admin/v1/projects/{}/policy", app.project_id)))
            .bearer_auth(&app.admin)
            .json(&policy);
        async move { req.send().await.unwrap() }
    };
    // Invalid policies are refused, nothing stored.
    assert_eq!(put(json!({"pii": "maybe"})).await.status(), 400);
    assert_eq!(put(json!({"bogus": 1})).await.status(), 400);
    assert_eq!(put(json!({"sandbox": {"starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}})).await.status(), 400);

    assert_eq!(put(json!({"pii": "block"})).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let res = app
        .post(
            "/v1/chat/completions",
            &app.key,
            chat("mail me at hong@example.com으로 or 010-1234-5678"),
        )
        .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "pii_detected");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("EMAIL") && msg.contains("PHONE"), "{msg}");
    assert!(
        !msg.contains("hong@example.com") && !msg.contains("1234"),
        "values never shown: {msg}"
    );

    assert_eq!(
        put(json!({"pii": "redact", "max_tokens": 100, "allowed_models": ["acme-chat"]}))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let res = app
        .post(
            "/v1/chat/completions",
            &app.key,
            chat("mail me at hong@example.com"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let sent: Value = serde_json::from_slice(&app.mock.last_request().unwrap().body).unwrap();
    assert_eq!(sent["messages"][1]["content"], "mail me at [EMAIL]");
    assert_eq!(
        sent["max_tokens"], 100,
        "the policy cap is applied when the client sets none"
    );
    let mut over = chat("hi");
    over["max_tokens"] = json!(500);
    let res = app.post("/v1/chat/completions", &app.key, over).await;
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "policy_violation");
    let models: Value = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 1);
    let res = app
        .post(
            "/v1/embeddings",
            &app.key,
            json!({"model": "acme-embed", "input": "x"}),
        )
        .await;
    assert_eq!(res.status(), 404);

    assert_eq!(put(json!({"sandbox": {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z"}})).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let res = app.post("/v1/chat/completions", &app.key, chat("hi")).await;
    assert_eq!(res.status(), 403);
    let got: Value = app
        .client
        .get(app.url(&format!("/admin/v1/projects/{}/policy", app.project_id)))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["pii"], "allow");
    assert_eq!(got["sandbox"]["ends_at"], "2020-02-01T00:00:00Z");
}
