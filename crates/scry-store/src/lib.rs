//! scry-store: the history database.
//!
//! This crate owns the schema, its versioned migrations and every SQL
//! statement; callers hand it and get back plain Rust types ([`model`]).
//! A scan is recorded as it runs: [`Store::begin_scan`] makes its row,
//! a [`Writer`] commits its observations in batches, and
//! [`Writer::finish`] (or [`Store::finish_scan`]) marks it `complete` or
//! `interrupted`. Looking back: [`Store::list_scans`],
//! [`Store::load_scan`], [`Store::port_seen`], and [`diff`] over two
//! loaded scans. The backend is SQLite (bundled) in WAL mode; see
//! docs/history.md for the schema and the rules.

pub mod diff;
pub mod error;
pub mod model;
pub mod ports;
pub mod schema;

mod civil;
mod load;
mod runs;
mod store;
mod writer;

pub use error::{Result, StoreError};
pub use model::*;
pub use runs::{Subject, SubjectSummary};
pub use store::{Store, BUSY_TIMEOUT};
pub use writer::{SpawnedWriter, Writer, WriterOptions};
