//! [`ChatEngine`]: a GGUF chat model on its own thread behind a bounded queue.
//!
//! `submit` validates and tokenises on the caller's thread (cheap), takes a slot (at most
//! `max_batch + queue_capacity` requests queued or running, else [`EngineError::QueueFull`]) and
//! hands the request to the engine thread (`scheduler.rs`), which batches all active sequences
//! into each forward pass. Events come back on a bounded tokio channel; dropping the receiver
//! cancels the request and frees its slot.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::error::EngineError;
use crate::gguf::{GgufFile, Meta, ModelConfig};
use crate::model::Model;
use crate::request::{ChatTurn, GenerateRequest, Generation, Prompt};
use crate::sampler::Sampler;
use crate::scheduler::{self, Job, Slots};
use crate::template::ChatTemplate;
use crate::tokenizer::GgufTokenizer;

/// Events buffered per request before the engine pauses that sequence.
const EVENT_CHANNEL_CAPACITY: usize = 64;

/// Settings of a chat engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Compute threads for the matmuls: each one's output columns are split across this
    /// engine's pool (candle's pool, for prompt attention and the embedding model, is
    /// process-wide: the first engine loaded sets it, unless `CANDLE_NUM_THREADS` is already
    /// set). Default 1: on a small shared machine a second thread was measured slower (see
    /// `bench/RESULTS.md`).
    pub threads: usize,
    /// Requests that may wait beyond the running ones before `submit` answers `QueueFull`.
    pub queue_capacity: usize,
    /// Sequences decoded together in one forward pass.
    pub max_batch: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            queue_capacity: 32,
            max_batch: 8,
        }
    }
}

/// Applies `threads` to candle's process-wide pool before its first use.
pub(crate) fn configure_threads(threads: usize) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            // Read once by candle when its pool starts; this runs before any model is loaded.
            std::env::set_var("CANDLE_NUM_THREADS", threads.max(1).to_string());
        }
    });
}

/// A loaded chat model serving requests from its own thread.
pub struct ChatEngine {
    tokenizer: Arc<GgufTokenizer>,
    template: ChatTemplate,
    context_window: usize,
    slots: Arc<Slots>,
    jobs: SyncSender<Job>,
    model_name: String,
}

impl std::fmt::Debug for ChatEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatEngine")
            .field("model", &self.model_name)
            .field("context_window", &self.context_window)
            .finish_non_exhaustive()
    }
}

impl ChatEngine {
    /// Loads a GGUF file (llama, qwen2 or gemma3 architecture) and starts the engine thread.
    /// Errors name the file: missing, not GGUF, truncated, unsupported architecture or tokenizer.
    pub fn load(path: &Path, opts: EngineOptions) -> Result<Self, EngineError> {
        if opts.max_batch == 0 {
            return Err(EngineError::InvalidRequest(
                "max_batch must be at least 1".into(),
            ));
        }
        configure_threads(opts.threads);
        let started = Instant::now();
        let mut file = GgufFile::open(path)?;
        let md = file.metadata().clone();
        let meta = Meta { md: &md, path };
        let cfg = ModelConfig::from_meta(&meta)?;
        let tokenizer = GgufTokenizer::from_meta(&meta)?;
        let piece = |key: &str| {
            meta.get(key)
                .map(|_| meta.u32_or(key, 0))
                .and_then(|id| tokenizer.token_str(id))
                .unwrap_or("")
                .to_string()
        };
        let template = ChatTemplate::new(
            meta.string("tokenizer.chat_template"),
            &piece("tokenizer.ggml.bos_token_id"),
            &piece("tokenizer.ggml.eos_token_id"),
        )?;
        let context_window = cfg.context_length;
        let model_name = meta.string("general.name").unwrap_or("gguf").to_string();
        let model =
            Model::load(&mut file, cfg, opts.threads).map_err(|e| EngineError::load(path, e))?;
        if model.vocab_size() != tokenizer.vocab_size() {
            return Err(EngineError::load(
                path,
                format!(
                    "embedding has {} rows but the vocabulary has {} tokens",
                    model.vocab_size(),
                    tokenizer.vocab_size()
                ),
            ));
        }
        tracing::info!(
            model = %model_name,
            path = %path.display(),
            load_ms = started.elapsed().as_millis() as u64,
            "local chat model loaded"
        );

        let tokenizer = Arc::new(tokenizer);
        let slots = Arc::new(Slots::new(opts.max_batch + opts.queue_capacity));
        let (jobs, rx) = sync_channel(opts.max_batch + opts.queue_capacity);
        let (model, tok, sl) = (Arc::new(model), tokenizer.clone(), slots.clone());
        let max_batch = opts.max_batch;
        std::thread::Builder::new()
            .name("nuri-chat-engine".into())
            .spawn(move || scheduler::run(model, tok, rx, sl, max_batch))
            .map_err(|e| EngineError::load(path, format!("cannot start the engine thread: {e}")))?;
        Ok(Self {
            tokenizer,
            template,
            context_window,
            slots,
            jobs,
            model_name,
        })
    }

    /// The model's context window in tokens (prompt + completion).
    pub fn context_window(&self) -> usize {
        self.context_window
    }

    /// The model's own name from its metadata (`general.name`).
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// Requests queued or running now.
    pub fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }

    /// Tokens of a chat after the chat template is applied (what `prompt_tokens` will be).
    pub fn count_prompt_tokens(&self, turns: &[ChatTurn]) -> Result<usize, EngineError> {
        Ok(self.tokenize_prompt(&Prompt::Chat(turns.to_vec()))?.len())
    }

    /// Tokens of plain text (no template, no BOS): e.g. to estimate a stream's usage.
    pub fn count_text_tokens(&self, text: &str) -> usize {
        self.tokenizer.encode(text).map_or(0, |ids| ids.len())
    }

    /// Token ids of plain text (no template, no BOS).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        self.tokenizer.encode(text)
    }

    /// The chat rendered through the model's template, as the model will see it.
    pub fn render_chat(&self, turns: &[ChatTurn]) -> Result<String, EngineError> {
        self.template.render(turns)
    }

    fn tokenize_prompt(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        match prompt {
            Prompt::Chat(turns) => self.tokenizer.encode(&self.template.render(turns)?),
            Prompt::Text(text) => {
                let mut ids = Vec::new();
                if self.tokenizer.add_bos {
                    ids.extend(self.tokenizer.bos_id);
                }
                ids.extend(self.tokenizer.encode(text)?);
                Ok(ids)
            }
        }
    }

    /// Validates and queues a request. Fails at once with `QueueFull`, `ContextLengthExceeded`
    /// or `InvalidRequest`; everything later arrives as events on the returned [`Generation`].
    pub fn submit(&self, req: GenerateRequest) -> Result<Generation, EngineError> {
        let temperature = req.temperature.unwrap_or(1.0);
        if !temperature.is_finite() || !(0.0..=2.0).contains(&temperature) {
            return Err(EngineError::InvalidRequest(
                "temperature must be between 0 and 2".into(),
            ));
        }
        let top_p = req.top_p.unwrap_or(1.0);
        if !top_p.is_finite() || top_p <= 0.0 || top_p > 1.0 {
            return Err(EngineError::InvalidRequest(
                "top_p must be greater than 0 and at most 1".into(),
            ));
        }
        if req.max_tokens == Some(0) {
            return Err(EngineError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        let prompt = self.tokenize_prompt(&req.prompt)?;
        if prompt.is_empty() {
            return Err(EngineError::InvalidRequest("the prompt is empty".into()));
        }
        let limit = self.context_window;
        if prompt.len() >= limit {
            return Err(EngineError::ContextLengthExceeded {
                prompt_tokens: prompt.len(),
                limit,
            });
        }
        let room = limit - prompt.len();
        let (max_new_tokens, capped_max_tokens) = match req.max_tokens {
            Some(m) if m as usize > room => (room, Some(room as u32)),
            Some(m) => (m as usize, None),
            None => (room, None),
        };
        let seed = req.seed.unwrap_or_else(rand::random);
        if !self.slots.try_acquire() {
            return Err(EngineError::QueueFull);
        }
        let (tx, rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let prompt_tokens = prompt.len();
        let job = Job {
            prompt,
            max_new_tokens,
            sampler: Sampler::new(temperature, top_p, seed),
            stop: req.stop,
            events: tx,
        };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(Generation {
                events: rx,
                prompt_tokens,
                capped_max_tokens,
            }),
            Err(TrySendError::Full(_)) => {
                self.slots.release();
                Err(EngineError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.slots.release();
                Err(EngineError::EngineStopped)
            }
        }
    }
}
