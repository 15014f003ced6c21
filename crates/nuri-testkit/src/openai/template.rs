//! Pre-rendered bytes for the default chat answer, the benchmark's hot path.
//!
//! The templates are rendered once by the ordinary renderer with sentinel values for the parts
//! that vary per request (id, created, model, prompt and total tokens); serving a request is
//! then a handful of memcpys. The unit tests check that a template renders byte-for-byte what
//! the ordinary renderer renders.

use bytes::{BufMut, Bytes, BytesMut};

use super::directives::Directives;
use super::render::{self, Body, Ids, Step};
use super::request::{Job, Kind};
use super::MockConfig;

const ID: &str = "@@MOCK_ID@@";
const MODEL: &str = "@@MOCK_MODEL@@";
const CREATED: u64 = 3_800_000_000_017;
const PROMPT: u64 = 3_900_000_000_000;

#[derive(Debug, Clone)]
enum Seg {
    Static(Bytes),
    Id,
    Model,
    Created,
    Prompt,
    Total,
}

/// One pre-rendered body.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    segs: Vec<Seg>,
    static_len: usize,
    completion_tokens: u64,
}

/// The four variants of the default chat answer.
#[derive(Debug, Clone)]
pub(crate) struct Templates {
    json: Template,
    sse: Template,
    sse_usage: Template,
}

impl Templates {
    /// `None` when the configuration makes the default answer pause (then there is nothing
    /// to pre-render) or rendering did not produce one plain body.
    pub fn build(config: &MockConfig) -> Option<Self> {
        if !config.chunk_delay.is_zero() {
            return None;
        }
        Some(Self {
            json: Template::build(config, false, false)?,
            sse: Template::build(config, true, false)?,
            sse_usage: Template::build(config, true, true)?,
        })
    }

    /// The template for `job`, when `job` asks for the default answer exactly.
    pub fn for_job(&self, job: &Job, config: &MockConfig) -> Option<&Template> {
        let plain = job.kind == Kind::Chat
            && job.n == 1
            && job.stop.is_empty()
            && job.limit.is_none_or(|l| l >= config.content_chunks as u64)
            && job.directives.is_default();
        if !plain {
            return None;
        }
        Some(match (job.stream, job.include_usage) {
            (false, _) => &self.json,
            (true, false) => &self.sse,
            (true, true) => &self.sse_usage,
        })
    }
}

fn template_job(stream: bool, include_usage: bool) -> Job {
    Job {
        kind: Kind::Chat,
        model: MODEL.to_owned(),
        stream,
        include_usage,
        n: 1,
        stop: Vec::new(),
        limit: None,
        tool_names: Vec::new(),
        prompt_tokens: PROMPT,
        directives: Directives::default(),
    }
}

impl Template {
    fn build(config: &MockConfig, stream: bool, include_usage: bool) -> Option<Self> {
        let job = template_job(stream, include_usage);
        let completion_tokens = render::plan(&job, config).tokens();
        let reply = render::reply(
            &job,
            config,
            Ids {
                id: ID,
                created: CREATED,
            },
        );
        let bytes = match reply.body {
            Body::Full(b) => b,
            Body::Steps(steps) => match steps.as_slice() {
                [Step::Data(b)] => b.clone(),
                _ => return None,
            },
        };
        let created = CREATED.to_string();
        let prompt = PROMPT.to_string();
        let total = (PROMPT + completion_tokens).to_string();
        let needles: [(&[u8], Seg); 5] = [
            (ID.as_bytes(), Seg::Id),
            (MODEL.as_bytes(), Seg::Model),
            (created.as_bytes(), Seg::Created),
            (prompt.as_bytes(), Seg::Prompt),
            (total.as_bytes(), Seg::Total),
        ];
        let mut segs = Vec::new();
        let mut rest = 0;
        loop {
            let next = needles
                .iter()
                .filter_map(|(n, seg)| {
                    memchr::memmem::find(&bytes[rest..], n).map(|at| (rest + at, n.len(), seg))
                })
                .min_by_key(|(at, _, _)| *at);
            let Some((at, len, seg)) = next else {
                segs.push(Seg::Static(bytes.slice(rest..)));
                break;
            };
            if at > rest {
                segs.push(Seg::Static(bytes.slice(rest..at)));
            }
            segs.push(seg.clone());
            rest = at + len;
        }
        let static_len = segs
            .iter()
            .map(|s| match s {
                Seg::Static(b) => b.len(),
                _ => 0,
            })
            .sum();
        Some(Self {
            segs,
            static_len,
            completion_tokens,
        })
    }

    /// Renders the body for one request. `model_json` is the model name as it appears between
    /// the quotes of a JSON string.
    pub fn render(&self, ids: Ids<'_>, model_json: &str, prompt_tokens: u64) -> Bytes {
        let mut out =
            BytesMut::with_capacity(self.static_len + 24 * (ids.id.len() + model_json.len() + 16));
        let mut num = [0u8; 20];
        for seg in &self.segs {
            match seg {
                Seg::Static(b) => out.put_slice(b),
                Seg::Id => out.put_slice(ids.id.as_bytes()),
                Seg::Model => out.put_slice(model_json.as_bytes()),
                Seg::Created => out.put_slice(fmt_u64(ids.created, &mut num)),
                Seg::Prompt => out.put_slice(fmt_u64(prompt_tokens, &mut num)),
                Seg::Total => {
                    out.put_slice(fmt_u64(prompt_tokens + self.completion_tokens, &mut num))
                }
            }
        }
        out.freeze()
    }
}

fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn slow(job: &Job, config: &MockConfig, ids: Ids<'_>) -> Bytes {
        match render::reply(job, config, ids).body {
            Body::Full(b) => b,
            Body::Steps(steps) => match steps.as_slice() {
                [Step::Data(b)] => b.clone(),
                other => panic!("unexpected steps {other:?}"),
            },
        }
    }

    #[test]
    fn templates_render_what_the_renderer_renders() {
        for chunks in [0, 1, 8, 30] {
            let config = MockConfig {
                content_chunks: chunks,
                ..MockConfig::default()
            };
            let templates = Templates::build(&config).unwrap();
            for (stream, usage) in [(false, false), (true, false), (true, true)] {
                let mut job = template_job(stream, usage);
                job.model = "gpt-4o-mini".to_owned();
                job.prompt_tokens = 7;
                let ids = Ids {
                    id: "chatcmpl-xyz",
                    created: 1_764_000_000,
                };
                let fast = templates
                    .for_job(&job, &config)
                    .unwrap()
                    .render(ids, "gpt-4o-mini", 7);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&slow(&job, &config, ids))
                );
            }
        }
    }

    #[test]
    fn numbers_format() {
        let mut buf = [0u8; 20];
        assert_eq!(fmt_u64(0, &mut buf), b"0");
        assert_eq!(fmt_u64(u64::MAX, &mut buf), u64::MAX.to_string().as_bytes());
    }
}
