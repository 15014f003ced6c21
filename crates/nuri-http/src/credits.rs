//! Credits over HTTP: programmes, grants, the ledger check, statements and orphaned
//! reservations under `/admin/v1` (operator only), and `GET /v1/balance` for a key's
//! organisation.

use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use nuri_core::credits::{
    balance_of, Grant, GrantFilter, GrantStatus, Period, Programme, Reservation, ReservationStatus,
    Statement, StatementLine,
};
use nuri_core::store::{PageRequest, StoreError};
use nuri_core::time::{now_ms, parse_rfc3339_ms};
use nuri_core::GatewayError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::{audit, body, created, list, operator, rfc3339};
use crate::extract::Authorization;
use crate::{ApiError, AppState};

/// Credit routes under `/admin/v1`.
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/programmes", post(create_programme).get(list_programmes))
        .route("/programmes/{id}", get(get_programme))
        .route(
            "/programmes/{id}/grants",
            post(create_grant).get(list_programme_grants),
        )
        .route("/grants", get(list_grants))
        .route(
            "/grants/{id}",
            get(get_grant).patch(patch_grant).delete(revoke_grant),
        )
        .route("/grants/{id}/top_up", post(top_up_grant))
        .route("/ledger/verify", get(verify_ledger))
        .route("/statements", get(statement))
        .route("/reservations", get(list_reservations))
        .route("/reservations/{id}/refund", post(refund_reservation))
}

fn invalid(message: impl Into<String>, param: &str) -> ApiError {
    ApiError(GatewayError::invalid(message, Some(param)))
}

fn positive(amount: i64, param: &str) -> Result<i64, ApiError> {
    if amount <= 0 {
        return Err(invalid(
            format!("{param} must be a positive integer number of milli-won, got {amount}"),
            param,
        ));
    }
    Ok(amount)
}

fn text(value: &str, param: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 200 {
        return Err(invalid(
            format!("{param} must be 1 to 200 characters"),
            param,
        ));
    }
    Ok(v.to_owned())
}

fn time_field(value: Option<&str>, param: &str) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            parse_rfc3339_ms(v).ok_or_else(|| {
                invalid(
                    format!("{param} must be an RFC 3339 time, got {v:?}"),
                    param,
                )
            })
        })
        .transpose()
}

fn programme_json(p: &Programme) -> Value {
    json!({
        "id": p.id, "object": "programme", "name": p.name, "sponsor": p.sponsor, "currency": p.currency,
        "budget": p.budget, "allocated": p.allocated, "unallocated": p.unallocated(),
        "created_at": rfc3339(p.created_at),
    })
}

fn grant_json(g: &Grant) -> Value {
    json!({
        "id": g.id, "object": "grant", "programme_id": g.programme_id, "org_id": g.org_id,
        "amount": g.amount, "spent": g.spent, "reserved": g.reserved, "remaining": g.remaining(),
        "status": g.status, "starts_at": rfc3339(g.starts_at), "ends_at": g.ends_at.map_or(Value::Null, rfc3339),
        "models": g.models, "providers": g.providers, "created_at": rfc3339(g.created_at),
    })
}

fn reservation_json(r: &Reservation) -> Value {
    json!({
        "id": r.id, "object": "reservation", "request_id": r.request_id, "grant_id": r.grant_id,
        "org_id": r.org_id, "project_id": r.project_id, "key_id": r.key_id, "model": r.model,
        "amount": r.amount, "cost": r.cost, "status": r.status,
        "expires_at": rfc3339(r.expires_at), "created_at": rfc3339(r.created_at),
        "settled_at": r.settled_at.map_or(Value::Null, rfc3339),
    })
}

/// `POST /admin/v1/programmes`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgrammeBody {
    name: String,
    sponsor: String,
    budget: i64,
    currency: Option<String>,
}

async fn create_programme(
    State(state): State<AppState>,
    auth: Authorization,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: ProgrammeBody = body(&state, req).await?;
    let currency = b.currency.unwrap_or_else(|| "KRW".into());
    if currency != "KRW" {
        return Err(invalid(
            format!("currency must be KRW (amounts are milli-won), got {currency:?}"),
            "currency",
        ));
    }
    let p = Programme {
        id: nuri_types::ids::new_id("prog"),
        name: text(&b.name, "name")?,
        sponsor: text(&b.sponsor, "sponsor")?,
        currency,
        budget: positive(b.budget, "budget")?,
        allocated: 0,
        created_at: now_ms(),
    };
    state.gateway.store.create_programme(&p).await?;
    audit(
        &state,
        &who,
        "programme.create",
        &p.id,
        json!({"name": p.name, "sponsor": p.sponsor, "budget": p.budget}),
    )
    .await;
    Ok(created(programme_json(&p)))
}

async fn list_programmes(
    State(state): State<AppState>,
    auth: Authorization,
    Query(page): Query<PageRequest>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let p = state.gateway.store.list_programmes(&page).await?;
    Ok(list(
        p.data.iter().map(programme_json).collect(),
        p.has_more,
    ))
}

async fn get_programme(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let p = state.gateway.store.get_programme(&id).await?;
    Ok(axum::Json(programme_json(&p)).into_response())
}

/// `POST /admin/v1/programmes/{id}/grants`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    org_id: String,
    amount: i64,
    starts_at: Option<String>,
    ends_at: Option<String>,
    models: Option<Vec<String>>,
    providers: Option<Vec<String>>,
}

fn name_list(list: Option<Vec<String>>, param: &str) -> Result<Option<Vec<String>>, ApiError> {
    match list {
        Some(l) if l.is_empty() || l.iter().any(|m| m.trim().is_empty()) => Err(invalid(
            format!("{param} must be a non-empty list of names, or omitted for any"),
            param,
        )),
        other => Ok(other),
    }
}

async fn create_grant(
    State(state): State<AppState>,
    auth: Authorization,
    Path(programme_id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: GrantBody = body(&state, req).await?;
    let store = &state.gateway.store;
    store.get_programme(&programme_id).await?;
    let amount = positive(b.amount, "amount")?;
    match store.get_org(&b.org_id).await {
        Err(StoreError::NotFound(_)) => {
            return Err(invalid(
                format!("unknown organization {:?}", b.org_id),
                "org_id",
            ))
        }
        other => other?,
    };
    let now = now_ms();
    let starts_at = time_field(b.starts_at.as_deref(), "starts_at")?.unwrap_or(now);
    let ends_at = time_field(b.ends_at.as_deref(), "ends_at")?;
    if ends_at.is_some_and(|end| end <= starts_at) {
        return Err(invalid("ends_at must be after starts_at", "ends_at"));
    }
    let g = Grant {
        id: nuri_types::ids::new_id("grant"),
        programme_id,
        org_id: b.org_id,
        amount,
        spent: 0,
        reserved: 0,
        starts_at,
        ends_at,
        models: name_list(b.models, "models")?,
        providers: name_list(b.providers, "providers")?,
        status: GrantStatus::Active,
        created_at: now,
    };
    match store.create_grant(&g, &who.actor()).await {
        Err(StoreError::Conflict(why)) => return Err(invalid(why, "amount")),
        other => other?,
    }
    audit(
        &state,
        &who,
        "grant.create",
        &g.id,
        json!({"programme_id": g.programme_id, "org_id": g.org_id, "amount": g.amount}),
    )
    .await;
    Ok(created(grant_json(&g)))
}

/// `?org_id=&programme_id=&limit=&after=`.
#[derive(Deserialize)]
struct GrantQuery {
    org_id: Option<String>,
    programme_id: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn grants_page(
    state: &AppState,
    filter: GrantFilter,
    q: GrantQuery,
) -> Result<Response, ApiError> {
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
    };
    let p = state.gateway.store.list_grants(&filter, &page).await?;
    Ok(list(p.data.iter().map(grant_json).collect(), p.has_more))
}

async fn list_programme_grants(
    State(state): State<AppState>,
    auth: Authorization,
    Path(programme_id): Path<String>,
    Query(q): Query<GrantQuery>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    state.gateway.store.get_programme(&programme_id).await?;
    let filter = GrantFilter {
        programme_id: Some(programme_id),
        org_id: q.org_id.clone(),
    };
    grants_page(&state, filter, q).await
}

async fn list_grants(
    State(state): State<AppState>,
    auth: Authorization,
    Query(q): Query<GrantQuery>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let filter = GrantFilter {
        programme_id: q.programme_id.clone(),
        org_id: q.org_id.clone(),
    };
    grants_page(&state, filter, q).await
}

async fn get_grant(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let g = state.gateway.store.get_grant(&id).await?;
    Ok(axum::Json(grant_json(&g)).into_response())
}

/// `PATCH /admin/v1/grants/{id}`: `{"status": "frozen" | "active"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantPatch {
    status: String,
}

async fn patch_grant(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: GrantPatch = body(&state, req).await?;
    let status = match GrantStatus::parse(&b.status) {
        Some(s @ (GrantStatus::Active | GrantStatus::Frozen)) => s,
        _ => {
            return Err(invalid(
                "status must be \"active\" or \"frozen\" (revoke with DELETE)",
                "status",
            ))
        }
    };
    let g = state.gateway.store.set_grant_status(&id, status).await?;
    audit(&state, &who, "grant.status", &id, json!({"status": status})).await;
    Ok(axum::Json(grant_json(&g)).into_response())
}

/// `POST /admin/v1/grants/{id}/top_up`: `{"amount"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopUpBody {
    amount: i64,
}

async fn top_up_grant(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let b: TopUpBody = body(&state, req).await?;
    let amount = positive(b.amount, "amount")?;
    let g = match state
        .gateway
        .store
        .top_up_grant(&id, amount, &who.actor(), now_ms())
        .await
    {
        Err(StoreError::Conflict(why)) => return Err(invalid(why, "amount")),
        other => other?,
    };
    audit(&state, &who, "grant.top_up", &id, json!({"amount": amount})).await;
    Ok(axum::Json(grant_json(&g)).into_response())
}

async fn revoke_grant(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let g = state
        .gateway
        .store
        .revoke_grant(&id, &who.actor(), now_ms())
        .await?;
    audit(
        &state,
        &who,
        "grant.revoke",
        &id,
        json!({"amount": g.amount}),
    )
    .await;
    Ok(axum::Json(grant_json(&g)).into_response())
}

async fn verify_ledger(
    State(state): State<AppState>,
    auth: Authorization,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let report = state.gateway.store.verify_ledger().await?;
    Ok(axum::Json(report).into_response())
}

/// `?kind=provider|org&period=YYYY-MM | from=&to=&org=&format=json|csv`.
#[derive(Deserialize)]
struct StatementQuery {
    kind: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    org: Option<String>,
    format: Option<String>,
}

fn period_of(q: &StatementQuery, zone: &str) -> Result<Period, ApiError> {
    match (&q.period, &q.from, &q.to) {
        (Some(month), None, None) => {
            Period::month(month, zone).map_err(|e| invalid(e.to_string(), "period"))
        }
        (None, Some(from), Some(to)) => {
            let from = time_field(Some(from), "from")?.unwrap_or_default();
            let to = time_field(Some(to), "to")?.unwrap_or_default();
            Period::range(from, to).map_err(|e| invalid(e.to_string(), "to"))
        }
        (None, None, None) => {
            let month =
                Period::current_month(zone).map_err(|e| invalid(e.to_string(), "period"))?;
            Period::month(&month, zone).map_err(|e| invalid(e.to_string(), "period"))
        }
        _ => Err(invalid(
            "give either period=YYYY-MM, or both from and to (RFC 3339)",
            "period",
        )),
    }
}

/// A statement as JSON, or as CSV (`text/csv`).
fn render_statement<L: StatementLine + serde::Serialize>(
    s: Statement<L>,
    as_csv: bool,
) -> Response {
    if as_csv {
        ([(CONTENT_TYPE, "text/csv; charset=utf-8")], s.to_csv()).into_response()
    } else {
        axum::Json(s).into_response()
    }
}

async fn statement(
    State(state): State<AppState>,
    auth: Authorization,
    Query(q): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let period = period_of(&q, &state.billing_timezone)?;
    let as_csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(invalid(
                format!("format must be json or csv, got {other:?}"),
                "format",
            ))
        }
    };
    let store = &state.gateway.store;
    match q.kind.as_deref().unwrap_or("provider") {
        "provider" => {
            if q.org.is_some() {
                return Err(invalid(
                    "a provider statement covers every organization; use kind=org for one",
                    "org",
                ));
            }
            let lines = store.provider_lines(period.from, period.to).await?;
            let ledger = store.ledger_totals(None, period.from, period.to).await?;
            Ok(render_statement(
                Statement::new(period, lines, ledger),
                as_csv,
            ))
        }
        "org" => {
            let org = q.org.as_deref();
            let lines = store.org_lines(org, period.from, period.to).await?;
            let ledger = store.ledger_totals(org, period.from, period.to).await?;
            Ok(render_statement(
                Statement::new(period, lines, ledger),
                as_csv,
            ))
        }
        other => Err(invalid(
            format!("kind must be provider or org, got {other:?}"),
            "kind",
        )),
    }
}

/// `?status=held|settled|orphaned|refunded&limit=&after=`.
#[derive(Deserialize)]
struct ReservationQuery {
    status: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list_reservations(
    State(state): State<AppState>,
    auth: Authorization,
    Query(q): Query<ReservationQuery>,
) -> Result<Response, ApiError> {
    operator(&state, &auth).await?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            ReservationStatus::parse(s).ok_or_else(|| {
                invalid(
                    "status must be held, settled, orphaned or refunded",
                    "status",
                )
            })
        })
        .transpose()?;
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
    };
    let p = state.gateway.store.list_reservations(status, &page).await?;
    Ok(list(
        p.data.iter().map(reservation_json).collect(),
        p.has_more,
    ))
}

async fn refund_reservation(
    State(state): State<AppState>,
    auth: Authorization,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&state, &auth).await?;
    let r = state
        .gateway
        .store
        .refund_reservation(&id, &who.actor(), now_ms())
        .await?;
    audit(
        &state,
        &who,
        "reservation.refund",
        &id,
        json!({"grant_id": r.grant_id, "amount": r.cost}),
    )
    .await;
    Ok(axum::Json(reservation_json(&r)).into_response())
}

/// `GET /v1/balance`: the key's organisation's credit.
pub async fn balance(
    State(state): State<AppState>,
    auth: Authorization,
) -> Result<Response, ApiError> {
    let key = crate::v1::authenticate(&state, &auth).await?;
    let grants = state.gateway.store.org_grants(&key.key.org_id).await?;
    Ok(axum::Json(balance_of(&grants, now_ms())).into_response())
}
