//! OpenAI ⇄ Gemini translation (reference §8.6, §8.7): system messages into
//! `systemInstruction`, `assistant` → `model`, tool results as `functionResponse` parts named
//! after the earlier call, adjacent same-role turns merged, JSON mode through
//! `responseMimeType` + `responseSchema`, and candidates mapped back with finish reasons and
//! usage.

use std::collections::HashMap;

use nuri_core::provider::ProviderError;
use nuri_types::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionRequest, ChatMessage, ContentPart,
    FunctionCall as OpenAiCall, MessageContent, ToolCall, Usage,
};
use serde_json::{json, Map, Value};

use super::wire::{
    Candidate, Content, FunctionCall, GenerateRequest, GenerateResponse, GenerationConfig, Part,
    UsageMetadata,
};
use crate::common::{json_format, mint_id, now_secs, parse_arguments, parse_data_uri};

/// The Gemini body for an OpenAI request.
pub fn request(req: &ChatCompletionRequest) -> Result<GenerateRequest, ProviderError> {
    if req.is_stream() && req.choices() > 1 {
        return Err(ProviderError::Unsupported(
            "Nuri streams one Gemini candidate; n must be 1 when streaming".into(),
        ));
    }
    let mut system = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        match m.role.as_str() {
            "system" | "developer" => system.push(text_part(m.text_content())),
            "user" => push(&mut contents, "user", user_parts(m)?),
            "assistant" => {
                let mut parts: Vec<Part> = Vec::new();
                let text = m.text_content();
                if !text.is_empty() {
                    parts.push(text_part(text));
                }
                for call in m.tool_calls.iter().flatten() {
                    names.insert(&call.id, &call.function.name);
                    parts.push(Part {
                        function_call: Some(FunctionCall {
                            id: None,
                            name: call.function.name.clone(),
                            args: parse_arguments(&call.function.arguments)?,
                        }),
                        ..Part::default()
                    });
                }
                push(&mut contents, "model", parts);
            }
            "tool" => {
                let id = m.tool_call_id.as_deref().unwrap_or_default();
                let name = names
                    .get(id)
                    .copied()
                    .or(m.name.as_deref())
                    .ok_or_else(|| ProviderError::InvalidRequest {
                        message: format!("tool message {id:?} answers no earlier tool call"),
                        param: Some("messages".into()),
                    })?;
                let text = m.text_content();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({ "content": text }),
                };
                let part = Part {
                    function_response: Some(json!({"name": name, "response": response})),
                    ..Part::default()
                };
                push(&mut contents, "user", vec![part]);
            }
            other => {
                return Err(ProviderError::InvalidRequest {
                    message: format!("message role {other:?} is not supported"),
                    param: Some("messages".into()),
                })
            }
        }
    }
    let declarations: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| t.function.as_ref())
        .map(|f| {
            let mut d = json!({"name": f.name});
            if let Some(desc) = &f.description {
                d["description"] = json!(desc);
            }
            if let Some(params) = f.parameters.as_ref().map(clean_schema) {
                // Google rejects object schemas with empty properties.
                let empty = params
                    .get("properties")
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty);
                if !empty {
                    d["parameters"] = params;
                }
            }
            d
        })
        .collect();
    let json_mode = json_format(req.response_format.as_ref());
    let extra_f64 = |key: &str| req.extra.get(key).and_then(Value::as_f64);
    let config = GenerationConfig {
        temperature: req.temperature.map(|t| t.clamp(0.0, 2.0)),
        top_p: req.top_p.map(|p| p.clamp(0.0, 1.0)),
        max_output_tokens: req.requested_max_tokens(),
        stop_sequences: req
            .stop
            .as_ref()
            .map(|s| s.to_vec())
            .filter(|s| !s.is_empty()),
        candidate_count: req.n.filter(|n| *n > 1),
        seed: req.seed,
        presence_penalty: extra_f64("presence_penalty"),
        frequency_penalty: extra_f64("frequency_penalty"),
        response_mime_type: json_mode.as_ref().map(|_| "application/json".into()),
        response_schema: json_mode.flatten().as_ref().map(clean_schema),
    };
    Ok(GenerateRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tool_config: (!declarations.is_empty())
            .then(|| tool_config(req.tool_choice.as_ref()))
            .flatten(),
        tools: (!declarations.is_empty())
            .then(|| vec![json!({"functionDeclarations": declarations})]),
        generation_config: (config != GenerationConfig::default()).then_some(config),
    })
}

fn text_part(text: String) -> Part {
    Part {
        text: Some(text),
        ..Part::default()
    }
}

fn push(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role.into()),
            parts,
        }),
    }
}

fn user_parts(m: &ChatMessage) -> Result<Vec<Part>, ProviderError> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(vec![text_part(t.clone())]),
        Some(MessageContent::Parts(parts)) => parts.iter().map(part).collect(),
    }
}

fn part(p: &ContentPart) -> Result<Part, ProviderError> {
    match p.kind.as_str() {
        "text" => Ok(text_part(p.text.clone().unwrap_or_default())),
        "image_url" => {
            let url = p
                .image_url
                .as_ref()
                .map(|i| i.url.as_str())
                .unwrap_or_default();
            Ok(match parse_data_uri(url) {
                Some((mime, data)) => Part {
                    inline_data: Some(json!({"mimeType": mime, "data": data})),
                    ..Part::default()
                },
                None => Part {
                    file_data: Some(json!({"mimeType": mime_of(url), "fileUri": url})),
                    ..Part::default()
                },
            })
        }
        other => Err(ProviderError::Unsupported(format!(
            "Gemini adapter does not take content parts of type {other:?}"
        ))),
    }
}

fn mime_of(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

/// Drops JSON-Schema keywords Gemini's OpenAPI subset rejects, recursively.
pub fn clean_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "additionalProperties" | "strict" | "$schema")
                })
                .map(|(k, v)| (k.clone(), clean_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(clean_schema).collect()),
        other => other.clone(),
    }
}

fn tool_config(choice: Option<&Value>) -> Option<Value> {
    let config = match choice? {
        Value::String(s) => match s.as_str() {
            "none" => json!({"mode": "NONE"}),
            "required" => json!({"mode": "ANY"}),
            _ => json!({"mode": "AUTO"}),
        },
        v => {
            let name = v.pointer("/function/name").and_then(Value::as_str)?;
            json!({"mode": "ANY", "allowedFunctionNames": [name]})
        }
    };
    Some(json!({ "functionCallingConfig": config }))
}

/// OpenAI finish reason of a Gemini `finishReason` (§8.2).
pub fn finish_reason(reason: Option<&str>, has_calls: bool) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "LANGUAGE"
            | "OTHER"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "IMAGE_OTHER"
            | "NO_IMAGE",
        ) => "content_filter",
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
}

/// OpenAI usage of `usageMetadata` (§8.3): completion includes thoughts, total as given.
pub fn usage(u: &UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count.unwrap_or(0);
    let completion = u.candidates_token_count.unwrap_or(0) + u.thoughts_token_count.unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: u.total_token_count.unwrap_or(prompt + completion),
    }
}

/// Visible text and function calls of a candidate's parts (thought parts dropped).
pub fn split_parts(parts: &[Part]) -> (String, Vec<ToolCall>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for p in parts {
        if p.thought == Some(true) {
            continue;
        }
        if let Some(t) = &p.text {
            text.push_str(t);
        }
        if let Some(fc) = &p.function_call {
            calls.push(ToolCall {
                id: fc.id.clone().unwrap_or_else(|| mint_id("call_")),
                kind: "function".into(),
                function: OpenAiCall {
                    name: fc.name.clone(),
                    arguments: fc.args.to_string(),
                },
            });
        }
    }
    (text, calls)
}

fn choice(index: u32, c: &Candidate) -> ChatChoice {
    let parts = c
        .content
        .as_ref()
        .map(|c| c.parts.as_slice())
        .unwrap_or_default();
    let (text, calls) = split_parts(parts);
    let finish = finish_reason(c.finish_reason.as_deref(), !calls.is_empty());
    ChatChoice {
        index,
        message: AssistantMessage {
            role: "assistant".into(),
            content: (!text.is_empty()).then_some(text),
            refusal: None,
            tool_calls: (!calls.is_empty()).then_some(calls),
            extra: Default::default(),
        },
        logprobs: None,
        finish_reason: Some(finish.into()),
    }
}

/// The OpenAI completion of a Gemini answer (a blocked prompt gives one `content_filter`
/// choice with no content).
pub fn response(resp: GenerateResponse, model: &str) -> ChatCompletion {
    let mut choices: Vec<ChatChoice> = resp
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| choice(c.index.unwrap_or(i as u32), c))
        .collect();
    if choices.is_empty() {
        choices.push(ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                ..AssistantMessage::default()
            },
            logprobs: None,
            finish_reason: Some("content_filter".into()),
        });
    }
    ChatCompletion {
        id: resp
            .response_id
            .map(|id| format!("chatcmpl-{id}"))
            .unwrap_or_else(|| mint_id("chatcmpl-")),
        object: "chat.completion".into(),
        created: now_secs(),
        model: resp.model_version.unwrap_or_else(|| model.into()),
        choices,
        usage: Some(usage(&resp.usage_metadata.unwrap_or_default())),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reference_request_fixture() {
        let r: ChatCompletionRequest = serde_json::from_value(json!({"model":"gemini-2.5-flash",
            "messages":[{"role":"system","content":"You are terse."},
                {"role":"user","content":"Weather in Seoul?"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]},
                {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":17}"}],
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
            "tool_choice":"auto","temperature":0.7,"top_p":0.95,"max_tokens":512,"stop":"\n\n","seed":7,
            "response_format":{"type":"json_object"}})).unwrap();
        let v = serde_json::to_value(request(&r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "contents": [
                    {"role": "user",  "parts": [{"text": "Weather in Seoul?"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Seoul"}}}]},
                    {"role": "user",  "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 17}}}]}
                ],
                "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
                "generationConfig": {"temperature": 0.7, "topP": 0.95, "maxOutputTokens": 512,
                    "stopSequences": ["\n\n"], "seed": 7, "responseMimeType": "application/json"}
            })
        );
    }

    #[test]
    fn reference_response_fixture() {
        let resp: GenerateResponse = serde_json::from_value(json!({"candidates":[{"content":{"role":"model","parts":[{"text":"It is 17°C and clear."}]},
                "finishReason":"STOP","index":0,"safetyRatings":[]}],
            "usageMetadata":{"promptTokenCount":15,"candidatesTokenCount":6,"totalTokenCount":21},
            "modelVersion":"gemini-2.5-flash","responseId":"Il0taoSYJ5Cez7"})).unwrap();
        let c = response(resp, "x");
        assert_eq!(c.id, "chatcmpl-Il0taoSYJ5Cez7");
        assert_eq!(c.model, "gemini-2.5-flash");
        assert_eq!(
            c.choices[0].message.content.as_deref(),
            Some("It is 17°C and clear.")
        );
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(c.usage, Some(Usage::new(15, 6)));
    }

    #[test]
    fn function_calls_finish_as_tool_calls_and_thoughts_are_hidden() {
        let parts: Vec<Part> = serde_json::from_value(json!([{"text":"hmm","thought":true},
            {"functionCall":{"name":"f","args":{"a":1}}}]))
        .unwrap();
        let (text, calls) = split_parts(&parts);
        assert_eq!(text, "");
        assert_eq!(calls[0].function.arguments, r#"{"a":1}"#);
        assert_eq!(finish_reason(Some("STOP"), true), "tool_calls");
        assert_eq!(finish_reason(Some("SAFETY"), false), "content_filter");
        assert_eq!(
            finish_reason(Some("MALFORMED_FUNCTION_CALL"), false),
            "stop"
        );
        let blocked: GenerateResponse =
            serde_json::from_value(json!({"promptFeedback":{"blockReason":"SAFETY"}})).unwrap();
        assert_eq!(
            response(blocked, "m").choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
    }
}
