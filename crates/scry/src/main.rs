//! scry: the command line. Arguments -> resolved plan -> engine -> sinks.

mod adaptive;
mod auto_shard;
mod cli;
mod config;
mod connect;
mod datadir;
mod discover;
mod dump;
mod engine;
mod history;
mod hops;
mod osmatch;
mod osquick;
mod osscan;
mod output;
mod pacing;
mod phases;
mod privileges;
mod progress;
mod resume;
mod timing;
mod unprivileged;
mod version;
mod wire;

use anyhow::Context;
use scry_probe::services::Services;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A problem with what the user asked for (exit status 2), as opposed to a
/// failure while doing it (exit status 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scry: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// The arguments to parse, the original arguments a resume file records,
/// and the resume file resumed from (its path and what it holds).
type CommandLine = (Vec<std::ffi::OsString>, Vec<String>, Option<(PathBuf, resume::ResumeFile)>);

/// `scry --resume FILE` becomes the stopped scan's own command line; any
/// other command line stays as it is.
fn command_line() -> anyhow::Result<CommandLine> {
    let argv: Vec<_> = std::env::args_os().collect();
    let given: Vec<String> = argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let Some(at) = given.iter().position(|a| a == "--resume" || a.starts_with("--resume=")) else {
        return Ok((argv, given, None));
    };
    let path = match given[at].strip_prefix("--resume=") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(given.get(at + 1).ok_or_else(|| UsageError("--resume needs a FILE".into()))?),
    };
    let used = if given[at].contains('=') { 1 } else { 2 };
    if given.len() != used {
        return Err(UsageError(
            "--resume takes only the resume file: the scan's options come from it".into(),
        )
        .into());
    }
    let file = resume::load(&path)?;
    let args =
        std::iter::once(argv[0].clone()).chain(resume::resumed_args(&file.state).into_iter().map(Into::into));
    Ok((args.collect(), file.state.args.clone(), Some((path, file))))
}

fn run() -> anyhow::Result<ExitCode> {
    if let Some(code) = history::commands::dispatch(std::env::args_os().collect())? {
        return Ok(code);
    }
    let (argv, original_args, resumed_from) = command_line()?;
    let command_line = argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
    let mut args = cli::Args::parse_nmap(argv);
    if let Some(option) = args.unsupported.first() {
        let why = cli::unsupported(option).unwrap_or("it is not available");
        return Err(UsageError(format!("nmap's {option} is not supported: {why}")).into());
    }
    if let Some(why) = timing::refused(&args) {
        return Err(UsageError(why).into());
    }
    // `--shard auto`: from here on, a plain `I/N` and the run's id.
    if let Some(spec) = args.shard.clone().filter(|s| auto_shard::is_auto(s)) {
        let env = |name: &str| std::env::var(name).ok();
        let auto = auto_shard::resolve(&spec, args.seed.is_some(), args.run_id.as_deref(), &env)?;
        args.shard = Some(format!("{}/{}", auto.number, auto.count));
        args.run_id = Some(auto.run_id);
    }
    let data = datadir::DataFiles::resolve(&datadir::Env::from_process(args.datadir.as_deref()))?;
    if args.version {
        print!("scry {}\ndata files:\n{}", env!("CARGO_PKG_VERSION"), data.describe("  "));
        return Ok(ExitCode::SUCCESS);
    }
    if args.debug > 0 {
        eprint!("scry: data files:\n{}", data.describe("scry:   "));
    }
    if let Some(input) = &args.os_match {
        let json = args.output_json.as_deref().is_some_and(|p| p.as_os_str() == "-");
        let os_db = data.os_db(&args.os_db).context("--os-match needs an OS database (or --os-db FILE)")?;
        osmatch::run(input, &os_db, json, args.osscan_guess)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Without privileges a scan with no type is a connect scan, as nmap's.
    let privileged = unprivileged::privileged();
    let fell_back = unprivileged::settle(&mut args, privileged)?;
    let outputs = outputs(&args)?;
    // A bad database is bad input: refuse it before any packet (ARP too).
    let os_db = if args.os_detect {
        let paths = data.os_db(&args.os_db).context("-O needs an OS database")?;
        Some(osmatch::load_database(&paths).map_err(|e| UsageError(format!("{e:#}")))?)
    } else {
        None
    };
    let mut loading =
        Loading::start(if args.service_version { Some(probes_path(&data, &args)?) } else { None });
    let checked = (|| -> anyhow::Result<_> {
        if args.os_detect && args.max_os_tries == 0 {
            return Err(UsageError("--max-os-tries must be at least 1".into()).into());
        }
        if args.os_detect && args.offline {
            return Err(UsageError("-O needs replies; --offline sends nothing".into()).into());
        }
        let services = Arc::new(datadir::load_services(&data, &args)?);
        args.udp_payloads = args.udp_payloads.clone().or_else(|| datadir::payloads(&data, &args));
        let resolved = config::resolve(&args, &services, command_line).map_err(|e| {
            match (e.downcast_ref::<config::PhaseOutOfRange>(), &resumed_from) {
                (Some(out), Some((_, file))) => file.phase_error(out.phases).into(),
                (Some(out), None) => UsageError(out.to_string()).into(),
                (None, _) => e,
            }
        })?;
        Ok((services, resolved))
    })();
    let (services, mut resolved) = loading.first(checked)?;

    let options = output::ReportOptions {
        open_only: args.open,
        reason: args.reason,
        verbose: args.verbose > 0,
        os: args.os_detect,
        os_guess: !args.os_detect && !args.no_os_guess,
        version: args.service_version,
    };

    // What needs raw sockets without them is refused before anything opens.
    unprivileged::check(&args, privileged, fell_back)?;
    // Every capture and socket first: privilege problems surface here,
    // before any output, and nothing is parsed before privileges go.
    let opened = match args.offline || !privileged {
        true => None,
        false => Some(wire::Wire::open(&resolved.route.iface, &resolved.needs(&args, &services))),
    };
    let probe_db = loading.finish()?;
    let mut wire = opened.transpose()?;
    if let (Some(w), true) = (&wire, args.verbose > 0) {
        if let Some(first) = w.lanes.first() {
            eprintln!("scry: {} sender thread(s) on {}: {}", w.lanes.len(), w.iface.name, first.method());
        }
    }
    // The history, as root if root runs: the unprivileged scan never opens it.
    // It is closed again before privileges go (a database connection must
    // not cross a fork) and opened again by whichever process records.
    let recording = match history::open_for_scan(&args)? {
        Some((mut store, at)) => {
            let scan = history::new_scan(&args, &resolved, &format!("scry {}", original_args.join(" ")));
            match history::begin(store.as_mut(), &scan, resumed_from.is_some()) {
                Ok(id) => Some((at, id)),
                Err(e) if args.db.is_some() => return Err(e.context("--db")),
                Err(e) => {
                    eprintln!("scry: not keeping this scan in the history: {e:#}");
                    None
                }
            }
        }
        None => None,
    };

    let mut sinks = sinks(&args, &outputs, options, &services)?;
    let pcap = args.pcap.as_deref().map(dump::PcapFile::create).transpose()?;
    let resume_path = args.resume_file.clone().unwrap_or_else(|| PathBuf::from(resume::DEFAULT_PATH));
    let resumed_here = resumed_from.as_ref().is_some_and(|(path, _)| *path == resume_path);
    let mut checkpoints = Checkpoints {
        path: &resume_path,
        state: resume::ResumeState {
            seed: resolved.seed,
            phase: 1,
            position: 0,
            args: original_args,
            versions: Vec::new(),
        },
        written: false,
        warned: false,
    };
    if wire.is_none() && !args.offline && !privileges::is_root() && !args.no_drop_privileges {
        // Capabilities that do not allow raw sockets (CAP_NET_ADMIN alone) go too.
        let status = privileges::Status::current().context("reading /proc/self/status")?;
        if status.cap_eff != 0 || status.cap_prm != 0 {
            privileges::clear_capabilities().context("giving up capabilities")?;
        }
    }
    // A root without CAP_NET_RAW (a container's) scans by connect() and gives root up all the same.
    let drop = wire.is_some() || (privileges::is_root() && !args.offline);
    let link = match (drop, args.no_drop_privileges) {
        (true, false) => match give_up_privileges(&args)? {
            Some(privileges::Side::Keeper(keeper)) => {
                // Still root, for the resume file and the history only; the child
                // scans. Nothing here is dropped: the child shares the captures
                // and sockets.
                let mut recorder = recording.and_then(|(at, id)| history::Recorder::reopen(&at, id));
                let (code, ended) = keeper.wait(|note| match note {
                    privileges::Note::Output { format, text } => {
                        if let Some(r) = &mut recorder {
                            r.output(&format, text);
                        }
                    }
                    other => checkpoints.hear(other),
                });
                if let Some(interrupted) = ended {
                    checkpoints.end(interrupted, resumed_here);
                }
                if let Some(Err(e)) = recorder.map(history::Recorder::finish) {
                    eprintln!("scry: the history did not record this scan completely: {e}");
                }
                std::process::exit(i32::from(code));
            }
            Some(privileges::Side::Scanner(link)) => Some(link),
            None => None,
        },
        _ => None,
    };
    if args.debug > 0 && !args.offline {
        let now = privileges::Status::current().context("reading /proc/self/status")?;
        eprintln!("scry: parsing replies with {}", now.describe());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::Relaxed))
        .context("installing the Ctrl-C/SIGTERM handler")?;
    if let Some((at, id)) = recording {
        let to = match &link {
            // The parent records.
            Some(link) => Some(history::Destination::Parent(
                link.try_clone().context("sharing the pipe to the parent")?,
            )),
            None => history::Recorder::reopen(&at, id).map(history::Destination::Here),
        };
        if let Some(to) = to {
            sinks.push(Box::new(history::HistorySink::new(to, &services, options, Arc::clone(&stop))));
        }
    }

    let limits =
        connect::Limits::new(args.max_parallelism.map(|n| n as usize), args.ttl, args.iface.as_deref());
    if !privileged && !args.offline {
        // No next hops to resolve: the kernel routes the connections.
        if unprivileged::discover(&mut resolved, &args, &services, &limits, (&mut sinks, &stop))? {
            return Ok(ExitCode::SUCCESS);
        }
    } else {
        config::resolve_next_hops(&mut resolved, &args, &services, wire.as_mut())?;
    }
    let responder = resolved.ipv6_route().and_then(scry_capture::NdResponder::for_route);
    if let config::Job::Discovery(plan) = &resolved.job {
        let wire =
            wire.as_mut().ok_or_else(|| UsageError("--offline counts port-scan probes; -sn sends".into()))?;
        let tx = wire.discovery.as_mut().context("no discovery sender")?;
        let neighbors = neighbors_of(responder.clone(), &wire.arp);
        let mut rx = wire.capture.lock().expect("capture lock");
        discover::run(plan, &mut rx, tx, &mut sinks, (&stop, neighbors.as_ref()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let (config::Job::Ports(plans), Some(pre), Some(wire)) =
        (&mut resolved.job, resolved.pre_discovery.take(), &mut wire)
    {
        // Discovery first and once, as nmap: only the hosts it finds are port scanned.
        let tx = wire.discovery.as_mut().context("no discovery sender")?;
        let neighbors = neighbors_of(responder.clone(), &wire.arp);
        let mut rx = wire.capture.lock().expect("capture lock");
        let up: std::collections::HashMap<_, _> = discover::probe(
            &pre,
            &mut rx,
            tx,
            &mut [],
            (&stop, neighbors.as_ref()),
            &mut output::Stats::default(),
        )?
        .into_iter()
        .collect();
        for plan in plans.iter_mut() {
            plan.only_up(up.clone());
        }
    }
    let config::Job::Ports(plans) = &resolved.job else { unreachable!("discovery returned above") };

    // Progress stays outside: it ends with the SYN scan, before OS detection.
    // An IPv6-only scan has no IPv4 host to fingerprint: config said so.
    if let (Some(db), Some(wire), true) = (os_db, &mut wire, resolved.src.is_ipv4()) {
        let options = os_options(&args, &resolved, db, wire, Arc::clone(&stop))?;
        sinks = vec![Box::new(osscan::OsDetect::new(sinks, options))];
    } else if !(args.no_os_guess || args.connect_scan || (args.os_detect && resolved.src.is_ipv6())) {
        // -O's result replaces the one-packet guess rather than sitting beside it.
        let guesser = osquick::Guesser::new(data.os_db(&args.os_db));
        let wrap = |s| Box::new(osquick::QuickOs::new(s, Rc::clone(&guesser))) as Box<dyn output::Sink>;
        sinks = sinks.into_iter().map(wrap).collect();
    }
    let unfinished = Arc::new(std::sync::Mutex::new(Vec::new()));
    if args.service_version || args.banners {
        // Outside OS detection: nmap's version scan runs before its OS scan.
        let carried = resumed_from.as_ref().map(|(_, f)| f.state.versions.clone()).unwrap_or_default();
        // A resumed walk with nothing left: the stopped run had finished its port scan.
        let carried_only = !carried.is_empty() && plans.last().is_some_and(|p| p.positions.is_empty());
        let options = version::VersionOptions {
            db: probe_db,
            config: scry_service::ScanConfig { intensity: version_intensity(&args), tls: true },
            allports: args.allports,
            parallelism: args.max_parallelism.map(|n| n as usize),
            host_timeout: args.host_timeout,
            trace: args.version_trace,
            banners: args.banners,
            stop: Arc::clone(&stop),
            carried,
            carried_only,
            unfinished: Arc::clone(&unfinished),
        };
        sinks = vec![Box::new(version::ServiceDetect::new(sinks, options)?)];
    }
    let counters = Arc::new(engine::Counters::default());
    if let Some(mode) = progress::Mode::choose(args.quiet, args.stats_every, io::stderr().is_terminal()) {
        let total = plans.iter().map(progress::first_pass_probes).sum();
        // First, so that it stops before the other sinks print their tables.
        let progress = progress::Progress::new(mode, Arc::clone(&counters), total, args.verbose > 0);
        sinks.insert(0, Box::new(progress));
    }
    let dump = pcap.map(dump::PcapFile::start).transpose()?;
    let mut link = link;
    let mut lanes = match &mut wire {
        Some(wire) => std::mem::take(&mut wire.lanes),
        None => {
            let capacity = plans.iter().map(|p| p.probe.max_frame_len()).max().unwrap_or(0);
            vec![scry_capture::Sender::discard(capacity)]
        }
    };
    let capture = wire.as_ref().map(|wire| &*wire.capture);
    let neighbors = wire.as_ref().and_then(|wire| neighbors_of(responder.clone(), &wire.arp));
    let hooks = engine::Hooks {
        tap: dump.as_ref().map(dump::PcapDump::tap),
        checkpoint: Some(Box::new(|phase, position| match &mut link {
            Some(link) => link.tell(privileges::Note::Checkpoint(phase, position)),
            None => checkpoints.save(phase, position),
        })),
        neighbors,
    };
    let outcome = phases::run(plans, capture, &mut lanes, &mut sinks, &stop, &counters, hooks);
    if let Some(dump) = dump {
        dump.finish()?;
    }
    let stats = outcome?;
    if args.verbose > 0 {
        eprintln!(
            "scry: sent {} frames; {} given up after send errors; waited {} times for the kernel to take frames; \
             peak memory {} KiB",
            stats.sent, stats.send_errors, stats.send_stalls, stats.max_rss_kib
        );
    }
    // Open ports the stop left unversioned go into the resume file; after a
    // finished port scan, it points past the walk's end, so that a resumed
    // run only versions them.
    let mut notes: Vec<privileges::Note> = std::mem::take(&mut *unfinished.lock().expect("unfinished lock"))
        .into_iter()
        .map(|(ip, protocol, port)| privileges::Note::Version(ip, protocol, port))
        .collect();
    if let (true, false, Some(last)) = (stats.walked, notes.is_empty(), plans.last()) {
        notes.push(privileges::Note::Checkpoint(last.phase, last.positions.end));
    }
    notes.push(privileges::Note::Done { interrupted: stats.interrupted });
    for note in notes {
        match &mut link {
            Some(link) => link.tell(note),
            None => checkpoints.hear(note),
        }
    }
    if link.is_none() {
        checkpoints.end(stats.interrupted, resumed_here);
    }
    Ok(ExitCode::SUCCESS)
}

/// A spoofed IPv6 -S: the scan answers the targets' solicitations for it,
/// in discovery and port scan alike, through `tx`.
fn neighbors_of(
    responder: Option<scry_capture::NdResponder>,
    tx: &scry_capture::RawSender,
) -> Option<engine::Neighbors<'_>> {
    responder.map(|responder| engine::Neighbors { responder, tx })
}

/// Where nmap-service-probes (or `--versiondb`) is, said with `-d`.
///
/// # Errors
/// No such file ([`UsageError`]).
fn probes_path(data: &datadir::DataFiles, args: &cli::Args) -> anyhow::Result<PathBuf> {
    let path = datadir::service_probes(data, args).map_err(|e| UsageError(format!("-sV: {e}")))?;
    if args.debug > 0 {
        eprintln!("scry: version probes from {}", path.display());
    }
    Ok(path)
}

/// nmap-service-probes being read on a thread of its own: compiling its
/// regexes overlaps the checks that follow and the kernel's setting up of
/// the capture ring. Its errors still come first and before any packet, and
/// the thread has ended before privileges are given up (which needs one thread).
struct Loading {
    thread: Option<std::thread::JoinHandle<anyhow::Result<&'static scry_service::ProbeDb>>>,
    db: Option<&'static scry_service::ProbeDb>,
}

impl Loading {
    fn start(path: Option<PathBuf>) -> Loading {
        let thread = path.map(|path| std::thread::spawn(move || load_probes(&path)));
        Loading { thread, db: None }
    }

    /// `result`, unless the database is bad: that error comes first, as it would read in order.
    fn first<T>(&mut self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if result.is_err() {
            self.finish()?;
        }
        result
    }

    /// The database, once read (`None` without -sV).
    fn finish(&mut self) -> anyhow::Result<Option<&'static scry_service::ProbeDb>> {
        if let Some(thread) = self.thread.take() {
            self.db = Some(thread.join().expect("the probe database thread panicked")?);
        }
        Ok(self.db)
    }
}

/// nmap-service-probes, read once for the whole run.
///
/// # Errors
/// The file does not parse ([`UsageError`], naming file:line:column).
fn load_probes(path: &Path) -> anyhow::Result<&'static scry_service::ProbeDb> {
    let db = scry_service::ProbeDb::load(path).map_err(|e| UsageError(format!("-sV: {e}")))?;
    // One database for the life of the process, shared by every service task.
    Ok(Box::leak(Box::new(db)))
}

/// `--version-intensity`, `--version-light` (2) or `--version-all` (9); nmap's default 7.
fn version_intensity(args: &cli::Args) -> u8 {
    match (args.version_all, args.version_light, args.version_intensity) {
        (true, _, _) => scry_service::ALL_INTENSITY,
        (_, true, _) => scry_service::LIGHT_INTENSITY,
        (_, _, Some(n)) => n,
        _ => scry_service::DEFAULT_INTENSITY,
    }
}

/// Gives up root (splitting off a child that scans as `--user`) or the
/// binary's capabilities, once every socket is open; `None` when there was
/// nothing to give up or it was given up in place.
///
/// # Errors
/// No such user, or the kernel refused a step.
fn give_up_privileges(args: &cli::Args) -> anyhow::Result<Option<privileges::Side>> {
    let refused = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "{e}; scry gives up its privileges before parsing replies (--no-drop-privileges keeps them)"
        )
    };
    if privileges::is_root() {
        let user = privileges::User::lookup(&args.user)?;
        let threads = privileges::threads();
        if threads != 1 {
            anyhow::bail!(
                "{threads} threads run before privileges are dropped; a child would lose all but one"
            );
        }
        return privileges::split(&user).map(Some).map_err(|e| refused(&e));
    }
    let status = privileges::Status::current().context("reading /proc/self/status")?;
    if status.cap_eff != 0 || status.cap_prm != 0 {
        privileges::clear_capabilities().map_err(|e| refused(&e))?;
    }
    Ok(None)
}

/// Writes the resume file at each checkpoint; a write that fails is
/// reported once and does not stop the scan.
struct Checkpoints<'a> {
    path: &'a Path,
    state: resume::ResumeState,
    written: bool,
    warned: bool,
}

impl Checkpoints<'_> {
    /// Acts on a note of the scanning side: a checkpoint saves, an
    /// unversioned port joins the state (saved with the next checkpoint, or
    /// at the end).
    fn hear(&mut self, note: privileges::Note) {
        match note {
            privileges::Note::Checkpoint(phase, position) => self.save(phase, position),
            privileges::Note::Version(ip, protocol, port) => self.state.versions.push((ip, protocol, port)),
            // The history's, taken by the caller.
            privileges::Note::Done { .. } | privileges::Note::Output { .. } => {}
        }
    }

    /// After the scan: a stopped scan says how to resume; a complete one
    /// removes the resume file it wrote (or was resumed from), which would
    /// only repeat work.
    fn end(&mut self, interrupted: bool, resumed_here: bool) {
        if interrupted && self.written && !self.state.versions.is_empty() {
            // The versions heard since the last checkpoint.
            self.save(self.state.phase, self.state.position);
        }
        if interrupted {
            if self.written {
                eprintln!("scry: stopped; continue with: scry --resume {}", self.path.display());
            }
        } else if self.written || resumed_here {
            let _ = std::fs::remove_file(self.path);
        }
    }

    fn save(&mut self, phase: u32, position: u64) {
        self.state.phase = phase;
        self.state.position = position;
        match resume::save(&self.state, self.path) {
            Ok(()) => self.written = true,
            Err(e) if !self.warned => {
                self.warned = true;
                eprintln!("scry: cannot write resume file {}: {e}", self.path.display());
            }
            Err(_) => {}
        }
    }
}

pub(crate) fn create(path: &Path, append: bool) -> anyhow::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let file = if append { File::options().create(true).append(true).open(path) } else { File::create(path) };
    let file = file.with_context(|| format!("creating {}", path.display()))?;
    Ok(Box::new(BufWriter::new(file)))
}

/// An output format a file (or standard output) is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Normal,
    Xml,
    Grepable,
    Json,
}

/// The outputs asked for, as (format, path); `-` is standard output.
///
/// # Errors
/// [`UsageError`] when more than one output asks for standard output.
fn outputs(args: &cli::Args) -> Result<Vec<(Format, PathBuf)>, UsageError> {
    let single = [
        (Format::Normal, &args.output_normal, "-oN"),
        (Format::Xml, &args.output_xml, "-oX"),
        (Format::Grepable, &args.output_grepable, "-oG"),
        (Format::Json, &args.output_json, "-oJ"),
    ];
    let mut list: Vec<(Format, PathBuf)> = Vec::new();
    let mut to_stdout = Vec::new();
    for (format, path, flag) in single {
        if let Some(path) = path {
            if path.as_os_str() == "-" {
                to_stdout.push(flag);
            }
            list.push((format, path.clone()));
        }
    }
    if let Some(base) = &args.output_all {
        if base.as_os_str() == "-" {
            return Err(UsageError("-oA writes four files and cannot write to standard output (-)".into()));
        }
        for (format, extension) in [
            (Format::Normal, "nmap"),
            (Format::Xml, "xml"),
            (Format::Grepable, "gnmap"),
            (Format::Json, "json"),
        ] {
            let mut path = base.clone().into_os_string();
            path.push(".");
            path.push(extension);
            list.push((format, path.into()));
        }
    }
    if to_stdout.len() > 1 {
        return Err(UsageError(format!(
            "only one output can go to standard output (-), but {} ask for it",
            to_stdout.join(" and ")
        )));
    }
    Ok(list)
}

/// What `-O` needs.
fn os_options(
    args: &cli::Args,
    resolved: &config::Resolved,
    db: scry_os::Database,
    wire: &mut wire::Wire,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<osscan::OsOptions> {
    let config::Job::Ports(plans) = &resolved.job else {
        return Err(UsageError("-O needs a port scan, not -sn".into()).into());
    };
    let plan = &plans[0];
    let std::net::IpAddr::V4(src) = resolved.src else {
        return Err(
            UsageError("IPv6 OS detection is not available yet; -O works over IPv4 only".into()).into()
        );
    };
    Ok(osscan::OsOptions {
        db,
        iface: wire.iface.clone(),
        capture: Arc::clone(&wire.capture),
        tx: wire.os.take().context("no OS detection sender")?,
        src,
        src_mac: resolved.src_mac,
        next_hops: plan.next_hops.clone(),
        ttl: args.ttl,
        max_tries: args.max_os_tries,
        osscan_guess: args.osscan_guess,
        always_fingerprint: args.debug > 0 || args.verbose > 1,
        verbose: args.verbose > 0,
        debugging: args.debug > 0,
        limit: args.osscan_limit,
        stop,
    })
}

/// A sink for each output, plus normal output on stdout unless another format took it.
fn sinks(
    args: &cli::Args,
    outputs: &[(Format, PathBuf)],
    options: output::ReportOptions,
    services: &Arc<Services>,
) -> anyhow::Result<Vec<Box<dyn output::Sink>>> {
    let stylesheet = match (&args.stylesheet, args.webxml, args.no_stylesheet) {
        (_, _, true) => None,
        (_, true, _) => Some(output::WEB_STYLESHEET.to_owned()),
        (Some(href), _, _) => Some(href.clone()),
        (None, false, false) => Some(output::STYLESHEET.to_owned()),
    };
    let mut sinks: Vec<Box<dyn output::Sink>> = Vec::new();
    if !outputs.iter().any(|(_, path)| path.as_os_str() == "-") {
        sinks.push(Box::new(output::Normal::new(io::stdout(), Arc::clone(services), options)));
    }
    for (format, path) in outputs {
        let out = create(path, args.append_output)?;
        let services = Arc::clone(services);
        sinks.push(match format {
            Format::Normal => Box::new(output::Normal::new(out, services, options)),
            Format::Xml => {
                Box::new(output::Xml::new(out, services, options).with_stylesheet(stylesheet.clone()))
            }
            Format::Grepable => Box::new(output::Grepable::new(out, services, options)),
            Format::Json => Box::new(output::JsonLines::new(out, services)),
        });
    }
    Ok(sinks)
}
