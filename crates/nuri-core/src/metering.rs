//! Settling a request once its answer is known: usage (reported or estimated), cost at the
//! model's price, the rate-limit and credit settlements, and the usage record. Streams are
//! wrapped in [`MeteredStream`], which settles when the stream ends, fails, or is dropped
//! because the client went away.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use nuri_types::openai::{ChatCompletionChunk, Completion, Usage};

use crate::catalog::CatalogModel;
use crate::provider::{Provider, ProviderError};
use crate::stages::{CreditHold, LimitPermit};
use crate::tasks::TaskTracker;
use crate::usage::{UsageRecord, UsageSink};

/// Estimated tokens for text whose tokenizer is unknown: one token per 3 UTF-8 bytes, rounded
/// up, and never fewer than the chunks it arrived in. (Byte-level tokenizers average about 4
/// bytes per English token and about 3 per Korean syllable, so this errs slightly high.)
pub fn estimate_tokens(bytes: usize, chunks: usize) -> u64 {
    (bytes.div_ceil(3).max(chunks)) as u64
}

/// Everything needed to close out one request.
pub struct Settlement {
    /// The usage record being built (ids, model, endpoint, …).
    pub record: UsageRecord,
    /// The model answering.
    pub model: Arc<CatalogModel>,
    /// When the request arrived.
    pub started: Instant,
    /// Rate-limit admission to reconcile.
    pub permit: Option<Box<dyn LimitPermit>>,
    /// Credit reservation to settle.
    pub hold: Option<Box<dyn CreditHold>>,
    /// Where the record goes.
    pub sink: UsageSink,
    /// Tracks the async credit settlement.
    pub tracker: TaskTracker,
}

impl Settlement {
    /// Records the outcome: `usage` tokens (estimated or not), the HTTP status and error code.
    pub fn finish(
        mut self,
        usage: Usage,
        estimated: bool,
        ttft_ms: Option<i64>,
        status: u16,
        error_code: Option<&str>,
    ) {
        let price = self.model.config.price;
        let mut cost = price.cost(usage.prompt_tokens, usage.completion_tokens);
        if let Some(hold) = &self.hold {
            // A grant is never charged beyond what it held; the record shows what it paid.
            cost = cost.min(hold.held());
        }
        if let Some(permit) = self.permit.take() {
            permit.settle(usage.prompt_tokens + usage.completion_tokens);
        }
        let r = &mut self.record;
        r.prompt_tokens = usage.prompt_tokens;
        r.completion_tokens = usage.completion_tokens;
        r.usage_estimated = estimated;
        r.cost = cost.0;
        r.input_price = price.input_per_million;
        r.output_price = price.output_per_million;
        r.latency_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        r.ttft_ms = ttft_ms;
        r.status = status;
        r.error_code = error_code.map(str::to_owned);
        if let Some(hold) = self.hold.take() {
            r.grant_id = hold.grant_id();
            self.tracker.spawn(async move { hold.settle(cost).await });
        }
        self.sink.record(std::mem::take(&mut self.record));
    }
}

impl Settlement {
    /// Closes the admission without a usage record, because the request moved on to a fallback
    /// model whose own settlement records it: the rate-limit permit is settled at zero tokens
    /// and the credit hold released (awaited, so the fallback's reservation never overlaps it).
    pub async fn release(mut self) {
        if let Some(permit) = self.permit.take() {
            permit.settle(0);
        }
        if let Some(hold) = self.hold.take() {
            hold.settle(nuri_types::MilliWon(0)).await;
        }
    }
}

/// A streamed chunk type the meter understands (chat chunks and text-completion chunks).
pub trait MeteredChunk: Send + 'static {
    /// Usage carried by the chunk.
    fn usage(&self) -> Option<Usage>;
    /// Drops the chunk's usage.
    fn clear_usage(&mut self);
    /// True for the final usage-only chunk (`choices: []`).
    fn is_usage_only(&self) -> bool;
    /// Sets the public model name.
    fn set_model(&mut self, model: &str);
    /// Appends generated text to `out`; true when the chunk carried any output.
    fn collect_text(&self, out: &mut String) -> bool;
}

impl MeteredChunk for ChatCompletionChunk {
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
    fn clear_usage(&mut self) {
        self.usage = None;
    }
    fn is_usage_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }
    fn set_model(&mut self, model: &str) {
        model.clone_into(&mut self.model);
    }
    fn collect_text(&self, out: &mut String) -> bool {
        let mut any = false;
        for choice in &self.choices {
            if let Some(c) = choice.delta.content.as_deref().filter(|c| !c.is_empty()) {
                out.push_str(c);
                any = true;
            }
            for call in choice.delta.tool_calls.iter().flatten() {
                if let Some(f) = &call.function {
                    out.push_str(f.name.as_deref().unwrap_or(""));
                    out.push_str(f.arguments.as_deref().unwrap_or(""));
                }
                any = true;
            }
        }
        any
    }
}

impl MeteredChunk for Completion {
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
    fn clear_usage(&mut self) {
        self.usage = None;
    }
    fn is_usage_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }
    fn set_model(&mut self, model: &str) {
        model.clone_into(&mut self.model);
    }
    fn collect_text(&self, out: &mut String) -> bool {
        let mut any = false;
        for choice in &self.choices {
            if let Some(t) = choice
                .get("text")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            {
                out.push_str(t);
                any = true;
            }
        }
        any
    }
}

type Inner<T> = Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send + 'static>>;

/// A chunk stream that rewrites the model name, hides the usage chunk the client did not ask
/// for, and settles the request exactly once when it ends or is dropped.
pub struct MeteredStream<T: MeteredChunk = ChatCompletionChunk> {
    inner: Inner<T>,
    public_model: String,
    include_usage: bool,
    provider: Arc<dyn Provider>,
    prompt_estimate: u64,
    usage: Option<Usage>,
    text: String,
    chunks: usize,
    ttft_ms: Option<i64>,
    error: Option<&'static str>,
    settlement: Option<Settlement>,
    done: bool,
}

impl<T: MeteredChunk> MeteredStream<T> {
    /// Wraps `inner`; `prompt_estimate` is used when the provider never reports usage.
    pub fn new(
        inner: Inner<T>,
        settlement: Settlement,
        provider: Arc<dyn Provider>,
        include_usage: bool,
        prompt_estimate: u64,
    ) -> Self {
        Self {
            inner,
            public_model: settlement.record.model.clone(),
            include_usage,
            provider,
            prompt_estimate,
            usage: None,
            text: String::new(),
            chunks: 0,
            ttft_ms: None,
            error: None,
            settlement: Some(settlement),
            done: false,
        }
    }

    fn settle(&mut self) {
        let Some(settlement) = self.settlement.take() else {
            return;
        };
        let (usage, estimated) = match self.usage {
            Some(u) => (u, false),
            None => {
                let completion = self
                    .provider
                    .count_text_tokens(&self.text)
                    .unwrap_or_else(|| estimate_tokens(self.text.len(), self.chunks));
                (Usage::new(self.prompt_estimate, completion), true)
            }
        };
        settlement.finish(usage, estimated, self.ttft_ms, 200, self.error);
    }

    fn observe(&mut self, chunk: &T) {
        if let Some(u) = chunk.usage() {
            self.usage = Some(u);
        }
        if chunk.collect_text(&mut self.text) {
            self.chunks += 1;
            if self.ttft_ms.is_none() {
                if let Some(s) = &self.settlement {
                    self.ttft_ms = i64::try_from(s.started.elapsed().as_millis()).ok();
                }
            }
        }
    }
}

impl<T: MeteredChunk> Stream for MeteredStream<T> {
    type Item = Result<T, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    this.settle();
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.error = Some(crate::GatewayError::Upstream(e.clone()).code().as_str());
                    this.settle();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(mut chunk))) => {
                    this.observe(&chunk);
                    if chunk.is_usage_only() && !this.include_usage {
                        continue;
                    }
                    if !this.include_usage {
                        chunk.clear_usage();
                    }
                    chunk.set_model(&this.public_model);
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
        }
    }
}

impl<T: MeteredChunk> Drop for MeteredStream<T> {
    fn drop(&mut self) {
        if self.settlement.is_some() {
            // The client went away mid-stream: record what was delivered so far.
            if self.error.is_none() && !self.done {
                self.error = Some("client_disconnected");
            }
            self.settle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_is_bytes_over_three_or_chunks() {
        assert_eq!(estimate_tokens(0, 0), 0);
        assert_eq!(estimate_tokens(10, 1), 4);
        assert_eq!(estimate_tokens(3, 5), 5);
    }
}
