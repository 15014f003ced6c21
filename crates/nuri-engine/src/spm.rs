//! SentencePiece-style tokenizer for GGUF files with `tokenizer.ggml.model = "llama"` (Gemma 3,
//! Llama 2 family): llama.cpp's algorithm — spaces become `▁`, characters are merged pairwise,
//! always the adjacent pair whose merged piece has the highest score first, and pieces missing
//! from the vocabulary fall back to `<0xXX>` byte tokens. Control and user-defined tokens written
//! in the text are matched first, longest first.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;

/// The value of a `<0xXX>` byte token.
pub(crate) fn byte_token_value(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

/// Score-ordered pair-merging tokenizer.
pub(crate) struct SpmTokenizer {
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    byte_ids: [Option<u32>; 256],
    /// Special tokens, longest first.
    specials: Vec<(String, u32)>,
    add_space_prefix: bool,
}

#[derive(PartialEq)]
struct Candidate {
    score: f32,
    left: usize,
    len: usize,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest score first; on ties the leftmost pair.
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SpmTokenizer {
    /// Builds the tokenizer from the GGUF vocabulary, scores and token types.
    pub fn new(tokens: &[String], scores: &[f32], types: &[i64], add_space_prefix: bool) -> Self {
        let mut byte_ids = [None; 256];
        let mut specials = Vec::new();
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            let id = i as u32;
            if let Some(b) = byte_token_value(t) {
                byte_ids[b as usize] = Some(id);
            }
            if matches!(types.get(i), Some(&TYPE_CONTROL) | Some(&TYPE_USER_DEFINED))
                && !t.is_empty()
            {
                specials.push((t.clone(), id));
            }
            ids.entry(t.clone()).or_insert(id);
        }
        specials.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Self {
            ids,
            scores: scores.to_vec(),
            byte_ids,
            specials,
            add_space_prefix,
        }
    }

    /// Token ids of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() {
            // The earliest special token in the rest of the text (longest on ties).
            let hit = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|pos| (pos, s.len(), *id)))
                .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            match hit {
                Some((pos, len, id)) => {
                    self.encode_plain(&rest[..pos], first, &mut out);
                    out.push(id);
                    rest = &rest[pos + len..];
                }
                None => {
                    self.encode_plain(rest, first, &mut out);
                    rest = "";
                }
            }
            first = false;
        }
        out
    }

    fn encode_plain(&self, text: &str, at_start: bool, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut norm = String::with_capacity(text.len() + 3);
        if self.add_space_prefix && at_start {
            norm.push('\u{2581}');
        }
        norm.extend(text.chars().map(|c| if c == ' ' { '\u{2581}' } else { c }));
        // Symbols as byte ranges of `norm`, in a linked list.
        let mut start: Vec<usize> = norm.char_indices().map(|(i, _)| i).collect();
        let n = start.len();
        let mut len: Vec<usize> = (0..n)
            .map(|i| start.get(i + 1).copied().unwrap_or(norm.len()) - start[i])
            .collect();
        let mut next: Vec<Option<usize>> = (0..n).map(|i| (i + 1 < n).then_some(i + 1)).collect();
        let mut prev: Vec<Option<usize>> = (0..n).map(|i| i.checked_sub(1)).collect();
        let mut heap = BinaryHeap::new();
        let push = |heap: &mut BinaryHeap<Candidate>,
                    left: usize,
                    right: usize,
                    start: &[usize],
                    len: &[usize]| {
            let piece = &norm[start[left]..start[right] + len[right]];
            if let Some(&id) = self.ids.get(piece) {
                let score = self.scores.get(id as usize).copied().unwrap_or(0.0);
                heap.push(Candidate {
                    score,
                    left,
                    len: piece.len(),
                });
            }
        };
        for i in 0..n.saturating_sub(1) {
            push(&mut heap, i, i + 1, &start, &len);
        }
        while let Some(c) = heap.pop() {
            let Some(right) = next[c.left] else { continue };
            // Stale candidate: one side changed since it was pushed.
            if len[c.left] == 0 || len[c.left] + len[right] != c.len {
                continue;
            }
            len[c.left] += len[right];
            len[right] = 0;
            next[c.left] = next[right];
            if let Some(r) = next[right] {
                prev[r] = Some(c.left);
            }
            if let Some(p) = prev[c.left] {
                push(&mut heap, p, c.left, &start, &len);
            }
            if let Some(r) = next[c.left] {
                push(&mut heap, c.left, r, &start, &len);
            }
        }
        let mut i = Some(0);
        while let Some(s) = i {
            let piece = &norm[start[s]..start[s] + len[s]];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(piece.bytes().filter_map(|b| self.byte_ids[b as usize])),
            }
            i = next[s];
        }
        start.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_by_score_and_falls_back_to_bytes() {
        let tokens: Vec<String> = ["<unk>", "<0x21>", "▁", "h", "i", "hi", "▁hi", "<eot>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let scores = vec![0.0, 0.0, -1.0, -2.0, -2.0, -0.5, -0.1, 0.0];
        let types = vec![2, 6, 1, 1, 1, 1, 1, 3];
        let t = SpmTokenizer::new(&tokens, &scores, &types, false);
        assert_eq!(t.encode(" hi!<eot>hi"), vec![6, 1, 7, 5]);
        assert_eq!(byte_token_value("<0x0A>"), Some(10));
    }
}
