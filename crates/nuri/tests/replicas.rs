//! Two `nuri serve` processes sharing one Redis (127.0.0.1:6379) and one database: a per-key
//! limit of N requests a minute, set with the CLI (`nuri admin keys limits`), holds across both.
//! The test uses its own Redis key prefix (`NURI_REDIS_PREFIX`) and deletes it afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nuri_testkit::{MockConfig, MockOpenAi};
use serde_json::{json, Value};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const ADMIN: &str = "replica-operator";

/// A `nuri serve` child, killed (by its own handle) when dropped.
struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_replica(config: &std::path::Path, prefix: &str) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nuri"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("NURI_LISTEN", format!("127.0.0.1:{port}"))
        .env("NURI_REDIS_URL", REDIS_URL)
        .env("NURI_REDIS_PREFIX", prefix)
        .env("NURI_ADMIN_TOKEN", ADMIN)
        .env("UP_KEY", "upstream-secret")
        .env("NURI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let ready = client
            .get(format!("{}/readyz", replica.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return replica;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn admin_post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let res = client
        .post(url)
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn cleanup(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_limit_holds_across_two_processes() {
    const N: usize = 5;
    let mock = MockOpenAi::start(MockConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nuri.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndatabase_url = \"sqlite://{}\"\n\
             [[providers]]\nname = \"up\"\nkind = \"openai_compatible\"\nbase_url = \"{}\"\n\
             api_key_env = \"UP_KEY\"\n\
             [[models]]\nname = \"m\"\nroutes = [{{ provider = \"up\", model = \"mock-model\" }}]\n",
            dir.path().join("nuri.db").display(),
            mock.base_url()
        ),
    )
    .unwrap();
    let prefix = format!(
        "nuri-test:replicas:{}:{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    // One after the other, so the second finds the migrations applied.
    let a = start_replica(&config, &prefix).await;
    let b = start_replica(&config, &prefix).await;

    let client = reqwest::Client::new();
    let org = admin_post(
        &client,
        format!("{}/admin/v1/orgs", a.base),
        json!({"name": "Acme"}),
    )
    .await;
    let project = admin_post(
        &client,
        format!(
            "{}/admin/v1/orgs/{}/projects",
            a.base,
            org["id"].as_str().unwrap()
        ),
        json!({"name": "app"}),
    )
    .await;
    let key = admin_post(
        &client,
        format!(
            "{}/admin/v1/projects/{}/keys",
            a.base,
            project["id"].as_str().unwrap()
        ),
        json!({"name": "shared"}),
    )
    .await;
    let secret = key["key"].as_str().unwrap().to_owned();

    // The limit is set with the CLI, against the second replica.
    let out = Command::new(env!("CARGO_BIN_EXE_nuri"))
        .args([
            "admin",
            "keys",
            "limits",
            key["id"].as_str().unwrap(),
            "--rpm",
            &N.to_string(),
            "--url",
            &b.base,
            "--token",
            ADMIN,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let updated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(updated["limits"]["requests_per_minute"], N);
    // Key lookups are cached for under a second on each replica.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let mut granted = 0;
    let mut refused = 0;
    for i in 0..(3 * N) {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let res = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => granted += 1,
            429 => {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limit_exceeded");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    drop((a, b));
    cleanup(&prefix).await;
    assert_eq!(granted, N, "{granted} granted across both replicas");
    assert_eq!(refused, 2 * N);
    assert_eq!(mock.requests().len(), N);
}
