//! Errors a limiter can return. A refusal is not an error (see [`crate::Admission::Denied`]);
//! these are the cases where the limiter could not decide.

use std::time::Duration;

/// Why a limiter could not decide whether to admit a request.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The shared store (Redis) could not be reached or answered an error, and the limiter fails
    /// closed. The gateway answers 503 `service_unavailable` with `retry-after: retry_after`.
    #[error("rate limit store unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for logs (never shown to clients verbatim).
        reason: String,
        /// How long the client should wait before retrying.
        retry_after: Duration,
    },
    /// The limiter was configured wrongly (e.g. a malformed Redis URL).
    #[error("invalid rate limiter configuration: {0}")]
    InvalidConfig(String),
}
