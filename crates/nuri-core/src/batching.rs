//! Group commit for background writers nobody waits on (usage records, credit settlements):
//! each commit carries everything queued, and under sustained load a batch waits a moment for
//! more.
//!
//! Under load a writer's next batch starts as soon as the last commit ends, so it holds only
//! what arrived during that commit — a few records — and the store commits (and writes its WAL
//! pages) thousands of times a second. When the last batch was busy, waiting up to [`LINGER`]
//! for more delays each record by at most that much and saves most of those commits (measured
//! in `bench/RESULTS.md`). A lone record after a quiet spell never waits. Credit reservations
//! do not use this: a request waits on its reservation, so lingering would add to its latency.

use std::time::Duration;

use tokio::sync::mpsc;

/// Longest a batch waits for more operations (tokio's timer has millisecond resolution).
pub const LINGER: Duration = Duration::from_millis(1);

/// A batch this large counts as "busy": the next one may linger.
const BUSY: usize = 8;

/// A channel read in batches of up to `max` items, lingering under load as [`next_batch`] does.
pub struct Batches<T> {
    rx: mpsc::Receiver<T>,
    batch: Vec<T>,
    max: usize,
}

impl<T> Batches<T> {
    /// Batches of up to `max` items from `rx`.
    pub fn new(rx: mpsc::Receiver<T>, max: usize) -> Self {
        Self {
            rx,
            batch: Vec::with_capacity(max),
            max,
        }
    }

    /// The next batch; `None` once the channel is closed and empty.
    pub async fn next(&mut self) -> Option<&[T]> {
        let last = self.batch.len();
        self.batch.clear();
        let n = next_batch(&mut self.rx, &mut self.batch, self.max, last).await;
        (n > 0).then_some(&self.batch[..])
    }
}

/// Receives the next batch (up to `max` items) into `batch`; returns how many arrived, 0 when
/// the channel is closed and empty. `last` is the size of the previous batch.
pub async fn next_batch<T>(
    rx: &mut mpsc::Receiver<T>,
    batch: &mut Vec<T>,
    max: usize,
    last: usize,
) -> usize {
    if rx.recv_many(batch, max).await == 0 {
        return 0;
    }
    if last >= BUSY && batch.len() < max / 4 {
        tokio::time::sleep(LINGER).await;
        while batch.len() < max {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
    }
    batch.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_quiet_writer_takes_what_is_there_and_a_busy_one_waits_for_more() {
        let (tx, mut rx) = mpsc::channel(100);
        let mut batch = Vec::new();
        tx.send(1).await.unwrap();
        // Quiet: one item, no waiting.
        assert_eq!(next_batch(&mut rx, &mut batch, 64, 0).await, 1);
        batch.clear();
        // Busy: the first item, then whatever arrives within the linger.
        tx.send(2).await.unwrap();
        let late = tx.clone();
        // Runs once the writer is waiting (one thread: nothing runs before it yields).
        tokio::spawn(async move { late.send(3).await.unwrap() });
        assert_eq!(next_batch(&mut rx, &mut batch, 64, BUSY).await, 2);
        assert_eq!(batch, vec![2, 3]);
        batch.clear();
        drop(tx);
        assert_eq!(next_batch(&mut rx, &mut batch, 64, BUSY).await, 0);
    }
}
