//! Fuzz target: the scanner never panics, and its spans are sorted, non-overlapping, on char
//! boundaries with consistent code-point offsets; streaming and redaction never panic either.
//! Run (nightly): `cd crates/nuri-pii/fuzz && cargo fuzz run scan`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nuri_pii::{redact, RedactMode, Scanner, StreamScanner};
use std::sync::OnceLock;

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scanner = SCANNER.get_or_init(Scanner::new);
    let spans = scanner.scan(text);
    let mut last = 0;
    for s in &spans {
        assert!(s.start < s.end && s.start >= last, "unsorted or overlapping: {spans:?}");
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        assert_eq!(s.char_start, text[..s.start].chars().count());
        assert_eq!(s.char_end, text[..s.end].chars().count());
        last = s.end;
    }
    let _ = redact(text, &spans, RedactMode::Pseudonymize);
    let mut stream = StreamScanner::with_chunk_size(scanner, 256);
    let mut total = 0;
    for c in stream.push(text) {
        total += c.text.len();
    }
    if let Some(c) = stream.finish() {
        total += c.text.len();
    }
    assert_eq!(total, text.len());
});
