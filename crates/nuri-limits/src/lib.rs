//! Rate limits for Nuri that hold across replicas.
//!
//! The gateway builds one [`LimitCheck`] per subject a request counts against (its key,
//! project, organisation and model) and calls [`RateLimiter::acquire`] once: every check is
//! tested and charged atomically, all or nothing. A [`Permit`] comes back on success (reconcile
//! it with the real token usage; drop it to free concurrency slots), a [`Denial`] with
//! `retry-after` and the `x-ratelimit-*` headers otherwise.
//!
//! Two implementations pass the same conformance suite (`tests/conformance.rs`):
//! - [`InProcessLimiter`]: the default, per process, lock-light, no I/O;
//! - [`RedisLimiter`]: shared by every replica through one atomic Lua script per acquire, on
//!   Redis server time; fails closed ([`LimitError::Unavailable`]) unless told to fail open.
//!
//! The math (GCRA, integer-exact) is in `bucket.rs`; `docs/limits.md` explains the design.

mod bucket;
mod clock;
mod error;
mod fasthash;
mod headers;
mod in_process;
mod limits;
mod permit;
mod redis_store;
mod stage;

pub use bucket::WINDOW_MS;
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use error::LimitError;
pub use headers::{go_duration, retry_after_seconds, RateLimitHeaders};
pub use in_process::{InProcessLimiter, CONCURRENCY_RETRY_AFTER};
pub use limits::{Dimension, LimitCheck, Limits, MAX_LIMIT};
pub use permit::{Admission, Denial, Permit};
pub use redis_store::{FailureMode, LimiterCounters, RedisLimiter, RedisLimiterConfig};
pub use stage::LimitsStage;

use async_trait::async_trait;

/// A rate limiter shared by every request of the gateway.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Atomically checks and consumes every check (all or nothing): one request and
    /// `estimated_tokens` tokens against each subject, plus a concurrency slot where
    /// `max_concurrent` is set. Repeated keys are merged (the tightest limits win).
    async fn acquire(
        &self,
        checks: &[LimitCheck],
        estimated_tokens: u64,
    ) -> Result<Admission, LimitError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn the_gateway_can_share_limiters_and_hold_permits_across_awaits() {
        shareable::<Permit>();
        shareable::<Admission>();
        shareable::<InProcessLimiter>();
        shareable::<RedisLimiter>();
        shareable::<std::sync::Arc<dyn RateLimiter>>();
    }
}
