//! Redis going away *after* the limiter connected, and coming back: the limiter fails closed
//! within its timeout while Redis is gone and recovers by itself when it returns.
//!
//! The real Redis on 127.0.0.1:6379 sits behind a TCP relay this test owns, so "Redis down" is
//! the relay being stopped; nothing is mocked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use nuri_limits::{
    Admission, LimitCheck, LimitError, Limits, RateLimiter, RedisLimiter, RedisLimiterConfig,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Relays connections from `listener` to Redis until dropped (all connections die with it).
struct Relay {
    tasks: JoinSet<()>,
}

impl Relay {
    async fn start(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:6379").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { tasks }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

#[tokio::test]
async fn fails_closed_during_an_outage_and_recovers_after_it() {
    let addr = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let prefix = common::fresh_prefix();
    let config = RedisLimiterConfig {
        key_prefix: prefix.clone(),
        op_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let limiter = RedisLimiter::open(&format!("redis://{addr}"), config).unwrap();
    let checks = [LimitCheck::new(
        "key:outage",
        Limits {
            requests_per_minute: Some(100),
            ..Limits::default()
        },
    )];

    let relay = Relay::start(addr).await;
    assert!(matches!(
        limiter.acquire(&checks, 0).await.unwrap(),
        Admission::Granted(_)
    ));

    drop(relay);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let err = limiter.acquire(&checks, 0).await.unwrap_err();
    assert!(matches!(err, LimitError::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(limiter.counters().unavailable_total() >= 1);

    let _relay = Relay::start(addr).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match limiter.acquire(&checks, 0).await {
            Ok(Admission::Granted(_)) => break,
            Ok(Admission::Denied(d)) => panic!("{d:?}"),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("did not recover: {e:?}"),
        }
    }
    common::cleanup(&prefix).await;
}
