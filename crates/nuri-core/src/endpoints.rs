//! What differs between `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings` inside the
//! one shared pipeline ([`crate::gateway::Gateway`]'s dispatch): how a request is sized for
//! admission on a given model, how one attempt calls a provider, and how an answer is settled.

use std::sync::Arc;

use futures::future::BoxFuture;
use nuri_config::{ModelConfig, ModelKind};
use nuri_types::openai::{
    ChatCompletionRequest, CompletionRequest, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
    Usage,
};

use crate::catalog::{CatalogModel, RouteTarget};
use crate::error::GatewayError;
use crate::gateway::{ChatOutcome, CompletionOutcome};
use crate::metering::{estimate_tokens, MeteredStream, Settlement};
use crate::provider::{CallContext, ChatReply, CompletionReply, ProviderError};

/// Output bound used when neither the request nor the model sets one.
const DEFAULT_MAX_OUTPUT: u32 = 4096;

/// What admission needs to know about a request's size on one model.
pub(crate) struct Ask {
    pub endpoint: &'static str,
    pub stream: bool,
    pub prompt_tokens: u64,
    pub max_output: u64,
    pub choices: u64,
}

/// One endpoint's part of the shared pipeline.
pub(crate) trait Endpoint: Send + Sync {
    /// The client's request.
    type Request: Clone + Send + Sync + 'static;
    /// A provider's answer.
    type Reply: Send + 'static;
    /// What the handler gets.
    type Outcome;
    /// The model kind this endpoint serves.
    const KIND: ModelKind;

    /// Sizes `request` for `model`, adjusting it for that model (output caps); refuses a
    /// request the model cannot take (context length).
    fn ask(&self, request: &mut Self::Request, model: &CatalogModel) -> Result<Ask, GatewayError>;

    /// One attempt on `target`, resolving once the answer's first byte is in hand.
    fn call(
        request: &Self::Request,
        target: &RouteTarget,
        ctx: &CallContext,
    ) -> BoxFuture<'static, Result<Self::Reply, ProviderError>>;

    /// Settles the answer and shapes it for the client (public model name, usage).
    fn finish(
        &self,
        request: &Self::Request,
        reply: Self::Reply,
        target: &RouteTarget,
        settlement: Settlement,
        prompt_estimate: u64,
    ) -> Self::Outcome;
}

/// `POST /v1/chat/completions`.
pub(crate) struct Chat;

impl Endpoint for Chat {
    type Request = ChatCompletionRequest;
    type Reply = ChatReply;
    type Outcome = ChatOutcome;
    const KIND: ModelKind = ModelKind::Chat;

    fn ask(&self, request: &mut Self::Request, model: &CatalogModel) -> Result<Ask, GatewayError> {
        let first = model.routes.first().map(|r| Arc::clone(&r.provider));
        let counted = first.as_ref().and_then(|p| p.count_prompt_tokens(request));
        if let (Some(n), Some(window)) = (counted, model.config.context_window) {
            if n > u64::from(window) {
                return Err(GatewayError::ContextLengthExceeded(format!(
                    "This model's maximum context length is {window} tokens, but the messages have {n} tokens."
                )));
            }
        }
        let prompt_tokens = counted.unwrap_or_else(|| chat_prompt_bound(request));
        let max_output = cap_output(request, &model.config);
        Ok(Ask {
            endpoint: "chat",
            stream: request.is_stream(),
            prompt_tokens,
            max_output: u64::from(max_output),
            choices: u64::from(request.choices()),
        })
    }

    fn call(
        request: &Self::Request,
        target: &RouteTarget,
        ctx: &CallContext,
    ) -> BoxFuture<'static, Result<Self::Reply, ProviderError>> {
        let mut req = request.clone();
        req.model.clone_from(&target.upstream_model);
        let provider = Arc::clone(&target.provider);
        let ctx = ctx.clone();
        Box::pin(async move { provider.chat(req, &ctx).await?.ready().await })
    }

    fn finish(
        &self,
        request: &Self::Request,
        reply: Self::Reply,
        target: &RouteTarget,
        settlement: Settlement,
        prompt_estimate: u64,
    ) -> Self::Outcome {
        match reply {
            ChatReply::Complete(mut completion) => {
                completion.model.clone_from(&settlement.model.config.name);
                let (usage, estimated) = match completion.usage {
                    Some(u) => (u, false),
                    None => {
                        let text: String = completion
                            .choices
                            .iter()
                            .filter_map(|c| c.message.content.as_deref())
                            .collect();
                        let out = target
                            .provider
                            .count_text_tokens(&text)
                            .unwrap_or_else(|| estimate_tokens(text.len(), 0));
                        (Usage::new(prompt_estimate, out), true)
                    }
                };
                settlement.finish(usage, estimated, None, 200, None);
                ChatOutcome::Complete(completion)
            }
            ChatReply::Stream(inner) => ChatOutcome::Stream(Box::new(MeteredStream::new(
                inner,
                settlement,
                Arc::clone(&target.provider),
                request.wants_stream_usage(),
                prompt_estimate,
            ))),
        }
    }
}

/// `POST /v1/completions`.
pub(crate) struct Completions;

impl Endpoint for Completions {
    type Request = CompletionRequest;
    type Reply = CompletionReply;
    type Outcome = CompletionOutcome;
    const KIND: ModelKind = ModelKind::Chat;

    fn ask(&self, request: &mut Self::Request, model: &CatalogModel) -> Result<Ask, GatewayError> {
        let prompt_tokens: u64 = match &request.prompt {
            serde_json::Value::String(_) | serde_json::Value::Array(_) => {
                request.prompt.to_string().len() as u64 + 1
            }
            _ => {
                return Err(GatewayError::invalid(
                    "prompt must be a string or an array",
                    Some("prompt"),
                ))
            }
        };
        let limit = model.config.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT);
        let max_output = request.max_tokens.unwrap_or(16).min(limit);
        if request.max_tokens.is_some() || model.config.max_output_tokens.is_some() {
            request.max_tokens = Some(max_output);
        }
        Ok(Ask {
            endpoint: "completions",
            stream: request.stream.unwrap_or(false),
            prompt_tokens,
            max_output: u64::from(max_output),
            choices: u64::from(request.n.unwrap_or(1).max(1)),
        })
    }

    fn call(
        request: &Self::Request,
        target: &RouteTarget,
        ctx: &CallContext,
    ) -> BoxFuture<'static, Result<Self::Reply, ProviderError>> {
        let mut req = request.clone();
        req.model.clone_from(&target.upstream_model);
        let provider = Arc::clone(&target.provider);
        let ctx = ctx.clone();
        Box::pin(async move { provider.completion(req, &ctx).await?.ready().await })
    }

    fn finish(
        &self,
        request: &Self::Request,
        reply: Self::Reply,
        target: &RouteTarget,
        settlement: Settlement,
        prompt_estimate: u64,
    ) -> Self::Outcome {
        match reply {
            CompletionReply::Complete(mut c) => {
                c.model.clone_from(&settlement.model.config.name);
                let (usage, est) = match c.usage {
                    Some(u) => (u, false),
                    None => (Usage::new(prompt_estimate, 0), true),
                };
                settlement.finish(usage, est, None, 200, None);
                CompletionOutcome::Complete(c)
            }
            CompletionReply::Stream(inner) => {
                let include_usage = request
                    .stream_options
                    .as_ref()
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false);
                CompletionOutcome::Stream(Box::new(MeteredStream::new(
                    inner,
                    settlement,
                    Arc::clone(&target.provider),
                    include_usage,
                    prompt_estimate,
                )))
            }
        }
    }
}

/// `POST /v1/embeddings`; `base64` remembers the client's encoding (upstreams are asked for
/// floats).
pub(crate) struct Embeddings {
    pub base64: bool,
}

impl Endpoint for Embeddings {
    type Request = EmbeddingRequest;
    type Reply = EmbeddingResponse;
    type Outcome = EmbeddingResponse;
    const KIND: ModelKind = ModelKind::Embeddings;

    fn ask(&self, request: &mut Self::Request, _model: &CatalogModel) -> Result<Ask, GatewayError> {
        let prompt_tokens = request
            .input_texts()
            .as_ref()
            .map_or(request.input.to_string().len(), |t| {
                t.iter().map(String::len).sum()
            }) as u64;
        Ok(Ask {
            endpoint: "embeddings",
            stream: false,
            prompt_tokens,
            max_output: 0,
            choices: 1,
        })
    }

    fn call(
        request: &Self::Request,
        target: &RouteTarget,
        ctx: &CallContext,
    ) -> BoxFuture<'static, Result<Self::Reply, ProviderError>> {
        let mut req = request.clone();
        req.model.clone_from(&target.upstream_model);
        let provider = Arc::clone(&target.provider);
        let ctx = ctx.clone();
        Box::pin(async move { provider.embeddings(req, &ctx).await })
    }

    fn finish(
        &self,
        _request: &Self::Request,
        mut response: Self::Reply,
        _target: &RouteTarget,
        settlement: Settlement,
        _prompt_estimate: u64,
    ) -> Self::Outcome {
        response.model.clone_from(&settlement.model.config.name);
        if self.base64 {
            for item in &mut response.data {
                if let EmbeddingVector::Float(v) = &item.embedding {
                    item.embedding = EmbeddingVector::base64_of(v);
                }
            }
        }
        let usage = Usage::new(response.usage.prompt_tokens, 0);
        settlement.finish(usage, false, None, 200, None);
        response
    }
}

/// A safe upper bound on prompt tokens without the model's tokenizer: every byte-level BPE
/// token covers at least one byte, plus a few tokens of chat framing per message.
pub fn chat_prompt_bound(request: &ChatCompletionRequest) -> u64 {
    let mut bytes = 0usize;
    for m in &request.messages {
        bytes += 8 + m.text_content().len();
        if let Some(calls) = &m.tool_calls {
            bytes += calls
                .iter()
                .map(|c| c.function.name.len() + c.function.arguments.len() + 8)
                .sum::<usize>();
        }
    }
    if let Some(tools) = &request.tools {
        bytes += serde_json::to_string(tools).map_or(0, |s| s.len());
    }
    bytes as u64
}

/// Caps the request's output bound by the model's `max_output_tokens` and returns the bound
/// the reservation uses. When the model has a bound, the upstream is always sent one.
fn cap_output(request: &mut ChatCompletionRequest, model: &ModelConfig) -> u32 {
    let model_max = model.max_output_tokens;
    let requested = request.requested_max_tokens();
    let bound = match (requested, model_max) {
        (Some(r), Some(m)) => r.min(m),
        (Some(r), None) => r,
        (None, Some(m)) => m,
        (None, None) => model.context_window.unwrap_or(DEFAULT_MAX_OUTPUT),
    };
    if model_max.is_some() {
        if request.max_completion_tokens.is_some() {
            request.max_completion_tokens = Some(bound);
        } else {
            request.max_tokens = Some(bound);
        }
    }
    bound
}
