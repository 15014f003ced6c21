//! What a caller asks the limiter to enforce: [`Limits`] per subject key ([`LimitCheck`]), and
//! the normalisation both limiters apply before checking ([`plan`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Limits largest than this are treated as this (10^11 per minute). It keeps every quantity the
/// Redis script handles below 2^53, where Lua's doubles are still exact integers.
pub const MAX_LIMIT: u64 = 100_000_000_000;

/// The limits set on one subject (a key, project, organisation or model). `None` means no limit.
///
/// Serialised as the contract's `limits` object:
/// `{"requests_per_minute"?, "tokens_per_minute"?, "max_concurrent"?}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute, refilled smoothly (burst = the per-minute amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Tokens (prompt + completion) per minute, refilled smoothly (burst = the per-minute amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u64>,
}

impl Limits {
    /// True when no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_minute.is_none()
            && self.tokens_per_minute.is_none()
            && self.max_concurrent.is_none()
    }

    /// The tighter of two sets of limits, field by field.
    pub fn tightest(self, other: Limits) -> Limits {
        fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Limits {
            requests_per_minute: min(self.requests_per_minute, other.requests_per_minute),
            tokens_per_minute: min(self.tokens_per_minute, other.tokens_per_minute),
            max_concurrent: min(self.max_concurrent, other.max_concurrent),
        }
    }

    fn clamped(self) -> Limits {
        Limits {
            requests_per_minute: self.requests_per_minute.map(|l| l.min(MAX_LIMIT)),
            tokens_per_minute: self.tokens_per_minute.map(|l| l.min(MAX_LIMIT)),
            max_concurrent: self.max_concurrent.map(|l| l.min(MAX_LIMIT)),
        }
    }
}

/// One subject to check and charge: its key (e.g. `key:<id>`, `project:<id>`, `org:<id>`,
/// `model:<name>`) and the limits currently configured for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitCheck {
    /// The subject's key; state is kept per key, so it must be stable and unique per subject.
    pub key: String,
    /// The limits to enforce for this subject, as configured now.
    pub limits: Limits,
}

impl LimitCheck {
    /// A check of `limits` against `key`.
    pub fn new(key: impl Into<String>, limits: Limits) -> Self {
        Self {
            key: key.into(),
            limits,
        }
    }
}

/// Which limit of a subject a number or a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// `requests_per_minute`.
    RequestsPerMinute,
    /// `tokens_per_minute`.
    TokensPerMinute,
    /// `max_concurrent`.
    MaxConcurrent,
}

impl Dimension {
    /// The field name used in the contract's `limits` object.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::RequestsPerMinute => "requests_per_minute",
            Dimension::TokensPerMinute => "tokens_per_minute",
            Dimension::MaxConcurrent => "max_concurrent",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject after normalisation, borrowing its key from the caller's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planned<'a> {
    pub key: &'a str,
    pub limits: Limits,
}

/// Normalises checks: drops subjects without limits, merges repeated keys (tightest limits win,
/// so one subject is never charged twice), and clamps limits to [`MAX_LIMIT`]. Order of first
/// appearance is kept.
pub(crate) fn plan(checks: &[LimitCheck]) -> Vec<Planned<'_>> {
    let mut out: Vec<Planned<'_>> = Vec::with_capacity(checks.len());
    for check in checks {
        if check.limits.is_unlimited() {
            continue;
        }
        let limits = check.limits.clamped();
        match out.iter_mut().find(|c| c.key == check.key) {
            Some(existing) => existing.limits = existing.limits.tightest(limits),
            None => out.push(Planned {
                key: &check.key,
                limits,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_merges_repeated_keys_and_drops_unlimited() {
        let a = Limits {
            requests_per_minute: Some(10),
            ..Limits::default()
        };
        let b = Limits {
            requests_per_minute: Some(5),
            tokens_per_minute: Some(7),
            ..a
        };
        let checks = [
            LimitCheck::new("key:1", a),
            LimitCheck::new("org:1", Limits::default()),
            LimitCheck::new("key:1", b),
        ];
        let planned = plan(&checks);
        assert_eq!(
            planned,
            vec![Planned {
                key: "key:1",
                limits: b
            }]
        );
    }

    #[test]
    fn limits_deserialise_from_the_contract_object() {
        let limits: Limits =
            serde_json::from_str(r#"{"requests_per_minute": 60, "max_concurrent": 2}"#).unwrap();
        assert_eq!(limits.requests_per_minute, Some(60));
        assert_eq!(limits.tokens_per_minute, None);
        assert!(serde_json::from_str::<Limits>(r#"{"rpm": 1}"#).is_err());
    }
}
