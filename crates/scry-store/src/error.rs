//! Everything that can go wrong opening or using the history database, each
//! naming the file (or the PostgreSQL database, without its password) and
//! what to do about it.

use std::path::PathBuf;
use thiserror::Error;

/// A history database error.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The file or its directory cannot be opened or created.
    #[error("cannot open history database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// The file (or its directory, which holds the WAL) cannot be written.
    #[error(
        "history database {path} is read-only; scry needs to write it and the -wal and -shm files \
         beside it (use --db to choose another file, or --no-db)"
    )]
    ReadOnly { path: PathBuf },
    /// The file exists and is not an SQLite database. It is left as it is.
    #[error("{path} is not an SQLite database (it was not changed; use --db to choose another file)")]
    NotADatabase { path: PathBuf },
    /// SQLite found the file damaged. It is left as it is.
    #[error("history database {path} is corrupt: {detail} (it was not changed; `sqlite3 {path} .recover` may save its data)")]
    Corrupt { path: PathBuf, detail: String },
    /// The file was written by a newer scry, whose schema this one does not
    /// know. For PostgreSQL, `path` is the database as
    /// `postgres://user@host:port/db` (never with a password).
    #[error(
        "history database {path} has schema version {found}, newer than this scry knows ({known}); \
         use a newer scry or another --db"
    )]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    /// A migration failed; the database stays at the version before it.
    #[error("history database {path}: upgrading to schema version {version} failed: {source}")]
    Migration { path: PathBuf, version: i64, source: rusqlite::Error },
    /// A stored value that this scry cannot read.
    #[error("history database: bad {column} {value:?} in scan {scan}")]
    BadValue { scan: i64, column: &'static str, value: String },
    /// No scan has this id.
    #[error("no scan {0} in the history database")]
    NoSuchScan(i64),
    /// No scan has this run id.
    #[error("no run {0:?} in the history database")]
    NoSuchRun(String),
    /// Any other SQLite error, with what the store was doing.
    #[error("history database: {doing}: {source}")]
    Sqlite { doing: &'static str, source: rusqlite::Error },
    /// A `postgres://` location that does not parse.
    #[error("bad PostgreSQL history location {location}: {}", pg_detail(.source))]
    PgLocation { location: String, source: postgres::Error },
    /// The PostgreSQL server cannot be reached or refused the login.
    #[error("cannot connect to PostgreSQL history database {target}: {}", pg_detail(.source))]
    PgConnect { target: String, source: postgres::Error },
    /// A migration failed on PostgreSQL; the database stays at the version before it.
    #[error("history database {target}: upgrading to schema version {version} failed: {}", pg_detail(.source))]
    PgMigration { target: String, version: i64, source: postgres::Error },
    /// Any other PostgreSQL error, with what the store was doing.
    #[error("history database {target}: {doing}: {}", pg_detail(.source))]
    Postgres { target: String, doing: &'static str, source: postgres::Error },
    /// A backend this scry does not have.
    #[error("{0}")]
    Unsupported(String),
    /// The background writer's thread is gone.
    #[error("history writer stopped: {0}")]
    WriterGone(String),
}

/// A PostgreSQL error with its cause: the client's own text is only its
/// kind (`db error`), so the server's message (`ERROR: ...`, with its
/// detail) or the I/O error under it is added.
pub(crate) fn pg_detail(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// A result with [`StoreError`].
pub type Result<T> = std::result::Result<T, StoreError>;

/// Adds what the store was doing to an SQLite error.
pub(crate) trait Doing<T> {
    fn doing(self, what: &'static str) -> Result<T>;
}

impl<T> Doing<T> for std::result::Result<T, rusqlite::Error> {
    fn doing(self, what: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { doing: what, source })
    }
}
