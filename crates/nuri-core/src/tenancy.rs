//! Tenancy: organisations own projects, projects own API keys; members hold admin roles.

use serde::{Deserialize, Serialize};

/// Rate limits on a key, project, organisation or model; absent = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Concurrent requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u64>,
    /// Spending cap per calendar day in the billing time zone, milli-won (keys and projects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_per_day: Option<u64>,
    /// Spending cap per calendar month in the billing time zone, milli-won (keys and projects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_per_month: Option<u64>,
}

impl Limits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        self.requests_per_minute.is_none()
            && self.tokens_per_minute.is_none()
            && self.max_concurrent.is_none()
            && self.spend_per_day.is_none()
            && self.spend_per_month.is_none()
    }
}

/// An organisation (tenant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    /// `org_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Rate limits.
    pub limits: Limits,
    /// Unix ms.
    pub created_at: i64,
}

/// A project of an organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// `proj_…`.
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// Display name.
    pub name: String,
    /// Rate limits.
    pub limits: Limits,
    /// Policy (sandbox rules).
    #[serde(default)]
    pub policy: crate::policy::ProjectPolicy,
    /// Unix ms.
    pub created_at: i64,
}

/// An API key's stored record (never the key itself; only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_…`.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// The project's organisation.
    pub org_id: String,
    /// Optional label.
    pub name: Option<String>,
    /// Visible start of the key, to tell keys apart.
    pub prefix: String,
    /// Rate limits.
    pub limits: Limits,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms after which the key stops working.
    pub expires_at: Option<i64>,
    /// Unix ms when revoked.
    pub revoked_at: Option<i64>,
}

impl ApiKey {
    /// Whether the key may be used at `now_ms`.
    pub fn is_usable(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now_ms < e)
    }
}

/// Admin roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Operator,
    /// A programme.
    Sponsor,
    /// An organisation's administrator.
    OrgAdmin,
    /// An organisation's developer.
    Developer,
    /// Read-only.
    Auditor,
    /// The data dam.
    Steward,
}

impl Role {
    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// A member holding an admin token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// `mem_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Scope id (a programme or organisation), if the role is scoped.
    pub scope: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms when revoked.
    pub revoked_at: Option<i64>,
}
