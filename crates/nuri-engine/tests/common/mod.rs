//! Shared helpers: where the model files are, and the skip-or-fail rule.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use nuri_engine::{ChatEngine, EmbedEngine, EmbedOptions, EngineOptions};

/// `$NURI_MODELS_DIR`, else the repository's `./models`.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("NURI_MODELS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

/// The model path if present. When absent: panics if `NURI_REQUIRE_MODELS` is set (CI), else
/// prints a loud skip message and returns `None`.
pub fn model_path(rel: &str) -> Option<PathBuf> {
    let path = models_dir().join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("NURI_REQUIRE_MODELS").is_some() {
        panic!(
            "{} is missing and NURI_REQUIRE_MODELS is set: run scripts/setup",
            path.display()
        );
    }
    eprintln!(
        "\n*** SKIPPED: {} not found. Run scripts/setup (set NURI_REQUIRE_MODELS=1 to make this a failure). ***\n",
        path.display()
    );
    None
}

/// One chat engine shared by the tests of a binary (default options).
pub fn chat() -> Option<&'static ChatEngine> {
    static ENGINE: OnceLock<Option<ChatEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let path = model_path(nuri_engine::BUILTIN_CHAT_MODEL)?;
            Some(ChatEngine::load(&path, EngineOptions::default()).expect("load the chat model"))
        })
        .as_ref()
}

/// A fresh chat engine with its own options.
pub fn chat_with(opts: EngineOptions) -> Option<ChatEngine> {
    let path = model_path(nuri_engine::BUILTIN_CHAT_MODEL)?;
    Some(ChatEngine::load(&path, opts).expect("load the chat model"))
}

/// One embedding engine shared by the tests of a binary.
pub fn embed() -> Option<&'static EmbedEngine> {
    static ENGINE: OnceLock<Option<EmbedEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let path = model_path(nuri_engine::BUILTIN_EMBED_MODEL)?;
            Some(
                EmbedEngine::load(&path, EmbedOptions::default())
                    .expect("load the embedding model"),
            )
        })
        .as_ref()
}
