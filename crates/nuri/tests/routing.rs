//! Routing and resilience against misbehaving upstreams: retries with backoff, failover across
//! routes, fallbacks to other models, the circuit breaker opening and closing, timeouts, and
//! cancellation — each with the exact usage record it must leave. Every test runs its own
//! gateway (its own SQLite file and route state) in front of its own mock upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nuri_config::Config;
use nuri_core::tasks::TaskTracker;
use nuri_testkit::{Fault, MockConfig, MockHandle, MockOpenAi};
use serde_json::{json, Value};

/// A gateway on a socket in front of `mocks`, configured by `body` (TOML in which `{m0}`,
/// `{m1}` … stand for the mocks' base URLs).
struct Gw {
    gateway: std::sync::Arc<nuri_core::gateway::Gateway>,
    client: reqwest::Client,
    base: String,
    key: String,
    mocks: Vec<MockHandle>,
    _dir: tempfile::TempDir,
    _tracker: TaskTracker,
}

const ADMIN: &str = "test-operator";

impl Gw {
    async fn start(mocks: Vec<MockHandle>, body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut body = body.to_owned();
        for (i, m) in mocks.iter().enumerate() {
            body = body.replace(&format!("{{m{i}}}"), &m.base_url());
        }
        let toml = format!(
            "[storage]\ndatabase_url = \"sqlite://{}\"\n{body}",
            dir.path().join("nuri.db").display()
        );
        let env: HashMap<String, String> = [
            ("UP_KEY".to_owned(), "upstream-secret".to_owned()),
            ("NURI_ADMIN_TOKEN".to_owned(), ADMIN.to_owned()),
        ]
        .into();
        let config = Config::from_toml(&toml, "test.toml", &env).unwrap();
        let tracker = TaskTracker::new();
        let (state, _store) = nuri::compose::app_state(&config, &tracker).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let gateway = state.gateway.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, nuri_http::app(state)).await;
        });
        let mut gw = Self {
            gateway,
            client: reqwest::Client::new(),
            base,
            key: String::new(),
            mocks,
            _dir: dir,
            _tracker: tracker,
        };
        gw.key = new_key(&gw.client, &gw.base).await.0;
        gw
    }

    async fn chat(&self, model: &str, content: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": content}]}))
            .send()
            .await
            .unwrap()
    }

    async fn chat_stream(&self, model: &str, content: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"model": model, "stream": true,
                "messages": [{"role": "user", "content": content}]}))
            .send()
            .await
            .unwrap()
    }

    /// Every usage record of a request, once at least one is written (and a moment more, so a
    /// second record would show).
    async fn usage(&self, request_id: &str) -> Vec<Value> {
        usage_records(&self.client, &self.base, request_id).await
    }

    fn sent(&self, mock: usize) -> usize {
        self.mocks[mock].requests().len()
    }
}

/// Creates an organisation, project and key over the admin API: (secret, key id).
async fn new_key(client: &reqwest::Client, base: &str) -> (String, String) {
    let post = |path: String, body: Value| {
        let client = client.clone();
        async move {
            let res = client
                .post(path)
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()
        }
    };
    let org = post(format!("{base}/admin/v1/orgs"), json!({"name": "Acme"})).await;
    let org_id = org["id"].as_str().unwrap();
    let project = post(
        format!("{base}/admin/v1/orgs/{org_id}/projects"),
        json!({"name": "app"}),
    )
    .await;
    let project_id = project["id"].as_str().unwrap();
    let key = post(
        format!("{base}/admin/v1/projects/{project_id}/keys"),
        json!({"name": "t"}),
    )
    .await;
    // A grant, so priced models are served (credits are reserved and settled for real).
    let programme = post(
        format!("{base}/admin/v1/programmes"),
        json!({"name": "routing", "sponsor": "tests", "budget": 1_000_000_000i64}),
    )
    .await;
    post(
        format!(
            "{base}/admin/v1/programmes/{}/grants",
            programme["id"].as_str().unwrap()
        ),
        json!({"org_id": org_id, "amount": 1_000_000_000i64}),
    )
    .await;
    (
        key["key"].as_str().unwrap().to_owned(),
        key["id"].as_str().unwrap().to_owned(),
    )
}

async fn usage_records(client: &reqwest::Client, base: &str, request_id: &str) -> Vec<Value> {
    let fetch = || async {
        let v: Value = client
            .get(format!("{base}/admin/v1/usage?request_id={request_id}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    };
    for _ in 0..100 {
        if !fetch().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(150)).await;
            return fetch().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no usage record for {request_id}");
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

async fn sse(res: reqwest::Response) -> Vec<Value> {
    let text = res.text().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn mocks(n: usize) -> Vec<MockHandle> {
    (0..n)
        .map(|_| MockOpenAi::start(MockConfig::default()))
        .collect()
}

/// A provider table for mock `i`, named `p{i}`, with extra inline settings.
fn provider(i: usize, extra: &str) -> String {
    format!(
        "[[providers]]\nname = \"p{i}\"\nkind = \"openai_compatible\"\nbase_url = \"{{m{i}}}\"\n\
         api_key_env = \"UP_KEY\"\n{extra}\n"
    )
}

/// The mock's usage for a one-message chat: prompt = words of the message, completion = 8.
fn mock_usage(content: &str) -> (u64, u64) {
    (content.split_whitespace().count() as u64, 8)
}

fn assert_usage(rec: &Value, model: &str, provider: &str, content: &str, status: u16) {
    let (prompt, completion) = mock_usage(content);
    assert_eq!(rec["model"], model, "{rec}");
    assert_eq!(rec["provider"], provider, "{rec}");
    assert_eq!(rec["prompt_tokens"], prompt, "{rec}");
    assert_eq!(rec["completion_tokens"], completion, "{rec}");
    assert_eq!(rec["usage_estimated"], false, "{rec}");
    assert_eq!(rec["status"], status, "{rec}");
}

/// Quick retries; breakers off, so a test's earlier failures cannot open one by accident.
const FAST_RETRY: &str =
    "[routing]\nretry = { max_retries = 2, base_ms = 10, max_delay_ms = 2000 }\n\
     breaker = { consecutive_failures = 0 }\n";

#[tokio::test]
async fn retries_a_failing_route_with_backoff_then_answers() {
    let body = format!(
        "{}{FAST_RETRY}[[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    for fault in [
        Fault::Status(503),
        Fault::Status(529),
        Fault::Drop,
        Fault::Garbage,
    ] {
        gw.mocks[0].clear_requests();
        gw.mocks[0].fail_next(2, fault);
        let res = gw.chat("m", "hello there").await;
        assert_eq!(res.status(), 200, "{fault:?}");
        let id = request_id(&res);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["model"], "m");
        assert_eq!(gw.sent(0), 3, "{fault:?}: two failures, then the answer");
        let recs = gw.usage(&id).await;
        assert_eq!(recs.len(), 1);
        assert_usage(&recs[0], "m", "p0", "hello there", 200);
    }
}

#[tokio::test]
async fn retry_budget_runs_out_with_the_contract_error_and_a_record() {
    let body = format!(
        "{}[routing]\nretry = {{ max_retries = 1, base_ms = 10 }}\n\
         breaker = {{ consecutive_failures = 0 }}\n\
         [[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    for (fault, status, code) in [
        (Fault::Status(500), 502, "upstream_error"),
        (Fault::Garbage, 502, "upstream_error"),
        (Fault::Drop, 503, "service_unavailable"),
        (Fault::RateLimited(1), 429, "rate_limit_exceeded"),
    ] {
        gw.mocks[0].clear_requests();
        gw.mocks[0].fail_next(u64::MAX, fault);
        let res = gw.chat("m", "hello").await;
        gw.mocks[0].heal();
        assert_eq!(res.status(), status, "{fault:?}");
        let id = request_id(&res);
        if status == 429 {
            assert_eq!(res.headers()["retry-after"], "1");
        }
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{fault:?}: {body}");
        assert!(!body.to_string().contains("upstream-secret"));
        assert_eq!(gw.sent(0), 2, "{fault:?}: one try and one retry");
        let recs = gw.usage(&id).await;
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["status"], status);
        assert_eq!(recs[0]["error_code"], code);
        assert_eq!(recs[0]["prompt_tokens"], 0);
        assert_eq!(recs[0]["completion_tokens"], 0);
    }
}

#[tokio::test]
async fn honours_retry_after_and_never_retries_client_errors() {
    let body = format!(
        "{}{FAST_RETRY}[[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    gw.mocks[0].fail_next(1, Fault::RateLimited(1));
    let started = Instant::now();
    let res = gw.chat("m", "hello").await;
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for retry-after"
    );
    assert_eq!(gw.sent(0), 2);
    gw.mocks[0].clear_requests();
    let res = gw.chat("m", "bad mock:status=400").await;
    assert_eq!(res.status(), 400);
    assert_eq!(gw.sent(0), 1, "a 400 is the request's fault: no retry");
}

#[tokio::test]
async fn fails_over_by_priority_and_passes_over_a_rate_limited_route() {
    let body = format!(
        "{}{}{FAST_RETRY}[[models]]\nname = \"m\"\nroutes = [\n\
         {{ provider = \"p0\", model = \"mock-model\", priority = 0 }},\n\
         {{ provider = \"p1\", model = \"mock-model\", priority = 1 }}]\n",
        provider(0, ""),
        provider(1, "")
    );
    let gw = Gw::start(mocks(2), &body).await;
    // Healthy: only the priority-0 route is used.
    for _ in 0..5 {
        assert_eq!(gw.chat("m", "hello").await.status(), 200);
    }
    assert_eq!((gw.sent(0), gw.sent(1)), (5, 0));
    // The first route fails: the second answers at once, no backoff on the first.
    gw.mocks[0].fail_next(1, Fault::Status(502));
    let res = gw.chat("m", "hello").await;
    assert_eq!(res.status(), 200);
    let recs = gw.usage(&request_id(&res)).await;
    assert_eq!(recs.len(), 1);
    assert_usage(&recs[0], "m", "p1", "hello", 200);
    assert_eq!((gw.sent(0), gw.sent(1)), (6, 1));
    // Rate-limited upstream (retry-after 30 s): the route rests, later requests skip it.
    gw.mocks[0].fail_next(1, Fault::RateLimited(30));
    for _ in 0..3 {
        assert_eq!(gw.chat("m", "hello").await.status(), 200);
    }
    assert_eq!((gw.sent(0), gw.sent(1)), (7, 4));
}

#[tokio::test]
async fn breaker_opens_fails_fast_then_closes_after_a_probe() {
    let body = format!(
        "{}[routing]\nretry = {{ max_retries = 0 }}\n\
         breaker = {{ consecutive_failures = 2, cool_down_ms = 400 }}\n\
         [[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    gw.mocks[0].fail_next(u64::MAX, Fault::Status(500));
    assert_eq!(gw.chat("m", "hello").await.status(), 502);
    assert_eq!(gw.chat("m", "hello").await.status(), 502);
    assert_eq!(gw.sent(0), 2);
    // Open: refused at once, nothing sent upstream, the refusal recorded.
    let started = Instant::now();
    let res = gw.chat("m", "hello").await;
    assert_eq!(res.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(300));
    assert!(res.headers().contains_key("retry-after"));
    let id = request_id(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert_eq!(gw.sent(0), 2);
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["error_code"], "service_unavailable");
    // Half-open after the cool-down: a failing probe opens it again...
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(gw.chat("m", "hello").await.status(), 502);
    assert_eq!(gw.sent(0), 3);
    assert_eq!(gw.chat("m", "hello").await.status(), 503);
    assert_eq!(gw.sent(0), 3);
    // ...and a successful one closes it.
    gw.mocks[0].heal();
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..3 {
        assert_eq!(gw.chat("m", "hello").await.status(), 200);
    }
    assert_eq!(gw.sent(0), 6);
}

#[tokio::test]
async fn falls_back_to_another_model_with_its_name_and_prices() {
    let body = format!(
        "{}{}{FAST_RETRY}\
         [[models]]\nname = \"primary\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n\
         fallbacks = [\"backup\"]\nprice = {{ input_per_million = 1000, output_per_million = 2000 }}\n\
         max_output_tokens = 100\n\
         [[models]]\nname = \"backup\"\nroutes = [{{ provider = \"p1\", model = \"mock-model\" }}]\n\
         price = {{ input_per_million = 3000, output_per_million = 5000 }}\nmax_output_tokens = 100\n",
        provider(0, ""),
        provider(1, "")
    );
    let gw = Gw::start(mocks(2), &body).await;
    gw.mocks[0].fail_next(u64::MAX, Fault::Drop);
    let res = gw.chat("primary", "hello there").await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["model"], "backup", "the model that answered");
    assert_eq!(gw.sent(0), 3, "the first model's retries ran out first");
    assert_eq!(gw.sent(1), 1);
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1, "one record per request: {recs:?}");
    assert_usage(&recs[0], "backup", "p1", "hello there", 200);
    // ceil((2 × 3000 + 8 × 5000) / 1000) milli-won at the fallback's prices.
    assert_eq!(recs[0]["cost"], 46);

    // Streams fall back too, and every chunk names the fallback.
    let res = gw.chat_stream("primary", "hello there").await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let chunks = sse(res).await;
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c["model"] == "backup"), "{chunks:?}");
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_usage(&recs[0], "backup", "p1", "hello there", 200);

    // Both requests were charged once, at the fallback's prices; nothing stays reserved (the
    // first model's reservations were released).
    let mut balance = Value::Null;
    for _ in 0..50 {
        balance = gw
            .client
            .get(format!("{}/v1/balance", gw.base))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if balance["reserved"] == 0 && balance["spent"] == 92 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(balance["spent"], 92, "{balance}");
    assert_eq!(balance["reserved"], 0, "{balance}");

    // A client error is not a reason to fall back.
    gw.mocks[0].heal();
    let before = gw.sent(1);
    assert_eq!(gw.chat("primary", "x mock:status=400").await.status(), 400);
    assert_eq!(gw.sent(1), before);
}

#[tokio::test]
async fn timeouts_answer_504_and_record_usage() {
    let body = format!(
        "{}[routing]\nretry = {{ max_retries = 0 }}\nbreaker = {{ consecutive_failures = 0 }}\n\
         [[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(
            0,
            "timeouts = { first_byte_ms = 300, idle_ms = 300, total_ms = 1500 }"
        )
    );
    let gw = Gw::start(mocks(1), &body).await;

    // Time to first byte.
    let res = gw.chat("m", "hi mock:delay_ms=2000").await;
    assert_eq!(res.status(), 504);
    let id = request_id(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_timeout");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("first byte"),
        "{body}"
    );
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], 504);
    assert_eq!(recs[0]["error_code"], "upstream_timeout");
    assert_eq!(recs[0]["completion_tokens"], 0);

    // Idle gap mid-stream: the answer started, so the error is the stream's last event.
    let content = "hi mock:content=5 mock:chunk_delay_ms=1000";
    let res = gw.chat_stream("m", content).await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let events = sse(res).await;
    let last = events.last().unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout", "{events:?}");
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["error_code"], "upstream_timeout");
    assert_eq!(recs[0]["usage_estimated"], true);
    // Only the role chunk (no text) arrived before the stall.
    assert_eq!(recs[0]["completion_tokens"], 0);
    assert_eq!(recs[0]["prompt_tokens"], 8 + content.len() as u64);

    // The whole request's deadline, with chunks arriving faster than the idle gap.
    let content = "hi mock:content=40 mock:chunk_delay_ms=100";
    let res = gw.chat_stream("m", content).await;
    let id = request_id(&res);
    let events = sse(res).await;
    let last = events.last().unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout", "{events:?}");
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("whole provider request"));
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["error_code"], "upstream_timeout");
    let delivered = nuri_core::metering::estimate_tokens(text.len(), 0);
    assert!(delivered > 0);
    assert!(recs[0]["completion_tokens"].as_u64().unwrap() >= delivered);
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_chunk_is_retried() {
    let body = format!(
        "{}{FAST_RETRY}[[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "timeouts = { idle_ms = 300 }")
    );
    let gw = Gw::start(mocks(1), &body).await;
    gw.mocks[0].fail_next(1, Fault::Drop);
    let res = gw.chat_stream("m", "hello").await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let events = sse(res).await;
    assert!(
        events.iter().all(|e| e.get("error").is_none()),
        "{events:?}"
    );
    assert_eq!(gw.sent(0), 2);
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_usage(&recs[0], "m", "p0", "hello", 200);

    // Once a chunk has gone to the client, a failure is not retried.
    gw.mocks[0].clear_requests();
    let res = gw.chat_stream("m", "hello mock:cut mock:after=2").await;
    let events = sse(res).await;
    assert!(events.last().unwrap().get("error").is_some());
    assert_eq!(gw.sent(0), 1);
}

#[tokio::test]
async fn client_going_away_cancels_the_upstream_at_once() {
    let body = format!(
        "{}[[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    let res = gw
        .chat_stream("m", "hello mock:content=200 mock:chunk_delay_ms=30")
        .await;
    let id = request_id(&res);
    let mut stream = res.bytes_stream();
    let _ = stream.next().await;
    drop(stream);
    let started = Instant::now();
    while gw.mocks[0].streams().aborted == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "upstream not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recs = gw.usage(&id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["error_code"], "client_disconnected");
    assert!(recs[0]["completion_tokens"].as_u64().unwrap() < 200);
}

#[tokio::test]
async fn latency_balancing_prefers_the_faster_route() {
    let slow = MockOpenAi::start(MockConfig {
        first_byte_delay: Duration::from_millis(150),
        ..MockConfig::default()
    });
    let fast = MockOpenAi::start(MockConfig::default());
    let body = format!(
        "{}{}[[models]]\nname = \"m\"\nbalancing = \"latency\"\nroutes = [\n\
         {{ provider = \"p0\", model = \"mock-model\" }},\n\
         {{ provider = \"p1\", model = \"mock-model\" }}]\n",
        provider(0, ""),
        provider(1, "")
    );
    let gw = Gw::start(vec![slow, fast], &body).await;
    for _ in 0..20 {
        assert_eq!(gw.chat("m", "hello").await.status(), 200);
    }
    assert!(gw.sent(1) >= 17, "fast route served {} of 20", gw.sent(1));
}

#[tokio::test]
async fn weighted_balancing_follows_the_weights() {
    let body = format!(
        "{}{}[[models]]\nname = \"m\"\nroutes = [\n\
         {{ provider = \"p0\", model = \"mock-model\", weight = 3 }},\n\
         {{ provider = \"p1\", model = \"mock-model\", weight = 1 }}]\n",
        provider(0, ""),
        provider(1, "")
    );
    let gw = Gw::start(mocks(2), &body).await;
    for _ in 0..200 {
        assert_eq!(gw.chat("m", "hello").await.status(), 200);
    }
    let heavy = gw.sent(0);
    assert_eq!(heavy + gw.sent(1), 200);
    assert!(
        (125..=175).contains(&heavy),
        "weight 3 of 4 got {heavy} of 200"
    );
}

#[tokio::test]
async fn active_health_checks_open_and_close_breakers() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let body = format!(
        "{}[[providers]]\nname = \"dead\"\nkind = \"openai_compatible\"\n\
         base_url = \"http://127.0.0.1:{closed_port}/v1\"\n\
         [routing]\nretry = {{ max_retries = 0 }}\nhealth_check_interval_ms = 60000\n\
         breaker = {{ consecutive_failures = 1, cool_down_ms = 300 }}\n\
         [[models]]\nname = \"m\"\nroutes = [{{ provider = \"p0\", model = \"mock-model\" }}]\n\
         [[models]]\nname = \"n\"\nroutes = [{{ provider = \"dead\", model = \"mock-model\" }}]\n",
        provider(0, "")
    );
    let gw = Gw::start(mocks(1), &body).await;
    let breaker = |provider: &str| {
        gw.gateway
            .route_status()
            .into_iter()
            .find(|s| s.provider == provider)
            .map(|s| s.breaker)
    };
    // A route whose upstream does not answer opens without any client request.
    gw.gateway.check_routes().await;
    assert_eq!(breaker("dead"), Some("open"));
    assert_eq!(breaker("p0"), Some("closed"));
    let checks: Vec<_> = gw.mocks[0]
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/models")
        .collect();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].bearer(), Some("upstream-secret"));
    assert_eq!(gw.chat("n", "hello").await.status(), 503);

    // A breaker opened by traffic closes on a passing check after its cool-down.
    gw.mocks[0].fail_next(1, Fault::Status(500));
    assert_eq!(gw.chat("m", "hello").await.status(), 502);
    assert_eq!(breaker("p0"), Some("open"));
    gw.gateway.check_routes().await; // still cooling down: left alone
    assert_eq!(breaker("p0"), Some("open"));
    tokio::time::sleep(Duration::from_millis(350)).await;
    gw.gateway.check_routes().await;
    assert_eq!(breaker("p0"), Some("closed"));
    let sent = gw.sent(0);
    assert_eq!(gw.chat("m", "hello").await.status(), 200);
    assert_eq!(gw.sent(0), sent + 1);
}
