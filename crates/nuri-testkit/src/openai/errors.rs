//! Error bodies in the shapes of OpenAI, vLLM and Ollama.

use serde::Serialize;
use serde_json::Value;

use super::directives::ErrorStyle;

/// An error the mock answers with before any body byte.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
    pub style: ErrorStyle,
    /// `retry-after` seconds (429 only).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Nested<'a> {
    error: Obj<'a>,
}

#[derive(Serialize)]
struct Obj<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Value,
}

#[derive(Serialize)]
struct Flat<'a> {
    object: &'static str,
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: u16,
}

#[derive(Serialize)]
struct OllamaNative<'a> {
    error: &'a str,
}

impl ApiError {
    /// A 400 `invalid_request_error` about `param`.
    pub fn invalid(message: String, param: &'static str) -> Self {
        Self {
            status: 400,
            message,
            kind: "invalid_request_error",
            param: Some(param),
            code: None,
            style: ErrorStyle::OpenAi,
            retry_after: None,
        }
    }

    /// Sets the OpenAI `code`.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error a `mock:status=CODE` directive asks for, with OpenAI's usual type and code.
    pub fn for_status(status: u16, model: &str, style: ErrorStyle, retry_after: u64) -> Self {
        let (message, kind, code) = match status {
            401 => (
                "Incorrect API key provided: sk-mock***. You can find your API key at https://platform.openai.com/account/api-keys.".to_owned(),
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            403 => (
                "You are not allowed to sample from this model".to_owned(),
                "invalid_request_error",
                None,
            ),
            404 => (
                format!("The model `{model}` does not exist or you do not have access to it."),
                "invalid_request_error",
                Some("model_not_found"),
            ),
            429 => (
                format!("Rate limit reached for {model} on requests per min (RPM): Limit 5000, Used 5000, Requested 1. Please try again in 1s."),
                "requests",
                Some("rate_limit_exceeded"),
            ),
            503 => (
                "The engine is currently overloaded, please try again later".to_owned(),
                "server_error",
                None,
            ),
            s if s >= 500 => (
                "The server had an error while processing your request. Sorry about that!"
                    .to_owned(),
                "server_error",
                None,
            ),
            _ => (
                "mock: invalid request (asked for by mock:status)".to_owned(),
                "invalid_request_error",
                None,
            ),
        };
        Self {
            status,
            message,
            kind,
            param: None,
            code,
            style,
            retry_after: (status == 429).then_some(retry_after),
        }
    }

    /// The JSON body in this error's style.
    pub fn body(&self) -> Vec<u8> {
        error_json(
            self.status,
            &self.message,
            self.kind,
            self.param,
            self.code,
            self.style,
        )
    }
}

fn vllm_type(status: u16) -> &'static str {
    match status {
        401 => "UnauthorizedError",
        404 => "NotFoundError",
        429 => "RateLimitError",
        s if s >= 500 => "InternalServerError",
        _ => "BadRequestError",
    }
}

fn ollama_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        404 => "not_found_error",
        _ => "api_error",
    }
}

/// Renders an error body. `kind` and `code` are the OpenAI values; the other styles derive
/// theirs from `status`.
pub(crate) fn error_json(
    status: u16,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
    style: ErrorStyle,
) -> Vec<u8> {
    let result = match style {
        ErrorStyle::OpenAi => serde_json::to_vec(&Nested {
            error: Obj {
                message,
                kind,
                param,
                code: code.map_or(Value::Null, |c| Value::String(c.to_owned())),
            },
        }),
        ErrorStyle::Vllm => serde_json::to_vec(&Nested {
            error: Obj {
                message,
                kind: vllm_type(status),
                param: None,
                code: Value::from(status),
            },
        }),
        ErrorStyle::VllmFlat => serde_json::to_vec(&Flat {
            object: "error",
            message,
            kind: vllm_type(status),
            param: None,
            code: status,
        }),
        ErrorStyle::Ollama => serde_json::to_vec(&Nested {
            error: Obj {
                message,
                kind: ollama_type(status),
                param: None,
                code: Value::Null,
            },
        }),
        ErrorStyle::OllamaNative => serde_json::to_vec(&OllamaNative { error: message }),
    };
    // Serializing these plain structs cannot fail; fall back to a fixed body regardless.
    result.unwrap_or_else(|_| {
        br#"{"error":{"message":"mock error","type":"server_error","param":null,"code":null}}"#
            .to_vec()
    })
}
