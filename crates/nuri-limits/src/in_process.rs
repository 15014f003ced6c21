//! [`InProcessLimiter`]: the default limiter, state in this process only.
//!
//! State lives in a fixed number of mutex-guarded shards keyed by subject. An acquire locks the
//! shards of its subjects in index order (so two acquires can never deadlock), checks every
//! limit, and only then charges them all: all or nothing. Shards sweep out idle subjects (empty
//! buckets, nothing in flight) whenever they have doubled in size since the last sweep, so the
//! cost is amortised O(1); [`InProcessLimiter::evict_idle`] sweeps on demand.

use crate::bucket::Bucket;
use crate::clock::{Clock, MonotonicClock};
use crate::error::LimitError;
use crate::fasthash::FxBuildHasher;
use crate::headers::{RateLimitHeaders, Reading};
use crate::limits::{plan, Dimension, LimitCheck, Limits};
use crate::permit::{Admission, Denial, Lease, LeaseBackend, LeasedKey, Permit};
use crate::RateLimiter;
use async_trait::async_trait;
use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

/// Suggested wait when a concurrency limit refuses: slots free up when requests finish, which
/// the limiter cannot predict.
pub const CONCURRENCY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// At most 64, so an acquire's shards fit in a `u64` bit set.
const SHARDS: usize = 64;
const MIN_SWEEP_LEN: usize = 256;

/// The state of one subject.
#[derive(Debug, Clone, Copy, Default)]
struct SubjectState {
    requests: Bucket,
    tokens: Bucket,
    in_flight: u64,
    /// From this instant both buckets are empty (the subject can be forgotten if idle).
    idle_at_ms: u64,
}

impl SubjectState {
    fn is_idle(&self, now_ms: u64) -> bool {
        self.in_flight == 0 && self.idle_at_ms <= now_ms
    }
}

#[derive(Debug)]
struct Shard {
    subjects: HashMap<Arc<str>, SubjectState, FxBuildHasher>,
    sweep_at_len: usize,
}

impl Shard {
    fn new(hasher: FxBuildHasher) -> Self {
        Self {
            subjects: HashMap::with_hasher(hasher),
            sweep_at_len: MIN_SWEEP_LEN,
        }
    }

    fn sweep(&mut self, now_ms: u64) -> usize {
        let before = self.subjects.len();
        self.subjects.retain(|_, s| !s.is_idle(now_ms));
        self.sweep_at_len = (self.subjects.len() * 2).max(MIN_SWEEP_LEN);
        before - self.subjects.len()
    }
}

struct Shared<C> {
    shards: Box<[Mutex<Shard>]>,
    hasher: FxBuildHasher,
    clock: C,
}

/// A rate limiter whose state lives in this process (GCRA per subject and limit).
///
/// Cheap to clone; clones share state.
pub struct InProcessLimiter<C: Clock = MonotonicClock> {
    shared: Arc<Shared<C>>,
}

impl<C: Clock> std::fmt::Debug for InProcessLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("shards", &SHARDS)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> Clone for InProcessLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl InProcessLimiter<MonotonicClock> {
    /// A limiter on the real monotonic clock.
    pub fn new() -> Self {
        Self::with_clock(MonotonicClock::new())
    }
}

impl Default for InProcessLimiter<MonotonicClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> InProcessLimiter<C> {
    /// A limiter reading time from `clock`.
    pub fn with_clock(clock: C) -> Self {
        let hasher = FxBuildHasher::random();
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard::new(hasher)))
            .collect();
        Self {
            shared: Arc::new(Shared {
                shards,
                hasher,
                clock,
            }),
        }
    }

    /// Forgets every subject whose buckets are empty and that has nothing in flight; returns how
    /// many were removed. Optional: shards also sweep themselves as they grow.
    pub fn evict_idle(&self) -> usize {
        let now = self.shared.clock.now_ms();
        self.shared.shards.iter().map(|s| s.lock().sweep(now)).sum()
    }

    /// How many subjects currently have state.
    pub fn tracked_subjects(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|s| s.lock().subjects.len())
            .sum()
    }

    /// The synchronous core of [`RateLimiter::acquire`] (it never waits on I/O).
    pub fn try_acquire(&self, checks: &[LimitCheck], estimated_tokens: u64) -> Admission {
        let planned = plan(checks);
        if planned.is_empty() {
            return Admission::Granted(Permit::detached(
                RateLimitHeaders::default(),
                estimated_tokens,
            ));
        }
        let shared = &self.shared;
        // The shards involved, as a bit set; locked in ascending index order so that no two
        // acquires can wait on each other in a cycle.
        let mask = planned
            .iter()
            .fold(0u64, |m, c| m | 1 << shared.shard_index(c.key));
        let mut guards: Vec<MutexGuard<'_, Shard>> = Vec::with_capacity(mask.count_ones() as usize);
        for index in 0..SHARDS {
            if mask & (1 << index) != 0 {
                guards.push(shared.shards[index].lock());
            }
        }
        // Position of a subject's shard guard: the number of involved shards below it.
        let slot = |check: usize| {
            let index = shared.shard_index(planned[check].key);
            (mask & ((1u64 << index) - 1)).count_ones() as usize
        };
        let now = shared.clock.now_ms();

        // Phase 1: check everything, charge nothing.
        let mut refusal: Option<(usize, Dimension, u64)> = None;
        for (i, check) in planned.iter().enumerate() {
            let state = guards[slot(i)]
                .subjects
                .get(check.key)
                .copied()
                .unwrap_or_default();
            for (dimension, result) in evaluate(&state, &check.limits, now, estimated_tokens) {
                if let Err(retry_ms) = result {
                    if refusal.is_none_or(|(_, _, worst)| retry_ms > worst) {
                        refusal = Some((i, dimension, retry_ms));
                    }
                }
            }
        }
        if let Some((i, dimension, retry_ms)) = refusal {
            let mut headers = RateLimitHeaders::default();
            for (j, check) in planned.iter().enumerate() {
                let state = guards[slot(j)]
                    .subjects
                    .get(check.key)
                    .copied()
                    .unwrap_or_default();
                offer_readings(&mut headers, &state, &check.limits, now);
            }
            return Admission::Denied(Denial::new(
                planned[i].key,
                dimension,
                Duration::from_millis(retry_ms),
                headers,
            ));
        }

        // Phase 2: charge everything.
        let mut headers = RateLimitHeaders::default();
        let mut lease = Lease {
            keys: Vec::new(),
            request_id: String::new(),
        };
        for (i, check) in planned.iter().enumerate() {
            let shard = &mut guards[slot(i)];
            let limits = check.limits;
            let name = match shard.subjects.get_key_value(check.key) {
                Some((name, _)) => Arc::clone(name),
                None => {
                    let name: Arc<str> = Arc::from(check.key);
                    shard
                        .subjects
                        .insert(Arc::clone(&name), SubjectState::default());
                    name
                }
            };
            let Some(state) = shard.subjects.get_mut(check.key) else {
                continue; // just inserted under the lock we hold: cannot happen
            };
            if let Some(limit) = limits.requests_per_minute {
                state.requests.consume(now, limit, 1);
                state.idle_at_ms = state.idle_at_ms.max(state.requests.idle_at_ms(limit));
            }
            if let Some(limit) = limits.tokens_per_minute {
                state.tokens.consume(now, limit, estimated_tokens);
                state.idle_at_ms = state.idle_at_ms.max(state.tokens.idle_at_ms(limit));
            }
            if limits.max_concurrent.is_some() {
                state.in_flight += 1;
            }
            offer_readings(&mut headers, state, &limits, now);
            // Only subjects a permit must come back to are remembered.
            if limits.tokens_per_minute.is_some() || limits.max_concurrent.is_some() {
                lease.keys.push(LeasedKey {
                    key: name,
                    tokens_limit: limits.tokens_per_minute,
                    holds_slot: limits.max_concurrent.is_some(),
                });
            }
        }
        for guard in &mut guards {
            if guard.subjects.len() >= guard.sweep_at_len {
                guard.sweep(now);
            }
        }
        drop(guards);
        let backend: Arc<dyn LeaseBackend> = Arc::clone(&self.shared) as Arc<dyn LeaseBackend>;
        Admission::Granted(Permit::new(headers, lease, estimated_tokens, Some(backend)))
    }
}

/// Checks each configured limit of one subject.
fn evaluate(
    state: &SubjectState,
    limits: &Limits,
    now: u64,
    tokens: u64,
) -> impl Iterator<Item = (Dimension, Result<(), u64>)> {
    let requests = limits.requests_per_minute.map(|l| {
        (
            Dimension::RequestsPerMinute,
            state.requests.check(now, l, 1),
        )
    });
    let tokens = limits.tokens_per_minute.map(|l| {
        (
            Dimension::TokensPerMinute,
            state.tokens.check(now, l, tokens),
        )
    });
    let concurrent = limits.max_concurrent.map(|max| {
        let result = if state.in_flight < max {
            Ok(())
        } else {
            Err(CONCURRENCY_RETRY_AFTER.as_millis() as u64)
        };
        (Dimension::MaxConcurrent, result)
    });
    requests.into_iter().chain(tokens).chain(concurrent)
}

/// Offers a subject's readings to the headers; the reset time (a division) is only computed for
/// a reading that is the tightest so far.
fn offer_readings(headers: &mut RateLimitHeaders, state: &SubjectState, limits: &Limits, now: u64) {
    if let Some(limit) = limits.requests_per_minute {
        let remaining = state.requests.remaining(now, limit);
        if headers
            .remaining_requests
            .is_none_or(|current| remaining < current)
        {
            let reset_ms = state.requests.reset_ms(now, limit);
            headers.offer_requests(Reading {
                limit,
                remaining,
                reset_ms,
            });
        }
    }
    if let Some(limit) = limits.tokens_per_minute {
        let remaining = state.tokens.remaining(now, limit);
        if headers
            .remaining_tokens
            .is_none_or(|current| remaining < current)
        {
            let reset_ms = state.tokens.reset_ms(now, limit);
            headers.offer_tokens(Reading {
                limit,
                remaining,
                reset_ms,
            });
        }
    }
}

impl<C: Clock> Shared<C> {
    fn shard_index(&self, key: &str) -> usize {
        // Top bits of a re-mixed hash: the maps inside a shard use the plain hash's bits.
        let mixed = self
            .hasher
            .hash_one(key)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> 32) as usize % self.shards.len()
    }

    fn adjust(&self, lease: &Lease, delta: i64) {
        let now = self.clock.now_ms();
        for leased in &lease.keys {
            let Some(limit) = leased.tokens_limit else {
                continue;
            };
            let mut shard = self.shards[self.shard_index(&leased.key)].lock();
            let state = shard.subjects.entry(Arc::clone(&leased.key)).or_default();
            state.tokens.adjust(now, limit, delta);
            state.idle_at_ms = state.idle_at_ms.max(state.tokens.idle_at_ms(limit));
        }
    }

    fn release(&self, lease: &Lease) {
        for leased in lease.keys.iter().filter(|k| k.holds_slot) {
            let mut shard = self.shards[self.shard_index(&leased.key)].lock();
            if let Some(state) = shard.subjects.get_mut(&leased.key) {
                state.in_flight = state.in_flight.saturating_sub(1);
            }
        }
    }
}

#[async_trait]
impl<C: Clock> LeaseBackend for Shared<C> {
    async fn adjust_tokens(&self, lease: &Lease, delta: i64) -> Result<(), LimitError> {
        self.adjust(lease, delta);
        Ok(())
    }

    async fn release_now(&self, lease: Lease) {
        self.release(&lease);
    }

    fn finish_in_background(self: Arc<Self>, lease: Lease, token_delta: i64) {
        // In process, this is a few uncontended locks: do it right away.
        if token_delta != 0 {
            self.adjust(&lease, token_delta);
        }
        self.release(&lease);
    }
}

#[async_trait]
impl<C: Clock> RateLimiter for InProcessLimiter<C> {
    async fn acquire(
        &self,
        checks: &[LimitCheck],
        estimated_tokens: u64,
    ) -> Result<Admission, LimitError> {
        Ok(self.try_acquire(checks, estimated_tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::WINDOW_MS;
    use crate::clock::ManualClock;
    use proptest::prelude::*;

    fn limiter() -> (InProcessLimiter<Arc<ManualClock>>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_000));
        (InProcessLimiter::with_clock(Arc::clone(&clock)), clock)
    }

    fn granted(a: Admission) -> Permit {
        match a {
            Admission::Granted(p) => p,
            Admission::Denied(d) => panic!("denied: {d:?}"),
        }
    }

    #[test]
    fn refills_smoothly_at_the_per_minute_rate() {
        let (limiter, clock) = limiter();
        let check = [LimitCheck::new(
            "key:1",
            Limits {
                requests_per_minute: Some(6),
                ..Limits::default()
            },
        )];
        for _ in 0..6 {
            granted(limiter.try_acquire(&check, 0));
        }
        let Admission::Denied(denial) = limiter.try_acquire(&check, 0) else {
            panic!()
        };
        assert_eq!(denial.retry_after, Duration::from_secs(10));
        clock.advance(9_999);
        assert!(matches!(
            limiter.try_acquire(&check, 0),
            Admission::Denied(_)
        ));
        clock.advance(1);
        let permit = granted(limiter.try_acquire(&check, 0));
        assert_eq!(permit.headers.remaining_requests, Some(0));
        assert_eq!(permit.headers.reset_requests, Duration::from_secs(60));
    }

    #[test]
    fn idle_subjects_are_evicted_but_busy_ones_kept() {
        let (limiter, clock) = limiter();
        let rate = Limits {
            requests_per_minute: Some(60),
            ..Limits::default()
        };
        let slots = Limits {
            max_concurrent: Some(1),
            ..Limits::default()
        };
        granted(limiter.try_acquire(&[LimitCheck::new("key:idle", rate)], 0));
        let busy = granted(limiter.try_acquire(&[LimitCheck::new("key:busy", slots)], 0));
        assert_eq!(limiter.tracked_subjects(), 2);
        assert_eq!(limiter.evict_idle(), 0);
        clock.advance(1_000);
        assert_eq!(limiter.evict_idle(), 1);
        assert_eq!(limiter.tracked_subjects(), 1);
        drop(busy);
        assert_eq!(limiter.evict_idle(), 1);
        assert_eq!(limiter.tracked_subjects(), 0);
    }

    #[test]
    fn shards_sweep_themselves_as_they_grow() {
        let (limiter, clock) = limiter();
        let rate = Limits {
            requests_per_minute: Some(60_000),
            ..Limits::default()
        };
        for i in 0..(SHARDS * MIN_SWEEP_LEN * 4) {
            granted(limiter.try_acquire(&[LimitCheck::new(format!("key:{i}"), rate)], 0));
            clock.advance(1);
        }
        assert!(limiter.tracked_subjects() < SHARDS * MIN_SWEEP_LEN * 3);
    }

    /// A deliberately naive model of the limiter: per subject, a token-bucket balance per
    /// dimension in i128 and an in-flight count; admission is all or nothing.
    #[derive(Default)]
    struct Model {
        subjects: HashMap<String, (i128, i128, u64, u64)>, // (req avail, tok avail, in flight, last ms)
    }

    const RPM: u64 = 5;
    const TPM: u64 = 300;
    const SLOTS: u64 = 2;

    impl Model {
        fn entry(&mut self, key: &str, now: u64) -> &mut (i128, i128, u64, u64) {
            let w = i128::from(WINDOW_MS);
            let e = self.subjects.entry(key.to_owned()).or_insert((
                i128::from(RPM) * w,
                i128::from(TPM) * w,
                0,
                now,
            ));
            let elapsed = i128::from(now - e.3);
            e.0 = (e.0 + elapsed * i128::from(RPM)).min(i128::from(RPM) * w);
            e.1 = (e.1 + elapsed * i128::from(TPM)).min(i128::from(TPM) * w);
            e.3 = now;
            e
        }

        fn acquire(&mut self, keys: &[&str], tokens: u64, now: u64) -> bool {
            let w = i128::from(WINDOW_MS);
            let fits = keys.iter().all(|k| {
                let e = self.entry(k, now);
                e.0 >= w && e.1 >= i128::from(tokens) * w && e.2 < SLOTS
            });
            if fits {
                for k in keys {
                    let e = self.entry(k, now);
                    e.0 -= w;
                    e.1 -= i128::from(tokens) * w;
                    e.2 += 1;
                }
            }
            fits
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u64),
        Acquire(Vec<usize>, u64),
        Reconcile(usize, u64),
        Drop(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                (0u64..20_000).prop_map(Op::Advance),
                (prop::collection::vec(0usize..3, 1..3), 0u64..200)
                    .prop_map(|(k, t)| Op::Acquire(k, t)),
                (0usize..8, 0u64..300).prop_map(|(i, t)| Op::Reconcile(i, t)),
                (0usize..8).prop_map(Op::Drop),
            ],
            1..80,
        )
    }

    proptest! {
        #[test]
        fn behaves_like_the_model(ops in ops()) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (limiter, clock) = limiter();
            let mut model = Model::default();
            let names = ["key:a", "project:b", "org:c"];
            let limits = Limits { requests_per_minute: Some(RPM), tokens_per_minute: Some(TPM), max_concurrent: Some(SLOTS) };
            let mut permits: Vec<(Permit, Vec<String>, u64)> = Vec::new();
            for op in ops {
                let now = clock.now_ms();
                match op {
                    Op::Advance(ms) => clock.advance(ms),
                    Op::Acquire(mut keys, tokens) => {
                        keys.sort_unstable();
                        keys.dedup();
                        let keys: Vec<&str> = keys.iter().map(|&i| names[i]).collect();
                        let checks: Vec<_> = keys.iter().map(|k| LimitCheck::new(*k, limits)).collect();
                        let expected = model.acquire(&keys, tokens, now);
                        match limiter.try_acquire(&checks, tokens) {
                            Admission::Granted(p) => {
                                prop_assert!(expected, "granted, model denies");
                                permits.push((p, keys.iter().map(|k| k.to_string()).collect(), tokens));
                            }
                            Admission::Denied(d) => {
                                prop_assert!(!expected, "denied ({}), model grants", d.limited_by);
                                prop_assert!(d.retry_after > Duration::ZERO);
                            }
                        }
                    }
                    Op::Reconcile(i, actual) if i < permits.len() => {
                        let (permit, keys, charged) = &mut permits[i];
                        let delta = i128::from(actual) - i128::from(*charged);
                        rt.block_on(permit.reconcile(actual)).unwrap();
                        for k in keys.iter() {
                            let e = model.entry(k, now);
                            e.1 = (e.1 - delta * i128::from(WINDOW_MS)).min(i128::from(TPM * WINDOW_MS));
                        }
                        *charged = actual;
                    }
                    Op::Drop(i) if i < permits.len() => {
                        let (_, keys, _) = permits.swap_remove(i);
                        for k in &keys {
                            model.entry(k, now).2 -= 1;
                        }
                    }
                    Op::Reconcile(..) | Op::Drop(_) => {}
                }
            }
        }
    }
}
