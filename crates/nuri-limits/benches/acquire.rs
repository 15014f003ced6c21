//! The limiter hot path: an acquire of a typical request (key, project, organisation and model
//! checks) in process, and against the Redis on 127.0.0.1:6379 (one EVALSHA round trip).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use nuri_limits::{
    Admission, InProcessLimiter, LimitCheck, Limits, RateLimiter, RedisLimiter, RedisLimiterConfig,
};

fn checks(i: u64) -> Vec<LimitCheck> {
    let roomy = Limits {
        requests_per_minute: Some(u64::MAX),
        tokens_per_minute: Some(u64::MAX),
        max_concurrent: None,
    };
    vec![
        LimitCheck::new(format!("key:{}", i % 1024), roomy),
        LimitCheck::new(format!("project:{}", i % 64), roomy),
        LimitCheck::new(format!("org:{}", i % 16), roomy),
        LimitCheck::new("model:hcx-005", roomy),
    ]
}

fn in_process(c: &mut Criterion) {
    let limiter = InProcessLimiter::new();
    let sets: Vec<_> = (0..4096).map(checks).collect();
    let mut i = 0;
    c.bench_function("in_process_acquire_4_checks", |b| {
        b.iter(|| {
            i = (i + 1) % sets.len();
            let admission = limiter.try_acquire(&sets[i], 100);
            assert!(matches!(admission, Admission::Granted(_)));
        })
    });
    let singles: Vec<_> = sets.iter().map(|s| vec![s[0].clone()]).collect();
    c.bench_function("in_process_acquire_1_check", |b| {
        b.iter(|| {
            i = (i + 1) % singles.len();
            let admission = limiter.try_acquire(&singles[i], 100);
            assert!(matches!(admission, Admission::Granted(_)));
        })
    });
}

fn redis(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!("nuri-bench:{}:", uuid::Uuid::new_v4().simple());
    let config = RedisLimiterConfig {
        key_prefix: prefix.clone(),
        ..Default::default()
    };
    let limiter = RedisLimiter::open("redis://127.0.0.1:6379", config).unwrap();
    let sets: Vec<_> = (0..4096).map(checks).collect();
    let mut i = 0;
    c.bench_function("redis_acquire_4_checks", |b| {
        b.iter(|| {
            i = (i + 1) % sets.len();
            let admission = rt.block_on(limiter.acquire(&sets[i], 100)).unwrap();
            assert!(matches!(admission, Admission::Granted(_)));
        })
    });
    rt.block_on(async {
        let mut conn = redis::Client::open("redis://127.0.0.1:6379")
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
    });
}

criterion_group!(benches, in_process, redis);
criterion_main!(benches);
