//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database dropped after.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]
use nuri_store::{SqlStore, StoreOptions};
use sqlx::Executor;

pub struct TestDb {
    pub store: SqlStore,
    /// The database's URL, for tests that reach past the store (to tamper with it).
    pub url: String,
    drop_db: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nuri.db", dir.path().display());
    let store = SqlStore::connect(&StoreOptions::new(url.clone()))
        .await
        .expect("connect sqlite");
    TestDb {
        store,
        url,
        drop_db: None,
        _dir: Some(dir),
    }
}

pub fn admin_url() -> String {
    std::env::var("NURI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn postgres() -> TestDb {
    sqlx::any::install_default_drivers();
    let admin = admin_url();
    let name = format!(
        "nuri_test_{}",
        nuri_types::ids::random_base62(12).to_lowercase()
    );
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .expect("connect postgres admin");
    pool.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create db");
    pool.close().await;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin.clone());
    let url = format!("{base}/{name}");
    let store = SqlStore::connect(&StoreOptions::new(url.clone()))
        .await
        .expect("connect postgres");
    TestDb {
        store,
        url,
        drop_db: Some((admin, name)),
        _dir: None,
    }
}

impl TestDb {
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.drop_db {
            let pool = sqlx::AnyPool::connect(&admin).await.expect("connect admin");
            pool.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .expect("drop db");
            pool.close().await;
        }
    }
}
