//! A small, tolerant SSE parser for tests that read streams (the gateway's or an upstream's).
//!
//! Follows `provider-protocols.md` §0/§10: events end at a blank line; lines end with `\n`,
//! `\r\n` or `\r`; one optional space after the colon is stripped; several `data:` lines join
//! with `\n`; `:` comment lines and unknown fields are ignored. Strictness about OpenAI's exact
//! framing (`data: X\n\n`, nothing else) is the caller's to assert on the raw text.

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

/// Parses a whole SSE body. A trailing event without its blank line is dropped, as a client
/// would drop it when the connection ends there.
pub fn parse(body: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut current = Event::default();
    let mut has_data = false;
    let mut has_any = false;
    let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        if line.is_empty() {
            if has_any {
                if has_data || current.event.is_some() {
                    events.push(std::mem::take(&mut current));
                }
                current = Event::default();
                has_data = false;
                has_any = false;
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        has_any = true;
        match field {
            "data" => {
                if has_data {
                    current.data.push('\n');
                }
                current.data.push_str(value);
                has_data = true;
            }
            "event" => current.event = Some(value.to_owned()),
            "id" => current.id = Some(value.to_owned()),
            _ => {}
        }
    }
    events
}

/// The `data` of every complete event, in order (`[DONE]` included).
pub fn data(body: &str) -> Vec<String> {
    parse(body).into_iter().map(|e| e.data).collect()
}

/// The JSON payloads of every complete event, skipping `[DONE]` and data that is not JSON.
pub fn json(body: &str) -> Vec<serde_json::Value> {
    parse(body)
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_spaces_comments_and_multiline_data() {
        let body = ": keep-alive\r\nevent: result\r\ndata:{\"a\":1}\r\n\r\ndata: x\rdata: y\r\rid: 7\ndata: [DONE]\n\ndata: partial";
        let events = parse(body);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event.as_deref(), Some("result"));
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(events[1].data, "x\ny");
        assert_eq!(events[2].id.as_deref(), Some("7"));
        assert_eq!(data(body), vec!["{\"a\":1}", "x\ny", "[DONE]"]);
        assert_eq!(json(body).len(), 1);
    }
}
