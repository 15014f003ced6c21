//! Redaction: replace spans by `[LABEL]` or by per-document pseudonyms `[LABEL_n]`.

use std::collections::HashMap;

use crate::label::Label;
use crate::span::Span;

/// How spans are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedactMode {
    /// `[KR_RRN]`, `[EMAIL]`…
    #[default]
    Label,
    /// `[EMAIL_1]`, `[EMAIL_2]`…: numbered per label in order of first appearance; the same
    /// value always gets the same number within one document.
    Pseudonymize,
}

/// Replaces `spans` (from [`crate::Scanner::scan`] on this `text`) in `text`.
///
/// Spans that overlap an earlier one, fall outside the text or off char boundaries are
/// skipped, so the function never panics.
pub fn redact(text: &str, spans: &[Span], mode: RedactMode) -> String {
    Redactor::new(mode).redact(text, spans)
}

/// A redactor that keeps pseudonym numbering across the chunks of one document
/// (see [`crate::StreamScanner`]). Memory grows with the number of distinct values.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    mode: RedactMode,
    seen: HashMap<(Label, String), usize>,
    counts: HashMap<Label, usize>,
}

impl Redactor {
    /// A redactor for one document.
    pub fn new(mode: RedactMode) -> Redactor {
        Redactor {
            mode,
            ..Redactor::default()
        }
    }

    /// The placeholder for `value` found as `label`.
    pub fn placeholder(&mut self, label: Label, value: &str) -> String {
        match self.mode {
            RedactMode::Label => format!("[{}]", label.as_str()),
            RedactMode::Pseudonymize => {
                let key = (label, normalize(label, value));
                let n = match self.seen.get(&key) {
                    Some(&n) => n,
                    None => {
                        let c = self.counts.entry(label).or_insert(0);
                        *c += 1;
                        let n = *c;
                        self.seen.insert(key, n);
                        n
                    }
                };
                format!("[{}_{}]", label.as_str(), n)
            }
        }
    }

    /// Redacts one text (or one chunk, with spans relative to the chunk).
    pub fn redact(&mut self, text: &str, spans: &[Span]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for s in spans {
            if s.start < pos || s.end > text.len() || s.start >= s.end {
                continue;
            }
            let (Some(before), Some(value)) = (text.get(pos..s.start), text.get(s.start..s.end))
            else {
                continue;
            };
            out.push_str(before);
            let p = self.placeholder(s.label, value);
            out.push_str(&p);
            pos = s.end;
        }
        out.push_str(text.get(pos..).unwrap_or(""));
        out
    }
}

/// The identity of a value for pseudonyms: digits only for numbers (`010-1234-5678` and
/// `01012345678` are the same phone), lower case for e-mail, as written otherwise.
fn normalize(label: Label, value: &str) -> String {
    match label {
        Label::Email => value.to_ascii_lowercase(),
        Label::Person | Label::KrAddress | Label::KrPassport | Label::Ip => value.to_owned(),
        _ => value.chars().filter(char::is_ascii_digit).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, label: Label) -> Span {
        Span {
            start,
            end,
            char_start: start,
            char_end: end,
            label,
            confidence: 1.0,
        }
    }

    #[test]
    fn label_and_pseudonym_modes() {
        let t = "a@x.io b@x.io A@X.IO";
        let spans = [
            span(0, 6, Label::Email),
            span(7, 13, Label::Email),
            span(14, 20, Label::Email),
        ];
        assert_eq!(
            redact(t, &spans, RedactMode::Label),
            "[EMAIL] [EMAIL] [EMAIL]"
        );
        assert_eq!(
            redact(t, &spans, RedactMode::Pseudonymize),
            "[EMAIL_1] [EMAIL_2] [EMAIL_1]"
        );
    }

    #[test]
    fn bad_spans_are_skipped() {
        let t = "가나다";
        let spans = [
            span(1, 2, Label::Person),
            span(0, 3, Label::Person),
            span(2, 99, Label::Ip),
        ];
        assert_eq!(redact(t, &spans, RedactMode::Label), "[PERSON]나다");
    }
}
