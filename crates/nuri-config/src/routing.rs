//! `[routing]`: how the gateway retries a failing route and when it stops sending to one.
//!
//! ```toml
//! [routing]
//! retry = { max_retries = 2, base_ms = 100, max_delay_ms = 2000, max_total_delay_ms = 5000 }
//! breaker = { consecutive_failures = 5, error_ratio = 0.5, window_ms = 30000,
//!             min_requests = 20, cool_down_ms = 30000, half_open_probes = 1 }
//! health_check_interval_ms = 0   # active health checks; 0 or absent: off
//! ```
//! Every key is optional; the defaults are the values above (see `docs/routing.md`).

use std::time::Duration;

use crate::raw::{RawBreaker, RawRetry, RawRouting};
use crate::validate::{invalid, ConfigError};

/// Validated `[routing]` settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingConfig {
    /// Retry budget and backoff.
    pub retry: RetrySettings,
    /// Per-route circuit breaker.
    pub breaker: BreakerSettings,
    /// How often every route is checked actively (`None`: never).
    pub health_check_interval: Option<Duration>,
}

/// Retry budget and exponential backoff (full jitter) of one request on one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Re-sends to a route already tried by the request (moving to an untried route is free).
    pub max_retries: u32,
    /// The first retry waits up to this long; each later one up to twice the previous ceiling.
    pub base: Duration,
    /// No single wait is longer; a provider `retry-after` above it ends the retries.
    pub max_delay: Duration,
    /// Most waiting in total.
    pub max_total_delay: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_total_delay: Duration::from_secs(5),
        }
    }
}

/// When a route's circuit breaker opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Open after this many failures in a row (0: rule off).
    pub consecutive_failures: u32,
    /// Open when failures / outcomes over `window` reach this ratio, in `(0, 1]`...
    pub error_ratio: f64,
    /// ...over this rolling window...
    pub window: Duration,
    /// ...once the window holds at least this many outcomes.
    pub min_requests: u32,
    /// How long an open breaker refuses before letting probes through.
    pub cool_down: Duration,
    /// Probes in flight at once while half-open (at least 1).
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_ratio: 0.5,
            window: Duration::from_secs(30),
            min_requests: 20,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

/// Validates `[routing]`; errors name the key.
pub(crate) fn validate_routing(raw: RawRouting, file: &str) -> Result<RoutingConfig, ConfigError> {
    Ok(RoutingConfig {
        retry: validate_retry(raw.retry.unwrap_or_default(), file)?,
        breaker: validate_breaker(raw.breaker.unwrap_or_default(), file)?,
        health_check_interval: raw
            .health_check_interval_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
    })
}

fn validate_retry(raw: RawRetry, file: &str) -> Result<RetrySettings, ConfigError> {
    let d = RetrySettings::default();
    let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
    let s = RetrySettings {
        max_retries: raw.max_retries.unwrap_or(d.max_retries),
        base: ms(raw.base_ms, d.base),
        max_delay: ms(raw.max_delay_ms, d.max_delay),
        max_total_delay: ms(raw.max_total_delay_ms, d.max_total_delay),
    };
    if s.max_retries > 10 {
        return Err(invalid(
            file,
            "routing.retry.max_retries",
            "must be at most 10",
        ));
    }
    if s.base > s.max_delay {
        return Err(invalid(
            file,
            "routing.retry.base_ms",
            "must not exceed routing.retry.max_delay_ms",
        ));
    }
    Ok(s)
}

fn validate_breaker(raw: RawBreaker, file: &str) -> Result<BreakerSettings, ConfigError> {
    let d = BreakerSettings::default();
    let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
    let s = BreakerSettings {
        consecutive_failures: raw.consecutive_failures.unwrap_or(d.consecutive_failures),
        error_ratio: raw.error_ratio.unwrap_or(d.error_ratio),
        window: ms(raw.window_ms, d.window),
        min_requests: raw.min_requests.unwrap_or(d.min_requests),
        cool_down: ms(raw.cool_down_ms, d.cool_down),
        half_open_probes: raw.half_open_probes.unwrap_or(d.half_open_probes),
    };
    if !(s.error_ratio > 0.0 && s.error_ratio <= 1.0) {
        return Err(invalid(
            file,
            "routing.breaker.error_ratio",
            format!("must be in (0, 1], got {}", s.error_ratio),
        ));
    }
    if s.window.is_zero() {
        return Err(invalid(
            file,
            "routing.breaker.window_ms",
            "must be greater than zero",
        ));
    }
    if s.cool_down.is_zero() {
        return Err(invalid(
            file,
            "routing.breaker.cool_down_ms",
            "must be greater than zero",
        ));
    }
    if s.half_open_probes == 0 {
        return Err(invalid(
            file,
            "routing.breaker.half_open_probes",
            "must be at least 1, or an open breaker could never close",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::Config;

    fn load(toml: &str) -> Result<Config, String> {
        Config::from_toml(toml, "t.toml", &HashMap::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_without_a_routing_table() {
        let cfg = load("").unwrap();
        assert_eq!(cfg.routing, super::RoutingConfig::default());
        assert_eq!(cfg.routing.retry.max_retries, 2);
    }

    #[test]
    fn reads_retry_and_breaker_settings() {
        let cfg = load(
            "[routing]\nretry = { max_retries = 3, base_ms = 10, max_delay_ms = 50 }\n\
             breaker = { consecutive_failures = 2, cool_down_ms = 200, half_open_probes = 2 }\n",
        )
        .unwrap();
        assert_eq!(cfg.routing.retry.max_retries, 3);
        assert_eq!(cfg.routing.retry.base, Duration::from_millis(10));
        assert_eq!(cfg.routing.breaker.consecutive_failures, 2);
        assert_eq!(cfg.routing.breaker.cool_down, Duration::from_millis(200));
        assert_eq!(cfg.routing.breaker.half_open_probes, 2);
        assert_eq!(cfg.routing.breaker.min_requests, 20);
        assert_eq!(cfg.routing.health_check_interval, None);
        let cfg = load("[routing]\nhealth_check_interval_ms = 1500").unwrap();
        assert_eq!(
            cfg.routing.health_check_interval,
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (toml, key) in [
            (
                "[routing]\nbreaker = { error_ratio = 1.5 }",
                "routing.breaker.error_ratio",
            ),
            (
                "[routing]\nbreaker = { half_open_probes = 0 }",
                "routing.breaker.half_open_probes",
            ),
            (
                "[routing]\nretry = { base_ms = 5000, max_delay_ms = 10 }",
                "routing.retry.base_ms",
            ),
            ("[routing]\nretry = { tries = 1 }", "tries"),
        ] {
            let err = load(toml).unwrap_err();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }
}
