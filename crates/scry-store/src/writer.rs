//! Batched writing of a scan's observations.
//!
//! [`Writer`] buffers observations and commits them in one transaction every
//! [`WriterOptions::batch_rows`] rows or [`WriterOptions::batch_interval`],
//! whichever comes first; each commit also stamps the scan's heartbeat, so
//! a scan whose process died can be told from one still running
//! ([`crate::History::mark_stale_interrupted`]). A commit is all or nothing:
//! a scan killed at any moment leaves the rows of its last commit and a
//! consistent database. `spawn` ([`crate::SpawnedWriter`]) moves a writer to
//! its own thread so the scan's hot path only pushes onto a channel.

use crate::error::{Doing, Result, StoreError};
use crate::history::ObservationWriter;
use crate::model::*;
use crate::store::{classify, finish_in, to_ms};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// When a [`Writer`] commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Commit once this many observations are buffered.
    pub batch_rows: usize,
    /// Commit at least this often while observations are buffered (and,
    /// on a spawned writer, stamp the heartbeat this often when idle).
    pub batch_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { batch_rows: 10_000, batch_interval: Duration::from_millis(500) }
    }
}

/// The observations a writer holds until its next commit, and when that is due.
pub(crate) struct Batch {
    pub(crate) rows: Vec<Observation>,
    pub(crate) options: WriterOptions,
    last_commit: Instant,
}

impl Batch {
    pub(crate) fn new(options: WriterOptions) -> Batch {
        let rows = Vec::with_capacity(options.batch_rows.min(1 << 16));
        Batch { rows, options, last_commit: Instant::now() }
    }

    /// Buffers `observation`; true when the batch is full or due.
    pub(crate) fn push(&mut self, observation: Observation) -> bool {
        self.rows.push(observation);
        self.rows.len() >= self.options.batch_rows
            || self.last_commit.elapsed() >= self.options.batch_interval
    }

    /// Empties the batch after a commit.
    pub(crate) fn committed(&mut self) {
        self.rows.clear();
        self.last_commit = Instant::now();
    }
}

/// A scan's batched writer into SQLite, on its own connection.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
    scan: ScanId,
    batch: Batch,
}

const PORT_UPSERT: &str = "
INSERT INTO ports (scan_id, ip, proto, port, state, reason, ttl, service, product, version, extrainfo, banner,
                   cpe, seen_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (scan_id, ip, proto, port) DO UPDATE SET
    state = excluded.state, reason = excluded.reason, ttl = excluded.ttl,
    service = COALESCE(excluded.service, service), product = COALESCE(excluded.product, product),
    version = COALESCE(excluded.version, version), extrainfo = COALESCE(excluded.extrainfo, extrainfo),
    banner = COALESCE(excluded.banner, banner), cpe = COALESCE(excluded.cpe, cpe),
    seen_ms = excluded.seen_ms";

const HOST_UPSERT: &str = "
INSERT INTO hosts (scan_id, ip, status, reason, ttl, mac, hostname, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (scan_id, ip) DO UPDATE SET
    status = excluded.status, reason = excluded.reason, ttl = excluded.ttl,
    mac = COALESCE(excluded.mac, mac), hostname = COALESCE(excluded.hostname, hostname),
    seen_ms = excluded.seen_ms";

const REST_UPSERT: &str = "
INSERT INTO port_rest (scan_id, ip, proto, state, reason, count, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (scan_id, ip, proto) DO UPDATE SET
    state = excluded.state, reason = excluded.reason, count = excluded.count, seen_ms = excluded.seen_ms";

/// Appends a chunk after the scan's last one of the same format.
const OUTPUT_APPEND: &str = "
INSERT INTO scan_outputs (scan_id, format, seq, text)
VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM scan_outputs WHERE scan_id = ?1 AND format = ?2), ?3)";

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        path: PathBuf,
        scan: ScanId,
        options: WriterOptions,
    ) -> Result<Writer> {
        let exists: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM scans WHERE id = ?1)", [scan.0], |r| r.get(0))
            .doing("finding the scan to write")?;
        if !exists {
            return Err(StoreError::NoSuchScan(scan.0));
        }
        Ok(Writer { conn, path, scan, batch: Batch::new(options) })
    }
}

impl ObservationWriter for Writer {
    /// The scan being written.
    fn scan(&self) -> ScanId {
        self.scan
    }

    /// Buffers `observation`; commits when the batch is full or due.
    fn push(&mut self, observation: Observation) -> Result<()> {
        if self.batch.push(observation) {
            self.flush()?;
        }
        Ok(())
    }

    /// Commits every buffered observation and stamps the heartbeat.
    fn flush(&mut self) -> Result<()> {
        let tx = begin(&mut self.conn, &self.path)?;
        write_batch(&tx, self.scan, &self.batch.rows)?;
        tx.commit().map_err(|e| classify(&self.path, "committing observations", e))?;
        self.batch.committed();
        Ok(())
    }

    fn batch_interval(&self) -> Duration {
        self.batch.options.batch_interval
    }

    /// Commits what is buffered and records the scan's end, in one transaction.
    fn finish(mut self: Box<Self>, status: ScanStatus, stats: &ScanStats, ended: SystemTime) -> Result<()> {
        let tx = begin(&mut self.conn, &self.path)?;
        write_batch(&tx, self.scan, &self.batch.rows)?;
        finish_in(&tx, self.scan, status, stats, ended)?;
        tx.commit().map_err(|e| classify(&self.path, "finishing a scan", e))?;
        self.batch.committed();
        Ok(())
    }
}

/// A write transaction, taking the lock at once (a read lock upgraded
/// later could fail with "busy" without waiting).
fn begin<'c>(conn: &'c mut Connection, path: &std::path::Path) -> Result<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| classify(path, "beginning a write", e))
}

impl Drop for Writer {
    /// Commits what is buffered, leaving the scan `running`: a writer
    /// dropped without [`Writer::finish`] is a scan cut short.
    fn drop(&mut self) {
        if !self.batch.rows.is_empty() {
            let _ = self.flush();
        }
    }
}

/// Writes `batch` inside `tx` and stamps the scan's heartbeat.
fn write_batch(tx: &Transaction<'_>, scan: ScanId, batch: &[Observation]) -> Result<()> {
    let doing = "writing observations";
    let now = to_ms(SystemTime::now());
    tx.execute("UPDATE scans SET heartbeat_ms = ?2 WHERE id = ?1", params![scan.0, now]).doing(doing)?;
    if batch.is_empty() {
        return Ok(());
    }
    let mut port = tx.prepare_cached(PORT_UPSERT).doing(doing)?;
    let mut host = tx.prepare_cached(HOST_UPSERT).doing(doing)?;
    for observation in batch {
        match observation {
            Observation::Port(p) => {
                let s = &p.service;
                let cpe = (!s.cpe.is_empty()).then(|| s.cpe.join("\n"));
                port.execute(params![
                    scan.0,
                    p.ip.to_string(),
                    p.protocol.as_str(),
                    p.port,
                    p.state.as_str(),
                    p.reason,
                    p.ttl,
                    s.name,
                    s.product,
                    s.version,
                    s.extrainfo,
                    s.banner,
                    cpe,
                    to_ms(p.seen)
                ])
                .doing(doing)?;
            }
            Observation::Host(h) => {
                host.execute(params![
                    scan.0,
                    h.ip.to_string(),
                    h.status.as_str(),
                    h.reason,
                    h.ttl,
                    h.mac,
                    h.hostname,
                    to_ms(h.seen)
                ])
                .doing(doing)?;
            }
            Observation::Os(o) => write_os(tx, scan, o)?,
            Observation::Rest(r) => {
                // Prepared here: a batch without it works on a database before version 4.
                let mut rest = tx.prepare_cached(REST_UPSERT).doing(doing)?;
                rest.execute(params![
                    scan.0,
                    r.ip.to_string(),
                    r.protocol.as_str(),
                    r.state.as_str(),
                    r.reason,
                    r.count as i64,
                    to_ms(r.seen)
                ])
                .doing(doing)?;
            }
            Observation::Output(chunk) => {
                // Prepared here, not with the others: a batch without output
                // works on a database from before outputs were kept.
                let mut output = tx.prepare_cached(OUTPUT_APPEND).doing(doing)?;
                output.execute(params![scan.0, chunk.format, chunk.text]).doing(doing)?;
            }
        }
    }
    Ok(())
}

fn write_os(tx: &Transaction<'_>, scan: ScanId, o: &OsObservation) -> Result<()> {
    let doing = "writing an OS result";
    let ip = o.ip.to_string();
    tx.prepare_cached(
        "INSERT INTO os (scan_id, ip, fingerprint, distance, details, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (scan_id, ip) DO UPDATE SET
             fingerprint = excluded.fingerprint, distance = excluded.distance, details = excluded.details,
             seen_ms = excluded.seen_ms",
    )
    .doing(doing)?
    .execute(params![scan.0, ip, o.fingerprint, o.distance, o.details, to_ms(o.seen)])
    .doing(doing)?;
    tx.prepare_cached("DELETE FROM os_matches WHERE scan_id = ?1 AND ip = ?2")
        .doing(doing)?
        .execute(params![scan.0, ip])
        .doing(doing)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO os_matches (scan_id, ip, rank, name, accuracy) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .doing(doing)?;
    for (rank, m) in o.matches.iter().enumerate() {
        stmt.execute(params![scan.0, ip, rank as i64, m.name, m.accuracy]).doing(doing)?;
    }
    Ok(())
}
