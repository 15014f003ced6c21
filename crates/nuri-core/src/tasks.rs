//! Tracked background work: everything spawned after a response (usage writes, settlements)
//! goes through a [`TaskTracker`] that graceful shutdown waits on, so nothing is dropped.

pub use tokio_util::task::TaskTracker;
