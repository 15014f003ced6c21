//! Gemini API wire types (reference §4): `GenerateContentRequest` / `GenerateContentResponse`
//! (lowerCamelCase), the `google.rpc.Status` error body and batch embeddings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `:generateContent` / `:streamGenerateContent` body.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    /// Turns (`user` / `model`).
    pub contents: Vec<Content>,
    /// System prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// `[{functionDeclarations: […]}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `{functionCallingConfig: {mode, allowedFunctionNames?}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<Value>,
    /// Sampling and output settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
}

/// A turn: role and parts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Content {
    /// `user` or `model` (absent on system instructions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Parts.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One part; exactly one of the data fields is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `{mimeType, data}` (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Value>,
    /// `{mimeType, fileUri}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<Value>,
    /// A function call (model turns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// A function result (user turns): `{name, response: {…}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<Value>,
    /// Whether this part is reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
}

/// A function call part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FunctionCall {
    /// Call id (newer models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Function name.
    pub name: String,
    /// Arguments object.
    #[serde(default)]
    pub args: Value,
}

/// `generationConfig`.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// (0, 2].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Output cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Stop strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Number of candidates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// `application/json` for JSON mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    /// OpenAPI-subset schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
}

/// The answer (whole, or one stream event holding only new parts).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    /// Candidates.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Token counts.
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    /// Model that answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Response id.
    #[serde(default)]
    pub response_id: Option<String>,
    /// `{blockReason}` when the prompt was blocked.
    #[serde(default)]
    pub prompt_feedback: Option<Value>,
    /// In-band error (stream events).
    #[serde(default)]
    pub error: Option<GoogleError>,
}

/// A candidate.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Its content.
    #[serde(default)]
    pub content: Option<Content>,
    /// Upper-case finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Candidate index.
    #[serde(default)]
    pub index: Option<u32>,
}

/// `usageMetadata`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Visible output tokens.
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    /// Total (includes thoughts).
    #[serde(default)]
    pub total_token_count: Option<u64>,
    /// Reasoning tokens.
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
}

/// `{"error": {…}}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ErrorBody {
    /// The status.
    pub error: GoogleError,
}

/// `google.rpc.Status`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct GoogleError {
    /// HTTP status.
    #[serde(default)]
    pub code: u16,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …
    #[serde(default)]
    pub status: String,
    /// `ErrorInfo`, `RetryInfo`, … objects.
    #[serde(default)]
    pub details: Vec<Value>,
}

/// `:batchEmbedContents` answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct BatchEmbedResponse {
    /// One per request, in order.
    #[serde(default)]
    pub embeddings: Vec<EmbeddingValues>,
}

/// One embedding.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct EmbeddingValues {
    /// The vector.
    #[serde(default)]
    pub values: Vec<f32>,
}
