//! [`Backoff`]: how long to wait before retrying a request, and when to stop.
//!
//! Exponential with *full jitter* (AWS' recommendation: the delay is uniform in
//! `[0, min(max_delay, base × 2^retry)]`, which spreads synchronised clients best), never shorter
//! than a `retry-after` the provider sent, and within a per-request budget of retries and of total
//! waiting. The caller must not retry once the first byte of an answer reached the client.

use rand::Rng;
use std::time::Duration;

/// How retries of one request back off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first retry waits up to this long.
    pub base: Duration,
    /// No single wait is longer than this; a provider asking for longer ends the retries.
    pub max_delay: Duration,
    /// At most this many retries per request (the retry budget).
    pub max_retries: u32,
    /// At most this much waiting in total per request.
    pub max_total_delay: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retries: 2,
            max_total_delay: Duration::from_secs(20),
        }
    }
}

/// A backoff configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffConfigError {
    /// `base` must not exceed `max_delay`.
    #[error("base ({base:?}) exceeds max_delay ({max_delay:?})")]
    BaseOverCap {
        /// The configured base.
        base: Duration,
        /// The configured cap.
        max_delay: Duration,
    },
}

impl BackoffConfig {
    /// Checks the configuration can work.
    pub fn validate(&self) -> Result<(), BackoffConfigError> {
        if self.base > self.max_delay {
            return Err(BackoffConfigError::BaseOverCap {
                base: self.base,
                max_delay: self.max_delay,
            });
        }
        Ok(())
    }
}

/// Why no further retry should be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetryBudgetExhausted {
    /// `max_retries` retries were already made.
    #[error("retry budget spent ({0} retries)")]
    Retries(u32),
    /// The provider asked to wait longer than `max_delay`.
    #[error("provider asked to wait {0:?}, longer than allowed")]
    ServerWaitTooLong(Duration),
    /// Waiting again would exceed `max_total_delay`.
    #[error("total retry delay would exceed {0:?}")]
    TotalDelay(Duration),
}

/// The retry state of one request.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    retries: u32,
    waited: Duration,
}

impl Backoff {
    /// A fresh budget for one request.
    pub fn new(config: BackoffConfig) -> Result<Self, BackoffConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            retries: 0,
            waited: Duration::ZERO,
        })
    }

    /// Retries granted so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Total delay granted so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The wait before the next retry, honouring the provider's `retry-after` if it sent one,
    /// or why there should be none. Each `Ok` spends one retry from the budget.
    pub fn next_delay<R: Rng + ?Sized>(
        &mut self,
        server_retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Result<Duration, RetryBudgetExhausted> {
        if self.retries >= self.config.max_retries {
            return Err(RetryBudgetExhausted::Retries(self.retries));
        }
        if let Some(wait) = server_retry_after {
            if wait > self.config.max_delay {
                return Err(RetryBudgetExhausted::ServerWaitTooLong(wait));
            }
        }
        let ceiling = self.ceiling();
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(rng.gen_range(0..=ceiling_nanos));
        let delay = jittered.max(server_retry_after.unwrap_or(Duration::ZERO));
        let waited = self.waited.saturating_add(delay);
        if waited > self.config.max_total_delay {
            return Err(RetryBudgetExhausted::TotalDelay(
                self.config.max_total_delay,
            ));
        }
        self.retries += 1;
        self.waited = waited;
        Ok(delay)
    }

    /// `min(max_delay, base × 2^retries)`.
    fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.retries).unwrap_or(u32::MAX);
        self.config
            .base
            .saturating_mul(factor)
            .min(self.config.max_delay)
    }
}

/// Whether an upstream HTTP status is worth retrying: 429, 500, 502, 503, 504 and 529
/// (Anthropic's "overloaded"). Connect errors and timeouts before the first byte are retryable
/// too; the caller knows those without a status.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 529)
}

/// Parses a `retry-after` header in its delay-seconds form (`"2"`, `"0.5"`); `None` for
/// anything else (the HTTP-date form is not used by the providers Nuri speaks to).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if (0.0..=86_400.0).contains(&seconds) {
        Some(Duration::from_secs_f64(seconds))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn config() -> BackoffConfig {
        BackoffConfig {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retries: 3,
            max_total_delay: Duration::from_secs(2),
        }
    }

    #[test]
    fn stops_when_the_retry_budget_is_spent() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Backoff::new(config()).unwrap();
        for _ in 0..3 {
            b.next_delay(None, &mut rng).unwrap();
        }
        assert_eq!(
            b.next_delay(None, &mut rng),
            Err(RetryBudgetExhausted::Retries(3))
        );
    }

    #[test]
    fn honours_the_providers_retry_after_within_the_cap() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut b = Backoff::new(config()).unwrap();
        let wait = Duration::from_millis(700);
        assert!(b.next_delay(Some(wait), &mut rng).unwrap() >= wait);
        let too_long = Duration::from_secs(5);
        assert_eq!(
            b.next_delay(Some(too_long), &mut rng),
            Err(RetryBudgetExhausted::ServerWaitTooLong(too_long))
        );
        assert_eq!(b.retries(), 1);
    }

    #[test]
    fn total_delay_is_capped() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut b = Backoff::new(config()).unwrap();
        let wait = Duration::from_millis(900);
        b.next_delay(Some(wait), &mut rng).unwrap();
        b.next_delay(Some(wait), &mut rng).unwrap();
        assert_eq!(
            b.next_delay(Some(wait), &mut rng),
            Err(RetryBudgetExhausted::TotalDelay(Duration::from_secs(2)))
        );
    }

    #[test]
    fn parses_delay_seconds_only() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("NaN"), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504, 529] {
            assert!(retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 413, 501] {
            assert!(!retryable_status(s));
        }
    }

    #[test]
    fn rejects_a_base_over_the_cap() {
        let bad = BackoffConfig {
            base: Duration::from_secs(2),
            ..config()
        };
        assert!(Backoff::new(bad).is_err());
    }

    proptest! {
        #[test]
        fn delays_respect_jitter_bounds_and_budget(
            seed in any::<u64>(),
            hints in prop::collection::vec(prop::option::of(0u64..1_500), 1..10),
        ) {
            let cfg = config();
            let mut rng = StdRng::seed_from_u64(seed);
            let mut b = Backoff::new(cfg.clone()).unwrap();
            let mut total = Duration::ZERO;
            let mut granted = 0u32;
            for hint in hints {
                let hint = hint.map(Duration::from_millis);
                let ceiling = cfg.base.saturating_mul(1 << b.retries()).min(cfg.max_delay);
                match b.next_delay(hint, &mut rng) {
                    Ok(d) => {
                        granted += 1;
                        prop_assert!(granted <= cfg.max_retries);
                        prop_assert!(d <= ceiling.max(hint.unwrap_or_default()));
                        prop_assert!(d <= cfg.max_delay);
                        prop_assert!(d >= hint.unwrap_or_default());
                        total += d;
                        prop_assert!(total <= cfg.max_total_delay);
                    }
                    Err(RetryBudgetExhausted::ServerWaitTooLong(w)) => prop_assert!(w > cfg.max_delay),
                    Err(_) => {}
                }
                prop_assert_eq!(b.waited(), total);
                prop_assert_eq!(b.retries(), granted);
            }
        }
    }
}
