//! Anthropic Messages mock (reference §3): `POST /v1/messages`, requiring `x-api-key`,
//! `anthropic-version: 2023-06-01` and `max_tokens`; answers with `msg_…` bodies, SSE streams
//! with `event:` + `data:` lines, `ping` events and `message_stop`, error bodies
//! `{"type":"error","error":{…}}` with `request-id` and `anthropic-ratelimit-*` headers.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::{
    json_response, record, scenario, sse_response, strings, Log, MockServer, Summary, MOCK_KEY,
};

const REQUEST_ID: (&str, &str) = ("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG");

/// Starts the mock on a free port of `127.0.0.1`.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::bind(crate::Kind::Anthropic).await
}

/// The mock's routes, recording every request into `log`.
pub(crate) fn router(log: Log) -> axum::Router {
    axum::Router::new()
        .route("/v1/messages", post(handle))
        .with_state(log)
}

fn error(status: u16, kind: &str, message: &str, extra: &[(&str, &str)]) -> Response {
    let body =
        json!({"type":"error","error":{"type":kind,"message":message},"request_id":REQUEST_ID.1});
    let mut headers = vec![REQUEST_ID];
    headers.extend_from_slice(extra);
    json_response(status, &headers, &body.to_string())
}

fn summary(body: &Value) -> String {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    Summary {
        system: body["system"].as_str().unwrap_or_default().to_owned(),
        roles: messages
            .iter()
            .filter_map(|m| m["role"].as_str().map(str::to_owned))
            .collect(),
        stop: strings(body.get("stop_sequences")),
        max: body["max_tokens"].as_u64(),
        temperature: body["temperature"].as_f64(),
        tools: body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
    .line()
}

async fn handle(State(log): State<Log>, uri: Uri, headers: HeaderMap, raw: Bytes) -> Response {
    let body = record(
        &log,
        uri.path(),
        uri.query().map(str::to_owned),
        &headers,
        &raw,
    );
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(MOCK_KEY) {
        return error(401, "authentication_error", "invalid x-api-key", &[]);
    }
    if headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok())
        != Some("2023-06-01")
    {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
            &[],
        );
    }
    if body.is_null() {
        return error(400, "invalid_request_error", "body is not JSON", &[]);
    }
    if body["max_tokens"].as_u64().is_none() {
        return error(
            400,
            "invalid_request_error",
            "max_tokens: Field required",
            &[],
        );
    }
    let roles_ok = body["messages"].as_array().is_some_and(|m| {
        !m.is_empty()
            && m.iter()
                .all(|m| matches!(m["role"].as_str(), Some("user" | "assistant")))
    });
    if !roles_ok {
        return error(
            400,
            "invalid_request_error",
            "messages: roles must be user or assistant",
            &[],
        );
    }
    if body["temperature"]
        .as_f64()
        .is_some_and(|t| !(0.0..=1.0).contains(&t))
    {
        return error(
            400,
            "invalid_request_error",
            "temperature: range: 0..1",
            &[],
        );
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let stream = body["stream"].as_bool().unwrap_or(false);
    match model.as_str() {
        scenario::BAD_REQUEST => {
            return error(400, "invalid_request_error", "messages.0: bad", &[])
        }
        scenario::RATE_LIMITED => {
            return error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                &[
                    ("retry-after", "2"),
                    ("anthropic-ratelimit-requests-limit", "50"),
                    ("anthropic-ratelimit-requests-remaining", "0"),
                    ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:02Z"),
                    ("anthropic-ratelimit-tokens-limit", "40000"),
                    ("anthropic-ratelimit-tokens-remaining", "0"),
                    ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:02Z"),
                ],
            )
        }
        scenario::SERVER_ERROR => return error(500, "api_error", "Internal server error", &[]),
        scenario::OVERLOADED => return error(529, "overloaded_error", "Overloaded", &[]),
        scenario::SLOW => crate::slow().await,
        scenario::JSON => {
            let forced = body["tool_choice"]["type"] == "tool"
                && body["tools"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["name"] == body["tool_choice"]["name"]));
            if !forced {
                return error(
                    400,
                    "invalid_request_error",
                    "mock: JSON scenario expects a forced tool",
                    &[],
                );
            }
        }
        _ => {}
    }
    if model == scenario::MALFORMED && !stream {
        return json_response(200, &[REQUEST_ID], "{\"id\":\"msg_1\",\"type\":\"mess");
    }
    let answer = Answer::of(&model, &body);
    if stream {
        sse_response(&[REQUEST_ID], answer.events(&model))
    } else {
        json_response(200, &[REQUEST_ID], &answer.message(&model).to_string())
    }
}

/// A scenario's answer as Anthropic content blocks.
struct Answer {
    blocks: Vec<Value>,
    stop_reason: &'static str,
}

impl Answer {
    fn of(model: &str, body: &Value) -> Self {
        let text = |t: &str| json!({"type":"text","text":t});
        let weather = json!({"type":"tool_use","id":"call_1","name":"get_weather","input":{"location":"Paris"}});
        match model {
            scenario::ECHO => Self {
                blocks: vec![text(&summary(body))],
                stop_reason: "end_turn",
            },
            scenario::LENGTH => Self {
                blocks: vec![text("Hello")],
                stop_reason: "max_tokens",
            },
            scenario::TOOL => Self {
                blocks: vec![weather],
                stop_reason: "tool_use",
            },
            scenario::PARALLEL => Self {
                blocks: vec![
                    weather,
                    json!({"type":"tool_use","id":"call_2","name":"get_time","input":{"location":"Paris"}}),
                ],
                stop_reason: "tool_use",
            },
            scenario::JSON => Self {
                blocks: vec![
                    json!({"type":"tool_use","id":"toolu_json","name":body["tool_choice"]["name"],"input":{"answer":42}}),
                ],
                stop_reason: "tool_use",
            },
            scenario::FILTERED => Self {
                blocks: vec![text("I can't help with that.")],
                stop_reason: "refusal",
            },
            scenario::KOREAN => Self {
                blocks: vec![text("안녕하세요")],
                stop_reason: "end_turn",
            },
            _ => Self {
                blocks: vec![text("Hello there!")],
                stop_reason: "end_turn",
            },
        }
    }

    fn message(&self, model: &str) -> Value {
        json!({"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":model,
            "content":self.blocks,"stop_reason":self.stop_reason,"stop_sequence":null,
            "usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":6,"output_tokens":6,"service_tier":"standard"}})
    }

    fn events(&self, model: &str) -> Vec<String> {
        let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
        let mut out = vec![ev(
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":model,"stop_reason":null,"stop_sequence":null,
            "usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":6,"output_tokens":1}}}),
        )];
        for (i, block) in self.blocks.iter().enumerate() {
            let deltas: Vec<Value> = if block["type"] == "text" {
                out.push(ev("content_block_start", json!({"type":"content_block_start","index":i,"content_block":{"type":"text","text":""}})));
                if i == 0 {
                    out.push("event: ping\ndata: {\"type\": \"ping\"}\n\n".into());
                }
                let t = block["text"].as_str().unwrap_or_default();
                let pieces: Vec<String> = match model {
                    scenario::KOREAN => vec!["안녕".into(), "하세".into(), "요".into()],
                    scenario::CUT
                    | scenario::STALL
                    | scenario::INBAND_ERROR
                    | scenario::MALFORMED => {
                        vec!["Hello".into()]
                    }
                    _ if t == "Hello there!" => vec!["Hello".into(), " there!".into()],
                    _ => vec![t.into()],
                };
                pieces
                    .into_iter()
                    .map(|p| json!({"type":"text_delta","text":p}))
                    .collect()
            } else {
                let mut start = block.clone();
                start["input"] = json!({});
                out.push(ev(
                    "content_block_start",
                    json!({"type":"content_block_start","index":i,"content_block":start}),
                ));
                let input = block["input"].to_string();
                let (a, b) = input.split_at(input.find(':').map(|p| p + 1).unwrap_or(0));
                ["", a, b]
                    .iter()
                    .map(|p| json!({"type":"input_json_delta","partial_json":p}))
                    .collect()
            };
            for d in deltas {
                out.push(ev(
                    "content_block_delta",
                    json!({"type":"content_block_delta","index":i,"delta":d}),
                ));
            }
            match model {
                scenario::CUT => return out,
                scenario::STALL => {
                    out.push(crate::PAUSE.into());
                    return out;
                }
                scenario::INBAND_ERROR => {
                    out.push(ev("error", json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})));
                    return out;
                }
                scenario::MALFORMED => {
                    out.push("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\n\n".into());
                    return out;
                }
                _ => {}
            }
            out.push(ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":i}),
            ));
        }
        out.push(ev("message_delta", json!({"type":"message_delta","delta":{"stop_reason":self.stop_reason,"stop_sequence":null},"usage":{"output_tokens":6}})));
        out.push(ev("message_stop", json!({"type":"message_stop"})));
        out
    }
}
