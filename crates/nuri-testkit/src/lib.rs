//! Nuri's test kit: things tests and benchmarks need that are not Nuri itself.
//!
//! * [`openai`]: a local mock OpenAI-compatible upstream ([`MockOpenAi`]) faithful to the
//!   wire format in `shared/docs/provider-protocols.md` §1 and §10, with one scenario chosen
//!   per request so a single server can serve a whole test suite. The same server runs
//!   standalone as the `nuri-mock-upstream` binary for load benchmarks.
//! * [`sse`]: a tolerant server-sent-events parser for tests that read streams.
//!
//! ```no_run
//! # async fn demo() {
//! use nuri_testkit::{MockConfig, MockOpenAi};
//! let mock = MockOpenAi::start(MockConfig::default());
//! // point the gateway's provider at mock.base_url() ("http://127.0.0.1:PORT/v1"),
//! // send "hello mock:status=429" as the last user message to get a 429, …
//! let seen = mock.requests(); // what the gateway sent upstream
//! # let _ = seen;
//! # }
//! ```

pub mod openai;
pub mod sse;

pub use openai::{Fault, MockConfig, MockHandle, MockOpenAi, RecordedRequest, StreamCounts};
