//! JSON shapes of the `nuri pii scan` CLI (contract, "Data dam"): one
//! `{"start","end","label","text"}` per span with code-point offsets, and the `--jsonl` mode's
//! `{"text": …}` → `{"spans": […]}` lines. No I/O here: the CLI reads and writes.

use serde::{Deserialize, Serialize};

use crate::label::Label;
use crate::scanner::Scanner;
use crate::span::Span;

/// A span as the CLI prints it: code-point offsets (end exclusive), label and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// Code-point offset of the first character in the document.
    pub start: usize,
    /// Code-point offset one past the last character.
    pub end: usize,
    /// The label's wire name.
    pub label: Label,
    /// The span's text.
    pub text: String,
}

impl SpanRecord {
    /// The record for `span` found in `text`; `char_offset` moves it into a larger document
    /// (0 when `text` is the document; a chunk's `char_offset` when streaming).
    pub fn new(text: &str, span: &Span, char_offset: usize) -> SpanRecord {
        SpanRecord {
            start: span.char_start + char_offset,
            end: span.char_end + char_offset,
            label: span.label,
            text: span.text(text).to_owned(),
        }
    }
}

/// The records for all `spans` of `text`.
pub fn span_records(text: &str, spans: &[Span]) -> Vec<SpanRecord> {
    spans.iter().map(|s| SpanRecord::new(text, s, 0)).collect()
}

/// One `nuri pii scan` output line for a span (no trailing newline).
pub fn span_json_line(record: &SpanRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

#[derive(Deserialize)]
struct JsonlIn {
    text: String,
}

#[derive(Serialize)]
struct JsonlOut {
    spans: Vec<SpanRecord>,
}

/// `--jsonl` mode: scans one input line `{"text": …}` (other fields ignored) and returns the
/// output line `{"spans": [{"start","end","label","text"}, …]}` (no trailing newline).
pub fn scan_jsonl_line(scanner: &Scanner, line: &str) -> Result<String, serde_json::Error> {
    let input: JsonlIn = serde_json::from_str(line)?;
    let spans = scanner.scan(&input.text);
    let out = JsonlOut {
        spans: span_records(&input.text, &spans),
    };
    serde_json::to_string(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trip() {
        let s = Scanner::new();
        let out = scan_jsonl_line(&s, r#"{"text":"메일: hong@example.com으로", "id": 3}"#);
        assert_eq!(
            out.ok().as_deref(),
            Some(r#"{"spans":[{"start":4,"end":20,"label":"EMAIL","text":"hong@example.com"}]}"#)
        );
        assert!(scan_jsonl_line(&s, "not json").is_err());
    }
}
