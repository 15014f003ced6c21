//! The chat model's tokenizer, rebuilt from GGUF metadata.
//!
//! * `gpt2` (byte-level BPE: SmolLM2, Qwen2, Llama 3): vocabulary from `tokenizer.ggml.tokens`,
//!   merges from `tokenizer.ggml.merges`, the pre-tokenizer regexes llama.cpp uses for
//!   `tokenizer.ggml.pre` (`smollm` splits every digit, then GPT-2's regex), GPT-2's byte-to-unicode
//!   mapping, and control / user-defined tokens (`<|im_start|>` …) matched before BPE. Encoding
//!   runs in the `tokenizers` crate. (candle's own GGUF tokenizer builder gets SmolLM2 wrong.)
//! * `llama` (SentencePiece: Gemma 3): see [`crate::spm`].
//!
//! Decoding never goes through strings: every token id maps to its raw bytes, and
//! [`crate::stream::TextStream`] turns bytes into whole UTF-8 characters.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::error::EngineError;
use crate::gguf::Meta;
use crate::spm::SpmTokenizer;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;
const TYPE_BYTE: i64 = 6;

const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizer regexes (applied in order) for a `tokenizer.ggml.pre` value.
fn pre_regexes(pre: &str) -> Vec<&'static str> {
    match pre {
        "smollm" | "starcoder" | "refact" | "command-r" => vec![r"\p{N}", GPT2_REGEX],
        "llama-bpe" | "llama3" | "falcon3" | "exaone" => vec![LLAMA3_REGEX],
        "qwen2" | "deepseek-r1-qwen" => vec![QWEN2_REGEX],
        _ => vec![GPT2_REGEX],
    }
}

/// GPT-2's reversible byte ↔ printable-unicode mapping: `(byte → char)`.
fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0u32;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        table[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    table
}

enum Encoder {
    Bpe(Box<Tokenizer>),
    Spm(Box<SpmTokenizer>),
}

/// Tokenizer of a GGUF chat model: text → ids, and id → raw bytes.
pub(crate) struct GgufTokenizer {
    encoder: Encoder,
    token_bytes: Vec<Vec<u8>>,
    tokens: Vec<String>,
    /// Ids that end a generation (EOS and end-of-turn markers).
    pub stop_ids: Vec<u32>,
    /// `tokenizer.ggml.bos_token_id`, prepended to raw-text prompts when the model asks for it.
    pub bos_id: Option<u32>,
    /// Whether raw-text prompts start with BOS (`tokenizer.ggml.add_bos_token`).
    pub add_bos: bool,
}

impl GgufTokenizer {
    /// Builds the tokenizer from the file's metadata.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, EngineError> {
        let path: &Path = meta.path;
        let tokens = meta.strings("tokenizer.ggml.tokens")?;
        let types = meta
            .numbers_i64("tokenizer.ggml.token_type")
            .unwrap_or_else(|| vec![1; tokens.len()]);
        let model = meta.string("tokenizer.ggml.model").unwrap_or("gpt2");
        let special: Vec<usize> = (0..tokens.len())
            .filter(|&i| matches!(types.get(i), Some(&TYPE_CONTROL) | Some(&TYPE_USER_DEFINED)))
            .collect();

        let (encoder, token_bytes) = match model {
            "gpt2" => {
                let merges = meta.strings("tokenizer.ggml.merges")?;
                let pre = meta.string("tokenizer.ggml.pre").unwrap_or("gpt2");
                let tok = build_bpe(&tokens, &merges, pre, &special)
                    .map_err(|e| EngineError::load(path, format!("tokenizer: {e}")))?;
                let byte_of: HashMap<char, u8> = bytes_to_unicode()
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| (c, b as u8))
                    .collect();
                let bytes = tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match types.get(i) {
                        Some(&TYPE_CONTROL) => Vec::new(),
                        Some(&TYPE_USER_DEFINED) => t.as_bytes().to_vec(),
                        _ => t
                            .chars()
                            .map(|c| byte_of.get(&c).copied())
                            .collect::<Option<Vec<u8>>>()
                            .unwrap_or_else(|| t.as_bytes().to_vec()),
                    })
                    .collect();
                (Encoder::Bpe(Box::new(tok)), bytes)
            }
            "llama" => {
                let scores = meta
                    .numbers_f32("tokenizer.ggml.scores")
                    .unwrap_or_else(|| vec![0.0; tokens.len()]);
                let add_space_prefix = meta.bool_or("tokenizer.ggml.add_space_prefix", false);
                let spm = SpmTokenizer::new(&tokens, &scores, &types, add_space_prefix);
                let bytes = tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match types.get(i) {
                        Some(&TYPE_CONTROL) => Vec::new(),
                        Some(&TYPE_BYTE) => crate::spm::byte_token_value(t)
                            .map(|b| vec![b])
                            .unwrap_or_default(),
                        _ => t.replace('\u{2581}', " ").into_bytes(),
                    })
                    .collect();
                (Encoder::Spm(Box::new(spm)), bytes)
            }
            other => {
                return Err(EngineError::load(
                    path,
                    format!("unsupported tokenizer model `{other}` (supported: gpt2, llama)"),
                ))
            }
        };

        let eos = meta
            .get("tokenizer.ggml.eos_token_id")
            .and(Some(meta.u32_or("tokenizer.ggml.eos_token_id", u32::MAX)));
        let mut stop_ids: Vec<u32> = eos.into_iter().filter(|&e| e != u32::MAX).collect();
        for marker in [
            "<|im_end|>",
            "<|eot_id|>",
            "<end_of_turn>",
            "<|endoftext|>",
            "<|end|>",
            "<eos>",
            "</s>",
        ] {
            if let Some(i) = tokens.iter().position(|t| t == marker) {
                if matches!(types.get(i), Some(&TYPE_CONTROL) | Some(&TYPE_USER_DEFINED)) {
                    stop_ids.push(i as u32);
                }
            }
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();
        let bos = meta.u32_or("tokenizer.ggml.bos_token_id", u32::MAX);
        Ok(Self {
            encoder,
            token_bytes,
            tokens,
            stop_ids,
            bos_id: (bos != u32::MAX).then_some(bos),
            add_bos: meta.bool_or("tokenizer.ggml.add_bos_token", model == "llama"),
        })
    }

    /// Token ids of `text`; special-token strings in it become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        match &self.encoder {
            Encoder::Bpe(tok) => tok
                .encode_fast(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| EngineError::Tokenizer(e.to_string())),
            Encoder::Spm(spm) => Ok(spm.encode(text)),
        }
    }

    /// The raw bytes a token stands for (empty for control tokens).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The vocabulary string of a token (e.g. `<|im_start|>`), if the id exists.
    pub fn token_str(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }
}

fn build_bpe(
    tokens: &[String],
    merges: &[String],
    pre: &str,
    special: &[usize],
) -> Result<Tokenizer, String> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .filter_map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(matches!(pre, "llama-bpe" | "llama3"))
        .build()
        .map_err(|e| e.to_string())?;
    let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
    for re in pre_regexes(pre) {
        let split = Split::new(
            SplitPattern::Regex(re.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(Sequence::new(steps)));
    let added: Vec<AddedToken> = special
        .iter()
        .map(|&i| AddedToken::from(tokens[i].clone(), true))
        .collect();
    tok.add_special_tokens(added).map_err(|e| e.to_string())?;
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let t = bytes_to_unicode();
        let mut seen: Vec<char> = t.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
        assert_eq!(t[b' ' as usize], '\u{120}'); // 'Ġ'
        assert_eq!(t[b'\n' as usize], '\u{10A}'); // 'Ċ'
        assert_eq!(t[b'a' as usize], 'a');
    }
}
