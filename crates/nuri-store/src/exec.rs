//! [`Exec`]: "a transaction that runs SQL", over both of the store's drivers. The hot-path
//! writes (credit batches, usage batches, the credit sweeper) are written once against it and
//! run on sqlx's connections (PostgreSQL) or on the SQLite writer thread's rusqlite connection
//! (see `writer.rs`). SQL uses `$n` placeholders on both.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use nuri_core::store::StoreError;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Column, Row as _};

use crate::connect::db_err;

/// A value bound to a statement; typed even when null, as PostgreSQL wants.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// A BIGINT.
    Int(Option<i64>),
    /// A TEXT.
    Text(Option<&'a str>),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::Text(v)
    }
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number (aggregates only; money is never one).
    Real(f64),
    /// Text.
    Text(String),
}

/// One result row: its cells, by position or by column name.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    names: Arc<[String]>,
    cells: Vec<Cell>,
}

impl Row {
    fn cell(&self, column: &str) -> Result<&Cell, StoreError> {
        self.names
            .iter()
            .position(|n| n == column)
            .map(|i| &self.cells[i])
            .ok_or_else(|| StoreError::Unavailable(format!("no column {column} in the row")))
    }

    fn at(&self, i: usize) -> Result<&Cell, StoreError> {
        self.cells
            .get(i)
            .ok_or_else(|| StoreError::Unavailable(format!("no column {i} in the row")))
    }

    /// The integer in column `i`.
    pub(crate) fn int_at(&self, i: usize) -> Result<i64, StoreError> {
        int(self.at(i)?, &i.to_string())
    }

    /// The text in column `i`.
    pub(crate) fn text_at(&self, i: usize) -> Result<String, StoreError> {
        text(self.at(i)?, &i.to_string())
    }

    /// The text (or NULL) in column `i`.
    pub(crate) fn opt_text_at(&self, i: usize) -> Result<Option<String>, StoreError> {
        opt_text(self.at(i)?, &i.to_string())
    }

    /// The integer in the named column.
    pub(crate) fn int(&self, column: &str) -> Result<i64, StoreError> {
        int(self.cell(column)?, column)
    }

    /// The integer (or NULL) in the named column.
    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            c => int(c, column).map(Some),
        }
    }

    /// The text in the named column.
    pub(crate) fn text(&self, column: &str) -> Result<String, StoreError> {
        text(self.cell(column)?, column)
    }

    /// The text (or NULL) in the named column.
    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        opt_text(self.cell(column)?, column)
    }

    /// Reads a sqlx row (any backend) into a `Row`.
    pub(crate) fn from_any(row: &AnyRow) -> Result<Self, StoreError> {
        let mut names = Vec::with_capacity(row.len());
        let mut cells = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            names.push(column.name().to_owned());
            let cell = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map_or(Cell::Null, Cell::Int)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map_or(Cell::Null, Cell::Text)
            } else {
                let v: Option<f64> = row.try_get(i).map_err(db_err)?;
                v.map_or(Cell::Null, Cell::Real)
            };
            cells.push(cell);
        }
        Ok(Self {
            names: names.into(),
            cells,
        })
    }
}

/// A mapper over `Row` as one over sqlx's row (for reads through the pool).
pub(crate) fn via_row<T>(
    map: fn(&Row) -> Result<T, StoreError>,
) -> impl Fn(&AnyRow) -> Result<T, StoreError> {
    move |row| map(&Row::from_any(row)?)
}

fn wrong_type(column: &str, want: &str, got: &Cell) -> StoreError {
    StoreError::Unavailable(format!("column {column}: expected {want}, found {got:?}"))
}

fn int(cell: &Cell, column: &str) -> Result<i64, StoreError> {
    match cell {
        Cell::Int(v) => Ok(*v),
        other => Err(wrong_type(column, "an integer", other)),
    }
}

fn text(cell: &Cell, column: &str) -> Result<String, StoreError> {
    match cell {
        Cell::Text(v) => Ok(v.clone()),
        other => Err(wrong_type(column, "text", other)),
    }
}

fn opt_text(cell: &Cell, column: &str) -> Result<Option<String>, StoreError> {
    match cell {
        Cell::Null => Ok(None),
        c => text(c, column).map(Some),
    }
}

/// A transaction that runs SQL with `$n` placeholders.
#[async_trait]
pub(crate) trait Exec: Send {
    /// Runs a statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, StoreError>;
    /// Runs a statement; returns the rows it produced.
    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<Row>, StoreError>;
    /// Whether statements are calls into this process (SQLite) rather than round trips
    /// (PostgreSQL). In process, the hot path writes one row per statement and reads back what
    /// it needs by key in the same transaction instead of using `RETURNING`: a statement that
    /// writes one row by its key needs no statement journal (a copy of every page it touches,
    /// kept in case it fails half-way), while a many-row statement does, and SQLite runs
    /// `RETURNING` as a trigger with a temporary table. Over a network the fewest round trips
    /// win, so rows are batched and `RETURNING` is used.
    fn in_process(&self) -> bool {
        false
    }

    /// Rows to write per statement where a store reached over the network takes `batched`
    /// (see [`Exec::in_process`]).
    fn rows_per_statement(&self, batched: usize) -> usize {
        if self.in_process() {
            1
        } else {
            batched
        }
    }
}

/// Runs `update`, which changes at most the row of `table` whose `id` is `id`, and returns
/// that row's `columns` if it changed (none otherwise): `RETURNING` over the network, a read by
/// key in the same transaction in process (see [`Exec::in_process`]).
pub(crate) async fn update_returning(
    db: &mut dyn Exec,
    update: &str,
    args: &[Value<'_>],
    (table, id): (&str, &str),
    columns: &str,
) -> Result<Vec<Row>, StoreError> {
    if !db.in_process() {
        return db
            .rows(&format!("{update} RETURNING {columns}"), args)
            .await;
    }
    if db.execute(update, args).await? == 0 {
        return Ok(Vec::new());
    }
    db.rows(
        &format!("SELECT {columns} FROM {table} WHERE id = $1"),
        &[id.into()],
    )
    .await
}

/// Work done in one transaction on the hot-path writer.
pub(crate) type Work<T> =
    Box<dyn for<'e> FnOnce(&'e mut dyn Exec) -> BoxFuture<'e, Result<T, StoreError>> + Send>;

/// Boxes a closure as [`Work`] (naming the signature lets the closure borrow the transaction).
pub(crate) fn work<T, F>(f: F) -> Work<T>
where
    F: for<'e> FnOnce(&'e mut dyn Exec) -> BoxFuture<'e, Result<T, StoreError>> + Send + 'static,
{
    Box::new(f)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &[Value<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        q = match *arg {
            Value::Int(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
        };
    }
    q
}

#[async_trait]
impl Exec for AnyConnection {
    async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, StoreError> {
        let done = bind_all(sqlx::query(sql), args)
            .execute(&mut *self)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        let rows = bind_all(sqlx::query(sql), args)
            .fetch_all(&mut *self)
            .await
            .map_err(db_err)?;
        rows.iter().map(Row::from_any).collect()
    }
}

/// A rusqlite connection inside a transaction the caller opened.
pub(crate) struct SqliteExec<'c> {
    /// The writer's connection.
    pub(crate) conn: &'c mut rusqlite::Connection,
    /// SQL with `$n` placeholders → the same with `?n` (the writer's statements repeat).
    pub(crate) translated: &'c mut Translations,
}

/// The writer's `$n` → `?n` translations. Keyed by Nuri's own SQL, so a fast hash that resists
/// no attacker is enough (SipHash of every statement's text showed in the writer's profile).
pub(crate) type Translations = HashMap<String, String, rustc_hash::FxBuildHasher>;

/// Translations kept before the cache starts over.
const TRANSLATIONS: usize = 512;

/// `$n` → `?n`: SQLite numbers `$n` parameters by first appearance, `?n` by `n`.
fn sqlite_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Maps a rusqlite error the way `db_err` maps sqlx's.
pub(crate) fn sqlite_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(f, message) = &e {
        let message = message.clone().unwrap_or_else(|| e.to_string());
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return StoreError::Conflict(message)
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return StoreError::NotFound("referenced row".into())
            }
            _ => {}
        }
    }
    StoreError::Unavailable(e.to_string())
}

impl SqliteExec<'_> {
    fn prepare(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        if !self.translated.contains_key(sql) {
            if self.translated.len() >= TRANSLATIONS {
                self.translated.clear();
            }
            self.translated
                .insert(sql.to_owned(), sqlite_placeholders(sql).into_owned());
        }
        let sqlite_sql = &self.translated[sql];
        let mut stmt = self.conn.prepare_cached(sqlite_sql).map_err(sqlite_err)?;
        for (i, arg) in args.iter().enumerate() {
            match *arg {
                Value::Int(v) => stmt.raw_bind_parameter(i + 1, v),
                Value::Text(v) => stmt.raw_bind_parameter(i + 1, v),
            }
            .map_err(sqlite_err)?;
        }
        Ok(stmt)
    }
}

#[async_trait]
impl Exec for SqliteExec<'_> {
    fn in_process(&self) -> bool {
        true
    }

    async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepare(sql, args)?;
        let changed = stmt.raw_execute().map_err(sqlite_err)?;
        Ok(changed as u64)
    }

    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepare(sql, args)?;
        let names: Arc<[String]> = stmt
            .column_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_err)? {
            let mut cells = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                use rusqlite::types::ValueRef;
                cells.push(match row.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(v) | ValueRef::Blob(v) => {
                        Cell::Text(String::from_utf8_lossy(v).into_owned())
                    }
                });
            }
            out.push(Row {
                names: Arc::clone(&names),
                cells,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_placeholders;

    #[test]
    fn dollar_placeholders_become_numbered_question_marks() {
        assert_eq!(
            sqlite_placeholders("UPDATE t SET a = a + $1 WHERE id = $12 AND a + $1 >= 0"),
            "UPDATE t SET a = a + ?1 WHERE id = ?12 AND a + ?1 >= 0"
        );
        assert_eq!(sqlite_placeholders("SELECT '$' || x"), "SELECT '$' || x");
    }
}
