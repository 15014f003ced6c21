//! The `x-ratelimit-*` headers OpenAI sends, computed from the tightest limit that applies.

use std::time::Duration;

/// The numbers behind the `x-ratelimit-*` headers. Each triple comes from the tightest limit of
/// its kind among the subjects checked (the one with the fewest units remaining); a triple whose
/// `limit_*` is `None` had no such limit and is not rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `x-ratelimit-limit-requests`: the requests-per-minute limit.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`: requests still available now.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`: time until the request budget is full again.
    pub reset_requests: Duration,
    /// `x-ratelimit-limit-tokens`: the tokens-per-minute limit.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`: tokens still available now.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`: time until the token budget is full again.
    pub reset_tokens: Duration,
}

/// One (limit, remaining, reset) reading, as both limiters report it for each bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: u64,
}

impl RateLimitHeaders {
    /// Header names and values in OpenAI's format, e.g.
    /// `("x-ratelimit-reset-requests", "6m0s")`. Triples without a limit are left out.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::with_capacity(6);
        if let (Some(limit), Some(remaining)) = (self.limit_requests, self.remaining_requests) {
            pairs.push(("x-ratelimit-limit-requests", limit.to_string()));
            pairs.push(("x-ratelimit-remaining-requests", remaining.to_string()));
            pairs.push((
                "x-ratelimit-reset-requests",
                go_duration(self.reset_requests),
            ));
        }
        if let (Some(limit), Some(remaining)) = (self.limit_tokens, self.remaining_tokens) {
            pairs.push(("x-ratelimit-limit-tokens", limit.to_string()));
            pairs.push(("x-ratelimit-remaining-tokens", remaining.to_string()));
            pairs.push(("x-ratelimit-reset-tokens", go_duration(self.reset_tokens)));
        }
        pairs
    }

    /// Keeps the requests reading if it is tighter than the current one.
    pub(crate) fn offer_requests(&mut self, r: Reading) {
        if self.remaining_requests.is_none_or(|cur| r.remaining < cur) {
            self.limit_requests = Some(r.limit);
            self.remaining_requests = Some(r.remaining);
            self.reset_requests = Duration::from_millis(r.reset_ms);
        }
    }

    /// Keeps the tokens reading if it is tighter than the current one.
    pub(crate) fn offer_tokens(&mut self, r: Reading) {
        if self.remaining_tokens.is_none_or(|cur| r.remaining < cur) {
            self.limit_tokens = Some(r.limit);
            self.remaining_tokens = Some(r.remaining);
            self.reset_tokens = Duration::from_millis(r.reset_ms);
        }
    }
}

/// The value of a `retry-after` header for a wait: whole seconds, rounded up, at least 1 (HTTP's
/// delay-seconds form has no fractions, and `0` invites an immediate retry storm).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Formats a duration the way Go's `time.Duration.String` does, which is what OpenAI's reset
/// headers use: `0s`, `250ns`, `1.5µs`, `12ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, per) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", with_fraction(nanos, per));
    }
    let total_secs = nanos / 1_000_000_000;
    let frac_nanos = nanos % 1_000_000_000;
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let seconds = with_fraction(
        (total_secs % 60) * 1_000_000_000 + frac_nanos,
        1_000_000_000,
    );
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / per` with the fractional part printed without trailing zeros.
fn with_fraction(value: u128, per: u128) -> String {
    let whole = value / per;
    let frac = value % per;
    if frac == 0 {
        return whole.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(250), "250ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(12), "12ms"),
            (Duration::from_micros(12_500), "12.5ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_millis(59_999), "59.999s"),
            (Duration::from_secs(360), "6m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3_600), "1h0m0s"),
            (Duration::from_millis(3_723_040), "1h2m3.04s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2_001)), 3);
    }

    #[test]
    fn renders_only_triples_that_have_a_limit() {
        let mut h = RateLimitHeaders::default();
        assert!(h.to_pairs().is_empty());
        h.offer_requests(Reading {
            limit: 60,
            remaining: 59,
            reset_ms: 1_000,
        });
        h.offer_requests(Reading {
            limit: 600,
            remaining: 599,
            reset_ms: 100,
        });
        assert_eq!(
            h.to_pairs(),
            vec![
                ("x-ratelimit-limit-requests", "60".to_owned()),
                ("x-ratelimit-remaining-requests", "59".to_owned()),
                ("x-ratelimit-reset-requests", "1s".to_owned()),
            ]
        );
    }
}
