//! `nuri`: the composition root and command line.
//!
//! `nuri serve` runs the gateway, `nuri migrate` applies database migrations, `nuri admin …`
//! manages tenants over the admin API (and `nuri admin bootstrap` creates the first operator
//! directly in the database).

use nuri::commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Nuri: one OpenAI-compatible gateway to many model providers.
#[derive(Parser)]
#[command(name = "nuri", version, about)]
struct Cli {
    /// Settings file (default: ./nuri.toml if present, else built-in defaults).
    #[arg(long, global = true, env = "NURI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage organisations, projects, keys and members.
    Admin(Box<commands::admin::AdminArgs>),
    /// Find or remove personal information in text.
    #[command(subcommand)]
    Pii(commands::pii::PiiCommand),
}

/// mimalloc instead of the system allocator: a request makes many small, short-lived
/// allocations on several threads, and glibc's malloc took about a fifth of the gateway's CPU
/// (see `bench/RESULTS.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Pii(cmd) = cli.command {
        return commands::pii::run(cmd);
    }
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nuri: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => commands::serve::run(cli.config.as_deref()).await,
            Command::Migrate => commands::migrate::run(cli.config.as_deref()).await,
            Command::Admin(args) => commands::admin::run(cli.config.as_deref(), *args).await,
            Command::Pii(_) => Ok(ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("nuri: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NURI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
