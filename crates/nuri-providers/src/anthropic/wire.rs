//! Anthropic Messages API wire types (reference §3): the request body, the response, stream
//! events and the error body. Only the fields Nuri reads or writes are typed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/messages` body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessagesRequest {
    /// Model id.
    pub model: String,
    /// Required output cap.
    pub max_tokens: u32,
    /// Turns (user/assistant only).
    pub messages: Vec<Message>,
    /// Top-level system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop strings (no whitespace-only entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Streaming switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tool definitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDef>>,
    /// `{type: auto|any|tool|none, name?, disable_parallel_tool_use?}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// `{user_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// One turn.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// Content blocks.
    pub content: Vec<Block>,
}

/// A request content block.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image (base64 or URL source).
    Image {
        /// `{type:"base64", media_type, data}` or `{type:"url", url}`.
        source: Value,
    },
    /// A tool call the assistant made earlier.
    ToolUse {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments object.
        input: Value,
    },
    /// A tool's answer.
    ToolResult {
        /// The call it answers.
        tool_use_id: String,
        /// The tool's text.
        content: String,
    },
}

/// A tool definition.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolDef {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the input object.
    pub input_schema: Value,
}

/// The non-streaming answer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MessagesResponse {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// Content blocks.
    #[serde(default)]
    pub content: Vec<ResponseBlock>,
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Token counts.
    pub usage: AnthropicUsage,
}

/// A response content block.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBlock {
    /// Text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments object.
        #[serde(default)]
        input: Value,
    },
    /// Thinking, redacted thinking, server tools, …: not shown to OpenAI clients.
    #[serde(other)]
    Other,
}

/// Anthropic usage; total input is the sum of the three input fields.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
pub struct AnthropicUsage {
    /// Uncached input.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output (cumulative in stream deltas).
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Input written to the cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

/// A stream event (`data.type` equals the SSE `event:` name).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Opens the message.
    MessageStart {
        /// The message shell with input usage.
        message: MessagesResponse,
    },
    /// Opens a content block.
    ContentBlockStart {
        /// Block index.
        index: u32,
        /// The block's start.
        content_block: ResponseBlock,
    },
    /// A piece of a block.
    ContentBlockDelta {
        /// Block index.
        index: u32,
        /// The piece.
        delta: BlockDelta,
    },
    /// Closes a block.
    ContentBlockStop {
        /// Block index.
        index: u32,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// `{stop_reason, stop_sequence}`.
        delta: MessageDeltaBody,
        /// Cumulative usage.
        #[serde(default)]
        usage: AnthropicUsage,
    },
    /// The terminator.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// In-band error.
    Error {
        /// `{type, message}`.
        error: ErrorDetail,
    },
    /// Event types added after this adapter was written: ignored.
    #[serde(other)]
    Unknown,
}

/// Body of a `message_delta`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct MessageDeltaBody {
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// A block delta.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text piece.
    TextDelta {
        /// The text.
        text: String,
    },
    /// Tool-argument JSON piece.
    InputJsonDelta {
        /// The fragment.
        partial_json: String,
    },
    /// Thinking, signatures, citations: dropped.
    #[serde(other)]
    Other,
}

/// `{"type":"error","error":{…}}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's type and message.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `overloaded_error`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human message.
    #[serde(default)]
    pub message: String,
}
