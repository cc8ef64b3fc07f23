//! The PostgreSQL schema: the same tables, columns, indexes and versions
//! as SQLite's ([`crate::schema`]), in PostgreSQL's types.
//!
//! Same rule: a shipped migration is never edited; version N is the N-th
//! entry of [`MIGRATIONS`] here as there, and both lists grow together.
//! Differences from the SQLite text: every integer is `BIGINT` (the
//! store reads and writes `i64`), `scans.id` is an identity column,
//! `scan_ranges` has an identity column `seq` standing in for SQLite's
//! implicit rowid (it keeps the ranges in the order written), and there is
//! no `WITHOUT ROWID`.
//!
//! Several processes may open a new database at once: each migration runs
//! in its own transaction that first takes a transaction-level advisory
//! lock, then checks the version again, so exactly one of them applies it.

use super::{server_ms, target_error};
use crate::error::{Result, StoreError};
use crate::schema::LATEST;
use postgres::{Client, GenericClient};
use std::path::PathBuf;

/// Version 1: scans and what they observed.
const V1: &str = "
CREATE TABLE scans (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT,
    shard_index BIGINT NOT NULL,
    shard_count BIGINT NOT NULL,
    seed BIGINT,
    scope_key TEXT NOT NULL,
    targets TEXT NOT NULL,
    excludes TEXT NOT NULL,
    scan_types TEXT NOT NULL,
    args TEXT NOT NULL,
    version TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms BIGINT,
    heartbeat_ms BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
    hosts_scanned BIGINT,
    hosts_up BIGINT
);
CREATE UNIQUE INDEX scans_shard ON scans (run_id, shard_index, shard_count) WHERE run_id IS NOT NULL;
CREATE TABLE scan_ranges (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    first TEXT NOT NULL,
    last TEXT NOT NULL
);
CREATE INDEX scan_ranges_scan ON scan_ranges (scan_id);
CREATE TABLE scan_ports (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    proto TEXT NOT NULL,
    ports TEXT NOT NULL,
    PRIMARY KEY (scan_id, proto)
);
CREATE TABLE scan_counters (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (scan_id, name)
);
CREATE TABLE hosts (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('up', 'down')),
    reason TEXT NOT NULL,
    ttl BIGINT,
    mac TEXT,
    hostname TEXT,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (scan_id, ip)
);
CREATE TABLE ports (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    proto TEXT NOT NULL,
    port BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    ttl BIGINT,
    service TEXT,
    product TEXT,
    version TEXT,
    extrainfo TEXT,
    banner TEXT,
    cpe TEXT,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (scan_id, ip, proto, port)
);
CREATE TABLE os (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    fingerprint TEXT,
    distance BIGINT,
    details TEXT,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (scan_id, ip)
);
CREATE TABLE os_matches (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    rank BIGINT NOT NULL,
    name TEXT NOT NULL,
    accuracy BIGINT NOT NULL,
    PRIMARY KEY (scan_id, ip, rank)
);
";

/// Version 3: what a scan printed, in order (SQLite's `scan_outputs`).
const V3: &str = "
CREATE TABLE scan_outputs (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    seq BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (scan_id, format, seq)
);
";

/// Version 4: a host's ports counted in their state (SQLite's `port_rest`).
const V4: &str = "
CREATE TABLE port_rest (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    proto TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (scan_id, ip, proto)
);
";

/// Every migration, version 1 first; version 2 (indexes) is portable SQL
/// shared with SQLite.
pub(crate) const MIGRATIONS: &[&str] = &[V1, crate::schema::V2, V3, V4];

const CREATE_MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)";

/// The advisory lock every migration holds (any fixed number: `scrymig`).
const MIGRATION_LOCK: i64 = 0x0073_6372_796d_6967;

/// The highest version recorded, 0 for a new database.
pub(crate) fn current_version(db: &mut impl GenericClient) -> std::result::Result<i64, postgres::Error> {
    // A plain query on the catalog, with this statement's snapshot: name
    // lookups such as to_regclass() may use the session's stale catalog
    // cache and miss a table another session has just created.
    let exists: bool = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                            WHERE schemaname = current_schema() AND tablename = 'schema_migrations')",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(0);
    }
    db.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).map(|r| r.get(0))
}

/// Brings the database to `target` (at most [`LATEST`]), one migration per
/// transaction; refuses a database newer than this scry.
pub(crate) fn migrate_to(client: &mut Client, name: &str, target: i64) -> Result<i64> {
    let found = current_version(client).map_err(target_error(name, "reading the schema version"))?;
    if found > LATEST {
        return Err(StoreError::NewerSchema { path: PathBuf::from(name), found, known: LATEST });
    }
    for version in found + 1..=target.min(LATEST) {
        let failed = |source| StoreError::PgMigration { target: name.to_owned(), version, source };
        let mut tx = client.transaction().map_err(failed)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(failed)?;
        // Another process may have migrated while this one waited for the lock.
        if current_version(&mut tx).map_err(failed)? >= version {
            continue;
        }
        tx.batch_execute(CREATE_MIGRATIONS_TABLE).map_err(failed)?;
        tx.batch_execute(MIGRATIONS[version as usize - 1]).map_err(failed)?;
        let record =
            format!("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, {})", server_ms());
        tx.execute(&record, &[&version]).map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    current_version(client).map_err(target_error(name, "reading the schema version"))
}

#[cfg(test)]
mod tests;
