//! Request extractors that fail with Nuri's own errors: a JSON body bounded by
//! `max_body_bytes` (413 beyond), checked for UTF-8, parsed with the path of the offending field
//! reported as `param`.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use nuri_core::GatewayError;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A JSON body.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.max_body_bytes;
        if let Some(len) = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            if len > limit {
                return Err(too_large(limit));
            }
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large(limit))?;
        parse_json(&bytes).map(Json)
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError(GatewayError::RequestTooLarge(format!(
        "The request body is larger than this server's limit of {limit} bytes."
    )))
}

/// Parses a JSON body, naming the offending field on error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(GatewayError::invalid(
            "The request body is empty; send a JSON object.",
            None,
        )));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError(GatewayError::invalid(
            "The request body is not valid UTF-8.",
            None,
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    if parsed.is_ok() {
        if let Err(e) = de.end() {
            return Err(ApiError(GatewayError::invalid(
                format!("We could not parse the JSON body of your request: {e}"),
                None,
            )));
        }
    }
    match parsed {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = inner.to_string();
            let param = if path != "." && !path.is_empty() {
                Some(path)
            } else {
                missing_field(&message)
            };
            let what = if inner.is_syntax() || inner.is_eof() {
                format!("We could not parse the JSON body of your request: {message}")
            } else {
                format!("Invalid request body: {message}")
            };
            Err(ApiError(GatewayError::InvalidRequest {
                message: what,
                param,
            }))
        }
    }
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// The raw `Authorization` header value.
pub struct Authorization(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Authorization {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nuri_types::openai::ChatCompletionRequest;

    fn err(body: &[u8]) -> (String, Option<String>) {
        let e = parse_json::<ChatCompletionRequest>(body).expect_err("error");
        let b = e.body();
        (b.error.message, b.error.param)
    }

    #[test]
    fn missing_messages_names_param() {
        let (_, param) = err(br#"{"model":"x"}"#);
        assert_eq!(param.as_deref(), Some("messages"));
    }

    #[test]
    fn wrong_type_names_path() {
        let (msg, param) =
            err(br#"{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}"#);
        assert!(msg.contains("invalid type"), "{msg}");
        assert_eq!(param.as_deref(), Some("max_tokens"));
    }

    #[test]
    fn malformed_and_empty_and_binary() {
        assert!(err(b"{not json").0.contains("parse"));
        assert!(err(b"  ").0.contains("empty"));
        assert!(err(b"{\"model\":\"\xff\"}").0.contains("UTF-8"));
        assert!(err(br#"{"model":"x","messages":[]} trailing"#)
            .0
            .contains("parse"));
    }
}
