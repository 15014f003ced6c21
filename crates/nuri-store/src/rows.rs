//! Row → domain conversions.

use nuri_core::tenancy::{ApiKey, Limits, Member, Organisation, Project, Role};
use nuri_core::usage::UsageRecord;
use sqlx::any::AnyRow;
use sqlx::Row;

fn limits(row: &AnyRow) -> Result<Limits, sqlx::Error> {
    let text: String = row.try_get("limits")?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

pub(crate) fn limits_json(limits: &Limits) -> String {
    serde_json::to_string(limits).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn org(row: &AnyRow) -> Result<Organisation, sqlx::Error> {
    Ok(Organisation {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        limits: limits(row)?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn project(row: &AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        limits: limits(row)?,
        policy: {
            let text: String = row.try_get("policy")?;
            serde_json::from_str(&text).unwrap_or_default()
        },
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn key(row: &AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        limits: limits(row)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) fn member(row: &AnyRow) -> Result<Member, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Auditor),
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn u64_col(row: &AnyRow, col: &str) -> Result<u64, sqlx::Error> {
    let v: i64 = row.try_get(col)?;
    Ok(u64::try_from(v).unwrap_or(0))
}

pub(crate) fn usage(row: &AnyRow) -> Result<UsageRecord, sqlx::Error> {
    let status: i64 = row.try_get("status")?;
    let estimated: i64 = row.try_get("usage_estimated")?;
    let stream: i64 = row.try_get("stream")?;
    Ok(UsageRecord {
        request_id: row.try_get("request_id")?,
        client_request_id: row.try_get("client_request_id")?,
        org_id: row.try_get("org_id")?,
        project_id: row.try_get("project_id")?,
        key_id: row.try_get("key_id")?,
        endpoint: row.try_get("endpoint")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        upstream_model: row.try_get("upstream_model")?,
        prompt_tokens: u64_col(row, "prompt_tokens")?,
        completion_tokens: u64_col(row, "completion_tokens")?,
        usage_estimated: estimated != 0,
        cost: row.try_get("cost")?,
        input_price: row.try_get("input_price")?,
        output_price: row.try_get("output_price")?,
        grant_id: row.try_get("grant_id")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        status: u16::try_from(status).unwrap_or(0),
        error_code: row.try_get("error_code")?,
        stream: stream != 0,
        created_at: row.try_get("created_at")?,
    })
}
