//! `nuri-provider-mock`: one of the byte-faithful provider mocks (Anthropic, Gemini, CLOVA
//! Studio) as a standalone server, for trying Nuri out without provider accounts and for the
//! Python SDK suite. Prints `<kind> http://<address>` on stdout once it listens (so a caller that
//! asked for port 0 can read the port), then serves until Ctrl-C or SIGTERM.
//!
//! The answer is chosen by the upstream model name (`text`, `tool`, `rate-limited`, …; see
//! `nuri_provider_mocks::scenario`); the only accepted API key is
//! `nuri_provider_mocks::MOCK_KEY`.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use nuri_provider_mocks::{Kind, MockServer};

/// Mock Anthropic / Gemini / CLOVA Studio upstream.
#[derive(Debug, Parser)]
#[command(name = "nuri-provider-mock", version)]
struct Args {
    /// Which provider to imitate: anthropic, gemini or clova (CLOVA serves v3 and v1).
    #[arg(long, value_parser = parse_kind)]
    kind: Kind,
    /// Address to listen on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| format!("{s:?} is not one of anthropic, gemini, clova"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("nuri-provider-mock: cannot start runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let server = MockServer::serve_on(args.kind, listener)?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{} {}", args.kind.name(), server.base_url)?;
        stdout.flush()?;
        shutdown_signal().await;
        drop(server);
        Ok(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nuri-provider-mock: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
