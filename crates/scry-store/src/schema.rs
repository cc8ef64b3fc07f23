//! The schema and its versioned migrations.
//!
//! Rule: a migration that has shipped is never edited. A change to the
//! schema is a new entry at the end of `MIGRATIONS`; version N is the
//! N-th entry. Each migration runs in its own transaction together with the
//! row that records it in `schema_migrations`, so a database is always at
//! exactly one version: a failed or killed upgrade leaves the version
//! before it. A database whose highest recorded version is above
//! [`LATEST`] was written by a newer scry and is refused, never touched.
//! The tests keep version 1's text frozen and upgrade a version-1 file.

use crate::error::{Doing, Result, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Version 1: scans and what they observed.
const V1: &str = "
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    run_id TEXT,
    shard_index INTEGER NOT NULL,
    shard_count INTEGER NOT NULL,
    seed INTEGER,
    scope_key TEXT NOT NULL,
    targets TEXT NOT NULL,
    excludes TEXT NOT NULL,
    scan_types TEXT NOT NULL,
    args TEXT NOT NULL,
    version TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    heartbeat_ms INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
    hosts_scanned INTEGER,
    hosts_up INTEGER
);
CREATE UNIQUE INDEX scans_shard ON scans (run_id, shard_index, shard_count) WHERE run_id IS NOT NULL;
CREATE TABLE scan_ranges (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    first TEXT NOT NULL,
    last TEXT NOT NULL
);
CREATE INDEX scan_ranges_scan ON scan_ranges (scan_id);
CREATE TABLE scan_ports (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    proto TEXT NOT NULL,
    ports TEXT NOT NULL,
    PRIMARY KEY (scan_id, proto)
);
CREATE TABLE scan_counters (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scan_id, name)
);
CREATE TABLE hosts (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('up', 'down')),
    reason TEXT NOT NULL,
    ttl INTEGER,
    mac TEXT,
    hostname TEXT,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip)
) WITHOUT ROWID;
CREATE TABLE ports (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    proto TEXT NOT NULL,
    port INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    ttl INTEGER,
    service TEXT,
    product TEXT,
    version TEXT,
    extrainfo TEXT,
    banner TEXT,
    cpe TEXT,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip, proto, port)
) WITHOUT ROWID;
CREATE TABLE os (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    fingerprint TEXT,
    distance INTEGER,
    details TEXT,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip)
) WITHOUT ROWID;
CREATE TABLE os_matches (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    rank INTEGER NOT NULL,
    name TEXT NOT NULL,
    accuracy INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip, rank)
) WITHOUT ROWID;
";

/// Version 2: indexes for looking back across scans: a port's first and
/// last sighting, and the last scans of one scope.
pub(crate) const V2: &str = "
CREATE INDEX ports_by_address ON ports (ip, proto, port);
CREATE INDEX scans_by_scope ON scans (scope_key, status, started_ms);
";

/// Version 3: what a scan printed in each output format, in order, so
/// `scry show` prints it again byte for byte.
const V3: &str = "
CREATE TABLE scan_outputs (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (scan_id, format, seq)
) WITHOUT ROWID;
";

/// Version 4: the ports of a host not recorded one by one, counted in
/// their state (nmap's `extraports`).
const V4: &str = "
CREATE TABLE port_rest (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    proto TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip, proto)
) WITHOUT ROWID;
";

/// Every migration, version 1 first.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The schema version this scry writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

const CREATE_MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)";

/// The highest version recorded in `conn`, 0 for a new database.
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_table.is_none() {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
}

/// Brings `conn` to `target` (at most [`LATEST`]), one migration per
/// transaction; refuses a database newer than this scry.
pub(crate) fn migrate_to(conn: &mut Connection, path: &Path, target: i64, now_ms: i64) -> Result<i64> {
    let found = current_version(conn).doing("reading the schema version")?;
    if found > LATEST {
        return Err(StoreError::NewerSchema { path: path.to_owned(), found, known: LATEST });
    }
    for version in found + 1..=target.min(LATEST) {
        let failed = |source| StoreError::Migration { path: path.to_owned(), version, source };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
        // Another process may have migrated while this one waited for the lock.
        if current_version(&tx).map_err(failed)? >= version {
            continue;
        }
        tx.execute_batch(CREATE_MIGRATIONS_TABLE).map_err(failed)?;
        tx.execute_batch(MIGRATIONS[version as usize - 1]).map_err(failed)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)", (version, now_ms))
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    current_version(conn).doing("reading the schema version")
}

#[cfg(test)]
mod tests;
