//! Provider adapters. Each folder speaks one upstream's wire format and implements
//! [`nuri_core::provider::Provider`]; shared pieces are the SSE parser ([`sse`]) and the HTTP
//! plumbing with timeouts and error mapping ([`http`]). [`build`] turns a provider's config into
//! its adapter.

pub mod anthropic;
pub mod clova;
mod common;
pub mod gemini;
pub mod http;
pub mod local;
pub mod openai;
pub mod sse;

use std::sync::Arc;

use nuri_config::{ProviderConfig, ProviderKind};
use nuri_core::provider::Provider;

/// Why an adapter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The HTTP client could not be created.
    #[error("provider {name}: {reason}")]
    Client {
        /// Provider name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A local model could not be loaded (the message names the file).
    #[error("{0}")]
    Local(String),
}

/// Builds the adapter for a provider; local providers load their models from `models_dir`
/// (built-ins) or their configured paths.
pub fn build(
    config: &ProviderConfig,
    models_dir: &std::path::Path,
) -> Result<Arc<dyn Provider>, BuildError> {
    match config.kind {
        ProviderKind::Local => {
            let spec = config.local.as_ref().ok_or_else(|| {
                BuildError::Local(format!("provider {}: no local settings", config.name))
            })?;
            let provider = local::LocalProvider::load(&config.name, spec, models_dir)
                .map_err(|e| BuildError::Local(e.0))?;
            Ok(Arc::new(provider))
        }
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => {
            Ok(Arc::new(openai::OpenAiProvider::new(config)?))
        }
        ProviderKind::Anthropic => Ok(Arc::new(anthropic::AnthropicProvider::new(config)?)),
        ProviderKind::Gemini => Ok(Arc::new(gemini::GeminiProvider::new(config)?)),
        ProviderKind::Clova => Ok(Arc::new(clova::ClovaProvider::new(config)?)),
    }
}
