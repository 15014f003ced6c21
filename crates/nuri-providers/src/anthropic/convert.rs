//! OpenAI ⇄ Anthropic translation (reference §8.4, §8.5): system messages hoisted into
//! `system`, tool results folded into user turns, adjacent same-role turns merged, a required
//! `max_tokens`, JSON mode through a forced tool whose input becomes the answer's content.

use nuri_core::provider::ProviderError;
use nuri_types::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionRequest, ChatMessage, ContentPart,
    FunctionCall, MessageContent, ToolCall, Usage,
};
use serde_json::{json, Value};

use super::wire::{
    AnthropicUsage, Block, Message, MessagesRequest, MessagesResponse, ResponseBlock, ToolDef,
};
use crate::common::{json_format, now_secs, parse_arguments, parse_data_uri, single_choice};

/// `max_tokens` sent when the client gives none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Name of the forced tool that carries JSON-mode answers.
pub const JSON_TOOL: &str = "json_response";

/// The Anthropic body for an OpenAI request, and whether JSON mode is on.
pub fn request(req: &ChatCompletionRequest) -> Result<(MessagesRequest, bool), ProviderError> {
    single_choice(req.n)?;
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for m in &req.messages {
        match m.role.as_str() {
            "system" | "developer" => system.push(m.text_content()),
            "user" => push(&mut messages, "user", user_blocks(m)?),
            "assistant" => push(&mut messages, "assistant", assistant_blocks(m)?),
            "tool" => {
                let block = Block::ToolResult {
                    tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
                    content: m.text_content(),
                };
                push(&mut messages, "user", vec![block]);
            }
            other => {
                return Err(ProviderError::InvalidRequest {
                    message: format!("message role {other:?} is not supported"),
                    param: Some("messages".into()),
                })
            }
        }
    }
    let stop: Vec<String> = req
        .stop
        .as_ref()
        .map(|s| s.to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut tools: Vec<ToolDef> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| t.function.as_ref())
        .map(|f| ToolDef {
            name: f.name.clone(),
            description: f.description.clone(),
            input_schema: f
                .parameters
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
        .collect();
    let mut tool_choice = tool_choice(req);
    let json_mode = match json_format(req.response_format.as_ref()) {
        Some(schema) => {
            tools.push(ToolDef {
                name: JSON_TOOL.into(),
                description: Some("Answer with this tool; its input is the JSON answer.".into()),
                input_schema: schema.unwrap_or_else(|| json!({"type": "object"})),
            });
            tool_choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
            true
        }
        None => false,
    };
    if tools.is_empty() {
        // Anthropic rejects history with tool_use blocks when no tools are defined: declare
        // the tools the history used and forbid new calls, which is what the client asked.
        let used = history_tools(&messages);
        tool_choice = (!used.is_empty()).then(|| json!({"type": "none"}));
        tools = used;
    }
    let body = MessagesRequest {
        model: req.model.clone(),
        max_tokens: req.requested_max_tokens().unwrap_or(DEFAULT_MAX_TOKENS),
        messages,
        system: (!system.is_empty()).then(|| system.join("\n")),
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.map(|p| p.clamp(0.0, 1.0)),
        stop_sequences: (!stop.is_empty()).then_some(stop),
        stream: req.is_stream().then_some(true),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        metadata: req
            .extra
            .get("user")
            .and_then(Value::as_str)
            .map(|u| json!({ "user_id": u })),
    };
    Ok((body, json_mode))
}

/// Tool definitions for every tool the history's `tool_use` blocks name (open input schemas).
fn history_tools(messages: &[Message]) -> Vec<ToolDef> {
    let mut names: Vec<&str> = Vec::new();
    for block in messages.iter().flat_map(|m| &m.content) {
        if let Block::ToolUse { name, .. } = block {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| ToolDef {
            name: name.to_owned(),
            description: None,
            input_schema: json!({"type": "object"}),
        })
        .collect()
}

/// Appends blocks to the last turn when it has the same role, else opens a turn.
fn push(messages: &mut Vec<Message>, role: &str, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Message {
            role: role.into(),
            content: blocks,
        }),
    }
}

fn user_blocks(m: &ChatMessage) -> Result<Vec<Block>, ProviderError> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(text_block(t).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut blocks = Vec::new();
            for p in parts {
                blocks.extend(part_block(p)?);
            }
            Ok(blocks)
        }
    }
}

fn text_block(text: &str) -> Option<Block> {
    (!text.is_empty()).then(|| Block::Text {
        text: text.to_owned(),
    })
}

fn part_block(part: &ContentPart) -> Result<Option<Block>, ProviderError> {
    match part.kind.as_str() {
        "text" => Ok(text_block(part.text.as_deref().unwrap_or_default())),
        "image_url" => {
            let url = part
                .image_url
                .as_ref()
                .map(|i| i.url.as_str())
                .unwrap_or_default();
            let source = match parse_data_uri(url) {
                Some((media_type, data)) => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                None => json!({"type": "url", "url": url}),
            };
            Ok(Some(Block::Image { source }))
        }
        other => Err(ProviderError::Unsupported(format!(
            "Anthropic does not take content parts of type {other:?}"
        ))),
    }
}

fn assistant_blocks(m: &ChatMessage) -> Result<Vec<Block>, ProviderError> {
    let mut blocks: Vec<Block> = text_block(&m.text_content()).into_iter().collect();
    for call in m.tool_calls.iter().flatten() {
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input: parse_arguments(&call.function.arguments)?,
        });
    }
    Ok(blocks)
}

fn tool_choice(req: &ChatCompletionRequest) -> Option<Value> {
    let mut choice = match req.tool_choice.as_ref() {
        Some(Value::String(s)) => match s.as_str() {
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            _ => json!({"type": "auto"}),
        },
        Some(v @ Value::Object(_)) => {
            let name = v.pointer("/function/name").and_then(Value::as_str)?;
            json!({"type": "tool", "name": name})
        }
        _ => {
            if req.extra.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
                json!({"type": "auto"})
            } else {
                return None;
            }
        }
    };
    if req.extra.get("parallel_tool_calls") == Some(&Value::Bool(false)) && choice["type"] != "none"
    {
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    Some(choice)
}

/// OpenAI finish reason of an Anthropic `stop_reason` (§8.2).
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// OpenAI usage of Anthropic usage (§8.3): prompt = input + cache writes + cache reads.
pub fn usage(u: &AnthropicUsage) -> Usage {
    let prompt = u.input_tokens.unwrap_or(0)
        + u.cache_creation_input_tokens.unwrap_or(0)
        + u.cache_read_input_tokens.unwrap_or(0);
    Usage::new(prompt, u.output_tokens.unwrap_or(0))
}

/// The OpenAI completion of an Anthropic answer.
pub fn response(resp: MessagesResponse, json_mode: bool) -> ChatCompletion {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut finish = finish_reason(resp.stop_reason.as_deref());
    for block in resp.content {
        match block {
            ResponseBlock::Text { text: t } => text.push_str(&t),
            ResponseBlock::ToolUse { name, input, .. } if json_mode && name == JSON_TOOL => {
                text.push_str(&input.to_string());
                finish = if finish == "tool_calls" {
                    "stop"
                } else {
                    finish
                };
            }
            ResponseBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            ResponseBlock::Other => {}
        }
    }
    ChatCompletion {
        id: resp.id,
        object: "chat.completion".into(),
        created: now_secs(),
        model: resp.model,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content: (!text.is_empty()).then_some(text),
                refusal: None,
                tool_calls: (!calls.is_empty()).then_some(calls),
                extra: Default::default(),
            },
            logprobs: None,
            finish_reason: Some(finish.into()),
        }],
        usage: Some(usage(&resp.usage)),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(v: Value) -> ChatCompletionRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reference_request_fixture() {
        // §3.2's example, from the OpenAI side.
        let r = req(json!({"model":"claude-sonnet-4-20250514","max_tokens":1024,
            "messages":[{"role":"system","content":"You are terse."},
                {"role":"user","content":"Weather in Paris?"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
                {"role":"tool","tool_call_id":"toolu_01","content":"15°C, clear"}],
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]}));
        let (body, json_mode) = request(&r).unwrap();
        assert!(!json_mode);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":"You are terse.",
             "messages":[{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},
                         {"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"location":"Paris"}}]},
                         {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"15°C, clear"}]}],
             "tools":[{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]})
        );
    }

    #[test]
    fn knobs_are_mapped_and_clamped() {
        let r = req(
            json!({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA"}}]}],
            "temperature":1.7,"stop":["\n\n", "END"],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","parallel_tool_calls":false,"user":"u1"}),
        );
        let v = serde_json::to_value(request(&r).unwrap().0).unwrap();
        assert_eq!(v["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(v["temperature"], 1.0);
        assert_eq!(v["stop_sequences"], json!(["END"]));
        assert_eq!(
            v["tool_choice"],
            json!({"type":"any","disable_parallel_tool_use":true})
        );
        assert_eq!(v["metadata"], json!({"user_id":"u1"}));
        assert_eq!(
            v["tools"],
            json!([{"name":"f","input_schema":{"type":"object","properties":{}}}])
        );
        let history = req(
            json!({"model":"m","messages":[{"role":"user","content":"a"},
            {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"g","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"ok"}]}),
        );
        let h = serde_json::to_value(request(&history).unwrap().0).unwrap();
        assert_eq!(
            h["tools"],
            json!([{"name":"g","input_schema":{"type":"object"}}])
        );
        assert_eq!(h["tool_choice"], json!({"type":"none"}));
        let no_tools = req(
            json!({"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":"auto"}),
        );
        assert!(request(&no_tools).unwrap().0.tool_choice.is_none());
        assert_eq!(v["messages"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["messages"][0]["content"][1],
            json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA"}})
        );
    }

    #[test]
    fn reference_response_fixture() {
        let resp: MessagesResponse = serde_json::from_value(json!({"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
            "content":[{"type":"text","text":"I'll check."},
                {"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","input":{"location":"Paris"}}],
            "stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":65,"service_tier":"standard"}})).unwrap();
        let c = response(resp, false);
        let choice = &c.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(choice.message.content.as_deref(), Some("I'll check."));
        let call = &choice.message.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.function.arguments, r#"{"location":"Paris"}"#);
        assert_eq!(c.usage, Some(Usage::new(377, 65)));
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
        assert_eq!(
            finish_reason(Some("model_context_window_exceeded")),
            "length"
        );
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
    }
}
