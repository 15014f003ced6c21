//! One suite, run against both limiters: limits hold, all or nothing, reconcile refunds and
//! charges, concurrency slots come back, headers and retry-after are right.
//!
//! Every case uses fresh subject keys; the Redis backend also gets a fresh key prefix that is
//! deleted afterwards, so the suite passes when run repeatedly against the same Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use nuri_limits::{
    Admission, Denial, Dimension, InProcessLimiter, LimitCheck, Limits, Permit, RateLimiter,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A limiter under test, and what to clean up after it.
struct Harness {
    limiter: Arc<dyn RateLimiter>,
    redis_prefix: Option<String>,
}

impl Harness {
    fn in_process() -> Self {
        Self {
            limiter: Arc::new(InProcessLimiter::new()),
            redis_prefix: None,
        }
    }

    fn redis() -> Self {
        let prefix = common::fresh_prefix();
        Self {
            limiter: Arc::new(common::redis_limiter(&prefix)),
            redis_prefix: Some(prefix),
        }
    }

    async fn cleanup(self) {
        drop(self.limiter);
        if let Some(prefix) = self.redis_prefix {
            // Give background slot releases a moment, then remove everything.
            tokio::time::sleep(Duration::from_millis(20)).await;
            common::cleanup(&prefix).await;
        }
    }

    async fn acquire(&self, checks: &[LimitCheck], tokens: u64) -> Admission {
        self.limiter.acquire(checks, tokens).await.unwrap()
    }

    async fn grant(&self, checks: &[LimitCheck], tokens: u64) -> Permit {
        match self.acquire(checks, tokens).await {
            Admission::Granted(p) => p,
            Admission::Denied(d) => panic!("unexpected denial: {d:?}"),
        }
    }

    async fn deny(&self, checks: &[LimitCheck], tokens: u64) -> Denial {
        match self.acquire(checks, tokens).await {
            Admission::Granted(p) => panic!("unexpected grant: {p:?}"),
            Admission::Denied(d) => d,
        }
    }
}

fn subject(kind: &str) -> String {
    format!("{kind}:{}", uuid::Uuid::new_v4().simple())
}

fn rpm(n: u64) -> Limits {
    Limits {
        requests_per_minute: Some(n),
        ..Limits::default()
    }
}

fn tpm(n: u64) -> Limits {
    Limits {
        tokens_per_minute: Some(n),
        ..Limits::default()
    }
}

fn concurrent(n: u64) -> Limits {
    Limits {
        max_concurrent: Some(n),
        ..Limits::default()
    }
}

async fn requests_per_minute_hold(h: &Harness) {
    let key = subject("key");
    let check = [LimitCheck::new(&key, rpm(5))];
    for _ in 0..5 {
        h.grant(&check, 0).await;
    }
    let denial = h.deny(&check, 0).await;
    assert_eq!(denial.dimension, Dimension::RequestsPerMinute);
    assert_eq!(denial.limited_by, format!("{key} requests_per_minute"));
    assert_eq!(denial.key, key);
    // One request refills every 12 s.
    assert!(denial.retry_after > Duration::from_secs(11), "{denial:?}");
    assert!(denial.retry_after <= Duration::from_secs(12), "{denial:?}");
    assert_eq!(denial.headers.remaining_requests, Some(0));
}

async fn tokens_per_minute_hold(h: &Harness) {
    let key = subject("org");
    let check = [LimitCheck::new(&key, tpm(1_000))];
    h.grant(&check, 600).await;
    let denial = h.deny(&check, 600).await;
    assert_eq!(denial.dimension, Dimension::TokensPerMinute);
    // 200 tokens missing at 1000/min: about 12 s.
    assert!(denial.retry_after > Duration::from_secs(11), "{denial:?}");
    assert!(denial.retry_after <= Duration::from_secs(12), "{denial:?}");
    h.grant(&check, 400).await;
    // An estimate above the limit can never fit: a whole window.
    let too_big = [LimitCheck::new(subject("org"), tpm(1_000))];
    assert_eq!(
        h.deny(&too_big, 1_001).await.retry_after,
        Duration::from_secs(60)
    );
}

async fn all_or_nothing(h: &Harness) {
    let (key_a, key_b, org) = (subject("key"), subject("key"), subject("org"));
    let a_and_org = [
        LimitCheck::new(&key_a, rpm(10)),
        LimitCheck::new(&org, rpm(1)),
    ];
    h.grant(&a_and_org, 0).await;
    let denial = h.deny(&a_and_org, 0).await;
    assert_eq!(denial.key, org);
    let denial = h
        .deny(
            &[
                LimitCheck::new(&key_b, rpm(10)),
                LimitCheck::new(&org, rpm(1)),
            ],
            0,
        )
        .await;
    assert_eq!(denial.key, org);
    // The refused requests charged neither key_a nor key_b.
    let permit = h.grant(&[LimitCheck::new(&key_a, rpm(10))], 0).await;
    assert_eq!(permit.headers.remaining_requests, Some(8));
    let permit = h.grant(&[LimitCheck::new(&key_b, rpm(10))], 0).await;
    assert_eq!(permit.headers.remaining_requests, Some(9));
    // A concurrency refusal charges no tokens or requests either.
    let busy = subject("model");
    let _slot = h.grant(&[LimitCheck::new(&busy, concurrent(1))], 0).await;
    let key_c = subject("key");
    let both = [
        LimitCheck::new(
            &key_c,
            Limits {
                tokens_per_minute: Some(100),
                ..rpm(10)
            },
        ),
        LimitCheck::new(&busy, concurrent(1)),
    ];
    let denial = h.deny(&both, 50).await;
    assert_eq!(denial.dimension, Dimension::MaxConcurrent);
    let permit = h.grant(&[LimitCheck::new(&key_c, tpm(100))], 100).await;
    assert_eq!(permit.headers.remaining_tokens, Some(0));
}

async fn repeated_keys_are_charged_once(h: &Harness) {
    let key = subject("key");
    let twice = [LimitCheck::new(&key, rpm(2)), LimitCheck::new(&key, rpm(3))];
    h.grant(&twice, 0).await;
    h.grant(&twice, 0).await;
    assert_eq!(h.deny(&twice, 0).await.key, key);
}

async fn reconcile_refunds(h: &Harness) {
    let check = [LimitCheck::new(subject("key"), tpm(1_000))];
    let mut permit = h.grant(&check, 800).await;
    h.deny(&check, 800).await;
    permit.reconcile(100).await.unwrap();
    assert_eq!(permit.charged_tokens(), 100);
    h.grant(&check, 800).await;
}

async fn reconcile_charges(h: &Harness) {
    let check = [LimitCheck::new(subject("key"), tpm(1_000))];
    let mut permit = h.grant(&check, 100).await;
    permit.reconcile(900).await.unwrap();
    h.deny(&check, 200).await;
    h.grant(&check, 50).await;
    // Going over the limit is allowed after the fact; later requests then wait longer.
    permit.reconcile(2_000).await.unwrap();
    let denial = h.deny(&check, 1).await;
    assert!(denial.retry_after > Duration::from_secs(60), "{denial:?}");
}

async fn settle_reconciles_and_releases_without_awaiting(h: &Harness) {
    let limits = Limits {
        tokens_per_minute: Some(1_000),
        ..concurrent(1)
    };
    let check = [LimitCheck::new(subject("key"), limits)];
    let permit = h.grant(&check, 800).await;
    let denial = h.deny(&check, 100).await;
    assert_eq!(denial.dimension, Dimension::MaxConcurrent);
    permit.settle(100);
    // With Redis the settlement runs in the background: wait for it.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match h.acquire(&check, 800).await {
            Admission::Granted(p) => {
                assert_eq!(p.headers.remaining_tokens, Some(100));
                break;
            }
            Admission::Denied(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Admission::Denied(d) => panic!("never settled: {d:?}"),
        }
    }
}

async fn concurrency_slots_come_back(h: &Harness) {
    let check = [LimitCheck::new(subject("key"), concurrent(2))];
    let first = h.grant(&check, 0).await;
    let second = h.grant(&check, 0).await;
    let denial = h.deny(&check, 0).await;
    assert_eq!(denial.dimension, Dimension::MaxConcurrent);
    assert_eq!(denial.retry_after, Duration::from_secs(1));
    first.release().await;
    let third = h.grant(&check, 0).await;
    h.deny(&check, 0).await;
    // Dropping frees the slot too (in the background for Redis).
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match h.acquire(&check, 0).await {
            Admission::Granted(_) => break,
            Admission::Denied(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Admission::Denied(d) => panic!("slot never came back: {d:?}"),
        }
    }
    drop(third);
}

async fn headers_come_from_the_tightest_limit(h: &Harness) {
    let key = subject("key");
    let project = subject("project");
    let checks = [
        LimitCheck::new(
            &key,
            Limits {
                requests_per_minute: Some(60),
                ..tpm(1_000)
            },
        ),
        LimitCheck::new(
            &project,
            Limits {
                tokens_per_minute: Some(100_000),
                ..rpm(10)
            },
        ),
    ];
    let permit = h.grant(&checks, 100).await;
    let headers = permit.headers;
    assert_eq!(headers.limit_requests, Some(10));
    assert_eq!(headers.remaining_requests, Some(9));
    assert_eq!(headers.reset_requests, Duration::from_secs(6));
    assert_eq!(headers.limit_tokens, Some(1_000));
    assert_eq!(headers.remaining_tokens, Some(900));
    assert_eq!(headers.reset_tokens, Duration::from_secs(6));
    let pairs = headers.to_pairs();
    assert!(
        pairs.contains(&("x-ratelimit-reset-requests", "6s".to_owned())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("x-ratelimit-remaining-tokens", "900".to_owned())),
        "{pairs:?}"
    );
    // No limits at all: granted, nothing to report.
    let free = h
        .grant(&[LimitCheck::new(subject("key"), Limits::default())], 10)
        .await;
    assert!(free.headers.to_pairs().is_empty());
}

async fn retry_after_is_sensible(h: &Harness) {
    // 120/min: one request every 500 ms.
    let check = [LimitCheck::new(subject("key"), rpm(120))];
    for _ in 0..120 {
        h.grant(&check, 0).await;
    }
    let denial = h.deny(&check, 0).await;
    assert!(denial.retry_after > Duration::ZERO);
    assert!(
        denial.retry_after <= Duration::from_millis(500),
        "{denial:?}"
    );
    assert!(denial.headers.reset_requests <= Duration::from_secs(60));
    tokio::time::sleep(denial.retry_after + Duration::from_millis(30)).await;
    h.grant(&check, 0).await;
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            conformance!(@cases $make;
                requests_per_minute_hold,
                tokens_per_minute_hold,
                all_or_nothing,
                repeated_keys_are_charged_once,
                reconcile_refunds,
                reconcile_charges,
                concurrency_slots_come_back,
                settle_reconciles_and_releases_without_awaiting,
                headers_come_from_the_tightest_limit,
                retry_after_is_sensible,
            );
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let harness = $make;
                super::$case(&harness).await;
                harness.cleanup().await;
            }
        )*
    };
}

conformance!(in_process, Harness::in_process());
conformance!(redis, Harness::redis());
