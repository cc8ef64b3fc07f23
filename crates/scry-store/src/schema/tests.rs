//! Migration tests: version 1's text is frozen here, and a database at
//! every earlier version upgrades to the latest with its data intact.

use super::*;
use crate::model::*;
use crate::store::Store;
use crate::History;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::time::{Duration, UNIX_EPOCH};

/// Version 1 as shipped. A shipped migration is never edited: change the
/// schema with a new migration instead.
const FROZEN_V1: &str = "
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

#[test]
fn version_1_is_frozen() {
    assert_eq!(MIGRATIONS[0], FROZEN_V1);
    assert_eq!(LATEST, 4);
}

fn sample_scan() -> NewScan {
    NewScan {
        scope: Scope {
            targets: vec!["198.18.0.0/30".into()],
            ranges: vec![("198.18.0.0".parse().unwrap(), "198.18.0.3".parse().unwrap())],
            ports: vec![(Protocol::Tcp, vec![22, 80])],
            scan_types: vec!["syn".into()],
            shard: (1, 1),
            ..Scope::default()
        },
        args: "scry -p22,80 198.18.0.0/30".into(),
        version: "0.1.0".into(),
        started: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    }
}

fn indexes(store: &Store) -> Vec<String> {
    let mut stmt = store
        .conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn every_earlier_version_upgrades_with_its_data() {
    for from in 1..LATEST {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let id = {
            let mut old = Store::open_at_version(&path, from).unwrap();
            assert_eq!(old.schema_version().unwrap(), from);
            let id = old.begin_scan(&sample_scan()).unwrap();
            let mut w = old.writer(id, Default::default()).unwrap();
            w.push(Observation::Port(PortObservation {
                ip: "198.18.0.1".parse().unwrap(),
                protocol: Protocol::Tcp,
                port: 22,
                state: PortState::Open,
                reason: "syn-ack".into(),
                ttl: Some(64),
                service: Service { name: Some("ssh".into()), ..Service::default() },
                seen: UNIX_EPOCH + Duration::from_secs(1_800_000_001),
            }))
            .unwrap();
            w.finish(
                ScanStatus::Complete,
                &ScanStats::default(),
                UNIX_EPOCH + Duration::from_secs(1_800_000_002),
            )
            .unwrap();
            id
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST, "from version {from}");
        let scan = store.load_scan(id).unwrap();
        assert_eq!(scan.record.status, ScanStatus::Complete);
        assert_eq!(scan.ports.len(), 1);
        assert_eq!(scan.ports[0].service.name.as_deref(), Some("ssh"));
        assert_eq!(
            indexes(&store),
            ["ports_by_address", "scan_ranges_scan", "scans_by_scope", "scans_shard"],
            "from version {from}"
        );
        let seen = store.port_seen("198.18.0.1".parse().unwrap(), Protocol::Tcp, 22, None).unwrap().unwrap();
        assert_eq!((seen.first_scan, seen.last_scan, seen.scans), (id, id, 1));
        // Version 3's table is there: the upgraded scan can keep outputs.
        assert_eq!(store.load_output(id, "normal").unwrap(), None);
        let mut w = store.writer(id, Default::default()).unwrap();
        for text in ["Starting scry\n", "Nmap done\n"] {
            w.push(Observation::Output(OutputChunk { format: "normal".into(), text: text.into() })).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(store.load_output(id, "normal").unwrap().as_deref(), Some("Starting scry\nNmap done\n"));
    }
}

#[test]
fn a_new_database_records_each_version_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    let versions: Vec<i64> = {
        let mut stmt = store.conn.prepare("SELECT version FROM schema_migrations ORDER BY version").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert_eq!(versions, [1, 2, 3, 4]);
}
