//! CLOVA Studio mock (reference §5): `POST [/testapp|/serviceapp]/v3/chat-completions/{model}`
//! and `/v1/…`, `Authorization: Bearer`, streaming only with `Accept: text/event-stream`;
//! answers in the `{status, result}` envelope (status codes as strings), streams with
//! `id:` / `event:` / `data:` lines (text streams with a space after the colon, tool streams
//! without, as CLOVA's own docs show), `token` → `result` → `signal`. Rejects a second system
//! message, `maxTokens` with `maxCompletionTokens`, and temperatures outside CLOVA's range.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::{
    json_response, record, scenario, sse_response, strings, Log, MockServer, Summary, MOCK_KEY,
};

/// Starts the mock on a free port of `127.0.0.1`.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::bind(crate::Kind::Clova).await
}

/// The mock's routes, recording every request into `log`.
pub(crate) fn router(log: Log) -> axum::Router {
    axum::Router::new()
        .route("/{version}/chat-completions/{model}", post(handle))
        .route(
            "/{app}/{version}/chat-completions/{model}",
            post(handle_app),
        )
        .with_state(log)
}

fn status(http: u16, code: &str, message: &str, headers: &[(&str, &str)]) -> Response {
    json_response(
        http,
        headers,
        &json!({"status":{"code":code,"message":message}}).to_string(),
    )
}

fn summary(body: &Value, v1: bool) -> String {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    Summary {
        system: messages
            .iter()
            .filter(|m| m["role"] == "system")
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        roles: messages
            .iter()
            .filter(|m| m["role"] != "system")
            .filter_map(|m| m["role"].as_str().map(str::to_owned))
            .collect(),
        stop: strings(body.get(if v1 { "stopBefore" } else { "stop" })),
        max: body["maxTokens"]
            .as_u64()
            .or(body["maxCompletionTokens"].as_u64()),
        temperature: body["temperature"].as_f64(),
        tools: body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
    .line()
}

async fn handle_app(
    state: State<Log>,
    Path((app, version, model)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if app != "testapp" && app != "serviceapp" {
        return status(404, "40400", "Not found", &[]);
    }
    handle(state, Path((version, model)), uri, headers, raw).await
}

async fn handle(
    State(log): State<Log>,
    Path((version, model)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = record(
        &log,
        uri.path(),
        uri.query().map(str::to_owned),
        &headers,
        &raw,
    );
    let v1 = match version.as_str() {
        "v1" => true,
        "v3" => false,
        _ => return status(404, "40400", "Not found", &[]),
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(format!("Bearer {MOCK_KEY}").as_str()) {
        return status(401, "40104", "Invalid API key", &[]);
    }
    if body.is_null() {
        return status(400, "40000", "Bad request", &[]);
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    if messages.iter().filter(|m| m["role"] == "system").count() > 1 {
        return status(
            400,
            "40001",
            "Invalid parameter: only one system message is allowed",
            &[],
        );
    }
    if body.get("maxTokens").is_some() && body.get("maxCompletionTokens").is_some() {
        return status(
            400,
            "40001",
            "Invalid parameter: maxTokens and maxCompletionTokens cannot be used together",
            &[],
        );
    }
    let temperature_ok = match body["temperature"].as_f64() {
        None => true,
        Some(t) if v1 => t > 0.0 && t <= 1.0,
        Some(t) => (0.0..=1.0).contains(&t),
    };
    if !temperature_ok {
        return status(400, "40001", "Invalid parameter: temperature", &[]);
    }
    let stream = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    match model.as_str() {
        scenario::BAD_REQUEST => return status(400, "40001", "Invalid parameter", &[]),
        scenario::RATE_LIMITED => {
            return status(
                429,
                "42901",
                "Too many requests - rate exceeded",
                &[("retry-after", "2")],
            )
        }
        scenario::SERVER_ERROR => return status(500, "50000", "Internal server error", &[]),
        scenario::OVERLOADED => {
            return status(429, "42902", "Too many requests - server overloaded", &[])
        }
        "error-in-200" => return status(200, "40003", "Context length exceeded", &[]),
        scenario::SLOW => crate::slow().await,
        scenario::JSON if body["responseFormat"]["type"] != "json" => {
            return status(
                400,
                "40001",
                "mock: JSON scenario expects responseFormat",
                &[],
            )
        }
        _ => {}
    }
    if model == scenario::MALFORMED && !stream {
        return json_response(
            200,
            &[],
            "{\"status\":{\"code\":\"20000\",\"message\":\"OK\"},\"result\":{\"mess",
        );
    }
    let answer = Answer::of(&model, &body, v1);
    if stream {
        sse_response(&[], answer.events(&model, v1))
    } else {
        let result = answer.result(v1);
        json_response(
            200,
            &[],
            &json!({"status":{"code":"20000","message":"OK"},"result":result}).to_string(),
        )
    }
}

struct Answer {
    text: String,
    calls: Vec<(&'static str, &'static str)>,
    finish: &'static str,
}

impl Answer {
    fn of(model: &str, body: &Value, v1: bool) -> Self {
        let text = |t: &str, finish| Self {
            text: t.into(),
            calls: Vec::new(),
            finish,
        };
        match model {
            scenario::ECHO => text(&summary(body, v1), "stop"),
            scenario::LENGTH => text("Hello", "length"),
            scenario::TOOL => Self {
                text: String::new(),
                calls: vec![("call_1", "get_weather")],
                finish: "tool_calls",
            },
            scenario::PARALLEL => Self {
                text: String::new(),
                calls: vec![("call_1", "get_weather"), ("call_2", "get_time")],
                finish: "tool_calls",
            },
            scenario::JSON => text("{\"answer\":42}", "stop"),
            scenario::KOREAN => text("안녕하세요", "stop"),
            scenario::FILTERED => text("I can't help with that.", "stop"),
            _ => text("Hello there!", "stop"),
        }
    }

    fn finish(&self, v1: bool) -> &'static str {
        match (v1, self.finish) {
            (true, "stop") => "end_token",
            (_, f) => f,
        }
    }

    fn message(&self, content: &str, tool_calls: Option<Vec<Value>>) -> Value {
        let mut m = json!({"role":"assistant","content":content});
        if let Some(calls) = tool_calls {
            m["toolCalls"] = json!(calls);
        }
        m
    }

    fn result(&self, v1: bool) -> Value {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|(id, name)| json!({"id":id,"type":"function","function":{"name":name,"arguments":{"location":"Paris"}}}))
            .collect();
        let message = self.message(&self.text, (!calls.is_empty()).then_some(calls));
        if v1 {
            json!({"message":message,"stopReason":self.finish(true),"inputLength":11,"outputLength":6,"seed":1234,"aiFilter":[]})
        } else {
            json!({"message":message,"finishReason":self.finish,"created":1791043155000i64,"seed":1234,
                "usage":{"promptTokens":11,"completionTokens":6,"totalTokens":17}})
        }
    }

    fn events(&self, model: &str, v1: bool) -> Vec<String> {
        // Text streams are framed with spaces after the colons, tool streams without.
        let spaced = self.calls.is_empty();
        let sep = if spaced { ": " } else { ":" };
        let mut n = 0;
        let mut ev = |name: &str, data: Value| {
            n += 1;
            format!(
                "id{sep}aabdfe-dfgwr-edf-hpqwd-f{n}asd-g\nevent{sep}{name}\ndata{sep}{data}\n\n"
            )
        };
        let token = |message: Value| {
            if v1 {
                json!({"message":message,"index":0,"inputLength":11,"outputLength":1,"stopReason":null})
            } else {
                json!({"message":message,"finishReason":null,"created":1744710905,"seed":1234,"usage":null})
            }
        };
        let mut out = Vec::new();
        let pieces: Vec<&str> = match model {
            scenario::KOREAN => vec!["안녕", "하세", "요"],
            scenario::CUT | scenario::STALL | scenario::INBAND_ERROR | scenario::MALFORMED => {
                vec!["Hello"]
            }
            _ if self.text == "Hello there!" => vec!["Hello", " there!"],
            _ if self.text.is_empty() => vec![],
            _ => vec![self.text.as_str()],
        };
        for p in pieces {
            out.push(ev("token", token(self.message(p, None))));
        }
        for (id, name) in &self.calls {
            let header = json!({"id":id,"type":"function","function":{"name":name}});
            out.push(ev("token", token(self.message("", Some(vec![header])))));
            for frag in ["{\"location\":", "\"Paris\"}"] {
                let piece = json!({"type":"function","function":{"partialJson":frag}});
                out.push(ev("token", token(self.message("", Some(vec![piece])))));
            }
        }
        match model {
            scenario::CUT => return out,
            scenario::STALL => {
                out.push(crate::PAUSE.into());
                return out;
            }
            scenario::INBAND_ERROR => {
                out.push(ev(
                    "error",
                    json!({"status":{"code":"50000","message":"Internal server error"}}),
                ));
                return out;
            }
            scenario::MALFORMED => {
                out.push(format!(
                    "id{sep}x\nevent{sep}token\ndata{sep}{{\"message\":{{\"con\n\n"
                ));
                return out;
            }
            _ => {}
        }
        out.push(ev("result", self.result(v1)));
        out.push(ev("signal", json!({"data":"[DONE]"})));
        out
    }
}
