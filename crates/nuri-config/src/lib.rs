//! Nuri's settings in two steps: [`raw`] mirrors the TOML file (unknown keys refused), and
//! [`Config`] is the validated result with environment overrides applied, references checked and
//! secrets wrapped. Entry point: [`Config::load`].

pub mod env;
pub mod raw;
mod routing;
mod secret;
mod validate;

pub use routing::{BreakerSettings, RetrySettings, RoutingConfig};
pub use secret::Secret;
pub use validate::{
    Balancing, Config, ConfigError, LocalSpec, ModelConfig, ModelKind, ProviderConfig,
    ProviderKind, RouteConfig, ServerConfig, StorageConfig, Timeouts,
};
