//! Ask the local chat model one question: `cargo run --release -p nuri-engine --example chat -- [--model FILE] [--max-tokens N] [--temperature T] PROMPT`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use nuri_engine::{ChatEngine, ChatTurn, EngineOptions, GenerateRequest, GenerationEvent, Prompt};

#[derive(Parser)]
struct Args {
    /// GGUF file (default: the built-in SmolLM2 under $NURI_MODELS_DIR or ./models).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    max_tokens: u32,
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Complete raw text instead of chatting.
    #[arg(long)]
    raw: bool,
    prompt: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let path = args.model.unwrap_or_else(|| {
        let dir = std::env::var("NURI_MODELS_DIR")
            .unwrap_or_else(|_| nuri_engine::DEFAULT_MODELS_DIR.into());
        PathBuf::from(dir).join(nuri_engine::BUILTIN_CHAT_MODEL)
    });
    let engine = ChatEngine::load(&path, EngineOptions::default())?;
    let prompt = if args.raw {
        Prompt::Text(args.prompt)
    } else {
        Prompt::Chat(vec![ChatTurn::new("user", args.prompt)])
    };
    let mut generation = engine.submit(GenerateRequest {
        prompt,
        max_tokens: Some(args.max_tokens),
        temperature: Some(args.temperature),
        ..GenerateRequest::default()
    })?;
    while let Some(event) = generation.events.recv().await {
        match event {
            GenerationEvent::Text(t) => {
                print!("{t}");
                std::io::stdout().flush()?;
            }
            GenerationEvent::Done {
                finish_reason,
                prompt_tokens,
                completion_tokens,
            } => {
                println!(
                    "\n[{} | prompt {prompt_tokens} | completion {completion_tokens}]",
                    finish_reason.as_str()
                );
            }
            GenerationEvent::Error(e) => return Err(e.into()),
        }
    }
    Ok(())
}
