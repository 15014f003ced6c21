//! Gemini `alt=sse` stream (`data:` only, CRLF or LF, no terminator) → OpenAI chunks (reference
//! §9): text parts become content deltas, each whole `functionCall` part a tool-call chunk with
//! the next index; the latest `usageMetadata` is kept. The finish and usage chunks are sent when
//! the body ends after a `finishReason`; a body that ends without one was cut.

use std::collections::VecDeque;

use nuri_core::provider::ProviderError;
use nuri_types::openai::ChatCompletionChunk;

use super::convert::{finish_reason, split_parts, usage};
use super::error_of;
use super::wire::{GenerateResponse, UsageMetadata};
use crate::common::{cut, malformed, Chunks, Translator};
use crate::sse::SseEvent;

/// Stream state for one answer (candidate 0).
pub(crate) struct GeminiStream {
    chunks: Chunks,
    role_sent: bool,
    tools: u32,
    finish: Option<&'static str>,
    usage: Option<UsageMetadata>,
}

impl GeminiStream {
    /// A translator for a stream of `model`.
    pub(crate) fn new(model: &str) -> Self {
        Self {
            chunks: Chunks::new(model),
            role_sent: false,
            tools: 0,
            finish: None,
            usage: None,
        }
    }
}

impl Translator for GeminiStream {
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatCompletionChunk>,
    ) -> Result<bool, ProviderError> {
        if event.data.trim().is_empty() {
            return Ok(false);
        }
        let data: GenerateResponse = serde_json::from_str(&event.data)
            .map_err(|e| malformed("Gemini", "a stream event", e))?;
        if let Some(error) = data.error {
            return Err(error_of(error, None));
        }
        if !self.role_sent {
            self.role_sent = true;
            if let Some(id) = &data.response_id {
                self.chunks.id = format!("chatcmpl-{id}");
            }
            if let Some(model) = &data.model_version {
                self.chunks.model = model.clone();
            }
            out.push_back(self.chunks.role());
        }
        if let Some(u) = data.usage_metadata {
            if u.prompt_token_count.is_some() || u.total_token_count.is_some() {
                self.usage = Some(u);
            }
        }
        if data.candidates.is_empty() && data.prompt_feedback.is_some() {
            self.finish = Some("content_filter");
        }
        if let Some(candidate) = data.candidates.into_iter().next() {
            let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
            let (text, calls) = split_parts(&parts);
            if !text.is_empty() {
                out.push_back(self.chunks.content(text));
            }
            for call in calls {
                out.push_back(self.chunks.tool_header(
                    self.tools,
                    call.id,
                    call.function.name,
                    call.function.arguments,
                ));
                self.tools += 1;
            }
            if let Some(reason) = candidate.finish_reason.as_deref() {
                self.finish = Some(finish_reason(Some(reason), self.tools > 0));
            }
        }
        Ok(false)
    }

    fn end(&mut self, out: &mut VecDeque<ChatCompletionChunk>) -> Result<(), ProviderError> {
        let Some(finish) = self.finish else {
            return Err(cut("Gemini"));
        };
        out.push_back(self.chunks.finish(finish));
        out.push_back(self.chunks.usage(usage(&self.usage.unwrap_or_default())));
        Ok(())
    }

    fn usage_so_far(&self) -> Option<ChatCompletionChunk> {
        self.usage.map(|u| self.chunks.usage(usage(&u)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{run, short};

    /// Reference §4.4's stream, with CRLF framing and no terminator.
    const STREAM: &str = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello!\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1,\"totalTokenCount\":1},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"tTCwacuEBMvnitYP06qsgQY\"}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\" How can I help you today?\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1,\"totalTokenCount\":1},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"tTCwacuEBMvnitYP06qsgQY\"}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\",\"thoughtSignature\":\"AY89a18i...\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":9,\"totalTokenCount\":10},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"tTCwacuEBMvnitYP06qsgQY\"}\r\n\r\n";

    #[tokio::test]
    async fn reference_stream_with_crlf() {
        // Split between '\r' and '\n'.
        let cut = STREAM.find("\r\n").unwrap_or(0) + 1;
        let items = run(GeminiStream::new("x"), &[&STREAM[..cut], &STREAM[cut..]]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(
            got,
            [
                "role",
                "content:Hello!",
                "content: How can I help you today?",
                "finish:stop",
                "usage:1/9/10"
            ]
        );
        let Some(Ok(first)) = items.first() else {
            panic!("no first chunk");
        };
        assert_eq!(first.id, "chatcmpl-tTCwacuEBMvnitYP06qsgQY");
    }

    #[tokio::test]
    async fn no_finish_reason_is_a_cut_and_error_events_fail() {
        let first = &STREAM[..STREAM.find("\r\n\r\n").unwrap_or(0) + 4];
        let got: Vec<String> = run(GeminiStream::new("x"), &[first])
            .await
            .iter()
            .map(short)
            .collect();
        assert_eq!(got, ["role", "content:Hello!", "usage:1/0/1", "error"]);
        let err = "data: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
        let items = run(GeminiStream::new("x"), &[err]).await;
        assert!(matches!(
            items.last(),
            Some(Err(ProviderError::Server { status: 503, .. }))
        ));
    }
}
