//! CLOVA Studio wire types (reference §5): v3 and v1 request bodies (camelCase), the
//! `{status, result}` envelope, and the result/stream-event body shared by both versions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v3/chat-completions/{model}` body.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct V3Request {
    /// Turns; at most one `system`.
    pub messages: Vec<V3Message>,
    /// (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Output cap (HCX-005, HCX-DASH-002).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output cap (reasoning models, HCX-007).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Stop strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// 0 = random.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// `[{type:"function", function:{name, description, parameters}}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `"auto"` | `"none"` | `{type:"function", function:{name}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// `{type:"json", schema}` (HCX-007).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// `{effort}` (HCX-007).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Value>,
}

/// A v3 message.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct V3Message {
    /// `system` | `user` | `assistant` | `tool`.
    pub role: String,
    /// A string or `[{type:"text"|"image_url", …}]`.
    pub content: Value,
    /// Assistant tool calls (arguments as objects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// The call a `tool` message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// `POST /v1/chat-completions/{model}` body.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct V1Request {
    /// Turns with string content.
    pub messages: Vec<V1Message>,
    /// (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_before: Option<Vec<String>>,
    /// Output cap (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

/// A v1 message.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct V1Message {
    /// `system` | `user` | `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// `{"status":{…},"result":{…}}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Envelope {
    /// Status; `code` "20000" is success.
    #[serde(default)]
    pub status: Option<Status>,
    /// The answer.
    #[serde(default)]
    pub result: Option<ClovaResult>,
}

/// CLOVA's status object.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Status {
    /// Five digits as a string; the first three are the HTTP status.
    #[serde(default, deserialize_with = "code_string")]
    pub code: String,
    /// Message.
    #[serde(default)]
    pub message: String,
}

fn code_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// A result, a `token` event or a `result` event (v3 and v1 fields together).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClovaResult {
    /// The message (delta in `token`, whole in `result`).
    #[serde(default)]
    pub message: Option<ResultMessage>,
    /// v3 finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// v1 stop reason.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// v3 usage.
    #[serde(default)]
    pub usage: Option<ClovaUsage>,
    /// v1 input tokens.
    #[serde(default)]
    pub input_length: Option<u64>,
    /// v1 output tokens.
    #[serde(default)]
    pub output_length: Option<u64>,
    /// Seconds or milliseconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// In-band error status (an `error` event).
    #[serde(default)]
    pub status: Option<Status>,
}

/// A result's message.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResultMessage {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<ClovaToolCall>>,
}

/// A tool call or a streamed piece of one.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ClovaToolCall {
    /// Present on the first piece and in results.
    #[serde(default)]
    pub id: Option<String>,
    /// The function part.
    #[serde(default)]
    pub function: ClovaFunction,
}

/// A tool call's function.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClovaFunction {
    /// Name (first piece, results).
    #[serde(default)]
    pub name: Option<String>,
    /// Arguments object (results).
    #[serde(default)]
    pub arguments: Option<Value>,
    /// A fragment of the argument JSON (stream pieces).
    #[serde(default)]
    pub partial_json: Option<String>,
}

/// v3 usage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClovaUsage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Total as CLOVA counts it.
    #[serde(default)]
    pub total_tokens: u64,
}
