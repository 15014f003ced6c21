//! The catalog: public models, their routes and the provider adapters behind them, built from the
//! validated config by the composition root and swapped atomically on reload.

use std::collections::HashMap;
use std::sync::Arc;

use nuri_config::{Config, ModelConfig, RoutingConfig};

use crate::provider::Provider;

/// One way to serve a model: a provider and its upstream model name.
#[derive(Clone)]
pub struct RouteTarget {
    /// The adapter.
    pub provider: Arc<dyn Provider>,
    /// The upstream model name.
    pub upstream_model: String,
    /// Relative share within its priority.
    pub weight: u32,
    /// Lower is tried first.
    pub priority: u32,
}

impl std::fmt::Debug for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTarget")
            .field("provider", &self.provider.name())
            .field("upstream_model", &self.upstream_model)
            .field("weight", &self.weight)
            .field("priority", &self.priority)
            .finish()
    }
}

/// A public model with its resolved routes.
pub struct CatalogModel {
    /// The model's configuration.
    pub config: ModelConfig,
    /// Resolved routes in config order.
    pub routes: Vec<RouteTarget>,
    /// Unix seconds the catalog was built (the model's `created`).
    pub created: i64,
}

/// Every public model.
pub struct Catalog {
    models: HashMap<String, Arc<CatalogModel>>,
    order: Vec<String>,
    routing: RoutingConfig,
}

impl Catalog {
    /// Builds the catalog; `providers` holds an adapter for every provider the config declares.
    /// Routes naming a provider without an adapter are skipped (and logged).
    pub fn new(config: &Config, providers: &HashMap<String, Arc<dyn Provider>>) -> Self {
        let created = crate::time::now_s();
        let mut models = HashMap::new();
        let mut order = Vec::new();
        for m in &config.models {
            let routes = m
                .routes
                .iter()
                .filter_map(|r| match providers.get(&r.provider) {
                    Some(p) => Some(RouteTarget {
                        provider: Arc::clone(p),
                        upstream_model: r.model.clone(),
                        weight: r.weight,
                        priority: r.priority,
                    }),
                    None => {
                        tracing::warn!(model = %m.name, provider = %r.provider, "route skipped: provider unavailable");
                        None
                    }
                })
                .collect();
            order.push(m.name.clone());
            models.insert(
                m.name.clone(),
                Arc::new(CatalogModel {
                    config: m.clone(),
                    routes,
                    created,
                }),
            );
        }
        Self {
            models,
            order,
            routing: config.routing.clone(),
        }
    }

    /// Retry and circuit-breaker settings (`[routing]`).
    pub fn routing(&self) -> &RoutingConfig {
        &self.routing
    }

    /// A model by public name.
    pub fn get(&self, name: &str) -> Option<Arc<CatalogModel>> {
        self.models.get(name).cloned()
    }

    /// Every model in config order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<CatalogModel>> {
        self.order.iter().filter_map(|n| self.models.get(n))
    }
}
