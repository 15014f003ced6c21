//! Gemini API mock (reference §4): `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse` (CRLF framing, `data:` only, no terminator) and
//! `:batchEmbedContents`; the key comes in `x-goog-api-key` (or `?key=`); a wrong key is a 400
//! `API_KEY_INVALID`; `role: "assistant"` is rejected; 429 bodies carry `RetryInfo`.

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
    MockServer::bind(crate::Kind::Gemini).await
}

/// The mock's routes, recording every request into `log`.
pub(crate) fn router(log: Log) -> axum::Router {
    axum::Router::new()
        .route("/v1beta/models/{target}", post(handle))
        .with_state(log)
}

fn error(code: u16, status: &str, message: &str, details: Value) -> Response {
    let body = json!({"error":{"code":code,"message":message,"status":status,"details":details}});
    json_response(code, &[], &body.to_string())
}

fn summary(body: &Value) -> String {
    let system = body
        .get("systemInstruction")
        .or_else(|| body.get("system_instruction"));
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let config = body
        .get("generationConfig")
        .or_else(|| body.get("generation_config"))
        .cloned()
        .unwrap_or_default();
    Summary {
        system: system
            .and_then(|s| s["parts"].as_array())
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        roles: contents
            .iter()
            .map(|c| match c["role"].as_str() {
                Some("model") => "assistant".to_owned(),
                _ => "user".to_owned(),
            })
            .collect(),
        stop: strings(config.get("stopSequences")),
        max: config["maxOutputTokens"].as_u64(),
        temperature: config["temperature"].as_f64(),
        tools: body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| {
                t["functionDeclarations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect(),
    }
    .line()
}

async fn handle(
    State(log): State<Log>,
    Path(target): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let query = uri.query().map(str::to_owned);
    let body = record(&log, uri.path(), query.clone(), &headers, &raw);
    let query = query.unwrap_or_default();
    let key_ok = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) == Some(MOCK_KEY)
        || query.split('&').any(|p| p == format!("key={MOCK_KEY}"));
    if !key_ok {
        return error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]),
        );
    }
    let Some((model, method)) = target.split_once(':') else {
        return error(404, "NOT_FOUND", "unknown method", json!([]));
    };
    if body.is_null() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            json!([]),
        );
    }
    if method == "batchEmbedContents" {
        let n = body["requests"].as_array().map(Vec::len).unwrap_or(0);
        let embeddings: Vec<Value> = (0..n)
            .map(|i| json!({"values":[0.25, -0.5, i as f64]}))
            .collect();
        return json_response(200, &[], &json!({ "embeddings": embeddings }).to_string());
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if query.split('&').any(|p| p == "alt=sse") => true,
        _ => {
            return error(
                400,
                "INVALID_ARGUMENT",
                "mock: use generateContent or streamGenerateContent?alt=sse",
                json!([]),
            )
        }
    };
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    if contents.is_empty() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
            json!([]),
        );
    }
    if contents
        .iter()
        .any(|c| !matches!(c["role"].as_str(), None | Some("user" | "model")))
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Please use a valid role: user, model.",
            json!([]),
        );
    }
    match model {
        scenario::BAD_REQUEST => {
            return error(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'contents[0]'",
                json!([]),
            )
        }
        scenario::RATE_LIMITED => {
            return error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.",
                json!([
                {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
                {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]),
            )
        }
        scenario::SERVER_ERROR => {
            return error(
                500,
                "INTERNAL",
                "An internal error has occurred.",
                json!([]),
            )
        }
        scenario::OVERLOADED => {
            return error(
                503,
                "UNAVAILABLE",
                "The model is overloaded. Please try again later.",
                json!([]),
            )
        }
        scenario::SLOW => crate::slow().await,
        scenario::JSON => {
            let config = body.get("generationConfig").cloned().unwrap_or_default();
            if config["responseMimeType"] != "application/json" {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "mock: JSON scenario expects responseMimeType",
                    json!([]),
                );
            }
        }
        _ => {}
    }
    if model == scenario::MALFORMED && !stream {
        return json_response(200, &[], "{\"candidates\":[{\"content\":");
    }
    if stream {
        sse_response(&[], events(model, &body))
    } else {
        json_response(200, &[], &whole(model, &body).to_string())
    }
}

fn parts(model: &str, body: &Value) -> (Vec<Value>, &'static str) {
    let call = |id: &str, name: &str| json!({"functionCall":{"id":id,"name":name,"args":{"location":"Paris"}}});
    match model {
        scenario::ECHO => (vec![json!({"text": summary(body)})], "STOP"),
        scenario::LENGTH => (vec![json!({"text":"Hello"})], "MAX_TOKENS"),
        scenario::TOOL => (vec![call("call_1", "get_weather")], "STOP"),
        scenario::PARALLEL => (
            vec![call("call_1", "get_weather"), call("call_2", "get_time")],
            "STOP",
        ),
        scenario::JSON => (vec![json!({"text":"{\"answer\":42}"})], "STOP"),
        scenario::KOREAN => (vec![json!({"text":"안녕하세요"})], "STOP"),
        scenario::FILTERED => (vec![json!({"text":"I can't help with that."})], "SAFETY"),
        _ => (vec![json!({"text":"Hello there!"})], "STOP"),
    }
}

fn response(parts: Vec<Value>, finish: Option<&str>, usage: Value) -> Value {
    let mut candidate = json!({"content":{"role":"model","parts":parts},"index":0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    json!({"candidates":[candidate],"usageMetadata":usage,"modelVersion":"gemini-2.5-flash","responseId":"tTCwacuEBMvnitYP06qsgQY"})
}

fn whole(model: &str, body: &Value) -> Value {
    let (parts, finish) = parts(model, body);
    response(
        parts,
        Some(finish),
        json!({"promptTokenCount":11,"candidatesTokenCount":6,"totalTokenCount":17}),
    )
}

fn events(model: &str, body: &Value) -> Vec<String> {
    let ev = |v: Value| format!("data: {v}\r\n\r\n");
    let partial = json!({"promptTokenCount":11,"totalTokenCount":11});
    let fin = json!({"promptTokenCount":11,"candidatesTokenCount":6,"totalTokenCount":17});
    let (all, finish) = parts(model, body);
    let pieces: Vec<Vec<Value>> = match model {
        scenario::KOREAN => vec![
            vec![json!({"text":"안녕"})],
            vec![json!({"text":"하세"})],
            vec![json!({"text":"요"})],
        ],
        scenario::CUT | scenario::STALL | scenario::INBAND_ERROR | scenario::MALFORMED => {
            vec![vec![json!({"text":"Hello"})]]
        }
        scenario::TEXT | scenario::RATE_LIMITED => vec![
            vec![json!({"text":"Hello"})],
            vec![json!({"text":" there!"})],
        ],
        _ => vec![all],
    };
    let mut out: Vec<String> = pieces
        .into_iter()
        .map(|p| ev(response(p, None, partial.clone())))
        .collect();
    match model {
        scenario::CUT => return out,
        scenario::STALL => {
            out.push(crate::PAUSE.into());
            return out;
        }
        scenario::INBAND_ERROR => {
            out.push(ev(json!({"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}})));
            return out;
        }
        scenario::MALFORMED => {
            out.push("data: {\"candidates\":[{\"content\r\n\r\n".into());
            return out;
        }
        _ => {}
    }
    out.push(ev(response(
        vec![json!({"text":"","thoughtSignature":"AY89a18i"})],
        Some(finish),
        fin,
    )));
    out
}
