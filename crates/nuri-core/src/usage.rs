//! Usage records (one per request) and the sink that writes them off the hot path, in batches,
//! without ever dropping one.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::batching::Batches;
use crate::store::Store;
use crate::tasks::TaskTracker;
use std::sync::Arc;

/// One request's usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UsageRecord {
    /// Nuri's request id.
    pub request_id: String,
    /// The client's own `x-request-id`, if it sent one.
    pub client_request_id: Option<String>,
    /// Organisation.
    pub org_id: String,
    /// Project.
    pub project_id: String,
    /// API key id.
    pub key_id: String,
    /// `chat`, `completions` or `embeddings`.
    pub endpoint: String,
    /// Public model that answered (or was asked for, on failure).
    pub model: String,
    /// Provider that answered.
    pub provider: Option<String>,
    /// Upstream model name.
    pub upstream_model: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// True when the tokens were estimated rather than reported.
    pub usage_estimated: bool,
    /// Cost in milli-won.
    pub cost: i64,
    /// Input price charged (won per million tokens).
    pub input_price: i64,
    /// Output price charged (won per million tokens).
    pub output_price: i64,
    /// Grant that paid, if any.
    pub grant_id: Option<String>,
    /// Whole-request latency in ms.
    pub latency_ms: i64,
    /// Time to first token in ms (streams).
    pub ttft_ms: Option<i64>,
    /// HTTP status returned to the client (200 for a stream even if it failed mid-way).
    pub status: u16,
    /// Error code, if the request failed.
    pub error_code: Option<String>,
    /// Whether the response was streamed.
    pub stream: bool,
    /// Unix ms.
    pub created_at: i64,
}

/// Filters for usage queries; all optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsageFilter {
    /// Organisation id.
    pub org: Option<String>,
    /// Project id.
    pub project: Option<String>,
    /// Key id.
    pub key: Option<String>,
    /// Public model.
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// From (Unix ms, inclusive).
    pub from: Option<i64>,
    /// To (Unix ms, exclusive).
    pub to: Option<i64>,
    /// Page size (default 100, max 1000).
    pub limit: Option<u32>,
    /// Cursor: the last request id of the previous page.
    pub after: Option<String>,
}

/// Sends usage records to a background writer that commits them in batches.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<UsageRecord>,
    tracker: TaskTracker,
}

/// Largest batch committed in one transaction.
const BATCH: usize = 512;

impl UsageSink {
    /// Starts the writer on `tracker`; it ends when every sink clone is dropped, after
    /// writing everything queued.
    pub fn start(store: Arc<dyn Store>, tracker: &TaskTracker) -> Self {
        let (tx, rx) = mpsc::channel::<UsageRecord>(65_536);
        tracker.spawn(async move {
            let mut batches = Batches::new(rx, BATCH);
            while let Some(batch) = batches.next().await {
                write_with_retry(store.as_ref(), batch).await;
            }
        });
        Self {
            tx,
            tracker: tracker.clone(),
        }
    }

    /// Queues a record; never blocks the caller and never drops the record.
    pub fn record(&self, record: UsageRecord) {
        if let Err(record) = crate::tasks::send_tracked(&self.tracker, &self.tx, record) {
            tracing::error!(request_id = %record.request_id, "usage sink closed; record lost");
        }
    }
}

async fn write_with_retry(store: &dyn Store, batch: &[UsageRecord]) {
    let mut delay = std::time::Duration::from_millis(50);
    for attempt in 1..=20 {
        match store.insert_usage(batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(attempt, error = %e, records = batch.len(), "usage write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
    for r in batch {
        tracing::error!(request_id = %r.request_id, "usage record could not be written");
    }
}
