//! The chat engine's thread: continuous batching over the active sequences.
//!
//! Each iteration it (1) admits queued requests while fewer than `max_batch` sequences are
//! active, (2) drops sequences whose client went away (the event receiver was closed) and flushes
//! events that did not fit a full channel, (3) runs *one* forward pass over every runnable
//! sequence — a prompt chunk for new ones, one token for the others — and (4) samples, detokenises
//! and emits. A sequence whose event channel is full is paused (not stepped) until the client
//! reads, so a slow reader never blocks the others and memory stays bounded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{error::TrySendError, Sender};

use crate::error::EngineError;
use crate::model::{KvCache, Model, SeqInput};
use crate::request::{FinishReason, GenerationEvent};
use crate::sampler::Sampler;
use crate::stream::{StopMatcher, StopOutcome, Utf8Stream};
use crate::tokenizer::GgufTokenizer;

/// Most prompt tokens one sequence feeds per step, so a long prompt does not stall the others'
/// decoding for long.
const PREFILL_CHUNK: usize = 256;

/// A validated request on its way to the engine thread.
pub(crate) struct Job {
    pub prompt: Vec<u32>,
    pub max_new_tokens: usize,
    pub sampler: Sampler,
    pub stop: Vec<String>,
    pub events: Sender<GenerationEvent>,
}

/// Counts requests queued or running; `submit` refuses new ones past the limit.
#[derive(Debug)]
pub(crate) struct Slots {
    in_flight: AtomicUsize,
    limit: usize,
}

impl Slots {
    pub fn new(limit: usize) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes a slot, or `false` when all are taken.
    pub fn try_acquire(&self) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok()
    }

    pub fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Requests queued or running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

struct Active {
    /// Released when the sequence finishes (before its last event is sent) or is dropped.
    slot: Option<Arc<Slots>>,
    cache: Option<KvCache>,
    /// Tokens still to feed: the rest of the prompt, then the last sampled token.
    feed: Vec<u32>,
    fed: usize,
    prompt_tokens: usize,
    generated: usize,
    max_new_tokens: usize,
    sampler: Sampler,
    utf8: Utf8Stream,
    stop: StopMatcher,
    events: Sender<GenerationEvent>,
    outbox: VecDeque<GenerationEvent>,
    finished: bool,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.release_slot();
    }
}

impl Active {
    fn from_job(job: Job, n_layer: usize, slots: Arc<Slots>) -> Self {
        Self {
            slot: Some(slots),
            cache: Some(KvCache::new(n_layer)),
            prompt_tokens: job.prompt.len(),
            feed: job.prompt,
            fed: 0,
            generated: 0,
            max_new_tokens: job.max_new_tokens,
            sampler: job.sampler,
            utf8: Utf8Stream::default(),
            stop: StopMatcher::new(&job.stop),
            events: job.events,
            outbox: VecDeque::new(),
            finished: false,
        }
    }

    fn release_slot(&mut self) {
        if let Some(slots) = self.slot.take() {
            slots.release();
        }
    }

    /// Sends queued events while the channel has room. Returns false if the client is gone.
    fn flush(&mut self) -> bool {
        while let Some(ev) = self.outbox.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    self.outbox.push_front(ev);
                    return true;
                }
                Err(TrySendError::Closed(_)) => return false,
            }
        }
        true
    }

    fn emit_text(&mut self, text: String) {
        if !text.is_empty() {
            self.outbox.push_back(GenerationEvent::Text(text));
        }
    }

    fn finish(&mut self, reason: FinishReason) {
        let tail = self.utf8.finish();
        let (StopOutcome::Continue(t) | StopOutcome::Stop(t)) = self.stop.push(&tail);
        self.emit_text(t);
        let held = self.stop.finish();
        self.emit_text(held);
        self.outbox.push_back(GenerationEvent::Done {
            finish_reason: reason,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.generated,
        });
        self.finished = true;
        self.cache = None;
        self.release_slot();
    }

    fn fail(&mut self, err: EngineError) {
        self.outbox.push_back(GenerationEvent::Error(err));
        self.finished = true;
        self.cache = None;
        self.release_slot();
    }

    /// Handles one sampled token.
    fn accept(&mut self, token: u32, tok: &GgufTokenizer) {
        if tok.stop_ids.contains(&token) {
            self.finish(FinishReason::Stop);
            return;
        }
        self.generated += 1;
        let text = self.utf8.push(tok.token_bytes(token));
        match self.stop.push(&text) {
            StopOutcome::Continue(t) => self.emit_text(t),
            StopOutcome::Stop(t) => {
                self.emit_text(t);
                self.stop = StopMatcher::default();
                self.utf8 = Utf8Stream::default();
                self.finish(FinishReason::Stop);
                return;
            }
        }
        if self.generated >= self.max_new_tokens {
            self.finish(FinishReason::Length);
        } else {
            self.feed = vec![token];
            self.fed = 0;
        }
    }
}

/// Runs until the request channel is closed and no sequence is left.
pub(crate) fn run(
    model: Arc<Model>,
    tokenizer: Arc<GgufTokenizer>,
    jobs: Receiver<Job>,
    slots: Arc<Slots>,
    max_batch: usize,
) {
    let n_layer = model.config().n_layer;
    let mut active: Vec<Active> = Vec::new();
    let mut open = true;
    loop {
        // 1. Admit.
        while open && active.iter().filter(|a| !a.finished).count() < max_batch {
            let next = if active.is_empty() {
                jobs.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                jobs.try_recv()
            };
            match next {
                Ok(job) if job.events.is_closed() => slots.release(),
                Ok(job) => active.push(Active::from_job(job, n_layer, slots.clone())),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if !open && active.is_empty() {
            return;
        }

        // 2. Flush and drop finished or abandoned sequences.
        active.retain_mut(|a| {
            // Dropping an `Active` releases its slot.
            let alive = a.flush() && !a.events.is_closed();
            alive && !(a.finished && a.outbox.is_empty())
        });

        // 3. One forward pass over the runnable sequences.
        let runnable: Vec<usize> = (0..active.len())
            .filter(|&i| !active[i].finished && active[i].outbox.is_empty())
            .collect();
        if runnable.is_empty() {
            if !active.is_empty() {
                // Everyone is waiting for a slow reader. This is the engine's own OS thread,
                // never an async worker, so a short blocking sleep is right here.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(1));
            }
            continue;
        }
        let step = step(&model, &mut active, &runnable);

        // 4. Sample and emit.
        match step {
            Ok(logits) => {
                for (i, l) in runnable.iter().zip(logits) {
                    let a = &mut active[*i];
                    if let Some(mut l) = l {
                        let token = a.sampler.sample(&mut l);
                        a.accept(token, &tokenizer);
                    }
                    a.flush();
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "local model forward pass failed");
                for &i in &runnable {
                    active[i].fail(err.clone());
                    active[i].flush();
                }
            }
        }
    }
}

fn step(
    model: &Model,
    active: &mut [Active],
    runnable: &[usize],
) -> Result<Vec<Option<Vec<f32>>>, EngineError> {
    let mut inputs = Vec::with_capacity(runnable.len());
    let mut chosen = runnable.iter().peekable();
    for (i, a) in active.iter_mut().enumerate() {
        if chosen.peek() != Some(&&i) {
            continue;
        }
        chosen.next();
        let end = (a.fed + PREFILL_CHUNK).min(a.feed.len());
        let tokens = &a.feed[a.fed..end];
        a.fed = end;
        let want_logits = end == a.feed.len();
        let cache = a
            .cache
            .as_mut()
            .ok_or_else(|| EngineError::Inference("sequence has no cache".into()))?;
        inputs.push(SeqInput {
            tokens,
            cache,
            want_logits,
        });
    }
    Ok(model.forward(&mut inputs)?)
}
