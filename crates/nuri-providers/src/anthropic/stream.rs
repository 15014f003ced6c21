//! Anthropic SSE (`message_start` … `message_stop`) → OpenAI chunks (reference §9): role chunk on
//! `message_start`, text deltas, a header chunk per `tool_use` block then its argument fragments
//! (tool indexes 0, 1, … in block order), one finish chunk and one usage chunk on
//! `message_stop`. A body that ends without `message_stop` is a cut stream.

use std::collections::{HashMap, VecDeque};

use nuri_core::provider::ProviderError;
use nuri_types::openai::ChatCompletionChunk;

use super::convert::{finish_reason, usage, JSON_TOOL};
use super::error_of;
use super::wire::{AnthropicUsage, BlockDelta, ResponseBlock, StreamEvent};
use crate::common::{cut, malformed, Chunks, Translator};
use crate::sse::SseEvent;

/// Stream state for one answer.
pub(crate) struct AnthropicStream {
    chunks: Chunks,
    json_mode: bool,
    started: bool,
    /// Anthropic block index → OpenAI tool index.
    tools: HashMap<u32, u32>,
    /// Tool indexes that received argument JSON.
    with_arguments: Vec<u32>,
    /// The block carrying a JSON-mode answer.
    json_block: Option<u32>,
    stop_reason: Option<String>,
    usage: AnthropicUsage,
}

impl AnthropicStream {
    /// A translator for a stream of `model`.
    pub(crate) fn new(model: &str, json_mode: bool) -> Self {
        Self {
            chunks: Chunks::new(model),
            json_mode,
            started: false,
            tools: HashMap::new(),
            with_arguments: Vec::new(),
            json_block: None,
            stop_reason: None,
            usage: AnthropicUsage::default(),
        }
    }

    fn merge_usage(&mut self, u: AnthropicUsage) {
        let fields = [
            (&mut self.usage.input_tokens, u.input_tokens),
            (&mut self.usage.output_tokens, u.output_tokens),
            (
                &mut self.usage.cache_creation_input_tokens,
                u.cache_creation_input_tokens,
            ),
            (
                &mut self.usage.cache_read_input_tokens,
                u.cache_read_input_tokens,
            ),
        ];
        for (mine, theirs) in fields {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

impl Translator for AnthropicStream {
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatCompletionChunk>,
    ) -> Result<bool, ProviderError> {
        if event.data.trim().is_empty() {
            return Ok(false);
        }
        let parsed: StreamEvent = serde_json::from_str(&event.data)
            .map_err(|e| malformed("Anthropic", "a stream event", e))?;
        match parsed {
            StreamEvent::MessageStart { message } => {
                if !message.id.is_empty() {
                    self.chunks.id = message.id;
                }
                if !message.model.is_empty() {
                    self.chunks.model = message.model;
                }
                self.merge_usage(message.usage);
                self.started = true;
                out.push_back(self.chunks.role());
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                ResponseBlock::ToolUse { name, .. } if self.json_mode && name == JSON_TOOL => {
                    self.json_block = Some(index);
                }
                ResponseBlock::ToolUse { id, name, .. } => {
                    let k = self.tools.len() as u32;
                    self.tools.insert(index, k);
                    out.push_back(self.chunks.tool_header(k, id, name, ""));
                }
                ResponseBlock::Text { text } if !text.is_empty() => {
                    out.push_back(self.chunks.content(text));
                }
                _ => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => {
                    out.push_back(self.chunks.content(text));
                }
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    if self.json_block == Some(index) {
                        out.push_back(self.chunks.content(partial_json));
                    } else if let Some(&k) = self.tools.get(&index) {
                        self.with_arguments.push(k);
                        out.push_back(self.chunks.tool_arguments(k, partial_json));
                    }
                }
                _ => {}
            },
            StreamEvent::ContentBlockStop { index } => {
                if let Some(&k) = self.tools.get(&index) {
                    if !self.with_arguments.contains(&k) {
                        out.push_back(self.chunks.tool_arguments(k, "{}"));
                    }
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                self.merge_usage(usage);
            }
            StreamEvent::MessageStop => {
                let mut reason = finish_reason(self.stop_reason.as_deref());
                if self.json_block.is_some() && reason == "tool_calls" {
                    reason = "stop";
                }
                out.push_back(self.chunks.finish(reason));
                out.push_back(self.chunks.usage(usage(&self.usage)));
                return Ok(true);
            }
            StreamEvent::Ping | StreamEvent::Unknown => {}
            StreamEvent::Error { error } => return Err(error_of(None, error, None)),
        }
        Ok(false)
    }

    fn end(&mut self, _out: &mut VecDeque<ChatCompletionChunk>) -> Result<(), ProviderError> {
        Err(cut("Anthropic"))
    }

    fn usage_so_far(&self) -> Option<ChatCompletionChunk> {
        self.started.then(|| self.chunks.usage(usage(&self.usage)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{run, short};

    /// The SDK fixture `basic_response.txt` quoted in reference §3.4.
    const BASIC: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-opus-latest\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there!\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    #[tokio::test]
    async fn sdk_basic_fixture() {
        let items = run(AnthropicStream::new("m", false), &[BASIC]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(
            got,
            [
                "role",
                "content:Hello",
                "content: there!",
                "finish:stop",
                "usage:11/6/17"
            ]
        );
        let Some(Ok(first)) = items.first() else {
            panic!("no first chunk");
        };
        assert_eq!(first.id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
        assert_eq!(first.model, "claude-3-opus-latest");
    }

    #[tokio::test]
    async fn sdk_tool_fixture_and_cut() {
        let tool = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01NRLabsLyVHZPKxbKvkfSMn\",\"name\":\"get_weather\",\"input\":{}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"locati\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"on\\\": \\\"Paris\\\"}\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n";
        let end = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let items = run(AnthropicStream::new("m", false), &[tool, end]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(
            got,
            [
                "role",
                "tool:0:toolu_01NRLabsLyVHZPKxbKvkfSMn:get_weather:",
                "args:0:{\"locati",
                "args:0:on\": \"Paris\"}",
                "finish:tool_calls",
                "usage:3/9/12"
            ]
        );
        // Without message_stop: the usage so far, then an error.
        let items = run(AnthropicStream::new("m", false), &[tool]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(got[got.len() - 2..], ["usage:3/1/4", "error"]);
    }
}
