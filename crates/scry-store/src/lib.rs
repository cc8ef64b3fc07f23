//! scry-store: the history database.
//!
//! This crate owns the schema, its versioned migrations and every SQL
//! statement; callers hand it and get back plain Rust types ([`model`]).

pub mod model;
pub mod ports;

pub use model::*;
