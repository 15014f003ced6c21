//! Google Gemini API adapter (reference §4): `POST {base_url}/v1beta/models/{model}:generateContent`
//! and `:streamGenerateContent?alt=sse` with `x-goog-api-key`; embeddings through
//! `:batchEmbedContents`. [`convert`] translates bodies, [`stream`] the SSE stream, [`wire`]
//! holds Gemini's types.

pub mod convert;
mod stream;
pub mod wire;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use nuri_config::{ProviderConfig, Secret, Timeouts};
use nuri_core::provider::{CallContext, ChatReply, Provider, ProviderError};
use nuri_types::openai::{
    ChatCompletionRequest, Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector,
};
use serde_json::{json, Value};

use crate::common::{self, by_status, Failure};
use crate::{http, BuildError};
use wire::{BatchEmbedResponse, ErrorBody, GenerateResponse, GoogleError};

/// A Gemini upstream.
pub struct GeminiProvider {
    name: String,
    base_url: String,
    api_key: Option<Secret>,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl GeminiProvider {
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
            timeouts: config.timeouts,
            client,
        })
    }

    fn request(&self, model: &str, method: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .post(format!("{}/v1beta/models/{model}:{method}", self.base_url));
        if let Some(key) = &self.api_key {
            rb = rb.header("x-goog-api-key", key.expose());
        }
        rb
    }

    async fn call(
        &self,
        model: &str,
        method: &str,
        body: &impl serde::Serialize,
        started: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        common::post_json(self.request(model, method), body, &self.timeouts, started)
            .await?
            .map_err(|f| {
                tracing::debug!(provider = %self.name, status = f.status, "Gemini returned an error status");
                failure(f)
            })
    }
}

/// `RetryInfo.retryDelay` ("37s", "1.5s") of an error's details.
fn retry_delay(details: &[Value]) -> Option<Duration> {
    details
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("RetryInfo"))
        })
        .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .and_then(|s| s.trim().strip_suffix('s'))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Maps a `google.rpc.Status` to a [`ProviderError`]: `API_KEY_INVALID` (a 400) is an auth
/// failure, `RetryInfo` becomes the retry hint.
pub(crate) fn error_of(error: GoogleError, retry_after: Option<Duration>) -> ProviderError {
    let key_invalid = error
        .details
        .iter()
        .any(|d| d.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"));
    let retry_after = retry_delay(&error.details).or(retry_after);
    let status = if error.code == 0 { 500 } else { error.code };
    if key_invalid
        || matches!(
            error.status.as_str(),
            "UNAUTHENTICATED" | "PERMISSION_DENIED"
        )
    {
        return ProviderError::Auth(format!("Gemini answered {}", error.status));
    }
    let message = error.message;
    if status == 400 && message.contains("exceeds the maximum number of tokens") {
        return ProviderError::ContextLength(message);
    }
    by_status(status, message, retry_after)
}

fn failure(f: Failure) -> ProviderError {
    let retry_after = http::retry_after(&f.headers);
    match serde_json::from_slice::<ErrorBody>(&f.body) {
        Ok(body) => {
            let mut error = body.error;
            if error.code == 0 {
                error.code = f.status;
            }
            error_of(error, retry_after)
        }
        Err(_) => by_status(f.status, http::error_fields(&f.body).0, retry_after),
    }
}

#[async_trait]
impl Provider for GeminiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        request: ChatCompletionRequest,
        _ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError> {
        let started = Instant::now();
        let body = convert::request(&request)?;
        if request.is_stream() {
            let response = self
                .call(
                    &request.model,
                    "streamGenerateContent?alt=sse",
                    &body,
                    started,
                )
                .await?;
            let bytes = http::byte_stream(response, self.timeouts, started);
            let translator = stream::GeminiStream::new(&request.model);
            return Ok(ChatReply::Stream(common::drive(bytes, translator)));
        }
        let response = self
            .call(&request.model, "generateContent", &body, started)
            .await?;
        let bytes = http::body_bytes(response, &self.timeouts, started).await?;
        let answer: GenerateResponse = serde_json::from_slice(&bytes)
            .map_err(|e| common::malformed("Gemini", "an answer", e))?;
        Ok(ChatReply::Complete(convert::response(
            answer,
            &request.model,
        )))
    }

    async fn embeddings(
        &self,
        request: EmbeddingRequest,
        _ctx: &CallContext,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let started = Instant::now();
        let texts = request
            .input_texts()
            .ok_or_else(|| ProviderError::InvalidRequest {
                message: "Gemini embeddings take a string or an array of strings".into(),
                param: Some("input".into()),
            })?;
        let model_path = format!("models/{}", request.model);
        let requests: Vec<Value> = texts
            .iter()
            .map(|t| {
                let mut r = json!({"model": model_path, "content": {"parts": [{"text": t}]}});
                if let Some(d) = request.dimensions {
                    r["outputDimensionality"] = json!(d);
                }
                r
            })
            .collect();
        let response = self
            .call(
                &request.model,
                "batchEmbedContents",
                &json!({ "requests": requests }),
                started,
            )
            .await?;
        let bytes = http::body_bytes(response, &self.timeouts, started).await?;
        let answer: BatchEmbedResponse = serde_json::from_slice(&bytes)
            .map_err(|e| common::malformed("Gemini", "an embeddings answer", e))?;
        Ok(EmbeddingResponse {
            object: "list".into(),
            data: answer
                .embeddings
                .into_iter()
                .enumerate()
                .map(|(i, e)| Embedding {
                    object: "embedding".into(),
                    index: i as u32,
                    embedding: EmbeddingVector::Float(e.values),
                })
                .collect(),
            model: request.model,
            // Gemini reports no token counts for embeddings.
            usage: EmbeddingUsage::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(v: Value) -> GoogleError {
        serde_json::from_value::<ErrorBody>(v).unwrap().error
    }

    #[test]
    fn reference_error_bodies() {
        let key = err(
            json!({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}),
        );
        assert!(
            matches!(error_of(key, None), ProviderError::Auth(m) if !m.contains("API key not valid"))
        );
        let quota = err(
            json!({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}),
        );
        assert_eq!(
            error_of(quota, Some(Duration::from_secs(1))).retry_after(),
            Some(Duration::from_secs(37))
        );
        let busy = err(json!({"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}));
        assert!(matches!(
            error_of(busy, None),
            ProviderError::Server { status: 503, .. }
        ));
    }
}
