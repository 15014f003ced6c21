//! The Redis scripts and the pure translation between checks and script arguments/replies.

use crate::headers::{RateLimitHeaders, Reading};
use crate::limits::{Dimension, Planned};
use crate::permit::{Lease, LeasedKey};
use std::sync::Arc;
use std::time::Duration;

/// Checks and charges every bucket of one request (see the file's header).
pub(crate) const ACQUIRE_LUA: &str = include_str!("acquire.lua");
/// Charges or refunds tokens after the real usage is known.
pub(crate) const RECONCILE_LUA: &str = include_str!("reconcile.lua");

/// One Redis key the acquire script reads, and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketKey {
    /// Index of the subject in the planned checks.
    pub check: usize,
    pub dimension: Dimension,
    pub limit: u64,
    pub redis_key: String,
}

/// The Redis key of a subject's bucket for one dimension.
pub(crate) fn redis_key(prefix: &str, subject: &str, dimension: Dimension) -> String {
    let suffix = match dimension {
        Dimension::RequestsPerMinute => "r",
        Dimension::TokensPerMinute => "t",
        Dimension::MaxConcurrent => "c",
    };
    format!("{prefix}{subject}:{suffix}")
}

/// The buckets of the planned checks, in script order.
pub(crate) fn bucket_keys(prefix: &str, planned: &[Planned<'_>]) -> Vec<BucketKey> {
    let mut keys = Vec::with_capacity(planned.len() * 3);
    for (check, c) in planned.iter().enumerate() {
        let dims = [
            (Dimension::RequestsPerMinute, c.limits.requests_per_minute),
            (Dimension::TokensPerMinute, c.limits.tokens_per_minute),
            (Dimension::MaxConcurrent, c.limits.max_concurrent),
        ];
        for (dimension, limit) in dims {
            if let Some(limit) = limit {
                let redis_key = redis_key(prefix, c.key, dimension);
                keys.push(BucketKey {
                    check,
                    dimension,
                    limit,
                    redis_key,
                });
            }
        }
    }
    keys
}

/// The kind letter the script expects for a dimension.
pub(crate) fn kind(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::RequestsPerMinute => "r",
        Dimension::TokensPerMinute => "t",
        Dimension::MaxConcurrent => "c",
    }
}

/// The acquire script's answer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Granted {
        headers: RateLimitHeaders,
    },
    Denied {
        bucket: usize,
        retry_after: Duration,
        headers: RateLimitHeaders,
    },
}

/// Decodes the acquire script's reply; `None` when it does not have the documented shape.
pub(crate) fn decode(reply: &[i64], keys: &[BucketKey]) -> Option<Outcome> {
    if reply.len() != 3 + 2 * keys.len() {
        return None;
    }
    let mut headers = RateLimitHeaders::default();
    for (i, key) in keys.iter().enumerate() {
        let remaining = u64::try_from(reply[3 + 2 * i]).ok()?;
        let reset_ms = u64::try_from(reply[4 + 2 * i]).ok()?;
        let reading = Reading {
            limit: key.limit,
            remaining,
            reset_ms,
        };
        match key.dimension {
            Dimension::RequestsPerMinute => headers.offer_requests(reading),
            Dimension::TokensPerMinute => headers.offer_tokens(reading),
            Dimension::MaxConcurrent => {}
        }
    }
    match reply[0] {
        1 => Some(Outcome::Granted { headers }),
        0 => {
            let bucket = usize::try_from(reply[1]).ok()?.checked_sub(1)?;
            if bucket >= keys.len() {
                return None;
            }
            let retry_after = Duration::from_millis(u64::try_from(reply[2]).ok()?);
            Some(Outcome::Denied {
                bucket,
                retry_after,
                headers,
            })
        }
        _ => None,
    }
}

/// What a granted request holds, per subject.
pub(crate) fn lease(planned: &[Planned<'_>], request_id: String) -> Lease {
    let keys = planned
        .iter()
        .map(|c| LeasedKey {
            key: Arc::from(c.key),
            tokens_limit: c.limits.tokens_per_minute,
            holds_slot: c.limits.max_concurrent.is_some(),
        })
        .collect();
    Lease { keys, request_id }
}

/// Headers when Redis could not be asked and the limiter fails open: the configured limits,
/// with nothing known to be used.
pub(crate) fn optimistic_headers(planned: &[Planned<'_>]) -> RateLimitHeaders {
    let mut headers = RateLimitHeaders::default();
    for c in planned {
        if let Some(limit) = c.limits.requests_per_minute {
            headers.offer_requests(Reading {
                limit,
                remaining: limit,
                reset_ms: 0,
            });
        }
        if let Some(limit) = c.limits.tokens_per_minute {
            headers.offer_tokens(Reading {
                limit,
                remaining: limit,
                reset_ms: 0,
            });
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    impl Planned<'static> {
        fn new(key: &'static str, limits: Limits) -> Self {
            Planned { key, limits }
        }
    }

    fn planned() -> Vec<Planned<'static>> {
        vec![
            Planned::new(
                "key:1",
                Limits {
                    requests_per_minute: Some(10),
                    max_concurrent: Some(2),
                    ..Limits::default()
                },
            ),
            Planned::new(
                "org:1",
                Limits {
                    tokens_per_minute: Some(1000),
                    ..Limits::default()
                },
            ),
        ]
    }

    #[test]
    fn keys_follow_the_checks() {
        let keys = bucket_keys("p:", &planned());
        let names: Vec<_> = keys.iter().map(|k| k.redis_key.as_str()).collect();
        assert_eq!(names, ["p:key:1:r", "p:key:1:c", "p:org:1:t"]);
    }

    #[test]
    fn decodes_grants_and_denials() {
        let keys = bucket_keys("p:", &planned());
        let granted = decode(&[1, 0, 0, 9, 6000, 1, 0, 500, 30000], &keys);
        let Some(Outcome::Granted { headers }) = granted else {
            panic!("{granted:?}")
        };
        assert_eq!(headers.remaining_requests, Some(9));
        assert_eq!(headers.remaining_tokens, Some(500));
        assert_eq!(headers.reset_tokens, Duration::from_secs(30));

        let denied = decode(&[0, 3, 250, 9, 6000, 1, 0, 0, 60000], &keys);
        let Some(Outcome::Denied {
            bucket,
            retry_after,
            ..
        }) = denied
        else {
            panic!()
        };
        assert_eq!((bucket, retry_after), (2, Duration::from_millis(250)));
    }

    #[test]
    fn refuses_malformed_replies() {
        let keys = bucket_keys("p:", &planned());
        assert_eq!(decode(&[1, 0, 0], &keys), None);
        assert_eq!(decode(&[0, 0, 0, 9, 6000, 1, 0, 500, 30000], &keys), None);
        assert_eq!(decode(&[0, 4, 0, 9, 6000, 1, 0, 500, 30000], &keys), None);
        assert_eq!(decode(&[2, 0, 0, 9, 6000, 1, 0, 500, 30000], &keys), None);
    }
}
