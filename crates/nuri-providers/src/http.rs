//! HTTP plumbing shared by adapters: a pooled client per provider (TCP_NODELAY, connect
//! timeout), sends bounded by the first-byte deadline, body streams bounded by the idle gap and
//! total deadline, `retry-after` parsing, and OpenAI-style error bodies mapped to
//! [`ProviderError`]. Credentials never reach a message.

use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use nuri_config::Timeouts;
use nuri_core::provider::{ProviderError, TimeoutKind};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A reqwest client tuned for upstream calls.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build()
}

/// Sends `request`, waiting at most the first-byte timeout for the response head.
pub async fn send(
    request: reqwest::RequestBuilder,
    timeouts: &Timeouts,
) -> Result<reqwest::Response, ProviderError> {
    // Whichever deadline is nearer bounds the wait, and is the one reported.
    let (limit, kind) = if timeouts.total < timeouts.first_byte {
        (timeouts.total, TimeoutKind::Total)
    } else {
        (timeouts.first_byte, TimeoutKind::FirstByte)
    };
    match tokio::time::timeout(limit, request.send()).await {
        Err(_) => Err(ProviderError::Timeout(kind)),
        Ok(Err(e)) if e.is_connect() => {
            if e.is_timeout() {
                Err(ProviderError::Timeout(TimeoutKind::Connect))
            } else {
                Err(ProviderError::Connect(describe(&e)))
            }
        }
        Ok(Err(e)) if e.is_timeout() => Err(ProviderError::Timeout(TimeoutKind::FirstByte)),
        Ok(Err(e)) => Err(ProviderError::Connect(describe(&e))),
        Ok(Ok(response)) => Ok(response),
    }
}

/// A transport error without the URL's query string (which could carry a key).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref().to_string();
    if let Some(url) = e.url() {
        msg = format!(
            "{msg} ({}://{}{})",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.path()
        );
    }
    msg
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(self);
        let mut last = None;
        while let Some(s) = source {
            last = Some(s.to_string());
            source = s.source();
        }
        last.unwrap_or_else(|| {
            if self.is_connect() {
                "connection failed".into()
            } else {
                "transport error".into()
            }
        })
    }
}

/// Reads a whole body, bounded by the total deadline measured from `started`.
pub async fn body_bytes(
    response: reqwest::Response,
    timeouts: &Timeouts,
    started: Instant,
) -> Result<Bytes, ProviderError> {
    let left = timeouts.total.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, response.bytes()).await {
        Err(_) => Err(ProviderError::Timeout(TimeoutKind::Total)),
        Ok(Err(e)) if e.is_timeout() => Err(ProviderError::Timeout(TimeoutKind::Idle)),
        Ok(Err(e)) => Err(ProviderError::Connect(format!(
            "reading the provider's answer failed: {}",
            e.without_url_ref()
        ))),
        Ok(Ok(b)) => Ok(b),
    }
}

/// A body stream whose items fail with a timeout when the idle gap or total deadline passes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

/// Wraps a response body with the idle and total deadlines.
pub fn byte_stream(
    response: reqwest::Response,
    timeouts: Timeouts,
    started: Instant,
) -> ByteStream {
    let inner = response.bytes_stream();
    Box::pin(futures::stream::unfold(
        Some(Box::pin(inner)),
        move |state| async move {
            let mut inner = state?;
            let left = timeouts.total.saturating_sub(started.elapsed());
            let (wait, kind) = if left < timeouts.idle {
                (left, TimeoutKind::Total)
            } else {
                (timeouts.idle, TimeoutKind::Idle)
            };
            match tokio::time::timeout(wait, inner.next()).await {
                Err(_) => Some((Err(ProviderError::Timeout(kind)), None)),
                Ok(None) => None,
                Ok(Some(Ok(b))) => Some((Ok(b), Some(inner))),
                Ok(Some(Err(e))) => Some((
                    Err(ProviderError::Connect(format!(
                        "the provider's stream broke: {}",
                        e.without_url_ref()
                    ))),
                    None,
                )),
            }
        },
    ))
}

/// Parses `retry-after-ms`, then `retry-after` (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_millis(ms as u64));
        }
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_millis((secs * 1000.0) as u64));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The message and code of an error body in any of the shapes OpenAI-compatible servers use:
/// OpenAI `{"error":{"message","type","param","code"}}`, vLLM's flat `{"object":"error",…}` or
/// integer `code`, Ollama's `{"error":"…"}`.
pub fn error_fields(body: &[u8]) -> (String, Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let short: String = text.chars().take(200).collect();
        return (
            if short.trim().is_empty() {
                "no error body".into()
            } else {
                short
            },
            None,
            None,
        );
    };
    let obj = match v.get("error") {
        Some(Value::String(s)) => return (s.clone(), None, None),
        Some(e @ Value::Object(_)) => e,
        _ => &v,
    };
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("unknown provider error")
        .to_owned();
    let code = match obj.get("code") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let param = obj.get("param").and_then(Value::as_str).map(str::to_owned);
    (message, code, param)
}

/// Maps an upstream HTTP error status and body to a [`ProviderError`].
pub fn status_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    let (message, code, param) = error_fields(body);
    let retry_after = retry_after(headers);
    match status {
        401 | 403 => ProviderError::Auth(format!("the provider answered HTTP {status}")),
        400 | 413 | 422 if code.as_deref() == Some("context_length_exceeded") => {
            ProviderError::ContextLength(message)
        }
        400 | 413 | 422 => ProviderError::InvalidRequest {
            message: format!("provider rejected the request: {message}"),
            param,
        },
        429 => ProviderError::RateLimited {
            message,
            retry_after,
        },
        408 => ProviderError::Timeout(TimeoutKind::FirstByte),
        _ => ProviderError::Server {
            status,
            message,
            retry_after,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        let openai =
            br#"{"error":{"message":"bad","type":"invalid_request_error","param":"x","code":"c"}}"#;
        assert_eq!(
            error_fields(openai),
            ("bad".into(), Some("c".into()), Some("x".into()))
        );
        let vllm =
            br#"{"object":"error","message":"m","type":"BadRequestError","param":null,"code":400}"#;
        assert_eq!(error_fields(vllm), ("m".into(), Some("400".into()), None));
        let ollama = br#"{"error":"model not found"}"#;
        assert_eq!(error_fields(ollama).0, "model not found");
        assert_eq!(error_fields(b"<html>oops</html>").0, "<html>oops</html>");
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
    }

    #[test]
    fn statuses_map() {
        let h = HeaderMap::new();
        assert!(matches!(
            status_error(401, &h, b"{}"),
            ProviderError::Auth(_)
        ));
        assert!(matches!(
            status_error(429, &h, b"{}"),
            ProviderError::RateLimited { .. }
        ));
        assert!(matches!(
            status_error(529, &h, b"{}"),
            ProviderError::Server { status: 529, .. }
        ));
        assert!(matches!(
            status_error(
                400,
                &h,
                br#"{"error":{"message":"long","code":"context_length_exceeded"}}"#
            ),
            ProviderError::ContextLength(_)
        ));
    }
}
