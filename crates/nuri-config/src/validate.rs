//! Raw settings → the validated [`Config`] the rest of Nuri reads.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nuri_types::Price;

use crate::env::{self, EnvSource};
use crate::raw::{RawConfig, RawLimits, RawModel, RawProvider, RawTimeouts};
use crate::routing::{validate_routing, RoutingConfig};
use crate::Secret;

/// Why a configuration was refused; the message names the file, the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },
    /// The TOML is malformed or has unknown keys or wrong types.
    #[error("{file}: {reason}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message (names the key and position).
        reason: String,
    },
    /// A value is invalid.
    #[error("{file}: {key}: {reason}")]
    Invalid {
        /// The file, or `environment`.
        file: String,
        /// The dotted key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the settings came from (a path or `built-in defaults`).
    pub source: String,
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Storage settings.
    pub storage: StorageConfig,
    /// IANA time zone of billing periods.
    pub billing_timezone: String,
    /// Whether priced models need a grant that pays for them (`billing.credits`).
    pub credits_enforced: bool,
    /// Operator token from `NURI_ADMIN_TOKEN`.
    pub admin_token: Option<Secret>,
    /// Providers by declaration order.
    pub providers: Vec<ProviderConfig>,
    /// Public models by declaration order.
    pub models: Vec<ModelConfig>,
    /// Retries and circuit breakers (`[routing]`).
    pub routing: RoutingConfig,
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// State directory.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// Redis URL for shared rate limits.
    pub redis_url: Option<String>,
    /// Built-in model files.
    pub models_dir: PathBuf,
    /// SQLite `synchronous=FULL` instead of `NORMAL`.
    pub sqlite_synchronous_full: bool,
    /// Prefix of Redis keys.
    pub redis_key_prefix: String,
    /// Admit requests when Redis is unreachable.
    pub redis_fail_open: bool,
}

/// Provider kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// api.openai.com.
    OpenAi,
    /// Any OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp).
    OpenAiCompatible,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// Naver CLOVA Studio.
    Clova,
    /// The in-process engine.
    Local,
}

impl ProviderKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "openai" => Self::OpenAi,
            "openai_compatible" => Self::OpenAiCompatible,
            "anthropic" => Self::Anthropic,
            "gemini" => Self::Gemini,
            "clova" => Self::Clova,
            "local" => Self::Local,
            _ => return None,
        })
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Clova => "clova",
            Self::Local => "local",
        }
    }
}

/// Timeouts of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP/TLS connect.
    pub connect: Duration,
    /// Until the response head arrives.
    pub first_byte: Duration,
    /// Longest gap between stream chunks.
    pub idle: Duration,
    /// Whole request.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// Where a local provider's weights live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSpec {
    /// The built-in chat + embedding models from `models_dir`.
    pub builtin: bool,
    /// A GGUF chat model.
    pub model_path: Option<PathBuf>,
    /// An embedding model directory.
    pub embed_model_path: Option<PathBuf>,
    /// Engine threads (0 = choose).
    pub threads: usize,
    /// Bounded queue length.
    pub queue_capacity: usize,
    /// Most sequences decoded together.
    pub max_batch: usize,
}

/// A validated provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Name referenced by routes.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash (empty for local).
    pub base_url: String,
    /// Credential read from the named environment variable.
    pub api_key: Option<Secret>,
    /// The variable's name (for messages; never the value).
    pub api_key_env: Option<String>,
    /// CLOVA API version (`v3` or `v1`).
    pub api_version: String,
    /// Ask for stream usage upstream.
    pub stream_usage: bool,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Local engine settings (kind `local` only).
    pub local: Option<LocalSpec>,
}

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Chat and text completions.
    Chat,
    /// Embeddings.
    Embeddings,
}

/// Load balancing within a priority group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancing {
    /// Weighted random.
    Weighted,
    /// Power of two choices over latency EWMA and in-flight count.
    Latency,
}

/// One route of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Provider name.
    pub provider: String,
    /// Upstream model name.
    pub model: String,
    /// Relative share within the priority group.
    pub weight: u32,
    /// Lower is tried first.
    pub priority: u32,
}

/// A validated public model.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Public name.
    pub name: String,
    /// Chat or embeddings.
    pub kind: ModelKind,
    /// Routes.
    pub routes: Vec<RouteConfig>,
    /// Fallback public models.
    pub fallbacks: Vec<String>,
    /// Balancing strategy.
    pub balancing: Balancing,
    /// Price (zero = free).
    pub price: Price,
    /// Output bound for reservations.
    pub max_output_tokens: Option<u32>,
    /// Context window.
    pub context_window: Option<u32>,
    /// Per-model limits.
    pub limits: RawLimits,
}

impl Config {
    /// Loads settings: `path` if given, else `nuri.toml` in the working directory if present,
    /// else built-in defaults; then the process environment on top.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, &env::ProcessEnv)
    }

    /// [`Config::load`] with an explicit environment source.
    pub fn load_with_env(path: Option<&Path>, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let chosen = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("nuri.toml")).filter(|p| p.exists()),
        };
        match chosen {
            Some(file) => {
                let name = file.display().to_string();
                let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Read {
                    file: name.clone(),
                    reason: e.to_string(),
                })?;
                Self::from_toml(&text, &name, env)
            }
            None => Self::defaults(env),
        }
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
        validate(raw, file, env)
    }

    /// The built-in defaults: the local models only.
    pub fn defaults(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let text = r#"
            [[providers]]
            name = "builtin"
            kind = "local"
            builtin = true

            [[models]]
            name = "local-chat"
            kind = "chat"
            routes = [{ provider = "builtin", model = "local-chat" }]

            [[models]]
            name = "local-embed"
            kind = "embeddings"
            routes = [{ provider = "builtin", model = "local-embed" }]
        "#;
        Self::from_toml(text, "built-in defaults", env)
    }

    /// A model by public name.
    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.name == name)
    }

    /// A provider by name.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }
}

pub(crate) fn invalid(
    file: &str,
    key: impl Into<String>,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_owned(),
        key: key.into(),
        reason: reason.into(),
    }
}

fn validate(raw: RawConfig, file: &str, env: &dyn EnvSource) -> Result<Config, ConfigError> {
    let listen_text = env
        .get(env::LISTEN)
        .or(raw.server.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
        invalid(
            file,
            "server.listen",
            format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
        )
    })?;
    let max_body_bytes = match env.get(env::MAX_BODY_BYTES) {
        Some(v) => v.parse::<u64>().map_err(|_| {
            invalid(
                "environment",
                env::MAX_BODY_BYTES,
                format!("{v:?} is not a byte count"),
            )
        })?,
        None => raw.server.max_body_bytes.unwrap_or(4 * 1024 * 1024),
    };
    if max_body_bytes == 0 {
        return Err(invalid(
            file,
            "server.max_body_bytes",
            "must be greater than zero",
        ));
    }
    let data_dir = PathBuf::from(
        env.get(env::DATA_DIR)
            .or(raw.storage.data_dir)
            .unwrap_or_else(|| "./data".into()),
    );
    let database_url = env
        .get(env::DATABASE_URL)
        .or(raw.storage.database_url)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("nuri.db").display()));
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres://")
        || database_url.starts_with("postgresql://"))
    {
        return Err(invalid(
            file,
            "storage.database_url",
            "must start with sqlite: or postgres://",
        ));
    }
    let storage = StorageConfig {
        data_dir,
        database_url,
        redis_url: env.get(env::REDIS_URL).or(raw.storage.redis_url),
        models_dir: PathBuf::from(
            env.get(env::MODELS_DIR)
                .or(raw.storage.models_dir)
                .unwrap_or_else(|| "./models".into()),
        ),
        sqlite_synchronous_full: raw.storage.sqlite_synchronous_full.unwrap_or(false),
        redis_key_prefix: env
            .get(env::REDIS_PREFIX)
            .or(raw.storage.redis_key_prefix)
            .unwrap_or_else(|| "nuri:rl:".into()),
        redis_fail_open: raw.storage.redis_fail_open.unwrap_or(false),
    };
    let billing_timezone = env
        .get(env::BILLING_TZ)
        .or(raw.billing.timezone)
        .unwrap_or_else(|| "Asia/Seoul".into());
    if jiff::tz::TimeZone::get(&billing_timezone).is_err() {
        return Err(invalid(
            file,
            "billing.timezone",
            format!("{billing_timezone:?} is not an IANA time zone (e.g. Asia/Seoul, UTC)"),
        ));
    }
    let credits_enforced = raw.billing.credits.unwrap_or(true);

    let mut providers = Vec::with_capacity(raw.providers.len());
    let mut seen = HashSet::new();
    for (i, p) in raw.providers.into_iter().enumerate() {
        let key = format!("providers[{i}]");
        if !seen.insert(p.name.clone()) {
            return Err(invalid(
                file,
                format!("{key}.name"),
                format!("duplicate provider {:?}", p.name),
            ));
        }
        providers.push(validate_provider(p, &key, file, env, &storage)?);
    }

    let mut models = Vec::with_capacity(raw.models.len());
    let mut names = HashSet::new();
    for (i, m) in raw.models.iter().enumerate() {
        if !names.insert(m.name.clone()) {
            return Err(invalid(
                file,
                format!("models[{i}].name"),
                format!("duplicate model {:?}", m.name),
            ));
        }
    }
    for (i, m) in raw.models.into_iter().enumerate() {
        models.push(validate_model(
            m,
            &format!("models[{i}]"),
            file,
            &providers,
            &names,
        )?);
    }

    let routing = validate_routing(raw.routing, file)?;
    Ok(Config {
        source: file.to_owned(),
        server: ServerConfig {
            listen,
            max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        },
        storage,
        billing_timezone,
        credits_enforced,
        admin_token: env.get(env::ADMIN_TOKEN).map(Secret::new),
        providers,
        models,
        routing,
    })
}

fn validate_provider(
    p: RawProvider,
    key: &str,
    file: &str,
    env: &dyn EnvSource,
    storage: &StorageConfig,
) -> Result<ProviderConfig, ConfigError> {
    if p.name.trim().is_empty() {
        return Err(invalid(file, format!("{key}.name"), "must not be empty"));
    }
    let kind = ProviderKind::parse(&p.kind).ok_or_else(|| {
        invalid(
            file,
            format!("{key}.kind"),
            format!(
                "{:?} is not one of openai, openai_compatible, anthropic, gemini, clova, local",
                p.kind
            ),
        )
    })?;
    let default_base = match kind {
        ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
        ProviderKind::Anthropic => Some("https://api.anthropic.com"),
        ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
        ProviderKind::Clova => Some("https://clovastudio.stream.ntruss.com"),
        ProviderKind::OpenAiCompatible | ProviderKind::Local => None,
    };
    let base_url = match (p.base_url, default_base, kind) {
        (Some(url), _, ProviderKind::Local) => {
            return Err(invalid(
                file,
                format!("{key}.base_url"),
                format!("{url:?}: a local provider has no base_url"),
            ))
        }
        (Some(url), _, _) => url,
        (None, Some(d), _) => d.to_owned(),
        (None, None, ProviderKind::Local) => String::new(),
        (None, None, _) => {
            return Err(invalid(
                file,
                format!("{key}.base_url"),
                "required for openai_compatible providers",
            ))
        }
    };
    if kind != ProviderKind::Local
        && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
    {
        return Err(invalid(
            file,
            format!("{key}.base_url"),
            format!("{base_url:?} is not an http(s) URL"),
        ));
    }
    let api_key = match &p.api_key_env {
        Some(var) => Some(Secret::new(env.get(var).ok_or_else(|| {
            invalid(
                file,
                format!("{key}.api_key_env"),
                format!("environment variable {var} is not set"),
            )
        })?)),
        None => None,
    };
    let api_version = p.api_version.unwrap_or_else(|| "v3".into());
    if kind == ProviderKind::Clova && api_version != "v3" && api_version != "v1" {
        return Err(invalid(
            file,
            format!("{key}.api_version"),
            "must be v3 or v1",
        ));
    }
    let timeouts = validate_timeouts(p.timeouts.unwrap_or_default(), key, file)?;
    let local = if kind == ProviderKind::Local {
        let builtin = p.builtin.unwrap_or(false);
        if !builtin && p.model_path.is_none() && p.embed_model_path.is_none() {
            return Err(invalid(
                file,
                key,
                "a local provider needs builtin = true, model_path or embed_model_path",
            ));
        }
        Some(LocalSpec {
            builtin,
            model_path: p.model_path.map(PathBuf::from),
            embed_model_path: p.embed_model_path.map(PathBuf::from),
            threads: p.threads.unwrap_or(0),
            queue_capacity: p.queue_capacity.unwrap_or(64),
            max_batch: p.max_batch.unwrap_or(8),
        })
    } else {
        for (set, name) in [
            (p.builtin.is_some(), "builtin"),
            (p.model_path.is_some(), "model_path"),
            (p.embed_model_path.is_some(), "embed_model_path"),
        ] {
            if set {
                return Err(invalid(
                    file,
                    format!("{key}.{name}"),
                    "only valid for kind = \"local\"",
                ));
            }
        }
        None
    };
    let _ = storage;
    Ok(ProviderConfig {
        name: p.name,
        kind,
        base_url: base_url.trim_end_matches('/').to_owned(),
        api_key,
        api_key_env: p.api_key_env,
        api_version,
        stream_usage: p.stream_usage.unwrap_or(true),
        timeouts,
        local,
    })
}

fn validate_timeouts(raw: RawTimeouts, key: &str, file: &str) -> Result<Timeouts, ConfigError> {
    let d = Timeouts::default();
    let pick = |v: Option<u64>, default: Duration, name: &str| -> Result<Duration, ConfigError> {
        match v {
            Some(0) => Err(invalid(
                file,
                format!("{key}.timeouts.{name}"),
                "must be greater than zero",
            )),
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(default),
        }
    };
    Ok(Timeouts {
        connect: pick(raw.connect_ms, d.connect, "connect_ms")?,
        first_byte: pick(raw.first_byte_ms, d.first_byte, "first_byte_ms")?,
        idle: pick(raw.idle_ms, d.idle, "idle_ms")?,
        total: pick(raw.total_ms, d.total, "total_ms")?,
    })
}

fn validate_model(
    m: RawModel,
    key: &str,
    file: &str,
    providers: &[ProviderConfig],
    names: &HashSet<String>,
) -> Result<ModelConfig, ConfigError> {
    if m.name.trim().is_empty() {
        return Err(invalid(file, format!("{key}.name"), "must not be empty"));
    }
    let kind = match m.kind.as_deref() {
        None | Some("chat") => ModelKind::Chat,
        Some("embeddings") => ModelKind::Embeddings,
        Some(other) => {
            return Err(invalid(
                file,
                format!("{key}.kind"),
                format!("{other:?} is not chat or embeddings"),
            ))
        }
    };
    if m.routes.is_empty() {
        return Err(invalid(
            file,
            format!("{key}.routes"),
            "a model needs at least one route",
        ));
    }
    let mut routes = Vec::with_capacity(m.routes.len());
    for (j, r) in m.routes.into_iter().enumerate() {
        if !providers.iter().any(|p| p.name == r.provider) {
            return Err(invalid(
                file,
                format!("{key}.routes[{j}].provider"),
                format!("unknown provider {:?}", r.provider),
            ));
        }
        let weight = r.weight.unwrap_or(1);
        if weight == 0 {
            return Err(invalid(
                file,
                format!("{key}.routes[{j}].weight"),
                "must be at least 1",
            ));
        }
        routes.push(RouteConfig {
            provider: r.provider,
            model: r.model,
            weight,
            priority: r.priority.unwrap_or(0),
        });
    }
    for (j, f) in m.fallbacks.iter().enumerate() {
        if !names.contains(f) || *f == m.name {
            return Err(invalid(
                file,
                format!("{key}.fallbacks[{j}]"),
                format!("{f:?} is not another declared model"),
            ));
        }
    }
    let balancing = match m.balancing.as_deref() {
        None | Some("weighted") => Balancing::Weighted,
        Some("latency") => Balancing::Latency,
        Some(other) => {
            return Err(invalid(
                file,
                format!("{key}.balancing"),
                format!("{other:?} is not weighted or latency"),
            ))
        }
    };
    let price = m.price.unwrap_or_default();
    if price.input_per_million < 0 || price.output_per_million < 0 {
        return Err(invalid(
            file,
            format!("{key}.price"),
            "prices must not be negative",
        ));
    }
    if kind == ModelKind::Chat && !price.is_free() && m.max_output_tokens.is_none() {
        return Err(invalid(
            file,
            format!("{key}.max_output_tokens"),
            "required for a priced model: it bounds the reservation",
        ));
    }
    if m.max_output_tokens == Some(0) {
        return Err(invalid(
            file,
            format!("{key}.max_output_tokens"),
            "must be at least 1",
        ));
    }
    Ok(ModelConfig {
        name: m.name,
        kind,
        routes,
        fallbacks: m.fallbacks,
        balancing,
        price,
        max_output_tokens: m.max_output_tokens,
        context_window: m.context_window,
        limits: m.limits.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const GOOD: &str = r#"
        [[providers]]
        name = "acme"
        kind = "openai_compatible"
        base_url = "http://127.0.0.1:9000/v1/"
        api_key_env = "ACME_API_KEY"

        [[models]]
        name = "acme-chat"
        routes = [{ provider = "acme", model = "upstream-model-name" }]
        price = { input_per_million = 1000, output_per_million = 3000 }
        max_output_tokens = 4096
    "#;

    #[test]
    fn issue_example_loads() {
        let cfg = Config::from_toml(GOOD, "nuri.toml", &env(&[("ACME_API_KEY", "sk-x")]));
        let cfg = cfg.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.providers[0].base_url, "http://127.0.0.1:9000/v1");
        assert_eq!(cfg.models[0].routes[0].weight, 1);
        assert_eq!(cfg.server.listen.port(), 8080);
        assert!(!format!("{:?}", cfg.providers[0]).contains("sk-x"));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let text = format!("{GOOD}\n[server]\nlisten = \"127.0.0.1:1\"\nbogus = 1\n");
        let err = Config::from_toml(&text, "my.toml", &env(&[("ACME_API_KEY", "k")])).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("my.toml") && msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn unknown_provider_is_refused() {
        let text = GOOD.replace("provider = \"acme\"", "provider = \"nope\"");
        let msg = Config::from_toml(&text, "f.toml", &env(&[("ACME_API_KEY", "k")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("models[0].routes[0].provider") && msg.contains("nope"),
            "{msg}"
        );
    }

    #[test]
    fn missing_secret_is_refused_without_value() {
        let msg = Config::from_toml(GOOD, "f.toml", &env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("ACME_API_KEY is not set"), "{msg}");
    }

    #[test]
    fn env_wins_over_file() {
        let cfg = Config::from_toml(
            GOOD,
            "f",
            &env(&[("ACME_API_KEY", "k"), ("NURI_LISTEN", "0.0.0.0:9999")]),
        );
        assert_eq!(cfg.map(|c| c.server.listen.port()).ok(), Some(9999));
    }

    #[test]
    fn defaults_serve_builtins() {
        let cfg = Config::defaults(&env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.model("local-chat").is_some() && cfg.model("local-embed").is_some());
        assert!(cfg.models.iter().all(|m| m.price.is_free()));
    }
}
