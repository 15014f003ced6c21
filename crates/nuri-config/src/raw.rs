//! The TOML file as written: every table refuses unknown keys.

use nuri_types::Price;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`.
    #[serde(default)]
    pub server: RawServer,
    /// `[storage]`.
    #[serde(default)]
    pub storage: RawStorage,
    /// `[billing]`.
    #[serde(default)]
    pub billing: RawBilling,
    /// `[[providers]]`.
    #[serde(default)]
    pub providers: Vec<RawProvider>,
    /// `[[models]]`.
    #[serde(default)]
    pub models: Vec<RawModel>,
    /// `[routing]`.
    #[serde(default)]
    pub routing: RawRouting,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Listen address.
    pub listen: Option<String>,
    /// Request body limit in bytes.
    pub max_body_bytes: Option<u64>,
}

/// `[storage]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// State directory.
    pub data_dir: Option<String>,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: Option<String>,
    /// Redis URL for shared rate limits.
    pub redis_url: Option<String>,
    /// Built-in model files.
    pub models_dir: Option<String>,
    /// SQLite `synchronous=FULL` (survives power cuts) instead of NORMAL.
    pub sqlite_synchronous_full: Option<bool>,
    /// Prefix of every Redis key Nuri writes.
    pub redis_key_prefix: Option<String>,
    /// Admit requests when Redis is unreachable (logged; default: refuse with 503).
    pub redis_fail_open: Option<bool>,
}

/// `[billing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBilling {
    /// IANA time zone of statement periods.
    pub timezone: Option<String>,
    /// Whether priced models need a grant (default true); false = metered, not charged.
    pub credits: Option<bool>,
}

/// `[[providers]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Name referenced by routes.
    pub name: String,
    /// Provider kind.
    pub kind: String,
    /// Base URL as the provider's own SDK names it.
    pub base_url: Option<String>,
    /// Environment variable holding the credential.
    pub api_key_env: Option<String>,
    /// CLOVA API version.
    pub api_version: Option<String>,
    /// Ask the upstream for stream usage (`stream_options.include_usage`).
    pub stream_usage: Option<bool>,
    /// Timeouts.
    pub timeouts: Option<RawTimeouts>,
    /// Local: serve the built-in models.
    pub builtin: Option<bool>,
    /// Local: a GGUF chat model file.
    pub model_path: Option<String>,
    /// Local: an embedding model directory.
    pub embed_model_path: Option<String>,
    /// Local: engine threads.
    pub threads: Option<usize>,
    /// Local: bounded queue length.
    pub queue_capacity: Option<usize>,
    /// Local: most sequences decoded together.
    pub max_batch: Option<usize>,
}

/// Provider timeouts in milliseconds.
#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// TCP/TLS connect.
    pub connect_ms: Option<u64>,
    /// Until the response head arrives.
    pub first_byte_ms: Option<u64>,
    /// Longest gap between stream chunks.
    pub idle_ms: Option<u64>,
    /// Whole request.
    pub total_ms: Option<u64>,
}

/// `[[models]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Public name.
    pub name: String,
    /// `chat` (default) or `embeddings`.
    pub kind: Option<String>,
    /// Routes to providers.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Other public models to try when every route fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// `weighted` or `latency`.
    pub balancing: Option<String>,
    /// Price per million tokens in won.
    pub price: Option<Price>,
    /// Output bound for reservations.
    pub max_output_tokens: Option<u32>,
    /// Context window in tokens.
    pub context_window: Option<u32>,
    /// Per-model rate limits.
    pub limits: Option<RawLimits>,
}

/// One route of a model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Provider name.
    pub provider: String,
    /// Upstream model name.
    pub model: String,
    /// Relative share within its priority.
    pub weight: Option<u32>,
    /// Lower is tried first.
    pub priority: Option<u32>,
}

/// Rate limits.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Requests per minute.
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u64>,
    /// Concurrent requests.
    pub max_concurrent: Option<u64>,
}

/// `[routing]`: retry and circuit-breaker settings shared by every route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// `retry = { … }`.
    pub retry: Option<RawRetry>,
    /// `breaker = { … }`.
    pub breaker: Option<RawBreaker>,
    /// Active health checks every this many milliseconds (absent or 0: off).
    pub health_check_interval_ms: Option<u64>,
}

/// Retry budget and backoff, in milliseconds.
#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Re-sends to an already-tried route per model of a request.
    pub max_retries: Option<u32>,
    /// First backoff ceiling.
    pub base_ms: Option<u64>,
    /// Longest single wait (and longest `retry-after` honoured).
    pub max_delay_ms: Option<u64>,
    /// Most waiting per model of a request.
    pub max_total_delay_ms: Option<u64>,
}

/// Circuit breaker of each route.
#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    /// Open after this many failures in a row (0: rule off).
    pub consecutive_failures: Option<u32>,
    /// Open when failures / outcomes over the window reach this ratio.
    pub error_ratio: Option<f64>,
    /// Rolling window of the ratio rule.
    pub window_ms: Option<u64>,
    /// Outcomes the window needs before the ratio rule applies.
    pub min_requests: Option<u32>,
    /// How long an open breaker refuses before probing.
    pub cool_down_ms: Option<u64>,
    /// Probes in flight at once while half-open.
    pub half_open_probes: Option<u32>,
}
