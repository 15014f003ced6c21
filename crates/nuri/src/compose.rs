//! Composition: validated config → store → provider adapters → catalog → gateway → router.
//! The only place that knows the concrete implementations.

use std::collections::HashMap;
use std::sync::Arc;

use nuri_config::{Config, ProviderKind};
use nuri_core::catalog::Catalog;
use nuri_core::credits::{CreditEngine, CreditSettings};
use nuri_core::gateway::Gateway;
use nuri_core::provider::Provider;
use nuri_core::stages::Stages;
use nuri_core::tasks::TaskTracker;
use nuri_http::{AppState, Metrics};
use nuri_store::{SqlStore, StoreOptions};

/// Opens the configured database and applies migrations.
pub async fn store(config: &Config) -> Result<SqlStore, String> {
    let mut options = StoreOptions::new(config.storage.database_url.clone());
    options.sqlite_synchronous_full = config.storage.sqlite_synchronous_full;
    SqlStore::connect(&options)
        .await
        .map_err(|e| format!("database {}: {e}", redact_url(&config.storage.database_url)))
}

/// Builds every provider adapter the config declares.
pub fn providers(config: &Config) -> Result<HashMap<String, Arc<dyn Provider>>, String> {
    let mut out = HashMap::new();
    for p in &config.providers {
        if p.kind == ProviderKind::Local {
            tracing::info!(provider = %p.name, "loading local models");
        }
        let adapter =
            nuri_providers::build(p, &config.storage.models_dir).map_err(|e| e.to_string())?;
        out.insert(p.name.clone(), adapter);
    }
    Ok(out)
}

/// The limits stage: Redis-backed when `storage.redis_url` is set, else in-process.
pub fn limits(config: &Config) -> Result<Arc<dyn nuri_core::stages::LimitStage>, String> {
    use nuri_limits::{
        FailureMode, InProcessLimiter, LimitsStage, RateLimiter, RedisLimiter, RedisLimiterConfig,
    };
    let limiter: Arc<dyn RateLimiter> = match &config.storage.redis_url {
        Some(url) => {
            let failure_mode = if config.storage.redis_fail_open {
                tracing::warn!("rate limits fail OPEN when Redis is unreachable (storage.redis_fail_open = true)");
                FailureMode::FailOpen
            } else {
                FailureMode::FailClosed
            };
            let cfg = RedisLimiterConfig {
                key_prefix: config.storage.redis_key_prefix.clone(),
                failure_mode,
                ..RedisLimiterConfig::default()
            };
            Arc::new(RedisLimiter::open(url, cfg).map_err(|e| format!("storage.redis_url: {e}"))?)
        }
        None => Arc::new(InProcessLimiter::new()),
    };
    Ok(Arc::new(LimitsStage::new(limiter)))
}

/// The whole application state.
pub async fn app_state(
    config: &Config,
    tracker: &TaskTracker,
) -> Result<(AppState, SqlStore), String> {
    let store = store(config).await?;
    let providers = providers(config)?;
    let catalog = Catalog::new(config, &providers);
    let shared: Arc<SqlStore> = Arc::new(store.clone());
    let credits: Arc<dyn nuri_core::stages::CreditStage> = if config.credits_enforced {
        Arc::new(CreditEngine::start(
            shared,
            CreditSettings {
                timezone: config.billing_timezone.clone(),
                ..CreditSettings::default()
            },
            tracker,
        ))
    } else {
        Arc::new(nuri_core::stages::NoCharge)
    };
    let gateway = Gateway::new(
        catalog,
        Arc::new(store.clone()),
        config.admin_token.as_ref().map(|t| t.expose().to_owned()),
        Stages {
            limits: limits(config)?,
            policy: Arc::new(nuri_core::policy::ProjectPolicyStage::new(Arc::new(
                PiiEngine::default(),
            ))),
            credits,
        },
        tracker.clone(),
    );
    let state = AppState {
        gateway: Arc::new(gateway),
        metrics: Arc::new(Metrics::default()),
        max_body_bytes: config.server.max_body_bytes,
        billing_timezone: config.billing_timezone.as_str().into(),
    };
    Ok((state, store))
}

/// The PII engine behind the policy stage's `pii` rule.
#[derive(Default)]
pub struct PiiEngine {
    scanner: nuri_pii::Scanner,
}

impl nuri_core::policy::PiiDetector for PiiEngine {
    fn labels(&self, text: &str) -> Vec<String> {
        self.scanner
            .scan(text)
            .iter()
            .filter(|s| s.label.is_personal())
            .map(|s| s.label.as_str().to_owned())
            .collect()
    }

    fn redact(&self, text: &str) -> String {
        let spans: Vec<_> = self
            .scanner
            .scan(text)
            .into_iter()
            .filter(|s| s.label.is_personal())
            .collect();
        nuri_pii::redact(text, &spans, nuri_pii::RedactMode::Label)
    }
}

/// A database URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
