//! Typed errors of the engine. The gateway maps them to HTTP: `QueueFull` → 503 with
//! `retry-after`, `ContextLengthExceeded` → 400 `context_length_exceeded`, `InvalidRequest` → 400,
//! load errors → a failed start naming the file.

use std::path::PathBuf;

/// Everything that can go wrong loading a model or serving a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The model file or folder is missing, unreadable or corrupt.
    #[error("cannot load model {}: {reason}", path.display())]
    ModelLoad {
        /// The file (or folder) that failed.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The GGUF file declares an architecture this engine does not run.
    #[error("model {}: unsupported architecture `{arch}` (supported: llama, qwen2, gemma3)", path.display())]
    UnsupportedArchitecture {
        /// The file.
        path: PathBuf,
        /// `general.architecture` from its metadata.
        arch: String,
    },
    /// The engine's bounded queue is full: retry later (503 with `retry-after`).
    #[error("the local model is busy: request queue is full")]
    QueueFull,
    /// The prompt does not fit the model's context window.
    #[error("prompt is {prompt_tokens} tokens but the model's context window is {limit} tokens")]
    ContextLengthExceeded {
        /// Tokens in the prompt after the chat template was applied.
        prompt_tokens: usize,
        /// The model's context window.
        limit: usize,
    },
    /// A request parameter is out of range (e.g. `temperature` < 0, `max_tokens` = 0).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The chat template in the model's metadata failed to render these messages.
    #[error("chat template: {0}")]
    Template(String),
    /// The tokenizer could not be built or failed on the input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A numerical kernel failed mid-request.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The engine thread is gone (it panicked or the engine was dropped).
    #[error("the local model engine has stopped")]
    EngineStopped,
}

impl EngineError {
    pub(crate) fn load(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        Self::ModelLoad {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn inference(err: impl std::fmt::Display) -> Self {
        Self::Inference(err.to_string())
    }
}

impl From<candle_core::Error> for EngineError {
    fn from(err: candle_core::Error) -> Self {
        Self::inference(err)
    }
}
