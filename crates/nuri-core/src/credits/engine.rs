//! [`CreditEngine`]: the credit stage of the pipeline. Reservations go to one writer task that
//! commits them in batches (group commit: one transaction for everything queued meanwhile),
//! each still its own atomic conditional update in the store; settlements go to another, whose
//! batches linger under load since nobody waits on them. Holds of requests still running are
//! kept alive; a sweeper settles expired ones as `orphaned`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nuri_config::ModelConfig;
use nuri_types::MilliWon;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::model::{
    Grant, GrantStatus, HeldFacts, ReserveOutcome, ReserveRequest, SettleRequest, SpendCap,
};
use super::CreditStore;
use crate::auth::AuthContext;
use crate::batching::Batches;
use crate::error::GatewayError;
use crate::stages::{CreditHold, CreditStage};
use crate::store::StoreError;
use crate::tasks::TaskTracker;

/// Tunables of the credit engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditSettings {
    /// How long an unsettled hold lives without being kept alive.
    pub reservation_ttl: Duration,
    /// How often live holds are extended and expired ones swept.
    pub sweep_interval: Duration,
    /// How long an organisation's grant list is reused before it is read again.
    pub grant_cache: Duration,
    /// IANA time zone whose days and months spending caps count in.
    pub timezone: String,
}

impl Default for CreditSettings {
    fn default() -> Self {
        Self {
            reservation_ttl: Duration::from_secs(120),
            sweep_interval: Duration::from_secs(20),
            grant_cache: Duration::from_secs(1),
            timezone: "Asia/Seoul".into(),
        }
    }
}

/// Largest number of operations committed in one transaction.
const BATCH: usize = 256;

/// A reservation waiting for the writer, and where its outcome goes.
type Pending = (ReserveRequest, Reply);

/// An organisation's grants and when they were read.
type CachedGrants = (Instant, Arc<Vec<Grant>>);

struct Inner {
    store: Arc<dyn CreditStore>,
    settings: CreditSettings,
    reserves: mpsc::Sender<Pending>,
    settles: mpsc::Sender<SettleRequest>,
    grants: Mutex<HashMap<String, CachedGrants>>,
    live: Mutex<HashSet<String>>,
    tracker: TaskTracker,
}

/// The credit stage: reserves before forwarding, settles after.
#[derive(Clone)]
pub struct CreditEngine {
    inner: Arc<Inner>,
}

impl CreditEngine {
    /// Starts the writer on `tracker` (it drains everything queued before the tracker's wait
    /// returns) and the keep-alive/sweeper loop (stopped when the engine is dropped).
    pub fn start(
        store: Arc<dyn CreditStore>,
        settings: CreditSettings,
        tracker: &TaskTracker,
    ) -> Self {
        let (reserves, reserve_rx) = mpsc::channel(65_536);
        let (settles, settle_rx) = mpsc::channel(65_536);
        tracker.spawn(reserve_loop(Arc::clone(&store), reserve_rx));
        tracker.spawn(settle_loop(Arc::clone(&store), settle_rx));
        let inner = Arc::new(Inner {
            store,
            settings,
            reserves,
            settles,
            grants: Mutex::new(HashMap::new()),
            live: Mutex::new(HashSet::new()),
            tracker: tracker.clone(),
        });
        tokio::spawn(maintain(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// Forgets cached grant lists (after an admin change on this replica).
    pub fn invalidate(&self) {
        self.inner.grants.lock().clear();
    }

    /// Runs one keep-alive and sweep pass now; returns how many holds were orphaned.
    pub async fn sweep_now(&self) -> Result<u64, StoreError> {
        sweep(&self.inner).await
    }

    async fn org_grants(&self, org_id: &str, fresh: bool) -> Result<Arc<Vec<Grant>>, StoreError> {
        if !fresh {
            if let Some((at, list)) = self.inner.grants.lock().get(org_id) {
                if at.elapsed() < self.inner.settings.grant_cache {
                    return Ok(Arc::clone(list));
                }
            }
        }
        let list = Arc::new(self.inner.store.org_grants(org_id).await?);
        self.inner
            .grants
            .lock()
            .insert(org_id.to_owned(), (Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    async fn submit(&self, request: ReserveRequest) -> Result<ReserveOutcome, GatewayError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .reserves
            .send((request, tx))
            .await
            .map_err(|_| unavailable("the credit ledger is shutting down"))?;
        rx.await
            .map_err(|_| unavailable("the credit ledger writer stopped"))?
            .map_err(|e| unavailable(&format!("the credit ledger is unavailable: {e}")))
    }
}

fn unavailable(message: &str) -> GatewayError {
    GatewayError::Unavailable {
        message: message.to_owned(),
        retry_after: Duration::from_secs(1),
    }
}

/// The grants that may pay `amount` for `model` now, first-expiring first.
fn candidates(grants: &[Grant], model: &ModelConfig, amount: i64, now: i64) -> Vec<String> {
    let providers: Vec<&str> = model.routes.iter().map(|r| r.provider.as_str()).collect();
    let mut fit: Vec<&Grant> = grants
        .iter()
        .filter(|g| {
            g.status == GrantStatus::Active
                && g.in_window(now)
                && g.remaining() >= amount
                && g.may_pay_for(&model.name, &providers)
        })
        .collect();
    fit.sort_by_key(|g| (g.ends_at.unwrap_or(i64::MAX), g.created_at, g.id.clone()));
    fit.into_iter().map(|g| g.id.clone()).collect()
}

#[async_trait]
impl CreditStage for CreditEngine {
    async fn reserve(
        &self,
        auth: &AuthContext,
        model: &ModelConfig,
        request_id: &str,
        worst_case: MilliWon,
    ) -> Result<Box<dyn CreditHold>, GatewayError> {
        let amount = worst_case.0.max(1);
        let id = nuri_types::ids::new_id("rsv");
        let caps = spend_caps(auth, &self.inner.settings.timezone);
        for fresh in [false, true] {
            let now = crate::time::now_ms();
            let grants = self
                .org_grants(&auth.key.org_id, fresh)
                .await
                .map_err(|e| unavailable(&format!("the credit ledger is unavailable: {e}")))?;
            let grants = candidates(&grants, model, amount, now);
            if grants.is_empty() {
                continue;
            }
            let ttl =
                i64::try_from(self.inner.settings.reservation_ttl.as_millis()).unwrap_or(i64::MAX);
            let request = ReserveRequest {
                id: id.clone(),
                request_id: request_id.to_owned(),
                org_id: auth.key.org_id.clone(),
                project_id: auth.key.project_id.clone(),
                key_id: auth.key.id.clone(),
                model: model.name.clone(),
                amount,
                grants,
                now,
                expires_at: now.saturating_add(ttl),
                caps: caps.clone(),
            };
            match self.submit(request).await? {
                ReserveOutcome::Reserved(grant_id) => {
                    self.inner.live.lock().insert(id.clone());
                    return Ok(Box::new(Hold {
                        engine: Arc::clone(&self.inner),
                        id,
                        facts: HeldFacts {
                            grant_id,
                            amount,
                            request_id: request_id.to_owned(),
                            capped: !caps.is_empty(),
                        },
                    }));
                }
                ReserveOutcome::CapReached(cap) => {
                    return Err(GatewayError::InsufficientQuota(cap_message(&cap, amount)))
                }
                ReserveOutcome::NoGrant => {}
            }
        }
        Err(GatewayError::InsufficientQuota(format!(
            "No grant of your organisation can cover this request to `{}` (worst case {} milli-won). Ask your organisation's administrator for credits, or lower max_tokens.",
            model.name, amount
        )))
    }
}

/// The spending caps of the request's key and project, for today and this month.
fn spend_caps(auth: &AuthContext, zone: &str) -> Vec<SpendCap> {
    let limits = [
        (format!("key:{}", auth.key.id), &auth.key.limits),
        (
            format!("project:{}", auth.key.project_id),
            &auth.project_limits,
        ),
    ];
    if limits
        .iter()
        .all(|(_, l)| l.spend_per_day.is_none() && l.spend_per_month.is_none())
    {
        return Vec::new();
    }
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned(tz);
    let day = format!("day:{}", today.date());
    let month = format!("month:{:04}-{:02}", today.year(), today.month());
    let mut caps = Vec::new();
    for (subject, l) in limits {
        for (period, limit) in [(&day, l.spend_per_day), (&month, l.spend_per_month)] {
            if let Some(limit) = limit {
                caps.push(SpendCap {
                    subject: subject.clone(),
                    period: period.clone(),
                    limit: i64::try_from(limit).unwrap_or(i64::MAX),
                });
            }
        }
    }
    caps
}

fn cap_message(cap: &SpendCap, amount: i64) -> String {
    let (what, id) = cap.subject.split_once(':').unwrap_or(("key", &cap.subject));
    let (span, _) = cap.period.split_once(':').unwrap_or(("day", ""));
    let span = if span == "day" { "daily" } else { "monthly" };
    format!(
        "This request (worst case {amount} milli-won) would exceed the {span} spending cap of {} milli-won set on {what} {id}.",
        cap.limit
    )
}

/// A held reservation; settling it queues the settlement for the writer.
struct Hold {
    engine: Arc<Inner>,
    id: String,
    facts: HeldFacts,
}

#[async_trait]
impl CreditHold for Hold {
    fn grant_id(&self) -> Option<String> {
        Some(self.facts.grant_id.clone())
    }

    fn held(&self) -> MilliWon {
        MilliWon(self.facts.amount)
    }

    async fn settle(self: Box<Self>, actual: MilliWon) {
        let Hold { engine, id, facts } = *self;
        let held = facts.amount;
        if actual.0 > held {
            tracing::warn!(reservation = %id, actual = actual.0, held,
                "actual cost exceeds the reservation; charging the reserved amount");
        }
        engine.live.lock().remove(&id);
        let op = SettleRequest {
            reservation_id: id,
            held: facts,
            cost: actual.0.clamp(0, held),
            now: crate::time::now_ms(),
        };
        if let Err(op) = crate::tasks::send_tracked(&engine.tracker, &engine.settles, op) {
            tracing::error!(reservation = %op.reservation_id,
                "the credit ledger is shutting down; the sweeper will charge the held amount");
        }
    }
}

/// Commits queued reservations in batches until every sender is gone. Requests wait on
/// these, so a batch takes what is queued and never waits for more.
async fn reserve_loop(store: Arc<dyn CreditStore>, mut rx: mpsc::Receiver<Pending>) {
    let mut pending = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut pending, BATCH).await > 0 {
        let (batch, replies) = pending.drain(..).unzip();
        reserve_batch(store.as_ref(), batch, replies).await;
    }
}

/// Commits queued settlements in batches until every sender is gone. Nobody waits on a
/// settlement, so under load a batch lingers a moment for more (see [`crate::batching`]):
/// fewer, larger commits, and none of them in a reservation's way.
async fn settle_loop(store: Arc<dyn CreditStore>, rx: mpsc::Receiver<SettleRequest>) {
    let mut batches = Batches::new(rx, BATCH);
    while let Some(batch) = batches.next().await {
        settle_with_retry(store.as_ref(), batch).await;
    }
}

type Reply = oneshot::Sender<Result<ReserveOutcome, StoreError>>;

/// One transaction for the batch; if it fails as a whole (e.g. a deadlock between replicas),
/// each reservation is retried alone so one bad apple cannot refuse the others.
async fn reserve_batch(store: &dyn CreditStore, batch: Vec<ReserveRequest>, replies: Vec<Reply>) {
    match store.reserve(&batch).await {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) if batch.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "reservation batch failed; retrying one by one");
            for (request, reply) in batch.into_iter().zip(replies) {
                let result = store
                    .reserve(std::slice::from_ref(&request))
                    .await
                    .map(|mut r| r.pop().unwrap_or(ReserveOutcome::NoGrant));
                let _ = reply.send(result);
            }
        }
    }
}

async fn settle_with_retry(store: &dyn CreditStore, batch: &[SettleRequest]) {
    let mut delay = Duration::from_millis(20);
    for attempt in 1..=30 {
        match store.settle(batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(attempt, error = %e, size = batch.len(), "settlement failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
    for s in batch {
        tracing::error!(reservation = %s.reservation_id, "settlement could not be written; the sweeper will charge the held amount");
    }
}

/// Keeps live holds alive and sweeps expired ones, until the engine is dropped.
async fn maintain(engine: Weak<Inner>) {
    let interval = match engine.upgrade() {
        Some(e) => e.settings.sweep_interval,
        None => return,
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = engine.upgrade() else {
            return;
        };
        if let Err(e) = sweep(&inner).await {
            tracing::warn!(error = %e, "credit sweep failed");
        }
    }
}

async fn sweep(inner: &Inner) -> Result<u64, StoreError> {
    let live: Vec<String> = inner.live.lock().iter().cloned().collect();
    let now = crate::time::now_ms();
    let ttl = i64::try_from(inner.settings.reservation_ttl.as_millis()).unwrap_or(i64::MAX);
    for chunk in live.chunks(500) {
        inner
            .store
            .extend_reservations(chunk, now.saturating_add(ttl))
            .await?;
    }
    let mut total = 0;
    loop {
        let n = inner.store.expire_reservations(now, 500).await?;
        total += n;
        if n < 500 {
            break;
        }
    }
    if total > 0 {
        tracing::warn!(
            orphaned = total,
            "expired credit reservations settled as orphaned"
        );
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nuri_config::raw::RawLimits;
    use nuri_config::{Balancing, ModelKind, RouteConfig};
    use nuri_types::Price;

    fn model(name: &str, providers: &[&str]) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            kind: ModelKind::Chat,
            routes: providers
                .iter()
                .map(|p| RouteConfig {
                    provider: (*p).into(),
                    model: "up".into(),
                    weight: 1,
                    priority: 0,
                })
                .collect(),
            fallbacks: vec![],
            balancing: Balancing::Weighted,
            price: Price {
                input_per_million: 1000,
                output_per_million: 1000,
            },
            max_output_tokens: Some(10),
            context_window: None,
            limits: RawLimits::default(),
        }
    }

    fn grant(id: &str, ends_at: Option<i64>) -> Grant {
        Grant {
            id: id.into(),
            programme_id: "p".into(),
            org_id: "o".into(),
            amount: 100,
            spent: 0,
            reserved: 0,
            starts_at: 0,
            ends_at,
            models: None,
            providers: None,
            status: GrantStatus::Active,
            created_at: 0,
        }
    }

    #[test]
    fn first_expiring_grant_pays_first() {
        let grants = vec![
            grant("late", Some(500)),
            grant("open", None),
            grant("soon", Some(200)),
        ];
        let got = candidates(&grants, &model("m", &["a"]), 10, 100);
        assert_eq!(got, vec!["soon", "late", "open"]);
    }

    #[test]
    fn grants_that_cannot_pay_are_skipped() {
        let mut frozen = grant("frozen", None);
        frozen.status = GrantStatus::Frozen;
        let mut ended = grant("ended", Some(50));
        ended.ends_at = Some(50);
        let mut small = grant("small", None);
        small.spent = 95;
        let mut other_model = grant("other", None);
        other_model.models = Some(vec!["x".into()]);
        let mut provider_b = grant("only-b", None);
        provider_b.providers = Some(vec!["b".into()]);
        let mut future = grant("future", None);
        future.starts_at = 1_000;
        let grants = vec![
            frozen,
            ended,
            small,
            other_model,
            provider_b,
            future,
            grant("ok", None),
        ];
        assert_eq!(
            candidates(&grants, &model("m", &["a", "b"]), 10, 100),
            vec!["ok"]
        );
        assert_eq!(
            candidates(&grants, &model("m", &["b"]), 10, 100),
            vec!["ok", "only-b"],
            "same expiry: by creation, then id"
        );
    }
}
