//! The scan engine: a sender thread walking the permutation, a receiver
//! thread on libpcap, and the calling thread recording results and feeding
//! the output sinks as replies arrive.
//!
//! Nothing here grows with the number of probes: the sender computes each
//! probe from its position in the walk, the receiver validates replies by
//! their cookie, and only answers are stored. A retry pass walks the
//! permutation again and skips pairs that have answered; how many passes
//! run follows nmap's retransmission rule (see `scry_probe::retry`), and the
//! scan ends as soon as every probed pair has answered.

use crate::dump::DumpTap;
use crate::output::{Fanout, HostReport, ScanInfo, Sink, Stats};
use scry_capture::{RawSender, Receiver};
use scry_packet::{parse_frame, Mac};
use scry_probe::permute::Permutation;
use scry_probe::rate::TokenBucket;
use scry_probe::results::{Recorded, Results};
use scry_probe::retry;
use scry_probe::state::Reason;
use scry_probe::syn::{SynProbe, Verdict};
use scry_probe::targets::TargetSet;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Frames handed to the kernel per `sendmmsg`.
const BATCH: usize = scry_capture::MAX_BATCH;

/// How often the first pass's progress is handed to [`Hooks::checkpoint`].
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Optional extras around a scan.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Gets a copy of every frame sent and received (`--pcap`).
    pub tap: Option<DumpTap>,
    /// Called from the calling thread with the first pass's progress: every
    /// position of the walk below the one given has been probed. Called every
    /// [`CHECKPOINT_EVERY`] while the first pass runs, and once more if the
    /// scan is stopped (Ctrl-C, SIGTERM).
    pub checkpoint: Option<Box<dyn FnMut(u64) + 'a>>,
}

/// Where frames for each target go on the link.
#[derive(Clone, Debug)]
pub enum NextHops {
    /// One next hop (a router, or loopback) for every target.
    All(Mac),
    /// Directly connected targets, each its own next hop; targets missing
    /// from the map did not answer ARP and are not probed.
    PerHost(HashMap<Ipv4Addr, Mac>),
}

impl NextHops {
    fn get(&self, ip: Ipv4Addr) -> Option<Mac> {
        match self {
            NextHops::All(mac) => Some(*mac),
            NextHops::PerHost(map) => map.get(&ip).copied(),
        }
    }

    /// The MAC address of a directly connected target (none for routed ones).
    fn direct(&self, ip: IpAddr) -> Option<Mac> {
        match (self, ip) {
            (NextHops::PerHost(map), IpAddr::V4(v4)) => map.get(&v4).copied(),
            _ => None,
        }
    }
}

/// Everything the engine needs, resolved before the first packet.
pub struct Plan {
    pub targets: TargetSet,
    pub ports: Vec<u16>,
    pub permutation: Permutation,
    /// This shard's positions in the walk.
    pub positions: Range<u64>,
    pub next_hops: NextHops,
    pub probe: SynProbe,
    pub rate: f64,
    pub retries: u32,
    pub wait: Duration,
    /// Report hosts that never answered (-Pn).
    pub report_silent_hosts: bool,
    pub info: ScanInfo,
}

enum Event {
    Answer { host: IpAddr, port: u16, result: scry_probe::results::PortResult },
}

/// Why the sender stops early: Ctrl-C or SIGTERM (`user`), or the main
/// thread giving up on an error (`abort`).
#[derive(Clone, Copy)]
struct Stopping<'a> {
    user: &'a AtomicBool,
    abort: &'a AtomicBool,
}

impl Stopping<'_> {
    fn now(self) -> bool {
        self.user.load(Ordering::Relaxed) || self.abort.load(Ordering::Acquire)
    }
}

/// Nanosecond stamps not yet taken.
const UNSET: u64 = u64::MAX;

/// What the sender and receiver threads count while the scan runs; the
/// caller owns them so that a progress display can read them meanwhile.
pub struct Counters {
    pub sent: AtomicU64,
    send_errors: AtomicU64,
    rejected: AtomicU64,
    /// Nanoseconds since the scan started at which the last valid reply arrived.
    last_reply_ns: AtomicU64,
    /// Nanoseconds since the scan started at which the first probe left and
    /// the first valid reply arrived ([`UNSET`] until then).
    first_send_ns: AtomicU64,
    first_reply_ns: AtomicU64,
    /// The pass being sent or listened to: 0 first, then retries.
    pass: AtomicU32,
    /// One more than the highest pass during which a pair first answered; 0 for none.
    best_pass: AtomicU32,
    /// Pairs probed by the first pass, and pairs answered so far.
    probed: AtomicU64,
    answered: AtomicU64,
    /// How far the first pass has come: this shard's end once it is done,
    /// an earlier position while it runs or after Ctrl-C. From the shard's
    /// start up to here, every position was probed at least once.
    first_pass_end: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            sent: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            last_reply_ns: AtomicU64::new(0),
            first_send_ns: AtomicU64::new(UNSET),
            first_reply_ns: AtomicU64::new(UNSET),
            pass: AtomicU32::new(0),
            best_pass: AtomicU32::new(0),
            probed: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            first_pass_end: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Every pair the first pass probed has answered: nothing is left to hear.
    fn all_answered(&self) -> bool {
        let probed = self.probed.load(Ordering::Acquire);
        probed > 0 && self.answered.load(Ordering::Acquire) >= probed
    }

    /// Records a pair's first answer, crediting the pass under way.
    fn first_answer(&self) {
        let pass = self.pass.load(Ordering::Acquire);
        self.best_pass.fetch_max(pass.saturating_add(1), Ordering::AcqRel);
        self.answered.fetch_add(1, Ordering::AcqRel);
    }

    /// The highest pass during which a pair first answered.
    fn best_pass(&self) -> Option<u32> {
        self.best_pass.load(Ordering::Acquire).checked_sub(1)
    }

    /// From the first probe to the first reply: an upper bound on that reply's round trip.
    fn rtt_bound(&self) -> Option<Duration> {
        let sent = self.first_send_ns.load(Ordering::Acquire);
        let replied = self.first_reply_ns.load(Ordering::Acquire);
        (sent != UNSET && replied != UNSET).then(|| Duration::from_nanos(replied.saturating_sub(sent)))
    }
}

/// Runs the scan to completion (or until `stop`), feeding `sinks` and
/// counting in `counters` (fresh ones: they start at zero).
///
/// # Errors
/// Capture or send failures, and output write failures.
pub fn run(
    plan: &Plan,
    mut rx: Receiver,
    tx: RawSender,
    sinks: &mut [Box<dyn Sink>],
    stop: &AtomicBool,
    counters: &Counters,
    mut hooks: Hooks<'_>,
) -> anyhow::Result<Stats> {
    let start = Instant::now();
    let mut sinks = Fanout::new(sinks);
    sinks.each(|s| s.begin(&plan.info));
    let results = Mutex::new(Results::default());
    counters.first_pass_end.store(plan.positions.start, Ordering::Relaxed);
    let sending_done = AtomicBool::new(false);
    let receiving_done = AtomicBool::new(false);
    let (events_tx, events) = mpsc::channel::<Event>();
    let mut stats = Stats { hosts_scanned: plan.targets.len(), ..Stats::default() };
    // On a directly connected subnet, answering ARP already shows a host is up (as nmap's ARP ping).
    let mut up: HashMap<IpAddr, (Reason, Option<u8>)> = HashMap::new();
    if let NextHops::PerHost(macs) = &plan.next_hops {
        let mut arp_up: Vec<Ipv4Addr> = macs.keys().copied().collect();
        arp_up.sort();
        for ip in arp_up {
            up.insert(ip.into(), (Reason::ArpResponse, None));
            sinks.each(|s| s.host_up(ip.into(), Reason::ArpResponse, None));
        }
    }

    let abort = AtomicBool::new(false);
    let stopping = Stopping { user: stop, abort: &abort };
    let rx_tap = hooks.tap.clone();
    let tx_tap = hooks.tap.take();
    let capture = std::thread::scope(|scope| -> anyhow::Result<scry_capture::CaptureStats> {
        let receiver = scope
            .spawn(|| receive(plan, &mut rx, events_tx, counters, &receiving_done, start, rx_tap.as_ref()));
        let sender = scope.spawn(|| {
            let outcome = send(plan, &tx, &results, counters, stopping, start, tx_tap.as_ref());
            sending_done.store(true, Ordering::Release);
            outcome
        });

        let mut cooldown_from: Option<Instant> = None;
        let mut next_checkpoint = Instant::now() + CHECKPOINT_EVERY;
        let mut feed = || {
            loop {
                // An output that fails (say, a closed pipe) stops the scan as
                // Ctrl-C does: no more probes, the cooldown for the replies in
                // flight, and the other outputs completed below.
                if sinks.failed() {
                    abort.store(true, Ordering::Release);
                }
                if let Some(checkpoint) = hooks.checkpoint.as_mut() {
                    if Instant::now() >= next_checkpoint && !sending_done.load(Ordering::Acquire) {
                        let position = counters.first_pass_end.load(Ordering::Relaxed);
                        checkpoint(position);
                        next_checkpoint = Instant::now() + CHECKPOINT_EVERY;
                    }
                }
                match events.recv_timeout(Duration::from_millis(20)) {
                    Ok(Event::Answer { host, port, result }) => {
                        stats.received += 1;
                        let recorded = results.lock().expect("results lock").record(host, port, result);
                        // No `continue` for duplicates: the end-of-scan check
                        // below must run however fast (re)sent answers arrive.
                        if recorded == Recorded::Duplicate {
                            stats.duplicates += 1;
                        } else {
                            counters.first_answer();
                            if let std::collections::hash_map::Entry::Vacant(e) = up.entry(host) {
                                e.insert((result.reason, Some(result.ttl)));
                                sinks.each(|s| s.host_up(host, result.reason, Some(result.ttl)));
                            }
                            sinks.each(|s| s.port(host, port, &result));
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if sending_done.load(Ordering::Acquire) {
                    let from = *cooldown_from.get_or_insert_with(Instant::now);
                    if from.elapsed() >= plan.wait || counters.all_answered() {
                        receiving_done.store(true, Ordering::Release);
                    }
                }
            }
        };
        feed();
        // However feeding ended (an output error such as a closed pipe, or
        // the receiver failing), both threads must stop or the scope never
        // joins them; after a normal end they have already.
        abort.store(true, Ordering::Release);
        receiving_done.store(true, Ordering::Release);
        let sent = sender.join().expect("sender thread panicked");
        let received = receiver.join().expect("receiver thread panicked");
        sent?;
        received
    })?;

    stats.sent = counters.sent.load(Ordering::Relaxed);
    stats.send_errors = counters.send_errors.load(Ordering::Relaxed);
    stats.rejected = counters.rejected.load(Ordering::Relaxed);
    stats.capture_dropped = u64::from(capture.dropped);
    stats.interface_dropped = u64::from(capture.if_dropped);
    stats.interrupted = stop.load(Ordering::Relaxed);
    if let (true, Some(checkpoint)) = (stats.interrupted, hooks.checkpoint.as_mut()) {
        checkpoint(counters.first_pass_end.load(Ordering::Relaxed));
    }
    // With -Pn every target is reported up, as nmap counts them.
    stats.hosts_up = if plan.report_silent_hosts { plan.targets.len() } else { up.len() as u64 };
    let results = results.into_inner().expect("results lock");
    let probed = plan.positions.start..counters.first_pass_end.load(Ordering::Relaxed);
    report_hosts(plan, &results, &up, probed, &mut sinks);
    stats.duration = start.elapsed();
    sinks.each(|s| s.finish(&stats));
    sinks.into_result()?;
    Ok(stats)
}

/// The ports of `ip` whose probes sit at `probed` positions of the walk: all
/// of them for a whole, finished scan, fewer for a shard or after Ctrl-C,
/// whose other ports were never probed and so are not "no-response".
fn probed_ports<'a>(plan: &'a Plan, ip: IpAddr, probed: &Range<u64>) -> Cow<'a, [u16]> {
    if *probed == (0..plan.permutation.len()) {
        return Cow::Borrowed(&plan.ports);
    }
    let IpAddr::V4(v4) = ip else { return Cow::Owned(Vec::new()) };
    let Some(host) = plan.targets.index_of(v4) else { return Cow::Owned(Vec::new()) };
    let first = host * plan.ports.len() as u64;
    let ports = plan
        .ports
        .iter()
        .zip(first..)
        .filter(|(_, index)| probed.contains(&plan.permutation.position_of(*index)));
    Cow::Owned(ports.map(|(port, _)| *port).collect())
}

fn report_hosts(
    plan: &Plan,
    results: &Results,
    up: &HashMap<IpAddr, (Reason, Option<u8>)>,
    probed: Range<u64>,
    sinks: &mut Fanout<'_>,
) {
    let empty = Default::default();
    let report = |ip: IpAddr, sinks: &mut Fanout<'_>| {
        let ports = results.host(ip).map_or(&empty, |h| &h.ports);
        let scanned = probed_ports(plan, ip, &probed);
        let mac = plan.next_hops.direct(ip);
        let host = HostReport { ip, mac, up_reason: up.get(&ip).copied(), ports, scanned: &scanned };
        sinks.each(|s| s.host(&host));
    };
    if plan.report_silent_hosts {
        for ip in plan.targets.iter() {
            report(ip.into(), sinks);
        }
    } else {
        let mut hosts: Vec<IpAddr> = up.keys().copied().collect();
        hosts.sort();
        for ip in hosts {
            report(ip, sinks);
        }
    }
}

/// The receiver thread: parse every frame once, classify, forward answers.
fn receive(
    plan: &Plan,
    rx: &mut Receiver,
    events: mpsc::Sender<Event>,
    counters: &Counters,
    done: &AtomicBool,
    start: Instant,
    tap: Option<&DumpTap>,
) -> anyhow::Result<scry_capture::CaptureStats> {
    let link = rx.link_type();
    while !done.load(Ordering::Acquire) {
        let Some(frame) = rx.next_frame()? else { continue };
        if let Some(tap) = tap {
            tap.received(frame.timestamp, frame.data, frame.wire_len);
        }
        let Ok(parsed) = parse_frame(link, frame.data) else {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match plan.probe.classify(&parsed) {
            Verdict::Port { host, port, result } => {
                let now = start.elapsed().as_nanos() as u64;
                counters.last_reply_ns.store(now, Ordering::Relaxed);
                let _ =
                    counters.first_reply_ns.compare_exchange(UNSET, now, Ordering::AcqRel, Ordering::Relaxed);
                // The main thread only leaves once this thread is done, so a send cannot fail.
                let _ = events.send(Event::Answer { host, port, result });
            }
            Verdict::Invalid => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Unrelated => {}
        }
    }
    Ok(rx.stats()?)
}

/// The sender thread: walk this shard's positions once per pass at the rate.
fn send(
    plan: &Plan,
    tx: &RawSender,
    results: &Mutex<Results>,
    counters: &Counters,
    stopping: Stopping<'_>,
    start: Instant,
    tap: Option<&DumpTap>,
) -> anyhow::Result<()> {
    let frame_len = plan.probe.frame_len();
    let mut buf = vec![0u8; frame_len * BATCH];
    let nports = plan.ports.len() as u64;
    let mut bucket = TokenBucket::new(plan.rate, BATCH as u32, Instant::now());
    for pass in 0..=plan.retries {
        if pass > 0 {
            wait_for_quiet(counters, start, plan.wait, stopping);
            if counters.all_answered() || !retry::pass_allowed(pass, plan.retries, counters.best_pass()) {
                break;
            }
            counters.pass.store(pass, Ordering::Release);
        }
        let answered: Option<HashSet<(IpAddr, u16)>> =
            (pass > 0).then(|| results.lock().expect("results lock").pairs().collect());
        let mut walk = plan.permutation.walk(plan.positions.clone());
        let mut exhausted = false;
        while !exhausted {
            if stopping.now() {
                return Ok(());
            }
            let granted = bucket.take(Instant::now(), BATCH as u32) as usize;
            if granted == 0 {
                pace(bucket.wait());
                continue;
            }
            let mut n = 0;
            while n < granted {
                let Some(index) = walk.next() else {
                    exhausted = true;
                    break;
                };
                let Some(ip) = plan.targets.get(index / nports) else { continue };
                let port = plan.ports[(index % nports) as usize];
                if answered.as_ref().is_some_and(|a| a.contains(&(IpAddr::V4(ip), port))) {
                    continue;
                }
                let Some(mac) = plan.next_hops.get(ip) else { continue };
                let ip_id = (index as u16) ^ (index >> 16) as u16;
                plan.probe.write(
                    ip.into(),
                    port,
                    mac,
                    ip_id,
                    &mut buf[n * frame_len..(n + 1) * frame_len],
                )?;
                n += 1;
            }
            bucket.give_back((granted - n) as u32);
            if pass == 0 {
                counters.probed.fetch_add(n as u64, Ordering::AcqRel);
                let now = start.elapsed().as_nanos() as u64;
                let _ =
                    counters.first_send_ns.compare_exchange(UNSET, now, Ordering::AcqRel, Ordering::Relaxed);
            }
            send_all(tx, &buf[..n * frame_len], frame_len, counters);
            if let Some(tap) = tap {
                tap.sent(&buf[..n * frame_len], frame_len);
            }
            if pass == 0 {
                counters.first_pass_end.store(walk.remaining().start, Ordering::Relaxed);
            }
        }
        if pass == 0 {
            counters.first_pass_end.store(plan.positions.end, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Sends every frame in `frames`, retrying while the kernel's queue is full.
fn send_all(tx: &RawSender, frames: &[u8], frame_len: usize, counters: &Counters) {
    let mut list: Vec<&[u8]> = frames.chunks_exact(frame_len).collect();
    let mut attempts = 0;
    while !list.is_empty() {
        match tx.send_batch(&list) {
            Ok(sent) => {
                counters.sent.fetch_add(sent as u64, Ordering::Relaxed);
                list.drain(..sent);
                if sent == 0 {
                    attempts += 1;
                }
            }
            Err(_) => {
                attempts += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        if attempts > 100 {
            counters.send_errors.fetch_add(list.len() as u64, Ordering::Relaxed);
            return;
        }
    }
}

/// Sleeps for short waits by spinning: thread::sleep overshoots by ~50 µs.
fn pace(wait: Duration) {
    if wait > Duration::from_micros(200) {
        std::thread::sleep(wait - Duration::from_micros(100));
    } else {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
}

/// Before a retry pass: wait until no reply has come for the quiet period
/// (a few round trips, see [`retry::quiet_period`]), at most `limit`.
fn wait_for_quiet(counters: &Counters, start: Instant, limit: Duration, stopping: Stopping<'_>) {
    let begin = Instant::now();
    loop {
        let quiet = retry::quiet_period(counters.rtt_bound());
        let last = Duration::from_nanos(counters.last_reply_ns.load(Ordering::Relaxed));
        let since_reply = start.elapsed().saturating_sub(last);
        let waited = begin.elapsed();
        if (waited >= quiet && since_reply >= quiet)
            || waited >= limit
            || stopping.now()
            || counters.all_answered()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
