//! [`StreamScanner`]: scan a document of any size with flat memory.
//!
//! Text is pushed in pieces of any size; it is cut into chunks at line breaks (or, for very
//! long lines, at a space or any char boundary), and each chunk is scanned together with a
//! small window of the text before it, so context words just before a chunk still count.
//! Known limit: a span never crosses a chunk cut (normally a line break).

use crate::scanner::Scanner;
use crate::span::{count_chars, Span};

/// Bytes of already-emitted text kept as left context for the next chunk.
const CONTEXT: usize = 128;
/// Default chunk size in bytes.
pub const DEFAULT_CHUNK: usize = 64 * 1024;

/// A scanned piece of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The chunk's text (the chunks, concatenated, are the whole document).
    pub text: String,
    /// Spans with offsets relative to `text`.
    pub spans: Vec<Span>,
    /// Byte offset of `text` in the document.
    pub byte_offset: usize,
    /// Code-point offset of `text` in the document.
    pub char_offset: usize,
}

impl Chunk {
    /// The spans with offsets into the whole document.
    pub fn global_spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.spans
            .iter()
            .map(|s| s.shifted(self.byte_offset, self.char_offset))
    }
}

/// Incremental scanner over a stream of text (see the module docs).
#[derive(Debug)]
pub struct StreamScanner<'s> {
    scanner: &'s Scanner,
    buf: String,
    carry: String,
    byte_offset: usize,
    char_offset: usize,
    chunk: usize,
}

impl<'s> StreamScanner<'s> {
    /// A stream scanner with the default chunk size (64 KiB).
    pub fn new(scanner: &'s Scanner) -> Self {
        Self::with_chunk_size(scanner, DEFAULT_CHUNK)
    }

    /// A stream scanner cutting chunks of about `chunk` bytes (at least 256).
    pub fn with_chunk_size(scanner: &'s Scanner, chunk: usize) -> Self {
        StreamScanner {
            scanner,
            buf: String::new(),
            carry: String::new(),
            byte_offset: 0,
            char_offset: 0,
            chunk: chunk.max(256),
        }
    }

    /// Adds text; returns the chunks that are complete.
    pub fn push(&mut self, input: &str) -> Vec<Chunk> {
        self.buf.push_str(input);
        let mut out = Vec::new();
        while self.buf.len() >= self.chunk {
            let cut = self.cut_point();
            out.push(self.emit(cut));
        }
        out
    }

    /// Scans what is left; call once at the end of the document.
    pub fn finish(mut self) -> Option<Chunk> {
        if self.buf.is_empty() {
            return None;
        }
        let n = self.buf.len();
        Some(self.emit(n))
    }

    /// Where to cut `buf`: after the last line break, else the last space, else any char
    /// boundary near the chunk size.
    fn cut_point(&self) -> usize {
        let b = self.buf.as_bytes();
        let limit = self.chunk.min(b.len());
        if let Some(p) = b[..limit].iter().rposition(|&c| c == b'\n') {
            return p + 1;
        }
        if let Some(p) = b[..limit].iter().rposition(|&c| c == b' ') {
            if p > limit / 2 {
                return p + 1;
            }
        }
        let mut p = limit;
        while p > 0 && !self.buf.is_char_boundary(p) {
            p -= 1;
        }
        p.max(1).min(b.len())
    }

    fn emit(&mut self, cut: usize) -> Chunk {
        let mut cut = cut.min(self.buf.len());
        while cut < self.buf.len() && !self.buf.is_char_boundary(cut) {
            cut += 1;
        }
        let rest = self.buf.split_off(cut);
        let piece = std::mem::replace(&mut self.buf, rest);
        let ctx_len = self.carry.len();
        let ctx_chars = count_chars(self.carry.as_bytes());
        let mut joined = std::mem::take(&mut self.carry);
        joined.push_str(&piece);
        let spans = self
            .scanner
            .scan(&joined)
            .into_iter()
            .filter(|s| s.start >= ctx_len)
            .map(|mut s| {
                s.start -= ctx_len;
                s.end -= ctx_len;
                s.char_start -= ctx_chars;
                s.char_end -= ctx_chars;
                s
            })
            .collect();
        let mut keep = joined.len().saturating_sub(CONTEXT);
        while !joined.is_char_boundary(keep) {
            keep += 1;
        }
        self.carry = joined.split_off(keep);
        let chunk = Chunk {
            spans,
            byte_offset: self.byte_offset,
            char_offset: self.char_offset,
            text: piece,
        };
        self.byte_offset += chunk.text.len();
        self.char_offset += count_chars(chunk.text.as_bytes());
        chunk
    }
}

/// The length of the longest prefix of `b` that does not end inside a UTF-8 sequence, so a
/// reader can hand complete characters to [`StreamScanner::push`] and keep the rest.
pub fn complete_utf8_prefix(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=n.min(4) {
        let c = b[n - back];
        if c & 0xC0 != 0x80 {
            // A lead byte (or ASCII): is its sequence complete?
            let need = match c {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            return if back >= need { n } else { n - back };
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_matches_whole_scan_on_line_data() {
        let scanner = Scanner::new();
        let line = "연락처 010-1234-5678, 메일 hong@example.com으로 주세요.\n";
        let doc = line.repeat(50);
        let whole = scanner.scan(&doc);
        let mut ss = StreamScanner::with_chunk_size(&scanner, 300);
        let mut got = Vec::new();
        let mut text = String::new();
        for part in doc.split_inclusive(' ') {
            for c in ss.push(part) {
                got.extend(c.global_spans());
                text.push_str(&c.text);
            }
        }
        if let Some(c) = ss.finish() {
            got.extend(c.global_spans());
            text.push_str(&c.text);
        }
        assert_eq!(text, doc);
        assert_eq!(got, whole);
        assert_eq!(whole.len(), 100);
    }
}
