//! Every scan remembered: the CLI's side of the history database
//! (`scry_store`), which owns the schema and all SQL.
//!
//! A scan is recorded from what it prints. [`HistorySink`] renders the
//! scan in every output format into memory, and hands the text on in
//! pieces ([`Destination`]): to a [`Recorder`] in this process, or, when
//! root split the scan into an unprivileged child ([`crate::privileges`]),
//! over the pipe to the parent, which owns the database file and records
//! there. The recorder keeps each format's text (`scry show` prints it
//! again as it was printed) and decodes the JSON Lines records into the
//! store's observations (what `scry diff` compares). So the child never
//! opens the database, and the database never needs to be writable by the
//! user the scan runs as.

pub mod commands;

use crate::cli::Args;
use crate::config::{Job, Resolved};
use crate::output::{self, HostReport, OsReport, QuickGuess, ReportOptions, ScanInfo, Sink, Stats};
use crate::privileges;
use scry_probe::results::PortResult;
use scry_probe::services::{Protocol, Services};
use scry_probe::state::{PortState, Reason};
use scry_store::import::json::{ScryDecoder, ScryRecord};
use scry_store::{
    History, NewScan, Observation, OutputChunk, ScanId, ScanStats, ScanStatus, Scope, SpawnedWriter,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A `running` scan whose writer has not committed for this long is dead
/// (a live writer commits at least every 500 ms).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The most text a [`HistorySink`] holds before handing it on.
const CHUNK_BYTES: usize = 64 * 1024;

/// How long a [`HistorySink`] holds text before handing it on.
const CHUNK_AGE: Duration = Duration::from_millis(500);

/// The output formats kept, by the names the store uses.
pub const FORMATS: [&str; 4] = ["normal", "xml", "grepable", "json"];

/// The stream of what the history records, handed on beside the formats:
/// scry's JSON Lines records, with a host's ports in the most common
/// state counted in one `rest` record instead of a line each.
const RECORDS: &str = "records";

/// Where the history is: `--db`, or the default file.
#[derive(Clone, Debug)]
pub struct Location {
    pub text: String,
    /// `--db` was given: failing to open it is fatal.
    pub explicit: bool,
}

/// The history to use, `None` with `--no-db`.
pub fn location(db: Option<&str>, no_db: bool) -> Option<Location> {
    if no_db {
        return None;
    }
    Some(match db {
        Some(text) => Location { text: text.to_owned(), explicit: true },
        None => Location { text: default_path().display().to_string(), explicit: false },
    })
}

/// `/var/lib/scry/history.db` for root; otherwise
/// `$XDG_DATA_HOME/scry/history.db`, else `~/.local/share/scry/history.db`.
pub fn default_path() -> PathBuf {
    if privileges::is_root() {
        return PathBuf::from("/var/lib/scry/history.db");
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let data = env("XDG_DATA_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("scry/history.db")
}

/// Opens the history at `at`, creating the default file's directory, and
/// marks scans whose process died `interrupted`.
///
/// # Errors
/// The store's error, as it says it (it names the file and what to do).
pub fn open(at: &Location) -> anyhow::Result<Box<dyn History>> {
    let is_url = scry_store::is_postgres(&at.text);
    if !at.explicit && !is_url {
        if let Some(dir) = std::path::Path::new(&at.text).parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create {} for the history database: {e}", dir.display())
            })?;
        }
    }
    let mut history = scry_store::open(&at.text)?;
    history.mark_stale_interrupted(SystemTime::now(), STALE_AFTER)?;
    Ok(history)
}

/// Opens the history for a scan: an error is fatal only with `--db`;
/// otherwise it is reported and the scan goes on without history.
///
/// # Errors
/// With `--db`, the history cannot be opened.
pub fn open_for_scan(args: &Args) -> anyhow::Result<Option<(Box<dyn History>, Location)>> {
    let Some(at) = location(args.db.as_deref(), args.no_db) else { return Ok(None) };
    match open(&at) {
        Ok(history) => Ok(Some((history, at))),
        Err(e) if at.explicit => Err(e.context("--db")),
        Err(e) => {
            eprintln!("scry: not keeping this scan in the history: {e:#}");
            Ok(None)
        }
    }
}

/// What the history records of the scan before its first probe.
pub fn new_scan(args: &Args, resolved: &Resolved, command_line: &str) -> NewScan {
    let mut targets = args.targets.clone();
    if let Some(list) = &args.input_list {
        targets.push(format!("-iL {}", list.display()));
    }
    let mut excludes: Vec<String> =
        args.exclude.iter().flat_map(|e| e.split(',')).map(str::to_owned).collect();
    if let Some(file) = &args.exclude_file {
        excludes.push(format!("--excludefile {}", file.display()));
    }
    let (info, ports) = match &resolved.job {
        Job::Ports(plans) => {
            (&plans[0].info, plans.iter().map(|p| (p.probe.protocol(), p.ports.clone())).collect())
        }
        Job::Discovery(plan) => (&plan.info, Vec::new()),
    };
    let mut ports: Vec<(Protocol, Vec<u16>)> = ports;
    for (_, list) in &mut ports {
        list.sort_unstable();
    }
    let shard = args.shard.as_deref().and_then(|t| t.parse::<scry_probe::permute::Shard>().ok());
    let shard = shard.map_or((1, 1), |s| (s.number() as u32 + 1, s.count() as u32));
    NewScan {
        scope: Scope {
            targets,
            excludes,
            ranges: resolved.targets().ip_ranges().collect(),
            ports,
            scan_types: scan_types(args, &resolved.job),
            seed: args.seed,
            shard,
            run_id: args.run_id.clone(),
        },
        args: command_line.to_owned(),
        version: format!("scry {}", env!("CARGO_PKG_VERSION")),
        started: info.start,
    }
}

/// The scan types in the order they run, as the store names them.
fn scan_types(args: &Args, job: &Job) -> Vec<String> {
    let mut types: Vec<String> = match job {
        Job::Discovery(_) => vec!["ping".into()],
        // nmap's names, as in `<scaninfo type=...>`.
        Job::Ports(plans) => plans.iter().map(|p| p.info.scan_type(p.probe.protocol()).to_owned()).collect(),
    };
    if args.service_version {
        types.push("version".into());
    }
    if args.os_detect {
        types.push("os".into());
    }
    types
}

/// Records a scan's start: its row, or for `--resume` the stopped scan's
/// row, running again. Starts no thread (the process may fork after it).
///
/// # Errors
/// The store's.
pub fn begin(history: &mut dyn History, scan: &NewScan, resumed: bool) -> anyhow::Result<ScanId> {
    if resumed {
        if let Some(id) = stopped_scan(history, &scan.args)? {
            history.resume_scan(id, SystemTime::now())?;
            return Ok(id);
        }
    }
    Ok(history.begin_scan(scan)?)
}

/// The newest scan with this command line that did not complete: what
/// `--resume` continues.
fn stopped_scan(history: &dyn History, args: &str) -> anyhow::Result<Option<ScanId>> {
    for scan in history.list_scans()?.iter().rev().filter(|s| s.status != ScanStatus::Complete) {
        if history.load_scan(scan.id)?.record.args == args {
            return Ok(Some(scan.id));
        }
    }
    Ok(None)
}

/// Writes one scan's record: its outputs as printed and the observations
/// decoded from its JSON Lines.
pub struct Recorder {
    id: ScanId,
    writer: Option<SpawnedWriter>,
    decoder: ScryDecoder,
    /// Record text after the last complete line.
    pending: String,
    /// From the `stats` record: the counters and whether the scan was cut short.
    end: Option<(ScanStats, bool)>,
    error: Option<scry_store::StoreError>,
}

impl Recorder {
    /// Opens the history at `at` again and starts the writer of scan `id`;
    /// `None`, said on stderr, when that fails (the scan goes on).
    pub fn reopen(at: &Location, id: ScanId) -> Option<Recorder> {
        let started =
            scry_store::open(&at.text).map_err(anyhow::Error::from).and_then(|h| Recorder::start(h, id));
        match started {
            Ok(recorder) => Some(recorder),
            Err(e) => {
                eprintln!("scry: not keeping this scan in the history: {e:#}");
                None
            }
        }
    }

    /// Starts the writer of scan `id` (begun with [`begin`]) on its own thread.
    ///
    /// # Errors
    /// The store's.
    pub fn start(history: Box<dyn History>, id: ScanId) -> anyhow::Result<Recorder> {
        let writer = history.writer(id, scry_store::WriterOptions::default())?.spawn();
        Ok(Recorder {
            id,
            writer: Some(writer),
            decoder: ScryDecoder::default(),
            pending: String::new(),
            end: None,
            error: None,
        })
    }

    /// The next `text` the scan printed in `format`, or of its
    /// [`RECORDS`]: what the history records of it, as JSON Lines.
    pub fn output(&mut self, format: &str, text: String) {
        if format != RECORDS {
            self.send(Observation::Output(OutputChunk { format: format.to_owned(), text }));
            return;
        }
        self.pending.push_str(&text);
        if let Some(end) = self.pending.rfind('\n') {
            let lines: String = self.pending.drain(..=end).collect();
            for line in lines.lines() {
                self.record_line(line);
            }
        }
    }

    fn record_line(&mut self, line: &str) {
        // The scan's own output: a line that does not decode is not worth stopping for.
        match self.decoder.decode_line(line, SystemTime::now()) {
            Ok(ScryRecord::Observation(o)) => self.send(o),
            Ok(ScryRecord::Stats { stats, interrupted, .. }) => self.end = Some((stats, interrupted)),
            Ok(_) | Err(_) => {}
        }
    }

    fn send(&mut self, observation: Observation) {
        if self.error.is_some() {
            return;
        }
        if let Some(writer) = &self.writer {
            if let Err(e) = writer.send(observation) {
                self.error = Some(e);
            }
        }
    }

    /// Records the scan's end: `complete` when its last record said so,
    /// otherwise `interrupted` (Ctrl-C, or a scan that died).
    ///
    /// # Errors
    /// The first error writing the history.
    pub fn finish(mut self) -> Result<ScanId, scry_store::StoreError> {
        // No stats record: the scan never got to its end.
        let (stats, interrupted) = self.end.take().unwrap_or((ScanStats::default(), true));
        let status = if interrupted { ScanStatus::Interrupted } else { ScanStatus::Complete };
        let writer = self.writer.take().expect("writer present until finish");
        let finished = writer.finish(status, stats, SystemTime::now());
        match self.error.take() {
            Some(e) => Err(e),
            None => finished.map(|()| self.id),
        }
    }
}

/// Where a [`HistorySink`] hands its text.
pub enum Destination {
    /// This process records.
    Here(Recorder),
    /// The parent records what it is told over the pipe.
    Parent(privileges::Link),
}

impl Destination {
    fn output(&mut self, format: &'static str, text: String) {
        match self {
            Destination::Here(recorder) => recorder.output(format, text),
            Destination::Parent(link) => {
                link.tell(privileges::Note::Output { format: format.to_owned(), text })
            }
        }
    }
}

/// One format rendered into memory.
struct Rendered {
    format: &'static str,
    sink: Box<dyn Sink>,
    text: Rc<RefCell<Vec<u8>>>,
}

/// A `Write` into a shared buffer.
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders the scan in every format and hands the text on (see the module
/// documentation). Its writes never fail: a history that cannot be
/// written is reported at the end and does not stop the scan.
pub struct HistorySink {
    rendered: Vec<Rendered>,
    /// The records' renderer, fed as the formats are, except for ports.
    records: Rendered,
    to: Option<Destination>,
    held_since: Option<Instant>,
    /// Set once the scan is stopped: ports it never answered may never
    /// have been probed, and are not recorded as silent.
    stop: Arc<AtomicBool>,
}

impl HistorySink {
    pub fn new(
        to: Destination,
        services: &Arc<Services>,
        options: ReportOptions,
        stop: Arc<AtomicBool>,
    ) -> HistorySink {
        let rendered = FORMATS
            .iter()
            .map(|&format| {
                let text = Rc::new(RefCell::new(Vec::new()));
                let out = Buffer(Rc::clone(&text));
                let services = Arc::clone(services);
                let sink: Box<dyn Sink> = match format {
                    "normal" => Box::new(output::Normal::new(out, services, options)),
                    "xml" => Box::new(
                        output::Xml::new(out, services, options)
                            .with_stylesheet(Some(output::STYLESHEET.to_owned())),
                    ),
                    "grepable" => Box::new(output::Grepable::new(out, services, options)),
                    _ => Box::new(output::JsonLines::new(out, services)),
                };
                Rendered { format, sink, text }
            })
            .collect();
        let text = Rc::new(RefCell::new(Vec::new()));
        let sink = Box::new(output::JsonLines::new(Buffer(Rc::clone(&text)), Arc::clone(services)));
        let records = Rendered { format: RECORDS, sink, text };
        HistorySink { rendered, records, to: Some(to), held_since: None, stop }
    }

    /// Feeds the formats and the records alike.
    fn both(&mut self, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>, last: bool) {
        let _ = f(self.records.sink.as_mut());
        self.each(f, last);
    }

    /// One record line.
    fn record(&mut self, value: &serde_json::Value) {
        let mut text = self.records.text.borrow_mut();
        let _ = serde_json::to_writer(&mut *text, value);
        text.push(b'\n');
    }

    /// A host's ports for the history: each port not in the table's most
    /// common state (already recorded when it answered open), and that
    /// state counted once (see [`scry_store::RestObservation`]).
    fn record_ports(&mut self, report: &HostReport<'_>) {
        let stopped = self.stop.load(Ordering::Relaxed);
        for table in report.tables {
            let silent = table.silent_state();
            let mut counts: BTreeMap<PortState, (u64, BTreeMap<&'static str, u64>)> = BTreeMap::new();
            for r in table.ports.values() {
                let (n, reasons) = counts.entry(r.state).or_default();
                *n += 1;
                *reasons.entry(r.reason.as_str()).or_default() += 1;
            }
            let unanswered = table.scanned.len().saturating_sub(table.ports.len()) as u64;
            if unanswered > 0 && !stopped {
                let (n, reasons) = counts.entry(silent).or_default();
                *n += unanswered;
                *reasons.entry(Reason::NoResponse.as_str()).or_default() += unanswered;
            }
            // The most common state that is not a finding; the silent one on a tie.
            let rest = counts
                .iter()
                .filter(|(state, _)| !live(**state))
                .max_by_key(|(state, (n, _))| (*n, **state == silent))
                .map(|(s, _)| *s);
            let proto = table.protocol.as_str();
            for (port, r) in table.ports {
                if Some(r.state) != rest && !live(r.state) {
                    let _ = self.records.sink.port(report.ip, *port, table.protocol, r);
                }
            }
            if rest != Some(silent) && unanswered > 0 && !stopped {
                for port in table.scanned.iter().filter(|p| !table.ports.contains_key(p)) {
                    self.record(&serde_json::json!({
                        "type": "port", "ip": report.ip, "port": port, "proto": proto,
                        "state": silent.as_str(), "reason": Reason::NoResponse.as_str(), "ttl": null,
                    }));
                }
            }
            if let Some(state) = rest {
                let (count, reasons) = &counts[&state];
                let reason = reasons.iter().max_by_key(|(_, n)| **n).map_or("unknown", |(r, _)| *r);
                self.record(&serde_json::json!({
                    "type": "rest", "ip": report.ip, "proto": proto,
                    "state": state.as_str(), "reason": reason, "count": count,
                }));
            }
        }
    }

    /// Feeds every format, then hands the text on when it is big or old enough.
    fn each(&mut self, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>, last: bool) {
        for r in &mut self.rendered {
            // A renderer into memory only fails on its own logic; its text is kept as far as it got.
            let _ = f(r.sink.as_mut());
        }
        let held: usize =
            self.rendered.iter().chain(std::iter::once(&self.records)).map(|r| r.text.borrow().len()).sum();
        let since = *self.held_since.get_or_insert_with(Instant::now);
        if last || held >= CHUNK_BYTES || since.elapsed() >= CHUNK_AGE {
            self.hand_on();
        }
    }

    fn hand_on(&mut self) {
        self.held_since = None;
        let Some(to) = &mut self.to else { return };
        for r in std::iter::once(&self.records).chain(&self.rendered) {
            let bytes = std::mem::take(&mut *r.text.borrow_mut());
            if !bytes.is_empty() {
                to.output(r.format, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
}

/// States recorded as they answer (the findings; the rest waits for the
/// host's report, where the most common state is counted instead).
fn live(state: PortState) -> bool {
    matches!(state, PortState::Open | PortState::OpenFiltered | PortState::Unfiltered)
}

impl Sink for HistorySink {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.both(|s| s.begin(info), false);
        Ok(())
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.both(|s| s.host_up(ip, reason, ttl), false);
        Ok(())
    }

    fn port(&mut self, ip: IpAddr, port: u16, protocol: Protocol, result: &PortResult) -> io::Result<()> {
        if live(result.state) {
            let _ = self.records.sink.port(ip, port, protocol, result);
        }
        self.each(|s| s.port(ip, port, protocol, result), false);
        Ok(())
    }

    fn host_down(&mut self, ip: IpAddr) -> io::Result<()> {
        self.both(|s| s.host_down(ip), false);
        Ok(())
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        self.record_ports(report);
        self.both(|s| s.host(report), false);
        Ok(())
    }

    fn os(&mut self, ip: IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        self.both(|s| s.os(ip, os), false);
        Ok(())
    }

    fn os_quick(&mut self, ip: IpAddr, guess: Option<&QuickGuess<'_>>) -> io::Result<()> {
        self.each(|s| s.os_quick(ip, guess), false);
        Ok(())
    }

    fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        self.both(|s| s.finish(stats), true);
        if let Some(Destination::Here(recorder)) = self.to.take() {
            if let Err(e) = recorder.finish() {
                eprintln!("scry: the history did not record this scan completely: {e}");
            }
        }
        Ok(())
    }
}
