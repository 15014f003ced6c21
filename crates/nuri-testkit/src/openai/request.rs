//! Parsing of incoming requests into one [`Job`] the renderer works from.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::directives::Directives;
use super::errors::ApiError;

/// Which generation endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Chat,
    Completion,
}

/// Everything the renderer needs to answer a chat or completion request.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub kind: Kind,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub n: usize,
    pub stop: Vec<String>,
    pub limit: Option<u64>,
    pub tool_names: Vec<String>,
    pub prompt_tokens: u64,
    pub directives: Directives,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Option<Vec<Message<'a>>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    n: Option<u64>,
    stop: Option<Value>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    tools: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    prompt: Option<Value>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    n: Option<u64>,
    stop: Option<Value>,
    max_tokens: Option<u64>,
}

/// An embeddings request.
#[derive(Debug)]
pub(crate) struct EmbeddingJob {
    pub model: String,
    /// One entry per input: its text (token arrays are rendered as their numbers joined by
    /// spaces, which is what the vector is derived from).
    pub inputs: Vec<String>,
    pub base64: bool,
    pub dims: Option<usize>,
    pub prompt_tokens: u64,
    pub directives: Directives,
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    model: Option<String>,
    input: Option<Value>,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The text of a message `content` (a string, or the text parts of an array).
fn content_text<'a>(raw: Option<&'a RawValue>) -> Result<Cow<'a, str>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Cow::Borrowed(""));
    };
    let s = raw.get();
    match s.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'a, str>>(s)
            .map_err(|e| ApiError::invalid(format!("invalid message content: {e}"), "messages")),
        Some(b'[') => {
            let parts: Vec<Part<'a>> = serde_json::from_str(s).map_err(|e| {
                ApiError::invalid(format!("invalid message content: {e}"), "messages")
            })?;
            let texts: Vec<Cow<'a, str>> = parts
                .into_iter()
                .filter(|p| p.kind.as_deref() == Some("text"))
                .filter_map(|p| p.text)
                .collect();
            Ok(Cow::Owned(texts.join(" ")))
        }
        Some(b'n') => Ok(Cow::Borrowed("")),
        _ => Err(ApiError::invalid(
            "message content must be a string or an array of parts".to_owned(),
            "messages",
        )),
    }
}

fn stop_list(stop: Option<Value>) -> Vec<String> {
    match stop {
        Some(Value::String(s)) if !s.is_empty() => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn choices(n: Option<u64>) -> Result<usize, ApiError> {
    match n {
        None => Ok(1),
        Some(n @ 1..=128) => Ok(n as usize),
        Some(_) => Err(ApiError::invalid(
            "n must be between 1 and 128".to_owned(),
            "n",
        )),
    }
}

fn required<T>(value: Option<T>, name: &'static str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::invalid(format!("Missing required parameter: '{name}'."), name)
            .with_code("missing_required_parameter")
    })
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            format!("We could not parse the JSON body of your request. ({e})"),
            "body",
        )
    })
}

/// Parses a `POST /v1/chat/completions` body.
pub(crate) fn chat(body: &[u8]) -> Result<Job, ApiError> {
    let req: ChatRequest<'_> = parse_json(body)?;
    let model = required(req.model, "model")?.into_owned();
    let messages = required(req.messages, "messages")?;
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "'messages' must contain at least one message.".to_owned(),
            "messages",
        ));
    }
    let mut prompt_tokens = 0;
    let mut last_user: Option<Cow<'_, str>> = None;
    for m in &messages {
        let text = content_text(m.content)?;
        prompt_tokens += words(&text);
        if m.role == "user" {
            last_user = Some(text);
        }
    }
    let mut directives = Directives::default();
    if let Some(text) = last_user {
        directives.read(&text);
    }
    let tool_names = req
        .tools
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Ok(Job {
        kind: Kind::Chat,
        model,
        stream: req.stream.unwrap_or(false),
        include_usage: req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        n: choices(req.n)?,
        stop: stop_list(req.stop),
        limit: req.max_completion_tokens.or(req.max_tokens),
        tool_names,
        prompt_tokens,
        directives,
    })
}

/// Parses a `POST /v1/completions` body.
pub(crate) fn completion(body: &[u8]) -> Result<Job, ApiError> {
    let req: CompletionRequest = parse_json(body)?;
    let model = required(req.model, "model")?;
    let prompt = required(req.prompt, "prompt")?;
    let prompts: Vec<String> = match prompt {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => {
            return Err(ApiError::invalid(
                "'prompt' must be a string or an array".to_owned(),
                "prompt",
            ))
        }
    };
    let mut directives = Directives::default();
    if let Some(last) = prompts.last() {
        directives.read(last);
    }
    Ok(Job {
        kind: Kind::Completion,
        model,
        stream: req.stream.unwrap_or(false),
        include_usage: req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        n: choices(req.n)?,
        stop: stop_list(req.stop),
        // The legacy endpoint's documented default.
        limit: Some(req.max_tokens.unwrap_or(16)),
        tool_names: Vec::new(),
        prompt_tokens: prompts.iter().map(|p| words(p)).sum(),
        directives,
    })
}

/// Parses a `POST /v1/embeddings` body.
pub(crate) fn embedding(body: &[u8]) -> Result<EmbeddingJob, ApiError> {
    let req: EmbeddingRequest = parse_json(body)?;
    let model = required(req.model, "model")?;
    let input = required(req.input, "input")?;
    let bad_input = || {
        ApiError::invalid(
            "'input' must be a non-empty string, array of strings, or array of token arrays"
                .to_owned(),
            "input",
        )
    };
    let tokens_text = |items: &[Value]| -> Option<String> {
        let nums: Option<Vec<String>> = items
            .iter()
            .map(|v| v.as_u64().map(|n| n.to_string()))
            .collect();
        nums.map(|n| n.join(" "))
    };
    let mut directives = Directives::default();
    let mut prompt_tokens = 0;
    let inputs: Vec<String> = match input {
        Value::String(s) => {
            directives.read(&s);
            prompt_tokens += words(&s);
            vec![s]
        }
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(Value::is_string) {
                items
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::String(s) => {
                            directives.read(&s);
                            prompt_tokens += words(&s);
                            Some(s)
                        }
                        _ => None,
                    })
                    .collect()
            } else if items.iter().all(Value::is_u64) {
                prompt_tokens += items.len() as u64;
                vec![tokens_text(&items).ok_or_else(bad_input)?]
            } else {
                let mut out = Vec::with_capacity(items.len());
                for item in &items {
                    let arr = item.as_array().ok_or_else(bad_input)?;
                    prompt_tokens += arr.len() as u64;
                    out.push(tokens_text(arr).ok_or_else(bad_input)?);
                }
                out
            }
        }
        _ => return Err(bad_input()),
    };
    if inputs.iter().any(String::is_empty) {
        return Err(bad_input());
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("unsupported encoding_format '{other}'"),
                "encoding_format",
            ))
        }
    };
    if req.dimensions == Some(0) {
        return Err(ApiError::invalid(
            "'dimensions' must be at least 1".to_owned(),
            "dimensions",
        ));
    }
    Ok(EmbeddingJob {
        model,
        inputs,
        base64,
        dims: req.dimensions,
        prompt_tokens,
        directives,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn chat_counts_words_over_all_messages_and_reads_last_user() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"first mock:korean"},
            {"role":"assistant","content":null},
            {"role":"user","content":[{"type":"text","text":"two words"},{"type":"image_url","image_url":{"url":"x"}}]}
        ],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"stop":["x"]}"#;
        let job = chat(body).unwrap();
        assert_eq!(job.prompt_tokens, 3 + 2 + 2);
        assert!(!job.directives.korean, "only the last user message is read");
        assert!(job.stream && job.include_usage);
        assert_eq!(job.limit, Some(5));
        assert_eq!(job.stop, vec!["x"]);
    }

    #[test]
    fn chat_rejects_missing_fields_and_bad_json() {
        assert_eq!(chat(b"{").unwrap_err().status, 400);
        assert_eq!(
            chat(br#"{"model":"m"}"#).unwrap_err().param,
            Some("messages")
        );
        assert_eq!(
            chat(br#"{"messages":[]}"#).unwrap_err().param,
            Some("model")
        );
        assert_eq!(
            chat(br#"{"model":"m","messages":"hi"}"#)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn embedding_inputs() {
        let job =
            embedding(br#"{"model":"e","input":["a b","c"],"encoding_format":"base64"}"#).unwrap();
        assert_eq!(job.prompt_tokens, 3);
        assert!(job.base64);
        let job = embedding(br#"{"model":"e","input":[[1,2,3],[4]]}"#).unwrap();
        assert_eq!(job.prompt_tokens, 4);
        assert_eq!(job.inputs, vec!["1 2 3", "4"]);
        assert!(embedding(br#"{"model":"e","input":""}"#).is_err());
    }
}
