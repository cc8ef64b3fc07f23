//! The backend interface: what any history store does, so the CLI is
//! written once against [`History`], whether the store is SQLite
//! ([`crate::Store`]) or PostgreSQL ([`PgStore`], `--db postgres://...`). Views that need no SQL of their own (runs as one
//! scan, the default diff pair) are provided methods, shared by every
//! backend.

use crate::error::{Result, StoreError};
use crate::import::ImportedScan;
use crate::model::*;
use crate::pg::PgStore;
use crate::runs::{summarize, Subject, SubjectSummary};
use crate::spawned::SpawnedWriter;
use crate::store::Store;
use crate::writer::WriterOptions;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// A history database.
pub trait History: Send {
    /// Records a scan's start. A shard of a run (same run id, shard index
    /// and count) recorded before is replaced, with all it observed.
    fn begin_scan(&mut self, scan: &NewScan) -> Result<ScanId>;

    /// Marks a stored scan running again, for `--resume`: what it recorded
    /// stays, and new observations are added to it.
    fn resume_scan(&mut self, id: ScanId, now: SystemTime) -> Result<()>;

    /// A batched writer for `scan`'s observations.
    fn writer(&self, scan: ScanId, options: WriterOptions) -> Result<Box<dyn ObservationWriter>>;

    /// Records a scan's end (also done by [`ObservationWriter::finish`]).
    fn finish_scan(
        &mut self,
        id: ScanId,
        status: ScanStatus,
        stats: &ScanStats,
        ended: SystemTime,
    ) -> Result<()>;

    /// Marks `running` scans whose writer has not committed for `max_age`
    /// as `interrupted`, ended at their last commit: their process died
    /// (a live writer commits at least every batch interval). Returns them.
    fn mark_stale_interrupted(&mut self, now: SystemTime, max_age: Duration) -> Result<Vec<ScanId>>;

    /// Every scan, oldest first.
    fn list_scans(&self) -> Result<Vec<ScanSummary>>;

    /// Every shard of run `run_id`, by shard index.
    fn run_scans(&self, run_id: &str) -> Result<Vec<ScanId>>;

    /// Hosts up and open ports over every shard of run `run_id`, each once.
    fn run_counts(&self, run_id: &str) -> Result<(u64, u64)>;

    /// A stored scan with everything it observed.
    fn load_scan(&self, id: ScanId) -> Result<LoadedScan>;

    /// When `ip`'s `port` was first and last recorded, over every scan, in
    /// any state (`None`) or in `state` only.
    fn port_seen(
        &self,
        ip: IpAddr,
        protocol: Protocol,
        port: u16,
        state: Option<PortState>,
    ) -> Result<Option<PortSeen>>;

    /// Everything scan `id` printed in `format` ([`OutputChunk::format`]),
    /// in order; `None` when it kept none in that format.
    fn load_output(&self, id: ScanId, format: &str) -> Result<Option<String>>;

    /// The subject a scan id belongs to: its run when it has one.
    fn subject_of(&self, id: ScanId) -> Result<Subject>;

    /// First and last sighting, over every scan, of each port `scan`
    /// recorded, in the scan's order (for `scry show`).
    fn ports_seen(&self, scan: &LoadedScan) -> Result<Vec<(IpAddr, Protocol, u16, PortSeen)>> {
        let mut out = Vec::with_capacity(scan.ports.len());
        for p in &scan.ports {
            if let Some(seen) = self.port_seen(p.ip, p.protocol, p.port, None)? {
                out.push((p.ip, p.protocol, p.port, seen));
            }
        }
        Ok(out)
    }

    /// Every scan, with the shards of a run together as one, oldest first.
    fn list_subjects(&self) -> Result<Vec<SubjectSummary>> {
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
        for (run, scans) in runs {
            let (hosts_up, open_ports) = self.run_counts(&run)?;
            out.push(SubjectSummary { hosts_up, open_ports, ..summarize(Subject::Run(run), scans) });
        }
        out.sort_by_key(|s| (s.started, s.scans[0].id));
        Ok(out)
    }

    /// What `scry diff` compares without arguments: the last complete scan
    /// (or run) and the complete one before it of the same scope, older
    /// first; `None` when there are not two.
    fn last_two_complete(&self) -> Result<Option<(Subject, Subject)>> {
        let subjects = self.list_subjects()?;
        let mut complete = subjects.iter().rev().filter(|s| s.status == ScanStatus::Complete);
        let Some(last) = complete.next() else { return Ok(None) };
        let before = complete.find(|s| s.scope_key == last.scope_key);
        Ok(before.map(|b| (b.subject.clone(), last.subject.clone())))
    }

    /// Records an imported scan ([`crate::import`]) with its observations.
    fn import(&mut self, imported: ImportedScan) -> Result<ScanId> {
        let id = self.begin_scan(&imported.scan)?;
        let mut writer = self.writer(id, WriterOptions::default())?;
        for observation in imported.observations {
            writer.push(observation)?;
        }
        writer.finish(imported.status, &imported.stats, imported.ended.unwrap_or(imported.scan.started))?;
        Ok(id)
    }

    /// Every scan of `subject`, by shard: the sides [`crate::diff::diff`] takes.
    fn load_subject(&self, subject: &Subject) -> Result<Vec<LoadedScan>> {
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

/// A scan's batched writer.
pub trait ObservationWriter: Send {
    /// The scan being written.
    fn scan(&self) -> ScanId;

    /// How often the writer commits while observations are buffered.
    fn batch_interval(&self) -> Duration;

    /// Buffers `observation`; commits when the batch is full or due.
    fn push(&mut self, observation: Observation) -> Result<()>;

    /// Commits every buffered observation and stamps the heartbeat.
    fn flush(&mut self) -> Result<()>;

    /// Commits what is buffered and records the scan's end, in one transaction.
    fn finish(self: Box<Self>, status: ScanStatus, stats: &ScanStats, ended: SystemTime) -> Result<()>;
}

impl dyn ObservationWriter {
    /// Moves the writer to a thread of its own; see [`SpawnedWriter`].
    pub fn spawn(self: Box<Self>) -> SpawnedWriter {
        SpawnedWriter::start(self)
    }
}

/// True when `location` names a PostgreSQL database rather than a file.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens the history at `location`: a `postgres://` or `postgresql://`
/// URL opens PostgreSQL ([`PgStore`]), anything else is a file path
/// (SQLite, [`Store`]).
///
/// # Errors
/// See [`Store::open`] and [`PgStore::open`].
pub fn open(location: &str) -> Result<Box<dyn History>> {
    if is_postgres(location) {
        return Ok(Box::new(PgStore::open(location)?));
    }
    Ok(Box::new(Store::open(location)?))
}
