//! `nuri admin programmes|grants|ledger|statement|reservations`: credits over the admin API.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::admin::{urlencode, Client};

/// What a credit command printed: the answer and the table columns to show it with.
pub type Shown = (Value, Option<&'static [&'static str]>);

const GRANT_COLUMNS: &[&str] = &[
    "id",
    "org_id",
    "amount",
    "spent",
    "reserved",
    "remaining",
    "status",
    "ends_at",
];

/// `nuri admin programmes …`.
#[derive(Subcommand)]
pub enum ProgrammeCommand {
    /// Create a programme.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Sponsor (who pays).
        #[arg(long)]
        sponsor: String,
        /// Total budget in milli-won (1 KRW = 1,000).
        #[arg(long)]
        budget: i64,
    },
    /// List programmes.
    List,
    /// Show one programme.
    Get {
        /// Programme id.
        id: String,
    },
}

/// `nuri admin grants …`.
#[derive(Subcommand)]
pub enum GrantCommand {
    /// Grant credits from a programme to an organisation.
    Create {
        /// Programme id.
        #[arg(long)]
        programme: String,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Amount in milli-won.
        #[arg(long)]
        amount: i64,
        /// Start of validity (RFC 3339; default now).
        #[arg(long)]
        starts_at: Option<String>,
        /// End of validity (RFC 3339; default open-ended).
        #[arg(long)]
        ends_at: Option<String>,
        /// Models it may pay for (repeat; default any).
        #[arg(long = "model")]
        models: Vec<String>,
        /// Providers it may pay for (repeat; default any).
        #[arg(long = "provider")]
        providers: Vec<String>,
    },
    /// List grants.
    List {
        /// Only this programme's.
        #[arg(long)]
        programme: Option<String>,
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
    /// Show one grant.
    Get {
        /// Grant id.
        id: String,
    },
    /// Add credit to a grant from its programme's unallocated budget.
    TopUp {
        /// Grant id.
        id: String,
        /// Amount in milli-won.
        #[arg(long)]
        amount: i64,
    },
    /// Stop a grant paying for new requests (held ones still settle).
    Freeze {
        /// Grant id.
        id: String,
    },
    /// Let a frozen grant pay again.
    Unfreeze {
        /// Grant id.
        id: String,
    },
    /// End a grant; its unspent credit returns to the programme.
    Revoke {
        /// Grant id.
        id: String,
    },
}

/// `nuri admin ledger …`.
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute every balance from the ledger; exits 1 when anything does not match.
    Verify,
}

/// `nuri admin statement provider|org`.
#[derive(Args)]
pub struct StatementArgs {
    /// `provider` (what the sponsor owes each provider) or `org` (what each organisation used).
    kind: String,
    /// Calendar month in the billing time zone, e.g. 2026-11 (default: this month).
    #[arg(long)]
    period: Option<String>,
    /// Start (RFC 3339), with --to, instead of --period.
    #[arg(long)]
    from: Option<String>,
    /// End (RFC 3339, exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Only this organisation (org statements).
    #[arg(long)]
    org: Option<String>,
    /// Print CSV instead of JSON/table.
    #[arg(long)]
    csv: bool,
}

/// `nuri admin reservations …`.
#[derive(Subcommand)]
pub enum ReservationCommand {
    /// List reservations (e.g. --status orphaned).
    List {
        /// held, settled, orphaned or refunded.
        #[arg(long)]
        status: Option<String>,
    },
    /// Refund an orphaned reservation's charge to its grant.
    Refund {
        /// Reservation id.
        id: String,
    },
}

/// Runs a programme command.
pub async fn programmes(client: &Client, c: ProgrammeCommand) -> Result<Shown, String> {
    Ok(match c {
        ProgrammeCommand::Create {
            name,
            sponsor,
            budget,
        } => (
            client
                .send(
                    "POST",
                    "/admin/v1/programmes",
                    Some(json!({"name": name, "sponsor": sponsor, "budget": budget})),
                )
                .await?,
            None,
        ),
        ProgrammeCommand::List => (
            client
                .send("GET", "/admin/v1/programmes?limit=1000", None)
                .await?,
            Some(
                &[
                    "id",
                    "name",
                    "sponsor",
                    "budget",
                    "allocated",
                    "unallocated",
                ][..],
            ),
        ),
        ProgrammeCommand::Get { id } => (
            client
                .send("GET", &format!("/admin/v1/programmes/{id}"), None)
                .await?,
            None,
        ),
    })
}

/// Runs a grant command.
pub async fn grants(client: &Client, c: GrantCommand) -> Result<Shown, String> {
    let status = |id: String, s: &'static str| async move {
        client
            .send(
                "PATCH",
                &format!("/admin/v1/grants/{id}"),
                Some(json!({"status": s})),
            )
            .await
    };
    Ok(match c {
        GrantCommand::Create {
            programme,
            org,
            amount,
            starts_at,
            ends_at,
            models,
            providers,
        } => {
            let mut body = Map::new();
            body.insert("org_id".into(), Value::String(org));
            body.insert("amount".into(), Value::from(amount));
            for (k, v) in [("starts_at", starts_at), ("ends_at", ends_at)] {
                if let Some(v) = v {
                    body.insert(k.into(), Value::String(v));
                }
            }
            for (k, v) in [("models", models), ("providers", providers)] {
                if !v.is_empty() {
                    body.insert(k.into(), json!(v));
                }
            }
            (
                client
                    .send(
                        "POST",
                        &format!("/admin/v1/programmes/{programme}/grants"),
                        Some(Value::Object(body)),
                    )
                    .await?,
                None,
            )
        }
        GrantCommand::List { programme, org } => {
            let mut q = vec!["limit=1000".to_owned()];
            if let Some(p) = programme {
                q.push(format!("programme_id={}", urlencode(&p)));
            }
            if let Some(o) = org {
                q.push(format!("org_id={}", urlencode(&o)));
            }
            (
                client
                    .send("GET", &format!("/admin/v1/grants?{}", q.join("&")), None)
                    .await?,
                Some(GRANT_COLUMNS),
            )
        }
        GrantCommand::Get { id } => (
            client
                .send("GET", &format!("/admin/v1/grants/{id}"), None)
                .await?,
            None,
        ),
        GrantCommand::TopUp { id, amount } => (
            client
                .send(
                    "POST",
                    &format!("/admin/v1/grants/{id}/top_up"),
                    Some(json!({"amount": amount})),
                )
                .await?,
            None,
        ),
        GrantCommand::Freeze { id } => (status(id, "frozen").await?, None),
        GrantCommand::Unfreeze { id } => (status(id, "active").await?, None),
        GrantCommand::Revoke { id } => (
            client
                .send("DELETE", &format!("/admin/v1/grants/{id}"), None)
                .await?,
            None,
        ),
    })
}

/// Runs `ledger verify`.
pub async fn ledger(client: &Client, c: LedgerCommand) -> Result<Shown, String> {
    match c {
        LedgerCommand::Verify => Ok((
            client.send("GET", "/admin/v1/ledger/verify", None).await?,
            None,
        )),
    }
}

/// Fetches a statement; `Err` carries transport errors, `Ok((value, csv))` the answer.
pub async fn statement(client: &Client, a: StatementArgs) -> Result<(Value, bool), String> {
    let mut q = vec![format!("kind={}", urlencode(&a.kind))];
    for (k, v) in [
        ("period", a.period),
        ("from", a.from),
        ("to", a.to),
        ("org", a.org),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", urlencode(&v)));
        }
    }
    if a.csv {
        q.push("format=csv".into());
    }
    let value = client
        .send(
            "GET",
            &format!("/admin/v1/statements?{}", q.join("&")),
            None,
        )
        .await?;
    Ok((value, a.csv))
}

/// Runs a reservation command.
pub async fn reservations(client: &Client, c: ReservationCommand) -> Result<Shown, String> {
    Ok(match c {
        ReservationCommand::List { status } => {
            let q = status.map_or_else(String::new, |s| format!("&status={}", urlencode(&s)));
            (
                client
                    .send(
                        "GET",
                        &format!("/admin/v1/reservations?limit=1000{q}"),
                        None,
                    )
                    .await?,
                Some(
                    &[
                        "id",
                        "request_id",
                        "grant_id",
                        "model",
                        "amount",
                        "cost",
                        "status",
                    ][..],
                ),
            )
        }
        ReservationCommand::Refund { id } => (
            client
                .send("POST", &format!("/admin/v1/reservations/{id}/refund"), None)
                .await?,
            None,
        ),
    })
}
