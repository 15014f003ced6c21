//! `mock:NAME[=VALUE]` words read from a request's text (see the module docs).

use std::time::Duration;

/// Error body shapes the mock can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ErrorStyle {
    #[default]
    OpenAi,
    Vllm,
    VllmFlat,
    Ollama,
    OllamaNative,
}

/// What the directives of one request asked for. `None`/`false` means "not asked".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub content: Option<usize>,
    pub echo: bool,
    pub korean: bool,
    pub tools: Option<usize>,
    pub status: Option<u16>,
    pub style: ErrorStyle,
    pub retry_after: Option<u64>,
    pub inband_error: bool,
    pub cut: bool,
    pub after: Option<usize>,
    pub content_filter: bool,
    pub delay: Option<Duration>,
    pub chunk_delay: Option<Duration>,
    pub garbage: bool,
    pub no_usage: bool,
    /// The words of the text that are not directives (for `mock:echo`).
    pub echo_words: Vec<String>,
}

/// The most content pieces or tool calls one request may ask for, so a typo cannot make the
/// mock allocate gigabytes.
const MAX_COUNT: usize = 100_000;

impl Directives {
    /// True when no directive was given: the default answer applies.
    pub fn is_default(&self) -> bool {
        self.content.is_none()
            && !self.echo
            && !self.korean
            && self.tools.is_none()
            && self.status.is_none()
            && !self.inband_error
            && !self.cut
            && !self.content_filter
            && self.delay.is_none()
            && self.chunk_delay.is_none()
            && !self.garbage
            && !self.no_usage
    }

    /// Reads the directives of `text`, adding to what earlier texts set.
    pub fn read(&mut self, text: &str) {
        for word in text.split_whitespace() {
            let Some(rest) = word.strip_prefix("mock:") else {
                self.echo_words.push(word.to_owned());
                continue;
            };
            let (name, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            let count = || {
                value
                    .and_then(|v| v.parse::<usize>().ok())
                    .map(|n| n.min(MAX_COUNT))
            };
            let millis = || {
                value
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_millis)
            };
            match name {
                "content" => self.content = count().or(self.content),
                "echo" => self.echo = true,
                "korean" => self.korean = true,
                "tool" => self.tools = Some(1),
                "tools" => self.tools = count().or(self.tools),
                "status" => {
                    self.status = value
                        .and_then(|v| v.parse::<u16>().ok())
                        .filter(|s| (100..=999).contains(s))
                        .or(self.status);
                }
                "style" => {
                    self.style = match value {
                        Some("vllm") => ErrorStyle::Vllm,
                        Some("vllm_flat") => ErrorStyle::VllmFlat,
                        Some("ollama") => ErrorStyle::Ollama,
                        Some("ollama_native") => ErrorStyle::OllamaNative,
                        Some("openai") => ErrorStyle::OpenAi,
                        _ => self.style,
                    };
                }
                "retry_after" => {
                    self.retry_after = value.and_then(|v| v.parse().ok()).or(self.retry_after);
                }
                "inband_error" => self.inband_error = true,
                "cut" => self.cut = true,
                "after" => self.after = count().or(self.after),
                "content_filter" => self.content_filter = true,
                "delay_ms" => self.delay = millis().or(self.delay),
                "chunk_delay_ms" => self.chunk_delay = millis().or(self.chunk_delay),
                "garbage" => self.garbage = true,
                "no_usage" => self.no_usage = true,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_values_and_words() {
        let mut d = Directives::default();
        d.read("hi there mock:status=429 mock:style=vllm mock:korean mock:content=x mock:after=2");
        assert_eq!(d.status, Some(429));
        assert_eq!(d.style, ErrorStyle::Vllm);
        assert!(d.korean);
        assert_eq!(d.content, None);
        assert_eq!(d.after, Some(2));
        assert_eq!(d.echo_words, vec!["hi", "there"]);
        assert!(!d.is_default());
    }

    #[test]
    fn plain_text_is_default() {
        let mut d = Directives::default();
        d.read("just a question, nothing mock-like: mockery");
        assert!(d.is_default());
    }
}
