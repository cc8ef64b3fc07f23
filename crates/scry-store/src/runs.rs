//! Scans as the user sees them: a scan on its own, or every shard of one
//! run (`--run-id`) as one scan, complete only once all its shards are.

use crate::error::{Doing, Result, StoreError};
use crate::model::*;
use crate::store::Store;
use rusqlite::OptionalExtension;
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

fn summarize(subject: Subject, mut scans: Vec<ScanSummary>) -> SubjectSummary {
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

impl Store {
    /// Every scan, with the shards of a run together as one, oldest first.
    pub fn list_subjects(&self) -> Result<Vec<SubjectSummary>> {
        let mut runs: Vec<(String, Vec<ScanSummary>)> = Vec::new();
        let mut out = Vec::new();
        for scan in self.list_scans()? {
            match &scan.run_id {
                None => out.push(summarize(Subject::Scan(scan.id), vec![scan])),
                Some(run) => match runs.iter_mut().find(|(r, _)| r == run) {
                    Some((_, scans)) => scans.push(scan),
                    None => runs.push((run.clone(), vec![scan])),
                },
            }
        }
        out.extend(runs.into_iter().map(|(run, scans)| summarize(Subject::Run(run), scans)));
        out.sort_by_key(|s| (s.started, s.scans[0].id));
        Ok(out)
    }

    /// What `scry diff` compares without arguments: the last complete scan
    /// (or run) and the complete one before it of the same scope, older
    /// first; `None` when there are not two.
    pub fn last_two_complete(&self) -> Result<Option<(Subject, Subject)>> {
        let subjects = self.list_subjects()?;
        let mut complete = subjects.iter().rev().filter(|s| s.status == ScanStatus::Complete);
        let Some(last) = complete.next() else { return Ok(None) };
        let before = complete.find(|s| s.scope_key == last.scope_key);
        Ok(before.map(|b| (b.subject.clone(), last.subject.clone())))
    }

    /// The subject a scan id belongs to: its run when it has one.
    pub fn subject_of(&self, id: ScanId) -> Result<Subject> {
        let run: Option<Option<String>> = self
            .conn
            .query_row("SELECT run_id FROM scans WHERE id = ?1", [id.0], |r| r.get(0))
            .optional()
            .doing("finding a scan's run")?;
        match run {
            None => Err(StoreError::NoSuchScan(id.0)),
            Some(Some(run)) => Ok(Subject::Run(run)),
            Some(None) => Ok(Subject::Scan(id)),
        }
    }

    /// Every scan of `subject`, by shard: the sides [`crate::diff::diff`] takes.
    pub fn load_subject(&self, subject: &Subject) -> Result<Vec<LoadedScan>> {
        let ids = match subject {
            Subject::Scan(id) => vec![*id],
            Subject::Run(run) => self.run_scans(run)?,
        };
        if ids.is_empty() {
            let Subject::Run(run) = subject else { unreachable!("a scan subject has its id") };
            return Err(StoreError::NoSuchRun(run.clone()));
        }
        ids.into_iter().map(|id| self.load_scan(id)).collect()
    }
}
