//! The connect scan (`-sT`): the kernel's own `connect()` to every
//! (address, port) of the walk, as nmap does when it may not send raw
//! packets. It needs no privilege, no capture and no raw socket.
//!
//! The walk is the SYN scan's: the same seeded permutation, shard and
//! resume positions. A driver on a tokio runtime (the one the version scan
//! uses, run here on the calling thread) takes each position in turn at
//! `--rate` connection attempts per second, holding at most
//! `--max-parallelism` connections open at once over all hosts
//! ([`DEFAULT_PARALLELISM`], kept under the open-file limit) and
//! [`PER_HOST`] per host. Each attempt has a timeout that follows the
//! measured round trips as nmap's (RFC 6298's estimator, between
//! [`MIN_TIMEOUT`] and [`MAX_TIMEOUT`], [`INITIAL_TIMEOUT`] before any
//! answer). Attempts that time out are tried again in retry passes under
//! nmap's retransmission rule (`scry_probe::retry`), then reported
//! `filtered` (`no-response`).
//!
//! States and reasons are nmap's (`scan_engine_connect.cc`), from what
//! `connect()` returns: see [`outcome`]. Every socket lingers 0 s, so
//! closing an open connection sends a RST and leaves no TIME_WAIT behind
//! to exhaust the ephemeral ports.

use crate::engine::{Counters, NextHops, PhaseDone, Plan};
use crate::output::{Fanout, Stats};
use scry_probe::permute::Permutation;
use scry_probe::rate::TokenBucket;
use scry_probe::results::{PortResult, Recorded, Results};
use scry_probe::retry;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};
use scry_probe::targets::TargetSet;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Connections open at once over all hosts without `--max-parallelism`.
pub const DEFAULT_PARALLELISM: usize = 4096;
/// Connections open at once to one host.
pub const PER_HOST: usize = 1024;
/// A connection's timeout before any round trip was measured (nmap's `--initial-rtt-timeout`).
pub const INITIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// The shortest timeout, however short the round trips (nmap's `--min-rtt-timeout`).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest timeout the round trips can ask for (nmap's `--max-rtt-timeout`).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the driver checks Ctrl-C and calls [`Answers::tick`].
const TICK: Duration = Duration::from_millis(50);
/// File descriptors left for everything else (outputs, the version scan).
const FD_RESERVE: u64 = 64;

/// How many connections may be open at once, and how each is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Over all hosts.
    pub parallelism: usize,
    /// To one host.
    pub per_host: usize,
    /// The IP TTL of the connections' segments (`--ttl`).
    pub ttl: u8,
    /// The interface to bind each socket to (`-e`), as nmap does.
    pub device: Option<Arc<str>>,
}

impl Limits {
    /// `--max-parallelism` (or [`DEFAULT_PARALLELISM`]), kept under the
    /// open-file limit after raising the soft limit to the hard one.
    pub fn new(asked: Option<usize>, ttl: u8, device: Option<&str>) -> Limits {
        let parallelism = crate::version::under_file_limit(asked.unwrap_or(DEFAULT_PARALLELISM), FD_RESERVE);
        Limits { parallelism, per_host: PER_HOST.min(parallelism), ttl, device: device.map(Arc::from) }
    }
}

/// What one `connect()` came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The port's state, as nmap concludes it from this result.
    Answer(PortResult),
    /// No answer before the timeout (or the kernel's own): try again.
    Silent,
    /// An error nmap calls strange (it keeps waiting, and the attempt
    /// times out): tried again like silence, and reported once.
    Strange(i32),
}

/// nmap's reading of a connect result (`handleConnectResult` in nmap's
/// `scan_engine_connect.cc`): success is `open` (`syn-ack`), ECONNREFUSED
/// `closed` (`conn-refused`: a RST, or ICMP port unreachable); ICMP
/// errors reach `connect()` as EHOSTUNREACH (host-unreach; Linux also
/// maps ICMP admin-prohibited, code 13, and host-prohibited, code 10,
/// to it), ENETUNREACH (net-unreach, also net-prohibited), ENOPROTOOPT
/// (proto-unreach), EACCES (admin-prohibited) and ENONET
/// (dest-unreach): `filtered`. ETIMEDOUT and EHOSTDOWN are silence.
pub fn outcome(result: &io::Result<()>) -> Outcome {
    let filtered = |reason| Outcome::Answer(PortResult { state: PortState::Filtered, reason, ttl: 0 });
    let errno = match result {
        Ok(()) => {
            return Outcome::Answer(PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 0 })
        }
        Err(e) => e.raw_os_error(),
    };
    match errno {
        Some(libc::ECONNREFUSED) => {
            Outcome::Answer(PortResult { state: PortState::Closed, reason: Reason::ConnRefused, ttl: 0 })
        }
        Some(libc::EACCES) => filtered(Reason::Unreachable(13)),
        Some(libc::ENOPROTOOPT) => filtered(Reason::Unreachable(2)),
        Some(libc::EHOSTUNREACH) => filtered(Reason::Unreachable(1)),
        Some(libc::ENETUNREACH) => filtered(Reason::Unreachable(0)),
        Some(libc::ENONET) => filtered(Reason::DestUnreach),
        Some(libc::ETIMEDOUT | libc::EHOSTDOWN) | None => Outcome::Silent,
        Some(errno) => Outcome::Strange(errno),
    }
}

/// The round-trip estimator of RFC 6298, as nmap keeps it per scan: the
/// timeout is `srtt + 4 * rttvar`, within [`MIN_TIMEOUT`]..[`MAX_TIMEOUT`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeout {
    srtt: Option<Duration>,
    rttvar: Duration,
}

impl Timeout {
    /// Takes the round trip of an answered connection.
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let delta = if srtt > rtt { srtt - rtt } else { rtt - srtt };
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// How long the next connection waits for an answer.
    pub fn current(&self) -> Duration {
        match self.srtt {
            None => INITIAL_TIMEOUT,
            Some(srtt) => (srtt + self.rttvar * 4).clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        }
    }
}

/// What the driver walks: the pairs of a plan (or of host discovery).
pub struct Walk<'a> {
    pub targets: &'a TargetSet,
    pub ports: &'a [u16],
    pub permutation: &'a Permutation,
    pub positions: Range<u64>,
    /// Targets without a next hop (not up by ARP or discovery) are skipped.
    pub next_hops: &'a NextHops,
    pub rate: f64,
    pub retries: u32,
}

/// The driver's caller: keeps the answers and says which pairs still need one.
pub trait Answers {
    /// A pair answered; `true` when it was its first answer.
    fn record(&mut self, ip: IpAddr, port: u16, result: PortResult) -> bool;
    /// Whether `ip:port` still needs a connection (in a retry pass, or once its host is known).
    fn wanted(&self, ip: IpAddr, port: u16) -> bool;
    /// Called every [`TICK`] while the walk runs; `false` stops it (an output failed).
    fn tick(&mut self, _counters: &Counters) -> bool {
        true
    }
}

/// One finished attempt.
struct Done {
    ip: IpAddr,
    port: u16,
    outcome: Outcome,
    rtt: Duration,
}

/// Connects to `ip:port` within `timeout`, then closes at once (with a RST).
async fn attempt(
    (ip, port): (IpAddr, u16),
    timeout: Duration,
    ttl: u8,
    device: Option<&str>,
) -> (Outcome, Duration) {
    let start = Instant::now();
    let socket = match open_socket(ip, ttl, device) {
        Ok(socket) => socket,
        Err(e) => return (outcome(&Err(e)), start.elapsed()),
    };
    let fd = socket.as_raw_fd();
    let connected = async move {
        let stream = socket.connect(SocketAddr::new(ip, port)).await?;
        // A connection to loopback whose source port the kernel picked equal
        // to the port probed connects to itself (a simultaneous open): that
        // is no listener, so it counts as no answer and is tried again, as
        // nmap does.
        Ok(stream.local_addr()? != stream.peer_addr()?)
    };
    tokio::pin!(connected);
    let result = tokio::time::timeout(timeout, &mut connected).await;
    if !matches!(result, Ok(Ok(true))) {
        // An ICMP error that reached the socket while connect() still held
        // it (on a fast link, within microseconds of the SYN) is not the
        // socket's error: Linux leaves it soft and waits for the SYN's
        // retransmission a second later. With IP(V6)_RECVERR it is queued,
        // so it is read here, while the socket is still open.
        if let Some(errno) = queued_icmp_error(fd) {
            return (outcome(&Err(io::Error::from_raw_os_error(errno))), start.elapsed());
        }
    }
    let result = match result {
        Ok(Ok(false)) | Err(_) => return (Outcome::Silent, start.elapsed().min(timeout)),
        Ok(result) => result.map(drop),
    };
    (outcome(&result), start.elapsed())
}

/// A socket for one attempt: bound to `device` if given, closing with a
/// RST, `ttl` as its TTL or hop limit, ICMP errors queued for reading.
fn open_socket(ip: IpAddr, ttl: u8, device: Option<&str>) -> io::Result<tokio::net::TcpSocket> {
    let socket = match ip {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(name) = device {
        // Kernels before 5.7 allow this to root only; like nmap, go on without it then.
        match socket.bind_device(Some(name.as_bytes())) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            bound => bound?,
        }
    }
    // Linger 0: closing sends a RST at once and never blocks.
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    set_option(&socket, (libc::SOL_SOCKET, libc::SO_LINGER), &linger)?;
    // --ttl: the IPv4 TTL, or the IPv6 hop limit.
    let (hops, recverr) = match ip {
        IpAddr::V4(_) => ((libc::IPPROTO_IP, libc::IP_TTL), (libc::IPPROTO_IP, libc::IP_RECVERR)),
        IpAddr::V6(_) => {
            ((libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS), (libc::IPPROTO_IPV6, libc::IPV6_RECVERR))
        }
    };
    set_option(&socket, hops, &libc::c_int::from(ttl))?;
    set_option(&socket, recverr, &(1 as libc::c_int))?;
    Ok(socket)
}

/// The errno of an ICMP or ICMPv6 error queued on socket `fd`, if any
/// (`recvmsg` with `MSG_ERRQUEUE`, never blocking).
fn queued_icmp_error(fd: std::os::fd::RawFd) -> Option<i32> {
    let mut control = [0u64; 64];
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at a control buffer that outlives the call; no data
    // buffers are given, and the descriptor is the caller's open socket.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: the CMSG_* walk stays inside msg_controllen bytes the kernel
    // filled; a recverr message carries a sock_extended_err.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let recverr = (c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_RECVERR)
                || (c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_RECVERR);
            if recverr {
                let ee = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>());
                if matches!(ee.ee_origin, libc::SO_EE_ORIGIN_ICMP | libc::SO_EE_ORIGIN_ICMP6)
                    && ee.ee_errno != 0
                {
                    return Some(ee.ee_errno as i32);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    None
}

/// Sets a socket option (level, name) to `value`.
fn set_option<T>(socket: &tokio::net::TcpSocket, (level, name): (i32, i32), value: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() bytes from a live reference;
    // the descriptor is the socket's own.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What a walk leaves besides the answers.
#[derive(Debug, Default)]
pub struct Driven {
    /// First-pass positions of which every one got a connection.
    pub probed_end: u64,
    /// Errors nmap calls strange, with how often each came.
    pub strange: HashMap<i32, u64>,
}

/// Runs the walk to its end (or `stop`) on a tokio runtime on this thread.
///
/// # Errors
/// The runtime could not start, or a socket could not be made.
pub fn drive(
    walk: &Walk<'_>,
    limits: Limits,
    stop: &AtomicBool,
    counters: &Counters,
    answers: &mut dyn Answers,
) -> anyhow::Result<Driven> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(drive_async(walk, &limits, stop, counters, answers))
}

async fn drive_async(
    walk: &Walk<'_>,
    limits: &Limits,
    stop: &AtomicBool,
    counters: &Counters,
    answers: &mut dyn Answers,
) -> anyhow::Result<Driven> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let global = Arc::new(Semaphore::new(limits.parallelism));
    let mut bucket = TokenBucket::new(walk.rate, Instant::now());
    let mut flight = Flight {
        hosts: HashMap::new(),
        timeout: Timeout::default(),
        driven: Driven { probed_end: walk.positions.start, ..Driven::default() },
    };
    let mut in_flight = 0usize;
    let mut halted = false;
    let nports = walk.ports.len() as u64;
    let mut tick = tokio::time::interval(TICK);
    counters.first_pass_end.store(walk.positions.start, Ordering::Relaxed);

    for pass in 0..=walk.retries {
        if pass > 0 {
            if counters.all_answered() || !retry::pass_allowed(pass, walk.retries, counters.best_pass()) {
                break;
            }
            counters.pass.store(pass, Ordering::Release);
        }
        let mut position = walk.positions.start;
        loop {
            if stop.load(Ordering::Relaxed) || halted {
                break;
            }
            // The next pair that needs a connection, if any is left.
            let mut next = None;
            while position < walk.positions.end {
                let index = walk.permutation.at(position);
                position += 1;
                let Some(ip) = walk.targets.get(index / nports) else { continue };
                let port = walk.ports[(index % nports) as usize];
                if walk.next_hops.get(ip).is_some() && answers.wanted(ip, port) {
                    next = Some((ip, port));
                    break;
                }
            }
            let Some((ip, port)) = next else { break };
            let host = Arc::clone(
                flight.hosts.entry(ip).or_insert_with(|| Arc::new(Semaphore::new(limits.per_host))),
            );
            // Wait for a slot and the rate, handling answers meanwhile.
            let permits = async {
                let host = host.acquire_owned().await;
                let global = Arc::clone(&global).acquire_owned().await;
                (host, global)
            };
            tokio::pin!(permits);
            let (host_permit, global_permit) = loop {
                tokio::select! {
                    biased;
                    Some(d) = done_rx.recv() => {
                        in_flight -= 1;
                        flight.done(d, answers, counters);
                    }
                    permits = &mut permits => break permits,
                    _ = tick.tick() => {
                        if !answers.tick(counters) {
                            halted = true;
                        }
                    }
                }
            };
            let (Ok(host_permit), Ok(global_permit)) = (host_permit, global_permit) else { break };
            loop {
                let wait = bucket.wait_for(Instant::now(), 1);
                if wait.is_zero() {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
            bucket.take(Instant::now(), 1);
            let (wait, ttl, tx) = (flight.timeout.current(), limits.ttl, done_tx.clone());
            let device = limits.device.clone();
            in_flight += 1;
            counters.sent.fetch_add(1, Ordering::Relaxed);
            if pass == 0 {
                counters.probed.fetch_add(1, Ordering::AcqRel);
                // Positions are taken in order: every one below `position` has its connection.
                counters.first_pass_end.store(position, Ordering::Release);
                flight.driven.probed_end = position;
            }
            tokio::spawn(async move {
                let (outcome, rtt) = attempt((ip, port), wait, ttl, device.as_deref()).await;
                drop((host_permit, global_permit));
                let _ = tx.send(Done { ip, port, outcome, rtt });
            });
        }
        if pass == 0 && !(stop.load(Ordering::Relaxed) || halted) {
            counters.first_pass_end.store(walk.positions.end, Ordering::Release);
            flight.driven.probed_end = walk.positions.end;
        }
        // Every connection of the pass ends within its timeout.
        while in_flight > 0 {
            tokio::select! {
                Some(d) = done_rx.recv() => {
                    in_flight -= 1;
                    flight.done(d, answers, counters);
                }
                _ = tick.tick() => {
                    if !answers.tick(counters) {
                        halted = true;
                    }
                }
            }
        }
        if stop.load(Ordering::Relaxed) || halted {
            break;
        }
    }
    Ok(flight.driven)
}

/// The driver's state besides the walk.
struct Flight {
    /// Each host's cap, while it has connections in flight.
    hosts: HashMap<IpAddr, Arc<Semaphore>>,
    timeout: Timeout,
    driven: Driven,
}

impl Flight {
    /// Takes a finished attempt.
    fn done(&mut self, d: Done, answers: &mut dyn Answers, counters: &Counters) {
        // A host with nothing in flight gives its semaphore back: memory
        // stays flat however many hosts the walk crosses.
        if self.hosts.get(&d.ip).is_some_and(|h| Arc::strong_count(h) == 1) {
            self.hosts.remove(&d.ip);
        }
        match d.outcome {
            Outcome::Answer(result) => {
                if result.state != PortState::Filtered {
                    self.timeout.sample(d.rtt);
                }
                if answers.record(d.ip, d.port, result) {
                    counters.first_answer();
                }
            }
            Outcome::Strange(errno) => *self.driven.strange.entry(errno).or_default() += 1,
            Outcome::Silent => {}
        }
    }
}

/// One connect phase of a scan: as [`crate::engine::phase`], through the kernel's connections.
///
/// # Errors
/// The runtime or a socket failed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn phase(
    plan: &Plan,
    limits: Limits,
    sinks: &mut Fanout<'_>,
    stop: &AtomicBool,
    counters: &Counters,
    hooks: &mut crate::engine::Hooks<'_>,
    up: &mut HashMap<IpAddr, (Reason, Option<u8>)>,
    stats: &mut Stats,
) -> anyhow::Result<PhaseDone> {
    let walk = Walk {
        targets: &plan.targets,
        ports: &plan.ports,
        permutation: &plan.permutation,
        positions: plan.positions.clone(),
        next_hops: &plan.next_hops,
        rate: plan.rate,
        retries: plan.retries,
    };
    let mut scan = PhaseAnswers {
        results: Results::default(),
        sinks,
        up,
        stats,
        hooks,
        phase: plan.phase,
        user_set: plan.report_silent_hosts,
        next_checkpoint: Instant::now() + crate::engine::CHECKPOINT_EVERY,
        checkpointed: false,
        first_pass_done: false,
    };
    let driven = drive(&walk, limits, stop, counters, &mut scan)?;
    for (errno, count) in &driven.strange {
        let text = io::Error::from_raw_os_error(*errno);
        eprintln!(
            "scry: warning: connect() failed {count} times with \"{text}\"; those ports count as unanswered"
        );
    }
    let mut checkpointed = scan.checkpointed;
    if let (true, Some(checkpoint)) = (stop.load(Ordering::Relaxed), scan.hooks.checkpoint.as_mut()) {
        checkpoint(plan.phase, driven.probed_end);
        checkpointed = true;
    }
    scan.stats.sent = counters.sent.load(Ordering::Relaxed);
    Ok(PhaseDone { results: scan.results, probed: plan.positions.start..driven.probed_end, checkpointed })
}

/// A scan phase's side of the driver: results, live events, checkpoints.
struct PhaseAnswers<'s, 'f, 'h> {
    results: Results,
    sinks: &'s mut Fanout<'f>,
    up: &'s mut HashMap<IpAddr, (Reason, Option<u8>)>,
    stats: &'s mut Stats,
    hooks: &'s mut crate::engine::Hooks<'h>,
    phase: u32,
    /// `-Pn`: every host is up because the user said so (nmap's user-set),
    /// whatever answers.
    user_set: bool,
    next_checkpoint: Instant,
    checkpointed: bool,
    first_pass_done: bool,
}

impl Answers for PhaseAnswers<'_, '_, '_> {
    fn record(&mut self, ip: IpAddr, port: u16, result: PortResult) -> bool {
        let host = ip;
        self.stats.received += 1;
        if self.results.record(host, port, result) == Recorded::Duplicate {
            self.stats.duplicates += 1;
            return false;
        }
        // Only a connection accepted or refused comes from the host itself.
        if result.state != PortState::Filtered && !self.user_set && !self.up.contains_key(&host) {
            self.up.insert(host, (result.reason, None));
            self.sinks.each(|s| s.host_up(host, result.reason, None));
        }
        self.sinks.each(|s| s.port(host, port, Protocol::Tcp, &result));
        true
    }

    fn wanted(&self, ip: IpAddr, port: u16) -> bool {
        !self.results.has(ip, port)
    }

    fn tick(&mut self, counters: &Counters) -> bool {
        let position = counters.first_pass_end.load(Ordering::Relaxed);
        self.first_pass_done |= counters.pass.load(Ordering::Relaxed) > 0;
        if let Some(checkpoint) = self.hooks.checkpoint.as_mut() {
            if Instant::now() >= self.next_checkpoint && !self.first_pass_done {
                checkpoint(self.phase, position);
                self.checkpointed = true;
                self.next_checkpoint = Instant::now() + crate::engine::CHECKPOINT_EVERY;
            }
        }
        !self.sinks.failed()
    }
}

/// Host discovery without privileges, as nmap's: a connection to each of
/// `ports` (nmap's 80 and 443 unless `-PS`/`-PA` say otherwise) of every
/// target; one accepted or refused marks its host up (`syn-ack`,
/// `conn-refused`), and the host's other ports are then left alone.
///
/// # Errors
/// The runtime or a socket failed.
pub fn discover(
    targets: &TargetSet,
    ports: &[u16],
    (rate, retries): (f64, u32),
    limits: Limits,
    stop: &AtomicBool,
) -> anyhow::Result<HashMap<IpAddr, (Reason, Option<u8>)>> {
    let pairs = targets.len() * ports.len() as u64;
    let permutation = Permutation::new(pairs, rand::random());
    let everyone = NextHops::All(scry_packet::Mac::ZERO);
    let walk = Walk {
        targets,
        ports,
        permutation: &permutation,
        positions: 0..pairs,
        next_hops: &everyone,
        rate,
        retries,
    };
    let mut found = Discovered::default();
    drive(&walk, limits, stop, &Counters::default(), &mut found)?;
    Ok(found.up)
}

/// Discovery's side of the driver.
#[derive(Default)]
struct Discovered {
    up: HashMap<IpAddr, (Reason, Option<u8>)>,
    answered: HashSet<(IpAddr, u16)>,
}

impl Answers for Discovered {
    fn record(&mut self, ip: IpAddr, port: u16, result: PortResult) -> bool {
        if result.state != PortState::Filtered {
            self.up.entry(ip).or_insert((result.reason, None));
        }
        self.answered.insert((ip, port))
    }

    fn wanted(&self, ip: IpAddr, port: u16) -> bool {
        !self.up.contains_key(&ip) && !self.answered.contains(&(ip, port))
    }
}

#[cfg(test)]
mod tests;
