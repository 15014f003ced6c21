//! The built-in local engine as a provider (kind `local`): chat and text completions from a GGUF
//! chat model, embeddings from a sentence-embedding model, both run in-process by `nuri-engine`
//! on their own threads. Requests never block the async runtime: `submit` is non-blocking and
//! tokens arrive over a bounded channel; dropping the stream cancels the generation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use nuri_config::LocalSpec;
use nuri_core::provider::{CallContext, ChatReply, CompletionReply, Provider, ProviderError};
use nuri_engine::{
    ChatEngine, ChatTurn, EmbedEngine, EmbedOptions, EngineError, EngineOptions, GenerateRequest,
    GenerationEvent, Prompt,
};
use nuri_types::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionRequest, Completion,
    CompletionRequest, Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, Usage,
};
use serde_json::json;

use crate::common::{mint_id, now_secs, single_choice, Chunks};

/// Why a local provider could not start (names the file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LocalLoadError(pub String);

/// A local provider: an optional chat engine and an optional embedding engine.
pub struct LocalProvider {
    name: String,
    chat: Option<Arc<ChatEngine>>,
    embed: Option<Arc<EmbedEngine>>,
}

fn threads(spec: &LocalSpec) -> usize {
    if spec.threads > 0 {
        spec.threads
    } else {
        // One compute thread per core is slower on a busy 2-core machine; leave one for the
        // gateway when there are few cores (docs/local-models.md has the measurements).
        std::thread::available_parallelism()
            .map_or(1, |n| if n.get() <= 2 { 1 } else { n.get() - 1 })
    }
}

impl LocalProvider {
    /// Loads the engines a local provider's spec names; built-ins come from `models_dir`.
    pub fn load(name: &str, spec: &LocalSpec, models_dir: &Path) -> Result<Self, LocalLoadError> {
        let chat_path: Option<PathBuf> = spec.model_path.clone().or_else(|| {
            spec.builtin
                .then(|| models_dir.join(nuri_engine::BUILTIN_CHAT_MODEL))
        });
        let embed_path: Option<PathBuf> = spec.embed_model_path.clone().or_else(|| {
            spec.builtin
                .then(|| models_dir.join(nuri_engine::BUILTIN_EMBED_MODEL))
        });
        let threads = threads(spec);
        let missing = |p: &Path| {
            LocalLoadError(format!(
                "provider {name}: model file {} is missing; run scripts/setup (it fetches the built-in models into NURI_MODELS_DIR)",
                p.display()
            ))
        };
        let chat = match chat_path {
            Some(p) if !p.exists() => return Err(missing(&p)),
            Some(p) => {
                let opts = EngineOptions {
                    threads,
                    queue_capacity: spec.queue_capacity,
                    max_batch: spec.max_batch,
                };
                Some(Arc::new(ChatEngine::load(&p, opts).map_err(|e| {
                    LocalLoadError(format!("provider {name}: {e}"))
                })?))
            }
            None => None,
        };
        let embed = match embed_path {
            Some(p) if !p.exists() => return Err(missing(&p)),
            Some(p) => {
                let opts = EmbedOptions {
                    threads,
                    queue_capacity: spec.queue_capacity,
                    ..EmbedOptions::default()
                };
                Some(Arc::new(EmbedEngine::load(&p, opts).map_err(|e| {
                    LocalLoadError(format!("provider {name}: {e}"))
                })?))
            }
            None => None,
        };
        Ok(Self {
            name: name.to_owned(),
            chat,
            embed,
        })
    }

    fn chat_engine(&self) -> Result<&Arc<ChatEngine>, ProviderError> {
        self.chat.as_ref().ok_or_else(|| {
            ProviderError::Unsupported(format!("provider {} has no chat model", self.name))
        })
    }

    /// The chat model's context window, if it has one.
    pub fn context_window(&self) -> Option<usize> {
        self.chat.as_ref().map(|c| c.context_window())
    }
}

fn engine_error(e: EngineError) -> ProviderError {
    match e {
        EngineError::QueueFull => ProviderError::Overloaded("the local model is busy (its queue is full); retry shortly".into()),
        EngineError::ContextLengthExceeded { prompt_tokens, limit } => ProviderError::ContextLength(format!(
            "This model's maximum context length is {limit} tokens, but the prompt has {prompt_tokens} tokens."
        )),
        EngineError::InvalidRequest(m) => ProviderError::InvalidRequest { message: m, param: None },
        other => ProviderError::Server { status: 500, message: other.to_string(), retry_after: None },
    }
}

fn turns(request: &ChatCompletionRequest) -> Vec<ChatTurn> {
    request
        .messages
        .iter()
        .map(|m| ChatTurn::new(m.role.clone(), m.text_content()))
        .collect()
}

fn generate_request(
    prompt: Prompt,
    max: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<i64>,
    stop: Vec<String>,
) -> GenerateRequest {
    GenerateRequest {
        prompt,
        max_tokens: max,
        temperature: temperature.map(|t| t as f32),
        top_p: top_p.map(|p| p as f32),
        seed: seed.map(|s| s as u64),
        stop,
    }
}

fn reject_unsupported(request: &ChatCompletionRequest) -> Result<(), ProviderError> {
    single_choice(request.n)?;
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ProviderError::InvalidRequest {
            message: "the local model does not support tools".into(),
            param: Some("tools".into()),
        });
    }
    Ok(())
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        request: ChatCompletionRequest,
        _ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError> {
        reject_unsupported(&request)?;
        let engine = self.chat_engine()?;
        let stop = request
            .stop
            .as_ref()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let req = generate_request(
            Prompt::Chat(turns(&request)),
            request.requested_max_tokens(),
            request.temperature,
            request.top_p,
            request.seed,
            stop,
        );
        let generation = engine.submit(req).map_err(engine_error)?;
        let capped = generation.capped_max_tokens;
        if !request.is_stream() {
            let done = generation.collect().await.map_err(engine_error)?;
            let mut extra = serde_json::Map::new();
            if let Some(c) = capped {
                extra.insert("max_tokens_capped_to".into(), json!(c));
            }
            return Ok(ChatReply::Complete(ChatCompletion {
                id: mint_id("chatcmpl-"),
                object: "chat.completion".into(),
                created: now_secs(),
                model: request.model.clone(),
                choices: vec![ChatChoice {
                    index: 0,
                    message: AssistantMessage {
                        role: "assistant".into(),
                        content: Some(done.text),
                        ..Default::default()
                    },
                    logprobs: None,
                    finish_reason: Some(done.finish_reason.as_str().into()),
                }],
                usage: Some(Usage::new(
                    done.prompt_tokens as u64,
                    done.completion_tokens as u64,
                )),
                extra,
            }));
        }
        let chunks = Chunks::new(request.model.clone());
        let mut first = chunks.role();
        // The same note as on a whole answer, on the first chunk; SDKs ignore unknown fields.
        if let Some(c) = capped {
            first.extra.insert("max_tokens_capped_to".into(), json!(c));
        }
        let head = futures::stream::once(async move { Ok(first) });
        let body = tokio_stream_of(generation.events).flat_map(move |event| {
            let items: Vec<Result<_, ProviderError>> = match event {
                GenerationEvent::Text(t) => vec![Ok(chunks.content(t))],
                GenerationEvent::Done {
                    finish_reason,
                    prompt_tokens,
                    completion_tokens,
                } => vec![
                    Ok(chunks.finish(finish_reason.as_str())),
                    Ok(chunks.usage(Usage::new(prompt_tokens as u64, completion_tokens as u64))),
                ],
                GenerationEvent::Error(e) => vec![Err(engine_error(e))],
            };
            futures::stream::iter(items)
        });
        Ok(ChatReply::Stream(Box::pin(head.chain(body))))
    }

    async fn completion(
        &self,
        request: CompletionRequest,
        _ctx: &CallContext,
    ) -> Result<CompletionReply, ProviderError> {
        single_choice(request.n)?;
        let engine = self.chat_engine()?;
        let prompt = request.prompt_texts().join("");
        let stop = request
            .stop
            .as_ref()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let req = generate_request(
            Prompt::Text(prompt),
            request.max_tokens.or(Some(16)),
            request.temperature,
            request.top_p,
            request.seed,
            stop,
        );
        let generation = engine.submit(req).map_err(engine_error)?;
        let id = mint_id("cmpl-");
        let created = now_secs();
        let model = request.model.clone();
        let completion = move |choices: Vec<serde_json::Value>, usage: Option<Usage>| Completion {
            id: id.clone(),
            object: "text_completion".into(),
            created,
            model: model.clone(),
            choices,
            usage,
            extra: Default::default(),
        };
        if !request.stream.unwrap_or(false) {
            let done = generation.collect().await.map_err(engine_error)?;
            let choice = json!({"text": done.text, "index": 0, "logprobs": null, "finish_reason": done.finish_reason.as_str()});
            return Ok(CompletionReply::Complete(completion(
                vec![choice],
                Some(Usage::new(
                    done.prompt_tokens as u64,
                    done.completion_tokens as u64,
                )),
            )));
        }
        let body = tokio_stream_of(generation.events).flat_map(move |event| {
            let items: Vec<Result<Completion, ProviderError>> = match event {
                GenerationEvent::Text(t) => vec![Ok(completion(vec![json!({"text": t, "index": 0, "logprobs": null, "finish_reason": null})], None))],
                GenerationEvent::Done { finish_reason, prompt_tokens, completion_tokens } => vec![
                    Ok(completion(vec![json!({"text": "", "index": 0, "logprobs": null, "finish_reason": finish_reason.as_str()})], None)),
                    Ok(completion(vec![], Some(Usage::new(prompt_tokens as u64, completion_tokens as u64)))),
                ],
                GenerationEvent::Error(e) => vec![Err(engine_error(e))],
            };
            futures::stream::iter(items)
        });
        Ok(CompletionReply::Stream(Box::pin(body)))
    }

    async fn embeddings(
        &self,
        request: EmbeddingRequest,
        _ctx: &CallContext,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let engine = self.embed.as_ref().ok_or_else(|| {
            ProviderError::Unsupported(format!("provider {} has no embedding model", self.name))
        })?;
        let texts = request
            .input_texts()
            .ok_or_else(|| ProviderError::InvalidRequest {
                message: "the local embedding model takes strings, not token arrays".into(),
                param: Some("input".into()),
            })?;
        let out = engine.embed(texts).await.map_err(engine_error)?;
        Ok(EmbeddingResponse {
            object: "list".into(),
            data: out
                .vectors
                .into_iter()
                .enumerate()
                .map(|(i, v)| Embedding {
                    object: "embedding".into(),
                    index: i as u32,
                    embedding: EmbeddingVector::Float(v),
                })
                .collect(),
            model: request.model,
            usage: EmbeddingUsage {
                prompt_tokens: out.prompt_tokens as u64,
                total_tokens: out.prompt_tokens as u64,
            },
        })
    }

    fn count_prompt_tokens(&self, request: &ChatCompletionRequest) -> Option<u64> {
        self.chat
            .as_ref()?
            .count_prompt_tokens(&turns(request))
            .ok()
            .map(|n| n as u64)
    }

    fn count_text_tokens(&self, text: &str) -> Option<u64> {
        Some(self.chat.as_ref()?.count_text_tokens(text) as u64)
    }
}

/// A tokio receiver as a stream (ends when the engine drops its sender).
fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
