//! Reference point for the benchmark: a plain candle loop (candle-transformers' `quantized_llama`,
//! Q4_1 re-quantised to Q8_0, one sequence, greedy) on the same file and prompt, under the same
//! machine load as `bench`.
//!
//! `cargo run --release -p nuri-engine --example candle_baseline -- [--model FILE] [--tokens 128]`

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, IndexOp, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use clap::Parser;
use nuri_engine::{ChatEngine, EngineOptions};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 128)]
    tokens: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let path = args.model.unwrap_or_else(|| {
        let dir = std::env::var("NURI_MODELS_DIR")
            .unwrap_or_else(|_| nuri_engine::DEFAULT_MODELS_DIR.into());
        PathBuf::from(dir).join(nuri_engine::BUILTIN_CHAT_MODEL)
    });
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    let prompt = {
        let engine = ChatEngine::load(&path, EngineOptions::default())?;
        engine.tokenize("Chapter 1. Once upon a time, in a kingdom far away, there lived")?
    };
    let cpu = Device::Cpu;
    let mut reader = std::fs::File::open(&path)?;
    let ct = gguf_file::Content::read(&mut reader)?;
    let mut tensors = Vec::new();
    for name in ct.tensor_infos.keys() {
        let t = ct.tensor(&mut reader, name, &cpu)?;
        let t = if t.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&t.dequantize(&cpu)?, GgmlDType::Q8_0)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }
    let md: Vec<(&str, &gguf_file::Value)> =
        ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut buf = Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &md, &ts)?;
    drop(tensors);
    buf.set_position(0);
    let ct = gguf_file::Content::read(&mut buf)?;
    let mut model = ModelWeights::from_gguf(ct, &mut buf, &cpu)?;
    drop(buf);

    let start = Instant::now();
    let input = Tensor::new(prompt.as_slice(), &cpu)?.unsqueeze(0)?;
    let logits = model.forward(&input, 0)?;
    let mut next = logits.i(0)?.argmax(0)?.to_scalar::<u32>()?;
    let prefill = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..args.tokens {
        let input = Tensor::new(&[next], &cpu)?.unsqueeze(0)?;
        let logits = model.forward(&input, prompt.len() + i)?;
        next = logits.i(0)?.argmax(0)?.to_scalar::<u32>()?;
    }
    let decode = start.elapsed().as_secs_f64();
    println!(
        "plain candle quantized_llama (Q8_0, 1 thread): prompt {} tokens in {:.3} s, decode {:.1} tok/s",
        prompt.len(),
        prefill,
        args.tokens as f64 / decode
    );
    Ok(())
}
