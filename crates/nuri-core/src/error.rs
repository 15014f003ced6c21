//! The gateway's error enum. Each variant maps to one public [`ErrorCode`]; turning that into an
//! HTTP response happens once, in `nuri-http`.

use std::time::Duration;

use nuri_types::ErrorCode;

use crate::provider::{ProviderError, TimeoutKind};
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum GatewayError {
    /// Malformed or invalid input.
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
        /// The parameter at fault.
        param: Option<String>,
    },
    /// Missing, unknown, expired or revoked key or token.
    #[error("{0}")]
    InvalidApiKey(String),
    /// Role lacks the right.
    #[error("{0}")]
    Forbidden(String),
    /// Refused by the project's policy.
    #[error("{0}")]
    PolicyViolation(String),
    /// Personal data found and the policy blocks it (labels only).
    #[error("the prompt contains personal information ({}) and this project's policy blocks it", .0.join(", "))]
    PiiDetected(Vec<String>),
    /// Prompt too long.
    #[error("{0}")]
    ContextLengthExceeded(String),
    /// Unknown or disallowed model.
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// Unknown resource.
    #[error("{0}")]
    NotFound(String),
    /// Body over the configured limit.
    #[error("{0}")]
    RequestTooLarge(String),
    /// A known path called with the wrong method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Conflicting write.
    #[error("{0}")]
    Conflict(String),
    /// No grant can pay.
    #[error("{0}")]
    InsufficientQuota(String),
    /// A rate limit.
    #[error("{message}")]
    RateLimited {
        /// Which limit.
        message: String,
        /// When to retry.
        retry_after: Duration,
        /// `x-ratelimit-*` headers to send with the refusal.
        headers: Vec<(&'static str, String)>,
    },
    /// An upstream failure after retries.
    #[error("{0}")]
    Upstream(ProviderError),
    /// Temporarily unable to serve.
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// Unexpected internal fault (details logged, not shown).
    #[error("internal error")]
    Internal(String),
}

impl GatewayError {
    /// Shorthand for an invalid request naming a parameter.
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    /// The public code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            Self::InvalidApiKey(_) => ErrorCode::InvalidApiKey,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::PolicyViolation(_) => ErrorCode::PolicyViolation,
            Self::PiiDetected(_) => ErrorCode::PiiDetected,
            Self::ContextLengthExceeded(_) => ErrorCode::ContextLengthExceeded,
            Self::ModelNotFound(_) => ErrorCode::ModelNotFound,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::RequestTooLarge(_) => ErrorCode::RequestTooLarge,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::InsufficientQuota(_) => ErrorCode::InsufficientQuota,
            Self::RateLimited { .. } => ErrorCode::RateLimitExceeded,
            Self::Unavailable { .. } => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalError,
            Self::Upstream(e) => match e {
                ProviderError::Connect(_) => ErrorCode::ServiceUnavailable,
                ProviderError::Timeout(_) => ErrorCode::UpstreamTimeout,
                ProviderError::Auth(_) => ErrorCode::UpstreamAuthError,
                ProviderError::InvalidRequest { .. } | ProviderError::Unsupported(_) => {
                    ErrorCode::InvalidRequest
                }
                ProviderError::ContextLength(_) => ErrorCode::ContextLengthExceeded,
                ProviderError::RateLimited { .. } => ErrorCode::RateLimitExceeded,
                ProviderError::Overloaded(_) => ErrorCode::ServiceUnavailable,
                ProviderError::Server { .. } | ProviderError::Malformed(_) => {
                    ErrorCode::UpstreamError
                }
            },
        }
    }

    /// The parameter at fault, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { param, .. }
            | Self::Upstream(ProviderError::InvalidRequest { param, .. }) => param.as_deref(),
            _ => None,
        }
    }

    /// The `retry-after` to send, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Upstream(ProviderError::Connect(_) | ProviderError::Overloaded(_)) => {
                Some(Duration::from_secs(1))
            }
            Self::Upstream(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The message shown to clients.
    pub fn public_message(&self) -> String {
        match self {
            Self::Upstream(ProviderError::Timeout(kind)) => {
                format!("The provider timed out ({}).", kind.describe())
            }
            Self::Upstream(ProviderError::Connect(_)) => {
                "No route to the model is available right now: the provider could not be reached."
                    .to_owned()
            }
            Self::Upstream(e) => e.to_string(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Unavailable(why) => {
                tracing::error!(error = %why, "database unavailable");
                Self::Unavailable {
                    message: "the database is unavailable".into(),
                    retry_after: Duration::from_secs(1),
                }
            }
        }
    }
}

impl From<ProviderError> for GatewayError {
    fn from(e: ProviderError) -> Self {
        Self::Upstream(e)
    }
}

impl From<TimeoutKind> for GatewayError {
    fn from(kind: TimeoutKind) -> Self {
        Self::Upstream(ProviderError::Timeout(kind))
    }
}
