//! `nuri admin …`: the admin API from the command line (`--url`, `--token`, `--json`), plus
//! `bootstrap`, which creates the first operator directly in the database.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::admin_credits as credits;

/// `nuri admin` arguments.
#[derive(Args)]
pub struct AdminArgs {
    /// Nuri's base URL.
    #[arg(
        long,
        env = "NURI_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// Admin token (an operator token from bootstrap, or NURI_ADMIN_TOKEN).
    #[arg(long, env = "NURI_ADMIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the first operator member in the database and print its token once.
    Bootstrap {
        /// Member name.
        #[arg(long, default_value = "operator")]
        name: String,
    },
    /// Organisations.
    #[command(subcommand)]
    Orgs(OrgCommand),
    /// Projects.
    #[command(subcommand)]
    Projects(ProjectCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Admin members.
    #[command(subcommand)]
    Members(MemberCommand),
    /// Usage records.
    Usage(UsageArgs),
    /// Credit programmes.
    #[command(subcommand)]
    Programmes(credits::ProgrammeCommand),
    /// Grants of credit to organisations.
    #[command(subcommand)]
    Grants(credits::GrantCommand),
    /// The credit ledger.
    #[command(subcommand)]
    Ledger(credits::LedgerCommand),
    /// A provider or organisation statement for a period.
    Statement(credits::StatementArgs),
    /// Credit reservations (orphaned ones can be refunded).
    #[command(subcommand)]
    Reservations(credits::ReservationCommand),
}

#[derive(Args)]
struct LimitArgs {
    /// Requests per minute ("none" clears).
    #[arg(long)]
    rpm: Option<String>,
    /// Tokens per minute ("none" clears).
    #[arg(long)]
    tpm: Option<String>,
    /// Concurrent requests ("none" clears).
    #[arg(long)]
    max_concurrent: Option<String>,
    /// Spending cap per day, milli-won ("none" clears; keys and projects).
    #[arg(long)]
    spend_per_day: Option<String>,
    /// Spending cap per month, milli-won ("none" clears; keys and projects).
    #[arg(long)]
    spend_per_month: Option<String>,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organisation.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// List organisations.
    List,
    /// Show one organisation.
    Get {
        /// Organisation id.
        id: String,
    },
    /// Set an organisation's rate limits.
    Limits {
        /// Organisation id.
        id: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project.
    Create {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// List an organisation's projects.
    List {
        /// Organisation id.
        #[arg(long)]
        org: String,
    },
    /// Set a project's rate limits.
    Limits {
        /// Project id.
        id: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key (the key is shown once).
    Create {
        /// Project id.
        #[arg(long)]
        project: String,
        /// Label.
        #[arg(long)]
        name: Option<String>,
        /// Expiry (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List a project's keys.
    List {
        /// Project id.
        #[arg(long)]
        project: String,
    },
    /// Revoke a key.
    Revoke {
        /// Key id.
        id: String,
    },
    /// Set a key's rate limits.
    Limits {
        /// Key id.
        id: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Create a member (the token is shown once).
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Role: operator, sponsor, org_admin, developer, auditor, steward.
        #[arg(long)]
        role: String,
        /// Scope id (programme or organisation).
        #[arg(long)]
        scope: Option<String>,
    },
    /// List members.
    List,
}

#[derive(Args)]
struct UsageArgs {
    /// Organisation id.
    #[arg(long)]
    org: Option<String>,
    /// Project id.
    #[arg(long)]
    project: Option<String>,
    /// Key id.
    #[arg(long)]
    key: Option<String>,
    /// Public model.
    #[arg(long)]
    model: Option<String>,
    /// Provider.
    #[arg(long)]
    provider: Option<String>,
    /// Request id.
    #[arg(long)]
    request_id: Option<String>,
    /// From (RFC 3339 or Unix seconds).
    #[arg(long)]
    from: Option<String>,
    /// To (RFC 3339 or Unix seconds).
    #[arg(long)]
    to: Option<String>,
    /// Page size.
    #[arg(long)]
    limit: Option<u32>,
}

/// Runs an admin command.
pub async fn run(config: Option<&Path>, args: AdminArgs) -> Result<ExitCode, String> {
    if let AdminCommand::Bootstrap { name } = &args.command {
        return bootstrap(config, name, args.json).await;
    }
    let client = Client {
        http: reqwest::Client::new(),
        base: args.url.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
    };
    let (value, table_hint) = match args.command {
        AdminCommand::Bootstrap { .. } => unreachable_bootstrap(),
        AdminCommand::Orgs(c) => match c {
            OrgCommand::Create { name } => (
                client
                    .send("POST", "/admin/v1/orgs", Some(json!({"name": name})))
                    .await?,
                None,
            ),
            OrgCommand::List => (
                client
                    .send("GET", "/admin/v1/orgs?limit=1000", None)
                    .await?,
                Some(&["id", "name", "created_at"][..]),
            ),
            OrgCommand::Get { id } => (
                client
                    .send("GET", &format!("/admin/v1/orgs/{id}"), None)
                    .await?,
                None,
            ),
            OrgCommand::Limits { id, limits } => (
                client
                    .send(
                        "PATCH",
                        &format!("/admin/v1/orgs/{id}"),
                        Some(limits_patch(&limits)?),
                    )
                    .await?,
                None,
            ),
        },
        AdminCommand::Projects(c) => match c {
            ProjectCommand::Create { org, name } => (
                client
                    .send(
                        "POST",
                        &format!("/admin/v1/orgs/{org}/projects"),
                        Some(json!({"name": name})),
                    )
                    .await?,
                None,
            ),
            ProjectCommand::List { org } => (
                client
                    .send(
                        "GET",
                        &format!("/admin/v1/orgs/{org}/projects?limit=1000"),
                        None,
                    )
                    .await?,
                Some(&["id", "org_id", "name", "created_at"][..]),
            ),
            ProjectCommand::Limits { id, limits } => (
                client
                    .send(
                        "PATCH",
                        &format!("/admin/v1/projects/{id}"),
                        Some(limits_patch(&limits)?),
                    )
                    .await?,
                None,
            ),
        },
        AdminCommand::Keys(c) => match c {
            KeyCommand::Create {
                project,
                name,
                expires_at,
            } => {
                let mut body = Map::new();
                if let Some(n) = name {
                    body.insert("name".into(), Value::String(n));
                }
                if let Some(e) = expires_at {
                    body.insert("expires_at".into(), Value::String(e));
                }
                (
                    client
                        .send(
                            "POST",
                            &format!("/admin/v1/projects/{project}/keys"),
                            Some(Value::Object(body)),
                        )
                        .await?,
                    None,
                )
            }
            KeyCommand::List { project } => (
                client
                    .send(
                        "GET",
                        &format!("/admin/v1/projects/{project}/keys?limit=1000"),
                        None,
                    )
                    .await?,
                Some(&["id", "prefix", "name", "expires_at", "revoked_at"][..]),
            ),
            KeyCommand::Revoke { id } => (
                client
                    .send("DELETE", &format!("/admin/v1/keys/{id}"), None)
                    .await?,
                None,
            ),
            KeyCommand::Limits { id, limits } => (
                client
                    .send(
                        "PATCH",
                        &format!("/admin/v1/keys/{id}"),
                        Some(limits_patch(&limits)?),
                    )
                    .await?,
                None,
            ),
        },
        AdminCommand::Members(c) => match c {
            MemberCommand::Create { name, role, scope } => (
                client
                    .send(
                        "POST",
                        "/admin/v1/members",
                        Some(json!({"name": name, "role": role, "scope": scope})),
                    )
                    .await?,
                None,
            ),
            MemberCommand::List => (
                client
                    .send("GET", "/admin/v1/members?limit=1000", None)
                    .await?,
                Some(&["id", "name", "role", "scope"][..]),
            ),
        },
        AdminCommand::Usage(u) => {
            let mut q = Vec::new();
            for (k, v) in [
                ("org", u.org),
                ("project", u.project),
                ("key", u.key),
                ("model", u.model),
                ("provider", u.provider),
                ("request_id", u.request_id),
                ("from", u.from),
                ("to", u.to),
                ("limit", u.limit.map(|l| l.to_string())),
            ] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", urlencode(&v)));
                }
            }
            (
                client
                    .send("GET", &format!("/admin/v1/usage?{}", q.join("&")), None)
                    .await?,
                Some(
                    &[
                        "request_id",
                        "model",
                        "provider",
                        "prompt_tokens",
                        "completion_tokens",
                        "cost",
                        "status",
                    ][..],
                ),
            )
        }
        AdminCommand::Programmes(c) => credits::programmes(&client, c).await?,
        AdminCommand::Grants(c) => credits::grants(&client, c).await?,
        AdminCommand::Ledger(c) => {
            let (value, hint) = credits::ledger(&client, c).await?;
            print_value(&value, args.json, hint);
            let ok = value["ok"].as_bool() == Some(true);
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        AdminCommand::Statement(a) => match credits::statement(&client, a).await? {
            (Value::String(csv), true) => {
                print!("{csv}");
                return Ok(ExitCode::SUCCESS);
            }
            (value, _) => (value, None),
        },
        AdminCommand::Reservations(c) => credits::reservations(&client, c).await?,
    };
    print_value(&value, args.json, table_hint);
    Ok(ExitCode::SUCCESS)
}

fn unreachable_bootstrap() -> (Value, Option<&'static [&'static str]>) {
    (Value::Null, None)
}

pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn limits_patch(l: &LimitArgs) -> Result<Value, String> {
    let mut m = Map::new();
    for (name, v) in [
        ("requests_per_minute", &l.rpm),
        ("tokens_per_minute", &l.tpm),
        ("max_concurrent", &l.max_concurrent),
        ("spend_per_day", &l.spend_per_day),
        ("spend_per_month", &l.spend_per_month),
    ] {
        if let Some(v) = v {
            let value = if v == "none" {
                Value::Null
            } else {
                Value::from(
                    v.parse::<u64>()
                        .map_err(|_| format!("--{name}: {v:?} is not a number or \"none\""))?,
                )
            };
            m.insert(name.into(), value);
        }
    }
    if m.is_empty() {
        return Err(
            "give at least one of --rpm, --tpm, --max-concurrent, --spend-per-day, --spend-per-month"
                .into(),
        );
    }
    Ok(json!({"limits": m}))
}

/// The admin API client.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// Sends one admin call; non-2xx becomes `Err` with the error's message.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let token = self
            .token
            .as_deref()
            .ok_or("no admin token: pass --token or set NURI_ADMIN_TOKEN")?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let response = rb
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let value: Value = if text.is_empty() {
            json!({"ok": true})
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let msg = value["error"]["message"]
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            return Err(format!("HTTP {}: {msg}", status.as_u16()));
        }
        Ok(value)
    }
}

fn print_value(value: &Value, as_json: bool, columns: Option<&[&str]>) {
    if as_json || !std::io::stdout().is_terminal() {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    match (value.get("data").and_then(Value::as_array), columns) {
        (Some(rows), Some(cols)) => {
            let cell = |row: &Value, c: &str| match &row[c] {
                Value::Null => "-".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let widths: Vec<usize> = cols
                .iter()
                .map(|c| {
                    rows.iter()
                        .map(|r| cell(r, c).len())
                        .max()
                        .unwrap_or(0)
                        .max(c.len())
                })
                .collect();
            let line = |vals: Vec<String>| {
                vals.iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            println!("{}", line(cols.iter().map(|c| c.to_uppercase()).collect()));
            for r in rows {
                println!("{}", line(cols.iter().map(|c| cell(r, c)).collect()));
            }
        }
        _ => {
            if let Some(obj) = value.as_object() {
                for (k, v) in obj {
                    let shown = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    println!("{k:<12} {shown}");
                }
            } else {
                println!("{value}");
            }
        }
    }
}

async fn bootstrap(config: Option<&Path>, name: &str, as_json: bool) -> Result<ExitCode, String> {
    use nuri_core::store::TenancyStore;
    let config = nuri_config::Config::load(config).map_err(|e| e.to_string())?;
    let store = crate::compose::store(&config).await?;
    let member = nuri_core::tenancy::Member {
        id: nuri_types::ids::new_id("mem"),
        name: name.to_owned(),
        role: nuri_core::tenancy::Role::Operator,
        scope: None,
        created_at: nuri_core::time::now_ms(),
        revoked_at: None,
    };
    let token = nuri_core::auth::new_admin_token();
    store
        .create_member(&member, &nuri_core::auth::hash_secret(&token))
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    if as_json {
        println!(
            "{}",
            json!({"id": member.id, "role": "operator", "token": token})
        );
    } else {
        println!("Created operator {} ({}).", member.name, member.id);
        println!("Admin token (shown once; keep it secret):\n{token}");
    }
    Ok(ExitCode::SUCCESS)
}
