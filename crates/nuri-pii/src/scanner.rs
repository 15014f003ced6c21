//! [`Scanner`]: the one entry point that finds every label in a text.
//!
//! Two linear passes, no per-label regexes: an Aho-Corasick automaton finds all context words
//! (cues) at once, then a byte loop visits only the bytes that can start an identifier
//! (digits, `+`, `(`, ASCII letters at word starts, `@`, `:`) and hands each candidate to the
//! detectors in [`crate::detect`]. Names and addresses are driven by their cues.

use crate::cue::{CueMatcher, Cues};
use crate::detect::{address, email, ip, numeric, passport, person, Ctx};
use crate::span::{resolve, Hit, Span};
use crate::text::{digit_at, is_word_byte};

/// Byte classes for the main loop.
const SKIP: u8 = 0;
const DIGIT: u8 = 1;
const ALPHA: u8 = 2;
const AT: u8 = 3;
const COLON: u8 = 4;
const PLUS: u8 = 5;
const PAREN: u8 = 6;
const FULLWIDTH: u8 = 7;

const fn classes() -> [u8; 256] {
    let mut t = [SKIP; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_alphabetic() {
            ALPHA
        } else {
            match c {
                b'@' => AT,
                b':' => COLON,
                b'+' => PLUS,
                b'(' => PAREN,
                0xEF => FULLWIDTH,
                _ => SKIP,
            }
        };
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// Words after which a glued number is still a phone (`Tel.010-…`, `HP:010…`).
const PHONE_PREFIXES: &[&str] = &[
    "tel", "hp", "ph", "mob", "cell", "fax", "phone", "mobile", "no",
];

/// The PII scanner. Build once, share (`Send + Sync`, cheap behind an `Arc`).
#[derive(Debug, Clone)]
pub struct Scanner {
    cues: Option<CueMatcher>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// Builds the scanner (compiles the cue automaton; a few milliseconds).
    pub fn new() -> Scanner {
        Scanner {
            cues: CueMatcher::new(),
        }
    }

    /// Finds identifiers in `text`: non-overlapping spans sorted by start.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        resolve(text, self.hits(text))
    }

    fn hits(&self, text: &str) -> Vec<Hit> {
        let cues = match &self.cues {
            Some(m) => m.find(text),
            None => Cues::default(),
        };
        let ctx = Ctx {
            text,
            bytes: text.as_bytes(),
            cues: &cues,
        };
        let mut hits = Vec::new();
        person::detect(&ctx, &mut hits);
        address::detect(&ctx, &mut hits);
        scan_bytes(&ctx, &mut hits);
        hits
    }
}

/// The byte loop over candidate starts.
fn scan_bytes(ctx: &Ctx<'_>, hits: &mut Vec<Hit>) {
    let bytes = ctx.bytes;
    let n = bytes.len();
    let mut i = 0;
    let mut v6_done = 0;
    while i < n {
        let class = CLASS[usize::from(bytes[i])];
        match class {
            SKIP => i += 1,
            DIGIT => {
                if numeric::may_start(bytes, i) {
                    i = numeric::scan_run(ctx, i, hits);
                } else {
                    i = skip_word(bytes, i);
                }
            }
            FULLWIDTH => {
                if digit_at(bytes, i).is_some() && numeric::may_start(bytes, i) {
                    i = numeric::scan_run(ctx, i, hits);
                } else {
                    i += 1;
                }
            }
            PLUS | PAREN => {
                let digit_next = digit_at(bytes, i + 1).is_some();
                if digit_next && numeric::may_start(bytes, i) {
                    i = numeric::scan_run(ctx, i, hits);
                } else {
                    i += 1;
                }
            }
            ALPHA => {
                if i > 0 && is_word_byte(bytes[i - 1]) {
                    i = skip_word(bytes, i);
                    continue;
                }
                let end = word_end(bytes, i);
                if let Some(h) = passport::detect(ctx, i, end) {
                    hits.push(h);
                }
                i = after_word(ctx, i, end, hits);
            }
            AT => {
                if let Some(h) = email::detect(ctx, i) {
                    hits.push(h);
                }
                i += 1;
            }
            COLON => {
                if i >= v6_done {
                    let (h, end) = ip::detect_v6(ctx, i);
                    hits.extend(h);
                    v6_done = end;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_word_byte(bytes[i]) {
        i += 1;
    }
    i
}

fn skip_word(bytes: &[u8], i: usize) -> usize {
    word_end(bytes, i).max(i + 1)
}

/// After an ASCII word: `Tel.010-…` keeps the number; `ORD-2024-…`, `v1.2.3` skip the whole
/// compound token so its digits are not read as numbers.
fn after_word(ctx: &Ctx<'_>, start: usize, end: usize, hits: &mut Vec<Hit>) -> usize {
    let bytes = ctx.bytes;
    let word = &ctx.text[start..end];
    let sep = bytes.get(end).copied();
    if matches!(sep, Some(b'.' | b':' | b'-'))
        && digit_at(bytes, end + 1).is_some()
        && PHONE_PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(word))
    {
        return numeric::scan_run(ctx, end + 1, hits);
    }
    let mut e = end;
    while e + 1 < bytes.len()
        && matches!(bytes[e], b'.' | b'-' | b'_')
        && bytes[e + 1].is_ascii_alphanumeric()
    {
        e = word_end(bytes, e + 1);
    }
    e.max(start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn scanner_is_send_sync() {
        assert_send_sync::<Scanner>();
    }
}
