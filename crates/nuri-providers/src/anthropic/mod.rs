//! Anthropic Messages API adapter (reference §3): `POST {base_url}/v1/messages` with
//! `x-api-key` and `anthropic-version: 2023-06-01`. [`convert`] translates bodies, [`stream`]
//! translates the SSE stream, [`wire`] holds Anthropic's types.

pub mod convert;
mod stream;
pub mod wire;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use nuri_config::{ProviderConfig, Secret, Timeouts};
use nuri_core::provider::{CallContext, ChatReply, Provider, ProviderError};
use nuri_types::openai::ChatCompletionRequest;

use crate::common::{self, by_status, Failure};
use crate::{http, BuildError};
use wire::{ErrorBody, ErrorDetail, MessagesResponse};

/// The API version header value Nuri speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic upstream.
pub struct AnthropicProvider {
    name: String,
    base_url: String,
    api_key: Option<Secret>,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl AnthropicProvider {
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

    fn request(&self) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .post(format!("{}/v1/messages", self.base_url))
            .header("anthropic-version", ANTHROPIC_VERSION);
        if let Some(key) = &self.api_key {
            rb = rb.header("x-api-key", key.expose());
        }
        rb
    }
}

/// Maps an Anthropic error (`error.type` first, HTTP status second) to a [`ProviderError`].
pub(crate) fn error_of(
    status: Option<u16>,
    error: ErrorDetail,
    retry_after: Option<Duration>,
) -> ProviderError {
    let ErrorDetail { kind, message } = error;
    match kind.as_str() {
        "authentication_error" | "permission_error" | "billing_error" => {
            ProviderError::Auth(format!("Anthropic answered {kind}"))
        }
        "invalid_request_error" if message.contains("prompt is too long") => {
            ProviderError::ContextLength(message)
        }
        "invalid_request_error" | "not_found_error" | "request_too_large" => {
            ProviderError::InvalidRequest {
                message: format!("provider rejected the request: {message}"),
                param: None,
            }
        }
        "rate_limit_error" => ProviderError::RateLimited {
            message,
            retry_after,
        },
        "overloaded_error" => ProviderError::Server {
            status: 529,
            message,
            retry_after,
        },
        "timeout_error" => ProviderError::Server {
            status: 504,
            message,
            retry_after,
        },
        "api_error" => ProviderError::Server {
            status: status.unwrap_or(500),
            message,
            retry_after,
        },
        _ => by_status(status.unwrap_or(500), message, retry_after),
    }
}

fn failure(f: Failure) -> ProviderError {
    let retry_after = http::retry_after(&f.headers);
    match serde_json::from_slice::<ErrorBody>(&f.body) {
        Ok(body) => error_of(Some(f.status), body.error, retry_after),
        Err(_) => by_status(f.status, http::error_fields(&f.body).0, retry_after),
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        request: ChatCompletionRequest,
        _ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError> {
        let started = Instant::now();
        let (body, json_mode) = convert::request(&request)?;
        let response = common::post_json(self.request(), &body, &self.timeouts, started)
            .await?
            .map_err(|f| {
                tracing::debug!(provider = %self.name, status = f.status, "Anthropic returned an error status");
                failure(f)
            })?;
        if request.is_stream() {
            let bytes = http::byte_stream(response, self.timeouts, started);
            let translator = stream::AnthropicStream::new(&request.model, json_mode);
            return Ok(ChatReply::Stream(common::drive(bytes, translator)));
        }
        let bytes = http::body_bytes(response, &self.timeouts, started).await?;
        let answer: MessagesResponse = serde_json::from_slice(&bytes)
            .map_err(|e| common::malformed("Anthropic", "an answer", e))?;
        Ok(ChatReply::Complete(convert::response(answer, json_mode)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(kind: &str) -> ErrorDetail {
        ErrorDetail {
            kind: kind.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn error_types_map() {
        assert!(matches!(
            error_of(Some(529), detail("overloaded_error"), None),
            ProviderError::Server { status: 529, .. }
        ));
        assert!(matches!(
            error_of(Some(401), detail("authentication_error"), None),
            ProviderError::Auth(_)
        ));
        assert!(matches!(
            error_of(Some(429), detail("rate_limit_error"), Some(Duration::from_secs(4))),
            ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(4)
        ));
        assert!(matches!(
            error_of(Some(400), detail("invalid_request_error"), None),
            ProviderError::InvalidRequest { .. }
        ));
        assert!(matches!(
            error_of(Some(500), detail("api_error"), None),
            ProviderError::Server { status: 500, .. }
        ));
    }
}
