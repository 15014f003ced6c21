//! Optional: Gemma 3 270M (`NURI_SETUP_GEMMA3=1 scripts/setup`). Skipped when the file is absent,
//! even in CI — it is never the default model.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use nuri_engine::{ChatEngine, EngineOptions, FinishReason, GenerateRequest, Prompt};

#[tokio::test]
async fn gemma3_base_model_completes_text() {
    let path = common::models_dir().join("gemma3-270m/gemma-3-270m-q4_k_m.gguf");
    if !path.exists() {
        eprintln!("skipped: {} not installed (optional model)", path.display());
        return;
    }
    let engine = ChatEngine::load(&path, EngineOptions::default()).expect("load gemma3");
    assert_eq!(engine.context_window(), 32768);
    let complete = |text: &str| GenerateRequest {
        prompt: Prompt::Text(text.into()),
        max_tokens: Some(12),
        temperature: Some(0.0),
        ..GenerateRequest::default()
    };
    let a = engine
        .submit(complete("The capital of France is"))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert_eq!(a.finish_reason, FinishReason::Length);
    assert!(a.text.contains("France"), "{:?}", a.text);
    let k = engine
        .submit(complete("대한민국의 수도는"))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert!(!k.text.contains('\u{FFFD}'));
    assert!(
        k.text
            .chars()
            .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
            || k.text.chars().any(char::is_numeric),
        "{:?}",
        k.text
    );
}
