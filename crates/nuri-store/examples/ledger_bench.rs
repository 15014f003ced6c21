//! Reservations + settlements per second through the credit engine (group commit) on SQLite or
//! PostgreSQL.
//!
//! ```sh
//! cargo run --release -p nuri-store --example ledger_bench -- sqlite 64 10
//! cargo run --release -p nuri-store --example ledger_bench -- postgres 64 10
//! ```
//! Arguments: backend, concurrent workers, seconds. PostgreSQL uses `NURI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) to create and drop a scratch database.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nuri_config::raw::RawLimits;
use nuri_config::{Balancing, ModelConfig, ModelKind, RouteConfig};
use nuri_core::auth::AuthContext;
use nuri_core::credits::{
    CreditEngine, CreditSettings, CreditStore, Grant, GrantStatus, Programme,
};
use nuri_core::stages::CreditStage;
use nuri_core::store::TenancyStore;
use nuri_core::tasks::TaskTracker;
use nuri_core::tenancy::{ApiKey, Limits, Organisation};
use nuri_store::{SqlStore, StoreOptions};
use nuri_types::{MilliWon, Price};
use sqlx::Executor;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map_or("sqlite", String::as_str).to_owned();
    let workers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let admin = std::env::var("NURI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pg_name = format!(
        "nuri_bench_{}",
        nuri_types::ids::random_base62(8).to_lowercase()
    );
    let url = if backend == "postgres" {
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        pool.execute(format!("CREATE DATABASE {pg_name}").as_str())
            .await
            .unwrap();
        pool.close().await;
        format!("{}/{pg_name}", admin.rsplit_once('/').unwrap().0)
    } else {
        format!("sqlite://{}/bench.db", dir.path().display())
    };
    let store = SqlStore::connect(&StoreOptions::new(url)).await.unwrap();
    store
        .create_org(&Organisation {
            id: "org".into(),
            name: "o".into(),
            limits: Limits::default(),
            created_at: 0,
        })
        .await
        .unwrap();
    store
        .create_programme(&Programme {
            id: "prog".into(),
            name: "p".into(),
            sponsor: "s".into(),
            currency: "KRW".into(),
            budget: i64::MAX / 4,
            allocated: 0,
            created_at: 0,
        })
        .await
        .unwrap();
    store
        .create_grant(
            &Grant {
                id: "grant".into(),
                programme_id: "prog".into(),
                org_id: "org".into(),
                amount: i64::MAX / 8,
                spent: 0,
                reserved: 0,
                starts_at: 0,
                ends_at: None,
                models: None,
                providers: None,
                status: GrantStatus::Active,
                created_at: 0,
            },
            "bench",
        )
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let engine = CreditEngine::start(Arc::new(store.clone()), CreditSettings::default(), &tracker);
    let model = Arc::new(ModelConfig {
        name: "m".into(),
        kind: ModelKind::Chat,
        routes: vec![RouteConfig {
            provider: "p".into(),
            model: "u".into(),
            weight: 1,
            priority: 0,
        }],
        fallbacks: vec![],
        balancing: Balancing::Weighted,
        price: Price {
            input_per_million: 1000,
            output_per_million: 1000,
        },
        max_output_tokens: Some(64),
        context_window: None,
        limits: RawLimits::default(),
    });
    let auth = Arc::new(AuthContext {
        key: ApiKey {
            id: "key".into(),
            project_id: "proj".into(),
            org_id: "org".into(),
            name: None,
            prefix: "nk".into(),
            limits: Limits::default(),
            created_at: 0,
            expires_at: None,
            revoked_at: None,
        },
        project_limits: Limits::default(),
        org_limits: Limits::default(),
        policy: Default::default(),
    });
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (engine, model, auth, done) = (
            engine.clone(),
            Arc::clone(&model),
            Arc::clone(&auth),
            Arc::clone(&done),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < stop {
                let hold = engine
                    .reserve(&auth, &model, &format!("req_{w}_{i}"), MilliWon(100))
                    .await
                    .unwrap();
                hold.settle(MilliWon(40)).await;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(engine);
    tracker.close();
    tracker.wait().await; // every settlement written
    let elapsed = started.elapsed();
    let total = done.load(Ordering::Relaxed);
    let report = store.verify_ledger().await.unwrap();
    println!(
        "{backend}: {workers} workers, {total} reservations + settlements in {:.1} s = {:.0}/s; ledger ok: {} ({} entries)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        report.ok,
        report.entries
    );
    store.close().await;
    if backend == "postgres" {
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        pool.execute(format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }
}
