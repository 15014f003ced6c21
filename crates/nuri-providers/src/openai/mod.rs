//! OpenAI and OpenAI-compatible servers (vLLM, TGI, Ollama's `/v1`, llama.cpp): the request
//! passes through (unknown fields kept), the answer is normalised (error shapes, missing fields),
//! and streams always ask for usage unless the provider says `stream_usage = false`.

mod stream;

use std::time::Instant;

use async_trait::async_trait;
use nuri_config::{ProviderConfig, Timeouts};
use nuri_core::provider::{CallContext, ChatReply, CompletionReply, Provider, ProviderError};
use nuri_types::openai::{
    ChatCompletion, ChatCompletionRequest, Completion, CompletionRequest, EmbeddingRequest,
    EmbeddingResponse, StreamOptions,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http;
use crate::BuildError;

/// An OpenAI-compatible upstream.
pub struct OpenAiProvider {
    name: String,
    base_url: String,
    api_key: Option<nuri_config::Secret>,
    stream_usage: bool,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl OpenAiProvider {
    /// Builds the adapter from its config.
    pub fn new(config: &ProviderConfig) -> Result<Self, BuildError> {
        let client = http::client(&config.timeouts).map_err(|e| BuildError::Client {
            name: config.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            name: config.name.clone(),
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone(),
            stream_usage: config.stream_usage,
            timeouts: config.timeouts,
            client,
        })
    }

    fn post(&self, path: &str, ctx: &CallContext) -> reqwest::RequestBuilder {
        let mut rb = self.client.post(format!("{}{}", self.base_url, path));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key.expose());
        }
        if !ctx.request_id.is_empty() {
            rb = rb.header("x-request-id", &ctx.request_id);
        }
        rb
    }

    /// Sends a JSON body and returns the successful response or the mapped error.
    async fn call<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        ctx: &CallContext,
        started: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let payload = serde_json::to_vec(body).map_err(|e| ProviderError::InvalidRequest {
            message: e.to_string(),
            param: None,
        })?;
        let rb = self
            .post(path, ctx)
            .header("content-type", "application/json")
            .body(payload);
        let response = http::send(rb, &self.timeouts).await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = http::body_bytes(response, &self.timeouts, started)
            .await
            .unwrap_or_default();
        tracing::debug!(provider = %self.name, status, "provider returned an error status");
        Err(http::status_error(status, &headers, &body))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
        started: Instant,
    ) -> Result<T, ProviderError> {
        let body = http::body_bytes(response, &self.timeouts, started).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ProviderError::Malformed(format!(
                "{} answered something that is not the expected JSON: {e}",
                self.name
            ))
        })
    }

    fn stream_options(&self, existing: Option<StreamOptions>) -> Option<StreamOptions> {
        if !self.stream_usage {
            return existing;
        }
        let mut opts = existing.unwrap_or_default();
        opts.include_usage = Some(true);
        Some(opts)
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    /// `GET {base_url}/models`: any 2xx is healthy.
    async fn health(&self) -> Option<Result<(), ProviderError>> {
        let mut rb = self.client.get(format!("{}/models", self.base_url));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key.expose());
        }
        let started = Instant::now();
        let result = match http::send(rb, &self.timeouts).await {
            Err(e) => Err(e),
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = http::body_bytes(response, &self.timeouts, started)
                    .await
                    .unwrap_or_default();
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(http::status_error(status, &headers, &body))
                }
            }
        };
        Some(result)
    }

    async fn chat(
        &self,
        mut request: ChatCompletionRequest,
        ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError> {
        let started = Instant::now();
        if request.is_stream() {
            request.stream_options = self.stream_options(request.stream_options.take());
            let response = self
                .call("/chat/completions", &request, ctx, started)
                .await?;
            let bytes = http::byte_stream(response, self.timeouts, started);
            return Ok(ChatReply::Stream(stream::chat_chunks(
                bytes,
                self.name.clone(),
            )));
        }
        let response = self
            .call("/chat/completions", &request, ctx, started)
            .await?;
        let mut completion: ChatCompletion = self.json(response, started).await?;
        if completion.object.is_empty() {
            completion.object = "chat.completion".into();
        }
        Ok(ChatReply::Complete(completion))
    }

    async fn completion(
        &self,
        mut request: CompletionRequest,
        ctx: &CallContext,
    ) -> Result<CompletionReply, ProviderError> {
        let started = Instant::now();
        if request.stream.unwrap_or(false) {
            request.stream_options = self.stream_options(request.stream_options.take());
            let response = self.call("/completions", &request, ctx, started).await?;
            let bytes = http::byte_stream(response, self.timeouts, started);
            return Ok(CompletionReply::Stream(stream::completion_chunks(
                bytes,
                self.name.clone(),
            )));
        }
        let response = self.call("/completions", &request, ctx, started).await?;
        Ok(CompletionReply::Complete(
            self.json::<Completion>(response, started).await?,
        ))
    }

    async fn embeddings(
        &self,
        request: EmbeddingRequest,
        ctx: &CallContext,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let started = Instant::now();
        let response = self.call("/embeddings", &request, ctx, started).await?;
        self.json(response, started).await
    }
}
