//! Naver CLOVA Studio adapter (reference §5): `POST {base_url}/v3/chat-completions/{model}`
//! (or `/v1/…` when `api_version = "v1"`) with `Authorization: Bearer`, streaming switched on by
//! `Accept: text/event-stream`, and Nuri's request id in `X-NCP-CLOVASTUDIO-REQUEST-ID`. Every
//! answer's `status.code` is checked, even on HTTP 200. [`convert`] translates bodies,
//! [`stream`] the SSE stream, [`wire`] holds CLOVA's types.

pub mod convert;
mod stream;
pub mod wire;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use nuri_config::{ProviderConfig, Secret, Timeouts};
use nuri_core::provider::{CallContext, ChatReply, Provider, ProviderError, TimeoutKind};
use nuri_types::openai::ChatCompletionRequest;

use crate::common::{self, by_status, Failure};
use crate::{http, BuildError};
use wire::{Envelope, Status};

/// The request-id header CLOVA Studio logs.
pub const REQUEST_ID_HEADER: &str = "X-NCP-CLOVASTUDIO-REQUEST-ID";

/// CLOVA's success code.
pub const OK_CODE: &str = "20000";

/// Which chat-completions API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v3/chat-completions` (HCX-005, HCX-DASH-002, HCX-007).
    V3,
    /// `/v1/chat-completions` (HCX-003, HCX-DASH-001).
    V1,
}

/// A CLOVA Studio upstream.
pub struct ClovaProvider {
    name: String,
    base_url: String,
    api_key: Option<Secret>,
    version: ApiVersion,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl ClovaProvider {
    /// Builds the adapter from its config (`api_version` "v1" selects v1, anything else v3).
    pub fn new(config: &ProviderConfig) -> Result<Self, BuildError> {
        let client = http::client(&config.timeouts).map_err(|e| BuildError::Client {
            name: config.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            name: config.name.clone(),
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone(),
            version: if config.api_version == "v1" {
                ApiVersion::V1
            } else {
                ApiVersion::V3
            },
            timeouts: config.timeouts,
            client,
        })
    }

    fn request(&self, model: &str, stream: bool, ctx: &CallContext) -> reqwest::RequestBuilder {
        let version = match self.version {
            ApiVersion::V3 => "v3",
            ApiVersion::V1 => "v1",
        };
        let mut rb = self.client.post(format!(
            "{}/{version}/chat-completions/{model}",
            self.base_url
        ));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key.expose());
        }
        if !ctx.request_id.is_empty() {
            rb = rb.header(REQUEST_ID_HEADER, &ctx.request_id);
        }
        rb.header(
            "accept",
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        )
    }
}

/// Maps a CLOVA status (first three digits of `code` are the HTTP status) to a
/// [`ProviderError`]; the CLOVA code stays in the message.
pub(crate) fn error_of(
    status: &Status,
    http_status: u16,
    retry_after: Option<Duration>,
) -> ProviderError {
    let code = status.code.as_str();
    let message = format!("CLOVA Studio {code}: {}", status.message);
    let family = code
        .get(..3)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|s| (400..600).contains(s))
        .unwrap_or(if http_status >= 400 { http_status } else { 500 });
    match (code, family) {
        ("40003", _) => ProviderError::ContextLength(message),
        (_, 401 | 403) => ProviderError::Auth(format!("CLOVA Studio answered code {code}")),
        (_, 408) => ProviderError::Timeout(TimeoutKind::FirstByte),
        (_, 504) => ProviderError::Server {
            status: 504,
            message,
            retry_after,
        },
        (_, f) => by_status(f, message, retry_after),
    }
}

fn failure(f: Failure) -> ProviderError {
    let retry_after = http::retry_after(&f.headers);
    match serde_json::from_slice::<Envelope>(&f.body) {
        Ok(Envelope {
            status: Some(status),
            ..
        }) => error_of(&status, f.status, retry_after),
        _ => by_status(f.status, http::error_fields(&f.body).0, retry_after),
    }
}

#[async_trait]
impl Provider for ClovaProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        request: ChatCompletionRequest,
        ctx: &CallContext,
    ) -> Result<ChatReply, ProviderError> {
        let started = Instant::now();
        let stream = request.is_stream();
        let rb = self.request(&request.model, stream, ctx);
        let sent = match self.version {
            ApiVersion::V3 => {
                let body = convert::v3_request(&request)?;
                common::post_json(rb, &body, &self.timeouts, started).await?
            }
            ApiVersion::V1 => {
                let body = convert::v1_request(&request)?;
                common::post_json(rb, &body, &self.timeouts, started).await?
            }
        };
        let response = sent.map_err(|f| {
            tracing::debug!(provider = %self.name, status = f.status, "CLOVA Studio returned an error status");
            failure(f)
        })?;
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if stream && is_sse {
            let bytes = http::byte_stream(response, self.timeouts, started);
            let translator = stream::ClovaStream::new(&request.model);
            return Ok(ChatReply::Stream(common::drive(bytes, translator)));
        }
        let bytes = http::body_bytes(response, &self.timeouts, started).await?;
        let envelope: Envelope = serde_json::from_slice(&bytes)
            .map_err(|e| common::malformed("CLOVA Studio", "an answer", e))?;
        if let Some(status) = envelope.status.as_ref().filter(|s| s.code != OK_CODE) {
            return Err(error_of(status, 200, None));
        }
        if stream {
            return Err(common::malformed(
                "CLOVA Studio",
                "a JSON answer to a streaming request",
                "expected text/event-stream",
            ));
        }
        let result = envelope
            .result
            .ok_or_else(|| common::malformed("CLOVA Studio", "an answer", "no result"))?;
        Ok(ChatReply::Complete(convert::response(
            result,
            &request.model,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: &str) -> Status {
        Status {
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn status_codes_map_by_their_first_three_digits() {
        assert!(
            matches!(error_of(&status("40003"), 200, None), ProviderError::ContextLength(m) if m.contains("40003"))
        );
        assert!(matches!(
            error_of(&status("40001"), 400, None),
            ProviderError::InvalidRequest { .. }
        ));
        assert!(matches!(
            error_of(&status("40104"), 401, None),
            ProviderError::Auth(_)
        ));
        assert!(matches!(
            error_of(&status("42902"), 429, Some(Duration::from_secs(3))),
            ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            error_of(&status("50000"), 500, None),
            ProviderError::Server { status: 500, .. }
        ));
        assert!(matches!(
            error_of(&status("50400"), 504, None),
            ProviderError::Server { status: 504, .. }
        ));
    }
}
