//! The request pipeline: auth → policy → limits → credits → route → provider → settle and meter
//! (→ data capture, when its issue lands). Handlers call one method here per endpoint.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use nuri_config::ModelKind;
use nuri_types::openai::{
    ChatCompletionRequest, CompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelObject,
    Usage,
};

use crate::auth::{AuthContext, Authenticator};
use crate::catalog::{Catalog, CatalogModel};
pub use crate::endpoints::chat_prompt_bound;
use crate::endpoints::{self, Ask, Endpoint};
use crate::error::GatewayError;
use crate::metering::{MeteredStream, Settlement};
use crate::provider::CallContext;
use crate::routing::{allows_fallback, RouteStatus, Router};
use crate::stages::{RateLimitInfo, Stages};
use crate::store::Store;
use crate::tasks::TaskTracker;
use crate::usage::{UsageRecord, UsageSink};

/// Request metadata from the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Nuri's request id.
    pub request_id: String,
    /// The client's `x-request-id`.
    pub client_request_id: Option<String>,
}

/// A chat answer ready for the HTTP layer.
pub enum ChatOutcome {
    /// Whole answer.
    Complete(nuri_types::openai::ChatCompletion),
    /// Streamed answer; settles itself.
    Stream(Box<MeteredStream>),
}

/// A text-completion answer.
pub enum CompletionOutcome {
    /// Whole answer.
    Complete(nuri_types::openai::Completion),
    /// Streamed answer; settles itself.
    Stream(Box<MeteredStream<nuri_types::openai::Completion>>),
}

/// An answer plus the rate-limit state to report.
pub struct Answer<T> {
    /// The answer.
    pub body: T,
    /// Rate-limit headers.
    pub limits: RateLimitInfo,
}

/// The gateway: everything a request needs, shared by all handlers.
pub struct Gateway {
    catalog: ArcSwap<Catalog>,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Key and token resolution.
    pub auth: Authenticator,
    stages: Stages,
    usage: UsageSink,
    tracker: TaskTracker,
    router: Router,
}

struct Prepared {
    settlement: Settlement,
    limits: RateLimitInfo,
    prompt_estimate: u64,
}

impl Gateway {
    /// Assembles the gateway; usage is written on `tracker`.
    pub fn new(
        catalog: Catalog,
        store: Arc<dyn Store>,
        operator_token: Option<String>,
        stages: Stages,
        tracker: TaskTracker,
    ) -> Self {
        let usage = UsageSink::start(Arc::clone(&store), &tracker);
        Self {
            catalog: ArcSwap::from_pointee(catalog),
            auth: Authenticator::new(Arc::clone(&store), operator_token),
            store,
            stages,
            usage,
            tracker,
            router: Router::new(),
        }
    }

    /// Replaces the catalog (config reload); in-flight requests keep the one they started with.
    /// Routes that still exist keep their breaker and latency state.
    pub fn swap_catalog(&self, catalog: Catalog) {
        self.router.retain_routes_of(&catalog);
        self.catalog.store(Arc::new(catalog));
    }

    /// Runs one round of active health checks over the current catalog's routes.
    pub async fn check_routes(&self) {
        let catalog = self.catalog.load_full();
        self.router.check_health(&catalog).await;
    }

    /// How often to run [`Gateway::check_routes`] (`None`: off), from the current config.
    pub fn health_check_interval(&self) -> Option<std::time::Duration> {
        self.catalog.load().routing().health_check_interval
    }

    /// The runtime state (breaker, latency, in flight) of every route used so far.
    pub fn route_status(&self) -> Vec<RouteStatus> {
        self.router.status()
    }

    /// The tracker background work runs on.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// The models this key may use.
    pub async fn list_models(&self, auth: &AuthContext) -> Result<Vec<ModelObject>, GatewayError> {
        let catalog = self.catalog.load();
        let mut out = Vec::new();
        for m in catalog.all() {
            if self
                .stages
                .policy
                .allows_model(auth, &m.config.name)
                .await?
            {
                out.push(model_object(m));
            }
        }
        Ok(out)
    }

    /// One model, if this key may use it.
    pub async fn get_model(
        &self,
        auth: &AuthContext,
        name: &str,
    ) -> Result<ModelObject, GatewayError> {
        let model = self.resolve(auth, name, None).await?;
        Ok(model_object(&model))
    }

    async fn resolve(
        &self,
        auth: &AuthContext,
        name: &str,
        kind: Option<ModelKind>,
    ) -> Result<Arc<CatalogModel>, GatewayError> {
        let model = self
            .catalog
            .load()
            .get(name)
            .ok_or_else(|| GatewayError::ModelNotFound(name.to_owned()))?;
        if !self.stages.policy.allows_model(auth, name).await? {
            return Err(GatewayError::ModelNotFound(name.to_owned()));
        }
        if let Some(kind) = kind {
            if model.config.kind != kind {
                let what = match model.config.kind {
                    ModelKind::Chat => "a chat model; use /v1/chat/completions",
                    ModelKind::Embeddings => "an embeddings model; use /v1/embeddings",
                };
                return Err(GatewayError::invalid(
                    format!("`{name}` is {what}"),
                    Some("model"),
                ));
            }
        }
        Ok(model)
    }

    /// Admission shared by every endpoint: limits, then credits, then the settlement to fill in.
    async fn admit(
        &self,
        auth: &AuthContext,
        model: Arc<CatalogModel>,
        meta: &RequestMeta,
        ask: Ask,
    ) -> Result<Prepared, GatewayError> {
        let Ask {
            endpoint,
            stream,
            prompt_tokens,
            max_output,
            choices,
        } = ask;
        let started = Instant::now();
        let mut record = UsageRecord {
            request_id: meta.request_id.clone(),
            client_request_id: meta.client_request_id.clone(),
            org_id: auth.key.org_id.clone(),
            project_id: auth.key.project_id.clone(),
            key_id: auth.key.id.clone(),
            endpoint: endpoint.to_owned(),
            model: model.config.name.clone(),
            stream,
            created_at: crate::time::now_ms(),
            ..UsageRecord::default()
        };
        let worst_tokens = choices.saturating_mul(prompt_tokens.saturating_add(max_output));
        let settle_failure = |record: UsageRecord, e: &GatewayError| {
            let mut r = record;
            r.status = e.code().status();
            r.error_code = Some(e.code().as_str().to_owned());
            r.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(0);
            self.usage.record(r);
        };
        let permit = match self
            .stages
            .limits
            .admit(auth, &model.config, worst_tokens)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                settle_failure(record, &e);
                return Err(e);
            }
        };
        let limits = permit.info();
        let hold = if model.config.price.is_free() {
            None
        } else {
            // The contract's reservation: n × (prompt + max output) at the model's prices.
            let worst = model.config.price.cost(
                choices.saturating_mul(prompt_tokens),
                choices.saturating_mul(max_output),
            );
            match self
                .stages
                .credits
                .reserve(auth, &model.config, &meta.request_id, worst)
                .await
            {
                Ok(h) => Some(h),
                Err(e) => {
                    permit.settle(0);
                    settle_failure(record, &e);
                    return Err(e);
                }
            }
        };
        record.created_at = crate::time::now_ms();
        Ok(Prepared {
            settlement: Settlement {
                record,
                model,
                started,
                permit: Some(permit),
                hold,
                sink: self.usage.clone(),
                tracker: self.tracker.clone(),
            },
            limits,
            prompt_estimate: prompt_tokens,
        })
    }

    /// `POST /v1/chat/completions`.
    pub async fn chat(
        &self,
        auth: &AuthContext,
        mut request: ChatCompletionRequest,
        meta: RequestMeta,
    ) -> Result<Answer<ChatOutcome>, GatewayError> {
        validate_chat(&request)?;
        let model = self
            .resolve(auth, &request.model, Some(ModelKind::Chat))
            .await?;
        self.stages
            .policy
            .check_chat(auth, &model.config, &mut request)
            .await?;
        self.dispatch(auth, &meta, &endpoints::Chat, request, model)
            .await
    }

    /// `POST /v1/completions`.
    pub async fn completion(
        &self,
        auth: &AuthContext,
        request: CompletionRequest,
        meta: RequestMeta,
    ) -> Result<Answer<CompletionOutcome>, GatewayError> {
        if request.model.is_empty() {
            return Err(GatewayError::invalid(
                "you must provide a model parameter",
                Some("model"),
            ));
        }
        let model = self
            .resolve(auth, &request.model, Some(ModelKind::Chat))
            .await?;
        self.dispatch(auth, &meta, &endpoints::Completions, request, model)
            .await
    }

    /// `POST /v1/embeddings`.
    pub async fn embeddings(
        &self,
        auth: &AuthContext,
        mut request: EmbeddingRequest,
        meta: RequestMeta,
    ) -> Result<Answer<EmbeddingResponse>, GatewayError> {
        if request.model.is_empty() {
            return Err(GatewayError::invalid(
                "you must provide a model parameter",
                Some("model"),
            ));
        }
        let texts = request.input_texts();
        match &texts {
            Some(t) if t.is_empty() => {
                return Err(GatewayError::invalid(
                    "input must not be empty",
                    Some("input"),
                ))
            }
            Some(t) if t.iter().any(String::is_empty) => {
                return Err(GatewayError::invalid(
                    "input strings must not be empty",
                    Some("input"),
                ))
            }
            None if !request.input.is_array() => {
                return Err(GatewayError::invalid(
                    "input must be a string, an array of strings or token arrays",
                    Some("input"),
                ))
            }
            _ => {}
        }
        match request.encoding_format.as_deref() {
            None | Some("float") | Some("base64") => {}
            Some(other) => {
                return Err(GatewayError::invalid(
                    format!("encoding_format must be float or base64, not {other:?}"),
                    Some("encoding_format"),
                ))
            }
        }
        let model = self
            .resolve(auth, &request.model, Some(ModelKind::Embeddings))
            .await?;
        let endpoint = endpoints::Embeddings {
            base64: request.wants_base64(),
        };
        request.encoding_format = Some("float".to_owned());
        self.dispatch(auth, &meta, &endpoint, request, model).await
    }

    /// The pipeline every endpoint shares after validation: admission on the model, routing
    /// (failover, retries, breakers), then settlement. When every route of the model is down,
    /// failing, refusing or rate-limited, the request moves on to the model's `fallbacks` in
    /// order: the first admission is released without a record and the fallback is admitted
    /// afresh at its own prices, so the one usage record names the model that answered.
    async fn dispatch<E: Endpoint>(
        &self,
        auth: &AuthContext,
        meta: &RequestMeta,
        endpoint: &E,
        request: E::Request,
        requested: Arc<CatalogModel>,
    ) -> Result<Answer<E::Outcome>, GatewayError> {
        let catalog = self.catalog.load_full();
        let routing = catalog.routing();
        let ctx = CallContext {
            request_id: meta.request_id.clone(),
        };
        let mut fallbacks = requested.config.fallbacks.clone().into_iter();
        let mut model = requested;
        let mut req = request.clone();
        let mut ask = endpoint.ask(&mut req, &model)?;
        loop {
            let prepared = self.admit(auth, Arc::clone(&model), meta, ask).await?;
            let result = self
                .router
                .send(&model, routing, |target| E::call(&req, &target, &ctx))
                .await;
            let Prepared {
                mut settlement,
                limits,
                prompt_estimate,
            } = prepared;
            match result {
                Ok((target, reply)) => {
                    settlement.record.provider = Some(target.provider.name().to_owned());
                    settlement.record.upstream_model = Some(target.upstream_model.clone());
                    let body = endpoint.finish(&req, reply, &target, settlement, prompt_estimate);
                    return Ok(Answer { body, limits });
                }
                Err(e) if allows_fallback(&e) => {
                    match self
                        .next_fallback(endpoint, auth, &mut fallbacks, &request)
                        .await
                    {
                        Some((next, next_req, next_ask)) => {
                            tracing::warn!(
                                model = %model.config.name,
                                fallback = %next.config.name,
                                error = %e,
                                "every route failed; falling back"
                            );
                            settlement.release().await;
                            (model, req, ask) = (next, next_req, next_ask);
                        }
                        None => return Err(fail(settlement, e)),
                    }
                }
                Err(e) => return Err(fail(settlement, e)),
            }
        }
    }

    /// The next fallback this key may use for this request, with the request sized for it
    /// (skipping, with a log line, any that is unknown, of the wrong kind, not allowed by the
    /// key's policy, or unable to take the request, e.g. a smaller context window).
    async fn next_fallback<E: Endpoint>(
        &self,
        endpoint: &E,
        auth: &AuthContext,
        fallbacks: &mut std::vec::IntoIter<String>,
        request: &E::Request,
    ) -> Option<(Arc<CatalogModel>, E::Request, Ask)> {
        for name in fallbacks.by_ref() {
            let sized = match self.resolve(auth, &name, Some(E::KIND)).await {
                Ok(m) => {
                    let mut req = request.clone();
                    endpoint.ask(&mut req, &m).map(|ask| (m, req, ask))
                }
                Err(e) => Err(e),
            };
            match sized {
                Ok(found) => return Some(found),
                Err(e) => tracing::warn!(fallback = %name, error = %e, "fallback skipped"),
            }
        }
        None
    }
}

fn fail(settlement: Settlement, e: GatewayError) -> GatewayError {
    settlement.finish(
        Usage::default(),
        false,
        None,
        e.code().status(),
        Some(e.code().as_str()),
    );
    e
}

fn model_object(m: &CatalogModel) -> ModelObject {
    ModelObject {
        id: m.config.name.clone(),
        object: "model".to_owned(),
        created: m.created,
        owned_by: m
            .routes
            .first()
            .map_or_else(|| "nuri".to_owned(), |r| r.provider.name().to_owned()),
    }
}

fn validate_chat(request: &ChatCompletionRequest) -> Result<(), GatewayError> {
    if request.model.is_empty() {
        return Err(GatewayError::invalid(
            "you must provide a model parameter",
            Some("model"),
        ));
    }
    if request.messages.is_empty() {
        return Err(GatewayError::invalid(
            "messages must contain at least one message",
            Some("messages"),
        ));
    }
    for (i, m) in request.messages.iter().enumerate() {
        if !matches!(
            m.role.as_str(),
            "system" | "developer" | "user" | "assistant" | "tool" | "function"
        ) {
            return Err(GatewayError::invalid(
                format!("messages[{i}].role must be one of system, developer, user, assistant, tool; got {:?}", m.role),
                Some(&format!("messages[{i}].role")),
            ));
        }
    }
    if let Some(n) = request.n {
        if !(1..=128).contains(&n) {
            return Err(GatewayError::invalid(
                "n must be between 1 and 128",
                Some("n"),
            ));
        }
    }
    if let Some(t) = request.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(GatewayError::invalid(
                "temperature must be between 0 and 2",
                Some("temperature"),
            ));
        }
    }
    if let Some(p) = request.top_p {
        if !(0.0..=1.0).contains(&p) {
            return Err(GatewayError::invalid(
                "top_p must be between 0 and 1",
                Some("top_p"),
            ));
        }
    }
    if request.stream_options.is_some() && !request.is_stream() {
        return Err(GatewayError::invalid(
            "stream_options is only allowed when stream is true",
            Some("stream_options"),
        ));
    }
    Ok(())
}
