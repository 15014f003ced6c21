//! Routing resilience primitives for Nuri, pure and I/O-free so they are easy to test:
//!
//! - [`CircuitBreaker`]: one per route; closed → open (consecutive failures, or an error ratio over
//!   a rolling window with a minimum request count) → half-open (N probes) → closed on success.
//! - [`Backoff`]: exponential backoff with full jitter, honouring a server's `retry-after`, capped,
//!   within a per-request retry budget; [`retryable_status`] and [`parse_retry_after`].
//! - [`LatencyTracker`]: a peak-EWMA of latency plus the in-flight count, giving the load that
//!   power-of-two-choices balancing compares.
//! - [`pick_route`]: the lowest priority group with an available route, then weighted random or
//!   latency-aware power of two choices; [`route_order`] gives a request's whole try order.
//!
//! Time is always a parameter (`now: Instant`) and randomness an `&mut impl Rng`, so tests are
//! deterministic. The callers (the gateway's router) hold these behind their own locks and do the
//! I/O; nothing here blocks, sleeps or spawns.

mod backoff;
mod breaker;
mod latency;
mod pick;
mod window;

pub use backoff::{
    parse_retry_after, retryable_status, Backoff, BackoffConfig, BackoffConfigError,
    RetryBudgetExhausted,
};
pub use breaker::{
    Attempt, BreakerConfig, BreakerConfigError, BreakerOpen, BreakerState, CircuitBreaker, Outcome,
};
pub use latency::LatencyTracker;
pub use pick::{pick_route, route_order, Balancing, Candidate};
