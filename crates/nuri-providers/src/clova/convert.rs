//! OpenAI ⇄ CLOVA Studio translation (reference §8.8, §8.9): system messages merged into one
//! leading `system`, tool-call arguments as objects, `maxTokens` vs `maxCompletionTokens` by
//! model, temperature clamped to CLOVA's range, results mapped back with usage and finish
//! reasons for v3 (`finishReason`, `usage`) and v1 (`stopReason`, `inputLength`/`outputLength`).

use nuri_core::provider::ProviderError;
use nuri_types::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionRequest, ChatMessage, ContentPart,
    FunctionCall, MessageContent, ToolCall, Usage,
};
use serde_json::{json, Value};

use super::wire::{ClovaResult, ClovaToolCall, V1Message, V1Request, V3Message, V3Request};
use crate::common::{
    json_format, mint_id, now_secs, parse_arguments, parse_data_uri, single_choice,
};

/// Largest `maxTokens` of HCX-005 / HCX-DASH-002 (and v1 models).
pub const MAX_TOKENS_CAP: u32 = 4096;
/// Largest `maxCompletionTokens` of reasoning models (HCX-007).
pub const MAX_COMPLETION_TOKENS_CAP: u32 = 32768;
/// Function calling needs at least this many output tokens.
pub const TOOL_MIN_TOKENS: u32 = 1024;
/// Smallest temperature / top_p v1 accepts (it rejects 0).
pub const V1_MIN_SAMPLING: f64 = 0.01;

/// Whether `model` is a reasoning model (takes `maxCompletionTokens`, not `maxTokens`).
pub fn is_reasoning_model(model: &str) -> bool {
    model.to_ascii_uppercase().starts_with("HCX-007")
}

fn system_text(req: &ChatCompletionRequest) -> Option<String> {
    let parts: Vec<String> = req
        .messages
        .iter()
        .filter(|m| matches!(m.role.as_str(), "system" | "developer"))
        .map(ChatMessage::text_content)
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn stop(req: &ChatCompletionRequest) -> Option<Vec<String>> {
    let stop = req.stop.as_ref()?.to_vec();
    (!stop.is_empty()).then_some(stop)
}

/// The v3 body for an OpenAI request.
pub fn v3_request(req: &ChatCompletionRequest) -> Result<V3Request, ProviderError> {
    single_choice(req.n)?;
    let mut messages = Vec::new();
    if let Some(system) = system_text(req) {
        messages.push(V3Message {
            role: "system".into(),
            content: Value::String(system),
            ..V3Message::default()
        });
    }
    for m in &req.messages {
        match m.role.as_str() {
            "system" | "developer" => {}
            "user" => messages.push(V3Message {
                role: "user".into(),
                content: v3_content(m)?,
                ..V3Message::default()
            }),
            "assistant" => {
                let calls = m
                    .tool_calls
                    .iter()
                    .flatten()
                    .map(|c| {
                        Ok(json!({"id": c.id, "type": "function", "function": {
                            "name": c.function.name,
                            "arguments": parse_arguments(&c.function.arguments)?}}))
                    })
                    .collect::<Result<Vec<Value>, ProviderError>>()?;
                messages.push(V3Message {
                    role: "assistant".into(),
                    content: Value::String(m.text_content()),
                    tool_calls: (!calls.is_empty()).then_some(calls),
                    tool_call_id: None,
                });
            }
            "tool" => messages.push(V3Message {
                role: "tool".into(),
                content: Value::String(m.text_content()),
                tool_calls: None,
                tool_call_id: m.tool_call_id.clone(),
            }),
            other => {
                return Err(ProviderError::InvalidRequest {
                    message: format!("message role {other:?} is not supported"),
                    param: Some("messages".into()),
                })
            }
        }
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| t.function.as_ref())
        .map(|f| {
            json!({"type": "function", "function": {
                "name": f.name,
                // CLOVA requires a description.
                "description": f.description.clone().unwrap_or_else(|| f.name.clone()),
                "parameters": f.parameters.clone().unwrap_or_else(|| json!({"type":"object","properties":{}})),
            }})
        })
        .collect();
    let tool_choice = match req.tool_choice.as_ref() {
        _ if tools.is_empty() => None,
        None => None,
        Some(Value::String(s)) if s == "none" => Some(json!("none")),
        // CLOVA has no "required": the closest is letting the model choose.
        Some(Value::String(_)) => Some(json!("auto")),
        Some(v) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| json!({"type": "function", "function": {"name": name}})),
    };
    let reasoning = is_reasoning_model(&req.model);
    let mut max = req.requested_max_tokens();
    if !tools.is_empty() {
        max = Some(max.unwrap_or(TOOL_MIN_TOKENS).max(TOOL_MIN_TOKENS));
    }
    let mut thinking = req
        .extra
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .map(|effort| json!({ "effort": effort }));
    let response_format = json_format(req.response_format.as_ref()).map(|schema| {
        thinking = Some(json!({"effort": "none"}));
        json!({"type": "json", "schema": schema.unwrap_or_else(|| json!({"type": "object"}))})
    });
    Ok(V3Request {
        messages,
        top_p: req.top_p.map(|p| p.clamp(V1_MIN_SAMPLING, 1.0)),
        max_tokens: max.filter(|_| !reasoning).map(|m| m.min(MAX_TOKENS_CAP)),
        max_completion_tokens: max
            .filter(|_| reasoning)
            .map(|m| m.min(MAX_COMPLETION_TOKENS_CAP)),
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        stop: stop(req),
        seed: req.seed,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        response_format,
        thinking,
    })
}

fn v3_content(m: &ChatMessage) -> Result<Value, ProviderError> {
    match &m.content {
        None => Ok(Value::String(String::new())),
        Some(MessageContent::Text(t)) => Ok(Value::String(t.clone())),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .map(v3_part)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

fn v3_part(part: &ContentPart) -> Result<Value, ProviderError> {
    match part.kind.as_str() {
        "text" => Ok(json!({"type": "text", "text": part.text.clone().unwrap_or_default()})),
        "image_url" => {
            let url = part
                .image_url
                .as_ref()
                .map(|i| i.url.as_str())
                .unwrap_or_default();
            Ok(match parse_data_uri(url) {
                Some((_, data)) => json!({"type": "image_url", "dataUri": {"data": data}}),
                None => json!({"type": "image_url", "imageUrl": {"url": url}}),
            })
        }
        other => Err(ProviderError::Unsupported(format!(
            "CLOVA Studio does not take content parts of type {other:?}"
        ))),
    }
}

/// The v1 body for an OpenAI request (text only: no tools, images or JSON mode).
pub fn v1_request(req: &ChatCompletionRequest) -> Result<V1Request, ProviderError> {
    single_choice(req.n)?;
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ProviderError::Unsupported(
            "CLOVA Studio v1 models do not support tools; use a v3 model".into(),
        ));
    }
    if json_format(req.response_format.as_ref()).is_some() {
        return Err(ProviderError::Unsupported(
            "CLOVA Studio v1 models do not support response_format JSON".into(),
        ));
    }
    let mut messages: Vec<V1Message> = system_text(req)
        .map(|content| V1Message {
            role: "system".into(),
            content,
        })
        .into_iter()
        .collect();
    for m in &req.messages {
        if matches!(&m.content, Some(MessageContent::Parts(p)) if p.iter().any(|p| p.kind != "text"))
        {
            return Err(ProviderError::Unsupported(
                "CLOVA Studio v1 models take text only".into(),
            ));
        }
        let role = match m.role.as_str() {
            "system" | "developer" => continue,
            r @ ("user" | "assistant") => r,
            other => {
                return Err(ProviderError::InvalidRequest {
                    message: format!("message role {other:?} is not supported by CLOVA v1"),
                    param: Some("messages".into()),
                })
            }
        };
        messages.push(V1Message {
            role: role.into(),
            content: m.text_content(),
        });
    }
    Ok(V1Request {
        messages,
        temperature: req.temperature.map(|t| t.clamp(V1_MIN_SAMPLING, 1.0)),
        top_p: req.top_p.map(|p| p.clamp(V1_MIN_SAMPLING, 1.0)),
        stop_before: stop(req),
        max_tokens: req.requested_max_tokens().map(|m| m.min(MAX_TOKENS_CAP)),
        seed: req.seed,
    })
}

/// OpenAI finish reason of a v3 `finishReason` or v1 `stopReason` (§8.2).
pub fn finish_reason(result: &ClovaResult) -> &'static str {
    let reason = result
        .finish_reason
        .as_deref()
        .or(result.stop_reason.as_deref())
        .unwrap_or("stop")
        .to_ascii_lowercase();
    match reason.as_str() {
        "length" => "length",
        "tool_calls" => "tool_calls",
        _ => "stop",
    }
}

/// OpenAI usage of a result: v3 `usage` (total as given) or v1 lengths.
pub fn usage(result: &ClovaResult) -> Usage {
    match result.usage {
        Some(u) => Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
        },
        None => Usage::new(
            result.input_length.unwrap_or(0),
            result.output_length.unwrap_or(0),
        ),
    }
}

/// `created` in seconds (CLOVA sends seconds or milliseconds).
pub fn created_secs(created: Option<i64>) -> i64 {
    match created {
        Some(c) if c > 1_000_000_000_000 => c / 1000,
        Some(c) if c > 0 => c,
        _ => now_secs(),
    }
}

/// An OpenAI tool call of a whole CLOVA call (arguments object → JSON string).
pub fn tool_call(call: &ClovaToolCall) -> ToolCall {
    ToolCall {
        id: call.id.clone().unwrap_or_else(|| mint_id("call_")),
        kind: "function".into(),
        function: FunctionCall {
            name: call.function.name.clone().unwrap_or_default(),
            arguments: call
                .function
                .arguments
                .as_ref()
                .map(|a| match a {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "{}".into()),
        },
    }
}

/// The OpenAI completion of a CLOVA result.
pub fn response(result: ClovaResult, model: &str) -> ChatCompletion {
    let message = result.message.clone().unwrap_or_default();
    let calls: Vec<ToolCall> = message.tool_calls.iter().flatten().map(tool_call).collect();
    let content = message.content.filter(|c| !c.is_empty());
    ChatCompletion {
        id: mint_id("chatcmpl-"),
        object: "chat.completion".into(),
        created: created_secs(result.created),
        model: model.into(),
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content,
                refusal: None,
                tool_calls: (!calls.is_empty()).then_some(calls),
                extra: Default::default(),
            },
            logprobs: None,
            finish_reason: Some(finish_reason(&result).into()),
        }],
        usage: Some(usage(&result)),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clova::wire::Envelope;

    fn req(v: Value) -> ChatCompletionRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn v3_request_merges_systems_and_objectifies_arguments() {
        let r = req(
            json!({"model":"HCX-005","max_tokens":256,"temperature":1.5,"stop":"\n",
            "messages":[{"role":"system","content":"친절한 비서입니다."},{"role":"developer","content":"짧게."},
                {"role":"user","content":"안녕?"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
                {"role":"tool","tool_call_id":"call_1","content":"ok"}]}),
        );
        let v = serde_json::to_value(v3_request(&r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"messages":[{"role":"system","content":"친절한 비서입니다.\n짧게."},
                {"role":"user","content":"안녕?"},
                {"role":"assistant","content":"","toolCalls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":{"a":1}}}]},
                {"role":"tool","content":"ok","toolCallId":"call_1"}],
             "maxTokens":256,"temperature":1.0,"stop":["\n"]})
        );
    }

    #[test]
    fn reasoning_models_take_max_completion_tokens() {
        let r = req(
            json!({"model":"HCX-007","max_tokens":100,"messages":[{"role":"user","content":"x"}],
            "response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}}}),
        );
        let v = serde_json::to_value(v3_request(&r).unwrap()).unwrap();
        assert_eq!(v["maxCompletionTokens"], 100);
        assert!(v.get("maxTokens").is_none());
        assert_eq!(
            v["responseFormat"],
            json!({"type":"json","schema":{"type":"object"}})
        );
        assert_eq!(v["thinking"], json!({"effort":"none"}));
    }

    #[test]
    fn v1_request_and_limits() {
        let r = req(
            json!({"model":"HCX-003","temperature":0,"stop":["x"],"messages":[{"role":"user","content":"hi"}]}),
        );
        let v = serde_json::to_value(v1_request(&r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"messages":[{"role":"user","content":"hi"}],"temperature":0.01,"stopBefore":["x"]})
        );
        let tools = req(
            json!({"model":"HCX-003","messages":[],"tools":[{"type":"function","function":{"name":"f"}}]}),
        );
        assert!(matches!(
            v1_request(&tools),
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[test]
    fn reference_tool_call_response() {
        let env: Envelope = serde_json::from_value(json!({"status":{"code":"20000","message":"OK"},
            "result":{"created":1744218663,
            "usage":{"promptTokens":134,"completionTokens":48,"totalTokens":182},
            "message":{"role":"assistant","content":"",
                "toolCalls":[{"id":"call_s83AKVWrPPI6bCTLl5kFGtyo","type":"function",
                    "function":{"name":"get_weather","arguments":{"location":"서울","unit":"celsius"}}}]},
            "finishReason":"tool_calls","seed":1354242582}})).unwrap();
        let c = response(env.result.unwrap(), "HCX-005");
        assert_eq!(c.created, 1744218663);
        let ch = &c.choices[0];
        assert_eq!(ch.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(ch.message.content, None);
        let call = &ch.message.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.id, "call_s83AKVWrPPI6bCTLl5kFGtyo");
        assert_eq!(
            serde_json::from_str::<Value>(&call.function.arguments).unwrap(),
            json!({"location":"서울","unit":"celsius"})
        );
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt_tokens: 134,
                completion_tokens: 48,
                total_tokens: 182
            })
        );
    }

    #[test]
    fn v1_result_and_ms_created() {
        let r: ClovaResult =
            serde_json::from_value(json!({"message":{"role":"assistant","content":"hi"},
            "stopReason":"LENGTH","inputLength":20,"outputLength":5,"created":1791043155000i64}))
            .unwrap();
        assert_eq!(finish_reason(&r), "length");
        assert_eq!(usage(&r), Usage::new(20, 5));
        assert_eq!(created_secs(r.created), 1791043155);
        let end: ClovaResult = serde_json::from_value(json!({"stopReason":"end_token"})).unwrap();
        assert_eq!(finish_reason(&end), "stop");
    }
}
