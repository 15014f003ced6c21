//! [`Span`]: one detected identifier, with byte and code-point offsets.

use serde::{Deserialize, Serialize};

use crate::label::Label;

/// One detected identifier in a text.
///
/// `start..end` are byte offsets and `char_start..char_end` Unicode code-point offsets into the
/// scanned text; both are end-exclusive and always fall on `char` boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Code-point offset of the first character.
    pub char_start: usize,
    /// Code-point offset one past the last character.
    pub char_end: usize,
    /// What was found.
    pub label: Label,
    /// How sure the detector is, in `0.0..=1.0` (see `docs/pii.md`, "Confidence").
    pub confidence: f32,
}

impl Span {
    /// The span's text within `text` (the text it was found in), or `""` if out of range.
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span is empty (never true for spans the scanner returns).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The same span moved by `bytes` and `chars`, e.g. from a chunk into its whole document.
    pub fn shifted(mut self, bytes: usize, chars: usize) -> Span {
        self.start += bytes;
        self.end += bytes;
        self.char_start += chars;
        self.char_end += chars;
        self
    }
}

/// A detector's raw finding before code-point offsets are known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub label: Label,
    pub confidence: f32,
}

impl Hit {
    pub(crate) fn new(start: usize, end: usize, label: Label, confidence: f32) -> Hit {
        Hit {
            start,
            end,
            label,
            confidence,
        }
    }
}

/// Keeps the best non-overlapping hits (longer first, then more confident, then earlier) and
/// turns them into sorted [`Span`]s with code-point offsets.
pub(crate) fn resolve(text: &str, mut hits: Vec<Hit>) -> Vec<Span> {
    hits.retain(|h| {
        h.start < h.end && text.is_char_boundary(h.start) && text.is_char_boundary(h.end)
    });
    // Sorted by start, a hit can only overlap the last kept one (whose start is ≤ its own and
    // which does not overlap the one before), so one sweep resolves all overlaps.
    hits.sort_by_key(|h| h.start);
    let better = |a: &Hit, b: &Hit| {
        (a.end - a.start)
            .cmp(&(b.end - b.start))
            .then(a.confidence.total_cmp(&b.confidence))
            .then(b.start.cmp(&a.start))
            .is_gt()
    };
    let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match kept.last_mut() {
            Some(last) if h.start < last.end => {
                if better(&h, last) {
                    *last = h;
                    // The replacement may now overlap the one before it.
                    while kept.len() >= 2 && kept[kept.len() - 2].end > kept[kept.len() - 1].start {
                        let n = kept.len();
                        if better(&kept[n - 1], &kept[n - 2]) {
                            kept.swap_remove(n - 2);
                        } else {
                            kept.pop();
                        }
                    }
                }
            }
            _ => kept.push(h),
        }
    }
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut chars = 0usize;
    kept.into_iter()
        .map(|h| {
            chars += count_chars(&bytes[pos..h.start]);
            let char_start = chars;
            chars += count_chars(&bytes[h.start..h.end]);
            pos = h.end;
            Span {
                start: h.start,
                end: h.end,
                char_start,
                char_end: chars,
                label: h.label,
                confidence: h.confidence,
            }
        })
        .collect()
}

/// Number of code points in valid UTF-8 bytes (counts the bytes that start a character).
pub(crate) fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_prefers_longer_and_computes_char_offsets() {
        let text = "가나 abc def";
        let hits = vec![
            Hit::new(7, 10, Label::Email, 0.9),
            Hit::new(7, 14, Label::Phone, 0.5),
            Hit::new(0, 3, Label::Person, 0.8),
        ];
        let spans = resolve(text, hits);
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].char_start, spans[0].char_end), (0, 1));
        assert_eq!(spans[1].label, Label::Phone);
        assert_eq!((spans[1].char_start, spans[1].char_end), (3, 10));
        assert_eq!(spans[1].text(text), "abc def");
    }
}
