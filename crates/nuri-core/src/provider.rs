//! The provider adapter port: every upstream (OpenAI, compatible servers, Anthropic, Gemini,
//! CLOVA, the local engine) is reached through [`Provider`], speaking OpenAI types on Nuri's side.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::Stream;
use nuri_types::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionRequest,
    EmbeddingRequest, EmbeddingResponse,
};

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Connecting.
    Connect,
    /// Waiting for the response head or the first chunk.
    FirstByte,
    /// Waiting between stream chunks.
    Idle,
    /// The whole request.
    Total,
}

impl TimeoutKind {
    /// Words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Connect => "connecting to the provider",
            Self::FirstByte => "waiting for the provider's first byte",
            Self::Idle => "waiting for the provider's next stream chunk",
            Self::Total => "the whole provider request",
        }
    }
}

/// What went wrong upstream. Messages never contain credentials.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// Could not connect (or the connection was reset before an answer).
    #[error("could not reach the provider: {0}")]
    Connect(String),
    /// A deadline passed.
    #[error("provider timed out {}", .0.describe())]
    Timeout(TimeoutKind),
    /// The provider rejected Nuri's credentials.
    #[error("the provider rejected Nuri's credentials: {0}")]
    Auth(String),
    /// The provider rejected the request as invalid (a client error).
    #[error("{message}")]
    InvalidRequest {
        /// Provider's message.
        message: String,
        /// Parameter at fault.
        param: Option<String>,
    },
    /// The prompt does not fit the model.
    #[error("{0}")]
    ContextLength(String),
    /// The provider rate-limited or is overloaded (retryable).
    #[error("provider rate limit: {message}")]
    RateLimited {
        /// Provider's message.
        message: String,
        /// When to retry.
        retry_after: Option<Duration>,
    },
    /// A provider-side failure (5xx, 529, in-band error); retryable.
    #[error("provider error (HTTP {status}): {message}")]
    Server {
        /// Upstream status.
        status: u16,
        /// Provider's message.
        message: String,
        /// When to retry.
        retry_after: Option<Duration>,
    },
    /// The provider answered something that is not its protocol.
    #[error("malformed provider response: {0}")]
    Malformed(String),
    /// A local engine's queue is full.
    #[error("{0}")]
    Overloaded(String),
    /// The request asks for something this provider cannot do.
    #[error("{0}")]
    Unsupported(String),
}

impl ProviderError {
    /// Whether another attempt (same or other route) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_)
                | Self::Timeout(TimeoutKind::Connect | TimeoutKind::FirstByte)
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Overloaded(_)
        )
    }

    /// The provider's retry hint.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// A stream of OpenAI chunks from a provider.
pub type ChunkStream =
    Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk, ProviderError>> + Send + 'static>>;

/// A stream of text-completion chunks.
pub type CompletionStream =
    Pin<Box<dyn Stream<Item = Result<Completion, ProviderError>> + Send + 'static>>;

/// Chat answer: whole or streamed, as the request asked.
pub enum ChatReply {
    /// Non-streaming answer.
    Complete(ChatCompletion),
    /// Streamed chunks; the adapter asks its upstream for usage and passes the usage chunk on.
    Stream(ChunkStream),
}

/// Text-completion answer.
pub enum CompletionReply {
    /// Non-streaming answer.
    Complete(Completion),
    /// Streamed chunks.
    Stream(CompletionStream),
}

/// Per-call context given to adapters.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Nuri's request id (adapters may forward it for correlation).
    pub request_id: String,
}

/// An upstream adapter. `request.model` is already the upstream model name.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's configured name.
    fn name(&self) -> &str;

    /// Chat completion; streams when `request.stream` is true.
    async fn chat(
        &self,
        request: ChatCompletionRequest,
        ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError>;

    /// Legacy text completion.
    async fn completion(
        &self,
        request: CompletionRequest,
        ctx: &CallContext,
    ) -> Result<CompletionReply, ProviderError> {
        let _ = (request, ctx);
        Err(ProviderError::Unsupported(format!(
            "provider {} does not offer text completions",
            self.name()
        )))
    }

    /// Embeddings; adapters return floats (the gateway encodes base64 when asked).
    async fn embeddings(
        &self,
        request: EmbeddingRequest,
        ctx: &CallContext,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let _ = (request, ctx);
        Err(ProviderError::Unsupported(format!(
            "provider {} does not offer embeddings",
            self.name()
        )))
    }

    /// A cheap check that the upstream answers at all, for active health checks (`None`: the
    /// adapter has no such check, and its routes learn only from real traffic).
    async fn health(&self) -> Option<Result<(), ProviderError>> {
        None
    }

    /// Counts prompt tokens with the model's own tokenizer, when the adapter has one.
    fn count_prompt_tokens(&self, request: &ChatCompletionRequest) -> Option<u64> {
        let _ = request;
        None
    }

    /// Counts tokens of generated text with the model's tokenizer, when the adapter has one.
    fn count_text_tokens(&self, text: &str) -> Option<u64> {
        let _ = text;
        None
    }
}
