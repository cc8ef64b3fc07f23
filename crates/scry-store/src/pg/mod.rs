//! [`PgStore`]: the history on a PostgreSQL server (`--db postgres://...`),
//! the shared store for scans that run on several machines.
//!
//! The same schema, versions and rules as SQLite (`src/pg/schema.rs`); the reads
//! are the shared queries of `src/read.rs`. What differs:
//!
//! - Every connection is its own session: the store has one, and each
//!   [`PgWriter`] opens another, so a scan writes beside any number of
//!   other scans, on this machine or others.
//! - A heartbeat is the server's clock (`now()`), never the scanner's, so
//!   [`History::mark_stale_interrupted`] compares times of one clock
//!   however far the scanners' clocks drift.
//! - Beginning a shard of a run takes an advisory lock on the run id, so
//!   two processes that rerun one shard at once replace each other's row
//!   in turn instead of failing on the unique index.
//! - PostgreSQL text cannot hold NUL: a NUL in stored text (a banner) is
//!   written as U+FFFD.
//!
//! Errors name the database as `postgres://user@host:port/db`, never with
//! its password.

mod schema;
mod writer;

pub use writer::PgWriter;

use crate::error::{Result, StoreError};
use crate::history::{History, ObservationWriter};
use crate::model::*;
use crate::ports::ranges;
use crate::read::{self, to_ms, Cells, Dialect, Param, Reader};
use crate::runs::Subject;
use crate::writer::WriterOptions;
use postgres::config::SslMode;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};
use scry_probe::services::Protocol;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// How long connecting may take when the URL does not say
/// (`connect_timeout`): an unreachable server is reported, not waited for.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where libpq (and so `psql`) looks for a local server when no host is
/// given, on Debian.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// The advisory lock class for beginning a shard of a run (`scry`); the
/// second key is the run id's hash.
const RUN_LOCK_CLASS: i32 = 0x7363_7279;

/// The server's clock in Unix milliseconds, as SQL.
pub(crate) fn server_ms() -> &'static str {
    "(EXTRACT(EPOCH FROM now()) * 1000)::BIGINT"
}

/// Maps a client error to [`StoreError::Postgres`] naming the database.
pub(crate) fn target_error<'t>(
    target: &'t str,
    doing: &'static str,
) -> impl Fn(postgres::Error) -> StoreError + 't {
    move |source| StoreError::Postgres { target: target.to_owned(), doing, source }
}

/// Text as PostgreSQL can store it: NUL becomes U+FFFD.
pub(crate) fn pg_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The database as `postgres://user@host:port/db`, without the password
/// (a socket directory is percent-encoded, as in the URL).
fn describe(config: &Config) -> String {
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                postgres::config::Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(dir) => dir.to_string_lossy().replace('/', "%2F"),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    let db = config.get_dbname().or(config.get_user()).unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// A location with any password in it (`user:PASSWORD@`, `password=`)
/// replaced by `***`.
fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.into() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut out = match rest[..authority_end].rfind('@') {
        Some(at) if rest[..at].contains(':') => {
            let user = &rest[..rest[..at].find(':').expect("checked")];
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        _ => location.to_owned(),
    };
    if let Some(start) = out.find("password=").map(|i| i + "password=".len()) {
        let end = out[start..].find('&').map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "***");
    }
    out
}

/// Parses a `postgres://` location and fills in what it leaves out: the
/// local socket directory, `PGPASSWORD`, a connect timeout.
fn config_of(location: &str) -> Result<Config> {
    let mut config: Config =
        location.parse().map_err(|source| StoreError::PgLocation { location: redact(location), source })?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(StoreError::Unsupported(format!(
            "PostgreSQL history {}: sslmode=require, but this scry connects without TLS \
             (use a socket, a private network or a tunnel, and sslmode=disable or prefer)",
            describe(&config)
        )));
    }
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        config.host_path(DEFAULT_SOCKET_DIR);
    }
    if config.get_password().is_none() {
        if let Ok(password) = std::env::var("PGPASSWORD") {
            config.password(password);
        }
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("scry");
    }
    Ok(config)
}

/// Opens a session.
fn connect(config: &Config, target: &str) -> Result<Client> {
    config.connect(NoTls).map_err(|source| StoreError::PgConnect { target: target.to_owned(), source })
}

/// The history on a PostgreSQL server.
pub struct PgStore {
    client: Mutex<Client>,
    /// The read queries, prepared once per session: a round trip each
    /// saved, which counts over a network (`ports_seen` runs one per port).
    statements: Mutex<HashMap<&'static str, Statement>>,
    config: Config,
    target: String,
}

impl PgStore {
    /// Connects to the database at `location` (`postgres://user@host/db`
    /// or `postgresql://...`, any parameter tokio-postgres takes) and
    /// creates or upgrades its tables.
    ///
    /// # Errors
    /// [`StoreError::PgLocation`], [`StoreError::PgConnect`],
    /// [`StoreError::NewerSchema`], [`StoreError::PgMigration`].
    pub fn open(location: &str) -> Result<PgStore> {
        PgStore::open_at_version(location, crate::schema::LATEST)
    }

    /// Opens and migrates up to `version` only (for upgrade tests).
    #[doc(hidden)]
    pub fn open_at_version(location: &str, version: i64) -> Result<PgStore> {
        let config = config_of(location)?;
        let target = describe(&config);
        let mut client = connect(&config, &target)?;
        schema::migrate_to(&mut client, &target, version)?;
        Ok(PgStore { client: Mutex::new(client), statements: Mutex::default(), config, target })
    }

    /// The database, as errors name it: `postgres://user@host:port/db`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        schema::current_version(&mut *self.client()).map_err(self.error("reading the schema version"))
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        // A panic while holding the lock leaves no half-done state in the
        // client: a transaction not committed is rolled back on drop.
        self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn error(&self, doing: &'static str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        target_error(&self.target, doing)
    }

    fn read<T>(&self, f: impl FnOnce(&mut dyn Reader) -> Result<T>) -> Result<T> {
        let mut client = self.client();
        let mut statements = self.statements.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut Pg { client: &mut client, statements: &mut statements, target: &self.target })
    }
}

impl History for PgStore {
    fn begin_scan(&mut self, scan: &NewScan) -> Result<ScanId> {
        let target = self.target.clone();
        let e = |doing| target_error(&target, doing);
        let s = &scan.scope;
        let mut client = self.client();
        let mut tx = client.transaction().map_err(e("beginning a scan"))?;
        if let Some(run) = &s.run_id {
            let replace = "replacing an earlier run of this shard";
            tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&RUN_LOCK_CLASS, run])
                .map_err(e(replace))?;
            tx.execute(
                "DELETE FROM scans WHERE run_id = $1 AND shard_index = $2 AND shard_count = $3",
                &[run, &i64::from(s.shard.0), &i64::from(s.shard.1)],
            )
            .map_err(e(replace))?;
        }
        let insert = format!(
            "INSERT INTO scans (run_id, shard_index, shard_count, seed, scope_key, targets, excludes, scan_types,
                                args, version, started_ms, heartbeat_ms, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {}, 'running') RETURNING id",
            server_ms()
        );
        let text = |lines: &[String]| pg_text(&lines.join("\n")).into_owned();
        let params: [&(dyn ToSql + Sync); 11] = [
            &s.run_id.as_deref().map(pg_text),
            &i64::from(s.shard.0),
            &i64::from(s.shard.1),
            // The u64 seed's bit pattern, as SQLite stores it.
            &s.seed.map(|v| v as i64),
            &pg_text(&s.key()).into_owned(),
            &text(&s.targets),
            &text(&s.excludes),
            &text(&s.scan_types),
            &pg_text(&scan.args),
            &pg_text(&scan.version),
            &to_ms(scan.started),
        ];
        let id: i64 = tx.query_one(&insert, &params).map_err(e("recording a scan"))?.get(0);
        let (firsts, lasts): (Vec<String>, Vec<String>) =
            s.ranges.iter().map(|(first, last)| (first.to_string(), last.to_string())).unzip();
        tx.execute(
            "INSERT INTO scan_ranges (scan_id, first, last)
             SELECT $1::BIGINT, f, l FROM UNNEST($2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS r (f, l, n) ORDER BY n",
            &[&id, &firsts, &lasts],
        )
        .map_err(e("recording target ranges"))?;
        for (proto, list) in &s.ports {
            tx.execute(
                "INSERT INTO scan_ports (scan_id, proto, ports) VALUES ($1, $2, $3)",
                &[&id, &proto.as_str(), &ranges(list)],
            )
            .map_err(e("recording scanned ports"))?;
        }
        tx.commit().map_err(e("recording a scan"))?;
        Ok(ScanId(id))
    }

    fn resume_scan(&mut self, id: ScanId, _now: SystemTime) -> Result<()> {
        let sql = format!(
            "UPDATE scans SET status = 'running', ended_ms = NULL, heartbeat_ms = {} WHERE id = $1",
            server_ms()
        );
        let n = self.client().execute(&sql, &[&id.0]).map_err(self.error("resuming a scan"))?;
        if n == 0 {
            return Err(StoreError::NoSuchScan(id.0));
        }
        Ok(())
    }

    fn writer(&self, scan: ScanId, options: WriterOptions) -> Result<Box<dyn ObservationWriter>> {
        let client = connect(&self.config, &self.target)?;
        Ok(Box::new(PgWriter::new(client, self.target.clone(), scan, options)?))
    }

    fn finish_scan(
        &mut self,
        id: ScanId,
        status: ScanStatus,
        stats: &ScanStats,
        ended: SystemTime,
    ) -> Result<()> {
        let mut client = self.client();
        let mut tx = client.transaction().map_err(target_error(&self.target, "finishing a scan"))?;
        finish_in(&mut tx, &self.target, id, status, stats, ended)?;
        tx.commit().map_err(target_error(&self.target, "finishing a scan"))
    }

    /// Compares heartbeats with the server's clock. `now` is taken as an
    /// offset from this machine's present (none for `SystemTime::now()`)
    /// and added to the server's `now()`, so a caller can still ask "as of
    /// an hour from now".
    fn mark_stale_interrupted(&mut self, now: SystemTime, max_age: Duration) -> Result<Vec<ScanId>> {
        let shift = to_ms(now) - to_ms(SystemTime::now());
        let sql = format!(
            "UPDATE scans SET status = 'interrupted', ended_ms = heartbeat_ms
             WHERE status = 'running' AND heartbeat_ms < {} + $1 - $2 RETURNING id",
            server_ms()
        );
        let age = max_age.as_millis() as i64;
        let rows = self
            .client()
            .query(&sql, &[&shift, &age])
            .map_err(self.error("marking dead scans interrupted"))?;
        let mut ids: Vec<ScanId> = rows.iter().map(|r| ScanId(r.get(0))).collect();
        ids.sort();
        Ok(ids)
    }

    fn list_scans(&self) -> Result<Vec<ScanSummary>> {
        self.read(read::list_scans)
    }

    fn run_scans(&self, run_id: &str) -> Result<Vec<ScanId>> {
        self.read(|db| read::run_scans(db, run_id))
    }

    fn run_counts(&self, run_id: &str) -> Result<(u64, u64)> {
        self.read(|db| read::run_counts(db, run_id))
    }

    fn load_scan(&self, id: ScanId) -> Result<LoadedScan> {
        self.read(|db| crate::load::load(db, id))
    }

    fn port_seen(
        &self,
        ip: IpAddr,
        protocol: Protocol,
        port: u16,
        state: Option<scry_probe::state::PortState>,
    ) -> Result<Option<PortSeen>> {
        self.read(|db| read::port_seen(db, ip, protocol, port, state))
    }

    fn ports_seen(&self, scan: &LoadedScan) -> Result<Vec<(IpAddr, Protocol, u16, PortSeen)>> {
        self.read(|db| read::ports_seen(db, scan))
    }

    fn load_output(&self, id: ScanId, format: &str) -> Result<Option<String>> {
        self.read(|db| read::load_output(db, id, format))
    }

    fn subject_of(&self, id: ScanId) -> Result<Subject> {
        self.read(|db| read::subject_of(db, id))
    }
}

/// Writes a scan's end inside `tx`.
pub(crate) fn finish_in(
    tx: &mut impl GenericClient,
    target: &str,
    id: ScanId,
    status: ScanStatus,
    stats: &ScanStats,
    ended: SystemTime,
) -> Result<()> {
    let e = target_error(target, "finishing a scan");
    let n = tx
        .execute(
            "UPDATE scans SET status = $2, ended_ms = $3, heartbeat_ms = $3, hosts_scanned = $4, hosts_up = $5
             WHERE id = $1",
            &[&id.0, &status.as_str(), &to_ms(ended), &(stats.hosts_scanned as i64), &(stats.hosts_up as i64)],
        )
        .map_err(&e)?;
    if n == 0 {
        return Err(StoreError::NoSuchScan(id.0));
    }
    tx.execute("DELETE FROM scan_counters WHERE scan_id = $1", &[&id.0]).map_err(&e)?;
    let names: Vec<Cow<'_, str>> = stats.counters.keys().map(|k| pg_text(k)).collect();
    let values: Vec<i64> = stats.counters.values().map(|v| *v as i64).collect();
    tx.execute(
        "INSERT INTO scan_counters (scan_id, name, value) SELECT $1::BIGINT, * FROM UNNEST($2::TEXT[], $3::BIGINT[])",
        &[&id.0, &names, &values],
    )
    .map_err(&e)?;
    Ok(())
}

/// The shared read queries ([`crate::read`]) on a PostgreSQL session.
struct Pg<'c> {
    client: &'c mut Client,
    statements: &'c mut HashMap<&'static str, Statement>,
    target: &'c str,
}

/// A result row, with the database to name in errors.
struct PgRow<'r> {
    row: &'r Row,
    target: &'r str,
}

impl PgRow<'_> {
    fn get<'a, T: postgres::types::FromSql<'a>>(&'a self, i: usize) -> Result<T> {
        self.row.try_get(i).map_err(target_error(self.target, "reading a stored value"))
    }
}

impl Cells for PgRow<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i)
    }
}

impl Reader for Pg<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn each(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        doing: &'static str,
        row: &mut dyn FnMut(&dyn Cells) -> Result<()>,
    ) -> Result<()> {
        let values: Vec<Box<dyn ToSql + Sync + '_>> = params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + '_> {
                match *p {
                    Param::Int(v) => Box::new(v),
                    Param::Text(t) => Box::new(t),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v as _).collect();
        let e = target_error(self.target, doing);
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql).map_err(&e)?;
                self.statements.insert(sql, statement.clone());
                statement
            }
        };
        let rows = self.client.query(&statement, &refs).map_err(&e)?;
        for r in &rows {
            row(&PgRow { row: r, target: self.target })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_named_without_its_password() {
        let config = config_of("postgres://scry:s3cret@db.lab:6543/history").unwrap();
        assert_eq!(describe(&config), "postgres://scry@db.lab:6543/history");
        let config = config_of("postgresql://scry@%2Ftmp%2Fpg/h?connect_timeout=3").unwrap();
        assert_eq!(describe(&config), "postgres://scry@%2Ftmp%2Fpg:5432/h");
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        let config = config_of("postgres:///history").unwrap();
        assert_eq!(describe(&config), "postgres://%2Fvar%2Frun%2Fpostgresql:5432/history");
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        let config = config_of("postgres://scry@[2001:2::1]/h").unwrap();
        assert_eq!(describe(&config), "postgres://scry@[2001:2::1]:5432/h");
    }

    #[test]
    fn a_bad_location_is_reported_without_its_password() {
        let err = config_of("postgres://scry:s3cret@db.lab:port/history").err().unwrap();
        assert_eq!(
            err.to_string(),
            "bad PostgreSQL history location postgres://scry:***@db.lab:port/history: \
             invalid connection string: invalid value for option `port`"
        );
        assert_eq!(redact("postgres://scry@db/h?x=a:b@c"), "postgres://scry@db/h?x=a:b@c");
        assert_eq!(redact("postgres://db/h?password=s3cret&port=x"), "postgres://db/h?password=***&port=x");
        assert_eq!(
            redact("postgres://db/h?user=scry&password=s3cret"),
            "postgres://db/h?user=scry&password=***"
        );
    }

    #[test]
    fn tls_is_refused_rather_than_failing_in_the_handshake() {
        let err = config_of("postgres://scry@db.lab/history?sslmode=require").err().unwrap();
        assert_eq!(
            err.to_string(),
            "PostgreSQL history postgres://scry@db.lab:5432/history: sslmode=require, but this scry connects \
             without TLS (use a socket, a private network or a tunnel, and sslmode=disable or prefer)"
        );
        assert!(config_of("postgres://scry@db.lab/history?sslmode=prefer").is_ok());
    }

    #[test]
    fn nul_is_not_stored_by_postgresql() {
        assert_eq!(pg_text("SSH-2.0\0x"), "SSH-2.0\u{FFFD}x");
        assert!(matches!(pg_text("plain"), Cow::Borrowed("plain")));
    }
}
