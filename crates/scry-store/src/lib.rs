//! scry-store: the history database.
//!
//! This crate owns the schema, its versioned migrations and every SQL
//! statement; callers hand it and get back plain Rust types ([`model`]).
//! A scan is recorded as it runs: [`History::begin_scan`] makes its row,
//! an [`ObservationWriter`] commits its observations in batches (on its
//! own thread with [`SpawnedWriter`]), and [`ObservationWriter::finish`]
//! (or [`History::finish_scan`]) marks it `complete` or `interrupted`.
//! Looking back: [`History::list_subjects`], [`History::load_subject`],
//! [`History::port_seen`], and [`diff`] over two loaded scans.
//!
//! [`History`] is the backend interface; [`Store`] is the SQLite backend
//! (bundled, WAL mode), [`PgStore`] the PostgreSQL one (the shared store
//! for scans on several machines), and [`open`] picks the backend from
//! `--db`. See
//! docs/history.md for the schema and the rules.

pub mod diff;
pub mod error;
pub mod import;
pub mod model;
pub mod pg;
pub mod ports;
pub mod schema;

mod civil;
mod history;
mod load;
mod read;
mod runs;
mod spawned;
mod store;
mod writer;

pub use error::{Result, StoreError};
pub use history::{is_postgres, open, History, ObservationWriter};
pub use model::*;
pub use pg::{PgStore, PgWriter};
pub use runs::{Subject, SubjectSummary};
pub use spawned::SpawnedWriter;
pub use store::{Store, BUSY_TIMEOUT};
pub use writer::{Writer, WriterOptions};
