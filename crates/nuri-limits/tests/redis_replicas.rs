//! Redis-only behaviour: limits that hold across replicas, failure modes, slots that expire on
//! their own, keys that do not outlive their state. Runs against the Redis on 127.0.0.1:6379;
//! every test uses its own key prefix and deletes it afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use futures::future::join_all;
use nuri_limits::{
    Admission, FailureMode, LimitCheck, LimitError, Limits, RateLimiter, RedisLimiter,
    RedisLimiterConfig,
};
use std::time::Duration;

fn check(key: &str, limits: Limits) -> [LimitCheck; 1] {
    [LimitCheck::new(key, limits)]
}

/// Two limiters with their own connections stand in for two gateway replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_together_admit_exactly_n_of_a_burst() {
    let prefix = common::fresh_prefix();
    let replicas = [
        common::redis_limiter(&prefix),
        common::redis_limiter(&prefix),
    ];
    const N: u64 = 20;
    let limits = Limits {
        requests_per_minute: Some(N),
        ..Limits::default()
    };
    let attempts = (0..120).map(|i| {
        let limiter = replicas[i % 2].clone();
        tokio::spawn(async move {
            let checks = check("key:burst", limits);
            matches!(
                limiter.acquire(&checks, 0).await.unwrap(),
                Admission::Granted(_)
            )
        })
    });
    let results = join_all(attempts).await;
    let granted = results.into_iter().filter(|r| *r.as_ref().unwrap()).count() as u64;
    common::cleanup(&prefix).await;
    assert_eq!(granted, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_holds_across_replicas() {
    let prefix = common::fresh_prefix();
    let replicas = [
        common::redis_limiter(&prefix),
        common::redis_limiter(&prefix),
    ];
    let limits = Limits {
        max_concurrent: Some(3),
        ..Limits::default()
    };
    let attempts = (0..30).map(|i| {
        let limiter = replicas[i % 2].clone();
        tokio::spawn(async move {
            match limiter
                .acquire(&check("key:slots", limits), 0)
                .await
                .unwrap()
            {
                Admission::Granted(permit) => Some(permit),
                Admission::Denied(_) => None,
            }
        })
    });
    let permits: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    assert_eq!(permits.len(), 3);
    for permit in permits {
        permit.release().await;
    }
    let again = replicas[0]
        .acquire(&check("key:slots", limits), 0)
        .await
        .unwrap();
    assert!(matches!(again, Admission::Granted(_)));
    drop(again);
    replicas[0].tracker().close();
    replicas[0].tracker().wait().await;
    assert!(common::keys_under(&prefix)
        .await
        .iter()
        .all(|k| !k.ends_with(":r")));
    common::cleanup(&prefix).await;
}

fn unreachable(mode: FailureMode) -> RedisLimiter {
    let config = RedisLimiterConfig {
        key_prefix: common::fresh_prefix(),
        failure_mode: mode,
        op_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    // Nothing listens on port 1.
    RedisLimiter::open("redis://127.0.0.1:1", config).unwrap()
}

#[tokio::test]
async fn fails_closed_by_default_when_redis_is_unreachable() {
    assert_eq!(
        RedisLimiterConfig::default().failure_mode,
        FailureMode::FailClosed
    );
    let limiter = unreachable(FailureMode::default());
    let limits = Limits {
        requests_per_minute: Some(10),
        ..Limits::default()
    };
    let err = limiter
        .acquire(&check("key:down", limits), 0)
        .await
        .unwrap_err();
    let LimitError::Unavailable { retry_after, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(retry_after, Duration::from_secs(1));
    assert_eq!(limiter.counters().unavailable_total(), 1);
    assert_eq!(limiter.counters().fail_open_total(), 0);
}

#[tokio::test]
async fn fails_open_only_when_told_and_counts_it() {
    let limiter = unreachable(FailureMode::FailOpen);
    let limits = Limits {
        requests_per_minute: Some(10),
        ..Limits::default()
    };
    for _ in 0..2 {
        let admission = limiter
            .acquire(&check("key:down", limits), 5)
            .await
            .unwrap();
        let Admission::Granted(permit) = admission else {
            panic!("{admission:?}")
        };
        assert_eq!(permit.headers.limit_requests, Some(10));
    }
    assert_eq!(limiter.counters().fail_open_total(), 2);
    assert_eq!(limiter.counters().unavailable_total(), 2);
}

#[tokio::test]
async fn malformed_url_is_a_config_error() {
    let err = RedisLimiter::open("not a url", RedisLimiterConfig::default()).err();
    assert!(matches!(err, Some(LimitError::InvalidConfig(_))), "{err:?}");
}

/// A replica that crashes never releases its slots; they expire after the slot TTL.
#[tokio::test]
async fn a_crashed_replicas_slots_expire() {
    let prefix = common::fresh_prefix();
    let config = RedisLimiterConfig {
        key_prefix: prefix.clone(),
        slot_ttl: Duration::from_millis(300),
        ..Default::default()
    };
    let limiter = RedisLimiter::open(common::REDIS_URL, config).unwrap();
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let Admission::Granted(permit) = limiter
        .acquire(&check("key:crash", limits), 0)
        .await
        .unwrap()
    else {
        panic!("first acquire refused")
    };
    std::mem::forget(permit); // the replica dies holding it
    let second = limiter
        .acquire(&check("key:crash", limits), 0)
        .await
        .unwrap();
    assert!(matches!(second, Admission::Denied(_)));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let third = limiter
        .acquire(&check("key:crash", limits), 0)
        .await
        .unwrap();
    assert!(matches!(third, Admission::Granted(_)));
    drop(third);
    common::cleanup(&prefix).await;
}

/// Bucket keys carry a TTL equal to the time their bucket takes to drain (plus a second), so
/// idle subjects vanish from Redis by themselves.
#[tokio::test]
async fn bucket_keys_expire_when_drained() {
    let prefix = common::fresh_prefix();
    let limiter = common::redis_limiter(&prefix);
    let limits = Limits {
        requests_per_minute: Some(60),
        tokens_per_minute: Some(6_000),
        ..Limits::default()
    };
    let admission = limiter
        .acquire(&check("key:ttl", limits), 300)
        .await
        .unwrap();
    assert!(matches!(admission, Admission::Granted(_)));
    let mut conn = common::raw_connection().await;
    let requests_ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}key:ttl:r"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let tokens_ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}key:ttl:t"))
        .query_async(&mut conn)
        .await
        .unwrap();
    // 1 request at 60/min drains in 1 s; 300 tokens at 6000/min in 3 s; plus 1 s of margin.
    assert!((1_000..=2_000).contains(&requests_ttl), "{requests_ttl}");
    assert!((3_000..=4_000).contains(&tokens_ttl), "{tokens_ttl}");
    common::cleanup(&prefix).await;
}

/// Limits may change between requests (an admin PATCH); usage carries over in the new units.
#[tokio::test]
async fn a_lowered_limit_applies_to_usage_already_made() {
    let prefix = common::fresh_prefix();
    let limiter = common::redis_limiter(&prefix);
    let high = Limits {
        requests_per_minute: Some(100),
        ..Limits::default()
    };
    let low = Limits {
        requests_per_minute: Some(3),
        ..Limits::default()
    };
    for _ in 0..3 {
        let a = limiter.acquire(&check("key:patch", high), 0).await.unwrap();
        assert!(matches!(a, Admission::Granted(_)));
    }
    let a = limiter.acquire(&check("key:patch", low), 0).await.unwrap();
    assert!(matches!(a, Admission::Denied(_)), "{a:?}");
    common::cleanup(&prefix).await;
}
