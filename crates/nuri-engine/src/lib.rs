//! Nuri's in-process inference engine for the built-in local models.
//!
//! * [`ChatEngine`] runs a GGUF chat model (llama, qwen2, gemma3 architectures; the default is
//!   SmolLM2-135M-Instruct) on its own thread behind a bounded queue, with continuous batching of
//!   all active sequences, streaming [`GenerationEvent`]s over bounded channels.
//! * [`EmbedEngine`] runs a BERT sentence-embedding model (all-MiniLM-L6-v2) the same way.
//!
//! Nothing here runs on the async runtime: callers `submit` (non-blocking) and read tokio
//! channels. Model files come from `scripts/setup`; see `docs/local-models.md`.
//!
//! Modules, one job each: `gguf` (metadata, architecture), `quantize` (Q4_1 → Q8_0 at load), `linear` (weights laid out for the fastest kernel),
//! `model` (the batched transformer), `tokenizer` / `spm` (GGUF tokenizers), `template` (chat
//! templates), `sampler`, `stream` (UTF-8 hold-back, stop strings), `scheduler` (the engine
//! thread), `chat_engine` and `embed_engine` (the public handles), `request`, `error`.

mod chat_engine;
mod embed_engine;
mod error;
mod gguf;
mod linear;
mod model;
mod qmatmul;
#[cfg(test)]
mod qwen2_reference;
mod request;
mod sampler;
mod scheduler;
mod spm;
mod stream;
mod template;
mod tokenizer;

pub use chat_engine::{ChatEngine, EngineOptions};
pub use embed_engine::{EmbedEngine, EmbedOptions, Embeddings};
pub use error::EngineError;
pub use request::{
    ChatTurn, Completion, FinishReason, GenerateRequest, Generation, GenerationEvent, Prompt,
};
pub use template::CHATML_TEMPLATE;

/// Where `scripts/setup` puts the model files when `NURI_MODELS_DIR` is unset.
pub const DEFAULT_MODELS_DIR: &str = "./models";
/// The built-in chat model's file, relative to the models folder.
pub const BUILTIN_CHAT_MODEL: &str = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The built-in embedding model's folder, relative to the models folder.
pub const BUILTIN_EMBED_MODEL: &str = "all-minilm-l6-v2";

#[cfg(test)]
mod tests {
    /// The gateway shares the engines across tasks behind an `Arc`.
    #[test]
    fn engines_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::ChatEngine>();
        assert_send_sync::<crate::EmbedEngine>();
        assert_send_sync::<crate::Generation>();
    }
}
