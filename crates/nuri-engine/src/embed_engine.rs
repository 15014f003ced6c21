//! [`EmbedEngine`]: a BERT sentence-embedding model (all-MiniLM-L6-v2 layout: `model.safetensors`,
//! `tokenizer.json`, `config.json`) on its own thread behind a bounded queue. Inputs are batched
//! (padded to the longest input of a batch), mean-pooled over real tokens and L2-normalised, as
//! sentence-transformers does for this model.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tokio::sync::oneshot;

use crate::error::EngineError;

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2: longer inputs are truncated.
const MAX_SEQ_LEN: usize = 256;

/// Settings of an embedding engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Compute threads (see [`crate::EngineOptions::threads`]; process-wide).
    pub threads: usize,
    /// Requests that may wait while one is computed before `embed` answers `QueueFull`.
    pub queue_capacity: usize,
    /// Most inputs run through the model in one padded batch.
    pub max_batch: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            queue_capacity: 32,
            max_batch: 32,
        }
    }
}

/// Vectors for a list of inputs, in input order, plus the tokens they used.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// One unit-length vector per input.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens across all inputs (with `[CLS]`/`[SEP]`, after truncation).
    pub prompt_tokens: usize,
}

struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Embeddings, EngineError>>,
}

struct Worker {
    model: BertModel,
    tokenizer: Tokenizer,
    max_batch: usize,
}

/// A loaded sentence-embedding model.
#[derive(Debug)]
pub struct EmbedEngine {
    jobs: SyncSender<Job>,
    dims: usize,
    tokenizer: Tokenizer,
}

impl EmbedEngine {
    /// Loads the model folder and starts its thread. Errors name the missing or corrupt file.
    pub fn load(dir: &Path, opts: EmbedOptions) -> Result<Self, EngineError> {
        crate::chat_engine::configure_threads(opts.threads);
        let file = |name: &str| -> PathBuf { dir.join(name) };
        let read = |name: &str| -> Result<Vec<u8>, EngineError> {
            let p = file(name);
            std::fs::read(&p).map_err(|e| EngineError::load(&p, e))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| EngineError::load(&file("config.json"), e))?;
        let dims = config.hidden_size;
        let tokenizer = load_tokenizer(&file("tokenizer.json"))?;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| EngineError::load(&file("model.safetensors"), e))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| EngineError::load(&file("model.safetensors"), e))?;
        let (jobs, rx) = sync_channel(opts.queue_capacity.max(1));
        let worker = Worker {
            model,
            tokenizer: tokenizer.clone(),
            max_batch: opts.max_batch.max(1),
        };
        std::thread::Builder::new()
            .name("nuri-embed-engine".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| EngineError::load(dir, format!("cannot start the engine thread: {e}")))?;
        Ok(Self {
            jobs,
            dims,
            tokenizer,
        })
    }

    /// Length of every vector (384 for all-MiniLM-L6-v2).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Tokens one input will use (with `[CLS]`/`[SEP]`, after truncation).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer.encode_fast(text, true).map_or(0, |e| {
            e.get_attention_mask().iter().filter(|&&m| m == 1).count()
        })
    }

    /// Embeds the inputs (batched on the engine thread). `QueueFull` when the queue is full.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Embeddings, EngineError> {
        if texts.is_empty() {
            return Err(EngineError::InvalidRequest(
                "input must not be empty".into(),
            ));
        }
        let (reply, rx) = oneshot::channel();
        match self.jobs.try_send(Job { texts, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EngineError::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(EngineError::EngineStopped),
        }
        rx.await.map_err(|_| EngineError::EngineStopped)?
    }
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer, EngineError> {
    let mut tok = Tokenizer::from_file(path).map_err(|e| EngineError::load(path, e))?;
    tok.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..PaddingParams::default()
    }));
    tok.with_truncation(Some(TruncationParams {
        max_length: MAX_SEQ_LEN,
        ..TruncationParams::default()
    }))
    .map_err(|e| EngineError::load(path, e))?;
    Ok(tok)
}

impl Worker {
    fn run(self, jobs: Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            if job.reply.is_closed() {
                continue;
            }
            let result = self.embed_all(&job.texts);
            let _ = job.reply.send(result);
        }
    }

    fn embed_all(&self, texts: &[String]) -> Result<Embeddings, EngineError> {
        // Similar lengths together so padding wastes little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        let mut prompt_tokens = 0;
        for chunk in order.chunks(self.max_batch) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let (vs, tokens) = self.embed_batch(&batch)?;
            prompt_tokens += tokens;
            for (&i, v) in chunk.iter().zip(vs) {
                vectors[i] = v;
            }
        }
        Ok(Embeddings {
            vectors,
            prompt_tokens,
        })
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<(Vec<Vec<f32>>, usize), EngineError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        let n = encodings.len();
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let tokens = mask.iter().filter(|&&m| m == 1).count();
        let cpu = Device::Cpu;
        let ids = Tensor::from_vec(ids, (n, len), &cpu)?;
        let type_ids = ids.zeros_like()?;
        let mask = Tensor::from_vec(mask, (n, len), &cpu)?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over real tokens, then L2 normalisation.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norm)?;
        Ok((unit.to_vec2::<f32>()?, tokens))
    }
}
