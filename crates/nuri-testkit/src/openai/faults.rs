//! A per-instance failure switch, so one mock (one route) can fail while another serves, and a
//! mock can fail a set number of times and then recover. It overrides request directives.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use super::directives::ErrorStyle;
use super::errors::ApiError;
use super::render::{Body, Reply, Step};

/// How a mock fails while its switch is on (see [`super::MockHandle::fail_next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP error `status` with an OpenAI error body; a 429 carries `retry-after: 1`
    /// (and `retry-after-ms`).
    Status(u16),
    /// HTTP 429 with `retry-after` of the given whole seconds.
    RateLimited(u64),
    /// The connection is dropped before any byte of the answer's body (status line sent).
    Drop,
    /// `200` with a body that is not JSON.
    Garbage,
    /// Nothing at all (not even the status line) for this long, then the normal answer.
    Stall(Duration),
}

/// Remaining failures and their kind.
#[derive(Debug, Default)]
pub(crate) struct FaultSwitch {
    state: Mutex<Option<(u64, Fault)>>,
}

impl FaultSwitch {
    pub fn set(&self, times: u64, fault: Fault) {
        *self.lock() = (times > 0).then_some((times, fault));
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    /// Takes one failure from the switch, if it is on.
    pub fn take(&self) -> Option<Fault> {
        let mut state = self.lock();
        let (left, fault) = (*state)?;
        *state = (left > 1).then_some((left.saturating_sub(1), fault));
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Fault)>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The reply a fault makes; `Stall` yields `None` after its wait (the normal answer follows).
pub(crate) async fn reply(fault: Fault, model: &str) -> Option<Reply> {
    match fault {
        Fault::Status(status) => Some(Reply::error(&ApiError::for_status(
            status,
            model,
            ErrorStyle::OpenAi,
            1,
        ))),
        Fault::RateLimited(secs) => Some(Reply::error(&ApiError::for_status(
            429,
            model,
            ErrorStyle::OpenAi,
            secs,
        ))),
        Fault::Drop => Some(Reply {
            status: 200,
            content_type: "application/json",
            retry_after: None,
            first_byte_delay: Duration::ZERO,
            body: Body::Steps(vec![Step::Cut]),
        }),
        Fault::Garbage => Some(Reply::json(
            200,
            Bytes::from_static(b"<html>upstream proxy error</html>").to_vec(),
        )),
        Fault::Stall(wait) => {
            tokio::time::sleep(wait).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_then_recovers() {
        let s = FaultSwitch::default();
        assert_eq!(s.take(), None);
        s.set(2, Fault::Status(500));
        assert_eq!(s.take(), Some(Fault::Status(500)));
        assert_eq!(s.take(), Some(Fault::Status(500)));
        assert_eq!(s.take(), None);
        s.set(u64::MAX, Fault::Drop);
        assert_eq!(s.take(), Some(Fault::Drop));
        s.clear();
        assert_eq!(s.take(), None);
    }
}
