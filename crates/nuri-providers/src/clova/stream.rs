//! CLOVA Studio SSE (`id:` / `event:` / `data:`, with or without the space) → OpenAI chunks
//! (reference §9): `token` events become content deltas and tool-call pieces (a piece with
//! `id` opens the next tool index, `partialJson` pieces extend the last one); `result` ends the
//! answer with its finish reason and usage only (its content repeats the tokens and is not
//! re-sent); `error` events become errors; `signal` is ignored. A body without `result` is cut.

use std::collections::VecDeque;

use nuri_core::provider::ProviderError;
use nuri_types::openai::ChatCompletionChunk;

use super::convert::{finish_reason, tool_call, usage};
use super::error_of;
use super::wire::ClovaResult;
use crate::common::{cut, malformed, Chunks, Translator};
use crate::sse::SseEvent;

/// Stream state for one answer.
pub(crate) struct ClovaStream {
    chunks: Chunks,
    role_sent: bool,
    /// Tool calls opened so far, with whether each received argument pieces.
    tools: Vec<bool>,
}

impl ClovaStream {
    /// A translator for a stream of `model`.
    pub(crate) fn new(model: &str) -> Self {
        Self {
            chunks: Chunks::new(model),
            role_sent: false,
            tools: Vec::new(),
        }
    }

    fn role(&mut self, out: &mut VecDeque<ChatCompletionChunk>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push_back(self.chunks.role());
        }
    }

    fn token(&mut self, data: ClovaResult, out: &mut VecDeque<ChatCompletionChunk>) {
        self.role(out);
        let Some(message) = data.message else {
            return;
        };
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            out.push_back(self.chunks.content(text));
        }
        for piece in message.tool_calls.into_iter().flatten() {
            if let Some(id) = piece.id {
                let k = self.tools.len() as u32;
                self.tools.push(false);
                let name = piece.function.name.unwrap_or_default();
                out.push_back(self.chunks.tool_header(k, id, name, ""));
            }
            if let Some(fragment) = piece.function.partial_json.filter(|f| !f.is_empty()) {
                if let Some(last) = self.tools.last_mut() {
                    *last = true;
                    let k = self.tools.len() as u32 - 1;
                    out.push_back(self.chunks.tool_arguments(k, fragment));
                }
            }
        }
    }

    fn result(&mut self, data: ClovaResult, out: &mut VecDeque<ChatCompletionChunk>) {
        self.role(out);
        let calls = data
            .message
            .as_ref()
            .and_then(|m| m.tool_calls.clone())
            .unwrap_or_default();
        // Calls the tokens never announced, or announced without arguments, are completed
        // from the result (its text content is never re-sent).
        for (k, call) in calls.iter().enumerate() {
            let whole = tool_call(call);
            match self.tools.get(k) {
                None => {
                    self.tools.push(true);
                    out.push_back(self.chunks.tool_header(
                        k as u32,
                        whole.id,
                        whole.function.name,
                        whole.function.arguments,
                    ));
                }
                Some(false) => {
                    out.push_back(
                        self.chunks
                            .tool_arguments(k as u32, whole.function.arguments),
                    );
                }
                Some(true) => {}
            }
        }
        out.push_back(self.chunks.finish(finish_reason(&data)));
        out.push_back(self.chunks.usage(usage(&data)));
    }
}

impl Translator for ClovaStream {
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatCompletionChunk>,
    ) -> Result<bool, ProviderError> {
        let name = event.event.as_deref().unwrap_or("token");
        if name == "signal" || event.data.trim().is_empty() {
            return Ok(false);
        }
        let data: ClovaResult = serde_json::from_str(&event.data)
            .map_err(|e| malformed("CLOVA Studio", "a stream event", e))?;
        if let Some(status) = data.status.as_ref().filter(|s| s.code != "20000") {
            return Err(error_of(status, 200, None));
        }
        match name {
            "error" => Err(ProviderError::Server {
                status: 500,
                message: "CLOVA Studio sent an error event without a status".into(),
                retry_after: None,
            }),
            "result" => {
                self.result(data, out);
                Ok(true)
            }
            _ => {
                self.token(data, out);
                Ok(false)
            }
        }
    }

    fn end(&mut self, _out: &mut VecDeque<ChatCompletionChunk>) -> Result<(), ProviderError> {
        Err(cut("CLOVA Studio"))
    }
}
