//! Engine benchmark: load time, prompt tokens/s, time to first token, single-stream decode
//! tokens/s, aggregate tokens/s with N concurrent streams (over the whole run, and while all N
//! are decoding), peak RSS.
//!
//! `cargo run --release -p nuri-engine --example bench -- [--model FILE] [--tokens 128] [--streams 8]`

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use nuri_engine::{ChatEngine, ChatTurn, EngineOptions, GenerateRequest, GenerationEvent, Prompt};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: Option<PathBuf>,
    /// Tokens generated per stream.
    #[arg(long, default_value_t = 128)]
    tokens: u32,
    /// Concurrent streams for the aggregate figure.
    #[arg(long, default_value_t = 8)]
    streams: usize,
    /// Compute threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Decodes `max_tokens` greedily, ignoring EOS by asking for text the model keeps writing.
fn story(i: usize, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Text(format!(
            "Chapter {}. Once upon a time, in a kingdom far away, there lived",
            i + 1
        )),
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..GenerateRequest::default()
    }
}

struct Run {
    ttft_s: f64,
    total_s: f64,
    completion_tokens: usize,
    /// When each text event arrived, seconds after `origin`.
    text_at: Vec<f64>,
}

async fn run(
    engine: &ChatEngine,
    req: GenerateRequest,
    origin: Instant,
) -> Result<Run, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut text_at = Vec::new();
    let mut g = engine.submit(req)?;
    let mut ttft = None;
    while let Some(ev) = g.events.recv().await {
        match ev {
            GenerationEvent::Text(_) => {
                ttft.get_or_insert_with(|| start.elapsed().as_secs_f64());
                text_at.push(origin.elapsed().as_secs_f64());
            }
            GenerationEvent::Done {
                completion_tokens, ..
            } => {
                return Ok(Run {
                    ttft_s: ttft.unwrap_or_default(),
                    total_s: start.elapsed().as_secs_f64(),
                    completion_tokens,
                    text_at,
                })
            }
            GenerationEvent::Error(e) => return Err(e.into()),
        }
    }
    Err("stream ended without Done".into())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let path = args.model.unwrap_or_else(|| {
        let dir = std::env::var("NURI_MODELS_DIR")
            .unwrap_or_else(|_| nuri_engine::DEFAULT_MODELS_DIR.into());
        PathBuf::from(dir).join(nuri_engine::BUILTIN_CHAT_MODEL)
    });
    let t = Instant::now();
    let engine = ChatEngine::load(
        &path,
        EngineOptions {
            threads: args.threads,
            queue_capacity: 64,
            max_batch: args.streams.max(1),
        },
    )?;
    println!("load: {:.2} s", t.elapsed().as_secs_f64());

    // Warm-up.
    run(&engine, story(0, 8), Instant::now()).await?;

    // Prompt processing: a ~500-token prompt, one output token.
    let long_prompt = "The quick brown fox jumps over the lazy dog. ".repeat(50);
    let turns = vec![ChatTurn::new("user", long_prompt.clone())];
    let prompt_tokens = engine.count_prompt_tokens(&turns)?;
    let r = run(
        &engine,
        GenerateRequest {
            prompt: Prompt::Chat(turns),
            max_tokens: Some(1),
            temperature: Some(0.0),
            ..Default::default()
        },
        Instant::now(),
    )
    .await?;
    println!(
        "prompt: {prompt_tokens} tokens in {:.3} s = {:.0} tok/s",
        r.total_s,
        prompt_tokens as f64 / r.total_s
    );

    // Single stream.
    let r = run(&engine, story(0, args.tokens), Instant::now()).await?;
    let decode = (r.completion_tokens.saturating_sub(1)) as f64 / (r.total_s - r.ttft_s);
    println!(
        "single stream: {} tokens, ttft {:.1} ms, decode {:.1} tok/s",
        r.completion_tokens,
        r.ttft_s * 1000.0,
        decode
    );

    // N concurrent streams.
    let start = Instant::now();
    let runs = futures::future::join_all(
        (0..args.streams).map(|i| run(&engine, story(i, args.tokens), start)),
    )
    .await;
    let wall = start.elapsed().as_secs_f64();
    let mut total = 0;
    let mut ttfts = Vec::new();
    let mut texts = Vec::new();
    let (mut all_started, mut first_done) = (0f64, f64::MAX);
    for r in runs {
        let r = r?;
        total += r.completion_tokens;
        ttfts.push(r.ttft_s);
        all_started = all_started.max(r.text_at.first().copied().unwrap_or_default());
        first_done = first_done.min(r.text_at.last().copied().unwrap_or_default());
        texts.extend(r.text_at);
    }
    // Steady state: text events while every stream was decoding (after the last one's first
    // token, before the first one's last), so prompt processing is left out as it is for the
    // single-stream figure.
    let steady = texts
        .iter()
        .filter(|&&t| t > all_started && t <= first_done)
        .count() as f64
        / (first_done - all_started);
    ttfts.sort_by(f64::total_cmp);
    println!(
        "{} streams: {total} tokens in {wall:.2} s = {:.1} tok/s aggregate ({:.2}x single), median ttft {:.0} ms",
        args.streams,
        total as f64 / wall,
        (total as f64 / wall) / decode,
        ttfts[ttfts.len() / 2] * 1000.0
    );
    println!(
        "{} streams, all decoding: {steady:.1} tok/s ({:.2}x single)",
        args.streams,
        steady / decode
    );
    println!("peak RSS: {:.0} MB", peak_rss_mb());
    Ok(())
}
