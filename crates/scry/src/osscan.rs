//! `scry -O`: nmap's OS detection for every host the SYN scan reports.
//!
//! [`OsDetect`] wraps the output sinks. It passes live events through,
//! holds the per-host reports until the SYN scan is over, then fingerprints
//! every held host at once (one send/receive loop; each host paced by its
//! own `scry_os::schedule::HostSchedule`, so 32 hosts take about as long as
//! one), and finally hands each host's report followed by its OS result to
//! the sinks. Like nmap it tries again, up to `--max-os-tries`, while no
//! reference matches perfectly (after two tries only if the conditions were
//! good), keeps the best try's matches, and prints the fingerprint merged
//! from every try ([`SubjectFingerprint::merge`]).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use scry_capture::{CaptureConfig, Interface, RawSender, Receiver};
use scry_os::compute::{compute, Computed, DistanceMethod, Exchange, Reply};
use scry_os::probes::{OsProbe, ProbeSet};
use scry_os::schedule::{HostSchedule, Timing};
use scry_os::{Database, Matcher, OsResult, ReportOptions, SubjectFingerprint, SubjectTest};
use scry_packet::{parse_frame, EthernetSpec, Mac};
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};

use crate::engine::NextHops;
use crate::output::{HostReport, OsReport, PortTable, PortsUsed, ScanInfo, ServiceTable, Sink, Stats};

/// How long one receive call may block, so every host's schedule is
/// polled at least this often.
const POLL: Duration = Duration::from_millis(2);

/// The most replies from one host that can wait in the capture between two
/// reads ([`POLL`] apart): a host gets at most one probe per 25 ms, and a
/// SYN-ACK may come twice. The capture buffer is sized by this, not by the
/// 16 probes a host gets in all.
pub const REPLIES_IN_FLIGHT: u64 = 2;

/// nmap stops after this many tries unless the fingerprint is fit to submit.
const STANDARD_TRIES: u32 = 2;

/// What OS detection needs from the resolved scan.
pub struct OsOptions {
    pub db: Database,
    pub iface: Interface,
    /// The scan's capture, which OS detection borrows once the port scan is done.
    pub capture: Arc<Mutex<Receiver>>,
    pub tx: RawSender,
    pub src: Ipv4Addr,
    pub src_mac: Mac,
    pub next_hops: NextHops,
    pub ttl: u8,
    pub max_tries: u32,
    pub osscan_guess: bool,
    /// `-d` or `-vv`: print the fingerprint after every result.
    pub always_fingerprint: bool,
    /// `-v` (or `-d`): say on stderr when a host is tried again.
    pub verbose: bool,
    /// `-d`: name more than 8 perfect matches too.
    pub debugging: bool,
    /// `--osscan-limit`: skip hosts without an open and a closed TCP port.
    pub limit: bool,
    /// Set by Ctrl-C/SIGTERM: finish the try with the replies so far.
    pub stop: Arc<AtomicBool>,
}

/// A host report held until OS detection is done.
struct Held {
    ip: IpAddr,
    mac: Option<Mac>,
    up_reason: Option<(Reason, Option<u8>)>,
    /// Per protocol scanned, an owned [`PortTable`].
    tables: Vec<HeldTable>,
    /// What -sV found.
    services: ServiceTable,
}

/// A [`PortTable`] held with its host.
struct HeldTable {
    protocol: Protocol,
    ports: BTreeMap<u16, PortResult>,
    scanned: Vec<u16>,
    silent: PortState,
}

impl Held {
    /// The first port of `protocol` found in `state`.
    fn first(&self, protocol: Protocol, state: PortState) -> Option<u16> {
        let table = self.tables.iter().find(|t| t.protocol == protocol)?;
        first_in_state(&table.ports, state)
    }
}

/// The sinks, with OS detection between the scan and the host reports.
pub struct OsDetect {
    inner: Vec<Box<dyn Sink>>,
    options: OsOptions,
    held: Vec<Held>,
}

impl OsDetect {
    pub fn new(inner: Vec<Box<dyn Sink>>, options: OsOptions) -> OsDetect {
        OsDetect { inner, options, held: Vec::new() }
    }
}

impl Sink for OsDetect {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.begin(info))
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.host_up(ip, reason, ttl))
    }

    fn port(&mut self, ip: IpAddr, port: u16, protocol: Protocol, result: &PortResult) -> io::Result<()> {
        self.inner.iter_mut().try_for_each(|s| s.port(ip, port, protocol, result))
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        self.held.push(Held {
            ip: report.ip,
            mac: report.mac,
            up_reason: report.up_reason,
            tables: report
                .tables
                .iter()
                .map(|t| HeldTable {
                    protocol: t.protocol,
                    ports: t.ports.clone(),
                    scanned: t.scanned.to_vec(),
                    silent: t.silent,
                })
                .collect(),
            services: report.services.clone(),
        });
        Ok(())
    }

    fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        let start = Instant::now();
        // The port scan's results are printed whatever happens to OS detection.
        let outcomes = detect(&self.options, &self.held, stats.interrupted).unwrap_or_else(|e| {
            eprintln!("scry: OS detection failed: {e:#}");
            HashMap::new()
        });
        let stats = Stats { duration: stats.duration + start.elapsed(), ..*stats };
        for held in &self.held {
            let tables: Vec<PortTable<'_>> = held
                .tables
                .iter()
                .map(|t| PortTable {
                    protocol: t.protocol,
                    ports: &t.ports,
                    scanned: &t.scanned,
                    silent: t.silent,
                })
                .collect();
            let report = HostReport {
                ip: held.ip,
                mac: held.mac,
                up_reason: held.up_reason,
                tables: &tables,
                services: &held.services,
            };
            let outcome = outcomes.get(&held.ip);
            for sink in &mut self.inner {
                sink.host(&report)?;
                let os = match outcome {
                    Some(o) => OsReport::Done {
                        result: &o.result,
                        fingerprint: &o.fingerprint,
                        sequence: o.last_seq.as_ref(),
                        options: &o.report,
                        distance: o.computed.distance,
                        ports_used: o.ports_used,
                    },
                    None => OsReport::Skipped,
                };
                sink.os(held.ip, &os)?;
            }
        }
        self.inner.iter_mut().try_for_each(|s| s.finish(&stats))
    }
}

/// One host's best try.
struct Outcome {
    computed: Computed,
    ports_used: PortsUsed,
    result: OsResult,
    /// The SCAN line and tests; once all tries are done, the tests of every
    /// try merged.
    fingerprint: SubjectFingerprint,
    /// Once all tries are done, the last try's SEQ test.
    last_seq: Option<SubjectTest>,
    report: ReportOptions,
}

impl Outcome {
    fn perfect(&self) -> bool {
        self.result.perfect > 0
    }

    fn accuracy(&self) -> f64 {
        self.result.matches.first().map_or(0.0, |m| m.accuracy)
    }
}

/// A host to fingerprint.
struct Target {
    ip: Ipv4Addr,
    mac: Mac,
    open: Option<u16>,
    /// The port T5-T7 go to: a closed one, else an unfiltered one.
    closed: Option<u16>,
    /// A port the scan found closed (nmap's `osscan_closedtcpport`): an
    /// unfiltered one stands in for the probes but is not reported as
    /// used, and T5-T7 to it count as to a guessed port.
    closed_known: Option<u16>,
    /// A UDP port the scan found closed, or else the port of the first try
    /// U1 answered; used by later tries and reported (nmap's
    /// `osscan_closedudpport`).
    closed_udp: Cell<Option<u16>>,
}

fn first_in_state(ports: &BTreeMap<u16, PortResult>, state: PortState) -> Option<u16> {
    ports.iter().find(|(_, r)| r.state == state).map(|(p, _)| *p)
}

/// Fingerprints every up host; hosts left out (IPv6, no next hop,
/// `--osscan-limit`, an interrupted scan) get no entry.
fn detect(options: &OsOptions, held: &[Held], interrupted: bool) -> anyhow::Result<HashMap<IpAddr, Outcome>> {
    let mut targets = Vec::new();
    for h in held {
        let IpAddr::V4(ip) = h.ip else { continue };
        let Some(mac) = options.next_hops.get(h.ip) else { continue };
        // OS detection's TCP probes want an open and a closed TCP port (an
        // unfiltered one will do, as after an ACK scan), and U1 a closed
        // UDP port when the scan found one (as nmap).
        let open = h.first(Protocol::Tcp, PortState::Open);
        let closed_known = h.first(Protocol::Tcp, PortState::Closed);
        let closed = closed_known.or_else(|| h.first(Protocol::Tcp, PortState::Unfiltered));
        let closed_udp = h.first(Protocol::Udp, PortState::Closed);
        if interrupted || (options.limit && (open.is_none() || closed.is_none())) {
            continue;
        }
        targets.push(Target { ip, mac, open, closed, closed_known, closed_udp: Cell::new(closed_udp) });
    }
    let mut best: HashMap<IpAddr, Outcome> = HashMap::new();
    let mut tries: HashMap<IpAddr, Vec<SubjectFingerprint>> = HashMap::new();
    let mut pending: Vec<&Target> = targets.iter().collect();
    for attempt in 1..=options.max_tries.max(1) {
        if pending.is_empty() || (attempt > 1 && options.stop.load(Ordering::Relaxed)) {
            break;
        }
        if attempt > 1 && options.verbose {
            for target in &pending {
                eprintln!("Retrying OS detection (try #{attempt}) against {}", target.ip);
            }
        }
        let exchanges = one_try(options, &pending)?;
        for (target, exchange) in pending.iter().zip(exchanges) {
            let outcome = evaluate(options, target, &exchange);
            tries.entry(IpAddr::V4(target.ip)).or_default().push(outcome.computed.fingerprint.clone());
            if attempt > 1 && outcome.perfect() && options.verbose {
                eprintln!("WARNING: OS didn't match until try #{attempt}");
            }
            let better = best.get(&IpAddr::V4(target.ip)).map_or(true, |b| outcome.accuracy() > b.accuracy());
            if better {
                best.insert(IpAddr::V4(target.ip), outcome);
            }
        }
        pending.retain(|t| {
            let b = &best[&IpAddr::V4(t.ip)];
            !b.perfect() && (attempt < STANDARD_TRIES || b.report.omit_reason.is_none())
        });
    }
    // Matched on the best try, printed merged from all of them (with the
    // best try's SCAN line but the UDP port found by any), as nmap prints it.
    for target in &targets {
        let ip = IpAddr::V4(target.ip);
        let Some(outcome) = best.get_mut(&ip) else { continue };
        outcome.fingerprint.tests = SubjectFingerprint::merge(&tries[&ip]).tests;
        outcome.last_seq = tries[&ip].last().and_then(|fp| fp.test("SEQ")).cloned();
        outcome.ports_used.closed_udp = target.closed_udp.get();
        let cu = target.closed_udp.get().map_or(String::new(), |p| p.to_string());
        let scan = outcome.fingerprint.scan.iter_mut().flat_map(|s| s.attrs.iter_mut());
        scan.filter(|(a, _)| a == "CU").for_each(|(_, v)| *v = cu.clone());
    }
    Ok(best)
}

/// Computes, matches and describes one try's exchange with `target`.
fn evaluate(options: &OsOptions, target: &Target, exchange: &Exchange) -> Outcome {
    let computed = compute(exchange);
    let result = Matcher::new(&options.db).match_subject(&computed.fingerprint);
    let report = ReportOptions {
        osscan_guess: options.osscan_guess,
        omit_reason: computed.poor_conditions.first().cloned(),
        unreliable: target.open.is_none() || target.closed.is_none(),
        always_fingerprint: options.always_fingerprint,
        debugging: options.debugging,
    };
    if computed.fingerprint.test("U1").is_some_and(|t| t.get("R") == Some("Y"))
        && target.closed_udp.get().is_none()
    {
        target.closed_udp.set(Some(exchange.set.closed_udp));
    }
    let mut fingerprint = computed.fingerprint.clone();
    fingerprint.scan = Some(scan_test(target, exchange, &computed));
    let ports_used = PortsUsed {
        open_tcp: target.open,
        closed_tcp: target.closed_known,
        closed_udp: target.closed_udp.get(),
    };
    Outcome { computed, ports_used, result, fingerprint, last_seq: None, report }
}

/// nmap's informational `SCAN(...)` test, with scry's version.
fn scan_test(target: &Target, exchange: &Exchange, computed: &Computed) -> SubjectTest {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let (month, day) = month_day(now / 86_400);
    let port = |p: Option<u16>| p.map_or(String::new(), |p| p.to_string());
    let dc = match computed.distance_method {
        Some(DistanceMethod::Known) if computed.distance == Some(0) => "L",
        Some(DistanceMethod::Known) => "D",
        Some(DistanceMethod::Icmp) => "I",
        Some(DistanceMethod::Guess) | None => "G",
    };
    let mut attrs = vec![
        ("V", env!("CARGO_PKG_VERSION").to_owned()),
        ("E", "4".to_owned()),
        ("D", format!("{month}/{day}")),
        ("OT", port(target.open)),
        ("CT", port(target.closed_known)),
        ("CU", port(target.closed_udp.get())),
        ("PV", if target.ip.is_private() { "Y" } else { "N" }.to_owned()),
        ("DS", computed.distance.map_or(String::new(), |d| d.to_string())),
        ("DC", dc.to_owned()),
        ("G", if computed.poor_conditions.is_empty() { "Y" } else { "N" }.to_owned()),
    ];
    if exchange.known_distance == Some(1) {
        attrs.push(("M", format!("{:02X}{:02X}{:02X}", target.mac.0[0], target.mac.0[1], target.mac.0[2])));
    }
    attrs.push(("TM", format!("{now:X}")));
    attrs.push(("P", format!("{}-unknown-{}", std::env::consts::ARCH, std::env::consts::OS)));
    SubjectTest::new("SCAN", attrs)
}

/// Month and day of a day count since 1970-01-01 (civil-from-days).
fn month_day(days: u64) -> (u32, u32) {
    let z = days as i64 + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month as u32, day as u32)
}

/// One host's live state during a try.
struct Live {
    set: ProbeSet,
    eth: EthernetSpec,
    schedule: HostSchedule,
    replies: Vec<Reply>,
    closed_tcp_guessed: bool,
}

/// Sends every target its probes and collects the replies; one exchange
/// per target, in order.
fn one_try(options: &OsOptions, targets: &[&Target]) -> anyhow::Result<Vec<Exchange>> {
    let filter = format!("ip and dst host {} and (icmp or tcp)", options.src);
    // Whole frames (RD is the CRC-32 of all of a reset's data): the
    // capture was opened with wire::SNAPLEN.
    let capture = CaptureConfig { filter, timeout: POLL, ..CaptureConfig::default() };
    let mut rx = options.capture.lock().expect("capture lock");
    rx.configure(&capture)?;
    let tx = &options.tx;
    let link = rx.link_type();
    let clock = Instant::now();
    let mut lives: Vec<Live> = targets.iter().map(|t| live(options, t, clock.elapsed())).collect();
    let index: HashMap<IpAddr, usize> =
        targets.iter().enumerate().map(|(i, t)| (IpAddr::V4(t.ip), i)).collect();
    let mut last_send = None;
    let mut failed = None;
    while lives.iter().any(|l| !l.schedule.is_done()) && !options.stop.load(Ordering::Relaxed) {
        // What is due is sent once every reply captured so far has been
        // handled (when a read finds nothing waiting), so that a stall of
        // this process cannot make a probe whose reply is waiting look
        // unanswered and be resent (nmap then leaves II out, and the
        // fingerprint would depend on the machine's load); and at least
        // every POLL while replies keep coming.
        if last_send.map_or(true, |t| clock.elapsed() >= t + POLL) {
            send_due(&mut lives, tx, clock.elapsed())?;
            last_send = Some(clock.elapsed());
        }
        let next = rx.next_frame_or_drained(|_| {
            if failed.is_none() {
                failed = send_due(&mut lives, tx, clock.elapsed()).err();
                last_send = Some(clock.elapsed());
            }
        })?;
        if let Some(e) = failed.take() {
            return Err(e);
        }
        let Some(frame) = next else { continue };
        let Ok(parsed) = parse_frame(link, frame.data) else { continue };
        let Some(&i) = parsed.ip().and_then(|ip| index.get(&ip.header.src)) else { continue };
        let l = &mut lives[i];
        if let Some(probe) = l.set.classify(&parsed) {
            l.replies.push(Reply { probe, frame: parsed, after_resend: l.schedule.sends(probe) > 1 });
            l.schedule.on_reply(probe, clock.elapsed());
        }
    }
    // nmap knows the distance of localhost (0) and of a directly connected host (1).
    let known = |ip: Ipv4Addr| {
        if options.iface.is_loopback {
            Some(0)
        } else {
            options.next_hops.direct(ip.into()).map(|_| 1)
        }
    };
    Ok(lives
        .into_iter()
        .zip(targets)
        .map(|(l, t)| Exchange {
            set: l.set,
            seq_sent_us: l.schedule.seq_sent_us(),
            replies: l.replies,
            known_distance: known(t.ip),
            localhost: options.iface.is_loopback,
            closed_tcp_guessed: l.closed_tcp_guessed,
        })
        .collect())
}

/// Sends every probe due at `now`, host by host.
fn send_due(lives: &mut [Live], tx: &RawSender, now: Duration) -> anyhow::Result<()> {
    for l in lives {
        while let Some(probe) = l.schedule.poll(now) {
            tx.send(&l.set.frame(probe, &l.eth)?)?;
        }
    }
    Ok(())
}

/// Fresh random choices for one host's try, as nmap makes them.
fn live(options: &OsOptions, t: &Target, now: Duration) -> Live {
    let set = ProbeSet {
        src: options.src,
        dst: t.ip,
        open_tcp: t.open,
        // Without a known closed port nmap tries one that is probably closed.
        closed_tcp: t.closed.or_else(|| Some(rand::random_range(30000..=44780))),
        // nmap picks a random one from 30000-44780 until U1 finds one closed.
        closed_udp: t.closed_udp.get().unwrap_or_else(|| rand::random_range(30000..=44780)),
        tcp_port_base: rand::random_range(33000..=60000),
        udp_port: rand::random_range(33000..=60000),
        seq_base: rand::random(),
        ack: rand::random(),
        icmp_id: rand::random(),
        ttl: options.ttl,
        // nmap: (time % 14) + 51 when no TTL is given.
        udp_ttl: if options.ttl == 64 { 51 + (rand::random_range(0..14)) } else { options.ttl },
        ip_id: rand::random(),
    };
    let eth = EthernetSpec { src: options.src_mac, dst: t.mac };
    let schedule = HostSchedule::new(Timing::default(), t.open.is_some(), true, now);
    // The whole probe list is fixed up front; make sure it builds.
    debug_assert!(OsProbe::all().iter().all(|p| set.frame(*p, &eth).is_ok()));
    Live { set, eth, schedule, replies: Vec::new(), closed_tcp_guessed: t.closed_known.is_none() }
}
