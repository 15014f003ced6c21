//! Opening the database, applying migrations, and backend-specific settings.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use nuri_core::store::{AuditEntry, AuditStore, Store, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::exec::Work;
use crate::writer::{Lane, SqliteWriter};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path` or `postgres://…`.
    pub url: String,
    /// SQLite `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives crashes).
    pub sqlite_synchronous_full: bool,
    /// Pool size.
    pub max_connections: u32,
}

impl StoreOptions {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sqlite_synchronous_full: false,
            max_connections: 16,
        }
    }
}

/// The store: one pool, either backend, and the hot-path writer.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    hot: HotWriter,
    pub(crate) backend: Backend,
}

/// Where hot-path batches are written: SQLite's writer thread, or PostgreSQL's pool.
#[derive(Clone)]
enum HotWriter {
    Sqlite(SqliteWriter),
    Pool(AnyPool),
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound("referenced row".into())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A multi-row `INSERT`: `{head} VALUES (…), … {tail}` for any number of rows of `cols`
/// values, its one-row form built once (the SQLite writer inserts one row per statement, and
/// formatting each one's text showed in its profile).
pub(crate) struct InsertSql {
    head: &'static str,
    cols: usize,
    tail: &'static str,
    one_row: std::sync::OnceLock<String>,
}

impl InsertSql {
    /// `head` up to `VALUES` (exclusive), `tail` after the rows (e.g. an `ON CONFLICT` clause).
    pub(crate) const fn new(head: &'static str, cols: usize, tail: &'static str) -> Self {
        Self {
            head,
            cols,
            tail,
            one_row: std::sync::OnceLock::new(),
        }
    }

    /// The statement for `rows` rows.
    pub(crate) fn sql(&self, rows: usize) -> std::borrow::Cow<'_, str> {
        let build = |rows| {
            format!(
                "{} VALUES {} {}",
                self.head,
                placeholders(rows, self.cols),
                self.tail
            )
        };
        if rows == 1 {
            std::borrow::Cow::Borrowed(self.one_row.get_or_init(|| build(1)))
        } else {
            std::borrow::Cow::Owned(build(rows))
        }
    }
}

/// `($1, $2, …), ($k, …), …` for `rows` rows of `cols` values.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

impl SqlStore {
    /// Connects, creating the SQLite file (and its folder) if needed, and applies migrations.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if options.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let mut url = options.url.clone();
        let mut sqlite_path = String::new();
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default().to_owned();
            sqlite_path.clone_from(&path);
            if let Some(dir) = std::path::Path::new(&path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
            if !url.contains('?') {
                url.push_str("?mode=rwc");
            }
        }
        let connect = AnyConnectOptions::from_str(&url).map_err(db_err)?;
        let synchronous = if options.sqlite_synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        };
        let pool_options = |size: u32| {
            AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(5))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute(format!("PRAGMA synchronous={synchronous}").as_str())
                                .await?;
                            conn.execute("PRAGMA busy_timeout=10000").await?;
                            conn.execute("PRAGMA foreign_keys=ON").await?;
                        }
                        Ok(())
                    })
                })
        };
        let size = if backend == Backend::Sqlite {
            options.max_connections.min(8)
        } else {
            options.max_connections
        };
        let pool = pool_options(size)
            .connect_with(connect)
            .await
            .map_err(db_err)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        // SQLite has one writer at a time: the hot-path batches go through one thread that owns
        // one connection (see `writer.rs`); PostgreSQL takes them on the pool.
        let hot = match backend {
            Backend::Sqlite => HotWriter::Sqlite(SqliteWriter::open(
                std::path::Path::new(&sqlite_path),
                options.sqlite_synchronous_full,
            )?),
            Backend::Postgres => HotWriter::Pool(pool.clone()),
        };
        Ok(Self { pool, hot, backend })
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `work` as one transaction on the hot-path writer: SQLite's writer thread (in
    /// `lane`), or a pooled PostgreSQL connection. Committed if `work` returns `Ok`, rolled
    /// back otherwise.
    pub(crate) async fn hot<T: Send + 'static>(
        &self,
        lane: Lane,
        work: Work<T>,
    ) -> Result<T, StoreError> {
        match &self.hot {
            HotWriter::Sqlite(writer) => writer.transaction(lane, work).await,
            HotWriter::Pool(pool) => {
                let mut tx = pool.begin().await.map_err(db_err)?;
                let db: &mut dyn crate::exec::Exec = &mut *tx;
                let value = work(db).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(value)
            }
        }
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_log (actor, action, target, detail, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(entry.target.as_deref())
            .bind(entry.detail.to_string())
            .bind(entry.created_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
