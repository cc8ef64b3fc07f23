//! Sample scans and observations shared by the store's tests.
#![allow(dead_code)]

use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::*;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fixed time, `secs` after 2027-01-15 08:00:00 UTC.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A SYN scan of 198.18.0.0/30, ports 22, 25 and 80.
pub fn scan(started: SystemTime) -> NewScan {
    NewScan {
        scope: Scope {
            targets: vec!["198.18.0.0/30".into()],
            excludes: vec!["198.18.0.3".into()],
            ranges: vec![(ip("198.18.0.0"), ip("198.18.0.2"))],
            ports: vec![(Protocol::Tcp, vec![22, 25, 80])],
            scan_types: vec!["syn".into()],
            seed: Some(u64::MAX - 1),
            shard: (1, 1),
            run_id: None,
        },
        args: "scry -p22,25,80 --exclude 198.18.0.3 198.18.0.0/30".into(),
        version: "0.1.0".into(),
        started,
    }
}

pub fn port(host: &str, port: u16, state: PortState, reason: &str, seen: SystemTime) -> PortObservation {
    PortObservation {
        ip: ip(host),
        protocol: Protocol::Tcp,
        port,
        state,
        reason: reason.into(),
        ttl: Some(64),
        service: Service::default(),
        seen,
    }
}

pub fn host(addr: &str, seen: SystemTime) -> HostObservation {
    HostObservation {
        ip: ip(addr),
        status: HostStatus::Up,
        reason: "arp-response".into(),
        ttl: None,
        mac: Some("02:00:00:00:00:01".into()),
        hostname: None,
        seen,
    }
}

/// A batch size and interval that never commit on their own.
pub fn manual() -> WriterOptions {
    WriterOptions { batch_rows: usize::MAX, batch_interval: Duration::from_secs(3600) }
}

pub mod pg;

/// A database for one test: an SQLite file, or a PostgreSQL database on
/// the shared temporary cluster.
pub struct TestDb {
    /// `sqlite` or `postgres`, printed before each run of a test.
    pub backend: &'static str,
    /// What `scry_store::open` takes: a path or a URL.
    pub location: String,
    _dir: Option<tempfile::TempDir>,
    _cluster: Option<std::sync::Arc<pg::PgCluster>>,
}

impl TestDb {
    /// A new connection (session) to the database.
    pub fn open(&self) -> Box<dyn History> {
        scry_store::open(&self.location).unwrap_or_else(|e| panic!("{}: {e}", self.backend))
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let location = dir.path().join("sub/dir/history.db").to_string_lossy().into_owned();
        TestDb { backend: "sqlite", location, _dir: Some(dir), _cluster: None }
    }

    /// A new database on the temporary cluster; `None` (after a notice)
    /// where PostgreSQL is not installed and CI is not set.
    pub fn postgres() -> Option<TestDb> {
        let cluster = pg::cluster()?;
        let location = cluster.database();
        Some(TestDb { backend: "postgres", location, _dir: None, _cluster: Some(cluster) })
    }
}

/// Runs `test` on a new SQLite database, then on a new PostgreSQL one.
pub fn each_backend(test: impl Fn(&TestDb)) {
    for db in std::iter::once(TestDb::sqlite()).chain(TestDb::postgres()) {
        eprintln!("backend: {}", db.backend);
        test(&db);
    }
}
