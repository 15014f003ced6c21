//! `nuri-mock-upstream`: the mock OpenAI-compatible upstream as a standalone server for
//! benchmarks and manual testing. Scenarios are chosen per request exactly as in the library
//! (`mock:` directives in the last user message; see `nuri_testkit::openai`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use nuri_testkit::MockConfig;

/// Mock OpenAI-compatible upstream (chat, completions, embeddings, models).
#[derive(Debug, Parser)]
#[command(name = "nuri-mock-upstream", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Tokio worker threads (1 runs a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Chunks in the default stream, role and finish chunks included (10 = role, 8 content,
    /// finish). At least 2.
    #[arg(long, default_value_t = 10)]
    chunks: usize,
    /// Delay before the first byte of every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Delay between SSE events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Require `Authorization: Bearer <KEY>`.
    #[arg(long)]
    api_key: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = MockConfig {
        content_chunks: args.chunks.saturating_sub(2),
        first_byte_delay: Duration::from_millis(args.delay_ms),
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        api_key: args.api_key.clone(),
        // A benchmark must not grow memory with every request.
        record_requests: false,
        ..MockConfig::default()
    };
    let runtime = if args.workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.workers)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("nuri-mock-upstream: cannot start runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        eprintln!(
            "nuri-mock-upstream listening on http://{}/v1 ({} worker(s), {} chunks)",
            listener.local_addr()?,
            args.workers.max(1),
            args.chunks
        );
        nuri_testkit::openai::serve(listener, config, shutdown_signal()).await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nuri-mock-upstream: {err}");
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
