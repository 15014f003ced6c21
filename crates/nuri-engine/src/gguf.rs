//! Reading a GGUF file: metadata helpers and the architecture description ([`ModelConfig`]) the
//! transformer in `model.rs` is built from. Supported: `llama` (and llama-family fine-tunes such as
//! SmolLM2), `qwen2` and `gemma3`.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::EngineError;

/// An opened GGUF file: parsed header plus a reader for its tensor data.
pub(crate) struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    /// Opens and parses the header; errors name the file.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let file = File::open(path).map_err(|e| EngineError::load(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let content = Content::read(&mut reader)
            .map_err(|e| EngineError::load(path, format!("not a valid GGUF file: {e}")))?;
        Ok(Self { content, reader })
    }

    pub fn metadata(&self) -> &HashMap<String, Value> {
        &self.content.metadata
    }
}

/// Typed access to GGUF metadata with errors naming the file and key.
pub(crate) struct Meta<'a> {
    pub md: &'a HashMap<String, Value>,
    pub path: &'a Path,
}

impl Meta<'_> {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.md.get(key)
    }

    pub fn u32(&self, key: &str) -> Result<u32, EngineError> {
        let v = self
            .md
            .get(key)
            .ok_or_else(|| EngineError::load(self.path, format!("metadata key `{key}` missing")))?;
        value_to_u64(v)
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| {
                EngineError::load(self.path, format!("metadata key `{key}` is not an integer"))
            })
    }

    pub fn u32_or(&self, key: &str, default: u32) -> u32 {
        self.md
            .get(key)
            .and_then(value_to_u64)
            .and_then(|x| u32::try_from(x).ok())
            .unwrap_or(default)
    }

    pub fn f32_or(&self, key: &str, default: f32) -> f32 {
        match self.md.get(key) {
            Some(Value::F32(x)) => *x,
            Some(Value::F64(x)) => *x as f32,
            _ => default,
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.md.get(key) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        match self.md.get(key) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn strings(&self, key: &str) -> Result<Vec<String>, EngineError> {
        let v = self
            .md
            .get(key)
            .ok_or_else(|| EngineError::load(self.path, format!("metadata key `{key}` missing")))?;
        let arr = v.to_vec().map_err(|_| {
            EngineError::load(self.path, format!("metadata key `{key}` is not an array"))
        })?;
        arr.iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(EngineError::load(
                    self.path,
                    format!("`{key}` holds a non-string"),
                )),
            })
            .collect()
    }

    pub fn numbers_f32(&self, key: &str) -> Option<Vec<f32>> {
        let arr = self.md.get(key)?.to_vec().ok()?;
        arr.iter()
            .map(|x| match x {
                Value::F32(f) => Some(*f),
                Value::F64(f) => Some(*f as f32),
                other => value_to_u64(other).map(|u| u as f32),
            })
            .collect()
    }

    pub fn numbers_i64(&self, key: &str) -> Option<Vec<i64>> {
        let arr = self.md.get(key)?.to_vec().ok()?;
        arr.iter()
            .map(|x| match x {
                Value::I8(v) => Some(i64::from(*v)),
                Value::I16(v) => Some(i64::from(*v)),
                Value::I32(v) => Some(i64::from(*v)),
                Value::I64(v) => Some(*v),
                other => value_to_u64(other).and_then(|u| i64::try_from(u).ok()),
            })
            .collect()
    }
}

fn value_to_u64(v: &Value) -> Option<u64> {
    match v {
        Value::U8(x) => Some(u64::from(*x)),
        Value::U16(x) => Some(u64::from(*x)),
        Value::U32(x) => Some(u64::from(*x)),
        Value::U64(x) => Some(*x),
        Value::I8(x) => u64::try_from(*x).ok(),
        Value::I16(x) => u64::try_from(*x).ok(),
        Value::I32(x) => u64::try_from(*x).ok(),
        Value::I64(x) => u64::try_from(*x).ok(),
        _ => None,
    }
}

/// The model families the transformer implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arch {
    /// Llama: RMSNorm, SwiGLU, interleaved RoPE (GGUF permutes Q/K for it).
    Llama,
    /// Qwen2: Llama plus Q/K/V biases and NeoX (half-split) RoPE.
    Qwen2,
    /// Gemma 3: scaled embeddings, Q/K norms, post-norms, GELU, sliding-window layers.
    Gemma3,
}

/// Shape and hyper-parameters of a decoder-only transformer, read from GGUF metadata.
#[derive(Debug, Clone)]
pub(crate) struct ModelConfig {
    pub arch: Arch,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub context_length: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
    /// RoPE base of sliding-window layers (Gemma 3).
    pub rope_base_local: f32,
    /// Sliding window of local layers (Gemma 3), and every how many layers one is global.
    pub sliding_window: Option<(usize, usize)>,
    pub rope_neox: bool,
    pub attn_scale: f32,
}

impl ModelConfig {
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, EngineError> {
        let arch_name = meta.string("general.architecture").unwrap_or("");
        let arch = match arch_name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "gemma3" => Arch::Gemma3,
            other => {
                return Err(EngineError::UnsupportedArchitecture {
                    path: meta.path.to_path_buf(),
                    arch: other.to_string(),
                })
            }
        };
        let p = arch_name;
        let key = |k: &str| format!("{p}.{k}");
        let n_embd = meta.u32(&key("embedding_length"))? as usize;
        let n_head = meta.u32(&key("attention.head_count"))? as usize;
        let n_kv_head = meta.u32_or(&key("attention.head_count_kv"), n_head as u32) as usize;
        if n_head == 0 || n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) {
            return Err(EngineError::load(
                meta.path,
                "inconsistent attention head counts",
            ));
        }
        let head_dim = meta.u32_or(&key("attention.key_length"), (n_embd / n_head) as u32) as usize;
        let rms_eps = meta.f32_or(&key("attention.layer_norm_rms_epsilon"), 1e-6);
        let default_base = if arch == Arch::Gemma3 {
            1_000_000.0
        } else {
            10_000.0
        };
        let rope_base = meta.f32_or(&key("rope.freq_base"), default_base);
        let sliding_window = match arch {
            Arch::Gemma3 => {
                let window = meta.u32_or(&key("attention.sliding_window"), 512) as usize;
                // Five local layers, then one global (Gemma 3's published pattern).
                Some((window, 6))
            }
            _ => None,
        };
        let attn_scale = 1.0 / (head_dim as f32).sqrt();
        Ok(Self {
            arch,
            n_layer: meta.u32(&key("block_count"))? as usize,
            n_embd,
            n_head,
            n_kv_head,
            head_dim,
            context_length: meta.u32_or(&key("context_length"), 2048) as usize,
            rms_eps,
            rope_base,
            rope_base_local: meta.f32_or(&key("rope.local_freq_base"), 10_000.0),
            sliding_window,
            rope_neox: matches!(arch, Arch::Qwen2 | Arch::Gemma3),
            attn_scale,
        })
    }

    /// Whether layer `i` uses the sliding window (Gemma 3 local layers).
    pub fn sliding_window_of(&self, layer: usize) -> Option<usize> {
        self.sliding_window
            .and_then(|(window, pattern)| (!(layer + 1).is_multiple_of(pattern)).then_some(window))
    }
}
