//! Environment variable names and a swappable source for them (tests pass a map).

use std::collections::HashMap;

/// `server.listen`.
pub const LISTEN: &str = "NURI_LISTEN";
/// `server.max_body_bytes`.
pub const MAX_BODY_BYTES: &str = "NURI_MAX_BODY_BYTES";
/// `storage.data_dir`.
pub const DATA_DIR: &str = "NURI_DATA_DIR";
/// `storage.database_url`.
pub const DATABASE_URL: &str = "NURI_DATABASE_URL";
/// `storage.redis_url`.
pub const REDIS_URL: &str = "NURI_REDIS_URL";
/// `storage.redis_key_prefix`.
pub const REDIS_PREFIX: &str = "NURI_REDIS_PREFIX";
/// `storage.models_dir`.
pub const MODELS_DIR: &str = "NURI_MODELS_DIR";
/// `billing.timezone`.
pub const BILLING_TZ: &str = "NURI_BILLING_TZ";
/// Operator bearer token (never stored).
pub const ADMIN_TOKEN: &str = "NURI_ADMIN_TOKEN";

/// Where environment values come from.
pub trait EnvSource {
    /// The value of `name`, if set and non-empty.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned().filter(|v| !v.is_empty())
    }
}
