//! The OpenAI-compatible client API under `/v1`, authenticated by API keys.

use std::time::Instant;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::request::Parts;
use http::HeaderValue;
use nuri_core::auth::AuthContext;
use nuri_core::gateway::{ChatOutcome, CompletionOutcome, RequestMeta};
use nuri_core::stages::RateLimitInfo;
use nuri_core::usage::UsageFilter;
use serde::Deserialize;
use serde_json::json;

use crate::extract::Authorization;
use crate::middleware::{ClientRequestId, RequestId};
use crate::{sse, ApiError, AppState};

/// `/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completion))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{*id}", get(get_model))
        .route("/v1/usage", get(usage))
        .route("/v1/balance", get(crate::credits::balance))
}

/// Request ids from the middleware.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let client_request_id = parts
            .extensions
            .get::<ClientRequestId>()
            .and_then(|c| c.0.clone());
        Ok(Self(RequestMeta {
            request_id,
            client_request_id,
        }))
    }
}

pub(crate) async fn authenticate(
    state: &AppState,
    header: &Authorization,
) -> Result<AuthContext, ApiError> {
    Ok(state.gateway.auth.api_key(header.0.as_deref()).await?)
}

async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request,
) -> Result<T, ApiError> {
    let crate::extract::Json(v) =
        <crate::extract::Json<T> as axum::extract::FromRequest<AppState>>::from_request(req, state)
            .await?;
    Ok(v)
}

fn with_limits(mut response: Response, info: &RateLimitInfo) -> Response {
    let h = response.headers_mut();
    for (name, value) in &info.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    response
}

fn json_response<T: serde::Serialize>(value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn observe(
    state: &AppState,
    endpoint: &'static str,
    model: &str,
    result: &Result<Response, ApiError>,
    started: Instant,
) {
    let status = match result {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.0.code().status(),
    };
    state
        .metrics
        .observe(endpoint, model, status, started.elapsed());
}

async fn chat(
    State(state): State<AppState>,
    Meta(meta): Meta,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut model = String::new();
    let result = async {
        let key = authenticate(&state, &auth).await?;
        let request: nuri_types::openai::ChatCompletionRequest = body(&state, req).await?;
        model.clone_from(&request.model);
        let answer = state.gateway.chat(&key, request, meta).await?;
        let response = match answer.body {
            ChatOutcome::Complete(c) => json_response(&c),
            ChatOutcome::Stream(s) => sse::response(*s),
        };
        Ok(with_limits(response, &answer.limits))
    }
    .await;
    observe(&state, "chat", &model, &result, started);
    result
}

async fn completion(
    State(state): State<AppState>,
    Meta(meta): Meta,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut model = String::new();
    let result = async {
        let key = authenticate(&state, &auth).await?;
        let request: nuri_types::openai::CompletionRequest = body(&state, req).await?;
        model.clone_from(&request.model);
        let answer = state.gateway.completion(&key, request, meta).await?;
        let response = match answer.body {
            CompletionOutcome::Complete(c) => json_response(&c),
            CompletionOutcome::Stream(s) => sse::response(*s),
        };
        Ok(with_limits(response, &answer.limits))
    }
    .await;
    observe(&state, "completions", &model, &result, started);
    result
}

async fn embeddings(
    State(state): State<AppState>,
    Meta(meta): Meta,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut model = String::new();
    let result = async {
        let key = authenticate(&state, &auth).await?;
        let request: nuri_types::openai::EmbeddingRequest = body(&state, req).await?;
        model.clone_from(&request.model);
        let answer = state.gateway.embeddings(&key, request, meta).await?;
        Ok(with_limits(json_response(&answer.body), &answer.limits))
    }
    .await;
    observe(&state, "embeddings", &model, &result, started);
    result
}

async fn list_models(
    State(state): State<AppState>,
    auth: Authorization,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, &auth).await?;
    let data = state.gateway.list_models(&key).await?;
    Ok(json_response(&json!({"object": "list", "data": data})))
}

async fn get_model(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, &auth).await?;
    Ok(json_response(&state.gateway.get_model(&key, &id).await?))
}

/// `GET /v1/usage` query.
#[derive(Debug, Deserialize, Default)]
pub struct UsageQuery {
    /// RFC 3339 or Unix seconds, inclusive.
    pub from: Option<String>,
    /// RFC 3339 or Unix seconds, exclusive.
    pub to: Option<String>,
    /// Public model.
    pub model: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub after: Option<String>,
}

/// Parses a time given as RFC 3339 or Unix seconds into Unix ms.
pub fn parse_time(value: &str, param: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = value.parse::<i64>() {
        return Ok(secs.saturating_mul(1000));
    }
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
        .map_err(|_| {
            ApiError(nuri_core::GatewayError::invalid(
                format!("{param} must be RFC 3339 or Unix seconds"),
                Some(param),
            ))
        })
}

async fn usage(
    State(state): State<AppState>,
    auth: Authorization,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, &auth).await?;
    let filter = UsageFilter {
        project: Some(key.key.project_id.clone()),
        model: q.model,
        from: q
            .from
            .as_deref()
            .map(|v| parse_time(v, "from"))
            .transpose()?,
        to: q.to.as_deref().map(|v| parse_time(v, "to")).transpose()?,
        limit: q.limit,
        after: q.after,
        ..UsageFilter::default()
    };
    let page = state.gateway.store.query_usage(&filter).await?;
    Ok(json_response(
        &json!({"object": "list", "data": page.data, "has_more": page.has_more}),
    ))
}
