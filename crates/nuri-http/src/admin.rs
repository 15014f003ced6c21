//! The admin API under `/admin/v1`, authenticated by admin tokens. Every write is recorded in
//! the audit log. Until the governance issue lands, every endpoint requires the operator role.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use nuri_core::auth::{self, AdminIdentity};
use nuri_core::store::{AuditEntry, PageRequest};
use nuri_core::tenancy::{ApiKey, Limits, Member, Organisation, Project, Role};
use nuri_core::time::now_ms;
use nuri_core::usage::UsageFilter;
use nuri_core::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::extract::Authorization;
use crate::v1::parse_time;
use crate::{ApiError, AppState};

/// `/admin/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs", post(create_org).get(list_orgs))
        .route("/orgs/{id}", get(get_org).patch(patch_org))
        .route(
            "/orgs/{id}/projects",
            post(create_project).get(list_projects),
        )
        .route("/projects/{id}", get(get_project).patch(patch_project))
        .route("/projects/{id}/policy", get(get_policy).put(put_policy))
        .route("/projects/{id}/keys", post(create_key).get(list_keys))
        .route(
            "/keys/{id}",
            get(get_key).patch(patch_key).delete(revoke_key),
        )
        .route("/members", post(create_member).get(list_members))
        .route("/usage", get(usage))
        .merge(crate::credits::admin_routes())
}

pub(crate) async fn operator(
    state: &AppState,
    header: &Authorization,
) -> Result<AdminIdentity, ApiError> {
    let who = state.gateway.auth.admin(header.0.as_deref()).await?;
    if who.role() != Role::Operator {
        return Err(ApiError(GatewayError::Forbidden(
            "this endpoint needs the operator role".into(),
        )));
    }
    Ok(who)
}

pub(crate) async fn audit(
    state: &AppState,
    who: &AdminIdentity,
    action: &str,
    target: &str,
    detail: Value,
) {
    let entry = AuditEntry {
        actor: who.actor(),
        action: action.into(),
        target: Some(target.into()),
        detail,
        created_at: now_ms(),
    };
    if let Err(e) = state.gateway.store.append_audit(&entry).await {
        tracing::error!(error = %e, action, "audit append failed");
    }
}

pub(crate) async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request,
) -> Result<T, ApiError> {
    let crate::extract::Json(v) =
        <crate::extract::Json<T> as axum::extract::FromRequest<AppState>>::from_request(req, state)
            .await?;
    Ok(v)
}

pub(crate) fn created<T: Serialize>(value: T) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

pub(crate) fn rfc3339(ms: i64) -> Value {
    Value::String(nuri_core::time::format_rfc3339_ms(ms))
}

fn org_json(o: &Organisation) -> Value {
    json!({"id": o.id, "object": "organization", "name": o.name, "limits": o.limits, "created_at": rfc3339(o.created_at)})
}

fn project_json(p: &Project) -> Value {
    json!({"id": p.id, "object": "project", "org_id": p.org_id, "name": p.name, "limits": p.limits, "created_at": rfc3339(p.created_at)})
}

fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id, "object": "api_key", "project_id": k.project_id, "org_id": k.org_id, "name": k.name,
        "prefix": k.prefix, "limits": k.limits, "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map_or(Value::Null, rfc3339), "revoked_at": k.revoked_at.map_or(Value::Null, rfc3339),
    })
}

fn member_json(m: &Member) -> Value {
    json!({"id": m.id, "object": "member", "name": m.name, "role": m.role, "scope": m.scope, "created_at": rfc3339(m.created_at)})
}

pub(crate) fn list(data: Vec<Value>, has_more: bool) -> Response {
    axum::Json(json!({"object": "list", "data": data, "has_more": has_more})).into_response()
}

fn name_of(value: &str, what: &str) -> Result<String, ApiError> {
    let name = value.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError(GatewayError::invalid(
            format!("{what} name must be 1 to 200 characters"),
            Some("name"),
        )));
    }
    Ok(name.to_owned())
}

/// `{"name"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn create_org(
    State(state): State<AppState>,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: NameBody = body(&state, req).await?;
    let org = Organisation {
        id: nuri_types::ids::new_id("org"),
        name: name_of(&b.name, "organization")?,
        limits: Limits::default(),
        created_at: now_ms(),
    };
    state.gateway.store.create_org(&org).await?;
    audit(
        &state,
        &who,
        "org.create",
        &org.id,
        json!({"name": org.name}),
    )
    .await;
    Ok(created(org_json(&org)))
}

async fn list_orgs(
    State(state): State<AppState>,
    auth: Authorization,
    Query(page): Query<PageRequest>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let p = state.gateway.store.list_orgs(&page).await?;
    Ok(list(p.data.iter().map(org_json).collect(), p.has_more))
}

async fn get_org(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    Ok(axum::Json(org_json(&state.gateway.store.get_org(&id).await?)).into_response())
}

/// `{"limits": {...}}` as a JSON merge patch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsPatch {
    limits: Option<Value>,
}

/// Applies a JSON merge patch (RFC 7396) of limits; `null` clears a limit.
fn merge_limits(current: &Limits, patch: Option<Value>) -> Result<Limits, ApiError> {
    let mut base = serde_json::to_value(current).unwrap_or_else(|_| json!({}));
    match patch {
        None => return Ok(*current),
        Some(Value::Null) => return Ok(Limits::default()),
        Some(Value::Object(fields)) => {
            for (k, v) in fields {
                if ![
                    "requests_per_minute",
                    "tokens_per_minute",
                    "max_concurrent",
                    "spend_per_day",
                    "spend_per_month",
                ]
                .contains(&k.as_str())
                {
                    return Err(ApiError(GatewayError::invalid(
                        format!("unknown limit {k:?}"),
                        Some(&format!("limits.{k}")),
                    )));
                }
                match v {
                    Value::Null => {
                        if let Value::Object(m) = &mut base {
                            m.remove(&k);
                        }
                    }
                    Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => {
                        base[&k] = Value::Number(n);
                    }
                    _ => {
                        return Err(ApiError(GatewayError::invalid(
                            format!("limits.{k} must be a positive integer or null"),
                            Some(&format!("limits.{k}")),
                        )))
                    }
                }
            }
        }
        Some(_) => {
            return Err(ApiError(GatewayError::invalid(
                "limits must be an object or null",
                Some("limits"),
            )))
        }
    }
    serde_json::from_value(base)
        .map_err(|e| ApiError(GatewayError::invalid(e.to_string(), Some("limits"))))
}

async fn patch_org(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: LimitsPatch = body(&state, req).await?;
    let current = state.gateway.store.get_org(&id).await?;
    let limits = merge_limits(&current.limits, b.limits)?;
    let org = state.gateway.store.set_org_limits(&id, &limits).await?;
    audit(&state, &who, "org.update", &id, json!({"limits": limits})).await;
    Ok(axum::Json(org_json(&org)).into_response())
}

async fn create_project(
    State(state): State<AppState>,
    auth: Authorization,
    Path(org_id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: NameBody = body(&state, req).await?;
    state.gateway.store.get_org(&org_id).await?;
    let project = Project {
        policy: Default::default(),
        id: nuri_types::ids::new_id("proj"),
        org_id,
        name: name_of(&b.name, "project")?,
        limits: Limits::default(),
        created_at: now_ms(),
    };
    state.gateway.store.create_project(&project).await?;
    audit(
        &state,
        &who,
        "project.create",
        &project.id,
        json!({"org_id": project.org_id, "name": project.name}),
    )
    .await;
    Ok(created(project_json(&project)))
}

async fn list_projects(
    State(state): State<AppState>,
    auth: Authorization,
    Path(org_id): Path<String>,
    Query(page): Query<PageRequest>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    state.gateway.store.get_org(&org_id).await?;
    let p = state.gateway.store.list_projects(&org_id, &page).await?;
    Ok(list(p.data.iter().map(project_json).collect(), p.has_more))
}

async fn get_project(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    Ok(axum::Json(project_json(&state.gateway.store.get_project(&id).await?)).into_response())
}

async fn patch_project(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: LimitsPatch = body(&state, req).await?;
    let current = state.gateway.store.get_project(&id).await?;
    let limits = merge_limits(&current.limits, b.limits)?;
    let project = state.gateway.store.set_project_limits(&id, &limits).await?;
    audit(
        &state,
        &who,
        "project.update",
        &id,
        json!({"limits": limits}),
    )
    .await;
    Ok(axum::Json(project_json(&project)).into_response())
}

/// `{"name"?, "expires_at"?}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    name: Option<String>,
    expires_at: Option<String>,
}

async fn get_policy(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    Ok(axum::Json(state.gateway.store.get_project(&id).await?.policy).into_response())
}

async fn put_policy(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let policy: nuri_core::policy::ProjectPolicy = body(&state, req).await?;
    policy.validate()?;
    let project = state.gateway.store.set_project_policy(&id, &policy).await?;
    audit(
        &state,
        &who,
        "project.policy.replace",
        &id,
        serde_json::to_value(&project.policy).unwrap_or_default(),
    )
    .await;
    Ok(axum::Json(project.policy).into_response())
}

async fn create_key(
    State(state): State<AppState>,
    auth: Authorization,
    Path(project_id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let empty = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v == "0");
    let b: KeyBody = if empty {
        KeyBody::default()
    } else {
        body(&state, req).await?
    };
    let project = state.gateway.store.get_project(&project_id).await?;
    let expires_at = b
        .expires_at
        .as_deref()
        .map(|v| parse_time(v, "expires_at"))
        .transpose()?;
    if expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(ApiError(GatewayError::invalid(
            "expires_at must be in the future",
            Some("expires_at"),
        )));
    }
    let (secret, prefix) = auth::new_api_key();
    let key = ApiKey {
        id: nuri_types::ids::new_id("key"),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        name: b
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        prefix,
        limits: Limits::default(),
        created_at: now_ms(),
        expires_at,
        revoked_at: None,
    };
    state
        .gateway
        .store
        .create_key(&key, &auth::hash_secret(&secret))
        .await?;
    audit(
        &state,
        &who,
        "key.create",
        &key.id,
        json!({"project_id": key.project_id, "prefix": key.prefix}),
    )
    .await;
    let mut out = key_json(&key);
    out["key"] = Value::String(secret);
    Ok(created(out))
}

async fn list_keys(
    State(state): State<AppState>,
    auth: Authorization,
    Path(project_id): Path<String>,
    Query(page): Query<PageRequest>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    state.gateway.store.get_project(&project_id).await?;
    let p = state.gateway.store.list_keys(&project_id, &page).await?;
    Ok(list(p.data.iter().map(key_json).collect(), p.has_more))
}

async fn get_key(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    Ok(axum::Json(key_json(&state.gateway.store.get_key(&id).await?)).into_response())
}

async fn patch_key(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: LimitsPatch = body(&state, req).await?;
    let current = state.gateway.store.get_key(&id).await?;
    let limits = merge_limits(&current.limits, b.limits)?;
    let key = state.gateway.store.set_key_limits(&id, &limits).await?;
    audit(&state, &who, "key.update", &id, json!({"limits": limits})).await;
    Ok(axum::Json(key_json(&key)).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    state.gateway.store.revoke_key(&id, now_ms()).await?;
    state.gateway.auth.invalidate();
    audit(&state, &who, "key.revoke", &id, json!({})).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"name","role","scope"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    name: String,
    role: String,
    scope: Option<String>,
}

async fn create_member(
    State(state): State<AppState>,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: MemberBody = body(&state, req).await?;
    let role = Role::parse(&b.role).ok_or_else(|| {
        ApiError(GatewayError::invalid(
            "role must be one of operator, sponsor, org_admin, developer, auditor, steward",
            Some("role"),
        ))
    })?;
    let (member, token) = create_member_record(&state, &b.name, role, b.scope).await?;
    audit(
        &state,
        &who,
        "member.create",
        &member.id,
        json!({"role": member.role, "scope": member.scope}),
    )
    .await;
    let mut out = member_json(&member);
    out["token"] = Value::String(token);
    Ok(created(out))
}

/// Creates a member and returns it with its token (shown once).
pub async fn create_member_record(
    state: &AppState,
    name: &str,
    role: Role,
    scope: Option<String>,
) -> Result<(Member, String), ApiError> {
    let member = Member {
        id: nuri_types::ids::new_id("mem"),
        name: name_of(name, "member")?,
        role,
        scope,
        created_at: now_ms(),
        revoked_at: None,
    };
    let token = auth::new_admin_token();
    state
        .gateway
        .store
        .create_member(&member, &auth::hash_secret(&token))
        .await?;
    Ok((member, token))
}

async fn list_members(
    State(state): State<AppState>,
    auth: Authorization,
    Query(page): Query<PageRequest>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let p = state.gateway.store.list_members(&page).await?;
    Ok(list(p.data.iter().map(member_json).collect(), p.has_more))
}

/// `GET /admin/v1/usage` filters (times as RFC 3339 or Unix seconds).
#[derive(Deserialize, Default)]
struct AdminUsageQuery {
    org: Option<String>,
    project: Option<String>,
    key: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    request_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn usage(
    State(state): State<AppState>,
    auth: Authorization,
    Query(q): Query<AdminUsageQuery>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let filter = UsageFilter {
        org: q.org,
        project: q.project,
        key: q.key,
        model: q.model,
        provider: q.provider,
        request_id: q.request_id,
        from: q
            .from
            .as_deref()
            .map(|v| parse_time(v, "from"))
            .transpose()?,
        to: q.to.as_deref().map(|v| parse_time(v, "to")).transpose()?,
        limit: q.limit,
        after: q.after,
    };
    let page = state.gateway.store.query_usage(&filter).await?;
    Ok(
        axum::Json(json!({"object": "list", "data": page.data, "has_more": page.has_more}))
            .into_response(),
    )
}
