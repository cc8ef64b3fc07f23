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

use crate::adaptive::{Control, Gauge, Shown};
use crate::dump::DumpTap;
use crate::output::{Fanout, ScanInfo, Stats};
use crate::pacing::{paced_pass, Arrivals, Scan};
use scry_capture::{CaptureConfig, Receiver, SendStats, Sender};
use scry_packet::{parse_frame, Frame, Mac};
use scry_probe::permute::Permutation;
use scry_probe::probe::Probe;
use scry_probe::rate::TokenBucket;
use scry_probe::results::{Recorded, Results};
use scry_probe::retry;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};
use scry_probe::syn::Verdict;
use scry_probe::targets::TargetSet;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Probes taken from the token bucket, written and handed to the kernel at once.
const BATCH: usize = scry_capture::MAX_BATCH;

/// How often the first pass's progress is handed to [`Hooks::checkpoint`].
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Optional extras around a scan.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Gets a copy of every frame sent and received (`--pcap`).
    pub tap: Option<DumpTap>,
    /// Called from the calling thread with a phase's number ([`Plan::phase`])
    /// and its first pass's progress: every position of that phase's walk
    /// below the one given has been probed. Called every [`CHECKPOINT_EVERY`]
    /// while the first pass runs, once more if the scan is stopped (Ctrl-C,
    /// SIGTERM), and, once it has been called, as each later phase starts.
    pub checkpoint: Option<Box<dyn FnMut(u32, u64) + 'a>>,
    /// Answers Neighbor Solicitations for an IPv6 source the kernel does
    /// not own (a spoofed -S), so that targets can reply to it.
    pub neighbors: Option<Neighbors<'a>>,
}

/// The solicitations a scan answers itself, and the sender it answers on.
pub struct Neighbors<'a> {
    pub responder: scry_capture::NdResponder,
    pub tx: &'a scry_capture::RawSender,
}

/// Where frames for each target go on the link.
#[derive(Clone, Debug)]
pub enum NextHops {
    /// One next hop (a router, or loopback) for every target.
    All(Mac),
    /// Each target its own next hop: directly connected targets their own
    /// MAC, routed ones their router's. Targets in neither map did not
    /// answer ARP (or discovery) and are not probed.
    PerHost { direct: HashMap<IpAddr, Mac>, routed: HashMap<IpAddr, Mac> },
    /// A scan of IPv4 and IPv6 targets: each family's next hops.
    ByFamily { v4: Box<NextHops>, v6: Box<NextHops> },
}

impl NextHops {
    pub(crate) fn get(&self, ip: IpAddr) -> Option<Mac> {
        match self {
            NextHops::All(mac) => Some(*mac),
            NextHops::PerHost { direct, routed } => direct.get(&ip).or_else(|| routed.get(&ip)).copied(),
            NextHops::ByFamily { .. } => self.family(ip).get(ip),
        }
    }

    /// Of a scan of both families, the next hops of `ip`'s.
    fn family(&self, ip: IpAddr) -> &NextHops {
        match self {
            NextHops::ByFamily { v4, .. } if ip.is_ipv4() => v4,
            NextHops::ByFamily { v6, .. } => v6,
            _ => self,
        }
    }

    /// How many targets have a next hop, when only some do.
    pub(crate) fn reachable(&self) -> Option<usize> {
        match self {
            NextHops::All(_) => None,
            NextHops::PerHost { direct, routed } => Some(direct.len() + routed.len()),
            NextHops::ByFamily { v4, v6 } => match (v4.reachable(), v6.reachable()) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            },
        }
    }

    /// The MAC address of a directly connected target (none for routed ones).
    pub(crate) fn direct(&self, ip: IpAddr) -> Option<Mac> {
        match self {
            NextHops::PerHost { direct, .. } => direct.get(&ip).copied(),
            NextHops::All(_) => None,
            NextHops::ByFamily { .. } => self.family(ip).direct(ip),
        }
    }

    /// The directly connected targets that answered ARP.
    pub(crate) fn direct_hosts(&self) -> Vec<IpAddr> {
        let mut hosts: Vec<IpAddr> = match self {
            NextHops::PerHost { direct, .. } => direct.keys().copied().collect(),
            NextHops::All(_) => Vec::new(),
            NextHops::ByFamily { v4, v6 } => [v4.direct_hosts(), v6.direct_hosts()].concat(),
        };
        hosts.sort_unstable();
        hosts
    }

    /// Whether some targets are routed while others are directly connected.
    pub(crate) fn is_mixed(&self) -> bool {
        match self {
            NextHops::PerHost { routed, .. } => !routed.is_empty(),
            NextHops::All(_) => false,
            // Directly connected targets of one family and routed ones of the other mix too.
            NextHops::ByFamily { v4, v6 } => {
                let direct = !self.direct_hosts().is_empty();
                let routed = |h: &NextHops| match h {
                    NextHops::All(_) => true,
                    NextHops::PerHost { routed, .. } => !routed.is_empty(),
                    NextHops::ByFamily { .. } => h.is_mixed(),
                };
                v4.is_mixed() || v6.is_mixed() || (direct && (routed(v4) || routed(v6)))
            }
        }
    }

    /// The same next hops without the directly connected targets.
    pub(crate) fn routed_only(&self) -> NextHops {
        match self {
            NextHops::All(mac) => NextHops::All(*mac),
            NextHops::PerHost { routed, .. } => {
                NextHops::PerHost { direct: HashMap::new(), routed: routed.clone() }
            }
            NextHops::ByFamily { v4, v6 } => {
                NextHops::ByFamily { v4: Box::new(v4.routed_only()), v6: Box::new(v6.routed_only()) }
            }
        }
    }

    /// Only the next hops of `keep`'s hosts; routed ones stay one hop away
    /// (a routed host is no nearer for answering).
    fn only(&self, keep: &dyn Fn(&IpAddr) -> bool, targets: &TargetSet) -> NextHops {
        let kept = |map: &HashMap<IpAddr, Mac>| {
            map.iter().filter(|(ip, _)| keep(ip)).map(|(ip, m)| (*ip, *m)).collect()
        };
        match self {
            NextHops::All(router) => NextHops::PerHost {
                direct: HashMap::new(),
                routed: targets.iter().filter(keep).map(|ip| (ip, *router)).collect(),
            },
            NextHops::PerHost { direct, routed } => {
                NextHops::PerHost { direct: kept(direct), routed: kept(routed) }
            }
            NextHops::ByFamily { v4, v6 } => {
                let v4_keep = |ip: &IpAddr| ip.is_ipv4() && keep(ip);
                let v6_keep = |ip: &IpAddr| ip.is_ipv6() && keep(ip);
                NextHops::ByFamily {
                    v4: Box::new(v4.only(&v4_keep, targets)),
                    v6: Box::new(v6.only(&v6_keep, targets)),
                }
            }
        }
    }
}

/// How a phase probes its pairs.
pub enum Prober {
    /// Frames a probe module writes, sent raw; replies read from the capture.
    Frames(Box<dyn Probe>),
    /// The kernel's `connect()` (`-sT`, [`crate::connect`]).
    Connect(crate::connect::Limits),
}

impl Prober {
    /// The protocol whose ports the phase scans.
    pub fn protocol(&self) -> Protocol {
        match self {
            Prober::Frames(probe) => probe.protocol(),
            Prober::Connect(_) => Protocol::Tcp,
        }
    }

    /// The probe module, for a phase of raw frames.
    pub fn frames(&self) -> Option<&dyn Probe> {
        match self {
            Prober::Frames(probe) => Some(probe.as_ref()),
            Prober::Connect(_) => None,
        }
    }

    /// The state of a port that never answered (filtered for a connect
    /// phase, as nmap's -sT).
    pub fn silent_state(&self) -> PortState {
        self.frames().map_or(PortState::Filtered, Probe::silent_state)
    }

    /// The longest frame the phase writes (none for a connect phase).
    pub fn max_frame_len(&self) -> usize {
        self.frames().map_or(0, Probe::max_frame_len)
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
    pub probe: Prober,
    /// The fixed rate, or the adaptive rate's start.
    pub rate: f64,
    /// The adaptive rate's bounds; `None` keeps `rate` fixed.
    pub adaptive: Option<scry_probe::adapt::Bounds>,
    pub retries: u32,
    pub wait: Duration,
    /// Report hosts that never answered (-Pn).
    pub report_silent_hosts: bool,
    /// Say on stderr when hosts are paced (-v).
    pub verbose: bool,
    /// Hosts a discovery before the scan found up, with why; see [`Plan::only_up`].
    pub known_up: HashMap<IpAddr, (Reason, Option<u8>)>,
    pub info: ScanInfo,
    /// This phase's number in the scan, from 1 in the order phases run
    /// (SYN before UDP); a resume file records it.
    pub phase: u32,
}

impl Plan {
    /// Limits the scan to the hosts discovery found `up`: the others get no
    /// next hop, so no probe, and the up ones are reported with their reason.
    pub fn only_up(&mut self, up: HashMap<IpAddr, (Reason, Option<u8>)>) {
        let keep = |ip: &IpAddr| up.contains_key(ip);
        self.next_hops = self.next_hops.only(&keep, &self.targets);
        self.known_up = up;
    }
}

enum Event {
    /// `syn_ack` is the parsed reply when it opened the port; `from_host`
    /// says the target itself answered, not a router on the way.
    Answer {
        host: IpAddr,
        port: u16,
        result: scry_probe::results::PortResult,
        syn_ack: Option<Box<Frame>>,
        from_host: bool,
    },
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
    send_stalls: AtomicU64,
    rejected: AtomicU64,
    /// Nanoseconds since the scan started at which the last valid reply arrived.
    last_reply_ns: AtomicU64,
    /// ... at which the receiver last found the capture empty.
    rx_drained_ns: AtomicU64,
    /// Answers the receiver has passed on, and answers the calling thread
    /// has recorded: equal once no answer is still on its way to the results.
    forwarded: AtomicU64,
    recorded: AtomicU64,
    /// Nanoseconds since the scan started at which the first probe left and
    /// the first valid reply arrived ([`UNSET`] until then).
    first_send_ns: AtomicU64,
    first_reply_ns: AtomicU64,
    /// The pass being sent or listened to: 0 first, then retries.
    pub(crate) pass: AtomicU32,
    /// One more than the highest pass during which a pair first answered; 0 for none.
    best_pass: AtomicU32,
    /// Pairs probed by the first pass, and pairs answered so far.
    pub(crate) probed: AtomicU64,
    answered: AtomicU64,
    /// How far the first pass has come: this shard's end once it is done,
    /// an earlier position while it runs or after Ctrl-C. From the shard's
    /// start up to here, every position was probed at least once.
    pub(crate) first_pass_end: AtomicU64,
    /// The adaptive rate, for the senders and the progress display.
    pub(crate) rate: Shown,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            sent: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            send_stalls: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            last_reply_ns: AtomicU64::new(0),
            rx_drained_ns: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            first_send_ns: AtomicU64::new(UNSET),
            first_reply_ns: AtomicU64::new(UNSET),
            pass: AtomicU32::new(0),
            best_pass: AtomicU32::new(0),
            probed: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            first_pass_end: AtomicU64::new(0),
            rate: Shown::default(),
        }
    }
}

impl Counters {
    /// Readies the counters for the next phase: what it sends adds to the
    /// totals so far (`sent`, errors, stalls, rejected), the rest starts afresh.
    pub(crate) fn new_phase(&self) {
        for stamp in [&self.first_send_ns, &self.first_reply_ns] {
            stamp.store(UNSET, Ordering::Release);
        }
        for n in [
            &self.last_reply_ns,
            &self.rx_drained_ns,
            &self.forwarded,
            &self.recorded,
            &self.probed,
            &self.answered,
            &self.first_pass_end,
        ] {
            n.store(0, Ordering::Release);
        }
        self.pass.store(0, Ordering::Release);
        self.best_pass.store(0, Ordering::Release);
        self.rate.fixed();
    }

    /// Every pair the first pass probed has answered: nothing is left to hear.
    pub(crate) fn all_answered(&self) -> bool {
        let probed = self.probed.load(Ordering::Acquire);
        probed > 0 && self.answered.load(Ordering::Acquire) >= probed
    }

    /// Records a pair's first answer, crediting the pass under way.
    pub(crate) fn first_answer(&self) {
        let pass = self.pass.load(Ordering::Acquire);
        self.best_pass.fetch_max(pass.saturating_add(1), Ordering::AcqRel);
        self.answered.fetch_add(1, Ordering::AcqRel);
    }

    /// The highest pass during which a pair first answered.
    pub(crate) fn best_pass(&self) -> Option<u32> {
        self.best_pass.load(Ordering::Acquire).checked_sub(1)
    }

    /// From the first probe to the first reply: an upper bound on that reply's round trip.
    fn rtt_bound(&self) -> Option<Duration> {
        let sent = self.first_send_ns.load(Ordering::Acquire);
        let replied = self.first_reply_ns.load(Ordering::Acquire);
        (sent != UNSET && replied != UNSET).then(|| Duration::from_nanos(replied.saturating_sub(sent)))
    }
}

/// What a scan's phase (one protocol's walk) leaves for the host reports.
pub(crate) struct PhaseDone {
    pub results: Results,
    /// Positions of the walk every one of which was probed.
    pub probed: Range<u64>,
    /// Whether [`Hooks::checkpoint`] was called during the phase.
    pub checkpointed: bool,
}

/// One phase: walks `plan` to its end (or the stop), feeding the live
/// events to `sinks` and adding to `up` and `stats`.
///
/// # Errors
/// Capture or send failures.
#[allow(clippy::too_many_arguments)]
pub(crate) fn phase(
    plan: &Plan,
    (rx, txs): (Option<&mut Receiver>, &mut [Sender]),
    sinks: &mut Fanout<'_>,
    stop: &AtomicBool,
    counters: &Counters,
    hooks: &mut Hooks<'_>,
    up: &mut HashMap<IpAddr, (Reason, Option<u8>)>,
    stats: &mut Stats,
) -> anyhow::Result<PhaseDone> {
    let start = Instant::now();
    let results = Mutex::new(Results::default());
    let arrivals = Arrivals::default();
    counters.first_pass_end.store(plan.positions.start, Ordering::Relaxed);
    let sending_done = AtomicBool::new(false);
    let receiving_done = AtomicBool::new(false);
    let (events_tx, events) = mpsc::channel::<Event>();
    let protocol = plan.probe.protocol();
    let Some(probe) = plan.probe.frames() else {
        anyhow::bail!("a connect phase sends no frames; it runs in crate::connect");
    };

    let gauge = plan.adaptive.map(|_| Gauge::default());
    let mut control = plan.adaptive.map(|bounds| Control::start(bounds, &counters.rate));
    let abort = AtomicBool::new(false);
    let stopping = Stopping { user: stop, abort: &abort };
    let rx_tap = hooks.tap.clone();
    let neighbors = hooks.neighbors.as_ref();
    let tx_tap = hooks.tap.clone();
    let mut checkpointed = false;
    let capture = std::thread::scope(|scope| -> anyhow::Result<scry_capture::CaptureStats> {
        let receiver = scope.spawn(|| match rx {
            Some(rx) => {
                let tap = rx_tap.as_ref();
                receive(
                    probe,
                    rx,
                    events_tx,
                    (counters, gauge.as_ref()),
                    (&receiving_done, start),
                    (tap, neighbors),
                )
            }
            // --offline: nothing can answer; wait for the end like a receiver would.
            None => {
                while !receiving_done.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(scry_capture::CaptureStats::default())
            }
        });
        let sender = scope.spawn(|| {
            let outcome = send(
                plan,
                probe,
                txs,
                (&results, &arrivals),
                (counters, gauge.as_ref()),
                stopping,
                start,
                tx_tap.as_ref(),
            );
            sending_done.store(true, Ordering::Release);
            outcome
        });

        let mut cooldown_from: Option<Instant> = None;
        let mut next_checkpoint = Instant::now() + CHECKPOINT_EVERY;
        let checkpointed = &mut checkpointed;
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
                        checkpoint(plan.phase, position);
                        *checkpointed = true;
                        next_checkpoint = Instant::now() + CHECKPOINT_EVERY;
                    }
                }
                // An adaptive rate is judged every few milliseconds.
                let timeout = Duration::from_millis(if control.is_some() { 2 } else { 20 });
                match events.recv_timeout(timeout) {
                    Ok(Event::Answer { host, port, result, syn_ack, from_host }) => {
                        stats.received += 1;
                        if result.reason.is_unreachable() {
                            arrivals
                                .lock()
                                .expect("arrivals lock")
                                .entry(host)
                                .or_default()
                                .push(Instant::now());
                        }
                        let recorded = results.lock().expect("results lock").record(host, port, result);
                        counters.recorded.fetch_add(1, Ordering::AcqRel);
                        // No `continue` for duplicates: the end-of-scan check
                        // below must run however fast (re)sent answers arrive.
                        if recorded == Recorded::Duplicate {
                            stats.duplicates += 1;
                        } else {
                            counters.first_answer();
                            // A router's ICMP error says nothing of the host behind it;
                            // with -Pn the user said it is up (nmap's user-set), and
                            // an answer does not change why.
                            let evidence = from_host && !plan.report_silent_hosts;
                            if let (true, Entry::Vacant(e)) = (evidence, up.entry(host)) {
                                e.insert((result.reason, Some(result.ttl)));
                                sinks.each(|s| s.host_up(host, result.reason, Some(result.ttl)));
                            }
                            sinks.each(|s| s.port(host, port, protocol, &result));
                            if let Some(frame) = &syn_ack {
                                sinks.each(|s| s.syn_ack(host, port, frame));
                            }
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if let (Some(control), Some(gauge)) = (control.as_mut(), gauge.as_ref()) {
                    let heard = start + Duration::from_nanos(counters.rx_drained_ns.load(Ordering::Acquire));
                    control.tick(gauge, heard, counters.rtt_bound(), &counters.rate);
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

    // The counters add up over the phases; the capture is each phase's own.
    stats.sent = counters.sent.load(Ordering::Relaxed);
    stats.send_errors = counters.send_errors.load(Ordering::Relaxed);
    stats.send_stalls = counters.send_stalls.load(Ordering::Relaxed);
    stats.rejected = counters.rejected.load(Ordering::Relaxed);
    stats.capture_dropped += u64::from(capture.dropped);
    stats.interface_dropped += u64::from(capture.if_dropped);
    if let (true, Some(checkpoint)) = (stop.load(Ordering::Relaxed), hooks.checkpoint.as_mut()) {
        checkpoint(plan.phase, counters.first_pass_end.load(Ordering::Relaxed));
        checkpointed = true;
    }
    let results = results.into_inner().expect("results lock");
    let probed = plan.positions.start..counters.first_pass_end.load(Ordering::Relaxed);
    Ok(PhaseDone { results, probed, checkpointed })
}

/// The receiver thread: parse every frame once, classify, forward answers;
/// returns the capture's counts over the phase.
fn receive(
    probe: &dyn Probe,
    rx: &mut Receiver,
    events: mpsc::Sender<Event>,
    (counters, gauge): (&Counters, Option<&Gauge>),
    (done, start): (&AtomicBool, Instant),
    (tap, neighbors): (Option<&DumpTap>, Option<&Neighbors<'_>>),
) -> anyhow::Result<scry_capture::CaptureStats> {
    let filter = match neighbors {
        Some(n) => format!("({}) or {}", probe.filter(), n.responder.filter()),
        None => probe.filter(),
    };
    let capture = CaptureConfig { filter, ..CaptureConfig::default() };
    rx.configure(&capture)?;
    let before = rx.stats()?;
    let link = rx.link_type();
    let mut next_stats = Instant::now();
    while !done.load(Ordering::Acquire) {
        if let Some(gauge) = gauge.filter(|_| Instant::now() >= next_stats) {
            // The capture's drops are evidence for the adaptive rate.
            let now = rx.stats()?;
            let lost =
                now.dropped.wrapping_sub(before.dropped) + now.if_dropped.wrapping_sub(before.if_dropped);
            gauge.dropped(u64::from(lost));
            next_stats = Instant::now() + Duration::from_millis(5);
        }
        let drained = |at: Instant| {
            let ns = at.saturating_duration_since(start).as_nanos() as u64;
            counters.rx_drained_ns.store(ns, Ordering::Release);
        };
        let Some(frame) = rx.next_frame_or_drained(drained)? else { continue };
        if let Some(tap) = tap {
            tap.received(frame.timestamp, frame.data, frame.wire_len);
        }
        let Ok(parsed) = parse_frame(link, frame.data) else {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if let Some(answer) = neighbors.and_then(|n| n.responder.answer(&parsed)) {
            // A target asking where our spoofed source is: tell it, or it never replies.
            let sent = neighbors.map(|n| n.tx.send(&answer));
            if let (Some(tap), Some(Ok(()))) = (tap, sent) {
                tap.sent(&answer, answer.len());
            }
            continue;
        }
        match probe.classify(&parsed) {
            Verdict::Port { host, port, result } => {
                let now = start.elapsed().as_nanos() as u64;
                counters.last_reply_ns.store(now, Ordering::Relaxed);
                let _ =
                    counters.first_reply_ns.compare_exchange(UNSET, now, Ordering::AcqRel, Ordering::Relaxed);
                // The main thread only leaves once this thread is done, so a send cannot fail.
                counters.forwarded.fetch_add(1, Ordering::AcqRel);
                // Only a SYN-ACK to the SYN probe is a T1 sample for the quick OS
                // guess (not a UDP answer, not the reset that opens a port to a
                // window scan, not a SYN-ACK to a --scanflags probe).
                let sample = probe.syn_ack_samples() && result.reason == Reason::SynAck;
                let syn_ack = (sample && parsed.tcp().is_some()).then(|| Box::new(parsed));
                let from_host = parsed.ip().is_some_and(|ip| ip.header.src == host);
                if let Some(gauge) = gauge.filter(|_| from_host) {
                    gauge.answer(host, result.reason);
                }
                let _ = events.send(Event::Answer { host, port, result, syn_ack, from_host });
            }
            Verdict::Invalid => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Unrelated => {}
        }
    }
    let after = rx.stats()?;
    Ok(scry_capture::CaptureStats {
        received: after.received.wrapping_sub(before.received),
        dropped: after.dropped.wrapping_sub(before.dropped),
        if_dropped: after.if_dropped.wrapping_sub(before.if_dropped),
    })
}

/// The sender: walk this shard's positions once per pass at the rate, the
/// walk of each pass shared by one thread per sender (a lane).
#[allow(clippy::too_many_arguments)]
fn send(
    plan: &Plan,
    probe: &dyn Probe,
    txs: &mut [Sender],
    (results, arrivals): (&Mutex<Results>, &Arrivals),
    (counters, gauge): (&Counters, Option<&Gauge>),
    stopping: Stopping<'_>,
    start: Instant,
    tap: Option<&DumpTap>,
) -> anyhow::Result<()> {
    let lanes = txs.len() as u64;
    let mut first_pass = (Instant::now(), Instant::now());
    let now = Instant::now();
    let mut buckets: Vec<TokenBucket> =
        txs.iter().map(|_| TokenBucket::new(plan.rate / lanes as f64, now)).collect();
    // What each sender has already added to the shared counters, so that
    // progress sees probes as the kernel takes them, not once a phase ends.
    let mut counted: Vec<SendStats> = txs.iter().map(Sender::stats).collect();
    let mut passes = || -> anyhow::Result<()> {
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
            let walk =
                PassWalk { pass, lanes, answered: answered.as_ref(), progress: lane_starts(plan, lanes) };
            let outcomes: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
                let walk = &walk;
                let handles: Vec<_> = (0..lanes)
                    .zip(txs.iter_mut().zip(buckets.iter_mut().zip(counted.iter_mut())))
                    .map(|(lane, (tx, (bucket, counted)))| {
                        let wire = Lane { tx, bucket, counted, gauge };
                        scope.spawn(move || {
                            walk_lane(plan, probe, walk, lane, wire, counters, stopping, start, tap)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("sender thread panicked")).collect()
            });
            outcomes.into_iter().collect::<anyhow::Result<()>>()?;
            if stopping.now() {
                return Ok(());
            }
            if pass == 0 {
                counters.first_pass_end.store(plan.positions.end, Ordering::Relaxed);
                first_pass.1 = Instant::now();
            }
        }
        if probe.protocol() == Protocol::Udp {
            let scan =
                Scan { probe, ports: &plan.ports, next_hops: &plan.next_hops, first_pass, rate: plan.rate };
            let flushed = |tx: &Sender| count_sent(tx, &mut counted[0], counters);
            paced_pass(&scan, &mut txs[0], results, arrivals, plan.verbose, (|| stopping.now(), flushed))?;
        }
        Ok(())
    };
    let outcome = passes();
    // However the walk ended, frames already queued still go out and count.
    let mut finished = Ok(());
    for (tx, counted) in txs.iter_mut().zip(counted.iter_mut()) {
        finished = finished.and(tx.finish().map(drop));
        count_sent(tx, counted, counters);
    }
    outcome?;
    Ok(finished?)
}

/// What the lanes of one pass share.
struct PassWalk<'a> {
    pass: u32,
    lanes: u64,
    /// Pairs that need no probe this pass (none in the first).
    answered: Option<&'a HashSet<(IpAddr, u16)>>,
    /// Each lane's next position; the lowest bounds the first pass's progress.
    progress: Vec<AtomicU64>,
}

fn lane_starts(plan: &Plan, lanes: u64) -> Vec<AtomicU64> {
    (0..lanes).map(|lane| AtomicU64::new((plan.positions.start + lane).min(plan.positions.end))).collect()
}

/// One sender thread's share of the wire: its sender, its part of the
/// rate, and what of its sender's counts the shared counters hold already.
struct Lane<'a> {
    tx: &'a mut Sender,
    bucket: &'a mut TokenBucket,
    counted: &'a mut SendStats,
    /// Counts probes to hosts known to answer, when the rate adapts.
    gauge: Option<&'a Gauge>,
}

/// Adds what `tx` has sent since the last call to the shared counters.
fn count_sent(tx: &Sender, counted: &mut SendStats, counters: &Counters) {
    let now = tx.stats();
    counters.sent.fetch_add(now.sent.saturating_sub(counted.sent), Ordering::Relaxed);
    counters.send_errors.fetch_add(now.failed.saturating_sub(counted.failed), Ordering::Relaxed);
    counters.send_stalls.fetch_add(now.stalls.saturating_sub(counted.stalls), Ordering::Relaxed);
    *counted = now;
}

/// One lane of a pass: positions `start + lane`, `start + lane + lanes`, ...
/// of this shard, at its bucket's rate, until the shard ends or the scan stops.
#[allow(clippy::too_many_arguments)]
fn walk_lane(
    plan: &Plan,
    probe: &dyn Probe,
    walk: &PassWalk<'_>,
    lane: u64,
    Lane { tx, bucket, counted, gauge }: Lane<'_>,
    counters: &Counters,
    stopping: Stopping<'_>,
    start: Instant,
    tap: Option<&DumpTap>,
) -> anyhow::Result<()> {
    let frame_len = probe.max_frame_len();
    let nports = plan.ports.len() as u64;
    let end = plan.positions.end;
    let mut position = plan.positions.start + lane;
    // The batch's targets, when the rate adapts.
    let mut hosts: Vec<IpAddr> = Vec::with_capacity(if gauge.is_some() { BATCH } else { 0 });
    while position < end {
        if stopping.now() {
            return Ok(());
        }
        if let Some(rate) = counters.rate.rate().map(|r| r / walk.lanes as f64) {
            if rate != bucket.rate() {
                bucket.set_rate(rate, Instant::now());
            }
        }
        let wait = bucket.wait_for(Instant::now(), BATCH as u32);
        if !wait.is_zero() {
            pace(wait);
            continue;
        }
        let granted = bucket.take(Instant::now(), BATCH as u32) as usize;
        let mut n = 0;
        while n < granted && position < end {
            let index = plan.permutation.at(position);
            position += walk.lanes;
            let Some(ip) = plan.targets.get(index / nports) else { continue };
            let port = plan.ports[(index % nports) as usize];
            if walk.answered.is_some_and(|a| a.contains(&(ip, port))) {
                continue;
            }
            let Some(mac) = plan.next_hops.get(ip) else { continue };
            if gauge.is_some() {
                hosts.push(ip);
            }
            let ip_id = (index as u16) ^ (index >> 16) as u16;
            // A UDP port with several payloads takes a frame for each; the
            // last port of a batch may overdraw the grant by a few.
            for which in 0..probe.frames(port) {
                let slot = &mut tx.next_slot()?[..frame_len];
                let len = probe.write(ip, port, which, mac, ip_id, slot)?;
                if let Some(tap) = tap {
                    tap.sent(&slot[..len], len);
                }
                tx.commit(len)?;
            }
            n += 1;
        }
        bucket.give_back(granted.saturating_sub(n) as u32);
        if let Some(gauge) = gauge {
            gauge.sent(gauge.count_known(hosts.drain(..)));
        }
        if walk.pass == 0 {
            counters.probed.fetch_add(n as u64, Ordering::AcqRel);
            let now = start.elapsed().as_nanos() as u64;
            let _ = counters.first_send_ns.compare_exchange(UNSET, now, Ordering::AcqRel, Ordering::Relaxed);
        }
        tx.flush();
        count_sent(tx, counted, counters);
        if walk.pass == 0 {
            // Every lane has probed all its positions below its next one,
            // so all positions below the lowest of those have been probed.
            walk.progress[lane as usize].store(position.min(end), Ordering::Release);
            let low = walk.progress.iter().map(|p| p.load(Ordering::Acquire)).min().unwrap_or(end);
            counters.first_pass_end.fetch_max(low, Ordering::AcqRel);
        }
    }
    Ok(())
}

/// The longest the send loop sleeps before it looks for a stop again.
pub const LONGEST_PACE: Duration = Duration::from_millis(100);

/// Sleeps for short waits by spinning: thread::sleep overshoots by ~50 µs.
/// A long wait (a rate below 10 pps, as -T0 to -T2 set) is slept at most
/// [`LONGEST_PACE`] at a time, so the caller sees a stop between.
fn pace(wait: Duration) {
    if wait > Duration::from_micros(200) {
        std::thread::sleep((wait - Duration::from_micros(100)).min(LONGEST_PACE));
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
        let last_ns = counters.last_reply_ns.load(Ordering::Acquire);
        let since_reply = start.elapsed().saturating_sub(Duration::from_nanos(last_ns));
        // A receiver starved of CPU goes quiet too: only a capture found
        // empty after the last reply shows that replies have stopped, and
        // the retry pass skips only answers already in the results.
        let drained = counters.rx_drained_ns.load(Ordering::Acquire) >= last_ns
            && counters.recorded.load(Ordering::Acquire) == counters.forwarded.load(Ordering::Acquire);
        let waited = begin.elapsed();
        if (waited >= quiet && since_reply >= quiet && drained)
            || waited >= limit
            || stopping.now()
            || counters.all_answered()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
