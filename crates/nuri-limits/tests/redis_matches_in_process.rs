//! The Lua script mirrors `bucket.rs`: random sequences of acquires, reconciles and releases get
//! the same decisions and the same remaining counts from both limiters.
//!
//! Limits are small (≤ 60/min and ≤ 100 tokens/min), so the few milliseconds between the two
//! limiters' clocks refill well under one unit and cannot change an integer decision.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use nuri_limits::{Admission, InProcessLimiter, LimitCheck, Limits, Permit, RateLimiter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn summary(a: &Admission) -> (bool, Option<u64>, Option<u64>) {
    match a {
        Admission::Granted(p) => (
            true,
            p.headers.remaining_requests,
            p.headers.remaining_tokens,
        ),
        Admission::Denied(d) => (
            false,
            d.headers.remaining_requests,
            d.headers.remaining_tokens,
        ),
    }
}

#[tokio::test]
async fn redis_and_in_process_agree_on_random_sequences() {
    let prefix = common::fresh_prefix();
    let (mut granted, mut denied) = (0, 0);
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let redis = common::redis_limiter(&format!("{prefix}{seed}:"));
        let local = InProcessLimiter::new();
        let subjects: Vec<(String, Limits)> = (0..3)
            .map(|i| {
                let limits = Limits {
                    requests_per_minute: rng.gen_bool(0.7).then(|| rng.gen_range(1..=8)),
                    tokens_per_minute: rng.gen_bool(0.7).then(|| rng.gen_range(0..=100)),
                    max_concurrent: rng.gen_bool(0.5).then(|| rng.gen_range(0..=3)),
                };
                (format!("s{i}"), limits)
            })
            .collect();
        let mut held: Vec<(Permit, Permit)> = Vec::new();
        for step in 0..40 {
            match rng.gen_range(0..10) {
                0..=5 => {
                    let checks: Vec<LimitCheck> = subjects
                        .iter()
                        .filter(|_| rng.gen_bool(0.6))
                        .map(|(k, l)| LimitCheck::new(k, *l))
                        .collect();
                    let tokens = rng.gen_range(0..=40);
                    let a = redis.acquire(&checks, tokens).await.unwrap();
                    let b = local.acquire(&checks, tokens).await.unwrap();
                    assert_eq!(
                        summary(&a),
                        summary(&b),
                        "seed {seed} step {step} {checks:?}"
                    );
                    if summary(&a).0 {
                        granted += 1;
                    } else {
                        denied += 1;
                    }
                    if let (Admission::Granted(a), Admission::Granted(b)) = (a, b) {
                        held.push((a, b));
                    }
                }
                6 | 7 if !held.is_empty() => {
                    let i = rng.gen_range(0..held.len());
                    let actual = rng.gen_range(0..=60);
                    held[i].0.reconcile(actual).await.unwrap();
                    held[i].1.reconcile(actual).await.unwrap();
                }
                _ if !held.is_empty() => {
                    let (a, b) = held.swap_remove(rng.gen_range(0..held.len()));
                    a.release().await;
                    b.release().await;
                }
                _ => {}
            }
        }
        for (a, b) in held {
            a.release().await;
            b.release().await;
        }
    }
    common::cleanup(&prefix).await;
    // The sequences exercise both outcomes.
    assert!(
        granted > 20 && denied > 20,
        "granted {granted}, denied {denied}"
    );
}
