//! [`Store`]: one open history database (SQLite, WAL mode).
//!
//! Opening promises: a file that is not an SQLite database, or that SQLite
//! finds corrupt, is reported and left byte for byte as it was; a read-only
//! file is reported as such before anything is written; a database from a
//! newer scry is refused before anything is written; an older one is
//! upgraded one version per transaction. Every connection uses WAL and a
//! busy timeout, so two scans can write at once (each waits its turn for
//! the write lock, up to [`BUSY_TIMEOUT`]).

use crate::error::{Doing, Result, StoreError};
use crate::history::{History, ObservationWriter};
use crate::model::*;
use crate::ports::{parse_state, ranges};
use crate::runs::Subject;
use crate::schema;
use crate::writer::{Writer, WriterOptions};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a connection waits for another writer's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The time of a stored millisecond count.
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// Turns SQLite's "not a database", "corrupt" and "read-only" codes into
/// their own errors, naming the file.
pub(crate) fn classify(path: &Path, doing: &'static str, e: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, detail: e.to_string() },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        _ => StoreError::Sqlite { doing, source: e },
    }
}

/// Makes a new database at `path` appear whole: built beside it under a
/// name of this process's own, then linked to `path` unless another
/// process got there first. Scans started together on a new history
/// would otherwise race to turn one half-made file into WAL mode and
/// migrate it, and SQLite can report such a file corrupt to the loser.
fn create_whole(path: &Path, version: i64) -> Result<()> {
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(format!(".new-{}", std::process::id()));
    let fresh = PathBuf::from(fresh);
    let built = (|| {
        let mut conn = connect(&fresh)?;
        schema::migrate_to(&mut conn, &fresh, version, to_ms(SystemTime::now()))?;
        // Closing the only connection checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, e)| classify(&fresh, "closing a new database", e))
    })();
    // Errors name the file the user asked for, not the one built beside it.
    let built = built.map_err(|mut e| {
        if let StoreError::Open { path: p, .. }
        | StoreError::ReadOnly { path: p }
        | StoreError::NotADatabase { path: p }
        | StoreError::Corrupt { path: p, .. }
        | StoreError::NewerSchema { path: p, .. }
        | StoreError::Migration { path: p, .. } = &mut e
        {
            p.clone_from(&path.to_owned());
        }
        e
    });
    let linked = built.and_then(|()| match std::fs::hard_link(&fresh, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        }),
    });
    for leftover in ["", "-wal", "-shm"] {
        let mut name = fresh.as_os_str().to_owned();
        name.push(leftover);
        let _ = std::fs::remove_file(name);
    }
    linked
}

/// Opens a connection with the store's settings, without migrating.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    // The file is never opened here but through SQLite: closing any other
    // descriptor of it would drop every POSIX lock this process holds on
    // it, the locks of its other connections too, and another process
    // could then checkpoint the WAL under them (a corrupt database). SQLite
    // itself reports a file that is not a database when it first reads it,
    // without writing to it.
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    // SQLite opens a file it may not write read-only, silently.
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(StoreError::ReadOnly { path: path.to_owned() });
    }
    conn.busy_timeout(BUSY_TIMEOUT).doing("setting the busy timeout")?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| classify(path, "turning on WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::ReadOnly { path: path.to_owned() });
    }
    // WAL with NORMAL sync: a crash never corrupts, at worst loses the last commits.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(|e| classify(path, "setting pragmas", e))?;
    Ok(conn)
}

/// The history database.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if missing, with its directory) and upgrades the
    /// database at `path`.
    ///
    /// # Errors
    /// [`StoreError::NotADatabase`], [`StoreError::Corrupt`],
    /// [`StoreError::ReadOnly`], [`StoreError::NewerSchema`],
    /// [`StoreError::Open`], [`StoreError::Migration`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_at_version(path.as_ref(), schema::LATEST)
    }

    /// Opens and migrates up to `version` only (for upgrade tests).
    pub(crate) fn open_at_version(path: &Path, version: i64) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: path.to_owned(),
                    source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
                })?;
            }
        }
        if !path.exists() {
            create_whole(path, version)?;
        }
        let mut conn = connect(path)?;
        schema::migrate_to(&mut conn, path, version, to_ms(SystemTime::now())).map_err(|e| match e {
            StoreError::Sqlite { doing, source } => classify(path, doing, source),
            StoreError::Migration { source, .. }
                if source.sqlite_error_code().is_some_and(|c| {
                    matches!(c, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt | ErrorCode::ReadOnly)
                }) =>
            {
                classify(path, "migrating", source)
            }
            other => other,
        })?;
        Ok(Store { conn, path: path.to_owned() })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        schema::current_version(&self.conn).doing("reading the schema version")
    }
}

impl History for Store {
    fn begin_scan(&mut self, scan: &NewScan) -> Result<ScanId> {
        let s = &scan.scope;
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).doing("beginning a scan")?;
        if let Some(run) = &s.run_id {
            tx.execute(
                "DELETE FROM scans WHERE run_id = ?1 AND shard_index = ?2 AND shard_count = ?3",
                params![run, s.shard.0, s.shard.1],
            )
            .doing("replacing an earlier run of this shard")?;
        }
        let started = to_ms(scan.started);
        tx.execute(
            "INSERT INTO scans (run_id, shard_index, shard_count, seed, scope_key, targets, excludes, scan_types,
                                args, version, started_ms, heartbeat_ms, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, 'running')",
            params![
                s.run_id,
                s.shard.0,
                s.shard.1,
                s.seed.map(|v| v as i64),
                s.key(),
                s.targets.join("\n"),
                s.excludes.join("\n"),
                s.scan_types.join("\n"),
                scan.args,
                scan.version,
                started
            ],
        )
        .doing("recording a scan")?;
        let id = tx.last_insert_rowid();
        {
            let mut range = tx
                .prepare("INSERT INTO scan_ranges (scan_id, first, last) VALUES (?1, ?2, ?3)")
                .doing("recording target ranges")?;
            for (first, last) in &s.ranges {
                range
                    .execute(params![id, first.to_string(), last.to_string()])
                    .doing("recording target ranges")?;
            }
            let mut ports = tx
                .prepare("INSERT INTO scan_ports (scan_id, proto, ports) VALUES (?1, ?2, ?3)")
                .doing("recording scanned ports")?;
            for (proto, list) in &s.ports {
                ports.execute(params![id, proto.as_str(), ranges(list)]).doing("recording scanned ports")?;
            }
        }
        tx.commit().doing("recording a scan")?;
        Ok(ScanId(id))
    }

    fn resume_scan(&mut self, id: ScanId, now: SystemTime) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE scans SET status = 'running', ended_ms = NULL, heartbeat_ms = ?2 WHERE id = ?1",
                params![id.0, to_ms(now)],
            )
            .doing("resuming a scan")?;
        if n == 0 {
            return Err(StoreError::NoSuchScan(id.0));
        }
        Ok(())
    }

    fn writer(&self, scan: ScanId, options: WriterOptions) -> Result<Box<dyn ObservationWriter>> {
        Ok(Box::new(Writer::new(connect(&self.path)?, self.path.clone(), scan, options)?))
    }

    fn finish_scan(
        &mut self,
        id: ScanId,
        status: ScanStatus,
        stats: &ScanStats,
        ended: SystemTime,
    ) -> Result<()> {
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).doing("finishing a scan")?;
        finish_in(&tx, id, status, stats, ended)?;
        tx.commit().doing("finishing a scan")
    }

    fn mark_stale_interrupted(&mut self, now: SystemTime, max_age: Duration) -> Result<Vec<ScanId>> {
        let limit = to_ms(now) - max_age.as_millis() as i64;
        let mut stmt = self
            .conn
            .prepare(
                "UPDATE scans SET status = 'interrupted', ended_ms = heartbeat_ms
                 WHERE status = 'running' AND heartbeat_ms < ?1 RETURNING id",
            )
            .doing("marking dead scans interrupted")?;
        let ids = stmt.query_map([limit], |r| r.get(0)).doing("marking dead scans interrupted")?;
        let mut ids: Vec<ScanId> = ids
            .map(|r| r.map(ScanId))
            .collect::<rusqlite::Result<_>>()
            .doing("marking dead scans interrupted")?;
        ids.sort();
        Ok(ids)
    }

    fn list_scans(&self) -> Result<Vec<ScanSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.run_id, s.shard_index, s.shard_count, s.started_ms, s.ended_ms, s.status, s.targets,
                    (SELECT COUNT(*) FROM hosts h WHERE h.scan_id = s.id AND h.status = 'up'),
                    (SELECT COUNT(*) FROM ports p WHERE p.scan_id = s.id AND p.state = 'open'),
                    s.scope_key
                 FROM scans s ORDER BY s.started_ms, s.id",
            )
            .doing("listing scans")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    (r.get::<_, u32>(2)?, r.get::<_, u32>(3)?),
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    (r.get::<_, u64>(8)?, r.get::<_, u64>(9)?),
                    r.get::<_, String>(10)?,
                ))
            })
            .doing("listing scans")?;
        let mut out = Vec::new();
        for row in rows {
            let (id, run_id, shard, started, ended, status, targets, (hosts_up, open_ports), scope_key) =
                row.doing("listing scans")?;
            out.push(ScanSummary {
                id: ScanId(id),
                run_id,
                shard,
                started: from_ms(started),
                ended: ended.map(from_ms),
                status: status_of(id, &status)?,
                targets: targets.replace('\n', " "),
                hosts_up,
                open_ports,
                scope_key,
            });
        }
        Ok(out)
    }

    fn run_scans(&self, run_id: &str) -> Result<Vec<ScanId>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM scans WHERE run_id = ?1 ORDER BY shard_index, id")
            .doing("finding a run's shards")?;
        let ids = stmt.query_map([run_id], |r| r.get(0)).doing("finding a run's shards")?;
        ids.map(|r| r.map(ScanId)).collect::<rusqlite::Result<_>>().doing("finding a run's shards")
    }

    fn load_scan(&self, id: ScanId) -> Result<LoadedScan> {
        crate::load::load(&self.conn, id)
    }

    fn port_seen(
        &self,
        ip: IpAddr,
        protocol: scry_probe::services::Protocol,
        port: u16,
        state: Option<scry_probe::state::PortState>,
    ) -> Result<Option<PortSeen>> {
        let doing = "finding when a port was seen";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT scan_id, seen_ms, state FROM ports
                 WHERE ip = ?1 AND proto = ?2 AND port = ?3 AND (?4 IS NULL OR state = ?4)
                 ORDER BY seen_ms, scan_id",
            )
            .doing(doing)?;
        let rows = stmt
            .query_map(params![ip.to_string(), protocol.as_str(), port, state.map(|s| s.as_str())], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })
            .doing(doing)?;
        let rows: Vec<_> = rows.collect::<rusqlite::Result<_>>().doing(doing)?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(None) };
        let last_state = parse_state(&last.2).ok_or_else(|| StoreError::BadValue {
            scan: last.0,
            column: "ports.state",
            value: last.2.clone(),
        })?;
        let scans: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.0).collect();
        Ok(Some(PortSeen {
            first: from_ms(first.1),
            first_scan: ScanId(first.0),
            last: from_ms(last.1),
            last_scan: ScanId(last.0),
            last_state,
            scans: scans.len() as u64,
        }))
    }

    fn load_output(&self, id: ScanId, format: &str) -> Result<Option<String>> {
        let doing = "reading a scan's output";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT text FROM scan_outputs WHERE scan_id = ?1 AND format = ?2 ORDER BY seq")
            .doing(doing)?;
        let chunks: Vec<String> = stmt
            .query_map(params![id.0, format], |r| r.get(0))
            .doing(doing)?
            .collect::<rusqlite::Result<_>>()
            .doing(doing)?;
        Ok((!chunks.is_empty()).then(|| chunks.concat()))
    }

    fn subject_of(&self, id: ScanId) -> Result<Subject> {
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
}

/// Writes a scan's end inside `tx`.
pub(crate) fn finish_in(
    tx: &rusqlite::Transaction<'_>,
    id: ScanId,
    status: ScanStatus,
    stats: &ScanStats,
    ended: SystemTime,
) -> Result<()> {
    let doing = "finishing a scan";
    let n = tx
        .execute(
            "UPDATE scans SET status = ?2, ended_ms = ?3, heartbeat_ms = ?3, hosts_scanned = ?4, hosts_up = ?5
             WHERE id = ?1",
            params![id.0, status.as_str(), to_ms(ended), stats.hosts_scanned as i64, stats.hosts_up as i64],
        )
        .doing(doing)?;
    if n == 0 {
        return Err(StoreError::NoSuchScan(id.0));
    }
    tx.execute("DELETE FROM scan_counters WHERE scan_id = ?1", [id.0]).doing(doing)?;
    let mut stmt = tx
        .prepare_cached("INSERT INTO scan_counters (scan_id, name, value) VALUES (?1, ?2, ?3)")
        .doing(doing)?;
    for (name, value) in &stats.counters {
        stmt.execute(params![id.0, name, *value as i64]).doing(doing)?;
    }
    Ok(())
}

/// A stored status word, or a [`StoreError::BadValue`].
pub(crate) fn status_of(scan: i64, word: &str) -> Result<ScanStatus> {
    ScanStatus::parse(word).ok_or_else(|| StoreError::BadValue {
        scan,
        column: "scans.status",
        value: word.into(),
    })
}
