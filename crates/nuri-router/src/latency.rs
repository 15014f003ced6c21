//! [`LatencyTracker`]: a route's recent latency and load, for power-of-two-choices balancing.

use std::time::{Duration, Instant};

/// A peak-EWMA of a route's latency plus its in-flight count (as Finagle and linkerd balance).
///
/// A sample above the average replaces it at once (a route that gets slow is avoided quickly);
/// a sample below it pulls it down with weight `1 − e^(−Δt/τ)`, where `Δt` is the time since the
/// last sample and `τ` the decay time (a route that recovers is trusted again gradually).
/// [`LatencyTracker::load`] = average × (in flight + 1), the number P2C compares.
#[derive(Debug, Clone)]
pub struct LatencyTracker {
    average_nanos: f64,
    last_sample: Option<Instant>,
    in_flight: u32,
    decay_nanos: f64,
}

impl LatencyTracker {
    /// A tracker that assumes `initial` latency until it has samples (an optimistic prior lets
    /// new routes get traffic), forgetting with time constant `decay`.
    pub fn new(initial: Duration, decay: Duration) -> Self {
        Self {
            average_nanos: initial.as_nanos() as f64,
            last_sample: None,
            in_flight: 0,
            decay_nanos: (decay.as_nanos() as f64).max(1.0),
        }
    }

    /// A request was sent on the route.
    pub fn start(&mut self) {
        self.in_flight = self.in_flight.saturating_add(1);
    }

    /// A request finished at `now` after `latency` (time to first byte, say).
    pub fn finish(&mut self, now: Instant, latency: Duration) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let sample = latency.as_nanos() as f64;
        if sample >= self.average_nanos {
            self.average_nanos = sample;
        } else {
            let elapsed = match self.last_sample {
                Some(last) => now.saturating_duration_since(last).as_nanos() as f64,
                None => self.decay_nanos * 16.0, // no history: take the sample
            };
            let weight = 1.0 - (-elapsed / self.decay_nanos).exp();
            self.average_nanos += (sample - self.average_nanos) * weight;
        }
        self.last_sample = Some(now);
    }

    /// A request ended without a meaningful latency (cancelled): only the count changes.
    pub fn abandon(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The current latency estimate.
    pub fn latency(&self) -> Duration {
        Duration::from_nanos(self.average_nanos as u64)
    }

    /// Requests in flight on the route.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The load P2C compares: latency estimate (ms) × (in flight + 1).
    pub fn load(&self) -> f64 {
        self.average_nanos / 1e6 * (f64::from(self.in_flight) + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rises_at_once_and_decays_with_time() {
        let t0 = Instant::now();
        let mut t = LatencyTracker::new(ms(100), ms(1_000));
        t.start();
        t.finish(t0, ms(500));
        assert_eq!(t.latency(), ms(500));
        t.start();
        t.finish(t0 + ms(1_000), ms(100)); // one time constant: ~63% of the way down
        let l = t.latency().as_millis();
        assert!((245..=255).contains(&l), "{l}");
        t.start();
        t.finish(t0 + ms(1_000), ms(100)); // no time passed: no pull
        assert_eq!(t.latency().as_millis(), l);
    }

    #[test]
    fn load_grows_with_in_flight() {
        let mut t = LatencyTracker::new(ms(10), ms(1_000));
        assert!((t.load() - 10.0).abs() < 1e-9);
        t.start();
        t.start();
        assert!((t.load() - 30.0).abs() < 1e-9);
        t.abandon();
        assert_eq!(t.in_flight(), 1);
    }

    proptest! {
        #[test]
        fn stays_within_the_samples_seen(samples in prop::collection::vec((0u64..5_000, 1u64..10_000), 1..50)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut t = LatencyTracker::new(ms(50), ms(2_000));
            let (mut lo, mut hi) = (50u64, 50u64);
            for (gap, latency) in samples {
                now += ms(gap);
                t.start();
                t.finish(now, ms(latency));
                lo = lo.min(latency);
                hi = hi.max(latency);
                let l = t.latency().as_millis() as u64;
                prop_assert!(l + 1 >= lo && l <= hi, "{} not in [{}, {}]", l, lo, hi);
            }
            prop_assert_eq!(t.in_flight(), 0);
        }
    }
}
