//! Scans as the user sees them: a scan on its own, or every shard of one
//! run (`--run-id`) as one scan, complete only once all its shards are.

use crate::model::*;
use std::collections::BTreeSet;
use std::time::SystemTime;

/// What `scry show` and `scry diff` name: a scan, or a run of shards.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Scan(ScanId),
    Run(String),
}

/// One line of a history that shows a run as one scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectSummary {
    pub subject: Subject,
    /// Its scans, by shard index.
    pub scans: Vec<ScanSummary>,
    /// The first shard's start.
    pub started: SystemTime,
    /// `complete` when every scan is and no shard is missing; `running`
    /// while any scan runs; otherwise `interrupted`.
    pub status: ScanStatus,
    /// Shard indexes (1-based) not recorded yet.
    pub missing_shards: Vec<u32>,
    pub hosts_up: u64,
    pub open_ports: u64,
    pub scope_key: String,
}

pub(crate) fn summarize(subject: Subject, mut scans: Vec<ScanSummary>) -> SubjectSummary {
    scans.sort_by_key(|s| (s.shard.0, s.id));
    let count = scans[0].shard.1;
    let present: BTreeSet<u32> = scans.iter().map(|s| s.shard.0).collect();
    let missing_shards: Vec<u32> = (1..=count).filter(|i| !present.contains(i)).collect();
    let status = if scans.iter().any(|s| s.status == ScanStatus::Running) {
        ScanStatus::Running
    } else if missing_shards.is_empty() && scans.iter().all(|s| s.status == ScanStatus::Complete) {
        ScanStatus::Complete
    } else {
        ScanStatus::Interrupted
    };
    SubjectSummary {
        subject,
        started: scans.iter().map(|s| s.started).min().expect("a subject has a scan"),
        status,
        missing_shards,
        hosts_up: scans.iter().map(|s| s.hosts_up).sum(),
        open_ports: scans.iter().map(|s| s.open_ports).sum(),
        scope_key: scans[0].scope_key.clone(),
        scans,
    }
}
