//! The mock's embeddings and model-list answers.

use base64::Engine as _;
use serde::Serialize;

use super::directives::ErrorStyle;
use super::errors::ApiError;
use super::render::{to_json, Reply, GARBAGE};
use super::request::EmbeddingJob;
use super::MockConfig;

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: EmbeddingData,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EmbeddingData {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// The deterministic unit vector of `input`: FNV-1a of the text seeds a SplitMix64 sequence,
/// one value in [-1, 1) per dimension, then normalised to length 1.
pub fn embedding_vector(input: &str, dims: usize) -> Vec<f32> {
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input.as_bytes() {
        seed ^= u64::from(*b);
        seed = seed.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // 24 random bits → [0, 1) exactly representable in f32, then to [-1, 1).
            ((z >> 40) as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

pub(crate) fn embeddings(job: &EmbeddingJob, config: &MockConfig) -> Reply {
    let d = &job.directives;
    let delay = d.delay.unwrap_or(config.first_byte_delay);
    let mut r = if let Some(status) = d.status {
        Reply::error(&ApiError::for_status(
            status,
            &job.model,
            d.style,
            d.retry_after.unwrap_or(1),
        ))
    } else if d.garbage {
        Reply::json(200, GARBAGE.to_vec())
    } else {
        let dims = job.dims.unwrap_or(config.embedding_dims).clamp(1, 65_536);
        let data = job
            .inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                let v = embedding_vector(input, dims);
                let embedding = if job.base64 {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    EmbeddingData::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    EmbeddingData::Float(v)
                };
                EmbeddingItem {
                    object: "embedding",
                    index,
                    embedding,
                }
            })
            .collect();
        Reply::json(
            200,
            to_json(&EmbeddingList {
                object: "list",
                data,
                model: &job.model,
                usage: EmbeddingUsage {
                    prompt_tokens: job.prompt_tokens,
                    total_tokens: job.prompt_tokens,
                },
            }),
        )
    };
    r.first_byte_delay = delay;
    r
}

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

const MODEL_CREATED: u64 = 1_700_000_000;

fn model_object(id: &str) -> ModelObject<'_> {
    ModelObject {
        id,
        object: "model",
        created: MODEL_CREATED,
        owned_by: "nuri-mock",
    }
}

pub(crate) fn models(config: &MockConfig) -> Reply {
    Reply::json(
        200,
        to_json(&ModelList {
            object: "list",
            data: config.models.iter().map(|m| model_object(m)).collect(),
        }),
    )
}

pub(crate) fn model(config: &MockConfig, id: &str) -> Reply {
    if config.models.iter().any(|m| m == id) {
        Reply::json(200, to_json(&model_object(id)))
    } else {
        Reply::error(&ApiError::for_status(404, id, ErrorStyle::OpenAi, 1))
    }
}
