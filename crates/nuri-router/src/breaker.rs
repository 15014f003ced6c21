//! [`CircuitBreaker`]: fail fast on a route that keeps failing, probe it after a cool-down.

use crate::window::OutcomeWindow;
use std::time::{Duration, Instant};

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many failures in a row (0: never on this rule).
    pub consecutive_failures: u32,
    /// Open when failures / outcomes over `window` reach this ratio (in `(0, 1]`)...
    pub error_ratio: f64,
    /// ...over this rolling window...
    pub window: Duration,
    /// ...provided the window holds at least this many outcomes.
    pub min_requests: u32,
    /// How long the breaker stays open before letting probes through.
    pub cool_down: Duration,
    /// How many probes may be in flight at once while half-open (at least 1).
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_ratio: 0.5,
            window: Duration::from_secs(30),
            min_requests: 20,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

/// A breaker configuration that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BreakerConfigError {
    /// `error_ratio` must be in `(0, 1]`.
    #[error("error_ratio must be in (0, 1], got {0}")]
    ErrorRatio(f64),
    /// `window` must be longer than zero.
    #[error("window must be longer than zero")]
    EmptyWindow,
    /// `half_open_probes` must be at least 1, or the breaker could never close.
    #[error("half_open_probes must be at least 1")]
    NoProbes,
}

impl BreakerConfig {
    /// Checks the configuration can work.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        if !(self.error_ratio > 0.0 && self.error_ratio <= 1.0) {
            return Err(BreakerConfigError::ErrorRatio(self.error_ratio));
        }
        if self.window.is_zero() {
            return Err(BreakerConfigError::EmptyWindow);
        }
        if self.half_open_probes == 0 {
            return Err(BreakerConfigError::NoProbes);
        }
        Ok(())
    }
}

/// The breaker's state, as reported (an open breaker whose cool-down is over reads half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; outcomes are counted.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// A limited number of probes may go through; the first success closes the breaker.
    HalfOpen,
}

/// How an attempt let through the breaker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The route answered properly.
    Success,
    /// The route failed (connect error, timeout, 5xx...).
    Failure,
    /// Not the route's fault, or unknown (the client went away): frees a probe slot, counts
    /// nothing.
    Neutral,
}

/// Permission to send one request on the route; hand it back to [`CircuitBreaker::record`].
#[derive(Debug)]
#[must_use = "record the attempt's outcome, or a half-open breaker keeps its probe slot"]
pub struct Attempt {
    generation: u64,
    probe: bool,
}

impl Attempt {
    /// Whether this attempt is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// The breaker refused: the route is failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open; retry in {retry_after:?}")]
pub struct BreakerOpen {
    /// When the breaker will let a probe through (at the earliest).
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// `since`: when this half-open period began; probes that never report back are given up
    /// on after a cool-down, so a lost [`Attempt`] cannot wedge the breaker.
    HalfOpen {
        probes_out: u32,
        since: Instant,
    },
}

/// A circuit breaker for one route. Not synchronised: the router keeps it behind a lock.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: State,
    consecutive_failures: u32,
    window: OutcomeWindow,
    /// Bumped on every transition, so outcomes of attempts admitted under an earlier state do
    /// not move the current one.
    generation: u64,
}

impl CircuitBreaker {
    /// A closed breaker. `now` anchors its rolling window.
    pub fn new(config: BreakerConfig, now: Instant) -> Result<Self, BreakerConfigError> {
        config.validate()?;
        let window = OutcomeWindow::new(config.window, now);
        Ok(Self {
            config,
            state: State::Closed,
            consecutive_failures: 0,
            window,
            generation: 0,
        })
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether [`CircuitBreaker::try_acquire`] would let a request through at `now` (for
    /// choosing among routes without taking a slot).
    pub fn is_available(&self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until } => now >= until,
            State::HalfOpen { probes_out, since } => {
                probes_out < self.config.half_open_probes || self.probes_lost(since, now)
            }
        }
    }

    /// How long until the breaker lets a request through (`None`: it would now).
    pub fn retry_after(&self, now: Instant) -> Option<Duration> {
        match self.state {
            _ if self.is_available(now) => None,
            State::Open { until } => Some(until.saturating_duration_since(now)),
            State::Closed | State::HalfOpen { .. } => Some(self.config.cool_down),
        }
    }

    /// Lets a request through, or refuses fast while open (or while every probe slot is taken).
    pub fn try_acquire(&mut self, now: Instant) -> Result<Attempt, BreakerOpen> {
        if let State::Open { until } = self.state {
            if now < until {
                return Err(BreakerOpen {
                    retry_after: until - now,
                });
            }
            self.transition(State::HalfOpen {
                probes_out: 0,
                since: now,
            });
        }
        if let State::HalfOpen { since, .. } = self.state {
            if self.probes_lost(since, now) {
                // Every probe is out and none reported within a cool-down: start over.
                self.transition(State::HalfOpen {
                    probes_out: 0,
                    since: now,
                });
            }
        }
        match &mut self.state {
            State::Closed => Ok(Attempt {
                generation: self.generation,
                probe: false,
            }),
            State::HalfOpen { probes_out, .. } if *probes_out < self.config.half_open_probes => {
                *probes_out += 1;
                Ok(Attempt {
                    generation: self.generation,
                    probe: true,
                })
            }
            State::HalfOpen { .. } | State::Open { .. } => Err(BreakerOpen {
                retry_after: self.config.cool_down,
            }),
        }
    }

    /// Records how an attempt ended, which may open or close the breaker.
    pub fn record(&mut self, now: Instant, attempt: Attempt, outcome: Outcome) {
        if attempt.generation != self.generation {
            return; // admitted under an earlier state: no say in this one
        }
        match self.state {
            State::Closed => match outcome {
                Outcome::Neutral => {}
                Outcome::Success => {
                    self.consecutive_failures = 0;
                    self.window.record(now, true);
                }
                Outcome::Failure => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    self.window.record(now, false);
                    if self.should_trip(now) {
                        self.trip(now);
                    }
                }
            },
            State::HalfOpen { probes_out, since } => match outcome {
                Outcome::Success => self.transition(State::Closed),
                Outcome::Failure => self.trip(now),
                Outcome::Neutral => {
                    self.state = State::HalfOpen {
                        probes_out: probes_out.saturating_sub(1),
                        since,
                    };
                }
            },
            State::Open { .. } => {}
        }
    }

    fn should_trip(&self, now: Instant) -> bool {
        let threshold = self.config.consecutive_failures;
        if threshold > 0 && self.consecutive_failures >= threshold {
            return true;
        }
        let (ok, failed) = self.window.totals(now);
        let total = ok + failed;
        total >= u64::from(self.config.min_requests.max(1))
            && failed as f64 >= self.config.error_ratio * total as f64
    }

    fn probes_lost(&self, since: Instant, now: Instant) -> bool {
        matches!(self.state, State::HalfOpen { probes_out, .. } if probes_out >= self.config.half_open_probes)
            && now >= since + self.config.cool_down
    }

    fn trip(&mut self, now: Instant) {
        self.transition(State::Open {
            until: now + self.config.cool_down,
        });
    }

    fn transition(&mut self, to: State) {
        self.state = to;
        self.generation += 1;
        self.consecutive_failures = 0;
        self.window.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            error_ratio: 0.5,
            window: Duration::from_secs(10),
            min_requests: 6,
            cool_down: Duration::from_secs(5),
            half_open_probes: 2,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn run(b: &mut CircuitBreaker, now: Instant, outcome: Outcome) {
        let attempt = b.try_acquire(now).unwrap();
        b.record(now, attempt, outcome);
    }

    #[test]
    fn opens_on_consecutive_failures_and_fails_fast() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config(), t0).unwrap();
        run(&mut b, t0, Outcome::Failure);
        run(&mut b, t0, Outcome::Failure);
        run(&mut b, t0, Outcome::Success); // resets the streak
        run(&mut b, t0, Outcome::Failure);
        run(&mut b, t0, Outcome::Failure);
        assert_eq!(b.state(t0), BreakerState::Closed);
        run(&mut b, t0, Outcome::Failure);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(
            b.try_acquire(t0 + ms(1_000)).unwrap_err().retry_after,
            ms(4_000)
        );
        assert!(!b.is_available(t0 + ms(4_999)));
        assert!(b.is_available(t0 + ms(5_000)));
        assert_eq!(b.retry_after(t0 + ms(1_000)), Some(ms(4_000)));
        assert_eq!(b.retry_after(t0 + ms(5_000)), None);
    }

    #[test]
    fn opens_on_error_ratio_only_past_the_minimum_count() {
        let t0 = Instant::now();
        let cfg = BreakerConfig {
            consecutive_failures: 0,
            ..config()
        };
        let mut b = CircuitBreaker::new(cfg, t0).unwrap();
        for _ in 0..2 {
            run(&mut b, t0, Outcome::Success);
            run(&mut b, t0, Outcome::Failure);
        }
        assert_eq!(b.state(t0), BreakerState::Closed); // 2/4 failed, under min_requests
        run(&mut b, t0, Outcome::Success);
        run(&mut b, t0, Outcome::Failure); // 3/6 = 0.5
        assert_eq!(b.state(t0), BreakerState::Open);
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let t0 = Instant::now();
        let cfg = BreakerConfig {
            consecutive_failures: 0,
            ..config()
        };
        let mut b = CircuitBreaker::new(cfg, t0).unwrap();
        for _ in 0..5 {
            run(&mut b, t0, Outcome::Failure);
        }
        let later = t0 + ms(11_000);
        for _ in 0..5 {
            run(&mut b, later, Outcome::Success);
        }
        run(&mut b, later, Outcome::Failure); // 1/6 in the window
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_n_probes_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config(), t0).unwrap();
        for _ in 0..3 {
            run(&mut b, t0, Outcome::Failure);
        }
        let t1 = t0 + ms(5_000);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        let p1 = b.try_acquire(t1).unwrap();
        let p2 = b.try_acquire(t1).unwrap();
        assert!(p1.is_probe() && p2.is_probe());
        assert!(b.try_acquire(t1).is_err());
        b.record(t1, p1, Outcome::Neutral); // frees a slot, decides nothing
        let p3 = b.try_acquire(t1).unwrap();
        b.record(t1, p3, Outcome::Success);
        assert_eq!(b.state(t1), BreakerState::Closed);
        // The other probe finishing late does not reopen it.
        b.record(t1, p2, Outcome::Failure);
        assert_eq!(b.state(t1), BreakerState::Closed);
    }

    #[test]
    fn lost_probes_are_given_up_after_a_cool_down() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config(), t0).unwrap();
        for _ in 0..3 {
            run(&mut b, t0, Outcome::Failure);
        }
        let t1 = t0 + ms(5_000);
        let lost = [b.try_acquire(t1).unwrap(), b.try_acquire(t1).unwrap()];
        assert!(!b.is_available(t1 + ms(4_999)));
        assert!(b.try_acquire(t1 + ms(4_999)).is_err());
        let t2 = t1 + ms(5_000);
        assert!(b.is_available(t2));
        let probe = b.try_acquire(t2).unwrap();
        for attempt in lost {
            b.record(t2, attempt, Outcome::Failure); // too late: ignored
        }
        assert_eq!(b.state(t2), BreakerState::HalfOpen);
        b.record(t2, probe, Outcome::Success);
        assert_eq!(b.state(t2), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_cool_down() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config(), t0).unwrap();
        for _ in 0..3 {
            run(&mut b, t0, Outcome::Failure);
        }
        let t1 = t0 + ms(6_000);
        run(&mut b, t1, Outcome::Failure);
        assert_eq!(b.state(t1 + ms(4_999)), BreakerState::Open);
        assert_eq!(b.state(t1 + ms(5_000)), BreakerState::HalfOpen);
    }

    #[test]
    fn outcomes_from_before_a_transition_are_ignored() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config(), t0).unwrap();
        let slow = b.try_acquire(t0).unwrap();
        for _ in 0..3 {
            run(&mut b, t0, Outcome::Failure);
        }
        b.record(t0, slow, Outcome::Success);
        assert_eq!(b.state(t0), BreakerState::Open);
    }

    #[test]
    fn rejects_configs_that_cannot_work() {
        let t0 = Instant::now();
        let bad = BreakerConfig {
            error_ratio: 0.0,
            ..config()
        };
        assert_eq!(
            CircuitBreaker::new(bad, t0).err(),
            Some(BreakerConfigError::ErrorRatio(0.0))
        );
        let bad = BreakerConfig {
            half_open_probes: 0,
            ..config()
        };
        assert_eq!(
            CircuitBreaker::new(bad, t0).err(),
            Some(BreakerConfigError::NoProbes)
        );
        let bad = BreakerConfig {
            window: Duration::ZERO,
            ..config()
        };
        assert_eq!(
            CircuitBreaker::new(bad, t0).err(),
            Some(BreakerConfigError::EmptyWindow)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u64),
        Acquire,
        Finish(usize, u8),
    }

    proptest! {
        /// Whatever happens: never lets a request through while open, never more than N probes
        /// at once while half-open, and `is_available` agrees with `try_acquire`.
        #[test]
        fn invariants_hold(ops in prop::collection::vec(prop_oneof![
            (0u64..3_000).prop_map(Op::Advance),
            Just(Op::Acquire),
            (0usize..8, 0u8..3).prop_map(|(i, o)| Op::Finish(i, o)),
        ], 1..200)) {
            let cfg = config();
            let t0 = Instant::now();
            let mut now = t0;
            let mut b = CircuitBreaker::new(cfg.clone(), t0).unwrap();
            let mut out: Vec<Attempt> = Vec::new();
            for op in ops {
                match op {
                    Op::Advance(n) => now += ms(n),
                    Op::Acquire => {
                        let state = b.state(now);
                        let available = b.is_available(now);
                        match b.try_acquire(now) {
                            Ok(a) => {
                                prop_assert!(available);
                                prop_assert_ne!(state, BreakerState::Open);
                                if a.is_probe() {
                                    let out_now = out.iter().filter(|x| x.probe && x.generation == a.generation).count();
                                    prop_assert!(out_now < cfg.half_open_probes as usize);
                                }
                                out.push(a);
                            }
                            Err(e) => {
                                prop_assert!(!available);
                                prop_assert!(e.retry_after > Duration::ZERO);
                            }
                        }
                    }
                    Op::Finish(i, o) if i < out.len() => {
                        let outcome = [Outcome::Success, Outcome::Failure, Outcome::Neutral][o as usize];
                        let attempt = out.swap_remove(i);
                        let was_probe = attempt.probe && attempt.generation == b.generation;
                        b.record(now, attempt, outcome);
                        if was_probe && outcome == Outcome::Success {
                            prop_assert_eq!(b.state(now), BreakerState::Closed);
                        }
                        if was_probe && outcome == Outcome::Failure {
                            prop_assert_eq!(b.state(now), BreakerState::Open);
                        }
                    }
                    Op::Finish(..) => {}
                }
            }
        }
    }
}
