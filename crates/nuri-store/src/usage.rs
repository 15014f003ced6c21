//! Usage records: batched inserts (one transaction per batch) and filtered queries.

use async_trait::async_trait;
use nuri_core::store::{Page, StoreError, UsageStore};
use nuri_core::usage::{UsageFilter, UsageRecord};

use crate::connect::{db_err, placeholders, Backend, SqlStore};
use crate::rows;
use crate::tenancy::page_of;

const COLUMNS: &str = "request_id, client_request_id, org_id, project_id, key_id, endpoint, model, provider, \
    upstream_model, prompt_tokens, completion_tokens, usage_estimated, cost, input_price, output_price, \
    grant_id, latency_ms, ttft_ms, status, error_code, stream, created_at";

/// Records per multi-row `INSERT` (22 values each).
const USAGE_ROWS_PER_INSERT: usize = 64;

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let conflict = match self.backend {
            Backend::Sqlite | Backend::Postgres => "ON CONFLICT (request_id) DO NOTHING",
        };
        let mut tx = self.hot.begin().await.map_err(db_err)?;
        // Multi-row inserts: one statement per chunk instead of one per record.
        for chunk in records.chunks(USAGE_ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO usage_records ({COLUMNS}) VALUES {} {conflict}",
                placeholders(chunk.len(), 22)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(&r.request_id)
                    .bind(r.client_request_id.as_deref())
                    .bind(&r.org_id)
                    .bind(&r.project_id)
                    .bind(&r.key_id)
                    .bind(&r.endpoint)
                    .bind(&r.model)
                    .bind(r.provider.as_deref())
                    .bind(r.upstream_model.as_deref())
                    .bind(clamp_i64(r.prompt_tokens))
                    .bind(clamp_i64(r.completion_tokens))
                    .bind(i64::from(r.usage_estimated))
                    .bind(r.cost)
                    .bind(r.input_price)
                    .bind(r.output_price)
                    .bind(r.grant_id.as_deref())
                    .bind(r.latency_ms)
                    .bind(r.ttft_ms)
                    .bind(i64::from(r.status))
                    .bind(r.error_code.as_deref())
                    .bind(i64::from(r.stream))
                    .bind(r.created_at);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
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
        let sql = format!("SELECT {COLUMNS} FROM usage_records {filter} ORDER BY created_at DESC, request_id DESC LIMIT ${n}");
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
        page_of(rows, size, rows::usage)
    }
}
