//! `scry -sV` and `--banners`: nmap's version detection on the ports the
//! scan finds open, while the scan goes on.
//!
//! [`ServiceDetect`] wraps the output sinks. Each `port` event that shows
//! a TCP port open starts that service at once on a tokio runtime running
//! on its own thread (kernel sockets, so no privilege is needed: this runs
//! in the unprivileged scanning process); UDP ports open or open|filtered
//! start when their host's report arrives. A host's report waits until its
//! services are done, then goes to the sinks with what they found, and an
//! open|filtered UDP port that answered a probe is reported open, as nmap
//! does. Within one service the order and timing of probes are nmap's
//! (scry_service's state machine); speed comes from probing many services
//! at once: at most `--max-parallelism` (default [`DEFAULT_PARALLELISM`],
//! kept under the open-file limit) over all hosts, [`PER_HOST`] per host;
//! `--host-timeout` ends a host's unfinished services (incomplete) that long
//! after its first one started.
//! Ctrl-C aborts the services in flight; what they found so far is written,
//! and the open ports whose detection did not finish are handed back for
//! the resume file; a resumed run takes them as carried ports ([`carry`]).

mod banner;
mod carry;
mod driver;
mod tls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};
use scry_service::fingerprint::{self, FingerprintHeader};
use scry_service::{ProbeDb, ScanConfig, ServiceResult};
use tokio::sync::{watch, Semaphore};

use crate::output::{Banner, HostReport, PortService, PortTable, ScanInfo, ServiceTable, Sink, Stats};

/// Services probed at once over all hosts without `--max-parallelism`:
/// what a LAN switch and a home NAT's connection table both take.
pub const DEFAULT_PARALLELISM: usize = 1000;
/// Services probed at once on one host.
pub const PER_HOST: usize = 64;
/// File descriptors left for everything else (captures, outputs).
const FD_RESERVE: u64 = 64;

/// What the version scan needs.
pub struct VersionOptions {
    /// The probes (`-sV`); `None` for `--banners` alone.
    pub db: Option<&'static ProbeDb>,
    pub config: ScanConfig,
    /// `--allports`: ignore the database's `Exclude` line.
    pub allports: bool,
    /// `--max-parallelism`.
    pub parallelism: Option<usize>,
    /// `--host-timeout`: a host's services end incomplete this long after its first started.
    pub host_timeout: Option<Duration>,
    /// `--version-trace`.
    pub trace: bool,
    /// `--banners`.
    pub banners: bool,
    /// Set by Ctrl-C/SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// Open ports a stopped run left unversioned (its resume file's `versions`).
    pub carried: Vec<(IpAddr, Protocol, u16)>,
    /// The stopped run had finished its port scan: report only carried hosts.
    pub carried_only: bool,
    /// Filled after a stop with the open ports whose detection did not finish.
    pub unfinished: Arc<Mutex<Vec<(IpAddr, Protocol, u16)>>>,
}

/// One service to probe.
#[derive(Clone, Copy, Debug)]
struct Job {
    ip: IpAddr,
    port: u16,
    protocol: Protocol,
}

/// A probed service.
struct Finished {
    job: Job,
    result: Option<ServiceResult>,
    banner: Banner,
    /// Cut short by the stop: to be done again by a resumed run.
    interrupted: bool,
}

/// The sinks, with version detection between the port scan and the host reports.
pub struct ServiceDetect {
    inner: Vec<Box<dyn Sink>>,
    db: Option<&'static ProbeDb>,
    config: ScanConfig,
    allports: bool,
    banners: bool,
    jobs: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    done: mpsc::Receiver<Finished>,
    thread: Option<std::thread::JoinHandle<()>>,
    started: HashSet<(IpAddr, Protocol, u16)>,
    pending: HashMap<IpAddr, usize>,
    found: HashMap<IpAddr, ServiceTable>,
    start: SystemTime,
    carried: carry::Carried,
    /// Services submitted and not yet finished uninterrupted.
    unfinished: std::collections::BTreeSet<(IpAddr, Protocol, u16)>,
    unfinished_out: Arc<Mutex<Vec<(IpAddr, Protocol, u16)>>>,
    stop: Arc<AtomicBool>,
    /// Some service was sent to be probed (not all were excluded).
    probed_any: bool,
}

impl ServiceDetect {
    /// Starts the runtime's thread.
    ///
    /// # Errors
    /// The thread, the runtime or OpenSSL's context could not be made.
    pub fn new(inner: Vec<Box<dyn Sink>>, options: VersionOptions) -> anyhow::Result<ServiceDetect> {
        let parallelism = parallelism(options.parallelism);
        let connector = tls::connector().context("setting up OpenSSL for -sV")?;
        let (jobs, rx) = tokio::sync::mpsc::unbounded_channel();
        let (tx, done) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the -sV runtime")?;
        let shared = Arc::new(Shared {
            db: options.db,
            config: options.config,
            connector,
            host_timeout: options.host_timeout,
            trace: options.trace,
        });
        let stop = Arc::clone(&options.stop);
        let thread = std::thread::Builder::new()
            .name("scry-sv".into())
            .spawn(move || runtime.block_on(serve(shared, rx, tx, stop, parallelism)))
            .context("starting the -sV thread")?;
        Ok(ServiceDetect {
            inner,
            db: options.db,
            config: options.config,
            allports: options.allports,
            banners: options.banners,
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            started: HashSet::new(),
            pending: HashMap::new(),
            found: HashMap::new(),
            start: SystemTime::now(),
            carried: carry::Carried::new(&options.carried, options.carried_only),
            unfinished: std::collections::BTreeSet::new(),
            unfinished_out: options.unfinished,
            stop: options.stop,
            probed_any: false,
        })
    }

    fn submit(&mut self, ip: IpAddr, port: u16, protocol: Protocol) {
        if self.db.is_none() && protocol != Protocol::Tcp {
            return; // banners are TCP's
        }
        if !self.started.insert((ip, protocol, port)) {
            return;
        }
        let Some(sproto) = service_protocol(protocol) else { return };
        if self.db.is_some_and(|db| !self.allports && db.is_excluded(port, sproto)) {
            let service = PortService { result: Some(ServiceResult::excluded()), ..PortService::default() };
            self.found.entry(ip).or_default().insert((protocol, port), service);
            return;
        }
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job { ip, port, protocol }).is_ok() {
                *self.pending.entry(ip).or_default() += 1;
                self.unfinished.insert((ip, protocol, port));
                self.probed_any = true;
            }
        }
    }

    /// Files one finished service.
    fn record(&mut self, f: Finished) {
        if let Some(n) = self.pending.get_mut(&f.job.ip) {
            *n = n.saturating_sub(1);
        }
        if !f.interrupted {
            self.unfinished.remove(&(f.job.ip, f.job.protocol, f.job.port));
        }
        let fingerprint = f.result.as_ref().and_then(|r| self.fingerprint(f.job, r));
        let banner = self.banners.then_some(f.banner);
        let service = PortService { result: f.result, fingerprint, banner };
        self.found.entry(f.job.ip).or_default().insert((f.job.protocol, f.job.port), service);
    }

    fn fingerprint(&self, job: Job, r: &ServiceResult) -> Option<String> {
        let civil = crate::output::Civil::utc(self.start);
        let platform = format!("{}-pc-linux-gnu", std::env::consts::ARCH);
        let header = FingerprintHeader {
            port: job.port,
            protocol: service_protocol(job.protocol)?,
            tunnel: r.tunnel,
            version: env!("CARGO_PKG_VERSION"),
            intensity: self.config.intensity,
            month: civil.month as u8,
            day: civil.day as u8,
            time: crate::output::unix_secs(self.start),
            platform: &platform,
        };
        fingerprint::render(&header, &r.fingerprint)
    }

    /// Waits until every service of `ip` is done.
    fn wait_for(&mut self, ip: IpAddr) {
        while self.pending.get(&ip).is_some_and(|n| *n > 0) {
            match self.done.recv_timeout(Duration::from_millis(200)) {
                Ok(f) => self.record(f),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}

fn service_protocol(p: Protocol) -> Option<scry_service::Protocol> {
    match p {
        Protocol::Tcp => Some(scry_service::Protocol::Tcp),
        Protocol::Udp => Some(scry_service::Protocol::Udp),
        Protocol::Sctp => None,
    }
}

/// `--max-parallelism` (or the default), kept under the open-file limit.
fn parallelism(asked: Option<usize>) -> usize {
    under_file_limit(asked.unwrap_or(DEFAULT_PARALLELISM), FD_RESERVE)
}

/// `wanted` (at least 1), kept `reserve` descriptors under the open-file
/// limit after raising the soft limit to the hard one.
pub fn under_file_limit(wanted: usize, reserve: u64) -> usize {
    let wanted = wanted.max(1);
    // SAFETY: getrlimit/setrlimit read and write a struct we own.
    let soft = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted.min(256);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    let room = usize::try_from(soft.saturating_sub(reserve).max(1)).unwrap_or(usize::MAX);
    wanted.min(room)
}

/// What every service task shares.
struct Shared {
    db: Option<&'static ProbeDb>,
    config: ScanConfig,
    connector: openssl::ssl::SslContext,
    host_timeout: Option<Duration>,
    trace: bool,
}

/// The runtime's loop: a task per job under the global and per-host caps,
/// until the jobs end and every task is done; Ctrl-C aborts them all.
async fn serve(
    shared: Arc<Shared>,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
    done: mpsc::Sender<Finished>,
    stop: Arc<AtomicBool>,
    parallelism: usize,
) {
    let (abort, aborted) = watch::channel(false);
    let global = Arc::new(Semaphore::new(parallelism));
    // Each host's connection cap, and its --host-timeout deadline, counted from its first service.
    let mut hosts: HashMap<IpAddr, (Arc<Semaphore>, Option<std::time::Instant>)> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut open = true;
    while open || !tasks.is_empty() {
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some(job) => {
                    let (host, deadline) = hosts
                        .entry(job.ip)
                        .or_insert_with(|| {
                            let deadline = shared.host_timeout.map(|t| std::time::Instant::now() + t);
                            (Arc::new(Semaphore::new(PER_HOST.min(parallelism))), deadline)
                        })
                        .clone();
                    let limits = driver::Limits { deadline, trace: shared.trace };
                    let (global, shared, done, aborted) =
                        (Arc::clone(&global), Arc::clone(&shared), done.clone(), aborted.clone());
                    tasks.spawn(async move {
                        let Ok(_host) = host.acquire_owned().await else { return };
                        let Ok(_slot) = global.acquire_owned().await else { return };
                        let _ = done.send(run(&shared, job, aborted, limits).await);
                    });
                }
                None => open = false,
            },
            _ = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) {
                    abort.send_replace(true);
                }
            }
        }
    }
}

async fn run(shared: &Shared, job: Job, aborted: watch::Receiver<bool>, limits: driver::Limits) -> Finished {
    let peer = SocketAddr::new(job.ip, job.port);
    if *aborted.borrow() {
        return Finished { job, result: None, banner: Banner::default(), interrupted: true };
    }
    let Some(db) = shared.db else {
        let banner = banner::grab(peer, &shared.connector, aborted.clone()).await;
        return Finished { job, result: None, banner, interrupted: *aborted.borrow() };
    };
    let protocol = service_protocol(job.protocol).unwrap_or(scry_service::Protocol::Tcp);
    // No DTLS: a UDP service that matches `dtls` ends as `dtls`, as with an
    // nmap built without DTLS.
    let config =
        ScanConfig { tls: shared.config.tls && protocol == scry_service::Protocol::Tcp, ..shared.config };
    let probed = driver::probe(db, config, peer, protocol, &shared.connector, aborted.clone(), limits).await;
    let interrupted = *aborted.borrow() && probed.result.outcome == scry_service::Outcome::Incomplete;
    Finished { job, result: Some(probed.result), banner: probed.banner, interrupted }
}

impl Sink for ServiceDetect {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.begin(info))
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.host_up(ip, reason, ttl))
    }

    fn port(&mut self, ip: IpAddr, port: u16, protocol: Protocol, result: &PortResult) -> io::Result<()> {
        if result.state == PortState::Open {
            self.submit(ip, port, protocol);
        }
        self.inner.iter_mut().try_for_each(|s| s.port(ip, port, protocol, result))
    }

    fn syn_ack(&mut self, ip: IpAddr, port: u16, frame: &scry_packet::Frame) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.syn_ack(ip, port, frame))
    }

    fn host_down(&mut self, ip: IpAddr) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.host_down(ip))
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let carried = self.carried.take(report.ip);
        if self.carried.only && carried.is_empty() {
            return Ok(()); // the stopped run reported it
        }
        if carried.is_empty() {
            return self.report(report);
        }
        let tables = carry::Tables::new(report.tables, &carried);
        let tables = tables.tables();
        self.report(&HostReport { tables: &tables, ..report.clone() })
    }

    fn os(&mut self, ip: IpAddr, os: &crate::output::OsReport<'_>) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.os(ip, os))
    }

    fn os_quick(&mut self, ip: IpAddr, guess: Option<&crate::output::QuickGuess<'_>>) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.os_quick(ip, guess))
    }

    fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        // Carried hosts the walk did not report (after a finished port scan, all of them).
        for (ip, carried) in self.carried.rest() {
            let tables = carry::Tables::new(&[], &carried);
            let tables = tables.tables();
            let report = HostReport {
                ip,
                mac: None,
                up_reason: Some((Reason::UserSet, None)),
                tables: &tables,
                services: &crate::output::NO_SERVICES,
            };
            self.report(&report)?;
        }
        // No more jobs: the runtime ends once its tasks are done.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        while let Ok(f) = self.done.try_recv() {
            self.record(f);
        }
        if self.stop.load(Ordering::Relaxed) {
            let mut out = self.unfinished_out.lock().expect("unfinished lock");
            out.extend(std::mem::take(&mut self.unfinished));
        }
        self.inner.iter_mut().try_for_each(|s| s.finish(stats))
    }
}

impl ServiceDetect {
    /// Versions `report`'s open ports and hands the report on with what was found.
    fn report(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        // Open ports missed live (none so far), and open|filtered ones (UDP,
        // and TCP after a FIN, NULL, Xmas or Maimon scan), as nmap probes them.
        for table in report.tables {
            let silent = table.silent_state();
            for &port in table.scanned {
                let state = table.ports.get(&port).map_or(silent, |r| r.state);
                if matches!(state, PortState::Open | PortState::OpenFiltered) {
                    self.submit(report.ip, port, table.protocol);
                }
            }
        }
        self.wait_for(report.ip);
        let mut services = self.found.remove(&report.ip).unwrap_or_default();
        if self.probed_any {
            // nmap names an excluded port "Excluded from version scan" when it
            // is set aside, and blanks it again when the group's results are
            // processed, which happens only if some service was probed
            // (service_scan.cc: remove_excluded_ports, then processResults).
            for service in services.values_mut() {
                if let Some(r) =
                    service.result.as_mut().filter(|r| r.outcome == scry_service::Outcome::Excluded)
                {
                    r.info.product = None;
                }
            }
        }
        // An open|filtered port that answered a version probe (UDP) or took
        // a connection (TCP) is open (nmap's adjustPortStateIfNecessary).
        let ports: Vec<BTreeMap<u16, PortResult>> = report
            .tables
            .iter()
            .map(|t| {
                let mut ports = t.ports.clone();
                let reason =
                    if t.protocol == Protocol::Udp { Reason::UdpResponse } else { Reason::TcpResponse };
                for ((protocol, port), s) in &services {
                    let answered = s.result.as_ref().is_some_and(|r| r.port_open);
                    let (state, ttl) = ports.get(port).map_or((t.silent, 0), |r| (r.state, r.ttl));
                    if *protocol == t.protocol && answered && state == PortState::OpenFiltered {
                        ports.insert(*port, PortResult { state: PortState::Open, reason, ttl });
                    }
                }
                ports
            })
            .collect();
        let tables: Vec<PortTable<'_>> =
            report.tables.iter().zip(&ports).map(|(t, ports)| PortTable { ports, ..*t }).collect();
        let report = HostReport { tables: &tables, services: &services, ..report.clone() };
        self.inner.iter_mut().try_for_each(|s| s.host(&report))
    }
}

#[cfg(test)]
mod tests;
