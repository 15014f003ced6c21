//! A rolling window of success/failure counts, in ten time slots.

use std::time::{Duration, Instant};

const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which slot-length period since the origin this slot holds (`None`: empty).
    epoch: Option<u64>,
    successes: u32,
    failures: u32,
}

/// Counts of outcomes over roughly the last `window` (to a tenth of it).
#[derive(Debug, Clone)]
pub(crate) struct OutcomeWindow {
    origin: Instant,
    slot_nanos: u128,
    slots: [Slot; SLOTS],
}

impl OutcomeWindow {
    pub fn new(window: Duration, origin: Instant) -> Self {
        let slot_nanos = (window.as_nanos() / SLOTS as u128).max(1);
        Self {
            origin,
            slot_nanos,
            slots: [Slot::default(); SLOTS],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos() / self.slot_nanos;
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    pub fn record(&mut self, now: Instant, success: bool) {
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != Some(epoch) {
            *slot = Slot {
                epoch: Some(epoch),
                successes: 0,
                failures: 0,
            };
        }
        if success {
            slot.successes = slot.successes.saturating_add(1);
        } else {
            slot.failures = slot.failures.saturating_add(1);
        }
    }

    /// (successes, failures) over the window ending at `now`.
    pub fn totals(&self, now: Instant) -> (u64, u64) {
        let current = self.epoch(now);
        self.slots
            .iter()
            .filter(|s| {
                s.epoch
                    .is_some_and(|e| e <= current && current - e < SLOTS as u64)
            })
            .fold((0, 0), |(ok, fail), s| {
                (ok + u64::from(s.successes), fail + u64::from(s.failures))
            })
    }

    pub fn clear(&mut self) {
        self.slots = [Slot::default(); SLOTS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_outcomes_older_than_the_window() {
        let t0 = Instant::now();
        let mut w = OutcomeWindow::new(Duration::from_secs(10), t0);
        w.record(t0, false);
        w.record(t0 + Duration::from_secs(5), true);
        assert_eq!(w.totals(t0 + Duration::from_secs(9)), (1, 1));
        assert_eq!(w.totals(t0 + Duration::from_secs(10)), (1, 0));
        assert_eq!(w.totals(t0 + Duration::from_secs(15)), (0, 0));
        w.record(t0 + Duration::from_secs(20), false);
        assert_eq!(w.totals(t0 + Duration::from_secs(20)), (0, 1));
        w.clear();
        assert_eq!(w.totals(t0 + Duration::from_secs(20)), (0, 0));
    }
}
