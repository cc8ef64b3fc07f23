//! Version 1's PostgreSQL text, frozen: a shipped migration is never
//! edited. (Upgrades on a real server: tests/postgres.rs.)

use super::*;

/// Version 1 as shipped.
const FROZEN_V1: &str = "
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

#[test]
fn version_1_is_frozen() {
    assert_eq!(MIGRATIONS[0], FROZEN_V1);
}

#[test]
fn both_backends_have_every_version() {
    assert_eq!(MIGRATIONS.len() as i64, LATEST);
    assert_eq!(MIGRATIONS.len(), crate::schema::MIGRATIONS.len());
}
