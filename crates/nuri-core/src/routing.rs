//! The router: per-route runtime state and the attempt loop that sends one request to one model.
//!
//! [`Router`] owns, per route (provider + upstream model), a circuit breaker, a latency EWMA with
//! the in-flight count, and an upstream rate-limit pause. The state outlives requests and config
//! reloads (a route that still exists keeps its breaker). [`Router::send`] picks routes with
//! [`nuri_router::pick_route`] (lowest available priority, then weighted random or power of two
//! choices), fails over to untried routes at once, re-sends to tried routes with exponential
//! backoff and jitter within the retry budget, and honours the provider's `retry-after`.
//! Attempts end when the answer's first byte is in hand (for streams, the first chunk): after
//! that nothing is retried, because the client may already have part of the answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use nuri_config::{Balancing as ConfigBalancing, BreakerSettings, RetrySettings, RoutingConfig};
use nuri_router::{
    pick_route, Attempt, Backoff, BackoffConfig, Balancing, BreakerConfig, Candidate,
    CircuitBreaker, LatencyTracker, Outcome,
};

use crate::catalog::{Catalog, CatalogModel, RouteTarget};
use crate::error::GatewayError;
use crate::provider::{ChatReply, CompletionReply, ProviderError, TimeoutKind};

/// Latency assumed for a route before its first answer (optimistic, so new routes get traffic).
const INITIAL_LATENCY: Duration = Duration::from_millis(100);
/// How quickly the latency estimate forgets a slow spell.
const LATENCY_DECAY: Duration = Duration::from_secs(10);
/// How long a route rests after an upstream 429 that named no `retry-after`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RouteKey {
    provider: String,
    upstream_model: String,
}

impl RouteKey {
    fn of(target: &RouteTarget) -> Self {
        Self {
            provider: target.provider.name().to_owned(),
            upstream_model: target.upstream_model.clone(),
        }
    }
}

/// Runtime state of the routes every model uses, shared by all requests.
#[derive(Default)]
pub struct Router {
    routes: Mutex<HashMap<RouteKey, Arc<RouteState>>>,
}

/// One route's breaker, latency estimate and upstream rate-limit pause.
pub struct RouteState {
    inner: Mutex<RouteInner>,
}

struct RouteInner {
    settings: BreakerSettings,
    breaker: CircuitBreaker,
    latency: LatencyTracker,
    paused_until: Option<Instant>,
}

/// A route's state as reported (for tests, logs and the admin view).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteStatus {
    /// Provider name.
    pub provider: String,
    /// Upstream model name.
    pub upstream_model: String,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Latency estimate in milliseconds.
    pub latency_ms: u64,
    /// Requests in flight on the route.
    pub in_flight: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn breaker_config(s: &BreakerSettings) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: s.consecutive_failures,
        error_ratio: s.error_ratio,
        window: s.window,
        min_requests: s.min_requests,
        cool_down: s.cool_down,
        half_open_probes: s.half_open_probes,
    }
}

fn new_breaker(settings: &BreakerSettings, now: Instant) -> CircuitBreaker {
    // nuri-config validated the same rules; the default is a safe net, not a path in use.
    CircuitBreaker::new(breaker_config(settings), now).unwrap_or_else(|_| {
        CircuitBreaker::new(BreakerConfig::default(), now)
            .unwrap_or_else(|_| unreachable!("the default breaker config is valid"))
    })
}

fn backoff(s: &RetrySettings) -> Option<Backoff> {
    Backoff::new(BackoffConfig {
        base: s.base,
        max_delay: s.max_delay,
        max_retries: s.max_retries,
        max_total_delay: s.max_total_delay,
    })
    .ok()
}

impl Router {
    /// An empty router; routes get their state on first use.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self, target: &RouteTarget, settings: &BreakerSettings) -> Arc<RouteState> {
        let now = Instant::now();
        let mut routes = lock(&self.routes);
        let state = routes.entry(RouteKey::of(target)).or_insert_with(|| {
            Arc::new(RouteState {
                inner: Mutex::new(RouteInner {
                    settings: *settings,
                    breaker: new_breaker(settings, now),
                    latency: LatencyTracker::new(INITIAL_LATENCY, LATENCY_DECAY),
                    paused_until: None,
                }),
            })
        });
        {
            let mut inner = lock(&state.inner);
            if inner.settings != *settings {
                // The breaker settings changed on reload: start the breaker afresh.
                inner.settings = *settings;
                inner.breaker = new_breaker(settings, now);
            }
        }
        Arc::clone(state)
    }

    /// Forgets the state of routes the new catalog no longer has (config reload).
    pub fn retain_routes_of(&self, catalog: &Catalog) {
        let keep: std::collections::HashSet<RouteKey> = catalog
            .all()
            .flat_map(|m| m.routes.iter().map(RouteKey::of))
            .collect();
        lock(&self.routes).retain(|k, _| keep.contains(k));
    }

    /// The state of every route used so far, sorted by provider and upstream model.
    pub fn status(&self) -> Vec<RouteStatus> {
        let now = Instant::now();
        let mut out: Vec<RouteStatus> = lock(&self.routes)
            .iter()
            .map(|(k, s)| {
                let inner = lock(&s.inner);
                RouteStatus {
                    provider: k.provider.clone(),
                    upstream_model: k.upstream_model.clone(),
                    breaker: match inner.breaker.state(now) {
                        nuri_router::BreakerState::Closed => "closed",
                        nuri_router::BreakerState::Open => "open",
                        nuri_router::BreakerState::HalfOpen => "half_open",
                    },
                    latency_ms: u64::try_from(inner.latency.latency().as_millis())
                        .unwrap_or(u64::MAX),
                    in_flight: inner.latency.in_flight(),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.upstream_model).cmp(&(&b.provider, &b.upstream_model)));
        out
    }

    /// Active health checks: every route of `catalog` whose breaker lets a request through
    /// (closed, or half-open with a free probe slot) is checked with its provider's cheap check;
    /// the outcome counts like a request's, so a failing route opens without costing a client
    /// request and an open one closes on a passing probe. Routes whose provider has no check,
    /// and routes cooling down, are left alone.
    pub async fn check_health(&self, catalog: &Catalog) {
        let mut seen = std::collections::HashSet::new();
        let routes: Vec<RouteTarget> = catalog
            .all()
            .flat_map(|m| m.routes.iter().cloned())
            .filter(|r| seen.insert(RouteKey::of(r)))
            .collect();
        let checks = routes.into_iter().map(|route| {
            let state = self.state(&route, &catalog.routing().breaker);
            async move {
                let Some(guard) = AttemptGuard::acquire(&state, Instant::now()) else {
                    return;
                };
                match route.provider.health().await {
                    None => guard.finish(Outcome::Neutral, false),
                    Some(Ok(())) => guard.finish(Outcome::Success, false),
                    Some(Err(e)) => {
                        tracing::warn!(provider = %route.provider.name(), upstream_model = %route.upstream_model, error = %e, "health check failed");
                        guard.finish(judge(&e).outcome, false);
                    }
                }
            }
        });
        futures::future::join_all(checks).await;
    }

    /// Sends one request to `model`: route choice, failover, retries with backoff, breaker and
    /// latency bookkeeping. `call` performs one attempt on a route and must resolve only once
    /// the answer's first byte (first stream chunk) is in hand.
    pub async fn send<T, F, Fut>(
        &self,
        model: &CatalogModel,
        settings: &RoutingConfig,
        mut call: F,
    ) -> Result<(RouteTarget, T), GatewayError>
    where
        F: FnMut(RouteTarget) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let states: Vec<Arc<RouteState>> = model
            .routes
            .iter()
            .map(|r| self.state(r, &settings.breaker))
            .collect();
        let balancing = match model.config.balancing {
            ConfigBalancing::Weighted => Balancing::Weighted,
            ConfigBalancing::Latency => Balancing::Latency,
        };
        let mut budget = backoff(&settings.retry);
        let mut tried = vec![false; states.len()];
        let mut last: Option<ProviderError> = None;
        loop {
            let now = Instant::now();
            // Routes resting after an upstream 429 are passed over while another route can
            // serve; when none can, they are tried anyway (the upstream has the last word).
            let pick = {
                let snapshots: Vec<(bool, bool, f64)> =
                    states.iter().map(|s| s.snapshot(now)).collect();
                let candidates = |allow_paused: bool| -> Vec<Candidate> {
                    model
                        .routes
                        .iter()
                        .zip(&snapshots)
                        .zip(&tried)
                        .map(|((route, &(breaker_ok, paused, load)), &tried)| Candidate {
                            weight: route.weight,
                            priority: route.priority,
                            available: breaker_ok && !tried && (allow_paused || !paused),
                            load,
                        })
                        .collect()
                };
                let mut rng = rand::thread_rng();
                pick_route(&candidates(false), balancing, &mut rng)
                    .or_else(|| pick_route(&candidates(true), balancing, &mut rng))
            };
            let Some(i) = pick else {
                // Every route was tried this round or is unavailable.
                let Some(err) = last.take() else {
                    return Err(unavailable(model, &states, now));
                };
                let horizon = now + settings.retry.max_delay;
                if !states.iter().any(|s| s.available_at(horizon)) {
                    return Err(GatewayError::Upstream(err));
                }
                let delay = match budget
                    .as_mut()
                    .map(|b| b.next_delay(err.retry_after(), &mut rand::thread_rng()))
                {
                    Some(Ok(d)) => d,
                    _ => return Err(GatewayError::Upstream(err)),
                };
                tracing::debug!(model = %model.config.name, ?delay, "retrying after backoff");
                tokio::time::sleep(delay).await;
                tried.fill(false);
                last = Some(err);
                continue;
            };
            tried[i] = true;
            let target = model.routes[i].clone();
            let Some(guard) = AttemptGuard::acquire(&states[i], now) else {
                continue; // the breaker opened since the snapshot
            };
            match call(target.clone()).await {
                Ok(value) => {
                    guard.finish(Outcome::Success, true);
                    return Ok((target, value));
                }
                Err(e) => {
                    let verdict = judge(&e);
                    guard.finish(verdict.outcome, false);
                    if let ProviderError::RateLimited { retry_after, .. } = &e {
                        states[i].pause(now + retry_after.unwrap_or(DEFAULT_PAUSE));
                    }
                    if !verdict.try_again {
                        return Err(GatewayError::Upstream(e));
                    }
                    tracing::warn!(
                        model = %model.config.name,
                        provider = %target.provider.name(),
                        upstream_model = %target.upstream_model,
                        error = %e,
                        "route attempt failed"
                    );
                    last = Some(e);
                }
            }
        }
    }
}

impl RouteState {
    /// (whether the breaker lets a request through now, whether the route rests after an
    /// upstream 429, the load P2C compares).
    fn snapshot(&self, now: Instant) -> (bool, bool, f64) {
        let inner = lock(&self.inner);
        (
            inner.breaker.is_available(now),
            inner.paused_until.is_some_and(|t| now < t),
            inner.latency.load(),
        )
    }

    fn available_at(&self, at: Instant) -> bool {
        lock(&self.inner).breaker.is_available(at)
    }

    fn pause(&self, until: Instant) {
        let mut inner = lock(&self.inner);
        inner.paused_until = Some(inner.paused_until.map_or(until, |t| t.max(until)));
    }

    /// How long until the breaker lets a request through.
    fn wait(&self, now: Instant) -> Duration {
        lock(&self.inner)
            .breaker
            .retry_after(now)
            .unwrap_or(Duration::ZERO)
    }
}

/// An attempt on a route: counted in flight from `acquire`, recorded by `finish`, and recorded
/// as neutral if dropped first (the client went away mid-attempt), so a half-open probe slot
/// and the in-flight count are never leaked.
struct AttemptGuard {
    state: Arc<RouteState>,
    attempt: Option<Attempt>,
    started: Instant,
}

impl AttemptGuard {
    fn acquire(state: &Arc<RouteState>, now: Instant) -> Option<Self> {
        let mut inner = lock(&state.inner);
        let attempt = inner.breaker.try_acquire(now).ok()?;
        inner.latency.start();
        Some(Self {
            state: Arc::clone(state),
            attempt: Some(attempt),
            started: now,
        })
    }

    fn finish(mut self, outcome: Outcome, with_latency: bool) {
        self.record(outcome, with_latency);
    }

    fn record(&mut self, outcome: Outcome, with_latency: bool) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let now = Instant::now();
        let mut inner = lock(&self.state.inner);
        inner.breaker.record(now, attempt, outcome);
        if with_latency {
            inner.latency.finish(now, now - self.started);
        } else {
            inner.latency.abandon();
        }
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        self.record(Outcome::Neutral, false);
    }
}

struct Verdict {
    /// What the breaker should make of it.
    outcome: Outcome,
    /// Whether another route, or this one later, may succeed.
    try_again: bool,
}

/// How an upstream error counts: route failures open breakers and are retried; upstream rate
/// limits and a full engine queue are retried without counting against the route (a 429 also
/// rests it); the client's own errors are final.
fn judge(e: &ProviderError) -> Verdict {
    let (outcome, try_again) = match e {
        // Another 4xx (404, 405…) is about the request, not the route's health.
        ProviderError::Server { status, .. } if *status < 500 => (Outcome::Neutral, false),
        ProviderError::Connect(_)
        | ProviderError::Server { .. }
        | ProviderError::Malformed(_)
        | ProviderError::Timeout(
            TimeoutKind::Connect | TimeoutKind::FirstByte | TimeoutKind::Idle,
        ) => (Outcome::Failure, true),
        // Load shedding (an upstream 429, the local engine's full queue) is not ill health.
        ProviderError::RateLimited { .. } | ProviderError::Overloaded(_) => {
            (Outcome::Neutral, true)
        }
        ProviderError::Timeout(TimeoutKind::Total) | ProviderError::Auth(_) => {
            (Outcome::Failure, false)
        }
        ProviderError::InvalidRequest { .. }
        | ProviderError::ContextLength(_)
        | ProviderError::Unsupported(_) => (Outcome::Neutral, false),
    };
    Verdict { outcome, try_again }
}

/// Whether a failed model may hand the request to its fallbacks: every route was down,
/// failing, refusing or rate-limited (not when the request itself was at fault).
pub fn allows_fallback(e: &GatewayError) -> bool {
    match e {
        GatewayError::Unavailable { .. } => true,
        GatewayError::Upstream(p) => {
            judge(p).try_again || matches!(p, ProviderError::Auth(_) | ProviderError::Timeout(_))
        }
        _ => false,
    }
}

/// The error when no route could even be tried (every breaker open): 503 with the shortest
/// wait as `retry-after`.
fn unavailable(model: &CatalogModel, states: &[Arc<RouteState>], now: Instant) -> GatewayError {
    let shortest = states
        .iter()
        .map(|s| s.wait(now))
        .min()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1));
    let name = &model.config.name;
    GatewayError::Unavailable {
        message: if states.is_empty() {
            format!("`{name}` has no usable route")
        } else {
            format!("every route to `{name}` is unavailable (circuit breaker open)")
        },
        retry_after: shortest,
    }
}

/// Waits for a streamed reply's first chunk, so a stream that fails before its first byte
/// counts as a failed attempt (and may be retried) rather than an answer.
pub(crate) async fn first_chunk<S, C>(
    mut stream: S,
) -> Result<futures::stream::BoxStream<'static, Result<C, ProviderError>>, ProviderError>
where
    S: futures::Stream<Item = Result<C, ProviderError>> + Send + Unpin + 'static,
    C: Send + 'static,
{
    match stream.next().await {
        Some(Err(e)) => Err(e),
        Some(Ok(first)) => Ok(futures::stream::once(async move { Ok(first) })
            .chain(stream)
            .boxed()),
        None => Ok(futures::stream::empty().boxed()),
    }
}

impl ChatReply {
    /// The reply once its first byte is in hand (see [`first_chunk`]).
    pub async fn ready(self) -> Result<Self, ProviderError> {
        match self {
            Self::Complete(c) => Ok(Self::Complete(c)),
            Self::Stream(s) => Ok(Self::Stream(Box::pin(first_chunk(s).await?))),
        }
    }
}

impl CompletionReply {
    /// The reply once its first byte is in hand (see [`first_chunk`]).
    pub async fn ready(self) -> Result<Self, ProviderError> {
        match self {
            Self::Complete(c) => Ok(Self::Complete(c)),
            Self::Stream(s) => Ok(Self::Stream(Box::pin(first_chunk(s).await?))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use nuri_config::Config;
    use nuri_types::openai::ChatCompletionRequest;

    use crate::provider::{CallContext, Provider};

    struct Named(String);

    #[async_trait]
    impl Provider for Named {
        fn name(&self) -> &str {
            &self.0
        }
        async fn chat(
            &self,
            _: ChatCompletionRequest,
            _: &CallContext,
        ) -> Result<ChatReply, ProviderError> {
            Err(ProviderError::Unsupported("not used".into()))
        }
    }

    /// A catalog whose model `m` has `routes` (TOML inline tables over providers a and b).
    fn catalog(routes: &str, routing: &str) -> Catalog {
        let toml = format!(
            "{routing}\n[[providers]]\nname = \"a\"\nkind = \"openai_compatible\"\nbase_url = \"http://a\"\n\
             [[providers]]\nname = \"b\"\nkind = \"openai_compatible\"\nbase_url = \"http://b\"\n\
             [[models]]\nname = \"m\"\nroutes = [{routes}]\n"
        );
        let config = Config::from_toml(&toml, "t.toml", &HashMap::new()).unwrap();
        let providers: HashMap<String, Arc<dyn crate::provider::Provider>> = ["a", "b"]
            .into_iter()
            .map(|n| {
                (
                    n.to_owned(),
                    Arc::new(Named(n.to_owned())) as Arc<dyn Provider>,
                )
            })
            .collect();
        Catalog::new(&config, &providers)
    }

    fn server_error() -> ProviderError {
        ProviderError::Server {
            status: 500,
            message: "boom".into(),
            retry_after: None,
        }
    }

    const TWO: &str =
        "{ provider = \"a\", model = \"x\" }, { provider = \"b\", model = \"x\", priority = 1 }";
    const QUICK: &str = "[routing]\nretry = { max_retries = 1, base_ms = 1, max_delay_ms = 5 }\n\
                         breaker = { consecutive_failures = 2, cool_down_ms = 60000 }";

    #[tokio::test]
    async fn fails_over_to_the_next_priority_at_once() {
        let catalog = catalog(TWO, QUICK);
        let model = catalog.get("m").unwrap();
        let router = Router::new();
        let calls = AtomicUsize::new(0);
        let (target, ()) = router
            .send(&model, catalog.routing(), |t| {
                calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if t.provider.name() == "a" {
                        Err(server_error())
                    } else {
                        Ok(())
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(target.provider.name(), "b");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert!(router.status().iter().all(|s| s.in_flight == 0));
    }

    #[tokio::test]
    async fn retries_within_the_budget_then_gives_the_last_error() {
        let catalog = catalog("{ provider = \"a\", model = \"x\" }", QUICK);
        let model = catalog.get("m").unwrap();
        let router = Router::new();
        let calls = AtomicUsize::new(0);
        let err = router
            .send(&model, catalog.routing(), |_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(server_error()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 2, "one try, one retry");
        assert!(matches!(
            err,
            GatewayError::Upstream(ProviderError::Server { .. })
        ));
        assert!(allows_fallback(&err));
        // Two failures opened the breaker: the next request is refused without a call.
        let err = router
            .send(&model, catalog.routing(), |_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Ok(()) }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, GatewayError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.retry_after().map(|d| d.as_secs() >= 59), Some(true));
        assert!(allows_fallback(&err));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert_eq!(router.status()[0].breaker, "open");
    }

    #[tokio::test]
    async fn client_errors_are_final_and_do_not_fall_back() {
        let catalog = catalog(TWO, QUICK);
        let model = catalog.get("m").unwrap();
        let router = Router::new();
        let calls = AtomicUsize::new(0);
        let err = router
            .send(&model, catalog.routing(), |_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async {
                    Err::<(), _>(ProviderError::InvalidRequest {
                        message: "bad".into(),
                        param: None,
                    })
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert!(!allows_fallback(&err));
    }

    #[tokio::test]
    async fn an_abandoned_attempt_frees_its_slot() {
        let catalog = catalog("{ provider = \"a\", model = \"x\" }", QUICK);
        let model = catalog.get("m").unwrap();
        let router = Router::new();
        let pending = router.send(&model, catalog.routing(), |_| {
            futures::future::pending::<Result<(), ProviderError>>()
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(20), pending).await;
        assert!(timed_out.is_err());
        assert_eq!(router.status()[0].in_flight, 0);
        assert_eq!(router.status()[0].breaker, "closed");
    }

    #[test]
    fn reload_forgets_removed_routes_only() {
        let router = Router::new();
        let old = catalog(TWO, "");
        let model = old.get("m").unwrap();
        let settings = BreakerSettings::default();
        for r in &model.routes {
            router.state(r, &settings);
        }
        assert_eq!(router.status().len(), 2);
        router.retain_routes_of(&catalog("{ provider = \"b\", model = \"x\" }", ""));
        let left = router.status();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].provider, "b");
    }
}
