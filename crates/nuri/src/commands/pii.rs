//! `nuri pii scan|redact`: the data dam's PII engine on a document (stdin or `--file`), streamed
//! with flat memory. `scan` writes one JSON line per span (`{"start","end","label","text"}`,
//! code-point offsets); `scan --jsonl` maps each `{"text"}` input line to `{"spans": […]}`;
//! `redact` writes the text with `[LABEL]` placeholders (`--pseudonymize`: `[LABEL_1]`, …).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use nuri_pii::json::{scan_jsonl_line, span_json_line, SpanRecord};
use nuri_pii::{complete_utf8_prefix, Chunk, RedactMode, Redactor, Scanner, StreamScanner};

/// `nuri pii` subcommands.
#[derive(Subcommand)]
pub enum PiiCommand {
    /// Write one JSON line per personal-information span found.
    Scan(ScanArgs),
    /// Write the text with every span replaced by a placeholder.
    Redact(RedactArgs),
}

/// `nuri pii scan`.
#[derive(Args)]
pub struct ScanArgs {
    /// Read this file instead of stdin.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Input is JSON lines with a `text` field; output one `{"spans": […]}` line per input line.
    #[arg(long)]
    jsonl: bool,
}

/// `nuri pii redact`.
#[derive(Args)]
pub struct RedactArgs {
    /// Read this file instead of stdin.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Number values per label (`[EMAIL_1]`), the same value always getting the same number.
    #[arg(long)]
    pseudonymize: bool,
}

/// Runs a `nuri pii` command.
pub fn run(cmd: PiiCommand) -> ExitCode {
    let result = match cmd {
        PiiCommand::Scan(a) => open(a.file.as_ref()).and_then(|input| {
            if a.jsonl {
                scan_jsonl(input)
            } else {
                stream(input, None)
            }
        }),
        PiiCommand::Redact(a) => {
            let mode = if a.pseudonymize {
                RedactMode::Pseudonymize
            } else {
                RedactMode::Label
            };
            open(a.file.as_ref()).and_then(|input| stream(input, Some(Redactor::new(mode))))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nuri pii: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open(file: Option<&PathBuf>) -> io::Result<Box<dyn Read>> {
    Ok(match file {
        Some(path) => Box::new(
            File::open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        ),
        None => Box::new(io::stdin().lock()),
    })
}

fn scan_jsonl(input: Box<dyn Read>) -> io::Result<()> {
    let scanner = Scanner::new();
    let mut out = BufWriter::new(io::stdout().lock());
    for (n, line) in BufReader::new(input).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let json = scan_jsonl_line(&scanner, &line).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("line {}: {e}", n + 1))
        })?;
        out.write_all(json.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Streams the document through the scanner; with a redactor, writes redacted text instead.
fn stream(mut input: Box<dyn Read>, mut redactor: Option<Redactor>) -> io::Result<()> {
    let scanner = Scanner::new();
    let mut scan = StreamScanner::new(&scanner);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut emit = |chunks: Vec<Chunk>, out: &mut BufWriter<_>| -> io::Result<()> {
        for c in chunks {
            match redactor.as_mut() {
                Some(r) => out.write_all(r.redact(&c.text, &c.spans).as_bytes())?,
                None => {
                    for s in &c.spans {
                        out.write_all(
                            span_json_line(&SpanRecord::new(&c.text, s, c.char_offset)).as_bytes(),
                        )?;
                        out.write_all(b"\n")?;
                    }
                }
            }
        }
        Ok(())
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        let valid = complete_utf8_prefix(&pending);
        let text = std::str::from_utf8(&pending[..valid]).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("input is not UTF-8: {e}"),
            )
        })?;
        emit(scan.push(text), &mut out)?;
        pending.drain(..valid);
    }
    if !pending.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "input ends inside a UTF-8 character",
        ));
    }
    emit(scan.finish().into_iter().collect(), &mut out)?;
    out.flush()
}
