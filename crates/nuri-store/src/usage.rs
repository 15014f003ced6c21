//! Usage records: batched inserts (one transaction per batch) and filtered queries.

use async_trait::async_trait;
use nuri_core::store::{Page, StoreError, UsageStore};
use nuri_core::usage::{UsageFilter, UsageRecord};

use crate::connect::{db_err, InsertSql, SqlStore};
use crate::exec::{work, Exec, Value};
use crate::rows;
use crate::tenancy::{page_of, sqlx_map};
use crate::writer::Lane;

/// The columns of `usage_records`, in the order [`insert`] binds them.
macro_rules! columns {
    () => {
        "request_id, client_request_id, org_id, project_id, key_id, endpoint, model, provider, \
         upstream_model, prompt_tokens, completion_tokens, usage_estimated, cost, input_price, \
         output_price, grant_id, latency_ms, ttft_ms, status, error_code, stream, created_at"
    };
}

/// Inserting usage records; a request id already recorded is skipped.
static INSERT: InsertSql = InsertSql::new(
    concat!("INSERT INTO usage_records (", columns!(), ")"),
    22,
    "ON CONFLICT (request_id) DO NOTHING",
);

/// Records per multi-row `INSERT` (22 values each).
const USAGE_ROWS_PER_INSERT: usize = 64;

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Inserts records, with multi-row `INSERT`s where the store prefers them
/// ([`Exec::rows_per_statement`]); a request id already recorded is skipped.
async fn insert(db: &mut dyn Exec, records: &[UsageRecord]) -> Result<(), StoreError> {
    for chunk in records.chunks(db.rows_per_statement(USAGE_ROWS_PER_INSERT)) {
        let sql = INSERT.sql(chunk.len());
        let mut args = Vec::with_capacity(chunk.len() * 22);
        for r in chunk {
            args.extend([
                Value::from(&r.request_id),
                r.client_request_id.as_deref().into(),
                (&r.org_id).into(),
                (&r.project_id).into(),
                (&r.key_id).into(),
                (&r.endpoint).into(),
                (&r.model).into(),
                r.provider.as_deref().into(),
                r.upstream_model.as_deref().into(),
                clamp_i64(r.prompt_tokens).into(),
                clamp_i64(r.completion_tokens).into(),
                i64::from(r.usage_estimated).into(),
                r.cost.into(),
                r.input_price.into(),
                r.output_price.into(),
                r.grant_id.as_deref().into(),
                r.latency_ms.into(),
                r.ttft_ms.into(),
                i64::from(r.status).into(),
                r.error_code.as_deref().into(),
                i64::from(r.stream).into(),
                r.created_at.into(),
            ]);
        }
        db.execute(&sql, &args).await?;
    }
    Ok(())
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let records = records.to_vec();
        self.hot(
            Lane::Background,
            work(move |db| Box::pin(async move { insert(db, &records).await })),
        )
        .await
    }

    async fn query_usage(&self, f: &UsageFilter) -> Result<Page<UsageRecord>, StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut text_binds: Vec<(usize, String)> = Vec::new();
        let mut int_binds: Vec<(usize, i64)> = Vec::new();
        let mut n = 0usize;
        let mut text = |col: &str, v: &Option<String>, clauses: &mut Vec<String>| {
            if let Some(v) = v {
                n += 1;
                clauses.push(format!("{col} = ${n}"));
                text_binds.push((n, v.clone()));
            }
        };
        text("org_id", &f.org, &mut clauses);
        text("project_id", &f.project, &mut clauses);
        text("key_id", &f.key, &mut clauses);
        text("model", &f.model, &mut clauses);
        text("provider", &f.provider, &mut clauses);
        text("request_id", &f.request_id, &mut clauses);
        if let Some(after) = &f.after {
            n += 1;
            clauses.push(format!(
                "(created_at < (SELECT created_at FROM usage_records WHERE request_id = ${n}) OR \
                 (created_at = (SELECT created_at FROM usage_records WHERE request_id = ${n}) AND request_id < ${n}))"
            ));
            text_binds.push((n, after.clone()));
        }
        if let Some(from) = f.from {
            n += 1;
            clauses.push(format!("created_at >= ${n}"));
            int_binds.push((n, from));
        }
        if let Some(to) = f.to {
            n += 1;
            clauses.push(format!("created_at < ${n}"));
            int_binds.push((n, to));
        }
        let size = f.limit.unwrap_or(100).clamp(1, 1000);
        n += 1;
        int_binds.push((n, i64::from(size) + 1));
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            concat!(
                "SELECT ",
                columns!(),
                " FROM usage_records {} ORDER BY created_at DESC, request_id DESC LIMIT ${}"
            ),
            filter, n
        );
        let mut q = sqlx::query(&sql);
        let mut binds: Vec<(usize, Result<String, i64>)> = text_binds
            .into_iter()
            .map(|(i, v)| (i, Ok(v)))
            .chain(int_binds.into_iter().map(|(i, v)| (i, Err(v))))
            .collect();
        binds.sort_by_key(|(i, _)| *i);
        for (_, v) in binds {
            q = match v {
                Ok(s) => q.bind(s),
                Err(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        page_of(rows, size, sqlx_map(rows::usage))
    }
}
