//! Authentication: API keys for `/v1`, admin tokens for `/admin/v1`.
//!
//! Secrets are random (≈256 bits) so a single SHA-256 is the right hash: nothing to brute-force.
//! Only the hash is stored. Lookups go through a cache whose entries live at most
//! [`CACHE_TTL`], so a revoked key stops working within a second on every replica.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::GatewayError;
use crate::store::Store;
use crate::tenancy::{ApiKey, Limits, Member, Role};

/// Visible prefix of API keys.
pub const API_KEY_PREFIX: &str = "nk-";
/// Visible prefix of admin tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "nat-";
/// How long a key lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_millis(900);
/// Characters of a key shown as its prefix.
const SHOWN_PREFIX_LEN: usize = 11;

/// The hash stored for a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh API key: `(key, visible prefix)`.
pub fn new_api_key() -> (String, String) {
    let key = nuri_types::ids::new_secret(API_KEY_PREFIX);
    let prefix = key.chars().take(SHOWN_PREFIX_LEN).collect();
    (key, prefix)
}

/// A fresh admin token.
pub fn new_admin_token() -> String {
    nuri_types::ids::new_secret(ADMIN_TOKEN_PREFIX)
}

/// Who a `/v1` request is, with the limits of its key, project and organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthContext {
    /// The key.
    pub key: ApiKey,
    /// The key's project's rate limits.
    pub project_limits: Limits,
    /// The key's organisation's rate limits.
    pub org_limits: Limits,
    /// The key's project's policy.
    pub policy: crate::policy::ProjectPolicy,
}

/// Who an `/admin/v1` request is.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminIdentity {
    /// The `NURI_ADMIN_TOKEN` bearer.
    OperatorToken,
    /// A stored member.
    Member(Member),
}

impl AdminIdentity {
    /// The role.
    pub fn role(&self) -> Role {
        match self {
            Self::OperatorToken => Role::Operator,
            Self::Member(m) => m.role,
        }
    }

    /// An id for the audit log.
    pub fn actor(&self) -> String {
        match self {
            Self::OperatorToken => "operator-token".to_owned(),
            Self::Member(m) => m.id.clone(),
        }
    }
}

#[derive(Clone)]
struct Cached<T> {
    value: Option<T>,
    at: Instant,
}

/// Resolves bearer secrets to identities through a short-lived cache.
pub struct Authenticator {
    store: Arc<dyn Store>,
    operator_token: Option<String>,
    keys: RwLock<HashMap<String, Cached<AuthContext>>>,
    members: RwLock<HashMap<String, Cached<Member>>>,
}

/// Cache entries kept before the cache is cleared wholesale (bounds memory under key floods).
const CACHE_MAX: usize = 100_000;

impl Authenticator {
    /// An authenticator over `store`; `operator_token` is `NURI_ADMIN_TOKEN`.
    pub fn new(store: Arc<dyn Store>, operator_token: Option<String>) -> Self {
        Self {
            store,
            operator_token,
            keys: RwLock::new(HashMap::new()),
            members: RwLock::new(HashMap::new()),
        }
    }

    /// Resolves an API key from the `Authorization` header value.
    pub async fn api_key(&self, header: Option<&str>) -> Result<AuthContext, GatewayError> {
        let secret = bearer(header).ok_or_else(|| {
            GatewayError::InvalidApiKey(
                "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.".into(),
            )
        })?;
        let invalid = || {
            GatewayError::InvalidApiKey(format!(
                "Incorrect API key provided: {}***. Keys are issued by your Nuri operator.",
                secret.chars().take(SHOWN_PREFIX_LEN).collect::<String>()
            ))
        };
        if !secret.starts_with(API_KEY_PREFIX) {
            return Err(invalid());
        }
        let hash = hash_secret(secret);
        let context = match cached(&self.keys, &hash) {
            Some(hit) => hit,
            None => {
                let found = match self.store.find_key_by_hash(&hash).await? {
                    Some(key) => {
                        let project = self.store.get_project(&key.project_id).await?;
                        let org = self.store.get_org(&key.org_id).await?;
                        Some(AuthContext {
                            key,
                            project_limits: project.limits,
                            org_limits: org.limits,
                            policy: project.policy,
                        })
                    }
                    None => None,
                };
                insert(&self.keys, hash, found.clone());
                found
            }
        };
        match context {
            Some(ctx) if ctx.key.is_usable(crate::time::now_ms()) => Ok(ctx),
            _ => Err(invalid()),
        }
    }

    /// Resolves an admin token from the `Authorization` header value.
    pub async fn admin(&self, header: Option<&str>) -> Result<AdminIdentity, GatewayError> {
        let secret = bearer(header).ok_or_else(|| {
            GatewayError::InvalidApiKey(
                "Send an admin token as `Authorization: Bearer <token>`.".into(),
            )
        })?;
        if let Some(op) = &self.operator_token {
            if constant_time_eq(op.as_bytes(), secret.as_bytes()) {
                return Ok(AdminIdentity::OperatorToken);
            }
        }
        let invalid = || GatewayError::InvalidApiKey("Invalid admin token.".into());
        if !secret.starts_with(ADMIN_TOKEN_PREFIX) {
            return Err(invalid());
        }
        let hash = hash_secret(secret);
        let member = match cached(&self.members, &hash) {
            Some(hit) => hit,
            None => {
                let found = self.store.find_member_by_hash(&hash).await?;
                insert(&self.members, hash, found.clone());
                found
            }
        };
        match member {
            Some(m) if m.revoked_at.is_none() => Ok(AdminIdentity::Member(m)),
            _ => Err(invalid()),
        }
    }

    /// Forgets cached lookups (after a revocation on this replica).
    pub fn invalidate(&self) {
        if let Ok(mut k) = self.keys.write() {
            k.clear();
        }
        if let Ok(mut m) = self.members.write() {
            m.clear();
        }
    }
}

fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

fn cached<T: Clone>(map: &RwLock<HashMap<String, Cached<T>>>, hash: &str) -> Option<Option<T>> {
    let guard = map.read().ok()?;
    let hit = guard.get(hash)?;
    (hit.at.elapsed() < CACHE_TTL).then(|| hit.value.clone())
}

fn insert<T>(map: &RwLock<HashMap<String, Cached<T>>>, hash: String, value: Option<T>) {
    if let Ok(mut guard) = map.write() {
        if guard.len() >= CACHE_MAX {
            guard.clear();
        }
        guard.insert(
            hash,
            Cached {
                value,
                at: Instant::now(),
            },
        );
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn keys_are_long_and_prefixed() {
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("nk-") && key.len() >= 40);
        assert!(key.starts_with(&prefix) && prefix.len() == 11);
        assert_eq!(hash_secret(&key).len(), 64);
    }
}
