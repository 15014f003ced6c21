//! Real-model tests of the embedding engine (all-MiniLM-L6-v2 from `scripts/setup`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use nuri_engine::{EmbedEngine, EmbedOptions, EngineError};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let Some(engine) = common::embed() else {
        return;
    };
    let out = engine
        .embed(vec![
            "The cat sits on the mat.".into(),
            "A cat is sitting on a rug.".into(),
            "Quarterly revenue grew by eight percent.".into(),
        ])
        .await
        .expect("embed");
    assert_eq!(out.vectors.len(), 3);
    for v in &out.vectors {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let similar = cosine(&out.vectors[0], &out.vectors[1]);
    let unrelated = cosine(&out.vectors[0], &out.vectors[2]);
    assert!(
        similar > unrelated + 0.3,
        "similar {similar} vs unrelated {unrelated}"
    );
    let expected_tokens: usize = [
        "The cat sits on the mat.",
        "A cat is sitting on a rug.",
        "Quarterly revenue grew by eight percent.",
    ]
    .iter()
    .map(|t| engine.count_tokens(t))
    .sum();
    assert_eq!(out.prompt_tokens, expected_tokens);
}

#[tokio::test]
async fn batching_does_not_change_vectors() {
    let Some(engine) = common::embed() else {
        return;
    };
    let alone = engine
        .embed(vec!["hello world".into()])
        .await
        .expect("embed");
    let batched = engine
        .embed(vec![
            "a much longer sentence that forces padding of the short one".into(),
            "hello world".into(),
        ])
        .await
        .expect("embed");
    let c = cosine(&alone.vectors[0], &batched.vectors[1]);
    assert!(c > 0.9999, "cosine {c}");
}

#[tokio::test]
async fn empty_input_is_rejected_and_missing_model_is_named() {
    let Some(engine) = common::embed() else {
        return;
    };
    assert!(matches!(
        engine.embed(vec![]).await,
        Err(EngineError::InvalidRequest(_))
    ));
    let err = EmbedEngine::load(
        std::path::Path::new("/nonexistent/minilm"),
        EmbedOptions::default(),
    )
    .expect_err("missing folder");
    assert!(err.to_string().contains("/nonexistent/minilm"), "{err}");
}
