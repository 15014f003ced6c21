//! The SQLite hot-path writer: one thread owning one rusqlite connection, running each batch
//! (credit reservations, settlements, usage records, the sweeper) as one transaction.
//!
//! SQLite has one writer at a time. Through sqlx, every statement is a hop between the async
//! runtime and sqlx's connection thread, and on a busy two-core machine each hop waits for a
//! time slice: a five-statement batch took milliseconds. Here a batch is one hop in and one
//! out, and its statements run back to back on this thread.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use nuri_core::store::StoreError;
use tokio::sync::oneshot;

use crate::exec::{sqlite_err, SqliteExec, Work};

type Job = Box<dyn FnOnce(&mut rusqlite::Connection, &mut HashMap<String, String>) + Send>;

/// Handle to the writer thread; the thread stops when every handle is dropped.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

/// WAL pages written before the writer checkpoints (SQLite's default is 1,000).
const CHECKPOINT_PAGES: u32 = 4_000;

/// Prepared statements kept per connection (multi-row inserts come in several sizes).
const STATEMENT_CACHE: usize = 256;

impl SqliteWriter {
    /// Opens `path` (already migrated) and starts the thread.
    pub(crate) fn open(path: &Path, synchronous_full: bool) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sqlite_err)?;
        let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON; \
             PRAGMA temp_store=MEMORY;"
        ))
        .map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Checkpoint every ~16 MB of WAL rather than SQLite's 4 MB: pages the ledger rewrites
        // often (a grant's row, the indexes' growing edges) are copied back once per checkpoint,
        // so fewer, larger checkpoints write much less.
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}"))
            .map_err(sqlite_err)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("nuri-sqlite-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer thread: committed if it
    /// returns `Ok`, rolled back otherwise.
    pub(crate) async fn transaction<T: Send + 'static>(
        &self,
        work: Work<T>,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn, translated| {
            let _ = reply.send(in_transaction(conn, translated, work));
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer failed a batch".into()))?
    }
}

fn in_transaction<T>(
    conn: &mut rusqlite::Connection,
    translated: &mut HashMap<String, String>,
    work: Work<T>,
) -> Result<T, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
    // The statements never wait on anything but this thread, so the future is ready at once.
    let result = futures::executor::block_on(work(&mut SqliteExec { conn, translated }));
    match result {
        Ok(value) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(sqlite_err(e))
            }
        },
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    let mut translated = HashMap::new();
    while let Ok(job) = queue.recv() {
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn, &mut translated))).is_err() {
            tracing::error!("a SQLite writer batch panicked; its transaction is rolled back");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::exec::work;

    fn writer() -> (tempfile::TempDir, SqliteWriter) {
        let dir = tempfile::tempdir().unwrap();
        let writer = SqliteWriter::open(&dir.path().join("w.db"), false).unwrap();
        (dir, writer)
    }

    async fn count(writer: &SqliteWriter) -> i64 {
        writer
            .transaction(work(|db| {
                Box::pin(async move { db.rows("SELECT COUNT(*) FROM t", &[]).await?[0].int_at(0) })
            }))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn failed_work_rolls_back_and_a_panic_does_not_stop_the_writer() {
        let (_dir, writer) = writer();
        writer
            .transaction(work(|db| {
                Box::pin(async move {
                    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
                        .await?;
                    db.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[1_i64.into(), "a".into()],
                    )
                    .await
                })
            }))
            .await
            .unwrap();
        let failed = writer
            .transaction(work(|db| {
                Box::pin(async move {
                    db.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[2_i64.into(), "b".into()],
                    )
                    .await?;
                    // Same primary key: a conflict, so the whole transaction rolls back.
                    db.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[1_i64.into(), "c".into()],
                    )
                    .await
                })
            }))
            .await;
        assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
        assert_eq!(count(&writer).await, 1);
        let panicked: Result<(), StoreError> = writer
            .transaction(work(|db| {
                Box::pin(async move {
                    db.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[3_i64.into(), "d".into()],
                    )
                    .await?;
                    panic!("boom")
                })
            }))
            .await;
        assert!(panicked.is_err());
        assert_eq!(
            count(&writer).await,
            1,
            "the panicked batch was rolled back"
        );
    }
}
