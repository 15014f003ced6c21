//! A running gateway in front of the mock upstream, with an organisation, project and key.

use std::collections::HashMap;
use std::time::Duration;

use nuri_config::Config;
use nuri_core::tasks::TaskTracker;
use nuri_testkit::{MockConfig, MockHandle, MockOpenAi};
use serde_json::{json, Value};

pub struct TestApp {
    pub client: reqwest::Client,
    pub base: String,
    pub key: String,
    pub key_id: String,
    pub project_id: String,
    pub admin: String,
    pub mock: MockHandle,
    _dir: tempfile::TempDir,
    _tracker: TaskTracker,
}

impl TestApp {
    pub async fn start(extra_toml: &str) -> Self {
        let mock = MockOpenAi::start(MockConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"
            [server]
            max_body_bytes = 65536
            [storage]
            database_url = "sqlite://{db}"
            [[providers]]
            name = "acme"
            kind = "openai_compatible"
            base_url = "{base}"
            api_key_env = "ACME_KEY"
            timeouts = {{ first_byte_ms = 800 }}
            [[models]]
            name = "acme-chat"
            routes = [{{ provider = "acme", model = "mock-model" }}]
            price = {{ input_per_million = 1000, output_per_million = 3000 }}
            max_output_tokens = 4096
            [[models]]
            name = "acme-embed"
            kind = "embeddings"
            routes = [{{ provider = "acme", model = "mock-embedding" }}]
            {extra_toml}
            "#,
            db = dir.path().join("nuri.db").display(),
            base = mock.base_url(),
        );
        let env: HashMap<String, String> = [
            ("ACME_KEY".to_owned(), "upstream-secret".to_owned()),
            ("NURI_ADMIN_TOKEN".to_owned(), "test-operator".to_owned()),
        ]
        .into();
        let config = Config::from_toml(&toml, "test.toml", &env).unwrap();
        let tracker = TaskTracker::new();
        let (state, _store) = nuri::compose::app_state(&config, &tracker).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, nuri_http::app(state)).await;
        });
        let mut app = Self {
            client: reqwest::Client::new(),
            base,
            key: String::new(),
            key_id: String::new(),
            project_id: String::new(),
            admin: "test-operator".into(),
            mock,
            _dir: dir,
            _tracker: tracker,
        };
        let (key, key_id, project) = app.new_key_full().await;
        app.key = key;
        app.key_id = key_id;
        app.project_id = project;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Value {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{path}");
        res.json().await.unwrap()
    }

    async fn new_key_full(&self) -> (String, String, String) {
        let (key, key_id, project, org_id) = self.new_key_in_new_org().await;
        let programme = self
            .admin_post(
                "/admin/v1/programmes",
                json!({"name": "test", "sponsor": "tests", "budget": 1_000_000_000_000i64}),
            )
            .await;
        self.admin_post(
            &format!(
                "/admin/v1/programmes/{}/grants",
                programme["id"].as_str().unwrap()
            ),
            json!({"org_id": org_id, "amount": 1_000_000_000_000i64}),
        )
        .await;
        (key, key_id, project)
    }

    /// A key in a new organisation without any grant: (secret, key id, project id, org id).
    pub async fn new_key_in_new_org(&self) -> (String, String, String, String) {
        let org = self
            .admin_post("/admin/v1/orgs", json!({"name": "Acme"}))
            .await;
        let project = self
            .admin_post(
                &format!("/admin/v1/orgs/{}/projects", org["id"].as_str().unwrap()),
                json!({"name": "app"}),
            )
            .await;
        let pid = project["id"].as_str().unwrap().to_owned();
        let key = self
            .admin_post(
                &format!("/admin/v1/projects/{pid}/keys"),
                json!({"name": "test"}),
            )
            .await;
        (
            key["key"].as_str().unwrap().to_owned(),
            key["id"].as_str().unwrap().to_owned(),
            pid,
            org["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A key in a new organisation: (secret, key id).
    pub async fn new_key(&self) -> (String, String) {
        let (k, id, _) = self.new_key_full().await;
        (k, id)
    }

    /// Waits for the usage record of a request (written off the hot path) and returns it.
    pub async fn usage_record(&self, request_id: &str) -> Value {
        for _ in 0..100 {
            let res = self
                .client
                .get(self.url(&format!("/admin/v1/usage?request_id={request_id}")))
                .bearer_auth(&self.admin)
                .send()
                .await
                .unwrap();
            let v: Value = res.json().await.unwrap();
            if let Some(rec) = v["data"].as_array().and_then(|d| d.first()) {
                return rec.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no usage record for {request_id}");
    }
}
