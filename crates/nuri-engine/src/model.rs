//! The decoder-only transformer (llama / qwen2 / gemma3 families) over GGUF weights.
//!
//! One forward pass takes a *batch of sequences*, each with its own [`KvCache`] and any number of
//! new tokens (a whole prompt, a prompt chunk, or the one token of a decode step). The rows of all
//! sequences are stacked so every weight matrix is streamed from memory once per step for the
//! whole batch (the kernels unpack each weight row once for all the batch's rows, so 8 decode rows
//! cost far less than 8 passes);
//! only attention runs per sequence, against that sequence's own cache. This is what makes
//! continuous batching pay off on a memory-bound CPU.
//!
//! Linear layers run in Nuri's own quantised kernels ([`crate::qmatmul`]): each input is
//! quantised once and shared by the matrices that read it (q/k/v, gate/up). The small
//! element-wise work (norms, RoPE, activations, decode attention) runs on plain `f32`
//! slices, which avoids per-op tensor overhead that dominates at batch sizes this small.

use candle_core::quantized::QTensor;
use candle_core::{Device, Result, Tensor};

use crate::gguf::{Arch, GgufFile, ModelConfig};
use crate::linear::{Input, Linear};
use crate::qmatmul::{scores_bf16_heads, weighted_sum_bf16_heads, Threads};

/// Per-sequence key/value cache: for each layer, keys and values laid out `[pos][kv_head][dim]`,
/// stored as bfloat16 (the top half of an f32: half the memory, 23 KB per token for SmolLM2,
/// and conversions that are a shift). Grows with the sequence (no up-front allocation of the
/// whole window).
#[derive(Debug)]
pub(crate) struct KvCache {
    layers: Vec<(Vec<u16>, Vec<u16>)>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layer` layers.
    pub fn new(n_layer: usize) -> Self {
        Self {
            layers: (0..n_layer).map(|_| (Vec::new(), Vec::new())).collect(),
            len: 0,
        }
    }

    /// Tokens held.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// One sequence's part of a forward pass.
pub(crate) struct SeqInput<'a> {
    /// New tokens, at positions `cache.len()..`.
    pub tokens: &'a [u32],
    /// The sequence's cache; extended by `tokens`.
    pub cache: &'a mut KvCache,
    /// Whether to compute logits for the last new token.
    pub want_logits: bool,
}

struct Layer {
    attn_norm: Vec<f32>,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    post_attn_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate: Linear,
    up: Linear,
    down: Linear,
    post_ffn_norm: Option<Vec<f32>>,
    window: Option<usize>,
}

/// The loaded weights plus the configuration they were read with.
pub(crate) struct Model {
    cfg: ModelConfig,
    /// The token embedding table; also the output projection when `output` is `None` (tied).
    embed: Linear,
    output: Option<Linear>,
    threads: Threads,
    out_norm: Vec<f32>,
    layers: Vec<Layer>,
    inv_freq: Vec<f32>,
    inv_freq_local: Vec<f32>,
    vocab: usize,
}

fn inv_freqs(head_dim: usize, base: f32) -> Vec<f32> {
    (0..head_dim / 2)
        .map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32))
        .collect()
}

impl Model {
    /// Reads every tensor of `file` into the kernels' layout; matmuls run on `threads` threads.
    pub fn load(file: &mut GgufFile, cfg: ModelConfig, threads: usize) -> Result<Self> {
        let cpu = Device::Cpu;
        let GgufFile { content, reader } = file;
        let mut qt = |name: &str| -> Result<QTensor> { content.tensor(reader, name, &cpu) };
        let has = |name: &str| content.tensor_infos.contains_key(name);
        let has_output = has("output.weight");
        let has_bias = has("blk.0.attn_q.bias");

        let embed = Linear::load(&qt("token_embd.weight")?)?;
        let vocab = embed.rows();
        let output = if has_output {
            Some(Linear::load(&qt("output.weight")?)?)
        } else {
            None
        };
        let out_norm = dense(qt("output_norm.weight")?)?;
        let gemma = cfg.arch == Arch::Gemma3;
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let mut w = |suffix: &str| -> Result<Linear> {
                Linear::load(&qt(&format!("blk.{i}.{suffix}"))?)
            };
            let wq = w("attn_q.weight")?;
            let wk = w("attn_k.weight")?;
            let wv = w("attn_v.weight")?;
            let wo = w("attn_output.weight")?;
            let gate = w("ffn_gate.weight")?;
            let up = w("ffn_up.weight")?;
            let down = w("ffn_down.weight")?;
            let mut d =
                |suffix: &str| -> Result<Vec<f32>> { dense(qt(&format!("blk.{i}.{suffix}"))?) };
            let (bq, bk, bv) = if has_bias {
                (
                    Some(d("attn_q.bias")?),
                    Some(d("attn_k.bias")?),
                    Some(d("attn_v.bias")?),
                )
            } else {
                (None, None, None)
            };
            let (q_norm, k_norm, post_attn_norm, post_ffn_norm) = if gemma {
                (
                    Some(d("attn_q_norm.weight")?),
                    Some(d("attn_k_norm.weight")?),
                    Some(d("post_attention_norm.weight")?),
                    Some(d("post_ffw_norm.weight")?),
                )
            } else {
                (None, None, None, None)
            };
            layers.push(Layer {
                attn_norm: d("attn_norm.weight")?,
                ffn_norm: d("ffn_norm.weight")?,
                wq,
                wk,
                wv,
                wo,
                bq,
                bk,
                bv,
                q_norm,
                k_norm,
                post_attn_norm,
                gate,
                up,
                down,
                post_ffn_norm,
                window: cfg.sliding_window_of(i),
            });
        }
        Ok(Self {
            inv_freq: inv_freqs(cfg.head_dim, cfg.rope_base),
            inv_freq_local: inv_freqs(cfg.head_dim, cfg.rope_base_local),
            cfg,
            embed,
            output,
            out_norm,
            layers,
            vocab,
            threads: Threads::new(threads),
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Vocabulary size (rows of the embedding table).
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// Runs one step for a batch of sequences; returns, per sequence, the logits of its last new
    /// token when asked for.
    pub fn forward(&self, batch: &mut [SeqInput<'_>]) -> Result<Vec<Option<Vec<f32>>>> {
        let cfg = &self.cfg;
        let (d, hd) = (cfg.n_embd, cfg.head_dim);
        let (qdim, kvdim) = (cfg.n_head * hd, cfg.n_kv_head * hd);
        let ids: Vec<u32> = batch
            .iter()
            .flat_map(|s| s.tokens.iter().copied())
            .collect();
        let n = ids.len();
        if n == 0 {
            return Ok(batch.iter().map(|_| None).collect());
        }
        let positions: Vec<usize> = batch
            .iter()
            .flat_map(|s| (0..s.tokens.len()).map(|i| s.cache.len() + i))
            .collect();

        let mut x = Vec::with_capacity(n * d);
        for &id in &ids {
            if id as usize >= self.vocab {
                candle_core::bail!("token id {id} is outside the vocabulary ({})", self.vocab);
            }
            x.extend(self.embed.row(id as usize)?);
        }
        if cfg.arch == Arch::Gemma3 {
            let scale = (d as f32).sqrt();
            x.iter_mut().for_each(|v| *v *= scale);
        }
        let rope = RopeTable::new(&positions, &self.inv_freq);
        let rope_local = if cfg.sliding_window.is_some() {
            Some(RopeTable::new(&positions, &self.inv_freq_local))
        } else {
            None
        };

        let mut h = vec![0f32; n * d];
        let mut attn = vec![0f32; n * qdim];
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            rms_norm_rows(&x, &layer.attn_norm, cfg.rms_eps, d, &mut h);
            let input = Input::new(&h, n, d);
            let mut q = layer.wq.forward(&input, &self.threads)?;
            let mut k = layer.wk.forward(&input, &self.threads)?;
            let v = {
                let mut v = layer.wv.forward(&input, &self.threads)?;
                add_bias(&mut v, layer.bv.as_deref(), kvdim);
                v
            };
            add_bias(&mut q, layer.bq.as_deref(), qdim);
            add_bias(&mut k, layer.bk.as_deref(), kvdim);
            if let Some(w) = &layer.q_norm {
                rms_norm_in_place(&mut q, w, cfg.rms_eps, hd);
            }
            if let Some(w) = &layer.k_norm {
                rms_norm_in_place(&mut k, w, cfg.rms_eps, hd);
            }
            let table = match (&rope_local, layer.window) {
                (Some(local), Some(_)) => local,
                _ => &rope,
            };
            table.apply(&mut q, hd, cfg.rope_neox);
            table.apply(&mut k, hd, cfg.rope_neox);

            let mut row = 0;
            for seq in batch.iter_mut() {
                let t = seq.tokens.len();
                let (kc, vc) = &mut seq.cache.layers[layer_idx];
                append_bf16(kc, &k[row * kvdim..(row + t) * kvdim]);
                append_bf16(vc, &v[row * kvdim..(row + t) * kvdim]);
                let p0 = seq.cache.len;
                let out = &mut attn[row * qdim..(row + t) * qdim];
                let qs = &q[row * qdim..(row + t) * qdim];
                if t <= 4 {
                    attend_rows(cfg, layer.window, qs, kc, vc, p0, t, out);
                } else {
                    attend_chunk(cfg, layer.window, qs, kc, vc, p0, t, out)?;
                }
                row += t;
            }

            let mut o = layer
                .wo
                .forward(&Input::new(&attn, n, qdim), &self.threads)?;
            if let Some(w) = &layer.post_attn_norm {
                rms_norm_in_place(&mut o, w, cfg.rms_eps, d);
            }
            add_in_place(&mut x, &o);

            rms_norm_rows(&x, &layer.ffn_norm, cfg.rms_eps, d, &mut h);
            let input = Input::new(&h, n, d);
            let mut g = layer.gate.forward(&input, &self.threads)?;
            let u = layer.up.forward(&input, &self.threads)?;
            let gelu = cfg.arch == Arch::Gemma3;
            for (gi, ui) in g.iter_mut().zip(&u) {
                *gi = if gelu { gelu_tanh(*gi) } else { silu(*gi) } * ui;
            }
            let ffn = layer.down.cols();
            let mut y = layer.down.forward(&Input::new(&g, n, ffn), &self.threads)?;
            if let Some(w) = &layer.post_ffn_norm {
                rms_norm_in_place(&mut y, w, cfg.rms_eps, d);
            }
            add_in_place(&mut x, &y);
        }

        // Logits only for the last new row of the sequences that want them.
        let mut last_rows = Vec::new();
        let mut wanted = Vec::new();
        let mut row = 0;
        for (i, seq) in batch.iter_mut().enumerate() {
            let t = seq.tokens.len();
            seq.cache.len += t;
            row += t;
            if seq.want_logits && t > 0 {
                let mut r = vec![0f32; d];
                rms_norm_rows(
                    &x[(row - 1) * d..row * d],
                    &self.out_norm,
                    cfg.rms_eps,
                    d,
                    &mut r,
                );
                last_rows.extend_from_slice(&r);
                wanted.push(i);
            }
        }
        let mut result: Vec<Option<Vec<f32>>> = batch.iter().map(|_| None).collect();
        if !wanted.is_empty() {
            let output = self.output.as_ref().unwrap_or(&self.embed);
            let logits = output.forward(&Input::new(&last_rows, wanted.len(), d), &self.threads)?;
            let vocab = logits.len() / wanted.len();
            for (j, &i) in wanted.iter().enumerate() {
                result[i] = Some(logits[j * vocab..(j + 1) * vocab].to_vec());
            }
        }
        Ok(result)
    }
}

fn dense(t: QTensor) -> Result<Vec<f32>> {
    t.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()
}

/// Appends f32 values as bfloat16 (round to nearest even).
fn append_bf16(cache: &mut Vec<u16>, rows: &[f32]) {
    cache.extend(rows.iter().map(|&x| {
        let bits = x.to_bits();
        let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1));
        (rounded >> 16) as u16
    }));
}

/// f32 copy of cache positions `from..to`.
fn to_f32(cache: &[u16], from: usize, to: usize, width: usize) -> Vec<f32> {
    cache[from * width..to * width]
        .iter()
        .map(|&b| f32::from_bits(u32::from(b) << 16))
        .collect()
}

fn add_bias(x: &mut [f32], bias: Option<&[f32]>, width: usize) {
    if let Some(b) = bias {
        for row in x.chunks_exact_mut(width) {
            add_in_place(row, b);
        }
    }
}

fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

fn rms_norm_rows(x: &[f32], w: &[f32], eps: f32, width: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let ms = dot(row, row) / width as f32;
        let scale = 1.0 / (ms + eps).sqrt();
        for ((oi, xi), wi) in o.iter_mut().zip(row).zip(w) {
            *oi = xi * scale * wi;
        }
    }
}

fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32, width: usize) {
    for row in x.chunks_exact_mut(width) {
        let ms = dot(row, row) / width as f32;
        let scale = 1.0 / (ms + eps).sqrt();
        for (xi, wi) in row.iter_mut().zip(w) {
            *xi *= scale * wi;
        }
    }
}

fn silu(x: f32) -> f32 {
    x / (1.0 + fast_exp(-x))
}

/// `e^x` within a few ulp, without a library call, so the loops that use it vectorise
/// (Cephes' `expf` polynomial on `x − n·ln 2`, scaled by `2^n` through the exponent bits).
/// Inputs are clamped to the range whose result is a normal f32.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    // Adding 1.5 · 2^23 rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits((t.to_bits().wrapping_sub(ROUND.to_bits()) + 127) << 23);
    y * scale
}

/// `scores ← softmax(scale · scores)` for `scale > 0`, in separate passes that each vectorise
/// (a running sum beside the exponentials would keep them one at a time).
fn softmax_in_place(scores: &mut [f32], scale: f32) {
    let max = max_of(scores);
    for s in scores.iter_mut() {
        *s = fast_exp((*s - max) * scale);
    }
    let inv = 1.0 / sum_of(scores);
    for s in scores.iter_mut() {
        *s *= inv;
    }
}

/// The largest value (−∞ for none), eight lanes at a time.
fn max_of(v: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    lanes
        .iter()
        .chain(rest)
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x))
}

/// The sum of the values, eight lanes at a time.
fn sum_of(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (s, &x) in lanes.iter_mut().zip(c) {
            *s += x;
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2/pi)
    let e = fast_exp(2.0 * C * (x + 0.044_715 * x * x * x));
    // tanh(z) = (e^2z − 1) / (e^2z + 1)
    0.5 * x * (1.0 + (e - 1.0) / (e + 1.0))
}

/// Dot product with eight independent accumulators so it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len().min(b.len()) {
        sum += a[i] * b[i];
    }
    sum
}

/// cos/sin of every row's position for one RoPE base: `[row][i]`, `i < head_dim / 2`.
struct RopeTable {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
}

impl RopeTable {
    fn new(positions: &[usize], inv_freq: &[f32]) -> Self {
        let half = inv_freq.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for &p in positions {
            for &f in inv_freq {
                let (s, c) = (p as f32 * f).sin_cos();
                cos.push(c);
                sin.push(s);
            }
        }
        Self { cos, sin, half }
    }

    /// Rotates every head of every row of `x` (rows of `n_heads × head_dim`).
    fn apply(&self, x: &mut [f32], head_dim: usize, neox: bool) {
        let half = self.half;
        let rows = self.cos.len() / half.max(1);
        if rows == 0 {
            return;
        }
        let width = x.len() / rows;
        for (r, row) in x.chunks_exact_mut(width).enumerate() {
            let (cos, sin) = (
                &self.cos[r * half..(r + 1) * half],
                &self.sin[r * half..(r + 1) * half],
            );
            for head in row.chunks_exact_mut(head_dim) {
                if neox {
                    let (a, b) = head.split_at_mut(half);
                    for i in 0..half {
                        let (x0, x1) = (a[i], b[i]);
                        a[i] = x0 * cos[i] - x1 * sin[i];
                        b[i] = x0 * sin[i] + x1 * cos[i];
                    }
                } else {
                    for i in 0..half {
                        let (x0, x1) = (head[2 * i], head[2 * i + 1]);
                        head[2 * i] = x0 * cos[i] - x1 * sin[i];
                        head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                    }
                }
            }
        }
    }
}

/// First key position visible from `pos` (sliding-window layers see the last `window` tokens).
fn first_visible(pos: usize, window: Option<usize>) -> usize {
    window.map_or(0, |w| (pos + 1).saturating_sub(w))
}

/// Attention of a few rows (decode) in plain Rust against the cache, which already holds them.
#[allow(clippy::too_many_arguments)]
fn attend_rows(
    cfg: &ModelConfig,
    window: Option<usize>,
    q: &[f32],
    kc: &[u16],
    vc: &[u16],
    p0: usize,
    t: usize,
    out: &mut [f32],
) {
    let (hd, h, hkv) = (cfg.head_dim, cfg.n_head, cfg.n_kv_head);
    let group = h / hkv;
    let kvdim = hkv * hd;
    let mut scores = Vec::with_capacity(group * (p0 + t));
    // Keys and values are read from the bfloat16 cache as they are: converting them is a
    // shift, cheaper than copying the whole visible cache to f32 for every step. The query
    // heads that share a key/value head are done together, so each key is read once for all.
    for r in 0..t {
        let pos = p0 + r;
        let start = first_visible(pos, window);
        let n = pos + 1 - start;
        for kvh in 0..hkv {
            let heads = r * h * hd + kvh * group * hd..r * h * hd + (kvh + 1) * group * hd;
            scores.clear();
            scores.resize(group * n, 0.0);
            let first = start * kvdim + kvh * hd;
            scores_bf16_heads(&q[heads.clone()], &kc[first..], kvdim, group, &mut scores);
            for head_scores in scores.chunks_exact_mut(n) {
                softmax_in_place(head_scores, cfg.attn_scale);
            }
            weighted_sum_bf16_heads(&scores, &vc[first..], kvdim, group, &mut out[heads]);
        }
    }
}

/// Attention of a chunk of rows (prefill) with candle matmuls and a causal (windowed) mask.
#[allow(clippy::too_many_arguments)]
fn attend_chunk(
    cfg: &ModelConfig,
    window: Option<usize>,
    q: &[f32],
    kc: &[u16],
    vc: &[u16],
    p0: usize,
    t: usize,
    out: &mut [f32],
) -> Result<()> {
    let (hd, h, hkv) = (cfg.head_dim, cfg.n_head, cfg.n_kv_head);
    let group = h / hkv;
    let l = p0 + t;
    let cpu = &Device::Cpu;
    let k = Tensor::from_vec(to_f32(kc, 0, l, hkv * hd), (l, hkv, hd), cpu)?
        .transpose(0, 1)?
        .contiguous()?;
    let v = Tensor::from_vec(to_f32(vc, 0, l, hkv * hd), (l, hkv, hd), cpu)?
        .transpose(0, 1)?
        .contiguous()?;
    let qt = Tensor::from_slice(q, (t, h, hd), cpu)?
        .transpose(0, 1)?
        .contiguous()?
        .reshape((hkv, group * t, hd))?;
    let mut mask = vec![0f32; t * l];
    for r in 0..t {
        let pos = p0 + r;
        let start = first_visible(pos, window);
        for (j, m) in mask[r * l..(r + 1) * l].iter_mut().enumerate() {
            if j > pos || j < start {
                *m = f32::NEG_INFINITY;
            }
        }
    }
    let mask = Tensor::from_vec(mask, (1, 1, t, l), cpu)?;
    let att = (qt.matmul(&k.t()?)? * f64::from(cfg.attn_scale))?
        .reshape((hkv, group, t, l))?
        .broadcast_add(&mask)?
        .reshape((hkv, group * t, l))?;
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    let y = att
        .matmul(&v)?
        .reshape((h, t, hd))?
        .transpose(0, 1)?
        .contiguous()?
        .flatten_all()?
        .to_vec1::<f32>()?;
    out.copy_from_slice(&y);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        for n in [1, 7, 8, 37] {
            let mut s: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin() * 5.0).collect();
            let raw = s.clone();
            softmax_in_place(&mut s, 0.125);
            let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = raw.iter().map(|x| ((x - max) * 0.125).exp()).sum();
            for (got, x) in s.iter().zip(&raw) {
                let want = ((x - max) * 0.125).exp() / sum;
                assert!((got - want).abs() < 1e-6, "n = {n}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
        let mut cache = Vec::new();
        append_bf16(&mut cache, &b);
        let back = to_f32(&cache, 0, 37, 1);
        assert!(back
            .iter()
            .zip(&b)
            .all(|(x, y)| (x - y).abs() <= y.abs() / 128.0));
    }

    #[test]
    fn fast_exp_matches_the_library() {
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let (got, want) = (fast_exp(x), x.exp());
            assert!(
                (got - want).abs() <= 4e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(fast_exp(-1000.0), (-87.3f32).exp());
        assert!(silu(-200.0).abs() < 1e-30 && (silu(30.0) - 30.0).abs() < 1e-5);
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-5);
    }

    #[test]
    fn sliding_window_start() {
        assert_eq!(first_visible(10, None), 0);
        assert_eq!(first_visible(10, Some(4)), 7);
        assert_eq!(first_visible(2, Some(4)), 0);
    }
}
