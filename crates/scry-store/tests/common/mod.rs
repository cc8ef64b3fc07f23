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
