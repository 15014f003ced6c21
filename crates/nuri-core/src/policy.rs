//! Per-project policy (the sandbox rules): which models a project may use, a cap on output
//! tokens, what to do with personal information in prompts, data capture settings, and a sandbox
//! window. [`ProjectPolicyStage`] enforces it in the pipeline; PII detection is injected through
//! [`PiiDetector`] so the core stays free of the engine.

use std::sync::Arc;

use async_trait::async_trait;
use nuri_config::ModelConfig;
use nuri_types::openai::{ChatCompletionRequest, MessageContent};
use serde::{Deserialize, Serialize};

use crate::auth::AuthContext;
use crate::error::GatewayError;
use crate::stages::PolicyStage;

/// What to do with personal information found in a prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiMode {
    /// Send prompts as they are.
    #[default]
    Allow,
    /// Replace personal information with `[LABEL]` before the prompt leaves for a provider.
    Redact,
    /// Refuse the request with 400 `pii_detected` naming the labels found.
    Block,
}

/// Data-dam capture settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// Capture consented request/response data.
    #[serde(default)]
    pub enabled: bool,
    /// Licence tag of captured data.
    #[serde(default)]
    pub licence: Option<String>,
    /// Days to keep captured data.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// A sandbox window (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    /// When the project may start calling models.
    pub starts_at: String,
    /// When it must stop.
    pub ends_at: String,
}

/// A project's policy; every field optional, absent = the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectPolicy {
    /// Models the project may use (`null` = all).
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Largest `max_tokens` a request may ask for (`null` = the model's own bound).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Personal information in prompts.
    #[serde(default)]
    pub pii: PiiMode,
    /// Data capture.
    #[serde(default)]
    pub capture: CaptureSettings,
    /// Client IP ranges allowed (stored; enforced with the governance issue).
    #[serde(default)]
    pub allowed_ips: Option<Vec<String>>,
    /// Sandbox window.
    #[serde(default)]
    pub sandbox: Option<Sandbox>,
}

impl ProjectPolicy {
    /// Checks values a type cannot: window order, RFC 3339 times, a positive token cap.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.max_tokens == Some(0) {
            return Err(GatewayError::invalid(
                "max_tokens must be at least 1",
                Some("max_tokens"),
            ));
        }
        if let Some(s) = &self.sandbox {
            let start = parse_rfc3339(&s.starts_at, "sandbox.starts_at")?;
            let end = parse_rfc3339(&s.ends_at, "sandbox.ends_at")?;
            if end <= start {
                return Err(GatewayError::invalid(
                    "sandbox.ends_at must be after starts_at",
                    Some("sandbox.ends_at"),
                ));
            }
        }
        Ok(())
    }
}

fn parse_rfc3339(value: &str, param: &str) -> Result<i64, GatewayError> {
    crate::time::parse_rfc3339_ms(value).ok_or_else(|| {
        GatewayError::invalid(format!("{param} must be an RFC 3339 time"), Some(param))
    })
}

/// Finds and redacts personal information (implemented over `nuri-pii` by the binary).
pub trait PiiDetector: Send + Sync {
    /// The labels of personal information found in `text` (no values).
    fn labels(&self, text: &str) -> Vec<String>;
    /// `text` with personal information replaced by `[LABEL]` placeholders.
    fn redact(&self, text: &str) -> String;
}

/// The policy stage over each project's stored policy.
pub struct ProjectPolicyStage {
    detector: Arc<dyn PiiDetector>,
}

impl ProjectPolicyStage {
    /// A stage using `detector` for the `pii` rule.
    pub fn new(detector: Arc<dyn PiiDetector>) -> Self {
        Self { detector }
    }

    fn texts_mut(request: &mut ChatCompletionRequest) -> Vec<&mut String> {
        let mut out = Vec::new();
        for m in &mut request.messages {
            match &mut m.content {
                Some(MessageContent::Text(t)) => out.push(t),
                Some(MessageContent::Parts(parts)) => {
                    out.extend(parts.iter_mut().filter_map(|p| p.text.as_mut()));
                }
                None => {}
            }
        }
        out
    }
}

#[async_trait]
impl PolicyStage for ProjectPolicyStage {
    async fn allows_model(&self, auth: &AuthContext, model: &str) -> Result<bool, GatewayError> {
        Ok(auth
            .policy
            .allowed_models
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == model)))
    }

    async fn check_chat(
        &self,
        auth: &AuthContext,
        _model: &ModelConfig,
        request: &mut ChatCompletionRequest,
    ) -> Result<(), GatewayError> {
        let policy = &auth.policy;
        if let Some(s) = &policy.sandbox {
            let now = crate::time::now_ms();
            let start = crate::time::parse_rfc3339_ms(&s.starts_at).unwrap_or(i64::MIN);
            let end = crate::time::parse_rfc3339_ms(&s.ends_at).unwrap_or(i64::MAX);
            if now < start || now >= end {
                return Err(GatewayError::PolicyViolation(format!(
                    "policy rule `sandbox`: this project may call models only from {} to {}",
                    s.starts_at, s.ends_at
                )));
            }
        }
        if let Some(cap) = policy.max_tokens {
            match request.requested_max_tokens() {
                Some(asked) if asked > cap => {
                    return Err(GatewayError::PolicyViolation(format!(
                        "policy rule `max_tokens`: this project may ask for at most {cap} output tokens, not {asked}"
                    )))
                }
                Some(_) => {}
                None => request.max_tokens = Some(cap),
            }
        }
        match policy.pii {
            PiiMode::Allow => {}
            PiiMode::Block => {
                let mut labels: Vec<String> = Self::texts_mut(request)
                    .into_iter()
                    .flat_map(|t| self.detector.labels(t))
                    .collect();
                labels.sort();
                labels.dedup();
                if !labels.is_empty() {
                    return Err(GatewayError::PiiDetected(labels));
                }
            }
            PiiMode::Redact => {
                for text in Self::texts_mut(request) {
                    let redacted = self.detector.redact(text);
                    *text = redacted;
                }
            }
        }
        Ok(())
    }
}
