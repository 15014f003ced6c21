//! The SQLite hot-path writer: one thread owning one rusqlite connection that runs the hot-path
//! work (credit reservations and settlements, usage records, the sweeper).
//!
//! SQLite has one writer at a time. Through sqlx, every statement is a hop between the async
//! runtime and sqlx's connection thread, and on a busy two-core machine each hop waits for a
//! time slice. Here a piece of work is one hop in and one out, its statements run back to back,
//! and everything queued meanwhile shares one commit (group commit; under load the writer waits
//! a moment for more before committing, see [`run`]): each piece runs inside its
//! own savepoint, so one that fails is undone alone, and each learns its outcome only once the
//! commit is durable. The first piece of a commit needs no savepoint (a savepoint copies every
//! page it first touches): if it fails, the transaction is rolled back, and the pieces queued
//! behind it go in the next. A second thread checkpoints the WAL, so the writer never stops for
//! it.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nuri_core::store::StoreError;
use tokio::sync::oneshot;

use crate::exec::{sqlite_err, SqliteExec, Translations, Work};

/// Tells a job's caller how the commit went: `None` committed, `Some` the commit's error.
type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A piece of work: runs its statements, says whether to keep them, and how to reply.
type Job = Box<dyn FnOnce(&mut SqliteExec<'_>) -> (bool, Reply) + Send>;

/// How soon a piece of work is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// A request waits on it (a credit reservation): runs before any background work queued.
    Urgent,
    /// Nobody waits on it (usage records, settlements, the sweeper): runs after the urgent work
    /// queued, in the same commit, and lets urgent work that arrives meanwhile go first.
    Background,
}

/// Handle to the writer thread; the thread stops when every handle is dropped.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<(Lane, Job)>,
}

/// When a busy writer waits for more work before committing (group commit).
#[derive(Debug, Clone, Copy)]
struct Pacing {
    /// A commit that starts this soon after the last one ended finds the writer busy.
    busy_gap: Duration,
    /// How long a busy writer waits for more work before committing what it has.
    linger: Duration,
}

impl Pacing {
    /// The pacing the gateway runs with (measured in `bench/RESULTS.md`).
    const SERVING: Self = Self {
        busy_gap: Duration::from_micros(500),
        linger: Duration::from_micros(200),
    };
}

/// Most pieces of work sharing one commit.
const GROUP: usize = 64;

/// How soon the checkpointer runs again while the WAL keeps growing. A checkpoint syncs the WAL
/// and then the database, and while it does, the writer's own WAL writes (so the commits that
/// requests wait on) can stall for about as long: frequent small checkpoints keep each stall
/// short (measured in `bench/RESULTS.md`: credits-on p99 at c=1 went from 10–15 ms at 200 ms
/// to 2–3 ms).
const CHECKPOINT_BUSY: Duration = Duration::from_millis(20);

/// The checkpointer's longest pause, reached by doubling while nothing is written.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(200);

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
        Self::open_paced(path, synchronous_full, Pacing::SERVING)
    }

    fn open_paced(path: &Path, synchronous_full: bool, pacing: Pacing) -> Result<Self, StoreError> {
        let conn = open_connection(path, synchronous_full)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = open_connection(path, synchronous_full)?;
        let running = Arc::new(AtomicBool::new(true));
        let (jobs, queue) = mpsc::channel::<(Lane, Job)>();
        let writer_running = Arc::clone(&running);
        std::thread::Builder::new()
            .name("nuri-sqlite-writer".into())
            .spawn(move || {
                run(conn, queue, pacing);
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
    /// queued): its changes are committed if it returns `Ok`, undone otherwise; the
    /// answer comes once the commit is done.
    pub(crate) async fn transaction<T: Send + 'static>(
        &self,
        lane: Lane,
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
            .send((lane, job))
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer failed a batch".into()))?
    }
}

/// Jobs taken off the channel, by lane.
#[derive(Default)]
struct Lanes {
    urgent: VecDeque<Job>,
    background: VecDeque<Job>,
}

impl Lanes {
    /// Moves everything already on the channel into the lanes, without waiting.
    fn take_queued(&mut self, queue: &mpsc::Receiver<(Lane, Job)>) {
        while let Ok(queued) = queue.try_recv() {
            self.push(queued);
        }
    }

    fn push(&mut self, (lane, job): (Lane, Job)) {
        match lane {
            Lane::Urgent => self.urgent.push_back(job),
            Lane::Background => self.background.push_back(job),
        }
    }

    fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.background.is_empty()
    }

    /// The next job to run and its lane: urgent work first, then background work. When nothing
    /// is queued, waits for more once, up to `linger` (which it then clears), if that is set.
    fn next(
        &mut self,
        queue: &mpsc::Receiver<(Lane, Job)>,
        linger: &mut Option<Duration>,
    ) -> Option<(Lane, Job)> {
        self.take_queued(queue);
        if self.is_empty() {
            self.push(queue.recv_timeout(linger.take()?).ok()?);
        }
        match self.urgent.pop_front() {
            Some(job) => Some((Lane::Urgent, job)),
            None => self
                .background
                .pop_front()
                .map(|job| (Lane::Background, job)),
        }
    }
}

/// The writer loop. Each commit carries up to [`GROUP`] jobs, urgent ones first, and whatever
/// background work is queued behind them (one commit instead of two: every commit writes each
/// page it touched to the WAL, and under load commits were the writer's largest cost). When the
/// last commit ended less than [`Pacing::busy_gap`] before this one's first job came, the writer
/// is busy: once the queue runs dry it waits up to [`Pacing::linger`] for more before committing
/// (group commit), unless the commit carries urgent work, whose callers are waiting for it. A job
/// that comes to an idle writer is committed at once.
fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<(Lane, Job)>, pacing: Pacing) {
    let mut translated = Translations::default();
    let mut lanes = Lanes::default();
    let mut last_commit: Option<Instant> = None;
    'commits: loop {
        if lanes.is_empty() {
            match queue.recv() {
                Ok(queued) => lanes.push(queued),
                Err(_) => return,
            }
        }
        let busy = last_commit.is_some_and(|at| at.elapsed() < pacing.busy_gap);
        if let Err(e) = control(&conn, "BEGIN IMMEDIATE") {
            // Dropping the jobs drops their reply channels: each caller gets an error.
            tracing::error!(error = %e, "the SQLite writer cannot begin a transaction");
            lanes.take_queued(&queue);
            lanes.urgent.clear();
            lanes.background.clear();
            continue;
        }
        let mut linger = busy.then_some(pacing.linger);
        let mut replies = Vec::new();
        for taken in 0..GROUP {
            let Some((lane, job)) = lanes.next(&queue, &mut linger) else {
                break;
            };
            if lane == Lane::Urgent {
                // A request waits on this commit: it never waits longer for other work.
                linger = None;
            }
            // The commit's first job needs no savepoint: if it fails, undoing the whole
            // transaction undoes just it (a savepoint copies every page it first touches).
            let alone = taken == 0;
            let (reply, kept) = run_one(&mut conn, &mut translated, job, !alone);
            if alone && !kept {
                let _ = conn.execute_batch("ROLLBACK");
                if let Some(reply) = reply {
                    reply(None);
                }
                continue 'commits;
            }
            if let Some(reply) = reply {
                replies.push(reply);
            }
        }
        let failed = control(&conn, "COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            sqlite_err(e)
        });
        last_commit = Some(Instant::now());
        for reply in replies {
            reply(failed.clone());
        }
    }
}

/// Runs one transaction-control statement, prepared once per connection (these run several
/// times per commit; parsing them each time showed in profiles).
fn control(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs one job, inside a savepoint if `guarded` (other work shares the transaction), keeping
/// or undoing its changes; returns its reply (`None` if it panicked: its caller then gets an
/// error through the dropped reply channel) and whether its changes were kept. An unguarded job
/// that is not kept leaves its changes for the caller to roll back with the transaction.
fn run_one(
    conn: &mut rusqlite::Connection,
    translated: &mut Translations,
    job: Job,
    guarded: bool,
) -> (Option<Reply>, bool) {
    if guarded {
        if let Err(e) = control(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "the SQLite writer cannot open a savepoint");
            return (None, false);
        }
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
    if guarded {
        let end = if keep {
            control(conn, "RELEASE job")
        } else {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "the SQLite writer cannot close a savepoint");
        }
    }
    (reply, keep)
}

/// Copies the WAL back into the database in the background until the writer stops: every
/// [`CHECKPOINT_BUSY`] while the WAL grows, backing off to [`CHECKPOINT_IDLE`] while it does
/// not (see [`next_pause`]).
#[allow(clippy::disallowed_methods)] // its own OS thread, not an async worker
fn checkpoint_loop(conn: rusqlite::Connection, running: Arc<AtomicBool>) {
    let mut pause = CHECKPOINT_BUSY;
    let mut last = None;
    while running.load(Ordering::Relaxed) {
        std::thread::sleep(pause);
        // One row: whether it was blocked, the WAL's frames, and how many are now copied back.
        let frames = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .inspect_err(|e| tracing::warn!(error = %e, "WAL checkpoint failed"))
            .ok();
        pause = next_pause(pause, frames.is_some() && frames != last);
        last = frames;
    }
}

/// The checkpointer's next pause after one of `pause`: [`CHECKPOINT_BUSY`] if the WAL changed
/// since the checkpoint before (it was written to, or started over), otherwise twice as long, up
/// to [`CHECKPOINT_IDLE`].
fn next_pause(pause: Duration, wal_changed: bool) -> Duration {
    if wal_changed {
        CHECKPOINT_BUSY
    } else {
        (pause * 2).min(CHECKPOINT_IDLE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::exec::work;

    /// A writer on a fresh database with an empty table `t (id, v)`.
    async fn writer() -> (tempfile::TempDir, SqliteWriter) {
        paced_writer(Pacing::SERVING).await
    }

    /// [`writer`] with its own pacing (creating the table is its first commit).
    async fn paced_writer(pacing: Pacing) -> (tempfile::TempDir, SqliteWriter) {
        let dir = tempfile::tempdir().unwrap();
        let writer = SqliteWriter::open_paced(&dir.path().join("w.db"), false, pacing).unwrap();
        writer
            .transaction(
                Lane::Urgent,
                work(|db| {
                    Box::pin(async move {
                        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
                            .await
                    })
                }),
            )
            .await
            .unwrap();
        (dir, writer)
    }

    async fn count(writer: &SqliteWriter) -> i64 {
        writer
            .transaction(
                Lane::Urgent,
                work(|db| {
                    Box::pin(
                        async move { db.rows("SELECT COUNT(*) FROM t", &[]).await?[0].int_at(0) },
                    )
                }),
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn failed_work_rolls_back_and_a_panic_does_not_stop_the_writer() {
        let (_dir, writer) = writer().await;
        writer
            .transaction(
                Lane::Urgent,
                work(|db| {
                    Box::pin(async move {
                        db.execute(
                            "INSERT INTO t (id, v) VALUES ($1, $2)",
                            &[1_i64.into(), "a".into()],
                        )
                        .await
                    })
                }),
            )
            .await
            .unwrap();
        let failed = writer
            .transaction(
                Lane::Urgent,
                work(|db| {
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
                }),
            )
            .await;
        assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
        assert_eq!(count(&writer).await, 1);
        let panicked: Result<(), StoreError> = writer
            .transaction(
                Lane::Urgent,
                work(|db| {
                    Box::pin(async move {
                        db.execute(
                            "INSERT INTO t (id, v) VALUES ($1, $2)",
                            &[3_i64.into(), "d".into()],
                        )
                        .await?;
                        panic!("boom")
                    })
                }),
            )
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
            writer.transaction(
                Lane::Urgent,
                work(move |db| {
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
                }),
            )
        });
        let results = futures::future::join_all(jobs).await;
        for (i, result) in (0..40_i64).zip(&results) {
            assert_eq!(result.is_ok(), i % 2 == 0, "job {i}: {result:?}");
        }
        assert_eq!(count(&writer).await, 20);
    }

    /// Appends `v` to `t` in `lane`; resolves once committed.
    fn append(
        writer: &SqliteWriter,
        lane: Lane,
        v: &'static str,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> {
        let writer = writer.clone();
        async move {
            writer
                .transaction(
                    lane,
                    work(move |db| {
                        Box::pin(async move {
                            db.execute("INSERT INTO t (v) VALUES ($1)", &[v.into()])
                                .await
                                .map(|_| ())
                        })
                    }),
                )
                .await
        }
    }

    /// Starts a job in `lane` that holds the writer until the returned sender is used, and
    /// waits until the writer is inside it; the job then appends `"first"`.
    async fn hold_writer(
        writer: &SqliteWriter,
        lane: Lane,
    ) -> (
        tokio::task::JoinHandle<Result<(), StoreError>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = writer.clone();
        let held = tokio::spawn(async move {
            writer
                .transaction(
                    lane,
                    work(move |db| {
                        Box::pin(async move {
                            started_tx.send(()).unwrap();
                            released.recv().unwrap();
                            db.execute("INSERT INTO t (v) VALUES ('first')", &[])
                                .await
                                .map(|_| ())
                        })
                    }),
                )
                .await
        });
        tokio::task::spawn_blocking(move || started.recv().unwrap())
            .await
            .unwrap();
        (held, release)
    }

    async fn values(writer: &SqliteWriter) -> Vec<String> {
        writer
            .transaction(
                Lane::Urgent,
                work(|db| {
                    Box::pin(async move {
                        db.rows("SELECT v FROM t ORDER BY id", &[])
                            .await?
                            .iter()
                            .map(|r| r.text_at(0))
                            .collect()
                    })
                }),
            )
            .await
            .unwrap()
    }

    /// Queues `jobs` in order while the writer is held in `first`, releases it, and returns
    /// the order the values were written in.
    async fn order_after(
        writer: &SqliteWriter,
        first: Lane,
        jobs: &[(Lane, &'static str)],
    ) -> Vec<String> {
        let (held, release) = hold_writer(writer, first).await;
        let queued: Vec<_> = jobs
            .iter()
            .map(|&(lane, v)| tokio::spawn(append(writer, lane, v)))
            .collect();
        // Each spawned job is on the writer's channel once it has been polled once.
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        for job in queued {
            job.await.unwrap().unwrap();
        }
        values(writer).await
    }

    #[tokio::test]
    async fn a_failing_first_job_is_undone_alone() {
        let (_dir, writer) = writer().await;
        let (held, release) = hold_writer(&writer, Lane::Urgent).await;
        // Queued while the writer is held, so the failing job opens the next commit, which it
        // runs without a savepoint; the jobs queued behind it must still be written.
        let failing = {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .transaction(
                        Lane::Urgent,
                        work(|db| {
                            Box::pin(async move {
                                db.execute("INSERT INTO t (v) VALUES ('undone')", &[])
                                    .await?;
                                Err::<(), _>(StoreError::Conflict("refused".into()))
                            })
                        }),
                    )
                    .await
            })
        };
        tokio::task::yield_now().await;
        let after: Vec<_> = ["a", "b"]
            .map(|v| tokio::spawn(append(&writer, Lane::Urgent, v)))
            .into_iter()
            .collect();
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        let refused = failing.await.unwrap();
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
        for job in after {
            job.await.unwrap().unwrap();
        }
        assert_eq!(values(&writer).await, ["first", "a", "b"]);
    }

    #[tokio::test]
    async fn urgent_work_overtakes_queued_background_work() {
        let (_dir, writer) = writer().await;
        let b = Lane::Background;
        let order = order_after(
            &writer,
            b,
            &[(b, "b1"), (b, "b2"), (b, "b3"), (Lane::Urgent, "urgent")],
        )
        .await;
        assert_eq!(order, ["first", "urgent", "b1", "b2", "b3"]);
    }

    #[tokio::test]
    async fn queued_urgent_work_runs_before_background_work_queued_earlier() {
        let (_dir, writer) = writer().await;
        let u = Lane::Urgent;
        let order = order_after(
            &writer,
            u,
            &[(Lane::Background, "b1"), (u, "u1"), (u, "u2")],
        )
        .await;
        assert_eq!(order, ["first", "u1", "u2", "b1"]);
    }

    #[tokio::test]
    async fn a_busy_writer_lingers_for_background_work_but_never_for_urgent_work() {
        // Busy for a minute after each commit, and lingering a minute when busy: anything that
        // lingers cannot be answered within the timeouts below.
        let minute = Duration::from_secs(60);
        let pacing = Pacing {
            busy_gap: minute,
            linger: minute,
        };
        let (_dir, writer) = paced_writer(pacing).await;
        let urgent =
            tokio::time::timeout(Duration::from_secs(20), append(&writer, Lane::Urgent, "u")).await;
        assert!(
            matches!(urgent, Ok(Ok(()))),
            "urgent work waited for the linger"
        );
        let background = tokio::time::timeout(
            Duration::from_millis(300),
            append(&writer, Lane::Background, "b"),
        )
        .await;
        assert!(background.is_err(), "background work did not linger");
    }

    /// A job that does nothing, for the lanes' own tests.
    fn no_op() -> Job {
        Box::new(|_| (true, Box::new(|_| {})))
    }

    #[test]
    fn the_checkpointer_runs_often_while_the_wal_changes_and_backs_off_while_it_does_not() {
        assert_eq!(next_pause(CHECKPOINT_IDLE, true), CHECKPOINT_BUSY);
        let mut pause = CHECKPOINT_BUSY;
        let mut pauses = Vec::new();
        for _ in 0..6 {
            pause = next_pause(pause, false);
            pauses.push(pause.as_millis());
        }
        assert_eq!(pauses, [40, 80, 160, 200, 200, 200]);
        assert_eq!(next_pause(pause, true), CHECKPOINT_BUSY);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // sleeps on a plain thread, not an async worker
    fn the_lanes_linger_once_and_only_when_asked() {
        let (tx, queue) = mpsc::channel();
        let mut lanes = Lanes::default();
        // Nothing queued and no linger: nothing, at once.
        assert!(lanes.next(&queue, &mut None).is_none());
        // Nothing queued, with a linger: the job sent meanwhile, and the linger is spent.
        let sender = tx.clone();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send((Lane::Background, no_op())).unwrap();
        });
        let mut linger = Some(Duration::from_secs(10));
        assert!(lanes.next(&queue, &mut linger).is_some());
        assert_eq!(linger, None);
        late.join().unwrap();
        // The linger spent, an empty queue ends the commit.
        assert!(lanes.next(&queue, &mut linger).is_none());
        // Queued work is taken without waiting, urgent first.
        tx.send((Lane::Background, no_op())).unwrap();
        tx.send((Lane::Urgent, no_op())).unwrap();
        assert!(matches!(
            lanes.next(&queue, &mut None),
            Some((Lane::Urgent, _))
        ));
        assert_eq!((lanes.urgent.len(), lanes.background.len()), (0, 1));
    }
}
