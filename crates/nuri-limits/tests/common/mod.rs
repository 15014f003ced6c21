//! Shared helpers for the integration tests: a Redis on 127.0.0.1:6379 with a fresh key prefix
//! per test, cleaned up afterwards (never mocked).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use nuri_limits::{RedisLimiter, RedisLimiterConfig};

/// The Redis the tests use.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A prefix no other test (or earlier run) uses.
pub fn fresh_prefix() -> String {
    format!("nuri-test:{}:", uuid::Uuid::new_v4().simple())
}

/// A limiter on the test Redis under `prefix`, with its own connection.
pub fn redis_limiter(prefix: &str) -> RedisLimiter {
    let config = RedisLimiterConfig {
        key_prefix: prefix.to_owned(),
        ..Default::default()
    };
    RedisLimiter::open(REDIS_URL, config).unwrap()
}

/// A direct connection for inspecting and cleaning up.
pub async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The keys under `prefix`.
pub async fn keys_under(prefix: &str) -> Vec<String> {
    let mut conn = raw_connection().await;
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Deletes every key under `prefix`.
pub async fn cleanup(prefix: &str) {
    let keys = keys_under(prefix).await;
    if !keys.is_empty() {
        let mut conn = raw_connection().await;
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}
