//! `nuri-pii-eval`: score the engine on the generated set, write bulk text, or run a
//! `nuri pii scan`-style streaming pass over stdin.
//!
//! ```text
//! nuri-pii-eval score [SEED] [DOCS]      # Markdown table of P/R/F1 and false alarms
//! nuri-pii-eval gen MB [SEED]            # MB megabytes of evaluation-style text (dense PII)
//! nuri-pii-eval chat MB                  # MB megabytes of the benchmark's realistic chat lines
//! nuri-pii-eval scan [--redact]          # stream stdin → JSON lines (or redacted text) on stdout
//! ```

use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

use nuri_pii::json::{span_json_line, SpanRecord};
use nuri_pii::{RedactMode, Redactor, Scanner, StreamScanner};
use nuri_pii_eval::{bulk_text, chat_text, gen, score};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let result = match args.first().map(String::as_str) {
        Some("score") => cmd_score(arg(1).unwrap_or(7), arg(2).unwrap_or(20_000) as usize),
        Some("gen") => cmd_gen(arg(1).unwrap_or(100) as usize, arg(2).unwrap_or(1)),
        Some("chat") => cmd_chat(arg(1).unwrap_or(100) as usize),
        Some("scan") => cmd_scan(args.iter().any(|a| a == "--redact")),
        _ => {
            eprintln!("usage: nuri-pii-eval score [SEED] [DOCS] | gen MB [SEED] | chat MB | scan [--redact]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn cmd_score(seed: u64, n: usize) -> io::Result<()> {
    let scanner = Scanner::new();
    let docs = gen::generate(seed, n);
    let t = Instant::now();
    let rep = score::score(&scanner, &docs);
    let secs = t.elapsed().as_secs_f64();
    let mut out = io::stdout().lock();
    writeln!(out, "seed {seed}, {n} documents\n")?;
    write!(out, "{}", rep.to_markdown())?;
    if std::env::var_os("PII_EVAL_EXAMPLES").is_some() {
        for e in &rep.examples {
            writeln!(out, "{e}")?;
        }
    }
    eprintln!("scored in {secs:.2}s");
    Ok(())
}

fn cmd_gen(mb: usize, seed: u64) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let mut written = 0usize;
    let target = mb * 1_000_000;
    let mut s = String::new();
    let mut part = 0u64;
    while written < target {
        s.clear();
        bulk_text(
            seed.wrapping_mul(1_000_003).wrapping_add(part),
            1 << 20,
            &mut s,
        );
        out.write_all(s.as_bytes())?;
        written += s.len();
        part += 1;
    }
    out.flush()
}

fn cmd_chat(mb: usize) -> io::Result<()> {
    let mut s = String::new();
    chat_text(1 << 20, &mut s);
    // Whole copies of the 1 MiB block, so the text is exactly periodic.
    let mut out = BufWriter::new(io::stdout().lock());
    let mut written = 0;
    while written < mb * 1_000_000 {
        out.write_all(s.as_bytes())?;
        written += s.len();
    }
    out.flush()
}

/// Length of `b` without a trailing incomplete UTF-8 sequence.
/// Streams stdin like `nuri pii scan` (one JSON line per span) or `nuri pii redact`.
fn cmd_scan(redact: bool) -> io::Result<()> {
    let scanner = Scanner::new();
    let mut ss = StreamScanner::new(&scanner);
    let mut redactor = Redactor::new(RedactMode::Label);
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let t = Instant::now();
    let (mut bytes, mut spans) = (0usize, 0usize);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut emit = |chunks: Vec<nuri_pii::Chunk>, out: &mut BufWriter<_>| -> io::Result<()> {
        for c in chunks {
            spans += c.spans.len();
            if redact {
                out.write_all(redactor.redact(&c.text, &c.spans).as_bytes())?;
            } else {
                for s in &c.spans {
                    let rec = SpanRecord::new(&c.text, s, c.char_offset);
                    out.write_all(span_json_line(&rec).as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    };
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n;
        pending.extend_from_slice(&buf[..n]);
        // Hand over only complete UTF-8; keep a split character for the next read.
        // Hand over only complete characters (validated once); keep a split one for later.
        let valid = nuri_pii::complete_utf8_prefix(&pending);
        match std::str::from_utf8(&pending[..valid]) {
            Ok(text) => emit(ss.push(text), &mut out)?,
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        pending.drain(..valid);
    }
    if !pending.is_empty() {
        let e = "input ends inside a UTF-8 character";
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    emit(ss.finish().into_iter().collect(), &mut out)?;
    out.flush()?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{bytes} bytes, {spans} spans, {secs:.2}s, {:.1} MB/s",
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}
