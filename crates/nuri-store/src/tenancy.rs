//! Organisations, projects, keys and members.

use async_trait::async_trait;
use nuri_core::store::{Page, PageRequest, StoreError, TenancyStore};
use nuri_core::tenancy::{ApiKey, Limits, Member, Organisation, Project};
use sqlx::any::AnyRow;

use crate::connect::{db_err, SqlStore};
use crate::rows;

/// A row mapper that reads sqlx's row directly, as one the store's helpers take.
pub(crate) fn sqlx_map<T>(
    map: fn(&AnyRow) -> Result<T, sqlx::Error>,
) -> impl Fn(&AnyRow) -> Result<T, StoreError> {
    move |row| map(row).map_err(db_err)
}

/// Fetches `size + 1` rows to learn `has_more`, then trims.
pub(crate) fn page_of<T>(
    rows: Vec<AnyRow>,
    size: u32,
    map: impl Fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let size = size as usize;
    let has_more = rows.len() > size;
    let data = rows
        .iter()
        .take(size)
        .map(map)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { data, has_more })
}

impl SqlStore {
    /// The one row `sql` (with `$1` = `id`) finds, or `NotFound` naming `what`.
    pub(crate) async fn one<T>(
        &self,
        sql: &str,
        id: &str,
        what: &str,
        map: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => map(&r),
            None => Err(StoreError::NotFound(format!("{what} {id}"))),
        }
    }

    async fn list<T>(
        &self,
        table: &str,
        parent: Option<(&str, &str)>,
        page: &PageRequest,
        map: fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<Page<T>, StoreError> {
        let size = page.size();
        let after = page.after.clone().unwrap_or_default();
        let (sql, parent_value) = match parent {
            Some((col, value)) => (
                format!("SELECT * FROM {table} WHERE {col} = $1 AND id > $2 ORDER BY id LIMIT $3"),
                Some(value),
            ),
            None => (
                format!("SELECT * FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"),
                None,
            ),
        };
        let mut q = sqlx::query(&sql);
        if let Some(v) = parent_value {
            q = q.bind(v);
        }
        let rows = q
            .bind(after)
            .bind(i64::from(size) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        page_of(rows, size, sqlx_map(map))
    }

    async fn set_limits(&self, table: &str, id: &str, limits: &Limits) -> Result<(), StoreError> {
        let sql = format!("UPDATE {table} SET limits = $1 WHERE id = $2");
        let done = sqlx::query(&sql)
            .bind(rows::limits_json(limits))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(id.to_owned()));
        }
        Ok(())
    }
}

#[async_trait]
impl TenancyStore for SqlStore {
    async fn create_org(&self, org: &Organisation) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO orgs (id, name, limits, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(rows::limits_json(&org.limits))
            .bind(org.created_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn get_org(&self, id: &str) -> Result<Organisation, StoreError> {
        self.one(
            "SELECT * FROM orgs WHERE id = $1",
            id,
            "organisation",
            sqlx_map(rows::org),
        )
        .await
    }

    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Organisation>, StoreError> {
        self.list("orgs", None, page, rows::org).await
    }

    async fn set_org_limits(&self, id: &str, limits: &Limits) -> Result<Organisation, StoreError> {
        self.set_limits("orgs", id, limits).await?;
        self.get_org(id).await
    }

    async fn create_project(&self, p: &Project) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO projects (id, org_id, name, limits, policy, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&p.id)
            .bind(&p.org_id)
            .bind(&p.name)
            .bind(rows::limits_json(&p.limits))
            .bind(serde_json::to_string(&p.policy).unwrap_or_else(|_| "{}".into()))
            .bind(p.created_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn get_project(&self, id: &str) -> Result<Project, StoreError> {
        self.one(
            "SELECT * FROM projects WHERE id = $1",
            id,
            "project",
            sqlx_map(rows::project),
        )
        .await
    }

    async fn list_projects(
        &self,
        org_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Project>, StoreError> {
        self.list("projects", Some(("org_id", org_id)), page, rows::project)
            .await
    }

    async fn set_project_limits(&self, id: &str, limits: &Limits) -> Result<Project, StoreError> {
        self.set_limits("projects", id, limits).await?;
        self.get_project(id).await
    }

    async fn set_project_policy(
        &self,
        id: &str,
        policy: &nuri_core::policy::ProjectPolicy,
    ) -> Result<Project, StoreError> {
        let done = sqlx::query("UPDATE projects SET policy = $1 WHERE id = $2")
            .bind(serde_json::to_string(policy).unwrap_or_else(|_| "{}".into()))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project {id}")));
        }
        self.get_project(id).await
    }

    async fn create_key(&self, k: &ApiKey, secret_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, project_id, org_id, name, prefix, secret_hash, limits, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&k.id)
        .bind(&k.project_id)
        .bind(&k.org_id)
        .bind(k.name.as_deref())
        .bind(&k.prefix)
        .bind(secret_hash)
        .bind(rows::limits_json(&k.limits))
        .bind(k.created_at)
        .bind(k.expires_at)
        .bind(k.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_key(&self, id: &str) -> Result<ApiKey, StoreError> {
        self.one(
            "SELECT * FROM api_keys WHERE id = $1",
            id,
            "key",
            sqlx_map(rows::key),
        )
        .await
    }

    async fn find_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(rows::key).transpose().map_err(db_err)
    }

    async fn list_keys(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        self.list(
            "api_keys",
            Some(("project_id", project_id)),
            page,
            rows::key,
        )
        .await
    }

    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(at_ms)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("key {id}")));
        }
        Ok(())
    }

    async fn set_key_limits(&self, id: &str, limits: &Limits) -> Result<ApiKey, StoreError> {
        self.set_limits("api_keys", id, limits).await?;
        self.get_key(id).await
    }

    async fn create_member(&self, m: &Member, token_hash: &str) -> Result<(), StoreError> {
        let role = serde_json::to_value(m.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        sqlx::query("INSERT INTO members (id, name, role, scope, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&m.id)
            .bind(&m.name)
            .bind(role)
            .bind(m.scope.as_deref())
            .bind(token_hash)
            .bind(m.created_at)
            .bind(m.revoked_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn find_member_by_hash(&self, token_hash: &str) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query("SELECT * FROM members WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(rows::member).transpose().map_err(db_err)
    }

    async fn list_members(&self, page: &PageRequest) -> Result<Page<Member>, StoreError> {
        self.list("members", None, page, rows::member).await
    }
}
