//! The public error-code table: every error Nuri returns to a client or an operator is one of
//! these codes, with a fixed HTTP status and OpenAI `type`. Mapping to an HTTP response happens in
//! exactly one place (`nuri-http`), from this table.

use serde::{Deserialize, Serialize};

/// A public error code: the `error.code` string clients see, with its status and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Malformed JSON, wrong types, missing fields, invalid UTF-8 (400).
    InvalidRequest,
    /// The prompt carries personal data and the project's policy blocks it (400).
    PiiDetected,
    /// The prompt is longer than the model's context window (400).
    ContextLengthExceeded,
    /// Missing, unknown, expired or revoked key or token (401).
    InvalidApiKey,
    /// Refused by the project's policy (403).
    PolicyViolation,
    /// A role without the right on an admin endpoint (403).
    Forbidden,
    /// Unknown model, or one the key may not use (404).
    ModelNotFound,
    /// An unknown path or resource (404).
    NotFound,
    /// A known path called with the wrong method (405).
    MethodNotAllowed,
    /// A conflicting write, e.g. a duplicate name (409).
    Conflict,
    /// Body over the configured limit (413).
    RequestTooLarge,
    /// No grant can cover the reservation (429).
    InsufficientQuota,
    /// A rate limit of Nuri's, or the provider's after retries (429).
    RateLimitExceeded,
    /// An unexpected fault inside Nuri (500).
    InternalError,
    /// The provider rejected Nuri's credentials (502).
    UpstreamAuthError,
    /// Provider error or garbage after retries (502).
    UpstreamError,
    /// Every route down, queue full, or a backing service unreachable (503).
    ServiceUnavailable,
    /// The provider timed out (504).
    UpstreamTimeout,
}

impl ErrorCode {
    /// The HTTP status this code is returned with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::PiiDetected | Self::ContextLengthExceeded => 400,
            Self::InvalidApiKey => 401,
            Self::PolicyViolation | Self::Forbidden => 403,
            Self::ModelNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::RequestTooLarge => 413,
            Self::InsufficientQuota | Self::RateLimitExceeded => 429,
            Self::InternalError => 500,
            Self::UpstreamAuthError | Self::UpstreamError => 502,
            Self::ServiceUnavailable => 503,
            Self::UpstreamTimeout => 504,
        }
    }

    /// The `error.code` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::PiiDetected => "pii_detected",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::InvalidApiKey => "invalid_api_key",
            Self::PolicyViolation => "policy_violation",
            Self::Forbidden => "forbidden",
            Self::ModelNotFound => "model_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::RequestTooLarge => "request_too_large",
            Self::InsufficientQuota => "insufficient_quota",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::InternalError => "internal_error",
            Self::UpstreamAuthError => "upstream_auth_error",
            Self::UpstreamError => "upstream_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// The OpenAI `error.type` for this code.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::InvalidApiKey => "authentication_error",
            Self::PolicyViolation | Self::Forbidden => "permission_error",
            Self::InsufficientQuota => "insufficient_quota",
            Self::RateLimitExceeded => "rate_limit_error",
            Self::InternalError
            | Self::UpstreamAuthError
            | Self::UpstreamError
            | Self::ServiceUnavailable
            | Self::UpstreamTimeout => "server_error",
            _ => "invalid_request_error",
        }
    }
}

/// The body of every error response: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// The error object.
    pub error: ErrorObject,
}

/// OpenAI's error object: all four keys are always present.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorObject {
    /// Human-readable message; never contains secrets or another tenant's data.
    pub message: String,
    /// OpenAI error type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// The public error code.
    pub code: Option<String>,
}

impl ErrorBody {
    /// Builds the body for a code, message and optional parameter.
    pub fn new(code: ErrorCode, message: impl Into<String>, param: Option<String>) -> Self {
        Self {
            error: ErrorObject {
                message: message.into(),
                kind: code.error_type().to_owned(),
                param,
                code: Some(code.as_str().to_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_statuses() {
        assert_eq!(ErrorCode::InvalidApiKey.status(), 401);
        assert_eq!(ErrorCode::InsufficientQuota.status(), 429);
        assert_eq!(ErrorCode::UpstreamAuthError.status(), 502);
        assert_eq!(ErrorCode::UpstreamTimeout.status(), 504);
        assert_eq!(ErrorCode::ModelNotFound.as_str(), "model_not_found");
    }

    #[test]
    fn body_has_all_four_keys() {
        let body = ErrorBody::new(ErrorCode::InvalidRequest, "bad", None);
        let json = serde_json::to_value(&body).unwrap_or_default();
        let obj = &json["error"];
        assert!(obj.get("param").is_some() && obj.get("code").is_some());
        assert_eq!(obj["type"], "invalid_request_error");
    }
}
