//! A server-sent events parser: buffers across reads, accepts `\n`, `\r\n` and `\r` line ends,
//! strips one optional space after the colon, joins multi-line `data:` with `\n`, ignores comments
//! and unknown fields, and decodes UTF-8 only on whole events.

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
    /// The `id:`, if any.
    pub id: Option<String>,
}

/// Incremental parser: [`SseParser::push`] bytes, then drain [`SseParser::next_event`].
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    pos: usize,
    current: SseEvent,
    has_field: bool,
}

/// Largest event accepted (a guard against an upstream that never ends a line).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

impl SseParser {
    /// A new parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the wire.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet consumed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete event, if one is buffered.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let rest = &self.buf[self.pos..];
            let end = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
            // A lone '\r' at the end of the buffer may be the first half of "\r\n": wait.
            let mut consumed = end + 1;
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => consumed += 1,
                    Some(_) => {}
                    None => return None,
                }
            }
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            self.pos += consumed;
            if self.pos > 64 * 1024 && self.pos * 2 > self.buf.len() {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            if line.is_empty() {
                if self.has_field {
                    self.has_field = false;
                    return Some(std::mem::take(&mut self.current));
                }
                continue;
            }
            self.field(&line);
        }
    }

    /// What remains at end of input as a final event (streams that close without a blank line).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.pending() > 0 {
            let rest = String::from_utf8_lossy(&self.buf[self.pos..]).into_owned();
            self.pos = self.buf.len();
            for line in rest.split(['\n', '\r']).filter(|l| !l.is_empty()) {
                self.field(line);
            }
        }
        if self.has_field {
            self.has_field = false;
            return Some(std::mem::take(&mut self.current));
        }
        None
    }

    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "data" => {
                if self.has_field && !self.current.data.is_empty() {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_field = true;
            }
            "event" => {
                self.current.event = Some(value.to_owned());
                self.has_field = true;
            }
            "id" => {
                self.current.id = Some(value.to_owned());
                self.has_field = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        p.push(input);
        let mut out = Vec::new();
        while let Some(e) = p.next_event() {
            out.push(e);
        }
        out.extend(p.finish());
        out
    }

    #[test]
    fn openai_framing() {
        let ev = all(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[1].data, "[DONE]");
    }

    #[test]
    fn crlf_and_cr_and_no_space() {
        let ev = all(
            b"id:1\r\nevent:token\r\ndata:{\"x\":\"\xec\x95\x88\"}\r\n\r\ndata: b\r\rdata: c\n\n",
        );
        assert_eq!(ev[0].event.as_deref(), Some("token"));
        assert_eq!(ev[0].id.as_deref(), Some("1"));
        assert_eq!(ev[0].data, "{\"x\":\"안\"}");
        assert_eq!(ev[1].data, "b");
        assert_eq!(ev[2].data, "c");
    }

    #[test]
    fn comments_and_multiline_data() {
        let ev = all(b": keep-alive\n\nevent: ping\ndata: a\ndata: b\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "a\nb");
    }

    #[test]
    fn unterminated_tail_is_flushed() {
        let ev = all(b"data: x\n\ndata: tail");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].data, "tail");
    }

    proptest! {
        #[test]
        fn split_anywhere_gives_same_events(cut in 0usize..60) {
            let input = "event: token\r\ndata: {\"t\":\"안녕\"}\r\n\r\ndata: two\n\n".as_bytes();
            let cut = cut.min(input.len());
            let mut p = SseParser::new();
            let mut got = Vec::new();
            p.push(&input[..cut]);
            while let Some(e) = p.next_event() { got.push(e); }
            p.push(&input[cut..]);
            while let Some(e) = p.next_event() { got.push(e); }
            got.extend(p.finish());
            prop_assert_eq!(got, all(input));
        }
    }
}
