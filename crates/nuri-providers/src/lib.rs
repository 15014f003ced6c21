//! Provider adapters. Each folder speaks one upstream's wire format and implements
//! [`nuri_core::provider::Provider`]; shared pieces are the SSE parser ([`sse`]) and the HTTP
//! plumbing with timeouts and error mapping ([`http`]). [`build`] turns a provider's config into
//! its adapter.

pub mod anthropic;
pub mod clova;
mod common;
pub mod gemini;
pub mod http;
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
    /// This kind is built elsewhere (the local engine) or not yet supported.
    #[error("provider {name}: kind {kind} is not available in this build")]
    Unsupported {
        /// Provider name.
        name: String,
        /// Kind.
        kind: &'static str,
    },
}

/// Builds the adapter for an HTTP provider. Local providers are built by the engine crate.
pub fn build(config: &ProviderConfig) -> Result<Arc<dyn Provider>, BuildError> {
    match config.kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => {
            Ok(Arc::new(openai::OpenAiProvider::new(config)?))
        }
        ProviderKind::Anthropic => Ok(Arc::new(anthropic::AnthropicProvider::new(config)?)),
        ProviderKind::Gemini => Ok(Arc::new(gemini::GeminiProvider::new(config)?)),
        ProviderKind::Clova => Ok(Arc::new(clova::ClovaProvider::new(config)?)),
        other => Err(BuildError::Unsupported {
            name: config.name.clone(),
            kind: other.as_str(),
        }),
    }
}
