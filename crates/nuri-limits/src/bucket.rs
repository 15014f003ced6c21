//! The limiter math, pure and integer-exact: GCRA in its "bucket level" form.
//!
//! A limit of `L` units per minute is a bucket of capacity `L` that drains continuously at
//! `L` units per minute. Quantities are kept in *scaled units* (`units × WINDOW_MS`), so the
//! bucket drains by exactly `L` scaled units per millisecond and every step is an integer.
//! This is GCRA: the theoretical arrival time is `at_ms + used / L`, and a request of cost `c`
//! conforms when `level + c·W ≤ L·W`, i.e. the burst tolerance is one whole minute.
//!
//! The Redis script (`redis/acquire.lua`) implements the same steps; the property tests below
//! check this code against an independent token-bucket model.

/// The refill window: limits are "per minute".
pub const WINDOW_MS: u64 = 60_000;

/// The state of one (subject, dimension) bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// Scaled units in the bucket as of `at_ms` (may exceed capacity after a reconcile charge).
    pub used: u64,
    /// When `used` was last written.
    pub at_ms: u64,
}

/// The scaled size of `units`.
pub(crate) fn scaled(units: u64) -> u64 {
    units.saturating_mul(WINDOW_MS)
}

fn div_ceil(a: u64, b: u64) -> u64 {
    a / b + u64::from(!a.is_multiple_of(b))
}

impl Bucket {
    /// The scaled level at `now_ms` after draining at `limit` scaled units per millisecond.
    pub fn level(&self, now_ms: u64, limit: u64) -> u64 {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        self.used.saturating_sub(elapsed.saturating_mul(limit))
    }

    /// Whether `cost` units fit at `now_ms`; if not, the milliseconds after which they will
    /// (a whole window when `cost` exceeds the limit itself and can never fit).
    pub fn check(&self, now_ms: u64, limit: u64, cost: u64) -> Result<(), u64> {
        let need = self.level(now_ms, limit).saturating_add(scaled(cost));
        let capacity = scaled(limit);
        if need <= capacity {
            Ok(())
        } else if cost > limit {
            Err(WINDOW_MS)
        } else {
            Err(div_ceil(need - capacity, limit))
        }
    }

    /// Adds `cost` units at `now_ms` (callers check first).
    pub fn consume(&mut self, now_ms: u64, limit: u64, cost: u64) {
        self.used = self.level(now_ms, limit).saturating_add(scaled(cost));
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Charges (`delta > 0`) or refunds (`delta < 0`) units at `now_ms`; never below empty.
    pub fn adjust(&mut self, now_ms: u64, limit: u64, delta: i64) {
        let level = self.level(now_ms, limit);
        let amount = scaled(delta.unsigned_abs());
        self.used = if delta >= 0 {
            level.saturating_add(amount)
        } else {
            level.saturating_sub(amount)
        };
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Whole units still available at `now_ms`.
    pub fn remaining(&self, now_ms: u64, limit: u64) -> u64 {
        scaled(limit).saturating_sub(self.level(now_ms, limit)) / WINDOW_MS
    }

    /// Milliseconds until the bucket is empty again (OpenAI's "reset": back to the initial state).
    pub fn reset_ms(&self, now_ms: u64, limit: u64) -> u64 {
        let level = self.level(now_ms, limit);
        match (level, limit) {
            (0, _) => 0,
            (_, 0) => WINDOW_MS,
            (level, limit) => div_ceil(level, limit),
        }
    }

    /// The instant from which this bucket is empty and can be forgotten.
    pub fn idle_at_ms(&self, limit: u64) -> u64 {
        if self.used == 0 {
            return self.at_ms;
        }
        match limit {
            0 => u64::MAX,
            limit => self.at_ms.saturating_add(div_ceil(self.used, limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent model: a token bucket holding *available* scaled tokens, refilled 1 ms at
    /// a time, in signed 128-bit arithmetic (so debt is just a negative balance).
    #[derive(Debug)]
    struct Model {
        available: i128,
        limit: i128,
    }

    impl Model {
        fn new(limit: u64) -> Self {
            let limit = i128::from(limit);
            Self {
                available: limit * i128::from(WINDOW_MS),
                limit,
            }
        }
        fn capacity(&self) -> i128 {
            self.limit * i128::from(WINDOW_MS)
        }
        fn advance(&mut self, ms: u64) {
            self.available = (self.available + self.limit * i128::from(ms)).min(self.capacity());
        }
        fn try_take(&mut self, cost: u64) -> bool {
            let need = i128::from(cost) * i128::from(WINDOW_MS);
            if self.available >= need {
                self.available -= need;
                true
            } else {
                false
            }
        }
        fn adjust(&mut self, delta: i64) {
            let amount = i128::from(delta) * i128::from(WINDOW_MS);
            self.available = (self.available - amount).min(self.capacity());
        }
        fn remaining(&self) -> u64 {
            u64::try_from(self.available.max(0) / i128::from(WINDOW_MS)).unwrap_or(0)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u64),
        Take(u64),
        Adjust(i64),
    }

    fn op(limit: u64) -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..=WINDOW_MS).prop_map(Op::Advance),
            (0u64..=limit.saturating_mul(2)).prop_map(Op::Take),
            (-(limit as i64)..=(limit as i64)).prop_map(Op::Adjust),
        ]
    }

    proptest! {
        #[test]
        fn matches_the_token_bucket_model(
            (limit, ops) in (1u64..2_000).prop_flat_map(|l| (Just(l), prop::collection::vec(op(l), 1..60)))
        ) {
            let mut model = Model::new(limit);
            let mut bucket = Bucket::default();
            let mut now = 1_000u64;
            for op in ops {
                match op {
                    Op::Advance(ms) => { now += ms; model.advance(ms); }
                    Op::Take(cost) => {
                        let admitted = bucket.check(now, limit, cost).is_ok();
                        if admitted { bucket.consume(now, limit, cost); }
                        prop_assert_eq!(admitted, model.try_take(cost));
                    }
                    Op::Adjust(delta) => { bucket.adjust(now, limit, delta); model.adjust(delta); }
                }
                prop_assert_eq!(bucket.remaining(now, limit), model.remaining());
            }
        }

        #[test]
        fn retry_after_is_exact(limit in 1u64..5_000, used in 0u64..10_000, cost in 1u64..5_000) {
            prop_assume!(cost <= limit);
            let bucket = Bucket { used: scaled(used), at_ms: 0 };
            if let Err(retry) = bucket.check(0, limit, cost) {
                prop_assert!(retry > 0);
                prop_assert!(bucket.check(retry, limit, cost).is_ok());
                prop_assert!(bucket.check(retry - 1, limit, cost).is_err());
            }
        }

        #[test]
        fn a_fresh_bucket_admits_exactly_the_burst(limit in 1u64..500, cost in 1u64..50) {
            let mut bucket = Bucket::default();
            let mut admitted = 0;
            while bucket.check(7, limit, cost).is_ok() {
                bucket.consume(7, limit, cost);
                admitted += 1;
            }
            prop_assert_eq!(admitted, limit / cost);
            prop_assert_eq!(bucket.reset_ms(7, limit), div_ceil(scaled(admitted * cost), limit));
        }

        #[test]
        fn never_admits_more_than_burst_plus_refill(
            limit in 1u64..300,
            gaps in prop::collection::vec(0u64..2_000, 1..200),
        ) {
            let mut bucket = Bucket::default();
            let mut now = 0;
            let mut admitted = 0u64;
            for gap in gaps {
                now += gap;
                if bucket.check(now, limit, 1).is_ok() {
                    bucket.consume(now, limit, 1);
                    admitted += 1;
                }
            }
            // GCRA bound: burst + whole units refilled over the elapsed time.
            prop_assert!(admitted <= limit + now * limit / WINDOW_MS);
        }
    }

    #[test]
    fn never_fitting_cost_waits_a_window() {
        assert_eq!(Bucket::default().check(0, 10, 11), Err(WINDOW_MS));
    }

    #[test]
    fn zero_limit_refuses_everything_but_free_requests() {
        let bucket = Bucket::default();
        assert_eq!(bucket.check(0, 0, 1), Err(WINDOW_MS));
        assert_eq!(bucket.check(0, 0, 0), Ok(()));
    }

    #[test]
    fn idle_at_is_when_the_level_reaches_zero() {
        let mut bucket = Bucket::default();
        bucket.consume(100, 60, 3);
        let idle = bucket.idle_at_ms(60);
        assert_eq!(idle, 100 + 3_000);
        assert_eq!(bucket.level(idle, 60), 0);
        assert!(bucket.level(idle - 1, 60) > 0);
    }
}
