//! The gateway's limits stage on top of a [`RateLimiter`]: one acquire per request over the
//! key, project, organisation and model limits that are set (none set → no call at all).

use std::sync::Arc;

use async_trait::async_trait;
use nuri_config::ModelConfig;
use nuri_core::auth::AuthContext;
use nuri_core::stages::{LimitPermit, LimitStage, RateLimitInfo};
use nuri_core::GatewayError;

use crate::{Admission, LimitCheck, LimitError, Limits, Permit, RateLimiter};

/// [`LimitStage`] backed by any [`RateLimiter`].
pub struct LimitsStage {
    limiter: Arc<dyn RateLimiter>,
}

impl LimitsStage {
    /// Wraps a limiter.
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self { limiter }
    }
}

fn limits(l: &nuri_core::tenancy::Limits) -> Limits {
    Limits {
        requests_per_minute: l.requests_per_minute,
        tokens_per_minute: l.tokens_per_minute,
        max_concurrent: l.max_concurrent,
    }
}

struct Held(Permit, RateLimitInfo);

impl LimitPermit for Held {
    fn info(&self) -> RateLimitInfo {
        self.1.clone()
    }
    fn settle(self: Box<Self>, actual_tokens: u64) {
        self.0.settle(actual_tokens);
    }
}

struct Nothing;

impl LimitPermit for Nothing {
    fn info(&self) -> RateLimitInfo {
        RateLimitInfo::default()
    }
    fn settle(self: Box<Self>, _: u64) {}
}

#[async_trait]
impl LimitStage for LimitsStage {
    async fn admit(
        &self,
        auth: &AuthContext,
        model: &ModelConfig,
        estimated_tokens: u64,
    ) -> Result<Box<dyn LimitPermit>, GatewayError> {
        let model_limits = Limits {
            requests_per_minute: model.limits.requests_per_minute,
            tokens_per_minute: model.limits.tokens_per_minute,
            max_concurrent: model.limits.max_concurrent,
        };
        let mut checks = Vec::with_capacity(4);
        for (key, l) in [
            (format!("key:{}", auth.key.id), limits(&auth.key.limits)),
            (
                format!("project:{}", auth.key.project_id),
                limits(&auth.project_limits),
            ),
            (format!("org:{}", auth.key.org_id), limits(&auth.org_limits)),
            (format!("model:{}", model.name), model_limits),
        ] {
            if !l.is_unlimited() {
                checks.push(LimitCheck::new(key, l));
            }
        }
        if checks.is_empty() {
            return Ok(Box::new(Nothing));
        }
        match self.limiter.acquire(&checks, estimated_tokens).await {
            Ok(Admission::Granted(permit)) => {
                let info = RateLimitInfo {
                    headers: permit.headers.to_pairs(),
                };
                Ok(Box::new(Held(permit, info)))
            }
            Ok(Admission::Denied(d)) => Err(GatewayError::RateLimited {
                message: format!(
                    "Rate limit reached ({}). Please retry after {:.1}s.",
                    d.limited_by,
                    d.retry_after.as_secs_f64()
                ),
                retry_after: d.retry_after,
                headers: d.headers.to_pairs(),
            }),
            Err(LimitError::Unavailable { retry_after, .. }) => Err(GatewayError::Unavailable {
                message: "rate limiting is unavailable (Redis unreachable); failing closed".into(),
                retry_after,
            }),
            Err(e) => Err(GatewayError::Internal(e.to_string())),
        }
    }
}
