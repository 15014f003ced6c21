//! Real-model tests of the chat engine (SmolLM2-135M-Instruct from `scripts/setup`).
//! They skip loudly when the model is absent, unless `NURI_REQUIRE_MODELS` is set (CI).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use nuri_engine::{
    ChatEngine, ChatTurn, EngineError, EngineOptions, FinishReason, GenerateRequest,
    GenerationEvent, Prompt,
};

fn ask(question: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Chat(vec![ChatTurn::new("user", question)]),
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..GenerateRequest::default()
    }
}

/// Reference ids: SmolLM2's tokenizer rebuilt independently in Python (Hugging Face `tokenizers`
/// with the published SmolLM2 pre-tokenizer, from the same GGUF vocabulary and merges), see
/// `bench/engine/reference_token_ids.py`; llama.cpp gives the same (next test).
const REFERENCE_IDS: &[(&str, &[u32])] = &[
    (
        "Hello, world! How are you today?",
        &[19556, 28, 905, 17, 1073, 359, 346, 1834, 47],
    ),
    (
        "The year 2024 had 366 days; pi is 3.14159.",
        &[
            504, 713, 216, 34, 32, 34, 36, 761, 216, 35, 38, 38, 2009, 43, 16916, 314, 216, 35, 30,
            33, 36, 33, 37, 41, 30,
        ],
    ),
    (
        "안녕하세요, 서울은 한국의 수도입니다.",
        &[
            183, 239, 226, 182, 223, 239, 33085, 242, 183, 222, 133, 183, 244, 238, 28, 18601, 222,
            246, 183, 244, 133, 26638, 218, 216, 33085, 246, 181, 130, 251, 26638, 242, 18601, 226,
            242, 182, 233, 222, 183, 248, 223, 41259, 226, 41259, 114, 30,
        ],
    ),
    (
        "Emoji: 🎉🚀 and café naïve",
        &[
            10809, 33777, 42, 15107, 232, 227, 10813, 244, 218, 284, 37366, 15486, 46494,
        ],
    ),
    (
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        &[
            1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198,
        ],
    ),
    (
        "  leading spaces\n\n\ttabs and    runs  ",
        &[216, 2899, 5600, 1116, 197, 100, 7366, 284, 333, 7313, 256],
    ),
];

#[test]
fn tokenizer_ids_match_the_reference() {
    let Some(engine) = common::chat() else { return };
    for (text, ids) in REFERENCE_IDS {
        assert_eq!(
            engine.tokenize(text).expect("tokenize"),
            ids.to_vec(),
            "text {text:?}"
        );
        assert_eq!(engine.count_text_tokens(text), ids.len());
    }
}

/// Ids llama.cpp itself gives for the same GGUF file (`bench/engine/llamacpp_token_ids.py`, with
/// `special=True` so chat markers are control tokens): the six strings above and 23 more edge cases
/// (digit runs, mixed Korean/English, rare Hangul, emoji with ZWJ and skin tones, CJK, code,
/// control tokens inside text, whitespace runs, the rendered chat prompt).
#[test]
fn tokenizer_ids_match_llama_cpp() {
    let Some(engine) = common::chat() else { return };
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/llamacpp_token_ids.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "the fixture lost its cases");
    let mut mismatches = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| u32::try_from(id.as_u64().unwrap()).unwrap())
            .collect();
        let got = engine.tokenize(text).expect("tokenize");
        if got != want {
            mismatches.push(format!("{text:?}: nuri {got:?}, llama.cpp {want:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn chat_template_comes_from_the_gguf() {
    let Some(engine) = common::chat() else { return };
    assert_eq!(engine.context_window(), 8192);
    let rendered = engine
        .render_chat(&[ChatTurn::new("user", "Hi")])
        .expect("render");
    assert_eq!(
        rendered,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[tokio::test]
async fn greedy_answer_is_deterministic_and_usage_matches_the_tokenizer() {
    let Some(engine) = common::chat() else { return };
    let question = QUESTION;
    let done = engine
        .submit(ask(question, 24))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert_eq!(done.text, GREEDY_ANSWER);
    assert_eq!(done.finish_reason, FinishReason::Stop);
    let turns = vec![ChatTurn::new("user", question)];
    assert_eq!(
        done.prompt_tokens,
        engine.count_prompt_tokens(&turns).expect("count")
    );
    assert_eq!(done.completion_tokens, engine.count_text_tokens(&done.text));

    // Streaming: the concatenated events are the same text.
    let mut generation = engine.submit(ask(question, 24)).expect("submit");
    let mut streamed = String::new();
    let mut pieces = 0;
    let mut finish = None;
    while let Some(event) = generation.events.recv().await {
        match event {
            GenerationEvent::Text(t) => {
                assert!(!t.is_empty());
                streamed.push_str(&t);
                pieces += 1;
            }
            GenerationEvent::Done {
                finish_reason,
                completion_tokens,
                ..
            } => {
                finish = Some((finish_reason, completion_tokens));
            }
            GenerationEvent::Error(e) => panic!("{e}"),
        }
    }
    assert_eq!(streamed, done.text);
    assert!(pieces > 1, "streamed token by token");
    assert_eq!(finish, Some((FinishReason::Stop, done.completion_tokens)));
}

/// A question SmolLM2-135M-Instruct answers firmly, and its greedy answer: the same from this
/// engine and from llama.cpp on the GGUF. ("What is the capital of France?" is a bad fixture:
/// its greedy answer depends on the CPU's kernels, even in llama.cpp.)
const QUESTION: &str = "What is 2 plus 2?";
const GREEDY_ANSWER: &str = "The answer to this classic math problem is 4.";

#[tokio::test]
async fn max_tokens_stop_strings_and_seeds() {
    let Some(engine) = common::chat() else { return };
    let q = QUESTION;
    let short = engine
        .submit(ask(q, 3))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert_eq!(short.finish_reason, FinishReason::Length);
    assert_eq!(short.completion_tokens, 3);
    assert!(GREEDY_ANSWER.starts_with(&short.text));

    let mut req = ask(q, 24);
    req.stop = vec![" classic".into()];
    let stopped = engine
        .submit(req)
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert_eq!(stopped.text, "The answer to this");
    assert_eq!(stopped.finish_reason, FinishReason::Stop);

    let sampled = |seed| GenerateRequest {
        prompt: Prompt::Chat(vec![ChatTurn::new(
            "user",
            "Write a short poem about the sea.",
        )]),
        max_tokens: Some(16),
        temperature: Some(0.9),
        top_p: Some(0.95),
        seed: Some(seed),
        stop: vec![],
    };
    let a = engine
        .submit(sampled(42))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    let b = engine
        .submit(sampled(42))
        .expect("submit")
        .collect()
        .await
        .expect("generate");
    assert_eq!(a.text, b.text, "same seed, same text");
}

#[tokio::test]
async fn korean_in_gives_valid_utf8_out() {
    let Some(engine) = common::chat() else { return };
    let req = GenerateRequest {
        prompt: Prompt::Text("서울은 대한민국의 수도이며, 인구는".into()),
        max_tokens: Some(24),
        temperature: Some(0.0),
        ..GenerateRequest::default()
    };
    let mut generation = engine.submit(req).expect("submit");
    let mut text = String::new();
    while let Some(event) = generation.events.recv().await {
        match event {
            // Every event is a `String`, so valid UTF-8 by construction; a split character
            // would show up as U+FFFD if the hold-back failed.
            GenerationEvent::Text(t) => text.push_str(&t),
            GenerationEvent::Done { .. } => break,
            GenerationEvent::Error(e) => panic!("{e}"),
        }
    }
    assert!(!text.is_empty());
    assert!(!text.contains('\u{FFFD}'), "{text:?}");
    assert!(
        text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
        "expected Hangul in {text:?}"
    );
}

#[tokio::test]
async fn context_overflow_and_capped_max_tokens() {
    let Some(engine) = common::chat() else { return };
    let long = "hello ".repeat(9000);
    match engine.submit(ask(&long, 8)) {
        Err(EngineError::ContextLengthExceeded {
            prompt_tokens,
            limit,
        }) => {
            assert_eq!(limit, 8192);
            assert!(prompt_tokens > 9000);
        }
        other => panic!("expected ContextLengthExceeded, got {other:?}"),
    }
    let generation = engine.submit(ask("Hi", 1_000_000)).expect("submit");
    let prompt = generation.prompt_tokens;
    assert_eq!(generation.capped_max_tokens, Some((8192 - prompt) as u32));
    drop(generation);
    assert!(matches!(
        engine.submit(GenerateRequest {
            temperature: Some(3.0),
            ..ask("Hi", 4)
        }),
        Err(EngineError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn queue_full_then_cancellation_frees_the_slot() {
    let Some(engine) = common::chat_with(EngineOptions {
        threads: 1,
        queue_capacity: 0,
        max_batch: 1,
    }) else {
        return;
    };
    let mut long = engine
        .submit(ask("Tell me a very long story about dragons.", 4000))
        .expect("first");
    // Wait until it is really running.
    assert!(matches!(
        long.events.recv().await,
        Some(GenerationEvent::Text(_))
    ));
    assert!(matches!(
        engine.submit(ask("Hi", 4)),
        Err(EngineError::QueueFull)
    ));
    drop(long);
    let deadline = Instant::now() + Duration::from_secs(5);
    let next = loop {
        match engine.submit(ask("Hi", 4)) {
            Ok(g) => break g,
            Err(EngineError::QueueFull) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("slot not freed: {e}"),
        }
    };
    let done = next.collect().await.expect("generate");
    assert!(done.completion_tokens <= 4);
    assert_eq!(engine.in_flight(), 0);
}

#[tokio::test]
async fn concurrent_requests_are_batched_and_all_finish() {
    let Some(engine) = common::chat() else { return };
    let generations: Vec<_> = (0..4)
        .map(|_| engine.submit(ask(QUESTION, 24)).expect("submit"))
        .collect();
    for g in generations {
        let done = g.collect().await.expect("generate");
        assert_eq!(done.text, GREEDY_ANSWER);
    }
}

#[test]
fn missing_or_corrupt_model_file_is_named() {
    let missing = std::path::Path::new("/nonexistent/model.gguf");
    let err = ChatEngine::load(missing, EngineOptions::default()).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/model.gguf"), "{err}");

    let dir = std::env::temp_dir().join(format!("nuri-engine-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let corrupt = dir.join("corrupt.gguf");
    std::fs::write(&corrupt, b"GGUF this is not a model").expect("write");
    let err = ChatEngine::load(&corrupt, EngineOptions::default()).expect_err("corrupt");
    assert!(matches!(err, EngineError::ModelLoad { .. }));
    assert!(err.to_string().contains("corrupt.gguf"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
