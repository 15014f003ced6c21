//! The request pipeline: auth → policy → limits → credits → route → provider → settle and meter
//! (→ data capture, when its issue lands). Handlers call one method here per endpoint.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use nuri_config::{ModelConfig, ModelKind};
use nuri_types::openai::{
    ChatCompletionRequest, CompletionRequest, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
    ModelObject, Usage,
};

use crate::auth::{AuthContext, Authenticator};
use crate::catalog::{Catalog, CatalogModel, RouteTarget};
use crate::error::GatewayError;
use crate::metering::{estimate_tokens, MeteredStream, Settlement};
use crate::provider::{CallContext, ChatReply, CompletionReply, ProviderError};
use crate::stages::{RateLimitInfo, Stages};
use crate::store::Store;
use crate::tasks::TaskTracker;
use crate::usage::{UsageRecord, UsageSink};

/// Output bound used when neither the request nor the model sets one.
const DEFAULT_MAX_OUTPUT: u32 = 4096;

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
}

/// What admission needs to know about a request's size.
struct Ask<'a> {
    endpoint: &'a str,
    stream: bool,
    prompt_tokens: u64,
    max_output: u64,
    choices: u64,
}

struct Prepared {
    model: Arc<CatalogModel>,
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
        }
    }

    /// Replaces the catalog (config reload); in-flight requests keep the one they started with.
    pub fn swap_catalog(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
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
        ask: Ask<'_>,
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
            model: Arc::clone(&model),
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
        let first = model.routes.first().map(|r| Arc::clone(&r.provider));
        let counted = first.as_ref().and_then(|p| p.count_prompt_tokens(&request));
        if let (Some(n), Some(window)) = (counted, model.config.context_window) {
            if n > u64::from(window) {
                return Err(GatewayError::ContextLengthExceeded(format!(
                    "This model's maximum context length is {window} tokens, but the messages have {n} tokens."
                )));
            }
        }
        let prompt_tokens = counted.unwrap_or_else(|| chat_prompt_bound(&request));
        let max_output = cap_output(&mut request, &model.config);
        let stream = request.is_stream();
        let include_usage = request.wants_stream_usage();
        let prepared = self
            .admit(
                auth,
                model,
                &meta,
                Ask {
                    endpoint: "chat",
                    stream,
                    prompt_tokens,
                    max_output: u64::from(max_output),
                    choices: u64::from(request.choices()),
                },
            )
            .await?;
        let ctx = CallContext {
            request_id: meta.request_id.clone(),
        };
        let result = self
            .try_routes(&prepared.model, |target| {
                let mut req = request.clone();
                req.model.clone_from(&target.upstream_model);
                let ctx = ctx.clone();
                async move { target.provider.chat(req, &ctx).await }
            })
            .await;
        let Prepared {
            model,
            mut settlement,
            limits,
            prompt_estimate,
        } = prepared;
        match result {
            Err(e) => Err(fail(settlement, e)),
            Ok((target, reply)) => {
                settlement.record.provider = Some(target.provider.name().to_owned());
                settlement.record.upstream_model = Some(target.upstream_model.clone());
                match reply {
                    ChatReply::Complete(mut completion) => {
                        completion.model.clone_from(&model.config.name);
                        let (usage, estimated) = match completion.usage {
                            Some(u) => (u, false),
                            None => {
                                let text: String = completion
                                    .choices
                                    .iter()
                                    .filter_map(|c| c.message.content.as_deref())
                                    .collect();
                                let out = target
                                    .provider
                                    .count_text_tokens(&text)
                                    .unwrap_or_else(|| estimate_tokens(text.len(), 0));
                                (Usage::new(prompt_estimate, out), true)
                            }
                        };
                        settlement.finish(usage, estimated, None, 200, None);
                        Ok(Answer {
                            body: ChatOutcome::Complete(completion),
                            limits,
                        })
                    }
                    ChatReply::Stream(inner) => {
                        let metered = MeteredStream::new(
                            inner,
                            settlement,
                            Arc::clone(&target.provider),
                            include_usage,
                            prompt_estimate,
                        );
                        Ok(Answer {
                            body: ChatOutcome::Stream(Box::new(metered)),
                            limits,
                        })
                    }
                }
            }
        }
    }

    /// `POST /v1/completions`.
    pub async fn completion(
        &self,
        auth: &AuthContext,
        mut request: CompletionRequest,
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
        let prompt_tokens: u64 = match &request.prompt {
            serde_json::Value::String(_) | serde_json::Value::Array(_) => {
                let bytes = request.prompt.to_string().len();
                bytes as u64 + 1
            }
            _ => {
                return Err(GatewayError::invalid(
                    "prompt must be a string or an array",
                    Some("prompt"),
                ))
            }
        };
        let limit = model.config.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT);
        let max_output = request.max_tokens.unwrap_or(16).min(limit);
        if request.max_tokens.is_some() || model.config.max_output_tokens.is_some() {
            request.max_tokens = Some(max_output);
        }
        let stream = request.stream.unwrap_or(false);
        let choices = u64::from(request.n.unwrap_or(1).max(1));
        let prepared = self
            .admit(
                auth,
                model,
                &meta,
                Ask {
                    endpoint: "completions",
                    stream,
                    prompt_tokens,
                    max_output: u64::from(max_output),
                    choices,
                },
            )
            .await?;
        let ctx = CallContext {
            request_id: meta.request_id.clone(),
        };
        let result = self
            .try_routes(&prepared.model, |target| {
                let mut req = request.clone();
                req.model.clone_from(&target.upstream_model);
                let ctx = ctx.clone();
                async move { target.provider.completion(req, &ctx).await }
            })
            .await;
        let Prepared {
            model,
            mut settlement,
            limits,
            prompt_estimate,
        } = prepared;
        match result {
            Err(e) => Err(fail(settlement, e)),
            Ok((target, reply)) => {
                settlement.record.provider = Some(target.provider.name().to_owned());
                settlement.record.upstream_model = Some(target.upstream_model.clone());
                match reply {
                    CompletionReply::Complete(mut c) => {
                        c.model.clone_from(&model.config.name);
                        let (usage, est) = match c.usage {
                            Some(u) => (u, false),
                            None => (Usage::new(prompt_estimate, 0), true),
                        };
                        settlement.finish(usage, est, None, 200, None);
                        Ok(Answer {
                            body: CompletionOutcome::Complete(c),
                            limits,
                        })
                    }
                    CompletionReply::Stream(inner) => {
                        let include_usage = request
                            .stream_options
                            .as_ref()
                            .and_then(|o| o.include_usage)
                            .unwrap_or(false);
                        let stream = MeteredStream::new(
                            inner,
                            settlement,
                            Arc::clone(&target.provider),
                            include_usage,
                            prompt_estimate,
                        );
                        Ok(Answer {
                            body: CompletionOutcome::Stream(Box::new(stream)),
                            limits,
                        })
                    }
                }
            }
        }
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
        let prompt_tokens = texts.as_ref().map_or(request.input.to_string().len(), |t| {
            t.iter().map(String::len).sum()
        }) as u64;
        let base64 = request.wants_base64();
        request.encoding_format = Some("float".to_owned());
        let prepared = self
            .admit(
                auth,
                model,
                &meta,
                Ask {
                    endpoint: "embeddings",
                    stream: false,
                    prompt_tokens,
                    max_output: 0,
                    choices: 1,
                },
            )
            .await?;
        let ctx = CallContext {
            request_id: meta.request_id.clone(),
        };
        let result = self
            .try_routes(&prepared.model, |target| {
                let mut req = request.clone();
                req.model.clone_from(&target.upstream_model);
                let ctx = ctx.clone();
                async move { target.provider.embeddings(req, &ctx).await }
            })
            .await;
        let Prepared {
            model,
            mut settlement,
            limits,
            ..
        } = prepared;
        match result {
            Err(e) => Err(fail(settlement, e)),
            Ok((target, mut response)) => {
                settlement.record.provider = Some(target.provider.name().to_owned());
                settlement.record.upstream_model = Some(target.upstream_model.clone());
                response.model.clone_from(&model.config.name);
                if base64 {
                    for item in &mut response.data {
                        if let EmbeddingVector::Float(v) = &item.embedding {
                            item.embedding = EmbeddingVector::base64_of(v);
                        }
                    }
                }
                let usage = Usage::new(response.usage.prompt_tokens, 0);
                settlement.finish(usage, false, None, 200, None);
                Ok(Answer {
                    body: response,
                    limits,
                })
            }
        }
    }

    /// Tries the model's routes in plan order until one answers; retryable failures move on to
    /// the next route. (Backoff, breakers and fallbacks arrive with the routing issue.)
    async fn try_routes<T, F, Fut>(
        &self,
        model: &CatalogModel,
        mut call: F,
    ) -> Result<(RouteTarget, T), GatewayError>
    where
        F: FnMut(RouteTarget) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let plan = model.route_plan();
        let mut last: Option<ProviderError> = None;
        for target in plan {
            match call(target.clone()).await {
                Ok(v) => return Ok((target, v)),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = %model.config.name, provider = %target.provider.name(), error = %e, "route failed; trying next");
                    last = Some(e);
                }
                Err(e) => return Err(GatewayError::Upstream(e)),
            }
        }
        Err(match last {
            Some(e) => GatewayError::Upstream(e),
            None => GatewayError::Unavailable {
                message: format!("no route to `{}` is available", model.config.name),
                retry_after: std::time::Duration::from_secs(1),
            },
        })
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

/// A safe upper bound on prompt tokens without the model's tokenizer: every byte-level BPE
/// token covers at least one byte, plus a few tokens of chat framing per message.
pub fn chat_prompt_bound(request: &ChatCompletionRequest) -> u64 {
    let mut bytes = 0usize;
    for m in &request.messages {
        bytes += 8 + m.text_content().len();
        if let Some(calls) = &m.tool_calls {
            bytes += calls
                .iter()
                .map(|c| c.function.name.len() + c.function.arguments.len() + 8)
                .sum::<usize>();
        }
    }
    if let Some(tools) = &request.tools {
        bytes += serde_json::to_string(tools).map_or(0, |s| s.len());
    }
    bytes as u64
}

/// Caps the request's output bound by the model's `max_output_tokens` and returns the bound
/// the reservation uses. When the model has a bound, the upstream is always sent one.
fn cap_output(request: &mut ChatCompletionRequest, model: &ModelConfig) -> u32 {
    let model_max = model.max_output_tokens;
    let requested = request.requested_max_tokens();
    let bound = match (requested, model_max) {
        (Some(r), Some(m)) => r.min(m),
        (Some(r), None) => r,
        (None, Some(m)) => m,
        (None, None) => model.context_window.unwrap_or(DEFAULT_MAX_OUTPUT),
    };
    if model_max.is_some() {
        if request.max_completion_tokens.is_some() {
            request.max_completion_tokens = Some(bound);
        } else {
            request.max_tokens = Some(bound);
        }
    }
    bound
}
