#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Black-box credit tests: real `nuri serve` processes in front of the mock upstream. The
//! invariant test fires 500 concurrent requests at a grant that covers exactly 100 of them, on
//! SQLite, on PostgreSQL, and with three processes sharing one PostgreSQL database.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nuri_testkit::{MockConfig, MockHandle, MockOpenAi};
use serde_json::{json, Value};
use sqlx::Executor;

const ADMIN: &str = "credits-test-operator";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh PostgreSQL database, dropped by [`PgDb::drop_now`].
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    async fn create() -> Self {
        sqlx::any::install_default_drivers();
        let admin = std::env::var("NURI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "nuri_credits_{}",
            nuri_types::ids::random_base62(10).to_lowercase()
        );
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        pool.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        pool.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        let url = format!("{base}/{name}");
        Self { admin, name, url }
    }

    async fn drop_now(self) {
        let pool = sqlx::AnyPool::connect(&self.admin).await.unwrap();
        pool.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        pool.close().await;
    }
}

/// `n` nuri processes sharing one database, in front of one mock upstream.
struct Cluster {
    procs: Vec<Child>,
    bases: Vec<String>,
    client: reqwest::Client,
    _mock: MockHandle,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

impl Cluster {
    async fn start(n: usize, database_url: &str) -> Self {
        let mock = MockOpenAi::start(MockConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("nuri.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[[providers]]
name = "acme"
kind = "openai_compatible"
base_url = "{base}"

[[models]]
name = "metered"
routes = [{{ provider = "acme", model = "mock-model" }}]
price = {{ input_per_million = 0, output_per_million = 1000 }}
max_output_tokens = 64
"#,
                base = mock.base_url()
            ),
        )
        .unwrap();
        let mut procs = Vec::new();
        let mut bases = Vec::new();
        for i in 0..n {
            let port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_nuri"))
                .arg("--config")
                .arg(&config)
                .arg("serve")
                .env("NURI_LISTEN", format!("127.0.0.1:{port}"))
                .env("NURI_DATABASE_URL", database_url)
                .env("NURI_DATA_DIR", dir.path().join(format!("data{i}")))
                .env("NURI_ADMIN_TOKEN", ADMIN)
                .env("NURI_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            procs.push(child);
            bases.push(format!("http://127.0.0.1:{port}"));
        }
        let cluster = Self {
            procs,
            bases,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            _mock: mock,
            _dir: dir,
        };
        for base in &cluster.bases {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let up = cluster
                    .client
                    .get(format!("{base}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if up {
                    break;
                }
                assert!(Instant::now() < deadline, "{base} did not start");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        cluster
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.bases[0]))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.admin("POST", path, Some(body)).await;
        assert_eq!(status, 201, "{path}: {v}");
        v
    }
}

/// Org, project, key, and a grant of `amount`: (key, org id, grant id).
async fn tenant_with_grant(c: &Cluster, amount: i64) -> (String, String, String) {
    let (key, org, grant, _) = tenant_with_grant_and_key_id(c, amount).await;
    (key, org, grant)
}

/// As [`tenant_with_grant`], plus the key's id.
async fn tenant_with_grant_and_key_id(
    c: &Cluster,
    amount: i64,
) -> (String, String, String, String) {
    let org = c.create("/admin/v1/orgs", json!({"name": "startup"})).await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let project = c
        .create(
            &format!("/admin/v1/orgs/{org_id}/projects"),
            json!({"name": "app"}),
        )
        .await;
    let key = c
        .create(
            &format!(
                "/admin/v1/projects/{}/keys",
                project["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let programme = c
        .create(
            "/admin/v1/programmes",
            json!({"name": "voucher", "sponsor": "ministry", "budget": amount}),
        )
        .await;
    let grant = c
        .create(
            &format!(
                "/admin/v1/programmes/{}/grants",
                programme["id"].as_str().unwrap()
            ),
            json!({"org_id": org_id, "amount": amount}),
        )
        .await;
    (
        key["key"].as_str().unwrap().to_owned(),
        org_id,
        grant["id"].as_str().unwrap().to_owned(),
        key["id"].as_str().unwrap().to_owned(),
    )
}

/// 500 requests, each worth exactly 10 milli-won (10 output tokens at 1,000 won per million,
/// held and spent in full), at a grant of 1,000: exactly 100 succeed.
async fn five_hundred_against_one_hundred(c: &Cluster) {
    let (key, _org, grant_id) = tenant_with_grant(c, 1_000).await;
    let mut tasks = Vec::new();
    for i in 0..500 {
        let client = c.client.clone();
        let url = format!("{}/v1/chat/completions", c.bases[i % c.bases.len()]);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({
                    "model": "metered",
                    "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hello mock:content=10"}],
                }))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => {
                assert_eq!(body["usage"]["completion_tokens"], 10, "{body}");
                ok += 1;
            }
            429 => {
                assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, refused), (100, 400));

    // Settlements are written off the response path; wait for them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, g) = c
            .admin("GET", &format!("/admin/v1/grants/{grant_id}"), None)
            .await;
        if g["reserved"] == 0 {
            assert_eq!(g["spent"], 1_000, "{g}");
            break;
        }
        assert!(Instant::now() < deadline, "reservations never settled: {g}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, report) = c.admin("GET", "/admin/v1/ledger/verify", None).await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["entries"].as_i64().unwrap() >= 201, "{report}");

    let balance: Value = c
        .client
        .get(format!("{}/v1/balance", c.bases[0]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &balance["granted"],
            &balance["spent"],
            &balance["reserved"],
            &balance["remaining"]
        ),
        (&json!(1_000), &json!(1_000), &json!(0), &json!(0)),
        "{balance}"
    );
    assert_eq!(balance["grants"][0]["id"], grant_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nuri.db", dir.path().display());
    let c = Cluster::start(1, &url).await;
    five_hundred_against_one_hundred(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_holds_on_postgres() {
    let db = PgDb::create().await;
    {
        let c = Cluster::start(1, &db.url).await;
        five_hundred_against_one_hundred(&c).await;
    }
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_holds_across_three_processes_on_postgres() {
    let db = PgDb::create().await;
    {
        let c = Cluster::start(3, &db.url).await;
        five_hundred_against_one_hundred(&c).await;
    }
    db.drop_now().await;
}

/// Statements, tenant isolation and bad input, on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_balance_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nuri.db", dir.path().display());
    let c = Cluster::start(1, &url).await;
    let (key, org_id, grant_id) = tenant_with_grant(&c, 100_000).await;
    let (other_key, _, _) = tenant_with_grant(&c, 5).await;

    // An organisation without enough credit is refused before anything is forwarded.
    let refused = c
        .client
        .post(format!("{}/v1/chat/completions", c.bases[0]))
        .bearer_auth(&other_key)
        .json(&json!({"model": "metered", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota");

    for i in 0..3 {
        let res = c
            .client
            .post(format!("{}/v1/chat/completions", c.bases[0]))
            .bearer_auth(&key)
            .json(
                &json!({"model": "metered", "max_tokens": 20, "stream": i == 2,
                          "messages": [{"role": "user", "content": "hi mock:content=7"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let _ = res.text().await.unwrap();
    }
    // Three requests of 7 output tokens: 7 milli-won each.
    let from = "2020-01-01T00:00:00Z";
    let to = "2100-01-01T00:00:00Z";
    let deadline = Instant::now() + Duration::from_secs(20);
    let statement = loop {
        let (status, s) = c
            .admin(
                "GET",
                &format!("/admin/v1/statements?kind=org&org={org_id}&from={from}&to={to}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{s}");
        if s["total_cost"] == 21 && s["reconciled"] == true {
            break s;
        }
        assert!(Instant::now() < deadline, "statement never reconciled: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(statement["lines"][0]["grant_id"], grant_id.as_str());
    assert_eq!(statement["lines"][0]["requests"], 3);
    assert_eq!(statement["ledger"]["settled"], 21);
    let (_, provider) = c
        .admin(
            "GET",
            &format!("/admin/v1/statements?kind=provider&from={from}&to={to}"),
            None,
        )
        .await;
    assert_eq!(provider["lines"][0]["provider"], "acme");
    assert_eq!(provider["total_paid_by_grants"], 21);
    let csv = c
        .client
        .get(format!(
            "{}/admin/v1/statements?kind=org&org={org_id}&from={from}&to={to}&format=csv",
            c.bases[0]
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("period,org_id,grant_id,"), "{csv}");
    assert!(csv.contains(&format!(",{grant_id},")), "{csv}");
    assert!(csv.trim_end().ends_with(",21"), "{csv}");

    // Each tenant sees only its own organisation's money.
    let mine: Value = c
        .client
        .get(format!("{}/v1/balance", c.bases[0]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["granted"], 100_000);
    assert_eq!(mine["spent"], 21);
    assert_eq!(mine["grants"].as_array().unwrap().len(), 1);
    let theirs: Value = c
        .client
        .get(format!("{}/v1/balance", c.bases[0]))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["granted"], 5);
    assert_ne!(theirs["grants"][0]["id"], grant_id.as_str());

    // Bad input: 400 naming the field, nothing written.
    let (_, programme) = c
        .admin(
            "POST",
            "/admin/v1/programmes",
            Some(json!({"name": "p", "sponsor": "s", "budget": 1_000})),
        )
        .await;
    let pid = programme["id"].as_str().unwrap();
    let grants = format!("/admin/v1/programmes/{pid}/grants");
    for (body, param) in [
        (json!({"org_id": org_id, "amount": 0}), "amount"),
        (json!({"org_id": org_id, "amount": -5}), "amount"),
        (json!({"org_id": org_id, "amount": 1.5}), "amount"),
        (json!({"org_id": org_id, "amount": "100"}), "amount"),
        (json!({"org_id": "org_nope", "amount": 10}), "org_id"),
        (json!({"org_id": org_id, "amount": 1_001}), "amount"),
        (
            json!({"org_id": org_id, "amount": 10, "starts_at": "2026-12-01T00:00:00Z",
                   "ends_at": "2026-11-01T00:00:00Z"}),
            "ends_at",
        ),
    ] {
        let (status, err) = c.admin("POST", &grants, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {err}");
        assert_eq!(err["error"]["param"], param, "{body} → {err}");
    }
    for body in [
        json!({"name": "p", "sponsor": "s", "budget": 0}),
        json!({"name": "p", "sponsor": "s", "budget": 10.5}),
        json!({"name": "p", "sponsor": "s", "budget": 10, "currency": "USD"}),
    ] {
        let (status, err) = c
            .admin("POST", "/admin/v1/programmes", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {err}");
    }
    let (_, list) = c.admin("GET", &grants, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing written");
    let (_, p) = c
        .admin("GET", &format!("/admin/v1/programmes/{pid}"), None)
        .await;
    assert_eq!(p["allocated"], 0);
    let (status, _) = c
        .admin("GET", "/admin/v1/statements?period=2026-13", None)
        .await;
    assert_eq!(status, 400);

    // The CLI: ledger verify exits 0 on a good ledger; statements print as CSV.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nuri"))
            .args(["admin", "--url", &c.bases[0], "--token", ADMIN])
            .args(args)
            .output()
            .unwrap()
    };
    let verify = cli(&["--json", "ledger", "verify"]);
    assert!(verify.status.success(), "{verify:?}");
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let out = cli(&[
        "statement",
        "org",
        "--org",
        &org_id,
        "--from",
        from,
        "--to",
        to,
        "--csv",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("period,org_id,"), "{text}");
    let refused = cli(&["grants", "top-up", &grant_id, "--amount", "-1"]);
    assert!(!refused.status.success());
}

/// A key's daily spending cap, set through the CLI, refuses what would go over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_spending_cap_refuses_beyond_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nuri.db", dir.path().display());
    let c = Cluster::start(1, &url).await;
    let (key, _, _, key_id) = tenant_with_grant_and_key_id(&c, 100_000).await;
    let out = Command::new(env!("CARGO_BIN_EXE_nuri"))
        .args(["admin", "--url", &c.bases[0], "--token", ADMIN, "--json"])
        .args(["keys", "limits", &key_id, "--spend-per-day", "25"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let updated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(updated["limits"]["spend_per_day"], 25);
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the key cache's lifetime
    let mut statuses = Vec::new();
    for _ in 0..3 {
        // Worst case 10 (10 output tokens at 1,000 won/M), actual 10.
        let res = c
            .client
            .post(format!("{}/v1/chat/completions", c.bases[0]))
            .bearer_auth(&key)
            .json(&json!({"model": "metered", "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi mock:content=10"}]}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if status == 429 {
            assert_eq!(body["error"]["code"], "insufficient_quota");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("daily spending cap"),
                "{body}"
            );
        }
        statuses.push(status);
        tokio::time::sleep(Duration::from_millis(300)).await; // let the settlement land
    }
    assert_eq!(statuses, vec![200, 200, 429]);
}

/// SIGTERM drains the usage and credit writers and exits promptly, with everything written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nuri.db", dir.path().display());
    let mut c = Cluster::start(1, &url).await;
    let (key, _, grant_id) = tenant_with_grant(&c, 1_000).await;
    let res = c
        .client
        .post(format!("{}/v1/chat/completions", c.bases[0]))
        .bearer_auth(&key)
        .json(&json!({"model": "metered", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi mock:content=4"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pid = c.procs[0].id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = c.procs[0].try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "nuri did not exit within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    // Everything was written before exit: the grant shows the settled charge.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let (spent, reserved): (i64, i64) =
        sqlx::query_as("SELECT spent, reserved FROM grants WHERE id = $1")
            .bind(&grant_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((spent, reserved), (4, 0));
    let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_records WHERE grant_id = $1")
        .bind(&grant_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(records, 1);
    pool.close().await;
}
