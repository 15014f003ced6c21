//! [`RedisLimiter`]: limits shared by every replica through one atomic Lua script per acquire.
//!
//! Each acquire is a single `EVALSHA` of `acquire.lua` (loaded on first use), which checks and
//! charges all of a request's buckets under Redis' script atomicity, on Redis server time. A
//! permit's reconcile is one more script call; its concurrency slots are freed by a `ZREM`
//! pipeline when it is dropped (on a task of [`RedisLimiter::tracker`]), and otherwise expire on
//! their own after [`RedisLimiterConfig::slot_ttl`], so a crashed replica cannot leak them.
//!
//! When Redis cannot be reached or answers an error, the limiter fails closed
//! ([`LimitError::Unavailable`], counted in [`LimiterCounters`]) unless configured with
//! [`FailureMode::FailOpen`], which admits the request, logs a warning and counts it.

mod script;

use crate::error::LimitError;
use crate::headers::RateLimitHeaders;
use crate::limits::{plan, LimitCheck};
use crate::permit::{Admission, Denial, Lease, LeaseBackend, Permit};
use crate::RateLimiter;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use script::{bucket_keys, decode, kind, lease, optimistic_headers, redis_key, Outcome};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio_util::task::TaskTracker;

/// What to do when Redis cannot answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailureMode {
    /// Refuse with [`LimitError::Unavailable`] (the gateway answers 503). The default.
    #[default]
    FailClosed,
    /// Admit without limits, log a warning and count it in [`LimiterCounters::fail_open_total`].
    FailOpen,
}

/// Settings of a [`RedisLimiter`].
#[derive(Debug, Clone)]
pub struct RedisLimiterConfig {
    /// Prepended to every Redis key (e.g. `nuri:rl:`). For Redis Cluster put a hash tag in it
    /// (`{nuri}:rl:`) so one script's keys share a slot.
    pub key_prefix: String,
    /// Fail closed (default) or open when Redis cannot answer.
    pub failure_mode: FailureMode,
    /// How long a concurrency slot lives if its permit is never released (a crashed replica);
    /// set it to the longest a request may run.
    pub slot_ttl: Duration,
    /// The longest one Redis operation (connect included) may take before it counts as down.
    pub op_timeout: Duration,
    /// The `retry-after` suggested with [`LimitError::Unavailable`].
    pub unavailable_retry_after: Duration,
    /// The `retry-after` suggested when a concurrency limit refuses.
    pub concurrency_retry_after: Duration,
}

impl Default for RedisLimiterConfig {
    fn default() -> Self {
        Self {
            key_prefix: "nuri:rl:".to_owned(),
            failure_mode: FailureMode::FailClosed,
            slot_ttl: Duration::from_secs(600),
            op_timeout: Duration::from_millis(500),
            unavailable_retry_after: Duration::from_secs(1),
            concurrency_retry_after: crate::in_process::CONCURRENCY_RETRY_AFTER,
        }
    }
}

/// Counters a metrics exporter can read: how often Redis could not answer.
#[derive(Debug, Default)]
pub struct LimiterCounters {
    unavailable: AtomicU64,
    fail_open: AtomicU64,
    release_failures: AtomicU64,
}

impl LimiterCounters {
    /// Acquires or reconciles for which Redis could not answer (whatever the failure mode).
    pub fn unavailable_total(&self) -> u64 {
        self.unavailable.load(Ordering::Relaxed)
    }
    /// Requests admitted without a check because the limiter fails open.
    pub fn fail_open_total(&self) -> u64 {
        self.fail_open.load(Ordering::Relaxed)
    }
    /// Concurrency slots that could not be freed (they expire after the slot TTL).
    pub fn release_failures_total(&self) -> u64 {
        self.release_failures.load(Ordering::Relaxed)
    }
}

struct Shared {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    config: RedisLimiterConfig,
    acquire: Script,
    reconcile: Script,
    counters: LimiterCounters,
    tracker: TaskTracker,
    instance: u64,
    sequence: AtomicU64,
}

/// A rate limiter whose state lives in Redis, shared by all replicas using the same prefix.
///
/// Cheap to clone; clones share the connection. Connects lazily on first use, so a gateway can
/// start while Redis is down (and answer according to its [`FailureMode`]).
#[derive(Clone)]
pub struct RedisLimiter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("config", &self.shared.config)
            .field("counters", &self.shared.counters)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter on `client`'s server.
    pub fn new(client: redis::Client, config: RedisLimiterConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                connection: OnceCell::new(),
                config,
                acquire: Script::new(script::ACQUIRE_LUA),
                reconcile: Script::new(script::RECONCILE_LUA),
                counters: LimiterCounters::default(),
                tracker: TaskTracker::new(),
                instance: rand::random(),
                sequence: AtomicU64::new(0),
            }),
        }
    }

    /// A limiter on the server at `url` (e.g. `redis://127.0.0.1:6379`); fails only on a
    /// malformed URL, never because the server is down.
    pub fn open(url: &str, config: RedisLimiterConfig) -> Result<Self, LimitError> {
        let client = redis::Client::open(url)
            .map_err(|e| LimitError::InvalidConfig(format!("redis url: {e}")))?;
        Ok(Self::new(client, config))
    }

    /// How often Redis could not answer.
    pub fn counters(&self) -> &LimiterCounters {
        &self.shared.counters
    }

    /// The tracker of background slot releases: on shutdown, `close()` it and `wait()`.
    pub fn tracker(&self) -> &TaskTracker {
        &self.shared.tracker
    }

    /// The configuration in use.
    pub fn config(&self) -> &RedisLimiterConfig {
        &self.shared.config
    }

    async fn acquire_inner(
        &self,
        checks: &[LimitCheck],
        estimated_tokens: u64,
    ) -> Result<Admission, LimitError> {
        let planned = plan(checks);
        if planned.is_empty() {
            let headers = RateLimitHeaders::default();
            return Ok(Admission::Granted(Permit::detached(
                headers,
                estimated_tokens,
            )));
        }
        let shared = &self.shared;
        let keys = bucket_keys(&shared.config.key_prefix, &planned);
        let tokens = estimated_tokens.min(crate::limits::MAX_LIMIT);
        let request_id = format!(
            "{:016x}:{}",
            shared.instance,
            shared.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let mut invocation = shared.acquire.prepare_invoke();
        invocation
            .arg(tokens)
            .arg(&request_id)
            .arg(millis(shared.config.slot_ttl))
            .arg(millis(shared.config.concurrency_retry_after));
        for key in &keys {
            invocation
                .key(&key.redis_key)
                .arg(kind(key.dimension))
                .arg(key.limit);
        }
        let reply: Result<Vec<i64>, String> = shared
            .with_timeout(async {
                let mut conn = shared.connect().await?;
                invocation.invoke_async(&mut conn).await
            })
            .await;
        let outcome = reply
            .and_then(|r| decode(&r, &keys).ok_or_else(|| format!("malformed script reply {r:?}")));
        match outcome {
            Ok(Outcome::Granted { headers }) => {
                let backend: Arc<dyn LeaseBackend> = Arc::clone(&self.shared) as _;
                let lease = lease(&planned, request_id);
                Ok(Admission::Granted(Permit::new(
                    headers,
                    lease,
                    estimated_tokens,
                    Some(backend),
                )))
            }
            Ok(Outcome::Denied {
                bucket,
                retry_after,
                headers,
            }) => {
                let key = &keys[bucket];
                Ok(Admission::Denied(Denial::new(
                    planned[key.check].key,
                    key.dimension,
                    retry_after,
                    headers,
                )))
            }
            Err(reason) => {
                self.shared
                    .counters
                    .unavailable
                    .fetch_add(1, Ordering::Relaxed);
                match shared.config.failure_mode {
                    FailureMode::FailClosed => {
                        tracing::error!(%reason, "rate limit store unavailable; refusing (fail closed)");
                        Err(shared.unavailable(reason))
                    }
                    FailureMode::FailOpen => {
                        shared.counters.fail_open.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%reason, "rate limit store unavailable; admitting unchecked (fail open)");
                        let headers = optimistic_headers(&planned);
                        Ok(Admission::Granted(Permit::detached(
                            headers,
                            estimated_tokens,
                        )))
                    }
                }
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Shared {
    async fn connect(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| {
                let timeout = self.config.op_timeout;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    .set_number_of_retries(1)
                    .set_max_delay(millis(timeout));
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    /// Runs one Redis operation under the configured timeout, flattening errors to a reason.
    async fn with_timeout<T>(
        &self,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.config.op_timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.config.op_timeout)),
        }
    }

    fn unavailable(&self, reason: String) -> LimitError {
        LimitError::Unavailable {
            reason,
            retry_after: self.config.unavailable_retry_after,
        }
    }

    async fn release(&self, lease: &Lease) {
        let mut pipe = redis::pipe();
        for leased in lease.keys.iter().filter(|k| k.holds_slot) {
            let key = redis_key(
                &self.config.key_prefix,
                &leased.key,
                crate::limits::Dimension::MaxConcurrent,
            );
            pipe.zrem(key, &lease.request_id).ignore();
        }
        let result = self
            .with_timeout(async {
                let mut conn = self.connect().await?;
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
        if let Err(reason) = result {
            self.counters
                .release_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reason, "could not free concurrency slots; they expire after the slot ttl");
        }
    }
}

#[async_trait]
impl LeaseBackend for Shared {
    async fn adjust_tokens(&self, lease: &Lease, delta: i64) -> Result<(), LimitError> {
        // Keep delta × 60 000 exact in Lua's doubles (see MAX_LIMIT).
        let max = i64::try_from(crate::limits::MAX_LIMIT).unwrap_or(i64::MAX);
        let mut invocation = self.reconcile.prepare_invoke();
        invocation.arg(delta.clamp(-max, max));
        let mut any = false;
        for leased in &lease.keys {
            if let Some(limit) = leased.tokens_limit {
                let key = redis_key(
                    &self.config.key_prefix,
                    &leased.key,
                    crate::limits::Dimension::TokensPerMinute,
                );
                invocation.key(key).arg(limit);
                any = true;
            }
        }
        if !any {
            return Ok(());
        }
        self.with_timeout(async {
            let mut conn = self.connect().await?;
            invocation.invoke_async::<i64>(&mut conn).await
        })
        .await
        .map(|_| ())
        .map_err(|reason| {
            self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reason, "could not reconcile token usage with the rate limit store");
            self.unavailable(reason)
        })
    }

    async fn release_now(&self, lease: Lease) {
        self.release(&lease).await;
    }

    fn finish_in_background(self: Arc<Self>, lease: Lease, token_delta: i64) {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let shared = Arc::clone(&self);
                let task = async move {
                    if token_delta != 0 {
                        // Errors are logged and counted inside; nothing more to do here.
                        let _ = shared.adjust_tokens(&lease, token_delta).await;
                    }
                    if lease.keys.iter().any(|k| k.holds_slot) {
                        shared.release(&lease).await;
                    }
                };
                self.tracker.spawn_on(task, &handle);
            }
            Err(_) => {
                self.counters
                    .release_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "permit finished outside a runtime; its slots expire after the slot ttl"
                );
            }
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(
        &self,
        checks: &[LimitCheck],
        estimated_tokens: u64,
    ) -> Result<Admission, LimitError> {
        self.acquire_inner(checks, estimated_tokens).await
    }
}
