//! `nuri serve`: listen, serve, reload on SIGHUP, drain on SIGTERM/SIGINT, then wait for every
//! usage write before exiting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use axum::serve::ListenerExt;
use nuri_config::Config;
use nuri_core::catalog::Catalog;
use nuri_core::tasks::TaskTracker;

/// Runs the gateway until a shutdown signal.
pub async fn run(config_path: Option<&Path>) -> Result<ExitCode, String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let tracker = TaskTracker::new();
    let (state, store) = crate::compose::app_state(&config, &tracker).await?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, config = %config.source, database = store_backend(&config), models = config.models.len(), "nuri is listening");
    println!("nuri listening on http://{local}");
    spawn_reload(
        config_path.map(Path::to_path_buf),
        std::sync::Arc::downgrade(&state.gateway),
    );
    spawn_health_checks(std::sync::Arc::downgrade(&state.gateway));
    let app = nuri_http::app(state.clone());
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("draining: waiting for usage records to be written");
    drop(state);
    tracker.close();
    tracker.wait().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn store_backend(config: &Config) -> &'static str {
    if config.storage.database_url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; no new connections, finishing in-flight requests");
}

/// On SIGHUP, re-reads the config and swaps the catalog; requests in flight keep the old one.
/// Holds the gateway weakly, so it never keeps the usage and credit writers from draining.
fn spawn_reload(path: Option<PathBuf>, gateway: std::sync::Weak<nuri_core::gateway::Gateway>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match Config::load(path.as_deref())
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    let providers = crate::compose::providers(&c)?;
                    Ok(Catalog::new(&c, &providers))
                }) {
                Ok(catalog) => {
                    let Some(gateway) = gateway.upgrade() else {
                        return; // shutting down
                    };
                    gateway.swap_catalog(catalog);
                    tracing::info!("configuration reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload refused; keeping the current configuration")
                }
            }
        }
    });
}

/// Runs active health checks at `[routing] health_check_interval_ms` (re-read every round, so a
/// reload can turn them on or off). Holds the gateway weakly, so it never delays shutdown.
fn spawn_health_checks(gateway: std::sync::Weak<nuri_core::gateway::Gateway>) {
    tokio::spawn(async move {
        loop {
            let interval = match gateway.upgrade() {
                None => return,
                Some(g) => g.health_check_interval(),
            };
            tokio::time::sleep(interval.unwrap_or(std::time::Duration::from_secs(1))).await;
            if interval.is_none() {
                continue;
            }
            let Some(g) = gateway.upgrade() else {
                return;
            };
            g.check_routes().await;
        }
    });
}
