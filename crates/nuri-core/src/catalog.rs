//! The catalog: public models, their routes and the provider adapters behind them, built from the
//! validated config by the composition root and swapped atomically on reload.

use std::collections::HashMap;
use std::sync::Arc;

use nuri_config::{Config, ModelConfig};
use rand::Rng;

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
        Self { models, order }
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

impl CatalogModel {
    /// The order in which to try routes: priority groups ascending; within a group, a
    /// weighted random order.
    pub fn route_plan(&self) -> Vec<RouteTarget> {
        let mut priorities: Vec<u32> = self.routes.iter().map(|r| r.priority).collect();
        priorities.sort_unstable();
        priorities.dedup();
        let mut rng = rand::thread_rng();
        let mut plan = Vec::with_capacity(self.routes.len());
        for p in priorities {
            let mut group: Vec<RouteTarget> = self
                .routes
                .iter()
                .filter(|r| r.priority == p)
                .cloned()
                .collect();
            while !group.is_empty() {
                let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
                let mut pick = rng.gen_range(0..total.max(1));
                let mut idx = 0;
                for (i, r) in group.iter().enumerate() {
                    if pick < u64::from(r.weight) {
                        idx = i;
                        break;
                    }
                    pick -= u64::from(r.weight);
                }
                plan.push(group.swap_remove(idx));
            }
        }
        plan
    }
}
