//! Storage ports. One set of traits; SQLite and PostgreSQL implement them (crate `nuri-store`)
//! and pass the same conformance tests.

use async_trait::async_trait;
use serde::Serialize;

use crate::tenancy::{ApiKey, Limits, Member, Organisation, Project};
use crate::usage::{UsageFilter, UsageRecord};

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// No such row.
    #[error("{0} not found")]
    NotFound(String),
    /// A uniqueness or state conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is unreachable or refused the call.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// A page of a list: OpenAI's `{"data": [...], "has_more": bool}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page<T> {
    /// Items.
    pub data: Vec<T>,
    /// Whether more items follow the last one.
    pub has_more: bool,
}

/// Paging parameters (`?limit=&after=`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageRequest {
    /// Page size (default 100, max 1000).
    pub limit: Option<u32>,
    /// The id of the last item of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// The effective page size.
    pub fn size(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}

/// An append-only audit entry for an admin action or a policy refusal.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// Who acted (member id or `operator-token`).
    pub actor: String,
    /// What was done, e.g. `org.create`.
    pub action: String,
    /// The resource id acted on.
    pub target: Option<String>,
    /// Details (never secrets).
    pub detail: serde_json::Value,
    /// Unix ms.
    pub created_at: i64,
}

/// Organisations, projects, keys and members.
#[async_trait]
pub trait TenancyStore: Send + Sync {
    /// Inserts an organisation.
    async fn create_org(&self, org: &Organisation) -> Result<(), StoreError>;
    /// Reads an organisation.
    async fn get_org(&self, id: &str) -> Result<Organisation, StoreError>;
    /// Lists organisations by id.
    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Organisation>, StoreError>;
    /// Replaces an organisation's limits.
    async fn set_org_limits(&self, id: &str, limits: &Limits) -> Result<Organisation, StoreError>;
    /// Inserts a project.
    async fn create_project(&self, project: &Project) -> Result<(), StoreError>;
    /// Reads a project.
    async fn get_project(&self, id: &str) -> Result<Project, StoreError>;
    /// Lists an organisation's projects.
    async fn list_projects(
        &self,
        org_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Project>, StoreError>;
    /// Replaces a project's limits.
    async fn set_project_limits(&self, id: &str, limits: &Limits) -> Result<Project, StoreError>;
    /// Replaces a project's whole policy.
    async fn set_project_policy(
        &self,
        id: &str,
        policy: &crate::policy::ProjectPolicy,
    ) -> Result<Project, StoreError>;
    /// Inserts a key with the hash of its secret.
    async fn create_key(&self, key: &ApiKey, secret_hash: &str) -> Result<(), StoreError>;
    /// Reads a key by id.
    async fn get_key(&self, id: &str) -> Result<ApiKey, StoreError>;
    /// Finds a key by the hash of its secret.
    async fn find_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Lists a project's keys.
    async fn list_keys(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;
    /// Marks a key revoked at `at_ms` (idempotent).
    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<(), StoreError>;
    /// Replaces a key's limits.
    async fn set_key_limits(&self, id: &str, limits: &Limits) -> Result<ApiKey, StoreError>;
    /// Inserts a member with the hash of its token.
    async fn create_member(&self, member: &Member, token_hash: &str) -> Result<(), StoreError>;
    /// Finds a member by the hash of its token.
    async fn find_member_by_hash(&self, token_hash: &str) -> Result<Option<Member>, StoreError>;
    /// Lists members.
    async fn list_members(&self, page: &PageRequest) -> Result<Page<Member>, StoreError>;
}

/// Usage records.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Inserts records in one transaction; records whose request id exists are skipped.
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError>;
    /// Queries records, newest first.
    async fn query_usage(&self, filter: &UsageFilter) -> Result<Page<UsageRecord>, StoreError>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
}

/// Everything Nuri stores.
#[async_trait]
pub trait Store: TenancyStore + UsageStore + AuditStore + crate::credits::CreditStore {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
