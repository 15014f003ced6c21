//! The request and response types of the chat engine: what a caller submits
//! ([`GenerateRequest`]) and what it gets back ([`Generation`], a bounded stream of
//! [`GenerationEvent`]s).

use tokio::sync::mpsc;

use crate::error::EngineError;

/// One message of a chat, before the model's chat template is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTurn {
    /// `system`, `user`, `assistant` (passed to the template as is).
    pub role: String,
    /// The message text.
    pub content: String,
}

impl ChatTurn {
    /// A turn with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// What to complete: a chat (rendered through the model's template) or raw text.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Messages rendered with the GGUF's `tokenizer.chat_template`, generation prompt appended.
    Chat(Vec<ChatTurn>),
    /// Text completed as is (a BOS token is prepended when the model asks for one).
    Text(String),
}

/// One generation request.
///
/// Sampling follows OpenAI: `temperature` absent means 1.0; `temperature` 0 is greedy decoding.
/// `top_p` absent means 1.0. With the same `seed`, prompt and parameters the text is the same
/// when the request is decoded alone (batching with other requests may change the numerics).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenerateRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Most tokens to generate; absent = up to the end of the context window. Values beyond the
    /// window are capped and [`Generation::capped_max_tokens`] says so.
    pub max_tokens: Option<u32>,
    /// Sampling temperature in `[0, 2]`; absent = 1.0, 0 = greedy.
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in `(0, 1]`; absent = 1.0.
    pub top_p: Option<f32>,
    /// Seed of the request's own random generator; absent = a random seed.
    pub seed: Option<u64>,
    /// Stop strings: generation ends before the first one, which is not emitted.
    pub stop: Vec<String>,
}

impl Default for Prompt {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

/// Why a generation ended (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn or a stop string was met.
    Stop,
    /// `max_tokens` (or the context window) was reached.
    Length,
}

impl FinishReason {
    /// The OpenAI wire name: `stop` or `length`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// One event of a generation stream.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// New text; always whole UTF-8 characters (bytes of a split character are held back).
    Text(String),
    /// The generation ended normally; the last event.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
        /// Tokens in the prompt (after the chat template).
        prompt_tokens: usize,
        /// Tokens generated (the end-of-turn token is not counted).
        completion_tokens: usize,
    },
    /// The generation failed; the last event.
    Error(EngineError),
}

/// A running generation: its event stream plus what was known at submission.
///
/// Dropping it (or its `events` receiver) cancels the request and frees its slot.
#[derive(Debug)]
pub struct Generation {
    /// Bounded stream of events; ends with `Done` or `Error`.
    pub events: mpsc::Receiver<GenerationEvent>,
    /// Tokens in the prompt (after the chat template).
    pub prompt_tokens: usize,
    /// The effective `max_tokens` when the requested one was beyond the context window.
    pub capped_max_tokens: Option<u32>,
}

/// The whole result of a generation, as [`Generation::collect`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Set when `max_tokens` was capped to the context window.
    pub capped_max_tokens: Option<u32>,
}

impl Generation {
    /// Waits for the whole generation and returns its text and usage.
    pub async fn collect(mut self) -> Result<Completion, EngineError> {
        let mut text = String::new();
        while let Some(event) = self.events.recv().await {
            match event {
                GenerationEvent::Text(piece) => text.push_str(&piece),
                GenerationEvent::Done {
                    finish_reason,
                    prompt_tokens,
                    completion_tokens,
                } => {
                    return Ok(Completion {
                        text,
                        finish_reason,
                        prompt_tokens,
                        completion_tokens,
                        capped_max_tokens: self.capped_max_tokens,
                    })
                }
                GenerationEvent::Error(err) => return Err(err),
            }
        }
        Err(EngineError::EngineStopped)
    }
}
