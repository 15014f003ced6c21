//! Composition: validated config → store → provider adapters → catalog → gateway → router.
//! The only place that knows the concrete implementations.

use std::collections::HashMap;
use std::sync::Arc;

use nuri_config::{Config, ProviderKind};
use nuri_core::catalog::Catalog;
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
            tracing::warn!(provider = %p.name, "local models are not available in this build; its routes are skipped");
            continue;
        }
        let adapter = nuri_providers::build(p).map_err(|e| e.to_string())?;
        out.insert(p.name.clone(), adapter);
    }
    Ok(out)
}

/// The whole application state.
pub async fn app_state(config: &Config, tracker: &TaskTracker) -> Result<(AppState, SqlStore), String> {
    let store = store(config).await?;
    let providers = providers(config)?;
    let catalog = Catalog::new(config, &providers);
    let gateway = Gateway::new(
        catalog,
        Arc::new(store.clone()),
        config.admin_token.as_ref().map(|t| t.expose().to_owned()),
        Stages::default(),
        tracker.clone(),
    );
    let state = AppState {
        gateway: Arc::new(gateway),
        metrics: Arc::new(Metrics::default()),
        max_body_bytes: config.server.max_body_bytes,
    };
    Ok((state, store))
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
