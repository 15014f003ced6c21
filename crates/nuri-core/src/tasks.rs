//! Tracked background work: everything spawned after a response (usage writes, settlements)
//! goes through a [`TaskTracker`] that graceful shutdown waits on, so nothing is dropped.

use tokio::sync::mpsc;
pub use tokio_util::task::TaskTracker;

/// Queues `item` on `tx` without blocking the caller: at once if there is room, otherwise from
/// a task on `tracker` (which graceful shutdown waits on). Gives the item back if the channel
/// is closed.
pub fn send_tracked<T: Send + 'static>(
    tracker: &TaskTracker,
    tx: &mpsc::Sender<T>,
    item: T,
) -> Result<(), T> {
    match tx.try_send(item) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(item)) => {
            let tx = tx.clone();
            tracker.spawn(async move {
                let _ = tx.send(item).await;
            });
            Ok(())
        }
        Err(mpsc::error::TrySendError::Closed(item)) => Err(item),
    }
}
