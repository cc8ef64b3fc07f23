//! Per-host pacing for UDP scans whose targets rate-limit ICMP errors.
//!
//! A closed UDP port is known only by its ICMP port unreachable, and most
//! stacks ration those: Linux allows each peer a burst of 6 and then one a
//! second (`net.ipv4.icmp_ratelimit`, 1000 ms; Nmap book, "UDP Scan" cites
//! the same for Solaris and Linux). Past the burst, a fast scan's probes to
//! closed ports go unanswered and would be misreported as open|filtered.
//!
//! The interval differs by family, kernel and setting: Linux's ICMPv6
//! limiter waits `net.ipv6.icmp.ratelimit` ms (1000 by default, 100 on the
//! lab's kernel, where 100 ms was measured through a /64), which some
//! kernels shift right by the route's prefix length (net/ipv6/icmp.c,
//! `icmpv6_xrlim_allow`). So no interval is assumed; each is measured from
//! the arrivals.
//!
//! The engine sends its first pass at `--rate`, then asks [`detect_limit`]
//! per host whether the unreachables it got look rationed: fewer answers than
//! probes, and after the burst, answers arriving at a steady rate far below
//! the rate probes went to that host. If so, the host's unanswered ports are
//! retried through a [`PacedQueue`] no faster than the host answers, so each
//! retry finds a fresh token. When the first pass was too short to see more
//! than the burst, the queue first measures: it sends the host's ports every
//! [`MEASURE_GAP`], learns the spacing of the errors that come back after
//! the new burst ([`PacedQueue::learn`]), and sends again, paced, every port
//! it sent while measuring. Like nmap's scan delay for UDP (which starts at
//! 50 ms and doubles each time drops are seen, up to `--max-scan-delay`, 1 s
//! for UDP), the interval is per host, so other hosts are not slowed; unlike
//! it, scry measures the interval instead of doubling towards it.
//! Everything takes `now` as an argument.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Answers at the start of a pass taken as the limiter's burst, not its rate.
pub const BURST: usize = 6;
/// The slowest interval scry paces a host to.
pub const MAX_INTERVAL: Duration = Duration::from_secs(2);
/// The fastest interval worth pacing to.
pub const MIN_INTERVAL: Duration = Duration::from_millis(2);
/// How often a host is probed while its limiter's interval is measured.
pub const MEASURE_GAP: Duration = Duration::from_millis(5);
/// Steady arrivals (after the burst) that make a measurement.
pub const MEASURED: usize = 6;
/// What a host is paced to when measuring saw no error after the burst:
/// IPv4 Linux's one a second.
pub const FALLBACK: Duration = Duration::from_millis(1050);
/// Headroom over the measured interval, so jitter does not starve a token.
const HEADROOM: f64 = 1.05;

/// What the first pass says of a host's ICMP errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Rationed to one per this interval (headroom included).
    Every(Duration),
    /// Rationed, but only the burst came back: the interval must be measured.
    Unmeasured,
}

/// Whether `arrivals` (ascending times of the ICMP errors a host sent during
/// one pass) look like a rate limiter's, given that `sent` probes went to the
/// host spread over `send_span`.
pub fn detect_limit(arrivals: &[Instant], sent: usize, send_span: Duration) -> Option<Limit> {
    if arrivals.is_empty() || arrivals.len() >= sent {
        // A silent host shows no limiter; a host that answered everything has none.
        return None;
    }
    if arrivals.len() < BURST + 2 {
        // Only the burst came back, too little to measure, if most probes
        // went unanswered.
        return (sent > arrivals.len() + BURST).then_some(Limit::Unmeasured);
    }
    let gap = steady_gap(arrivals)?;
    let send_gap = send_span / sent as u32;
    // A limiter answers much more slowly than we asked; plain loss does not.
    (gap >= send_gap * 4).then(|| Limit::Every(paced(gap)))
}

/// The mean spacing of the arrivals after the burst, if two or more are.
fn steady_gap(arrivals: &[Instant]) -> Option<Duration> {
    let steady = arrivals.get(BURST..).filter(|s| s.len() >= 2)?;
    Some(steady[steady.len() - 1].duration_since(steady[0]) / (steady.len() as u32 - 1))
}

/// The interval to pace to when errors come `gap` apart.
fn paced(gap: Duration) -> Duration {
    gap.mul_f64(HEADROOM).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// What to do next in a paced pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Probe this port of this host now.
    Send(IpAddr, u16),
    /// Nothing is due before this instant.
    WaitUntil(Instant),
    /// Every queued probe has been sent.
    Done,
}

/// One host's queue.
#[derive(Debug)]
struct Host {
    /// `None` while measuring.
    interval: Option<Duration>,
    /// When measuring began: the arrivals that count are from then on.
    since: Instant,
    /// Ports to send, each with whether it was already sent while measuring.
    ports: VecDeque<(u16, bool)>,
    /// No probe before this (a learned interval starts after the measuring).
    not_before: Instant,
    /// The interval the arrivals so far suggest, while too few to settle it.
    estimate: Option<Duration>,
}

/// Per-host queues of ports, each host released no faster than its interval.
#[derive(Debug, Default)]
pub struct PacedQueue {
    hosts: HashMap<IpAddr, Host>,
    due: BinaryHeap<Reverse<(Instant, IpAddr)>>,
}

impl PacedQueue {
    /// Queues `ports` of `host` from `now`: one every interval of `limit`,
    /// or, while it is [`Limit::Unmeasured`], one every [`MEASURE_GAP`].
    pub fn add(&mut self, host: IpAddr, limit: Limit, ports: impl IntoIterator<Item = u16>, now: Instant) {
        let interval = match limit {
            Limit::Every(interval) => Some(interval),
            Limit::Unmeasured => None,
        };
        let entry = self.hosts.entry(host).or_insert_with(|| Host {
            interval,
            since: now,
            ports: VecDeque::new(),
            not_before: now,
            estimate: None,
        });
        let was_empty = entry.ports.is_empty();
        entry.interval = interval;
        entry.ports.extend(ports.into_iter().map(|p| (p, false)));
        if was_empty && !entry.ports.is_empty() {
            self.due.push(Reverse((now, host)));
        }
    }

    /// Probes still queued.
    pub fn len(&self) -> usize {
        self.hosts.values().map(|h| h.ports.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// The hosts whose interval is being measured, each with the instant
    /// from which its arrivals count.
    pub fn measuring(&self) -> Vec<(IpAddr, Instant)> {
        let busy = self.hosts.iter().filter(|(_, h)| h.interval.is_none() && !h.ports.is_empty());
        busy.map(|(ip, h)| (*ip, h.since)).collect()
    }

    /// Learns `host`'s interval from `arrivals` (ascending times of its ICMP
    /// errors since [`PacedQueue::measuring`] said) once enough came after
    /// the burst; returns it when learned.
    pub fn learn(&mut self, host: IpAddr, arrivals: &[Instant], now: Instant) -> Option<Duration> {
        let entry = self.hosts.get_mut(&host).filter(|h| h.interval.is_none())?;
        // The burst is what the limiter saved up since the last pass, at
        // most BURST errors as fast as probes went out; maybe none.
        let burst = arrivals
            .windows(2)
            .take(BURST)
            .take_while(|w| w[1].duration_since(w[0]) < MEASURE_GAP * 2)
            .count();
        let steady = &arrivals[burst.min(arrivals.len())..];
        if steady.len() < 2 {
            return None;
        }
        let gap = steady[steady.len() - 1].duration_since(steady[0]) / (steady.len() as u32 - 1);
        if steady.len() < MEASURED {
            entry.estimate = Some(paced(gap));
            return None;
        }
        let interval = paced(gap);
        entry.interval = Some(interval);
        // The measuring spent the tokens: the first paced probe waits one.
        entry.not_before = now + interval;
        Some(interval)
    }

    /// The interval `host` is paced to, once known.
    pub fn interval(&self, host: IpAddr) -> Option<Duration> {
        self.hosts.get(&host)?.interval
    }

    /// The next probe due at `now`, or when one will be; ports for which
    /// `answered` holds are dropped without spending the host's turn.
    pub fn next(&mut self, now: Instant, answered: impl Fn(IpAddr, u16) -> bool) -> Next {
        loop {
            let Some(&Reverse((at, ip))) = self.due.peek() else { return Next::Done };
            if at > now {
                return Next::WaitUntil(at);
            }
            self.due.pop();
            let host = self.hosts.get_mut(&ip).expect("a due host has a queue");
            if host.not_before > now {
                self.due.push(Reverse((host.not_before, ip)));
                continue;
            }
            while host.ports.front().is_some_and(|&(port, _)| answered(ip, port)) {
                host.ports.pop_front();
            }
            let Some((port, measured)) = host.ports.pop_front() else { continue };
            let gap = match host.interval {
                Some(interval) => interval,
                None if measured => {
                    // Every port went out once and too few errors came back
                    // to settle the interval: pace the rest to what they
                    // suggest, or, with none after the burst, as IPv4 Linux needs.
                    // The measuring spent the tokens: this port waits one.
                    let interval = host.estimate.unwrap_or(FALLBACK);
                    host.interval = Some(interval);
                    host.ports.push_front((port, true));
                    self.due.push(Reverse((now + interval, ip)));
                    continue;
                }
                None => {
                    // Sent faster than the limiter answers: send it again, paced.
                    host.ports.push_back((port, true));
                    MEASURE_GAP
                }
            };
            if !host.ports.is_empty() {
                // From the actual send, so a late probe does not shorten the next gap.
                self.due.push(Reverse((now + gap, ip)));
            }
            return Next::Send(ip, port);
        }
    }
}

#[cfg(test)]
mod tests;
