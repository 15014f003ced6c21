//! `nuri migrate`.

use std::path::Path;
use std::process::ExitCode;

use nuri_config::Config;

/// Applies migrations to the configured database.
pub async fn run(config: Option<&Path>) -> Result<ExitCode, String> {
    let config = Config::load(config).map_err(|e| e.to_string())?;
    let store = crate::compose::store(&config).await?;
    store.close().await;
    println!(
        "migrations applied to {}",
        crate::compose::redact_url(&config.storage.database_url)
    );
    Ok(ExitCode::SUCCESS)
}
