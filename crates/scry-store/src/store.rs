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
use crate::ports::ranges;
pub(crate) use crate::read::to_ms;
use crate::read::{self, Cells, Dialect, Param, Reader};
use crate::runs::Subject;
use crate::schema;
use crate::writer::{Writer, WriterOptions};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OpenFlags, TransactionBehavior};
use scry_probe::services::Protocol;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a connection waits for another writer's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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
    // Turning on WAL while another process creates the file can fail
    // "busy" at once, without the busy handler: wait here instead.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => break result.map_err(|e| classify(path, "turning on WAL", e))?,
        }
    };
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
        read::list_scans(&mut Sqlite(&self.conn))
    }

    fn run_scans(&self, run_id: &str) -> Result<Vec<ScanId>> {
        read::run_scans(&mut Sqlite(&self.conn), run_id)
    }

    fn run_counts(&self, run_id: &str) -> Result<(u64, u64)> {
        read::run_counts(&mut Sqlite(&self.conn), run_id)
    }

    fn load_scan(&self, id: ScanId) -> Result<LoadedScan> {
        crate::load::load(&mut Sqlite(&self.conn), id)
    }

    fn port_seen(
        &self,
        ip: IpAddr,
        protocol: Protocol,
        port: u16,
        state: Option<scry_probe::state::PortState>,
    ) -> Result<Option<PortSeen>> {
        read::port_seen(&mut Sqlite(&self.conn), ip, protocol, port, state)
    }

    fn ports_seen(&self, scan: &LoadedScan) -> Result<Vec<(IpAddr, Protocol, u16, PortSeen)>> {
        read::ports_seen(&mut Sqlite(&self.conn), scan)
    }

    fn load_output(&self, id: ScanId, format: &str) -> Result<Option<String>> {
        read::load_output(&mut Sqlite(&self.conn), id, format)
    }

    fn subject_of(&self, id: ScanId) -> Result<Subject> {
        read::subject_of(&mut Sqlite(&self.conn), id)
    }
}

/// The shared read queries ([`crate::read`]) on an SQLite connection.
struct Sqlite<'c>(&'c Connection);

impl Cells for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i).doing("reading a stored value")
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i).doing("reading a stored value")
    }
    fn text(&self, i: usize) -> Result<String> {
        self.get(i).doing("reading a stored value")
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i).doing("reading a stored value")
    }
}

impl Reader for Sqlite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn each(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        doing: &'static str,
        row: &mut dyn FnMut(&dyn Cells) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.0.prepare_cached(sql).doing(doing)?;
        let values = params.iter().map(|p| match *p {
            Param::Int(v) => Value::Integer(v),
            Param::Text(Some(t)) => Value::Text(t.to_owned()),
            Param::Text(None) => Value::Null,
        });
        let mut rows = stmt.query(params_from_iter(values)).doing(doing)?;
        while let Some(r) = rows.next().doing(doing)? {
            row(r)?;
        }
        Ok(())
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
