//! The outcome of an acquire: a [`Permit`] that holds what was consumed, or a [`Denial`].

use crate::error::LimitError;
use crate::headers::RateLimitHeaders;
use crate::limits::Dimension;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The limiter's answer to an acquire.
#[derive(Debug)]
pub enum Admission {
    /// Every check passed and was charged.
    Granted(Permit),
    /// At least one check failed; nothing was charged.
    Denied(Denial),
}

/// A refusal: the gateway answers 429 `rate_limit_exceeded` with `retry-after` and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// How long until the request would be admitted if nothing else happened meanwhile (the
    /// longest wait among the failing limits). A token estimate larger than the limit itself
    /// can never fit; it gets a whole minute.
    pub retry_after: Duration,
    /// Which subject and which limit refused, e.g. `key:abc requests_per_minute`.
    pub limited_by: String,
    /// The subject key that refused (the one with the longest wait).
    pub key: String,
    /// The limit that refused.
    pub dimension: Dimension,
    /// The headers to send with the 429 (nothing was consumed).
    pub headers: RateLimitHeaders,
}

impl Denial {
    pub(crate) fn new(
        key: &str,
        dimension: Dimension,
        retry_after: Duration,
        headers: RateLimitHeaders,
    ) -> Self {
        Self {
            retry_after,
            limited_by: format!("{key} {dimension}"),
            key: key.to_owned(),
            dimension,
            headers,
        }
    }
}

/// What one subject of a permit holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeasedKey {
    /// The subject key (shared with the in-process limiter's map, so leasing it is free).
    pub key: Arc<str>,
    /// The tokens-per-minute limit charged, if any (needed to drain the bucket on reconcile).
    pub tokens_limit: Option<u64>,
    /// Whether a concurrency slot is held for this subject.
    pub holds_slot: bool,
}

/// Everything a permit consumed, for the backend to adjust or release.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lease {
    /// The subjects charged.
    pub keys: Vec<LeasedKey>,
    /// Unique id of the request (names its concurrency slots in Redis).
    pub request_id: String,
}

impl Lease {
    fn holds_slots(&self) -> bool {
        self.keys.iter().any(|k| k.holds_slot)
    }
    fn charges_tokens(&self) -> bool {
        self.keys.iter().any(|k| k.tokens_limit.is_some())
    }
}

/// How a permit talks back to the limiter that granted it.
#[async_trait]
pub(crate) trait LeaseBackend: Send + Sync + 'static {
    /// Charges (`delta > 0`) or refunds (`delta < 0`) tokens on every subject with a token limit.
    async fn adjust_tokens(&self, lease: &Lease, delta: i64) -> Result<(), LimitError>;
    /// Frees the concurrency slots and waits until that is done.
    async fn release_now(&self, lease: Lease);
    /// Applies a token delta (if non-zero) and frees the concurrency slots, without waiting
    /// (called from `Drop` and [`Permit::settle`]).
    fn finish_in_background(self: Arc<Self>, lease: Lease, token_delta: i64);
}

/// Proof of admission. Holds the consumed request, the token estimate and any concurrency
/// slots; [`Permit::reconcile`] corrects the token charge once the real usage is known, and
/// dropping the permit (or [`Permit::release`]) frees the concurrency slots.
pub struct Permit {
    /// The headers to send with the response (after this request was charged).
    pub headers: RateLimitHeaders,
    lease: Lease,
    charged_tokens: u64,
    backend: Option<Arc<dyn LeaseBackend>>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("headers", &self.headers)
            .field("lease", &self.lease)
            .field("charged_tokens", &self.charged_tokens)
            .finish_non_exhaustive()
    }
}

impl Permit {
    pub(crate) fn new(
        headers: RateLimitHeaders,
        lease: Lease,
        charged_tokens: u64,
        backend: Option<Arc<dyn LeaseBackend>>,
    ) -> Self {
        Self {
            headers,
            lease,
            charged_tokens,
            backend,
        }
    }

    /// A permit that holds nothing (no limits applied, or the limiter failed open).
    pub(crate) fn detached(headers: RateLimitHeaders, charged_tokens: u64) -> Self {
        Self::new(headers, Lease::default(), charged_tokens, None)
    }

    /// The tokens currently charged for this request (the estimate, until reconciled).
    pub fn charged_tokens(&self) -> u64 {
        self.charged_tokens
    }

    /// Sets the request's token charge to `actual_tokens`: refunds the difference if the
    /// estimate was high, charges it if it was low (possibly going over the limit; later
    /// requests then wait). Calling it again adjusts relative to the last call.
    pub async fn reconcile(&mut self, actual_tokens: u64) -> Result<(), LimitError> {
        let delta = token_delta(self.charged_tokens, actual_tokens);
        if delta != 0 && self.lease.charges_tokens() {
            if let Some(backend) = &self.backend {
                backend.adjust_tokens(&self.lease, delta).await?;
            }
        }
        self.charged_tokens = actual_tokens;
        Ok(())
    }

    /// Reconciles with `actual_tokens` and frees the concurrency slots without waiting: the sync
    /// counterpart of [`Permit::reconcile`] followed by a drop, for callers that cannot await
    /// (with Redis it runs on the limiter's task tracker; failures are logged and counted).
    pub fn settle(mut self, actual_tokens: u64) {
        let delta = token_delta(self.charged_tokens, actual_tokens);
        if let Some(backend) = self.backend.take() {
            let lease = std::mem::take(&mut self.lease);
            let delta = if lease.charges_tokens() { delta } else { 0 };
            if delta != 0 || lease.holds_slots() {
                backend.finish_in_background(lease, delta);
            }
        }
        self.charged_tokens = actual_tokens;
    }

    /// Frees the concurrency slots now and waits until that is done (dropping does the same in
    /// the background).
    pub async fn release(mut self) {
        if let Some(backend) = self.backend.take() {
            let lease = std::mem::take(&mut self.lease);
            if lease.holds_slots() {
                backend.release_now(lease).await;
            }
        }
    }
}

/// `actual − charged`, saturated to `i64`.
fn token_delta(charged: u64, actual: u64) -> i64 {
    let delta = i128::from(actual) - i128::from(charged);
    i64::try_from(delta).unwrap_or(if delta > 0 { i64::MAX } else { i64::MIN })
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(backend) = self.backend.take() {
            let lease = std::mem::take(&mut self.lease);
            if lease.holds_slots() {
                backend.finish_in_background(lease, 0);
            }
        }
    }
}
