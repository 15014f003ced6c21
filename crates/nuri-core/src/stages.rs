//! The pipeline's pluggable stages between authentication and routing: policy, limits, credits
//! and data capture. Each is a trait so its issue can replace the pass-through implementation
//! here without touching the pipeline.

use std::sync::Arc;

use async_trait::async_trait;
use nuri_config::ModelConfig;
use nuri_types::openai::ChatCompletionRequest;
use nuri_types::MilliWon;

use crate::auth::AuthContext;
use crate::error::GatewayError;

/// Rate-limit state to report: the `x-ratelimit-*` header pairs of the tightest limits that
/// apply (empty when none does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimitInfo {
    /// Header names and values, e.g. `("x-ratelimit-remaining-requests", "59")`.
    pub headers: Vec<(&'static str, String)>,
}

/// Per-project policy (allowed models, token caps, PII handling).
#[async_trait]
pub trait PolicyStage: Send + Sync {
    /// Whether the key may see and use `model`.
    async fn allows_model(&self, auth: &AuthContext, model: &str) -> Result<bool, GatewayError>;
    /// Checks (and may rewrite, e.g. redact) a chat request.
    async fn check_chat(
        &self,
        auth: &AuthContext,
        model: &ModelConfig,
        request: &mut ChatCompletionRequest,
    ) -> Result<(), GatewayError>;
}

/// A held rate-limit admission; settle with the actual tokens when done.
pub trait LimitPermit: Send {
    /// Headers to report.
    fn info(&self) -> RateLimitInfo;
    /// Reconciles the token estimate with actual usage and releases concurrency.
    fn settle(self: Box<Self>, actual_tokens: u64);
}

/// Rate limits per key, project, organisation and model.
#[async_trait]
pub trait LimitStage: Send + Sync {
    /// Admits one request estimated at `estimated_tokens`, or refuses with `RateLimited`.
    async fn admit(
        &self,
        auth: &AuthContext,
        model: &ModelConfig,
        estimated_tokens: u64,
    ) -> Result<Box<dyn LimitPermit>, GatewayError>;
}

/// A credit reservation; settle with the actual cost when done.
#[async_trait]
pub trait CreditHold: Send + Sync {
    /// The grant paying, if any.
    fn grant_id(&self) -> Option<String>;
    /// The amount held.
    fn held(&self) -> MilliWon;
    /// Settles the actual cost and releases the rest.
    async fn settle(self: Box<Self>, actual: MilliWon);
}

/// Credit reservation and settlement.
#[async_trait]
pub trait CreditStage: Send + Sync {
    /// Reserves `worst_case` for `request_id`, or refuses with `InsufficientQuota`.
    async fn reserve(
        &self,
        auth: &AuthContext,
        model: &ModelConfig,
        request_id: &str,
        worst_case: MilliWon,
    ) -> Result<Box<dyn CreditHold>, GatewayError>;
}

/// The pipeline's stages.
#[derive(Clone)]
pub struct Stages {
    /// Policy.
    pub policy: Arc<dyn PolicyStage>,
    /// Rate limits.
    pub limits: Arc<dyn LimitStage>,
    /// Credits.
    pub credits: Arc<dyn CreditStage>,
}

impl Default for Stages {
    fn default() -> Self {
        Self {
            policy: Arc::new(AllowAll),
            limits: Arc::new(Unlimited),
            credits: Arc::new(NoCharge),
        }
    }
}

/// Pass-through policy: every model allowed, nothing rewritten.
pub struct AllowAll;

#[async_trait]
impl PolicyStage for AllowAll {
    async fn allows_model(&self, _: &AuthContext, _: &str) -> Result<bool, GatewayError> {
        Ok(true)
    }
    async fn check_chat(
        &self,
        _: &AuthContext,
        _: &ModelConfig,
        _: &mut ChatCompletionRequest,
    ) -> Result<(), GatewayError> {
        Ok(())
    }
}

/// Pass-through limits: everything admitted.
pub struct Unlimited;

struct NoPermit;

impl LimitPermit for NoPermit {
    fn info(&self) -> RateLimitInfo {
        RateLimitInfo::default()
    }
    fn settle(self: Box<Self>, _: u64) {}
}

#[async_trait]
impl LimitStage for Unlimited {
    async fn admit(
        &self,
        _: &AuthContext,
        _: &ModelConfig,
        _: u64,
    ) -> Result<Box<dyn LimitPermit>, GatewayError> {
        Ok(Box::new(NoPermit))
    }
}

/// Pass-through credits: priced models are metered, not charged.
pub struct NoCharge;

struct NoHold;

#[async_trait]
impl CreditHold for NoHold {
    fn grant_id(&self) -> Option<String> {
        None
    }
    fn held(&self) -> MilliWon {
        MilliWon(0)
    }
    async fn settle(self: Box<Self>, _: MilliWon) {}
}

#[async_trait]
impl CreditStage for NoCharge {
    async fn reserve(
        &self,
        _: &AuthContext,
        _: &ModelConfig,
        _: &str,
        _: MilliWon,
    ) -> Result<Box<dyn CreditHold>, GatewayError> {
        Ok(Box::new(NoHold))
    }
}
