//! Statement queries: usage grouped by provider or organisation, and the ledger's totals for the
//! same period.

use nuri_core::credits::{LedgerTotals, OrgLine, ProviderLine};
use nuri_core::store::StoreError;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::connect::db_err;

fn provider_line(r: &AnyRow) -> Result<ProviderLine, sqlx::Error> {
    Ok(ProviderLine {
        provider: r.try_get("provider")?,
        upstream_model: r
            .try_get::<Option<String>, _>("upstream_model")?
            .unwrap_or_default(),
        model: r.try_get("model")?,
        requests: r.try_get("requests")?,
        prompt_tokens: r.try_get("pt")?,
        completion_tokens: r.try_get("ct")?,
        cost: r.try_get("cost")?,
        paid_by_grants: r.try_get("paid")?,
    })
}

fn org_line(r: &AnyRow) -> Result<OrgLine, sqlx::Error> {
    Ok(OrgLine {
        org_id: r.try_get("org_id")?,
        grant_id: r.try_get("grant_id")?,
        project_id: r.try_get("project_id")?,
        model: r.try_get("model")?,
        requests: r.try_get("requests")?,
        prompt_tokens: r.try_get("pt")?,
        completion_tokens: r.try_get("ct")?,
        cost: r.try_get("cost")?,
    })
}

/// One `BIGINT` sum with integer binds, then the organisation when given.
async fn sum(
    pool: &AnyPool,
    sql: &str,
    binds: &[i64],
    org: Option<&str>,
) -> Result<i64, StoreError> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    if let Some(o) = org {
        q = q.bind(o);
    }
    q.fetch_one(pool).await.map_err(db_err)
}

/// Provider statement lines for `[from, to)`.
pub(super) async fn provider_lines(
    pool: &AnyPool,
    from: i64,
    to: i64,
) -> Result<Vec<ProviderLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT provider, upstream_model, model, COUNT(*) AS requests, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS pt, CAST(SUM(completion_tokens) AS BIGINT) AS ct, \
         CAST(SUM(cost) AS BIGINT) AS cost, \
         CAST(SUM(CASE WHEN grant_id IS NULL THEN 0 ELSE cost END) AS BIGINT) AS paid \
         FROM usage_records WHERE created_at >= $1 AND created_at < $2 AND provider IS NOT NULL \
         AND (prompt_tokens > 0 OR completion_tokens > 0) \
         GROUP BY provider, upstream_model, model ORDER BY provider, upstream_model, model",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(provider_line)
        .collect::<Result<_, _>>()
        .map_err(db_err)
}

/// Organisation statement lines for `[from, to)`.
pub(super) async fn org_lines(
    pool: &AnyPool,
    org_id: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<OrgLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT org_id, grant_id, project_id, model, COUNT(*) AS requests, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS pt, CAST(SUM(completion_tokens) AS BIGINT) AS ct, \
         CAST(SUM(cost) AS BIGINT) AS cost \
         FROM usage_records WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR org_id = $3) \
         AND (prompt_tokens > 0 OR completion_tokens > 0) \
         GROUP BY org_id, grant_id, project_id, model ORDER BY org_id, grant_id, project_id, model",
    )
    .bind(from)
    .bind(to)
    .bind(org_id.unwrap_or_default())
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(org_line)
        .collect::<Result<_, _>>()
        .map_err(db_err)
}

/// Ledger totals for requests recorded in `[from, to)`.
pub(super) async fn ledger_totals(
    pool: &AnyPool,
    org_id: Option<&str>,
    from: i64,
    to: i64,
) -> Result<LedgerTotals, StoreError> {
    let org_clause = if org_id.is_some() {
        " AND l.org_id = $3"
    } else {
        ""
    };
    let settled = sum(
        pool,
        &format!(
            "SELECT CAST(COALESCE(SUM(l.d_spent), 0) AS BIGINT) FROM ledger_entries l \
                 JOIN usage_records u ON u.request_id = l.request_id \
                 WHERE l.kind = 'settle' AND u.created_at >= $1 AND u.created_at < $2{org_clause}"
        ),
        &[from, to],
        org_id,
    )
    .await?;
    let of_kind = |kind: &str| {
        format!(
            "SELECT CAST(COALESCE(SUM(l.d_spent), 0) AS BIGINT) FROM ledger_entries l \
             WHERE l.kind = '{kind}' AND l.created_at >= $1 AND l.created_at < $2{org_clause}"
        )
    };
    let orphaned = sum(pool, &of_kind("expire"), &[from, to], org_id).await?;
    let refunded = -sum(pool, &of_kind("refund"), &[from, to], org_id).await?;
    Ok(LedgerTotals {
        settled,
        orphaned,
        refunded,
    })
}
