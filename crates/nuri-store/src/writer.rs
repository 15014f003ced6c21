//! The SQLite hot-path writer: one thread owning one rusqlite connection that runs the hot-path
//! work (credit reservations and settlements, usage records, the sweeper).
//!
//! SQLite has one writer at a time. Through sqlx, every statement is a hop between the async
//! runtime and sqlx's connection thread, and on a busy two-core machine each hop waits for a
//! time slice. Here a piece of work is one hop in and one out, its statements run back to back,
//! and everything queued meanwhile shares one commit (group commit): each piece runs inside its
//! own savepoint, so one that fails is undone alone, and each learns its outcome only once the
//! commit is durable. A second thread checkpoints the WAL, so the writer never stops for it.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use nuri_core::store::StoreError;
use tokio::sync::oneshot;

use crate::exec::{sqlite_err, SqliteExec, Work};

/// Tells a job's caller how the commit went: `None` committed, `Some` the commit's error.
type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A piece of work: runs its statements, says whether to keep them, and how to reply.
type Job = Box<dyn FnOnce(&mut SqliteExec<'_>) -> (bool, Reply) + Send>;

/// Handle to the writer thread; the thread stops when every handle is dropped.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

/// Most pieces of work sharing one commit.
const GROUP: usize = 64;

/// How often the checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// WAL pages after which the writer checkpoints itself (a backstop for when the checkpointer
/// cannot keep up; it then also lets the WAL start over from its beginning).
const BACKSTOP_PAGES: u32 = 8_000;

/// Prepared statements kept per connection (multi-row inserts come in several sizes).
const STATEMENT_CACHE: usize = 256;

fn open_connection(
    path: &Path,
    synchronous_full: bool,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(sqlite_err)?;
    let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON; \
         PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint={BACKSTOP_PAGES};"
    ))
    .map_err(sqlite_err)?;
    Ok(conn)
}

impl SqliteWriter {
    /// Opens `path` (already migrated) and starts the writer and checkpointer threads.
    pub(crate) fn open(path: &Path, synchronous_full: bool) -> Result<Self, StoreError> {
        let conn = open_connection(path, synchronous_full)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = open_connection(path, synchronous_full)?;
        let running = Arc::new(AtomicBool::new(true));
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_running = Arc::clone(&running);
        std::thread::Builder::new()
            .name("nuri-sqlite-writer".into())
            .spawn(move || {
                run(conn, queue);
                writer_running.store(false, Ordering::Relaxed);
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer: {e}")))?;
        std::thread::Builder::new()
            .name("nuri-sqlite-ckpt".into())
            .spawn(move || checkpoint_loop(checkpointer, running))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the SQLite checkpointer: {e}"))
            })?;
        Ok(Self { jobs })
    }

    /// Runs `work` on the writer thread inside a transaction (shared with whatever else is
    /// queued): its changes are committed if it returns `Ok`, undone otherwise; the answer
    /// comes once the commit is done.
    pub(crate) async fn transaction<T: Send + 'static>(
        &self,
        work: Work<T>,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |exec| {
            // The statements never wait on anything but this thread, so this is ready at once.
            match futures::executor::block_on(work(exec)) {
                Ok(value) => (
                    true,
                    Box::new(move |failed: Option<StoreError>| {
                        let _ = reply.send(failed.map_or(Ok(value), Err));
                    }),
                ),
                Err(e) => (
                    false,
                    Box::new(move |_: Option<StoreError>| {
                        let _ = reply.send(Err(e));
                    }),
                ),
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer failed a batch".into()))?
    }
}

fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    let mut translated = HashMap::new();
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Dropping the jobs drops their reply channels: each caller gets an error.
            tracing::error!(error = %e, "the SQLite writer cannot begin a transaction");
            continue;
        }
        let mut replies = Vec::with_capacity(group.len());
        for job in group {
            if let Some(reply) = run_one(&mut conn, &mut translated, job) {
                replies.push(reply);
            }
        }
        let failed = conn.execute_batch("COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            sqlite_err(e)
        });
        for reply in replies {
            reply(failed.clone());
        }
    }
}

/// Runs one job inside a savepoint, keeping or undoing its changes; `None` if it panicked
/// (its caller then gets an error through the dropped reply channel).
fn run_one(
    conn: &mut rusqlite::Connection,
    translated: &mut HashMap<String, String>,
    job: Job,
) -> Option<Reply> {
    if let Err(e) = conn.execute_batch("SAVEPOINT job") {
        tracing::error!(error = %e, "the SQLite writer cannot open a savepoint");
        return None;
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        job(&mut SqliteExec { conn, translated })
    }));
    let (keep, reply) = match outcome {
        Ok((keep, reply)) => (keep, Some(reply)),
        Err(_) => {
            tracing::error!("a SQLite writer job panicked; its changes are undone");
            (false, None)
        }
    };
    let end = if keep {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    if let Err(e) = conn.execute_batch(end) {
        tracing::error!(error = %e, "the SQLite writer cannot close a savepoint");
    }
    reply
}

/// Copies the WAL back into the database in the background until the writer stops.
#[allow(clippy::disallowed_methods)] // its own OS thread, not an async worker
fn checkpoint_loop(conn: rusqlite::Connection, running: Arc<AtomicBool>) {
    while running.load(Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::exec::work;

    /// A writer on a fresh database with an empty table `t (id, v)`.
    async fn writer() -> (tempfile::TempDir, SqliteWriter) {
        let dir = tempfile::tempdir().unwrap();
        let writer = SqliteWriter::open(&dir.path().join("w.db"), false).unwrap();
        writer
            .transaction(work(|db| {
                Box::pin(async move {
                    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
                        .await
                })
            }))
            .await
            .unwrap();
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
        let (_dir, writer) = writer().await;
        writer
            .transaction(work(|db| {
                Box::pin(async move {
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

    #[tokio::test]
    async fn jobs_sharing_a_commit_fail_alone() {
        let (_dir, writer) = writer().await;
        // Submitted together, so they queue up and share commits; every odd one fails after
        // writing a row, which its savepoint must undo without touching the others.
        let jobs = (0..40_i64).map(|i| {
            writer.transaction(work(move |db| {
                Box::pin(async move {
                    db.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[i.into(), "x".into()],
                    )
                    .await?;
                    if i % 2 == 1 {
                        return Err(StoreError::Conflict(format!("job {i} refuses")));
                    }
                    Ok(i)
                })
            }))
        });
        let results = futures::future::join_all(jobs).await;
        for (i, result) in (0..40_i64).zip(&results) {
            assert_eq!(result.is_ok(), i % 2 == 0, "job {i}: {result:?}");
        }
        assert_eq!(count(&writer).await, 20);
    }
}
