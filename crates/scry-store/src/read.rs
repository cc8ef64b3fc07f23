//! The read side of the history, written once for both backends.
//!
//! Every query that reads is plain SQL that SQLite and PostgreSQL both
//! accept (`$1` parameters, which SQLite numbers in order of appearance;
//! every integer read as `i64`), run through [`Reader`]; each backend
//! implements [`Reader`] and [`Cells`] over its own client, and everything
//! here (and in [`crate::load`]) turns rows into model types the same way.

use crate::error::{Result, StoreError};
use crate::model::*;
use crate::ports::parse_state;
use crate::runs::Subject;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The time of a stored millisecond count.
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A query parameter, as both backends bind it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param<'a> {
    Int(i64),
    Text(Option<&'a str>),
}

/// The SQL a backend speaks, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One result row.
pub(crate) trait Cells {
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
}

/// A connection that runs read queries.
pub(crate) trait Reader {
    fn dialect(&self) -> Dialect;

    /// Runs `sql` with `params`, calling `row` for each result row.
    fn each(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        doing: &'static str,
        row: &mut dyn FnMut(&dyn Cells) -> Result<()>,
    ) -> Result<()>;
}

/// Every row of `sql`, each made into a `T` by `f`.
pub(crate) fn rows<T>(
    db: &mut dyn Reader,
    sql: &'static str,
    params: &[Param<'_>],
    doing: &'static str,
    mut f: impl FnMut(&dyn Cells) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    db.each(sql, params, doing, &mut |r| {
        out.push(f(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// A stored value that does not fit its Rust type.
pub(crate) fn bad(scan: i64, column: &'static str, value: &str) -> StoreError {
    StoreError::BadValue { scan, column, value: value.into() }
}

/// A stored integer as a narrower type, or [`StoreError::BadValue`].
pub(crate) fn narrow<T: TryFrom<i64>>(scan: i64, column: &'static str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| bad(scan, column, &v.to_string()))
}

/// A stored status word, or a [`StoreError::BadValue`].
pub(crate) fn status_of(scan: i64, word: &str) -> Result<ScanStatus> {
    ScanStatus::parse(word).ok_or_else(|| bad(scan, "scans.status", word))
}

const LIST: &str = "
SELECT s.id, s.run_id, s.shard_index, s.shard_count, s.started_ms, s.ended_ms, s.status, s.targets,
    (SELECT COUNT(*) FROM hosts h WHERE h.scan_id = s.id AND h.status = 'up'),
    (SELECT COUNT(*) FROM ports p WHERE p.scan_id = s.id AND p.state = 'open'),
    s.scope_key
FROM scans s ORDER BY s.started_ms, s.id";

/// Every scan, oldest first.
pub(crate) fn list_scans(db: &mut dyn Reader) -> Result<Vec<ScanSummary>> {
    rows(db, LIST, &[], "listing scans", |r| {
        let id = r.int(0)?;
        Ok(ScanSummary {
            id: ScanId(id),
            run_id: r.opt_text(1)?,
            shard: (narrow(id, "scans.shard_index", r.int(2)?)?, narrow(id, "scans.shard_count", r.int(3)?)?),
            started: from_ms(r.int(4)?),
            ended: r.opt_int(5)?.map(from_ms),
            status: status_of(id, &r.text(6)?)?,
            targets: r.text(7)?.replace('\n', " "),
            hosts_up: r.int(8)? as u64,
            open_ports: r.int(9)? as u64,
            scope_key: r.text(10)?,
        })
    })
}

/// Every shard of run `run_id`, by shard index.
pub(crate) fn run_scans(db: &mut dyn Reader, run_id: &str) -> Result<Vec<ScanId>> {
    let sql = "SELECT id FROM scans WHERE run_id = $1 ORDER BY shard_index, id";
    rows(db, sql, &[Param::Text(Some(run_id))], "finding a run's shards", |r| Ok(ScanId(r.int(0)?)))
}

const PORT_SEEN: &str = "
SELECT scan_id, seen_ms, state FROM ports
WHERE ip = $1 AND proto = $2 AND port = $3 AND (CAST($4 AS TEXT) IS NULL OR state = $4)
ORDER BY seen_ms, scan_id";

/// When `ip`'s `port` was first and last recorded, in any state or in `state`.
pub(crate) fn port_seen(
    db: &mut dyn Reader,
    ip: IpAddr,
    protocol: Protocol,
    port: u16,
    state: Option<PortState>,
) -> Result<Option<PortSeen>> {
    let ip = ip.to_string();
    let params = [
        Param::Text(Some(&ip)),
        Param::Text(Some(protocol.as_str())),
        Param::Int(port.into()),
        Param::Text(state.map(|s| s.as_str())),
    ];
    let found = rows(db, PORT_SEEN, &params, "finding when a port was seen", |r| {
        Ok((r.int(0)?, r.int(1)?, r.text(2)?))
    })?;
    seen_of(&found)
}

/// One sighting of a port: scan, `seen_ms`, state.
type Sighting = (i64, i64, String);

/// First and last of a port's sightings, sorted by time, then scan.
fn seen_of(found: &[Sighting]) -> Result<Option<PortSeen>> {
    let (Some(first), Some(last)) = (found.first(), found.last()) else { return Ok(None) };
    let last_state = parse_state(&last.2).ok_or_else(|| bad(last.0, "ports.state", &last.2))?;
    let scans: BTreeSet<i64> = found.iter().map(|r| r.0).collect();
    Ok(Some(PortSeen {
        first: from_ms(first.1),
        first_scan: ScanId(first.0),
        last: from_ms(last.1),
        last_scan: ScanId(last.0),
        last_state,
        scans: scans.len() as u64,
    }))
}

const PORTS_SEEN: &str = "
SELECT p.ip, p.proto, p.port, q.scan_id, q.seen_ms, q.state
FROM ports p JOIN ports q ON q.ip = p.ip AND q.proto = p.proto AND q.port = p.port
WHERE p.scan_id = $1
ORDER BY p.ip, p.proto, p.port, q.seen_ms, q.scan_id";

/// [`port_seen`] for every port `scan` recorded, in the scan's order, in
/// one query rather than one a port (a round trip each on a server).
pub(crate) fn ports_seen(
    db: &mut dyn Reader,
    scan: &LoadedScan,
) -> Result<Vec<(IpAddr, Protocol, u16, PortSeen)>> {
    let mut by_port: BTreeMap<(String, String, i64), Vec<Sighting>> = BTreeMap::new();
    db.each(PORTS_SEEN, &[Param::Int(scan.record.id.0)], "finding when ports were seen", &mut |r| {
        let key = (r.text(0)?, r.text(1)?, r.int(2)?);
        by_port.entry(key).or_default().push((r.int(3)?, r.int(4)?, r.text(5)?));
        Ok(())
    })?;
    let mut out = Vec::with_capacity(scan.ports.len());
    for p in &scan.ports {
        let key = (p.ip.to_string(), p.protocol.as_str().to_owned(), i64::from(p.port));
        if let Some(seen) = by_port.get(&key).map(|found| seen_of(found)).transpose()?.flatten() {
            out.push((p.ip, p.protocol, p.port, seen));
        }
    }
    Ok(out)
}

/// The subject scan `id` belongs to: its run when it has one.
pub(crate) fn subject_of(db: &mut dyn Reader, id: ScanId) -> Result<Subject> {
    let sql = "SELECT run_id FROM scans WHERE id = $1";
    let run = rows(db, sql, &[Param::Int(id.0)], "finding a scan's run", |r| r.opt_text(0))?;
    match run.into_iter().next() {
        None => Err(StoreError::NoSuchScan(id.0)),
        Some(Some(run)) => Ok(Subject::Run(run)),
        Some(None) => Ok(Subject::Scan(id)),
    }
}

/// Everything scan `id` printed in `format`, in order; `None` when it kept none.
pub(crate) fn load_output(db: &mut dyn Reader, id: ScanId, format: &str) -> Result<Option<String>> {
    let sql = "SELECT text FROM scan_outputs WHERE scan_id = $1 AND format = $2 ORDER BY seq";
    let params = [Param::Int(id.0), Param::Text(Some(format))];
    let chunks = rows(db, sql, &params, "reading a scan's output", |r| r.text(0))?;
    Ok((!chunks.is_empty()).then(|| chunks.concat()))
}

/// Hosts up and open ports over every shard of run `run_id`, each counted
/// once (a host is seen by every shard that probes it).
pub(crate) fn run_counts(db: &mut dyn Reader, run_id: &str) -> Result<(u64, u64)> {
    let sql = "SELECT
        (SELECT COUNT(DISTINCT h.ip) FROM hosts h JOIN scans s ON h.scan_id = s.id
            WHERE s.run_id = $1 AND h.status = 'up'),
        (SELECT COUNT(*) FROM (SELECT DISTINCT p.ip, p.proto, p.port FROM ports p JOIN scans s ON p.scan_id = s.id
            WHERE s.run_id = $1 AND p.state = 'open') AS o)";
    let counts = rows(db, sql, &[Param::Text(Some(run_id))], "counting a run's hosts and ports", |r| {
        Ok((r.int(0)?.max(0) as u64, r.int(1)?.max(0) as u64))
    })?;
    Ok(counts.into_iter().next().unwrap_or_default())
}
