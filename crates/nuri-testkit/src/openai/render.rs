//! Turning a parsed request into the bytes of the answer (the "slow path"; the default
//! scenario is served from templates built by this same code, see `template.rs`).

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::directives::ErrorStyle;
use super::errors::{error_json, ApiError};
use super::request::{Job, Kind};
use super::MockConfig;

/// The default answer's pieces (8 of them: the performance doc's 10-chunk stream).
pub(crate) const DEFAULT_PIECES: [&str; 8] = [
    "Hello",
    " from",
    " the",
    " mock",
    " upstream",
    ",",
    " friend",
    ".",
];
/// The Korean answer's pieces; every one but `"!"` and `"."` holds 3-byte characters.
pub(crate) const KOREAN_PIECES: [&str; 8] = [
    "안녕하세요",
    "!",
    " 저는",
    " 누리",
    " 모의",
    " 서버",
    "입니다",
    ".",
];
const CITIES: [&str; 8] = [
    "Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Ulsan", "Suwon",
];
/// Argument fragments are this many bytes (the arguments are ASCII).
const FRAGMENT: usize = 8;
/// Where `cut`, `inband_error` and `content_filter` strike by default.
const DEFAULT_AFTER: usize = 3;
/// Pause between the two halves of a split multibyte character.
const SPLIT_PAUSE: Duration = Duration::from_millis(2);
/// Pause before a cut, so what came before it is flushed to the socket first (an error from
/// the body makes hyper drop the connection at once, unsent buffer included).
const CUT_PAUSE: Duration = Duration::from_millis(20);
const FINGERPRINT: &str = "fp_nuri_mock";
pub(crate) const GARBAGE: &[u8] = b"<html><body>this is not JSON {\"oops\": </body></html>\n";

/// One piece of a streamed body.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Data(Bytes),
    Sleep(Duration),
    /// Drop the connection without finishing the body.
    Cut,
}

/// A complete answer: status, headers to add and the body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    /// Set on a 429: `retry-after` seconds; rate-limit headers then say 0 remaining.
    pub retry_after: Option<u64>,
    pub first_byte_delay: Duration,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Full(Bytes),
    Steps(Vec<Step>),
}

/// The per-request identity spliced into the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids<'a> {
    pub id: &'a str,
    pub created: u64,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: "application/json",
            retry_after: None,
            first_byte_delay: Duration::ZERO,
            body: Body::Full(Bytes::from(body)),
        }
    }

    /// An error reply (with rate-limit headers for 429).
    pub fn error(err: &ApiError) -> Self {
        let mut reply = Self::json(err.status, err.body());
        reply.retry_after = err.retry_after;
        reply
    }
}

// ---------------------------------------------------------------------------------------------
// Wire structs, fields in the order the OpenAI API sends them.

#[derive(Serialize)]
pub(crate) struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: 0,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

#[derive(Serialize)]
struct Chunk<'a, C: Serialize> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'static str>,
    choices: C,
    /// `None`: key absent; `Some(None)`: `"usage":null`; `Some(Some(u))`: the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: usize,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct TextChunkChoice<'a> {
    text: &'a str,
    index: usize,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Full<'a, C: Serialize> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: C,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'static str>,
}

#[derive(Serialize)]
struct FullChatChoice<'a> {
    index: usize,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<FullToolCall<'a>>>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct FullToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FullFunction<'a>,
}

#[derive(Serialize)]
struct FullFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct FullTextChoice<'a> {
    text: &'a str,
    index: usize,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

// ---------------------------------------------------------------------------------------------
// What to answer.

/// One tool call of the planned answer.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl Call {
    fn fragments(&self) -> Vec<&str> {
        // ASCII arguments: byte chunks are char boundaries.
        let bytes = self.arguments.as_bytes();
        (0..bytes.len())
            .step_by(FRAGMENT)
            .filter_map(|start| {
                let end = (start + FRAGMENT).min(bytes.len());
                self.arguments.get(start..end)
            })
            .collect()
    }
}

/// The planned answer of one choice (all choices get the same one).
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    Tools {
        calls: Vec<Call>,
    },
}

impl Answer {
    /// Completion tokens of one choice: content pieces, or argument fragments.
    pub fn tokens(&self) -> u64 {
        match self {
            Answer::Text { pieces, .. } => pieces.len() as u64,
            Answer::Tools { calls } => calls.iter().map(|c| c.fragments().len() as u64).sum(),
        }
    }

    fn finish(&self) -> &'static str {
        match self {
            Answer::Text { finish, .. } => finish,
            Answer::Tools { .. } => "tool_calls",
        }
    }
}

/// Decides the answer from the directives and the request's `stop` and token limit.
pub(crate) fn plan(job: &Job, config: &MockConfig) -> Answer {
    let d = &job.directives;
    if let (Some(count), Kind::Chat) = (d.tools, job.kind) {
        let calls = (0..count.max(1))
            .map(|i| Call {
                id: format!("call_mock_{i}"),
                name: if job.tool_names.is_empty() {
                    "get_weather".to_owned()
                } else {
                    job.tool_names[i % job.tool_names.len()].clone()
                },
                arguments: format!(
                    "{{\"city\":\"{}\",\"unit\":\"celsius\"}}",
                    CITIES[i % CITIES.len()]
                ),
            })
            .collect();
        return Answer::Tools { calls };
    }
    let count = d.content.unwrap_or(config.content_chunks);
    let echo: Vec<String> = d
        .echo_words
        .iter()
        .enumerate()
        .map(|(i, w)| if i == 0 { w.clone() } else { format!(" {w}") })
        .collect();
    let source: Vec<&str> = if d.korean {
        KOREAN_PIECES.to_vec()
    } else if d.echo && !echo.is_empty() {
        echo.iter().map(String::as_str).collect()
    } else {
        DEFAULT_PIECES.to_vec()
    };
    let mut pieces: Vec<String> = (0..count)
        .map(|i| source[i % source.len()].to_owned())
        .collect();
    let mut finish = "stop";
    if d.content_filter {
        pieces.truncate(d.after.unwrap_or(DEFAULT_AFTER));
        finish = "content_filter";
    }
    if !job.stop.is_empty() {
        let text: String = pieces.concat();
        if let Some(at) = job.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
            let mut kept = Vec::new();
            let mut pos = 0;
            for piece in pieces {
                if pos + piece.len() <= at {
                    pos += piece.len();
                    kept.push(piece);
                } else {
                    let head = &piece[..at - pos];
                    if !head.is_empty() {
                        kept.push(head.to_owned());
                    }
                    break;
                }
            }
            pieces = kept;
            finish = "stop";
        }
    }
    if let Some(limit) = job.limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if pieces.len() > limit {
            pieces.truncate(limit);
            finish = "length";
        }
    }
    Answer::Text { pieces, finish }
}

fn event<T: Serialize>(value: &T) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    // Serializing these plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, value);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Renders a chat or completion reply (errors, garbage, JSON or SSE) for `job`.
pub(crate) fn reply(job: &Job, config: &MockConfig, ids: Ids<'_>) -> Reply {
    let d = &job.directives;
    let delay = d.delay.unwrap_or(config.first_byte_delay);
    if let Some(status) = d.status {
        let err = ApiError::for_status(status, &job.model, d.style, d.retry_after.unwrap_or(1));
        let mut r = Reply::error(&err);
        r.first_byte_delay = delay;
        return r;
    }
    if d.garbage {
        let mut r = Reply::json(200, GARBAGE.to_vec());
        r.first_byte_delay = delay;
        return r;
    }
    let answer = plan(job, config);
    let mut r = if job.stream {
        stream(job, config, &answer, ids)
    } else if d.inband_error {
        Reply::error(&ApiError::for_status(500, &job.model, d.style, 1))
    } else {
        let body = full(job, &answer, ids);
        if d.cut {
            let half = Bytes::from(body);
            Reply {
                status: 200,
                content_type: "application/json",
                retry_after: None,
                first_byte_delay: Duration::ZERO,
                body: Body::Steps(vec![
                    Step::Data(half.slice(..half.len() / 2)),
                    Step::Sleep(CUT_PAUSE),
                    Step::Cut,
                ]),
            }
        } else {
            Reply::json(200, body)
        }
    };
    r.first_byte_delay = delay;
    r
}

fn full(job: &Job, answer: &Answer, ids: Ids<'_>) -> Vec<u8> {
    let usage = Usage::new(job.prompt_tokens, answer.tokens() * job.n as u64);
    match (job.kind, answer) {
        (Kind::Chat, Answer::Text { pieces, finish }) => {
            let text = pieces.concat();
            let choices: Vec<FullChatChoice<'_>> = (0..job.n)
                .map(|index| FullChatChoice {
                    index,
                    message: AssistantMessage {
                        role: "assistant",
                        content: Some(&text),
                        refusal: None,
                        tool_calls: None,
                        annotations: [],
                    },
                    logprobs: None,
                    finish_reason: finish,
                })
                .collect();
            to_json(&chat_full(job, ids, choices, &usage))
        }
        (Kind::Chat, Answer::Tools { calls }) => {
            let choices: Vec<FullChatChoice<'_>> = (0..job.n)
                .map(|index| FullChatChoice {
                    index,
                    message: AssistantMessage {
                        role: "assistant",
                        content: None,
                        refusal: None,
                        tool_calls: Some(
                            calls
                                .iter()
                                .map(|c| FullToolCall {
                                    id: &c.id,
                                    kind: "function",
                                    function: FullFunction {
                                        name: &c.name,
                                        arguments: &c.arguments,
                                    },
                                })
                                .collect(),
                        ),
                        annotations: [],
                    },
                    logprobs: None,
                    finish_reason: "tool_calls",
                })
                .collect();
            to_json(&chat_full(job, ids, choices, &usage))
        }
        (Kind::Completion, answer) => {
            let text = match answer {
                Answer::Text { pieces, .. } => pieces.concat(),
                Answer::Tools { .. } => String::new(),
            };
            let choices: Vec<FullTextChoice<'_>> = (0..job.n)
                .map(|index| FullTextChoice {
                    text: &text,
                    index,
                    logprobs: None,
                    finish_reason: answer.finish(),
                })
                .collect();
            to_json(&Full {
                id: ids.id,
                object: "text_completion",
                created: ids.created,
                model: &job.model,
                choices,
                usage: (!job.directives.no_usage).then_some(&usage),
                service_tier: None,
                system_fingerprint: Some(FINGERPRINT),
            })
        }
    }
}

fn chat_full<'a>(
    job: &'a Job,
    ids: Ids<'a>,
    choices: Vec<FullChatChoice<'a>>,
    usage: &'a Usage,
) -> Full<'a, Vec<FullChatChoice<'a>>> {
    Full {
        id: ids.id,
        object: "chat.completion",
        created: ids.created,
        model: &job.model,
        choices,
        usage: (!job.directives.no_usage).then_some(usage),
        service_tier: Some("default"),
        system_fingerprint: Some(FINGERPRINT),
    }
}

/// The delta events of one choice, in order, after the role chunk; the bool says whether the
/// event counts as a "content" event for `after`.
enum Part<'a> {
    Role,
    Content(&'a str),
    ToolHeader(usize, &'a Call),
    ToolArgs(usize, &'a str),
    Finish,
}

fn parts(answer: &Answer) -> Vec<Part<'_>> {
    let mut out = vec![Part::Role];
    match answer {
        Answer::Text { pieces, .. } => out.extend(pieces.iter().map(|p| Part::Content(p))),
        Answer::Tools { calls } => {
            for (i, call) in calls.iter().enumerate() {
                if i > 0 {
                    out.push(Part::ToolHeader(i, call));
                }
                out.extend(call.fragments().into_iter().map(|f| Part::ToolArgs(i, f)));
            }
        }
    }
    out.push(Part::Finish);
    out
}

fn stream(job: &Job, config: &MockConfig, answer: &Answer, ids: Ids<'_>) -> Reply {
    let d = &job.directives;
    let chunk_delay = d.chunk_delay.unwrap_or(config.chunk_delay);
    // A server that ignores `stream_options` (mock:no_usage) omits the key and the usage chunk.
    let send_usage = job.include_usage && !d.no_usage;
    let usage_field = send_usage.then_some(None);
    let parts = parts(answer);
    let mut events: Vec<Bytes> = Vec::new();
    let mut content_events = 0usize;
    let strike_after = (d.cut || d.inband_error).then(|| d.after.unwrap_or(DEFAULT_AFTER));
    let mut struck = false;
    'outer: for part in &parts {
        let is_content = matches!(part, Part::Content(_) | Part::ToolArgs(..));
        let is_finish = matches!(part, Part::Finish);
        if let Some(after) = strike_after {
            if (is_content && content_events >= after) || is_finish {
                struck = true;
                break 'outer;
            }
        }
        for index in 0..job.n {
            let bytes = match job.kind {
                Kind::Chat => chat_event(job, answer, part, index, ids, usage_field),
                Kind::Completion => match part {
                    Part::Role => continue,
                    Part::Content(text) => text_event(job, text, index, None, ids, usage_field),
                    _ => text_event(job, "", index, Some(answer.finish()), ids, usage_field),
                },
            };
            events.push(bytes);
        }
        if is_content {
            content_events += 1;
        }
    }
    if struck && d.inband_error {
        let msg = "The server had an error while processing your request. Sorry about that!";
        let mut ev = b"data: ".to_vec();
        ev.extend(error_json(500, msg, "server_error", None, None, d.style));
        ev.extend_from_slice(b"\n\n");
        events.push(Bytes::from(ev));
        // vLLM follows its in-band error with the terminator; OpenAI just closes.
        if matches!(d.style, ErrorStyle::Vllm | ErrorStyle::VllmFlat) {
            events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        }
    } else if !struck {
        if send_usage {
            let usage = Usage::new(job.prompt_tokens, answer.tokens() * job.n as u64);
            events.push(match job.kind {
                Kind::Chat => event(&Chunk {
                    id: ids.id,
                    object: "chat.completion.chunk",
                    created: ids.created,
                    model: &job.model,
                    system_fingerprint: Some(FINGERPRINT),
                    choices: [(); 0],
                    usage: Some(Some(&usage)),
                }),
                Kind::Completion => event(&Chunk {
                    id: ids.id,
                    object: "text_completion",
                    created: ids.created,
                    model: &job.model,
                    system_fingerprint: None,
                    choices: [(); 0],
                    usage: Some(Some(&usage)),
                }),
            });
        }
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    let mut steps = Vec::with_capacity(events.len() * 2 + 1);
    for (i, ev) in events.into_iter().enumerate() {
        if i > 0 && !chunk_delay.is_zero() {
            steps.push(Step::Sleep(chunk_delay));
        }
        match (d.korean, ev.iter().position(|b| *b >= 0x80)) {
            (true, Some(p)) => {
                // Split after the first byte of a multibyte character.
                steps.push(Step::Data(ev.slice(..=p)));
                steps.push(Step::Sleep(SPLIT_PAUSE));
                steps.push(Step::Data(ev.slice(p + 1..)));
            }
            _ => steps.push(Step::Data(ev)),
        }
    }
    if struck && d.cut {
        steps.push(Step::Sleep(CUT_PAUSE));
        steps.push(Step::Cut);
    }
    Reply {
        status: 200,
        content_type: "text/event-stream",
        retry_after: None,
        first_byte_delay: Duration::ZERO,
        body: Body::Steps(merge(steps)),
    }
}

/// Joins neighbouring data steps, so a stream without pauses goes out in one write.
fn merge(steps: Vec<Step>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    for step in steps {
        match (out.last_mut(), step) {
            (Some(Step::Data(prev)), Step::Data(next)) => {
                let mut joined = Vec::with_capacity(prev.len() + next.len());
                joined.extend_from_slice(prev);
                joined.extend_from_slice(&next);
                *prev = Bytes::from(joined);
            }
            (_, step) => out.push(step),
        }
    }
    out
}

fn chat_event(
    job: &Job,
    answer: &Answer,
    part: &Part<'_>,
    index: usize,
    ids: Ids<'_>,
    usage: Option<Option<&Usage>>,
) -> Bytes {
    let mut finish_reason = None;
    let delta = match part {
        Part::Role => match answer {
            Answer::Tools { calls } => Delta {
                role: Some("assistant"),
                content: Some(None),
                tool_calls: calls.first().map(|c| [header(0, c)]),
            },
            Answer::Text { .. } => Delta {
                role: Some("assistant"),
                content: Some(Some("")),
                tool_calls: None,
            },
        },
        Part::Content(text) => Delta {
            content: Some(Some(text)),
            ..Delta::default()
        },
        Part::ToolHeader(i, call) => Delta {
            tool_calls: Some([header(*i, call)]),
            ..Delta::default()
        },
        Part::ToolArgs(i, args) => Delta {
            tool_calls: Some([ToolCallDelta {
                index: *i,
                id: None,
                kind: None,
                function: FunctionDelta {
                    name: None,
                    arguments: args,
                },
            }]),
            ..Delta::default()
        },
        Part::Finish => {
            finish_reason = Some(answer.finish());
            Delta::default()
        }
    };
    event(&Chunk {
        id: ids.id,
        object: "chat.completion.chunk",
        created: ids.created,
        model: &job.model,
        system_fingerprint: Some(FINGERPRINT),
        choices: [ChunkChoice {
            index,
            delta,
            logprobs: None,
            finish_reason,
        }],
        usage,
    })
}

fn header(index: usize, call: &Call) -> ToolCallDelta<'_> {
    ToolCallDelta {
        index,
        id: Some(&call.id),
        kind: Some("function"),
        function: FunctionDelta {
            name: Some(&call.name),
            arguments: "",
        },
    }
}

fn text_event(
    job: &Job,
    text: &str,
    index: usize,
    finish_reason: Option<&str>,
    ids: Ids<'_>,
    usage: Option<Option<&Usage>>,
) -> Bytes {
    event(&Chunk {
        id: ids.id,
        object: "text_completion",
        created: ids.created,
        model: &job.model,
        system_fingerprint: None,
        choices: [TextChunkChoice {
            text,
            index,
            logprobs: None,
            finish_reason,
        }],
        usage,
    })
}
