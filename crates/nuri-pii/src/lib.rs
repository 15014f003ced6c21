//! Nuri's PII engine: finds personal information in Korean and English text and redacts it.
//!
//! Pure library: no I/O, no async, no threads. Entry points:
//! - [`Scanner::scan`] → non-overlapping [`Span`]s (byte and code-point offsets, [`Label`],
//!   confidence), sorted by start;
//! - [`redact`] / [`Redactor`] → `[LABEL]` placeholders or per-document pseudonyms
//!   `[LABEL_n]`;
//! - [`StreamScanner`] → the same over inputs of any size with flat memory;
//! - [`json`] → the `nuri pii scan` JSON shapes.
//!
//! Each label's validation rule and its source are in `docs/pii.md`.
//!
//! ```
//! use nuri_pii::{redact, Label, RedactMode, Scanner};
//! let scanner = Scanner::new();
//! let text = "문의: hong@example.com으로 연락 주세요. 010-1234-5678";
//! let spans = scanner.scan(text);
//! assert_eq!(spans[0].label, Label::Email);
//! assert_eq!(redact(text, &spans, RedactMode::Label), "문의: [EMAIL]으로 연락 주세요. [PHONE]");
//! ```

mod checksum;
mod cue;
mod detect;
pub mod json;
mod label;
mod redact;
mod scanner;
mod span;
mod stream;
mod text;

pub use label::{Label, UnknownLabel};
pub use redact::{redact, RedactMode, Redactor};
pub use scanner::Scanner;
pub use span::Span;
pub use stream::{complete_utf8_prefix, Chunk, StreamScanner, DEFAULT_CHUNK};

/// Check-digit helpers, public for the evaluation generator and tests.
pub mod checks {
    pub use crate::checksum::{
        brn_check, crn_check, digits_of, ean13_check, frn_check, luhn, rrn_check,
    };
}
