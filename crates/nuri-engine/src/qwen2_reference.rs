//! Qwen2 support checked without a Qwen2 model file: a tiny random `qwen2` GGUF is written to a
//! temporary file, read through Nuri's metadata mapping ([`ModelConfig::from_meta`]) and
//! transformer ([`Model`]), and compared, logit for logit, with candle-transformers'
//! independent `quantized_qwen2` implementation on the same file. A wrong tensor name, dropped
//! Q/K/V biases, interleaved instead of NeoX RoPE, a wrong RoPE base or head grouping would each
//! move the logits far beyond the tolerance (which only absorbs Nuri's bfloat16 KV cache).

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_qwen2::ModelWeights;

use crate::gguf::{Arch, GgufFile, Meta, ModelConfig};
use crate::model::{KvCache, Model, SeqInput};

const VOCAB: usize = 64;
const EMBD: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FFN: usize = 96;
const LAYERS: usize = 2;
const ROPE_BASE: f32 = 1_000_000.0;

/// Deterministic pseudo-random numbers in `[-scale, scale]` (a 64-bit LCG; no RNG crate needed).
struct Lcg(u64);

impl Lcg {
    fn values(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
                (unit * 2.0 - 1.0) * scale
            })
            .collect()
    }
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> QTensor {
    let t = Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor");
    QTensor::quantize(&t, GgmlDType::F32).expect("f32 qtensor")
}

/// Writes the tiny model: Qwen2's tensor names, Q/K/V biases, grouped KV heads, an untied
/// output matrix.
fn write_tiny_qwen2(path: &Path) {
    let mut rng = Lcg(0x5eed_0f0a);
    let head_dim = EMBD / HEADS;
    let kv = KV_HEADS * head_dim;
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            tensor(rng.values(VOCAB * EMBD, 1.0), &[VOCAB, EMBD]),
        ),
        (
            "output_norm.weight".into(),
            tensor(
                rng.values(EMBD, 0.2).iter().map(|v| 1.0 + v).collect(),
                &[EMBD],
            ),
        ),
        (
            "output.weight".into(),
            tensor(rng.values(VOCAB * EMBD, 0.3), &[VOCAB, EMBD]),
        ),
    ];
    for i in 0..LAYERS {
        let mut add = |name: &str, values: Vec<f32>, shape: &[usize]| {
            tensors.push((format!("blk.{i}.{name}"), tensor(values, shape)));
        };
        let norm = |rng: &mut Lcg| rng.values(EMBD, 0.2).iter().map(|v| 1.0 + v).collect();
        add("attn_norm.weight", norm(&mut rng), &[EMBD]);
        add("ffn_norm.weight", norm(&mut rng), &[EMBD]);
        add("attn_q.weight", rng.values(EMBD * EMBD, 0.3), &[EMBD, EMBD]);
        add("attn_k.weight", rng.values(kv * EMBD, 0.3), &[kv, EMBD]);
        add("attn_v.weight", rng.values(kv * EMBD, 0.3), &[kv, EMBD]);
        add("attn_q.bias", rng.values(EMBD, 1.0), &[EMBD]);
        add("attn_k.bias", rng.values(kv, 1.0), &[kv]);
        add("attn_v.bias", rng.values(kv, 1.0), &[kv]);
        add(
            "attn_output.weight",
            rng.values(EMBD * EMBD, 0.2),
            &[EMBD, EMBD],
        );
        add("ffn_gate.weight", rng.values(FFN * EMBD, 0.3), &[FFN, EMBD]);
        add("ffn_up.weight", rng.values(FFN * EMBD, 0.3), &[FFN, EMBD]);
        add("ffn_down.weight", rng.values(EMBD * FFN, 0.2), &[EMBD, FFN]);
    }
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("qwen2".into())),
        ("qwen2.block_count", Value::U32(LAYERS as u32)),
        ("qwen2.context_length", Value::U32(256)),
        ("qwen2.embedding_length", Value::U32(EMBD as u32)),
        ("qwen2.feed_forward_length", Value::U32(FFN as u32)),
        ("qwen2.attention.head_count", Value::U32(HEADS as u32)),
        ("qwen2.attention.head_count_kv", Value::U32(KV_HEADS as u32)),
        ("qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-6)),
        ("qwen2.rope.freq_base", Value::F32(ROPE_BASE)),
    ];
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).expect("create gguf");
    gguf_file::write(&mut file, &md, &ts).expect("write gguf");
}

/// Largest absolute logit difference, and the reference's top logit minus the reference's
/// logit at Nuri's choice (0 when both pick the same token).
fn compare(nuri: &[f32], reference: &[f32]) -> (f32, f32) {
    let diff = nuri
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let top = reference[argmax(reference)];
    (diff, top - reference[argmax(nuri)])
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |best, (i, &x)| if x > best.1 { (i, x) } else { best },
        )
        .0
}

#[test]
fn qwen2_matches_candle_reference() {
    let dir = std::env::temp_dir().join(format!("nuri-qwen2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tiny-qwen2.gguf");
    write_tiny_qwen2(&path);

    // Metadata mapping.
    let mut file = GgufFile::open(&path).expect("open");
    let cfg = ModelConfig::from_meta(&Meta {
        md: file.metadata(),
        path: &path,
    })
    .expect("qwen2 config");
    assert_eq!(cfg.arch, Arch::Qwen2);
    assert_eq!(
        (
            cfg.n_layer,
            cfg.n_embd,
            cfg.n_head,
            cfg.n_kv_head,
            cfg.head_dim
        ),
        (LAYERS, EMBD, HEADS, KV_HEADS, EMBD / HEADS)
    );
    assert_eq!(cfg.context_length, 256);
    assert!(cfg.rope_neox, "qwen2 uses NeoX (half-split) RoPE");
    assert_eq!(cfg.rope_base, ROPE_BASE);
    assert!(cfg.sliding_window.is_none());
    let model = Model::load(&mut file, cfg, 1).expect("nuri loads qwen2");
    assert_eq!(model.vocab_size(), VOCAB);

    let mut reader = std::fs::File::open(&path).expect("reopen");
    let content = gguf_file::Content::read(&mut reader).expect("read gguf");
    let mut reference =
        ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).expect("candle loads qwen2");
    let reference_logits = |model: &mut ModelWeights, tokens: &[u32], pos: usize| -> Vec<f32> {
        let input = Tensor::new(tokens, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("input");
        model
            .forward(&input, pos)
            .and_then(|l| l.flatten_all())
            .and_then(|l| l.to_vec1::<f32>())
            .expect("reference forward")
    };

    // Prefill, then eight greedy steps, comparing the logits at every step.
    let prompt: Vec<u32> = vec![1, 17, 5, 42, 9, 33, 3, 60, 11];
    let mut cache = KvCache::new(LAYERS);
    let mut tokens = prompt.clone();
    let mut pos = 0;
    for step in 0..9 {
        let fresh = &tokens[pos..];
        let ours = model
            .forward(&mut [SeqInput {
                tokens: fresh,
                cache: &mut cache,
                want_logits: true,
            }])
            .expect("nuri forward")
            .pop()
            .flatten()
            .expect("logits");
        let theirs = reference_logits(&mut reference, fresh, pos);
        assert_eq!(ours.len(), VOCAB);
        let scale = theirs.iter().map(|x| x.abs()).fold(1.0, f32::max);
        let (diff, regret) = compare(&ours, &theirs);
        assert!(
            diff <= 0.02 * scale,
            "step {step}: logits differ by {diff} (scale {scale})"
        );
        assert!(
            regret <= 0.02 * scale,
            "step {step}: Nuri's greedy token is {regret} below the reference's best"
        );
        pos = tokens.len();
        tokens.push(argmax(&ours) as u32);
    }
    assert_eq!(tokens.len(), prompt.len() + 9);
    let _ = std::fs::remove_dir_all(&dir);
}
