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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{run, short};

    /// CLOVA's official text stream example (reference §5.5), spaces after the colons.
    const TEXT: &str = "id: aabdfe-dfgwr-edf-hpqwd-f3asd-g\nevent: token\ndata: {\"message\": {\"role\": \"assistant\", \"content\": \"안\"}, \"finishReason\": null, \"created\": 1744710905, \"seed\": 3284419119, \"usage\": null}\n\nid: aabdfe-dfgwr-edf-hpqwd-f2asd-g\nevent: token\ndata: {\"message\": {\"role\": \"assistant\", \"content\": \"녕\"}, \"finishReason\": null, \"created\": 1744710905, \"seed\": 3284419119, \"usage\": null}\n\nid: aabdfe-dfgwr-edf-hpqwd-f1asd-g\nevent: result\ndata: {\"message\": {\"role\": \"assistant\", \"content\": \"안녕\"}, \"finishReason\": \"stop\", \"created\": 1744710905, \"seed\": 3284419119, \"usage\": {\"promptTokens\": 20, \"completionTokens\": 5, \"totalTokens\": 25}}\n\n";

    /// CLOVA's official tool-call stream example, no spaces after the colons.
    const TOOL: &str = "id:ef40438b-d49a-4fff-9335-a19e5abfcff1\nevent:token\ndata:{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"toolCalls\":[{\"id\":\"call_zumbHGLfLwV3xn0Rn2gSPqfz\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]},\"finishReason\":null,\"created\":1749810707,\"seed\":1775609431,\"usage\":null}\n\nid:75cae060-e19b-4a82-9106-81b784dcde51\nevent:token\ndata:{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"toolCalls\":[{\"type\":\"function\",\"function\":{\"partialJson\":\"{\\\"\"}}]},\"finishReason\":null,\"created\":1749810707,\"seed\":1775609431,\"usage\":null}\n\nid:d29c7e43-d8ed-43f1-8265-6e5fa91b4b65\nevent:token\ndata:{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"toolCalls\":[{\"type\":\"function\",\"function\":{\"partialJson\":\"location\"}}]},\"finishReason\":null,\"created\":1749810707,\"seed\":1775609431,\"usage\":null}\n\nid:f32289bd-0b94-4733-9df2-9f1a3eee48a6\nevent:result\ndata:{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"toolCalls\":[{\"id\":\"call_zumbHGLfLwV3xn0Rn2gSPqfz\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":{\"location\":\"서울\",\"unit\":\"celsius\",\"date\":\"2025-06-13\"}}}]},\"finishReason\":\"tool_calls\",\"created\":1749810707,\"seed\":1775609431,\"usage\":{\"promptTokens\":9,\"completionTokens\":47,\"totalTokens\":56}}\n\n";

    #[tokio::test]
    async fn official_text_stream_result_not_resent() {
        // Split inside a multibyte character.
        let bytes = TEXT.as_bytes();
        let cut = TEXT.find('안').unwrap_or(0) + 1;
        let (a, b) = bytes.split_at(cut);
        let items = crate::common::drive(
            Box::pin(futures::stream::iter(vec![
                Ok(bytes::Bytes::copy_from_slice(a)),
                Ok(bytes::Bytes::copy_from_slice(b)),
            ])),
            ClovaStream::new("HCX-005"),
        );
        let items: Vec<_> = futures::StreamExt::collect(items).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(
            got,
            [
                "role",
                "content:안",
                "content:녕",
                "finish:stop",
                "usage:20/5/25"
            ]
        );
    }

    #[tokio::test]
    async fn official_tool_stream() {
        let items = run(ClovaStream::new("HCX-005"), &[TOOL]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(
            got,
            [
                "role",
                "tool:0:call_zumbHGLfLwV3xn0Rn2gSPqfz:get_weather:",
                "args:0:{\"",
                "args:0:location",
                "finish:tool_calls",
                "usage:9/47/56"
            ]
        );
    }

    #[tokio::test]
    async fn error_event_and_cut() {
        let err = "id: 1\nevent: token\ndata: {\"message\":{\"content\":\"a\"}}\n\nid: 2\nevent: error\ndata: {\"status\":{\"code\":\"42901\",\"message\":\"Too many requests\"}}\n\n";
        let items = run(ClovaStream::new("m"), &[err]).await;
        assert!(matches!(
            items.last(),
            Some(Err(ProviderError::RateLimited { .. }))
        ));
        let cut = "id: 1\nevent: token\ndata: {\"message\":{\"content\":\"a\"}}\n\n";
        let items = run(ClovaStream::new("m"), &[cut]).await;
        let got: Vec<String> = items.iter().map(short).collect();
        assert_eq!(got, ["role", "content:a", "error"]);
    }
}
