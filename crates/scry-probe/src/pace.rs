//! Per-host pacing for UDP scans whose targets rate-limit ICMP errors.
//!
//! A closed UDP port is known only by its ICMP port unreachable, and most
//! stacks ration those: Linux allows each peer a burst of 6 and then one a
//! second (`net.ipv4.icmp_ratelimit`, 1000 ms; Nmap book, "UDP Scan" cites
//! the same for Solaris and Linux). Past the burst, a fast scan's probes to
//! closed ports go unanswered and would be misreported as open|filtered.
//!
//! The engine sends its first pass at `--rate`, then asks [`detect_limit`]
//! per host whether the unreachables it got look rationed: fewer answers than
//! probes, and after the burst, answers arriving at a steady rate far below
//! the rate probes went to that host. If so, the host's unanswered ports are
//! retried through a [`PacedQueue`] no faster than the host answers, so each
//! retry finds a fresh token. Like nmap's scan delay for UDP (which starts at
//! 50 ms and doubles each time drops are seen, up to `--max-scan-delay`, 1 s
//! for UDP), the interval is per host, so other hosts are not slowed; unlike
//! it, scry measures the interval at once instead of doubling towards it.
//! Everything takes `now` as an argument.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Answers at the start of a pass taken as the limiter's burst, not its rate.
pub const BURST: usize = 6;
/// The slowest interval scry paces a host to.
pub const MAX_INTERVAL: Duration = Duration::from_secs(2);
/// The fastest interval worth pacing to (nmap's first UDP scan delay).
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);
/// Headroom over the measured interval, so jitter does not starve a token.
const HEADROOM: f64 = 1.05;

/// Whether `arrivals` (ascending times of the ICMP errors a host sent during
/// one pass) look like a rate limiter's, given that `sent` probes went to the
/// host spread over `send_span`. Returns the interval to pace the host to.
pub fn detect_limit(arrivals: &[Instant], sent: usize, send_span: Duration) -> Option<Duration> {
    if arrivals.is_empty() || arrivals.len() >= sent {
        // A silent host shows no limiter; a host that answered everything has none.
        return None;
    }
    if arrivals.len() < BURST + 2 {
        // Only the burst came back, too little to measure: assume Linux's
        // one a second if most probes went unanswered.
        return (sent > arrivals.len() + BURST).then(|| Duration::from_secs(1).mul_f64(HEADROOM));
    }
    let steady = &arrivals[BURST..];
    let gap = steady[steady.len() - 1].duration_since(steady[0]) / (steady.len() as u32 - 1);
    let send_gap = send_span / sent as u32;
    // A limiter answers much more slowly than we asked; plain loss does not.
    (gap >= send_gap * 4).then(|| gap.mul_f64(HEADROOM).clamp(MIN_INTERVAL, MAX_INTERVAL))
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

/// Per-host queues of ports, each host released no faster than its interval.
#[derive(Debug, Default)]
pub struct PacedQueue {
    ports: HashMap<IpAddr, (Duration, VecDeque<u16>)>,
    due: BinaryHeap<Reverse<(Instant, IpAddr)>>,
}

impl PacedQueue {
    /// Queues `ports` of `host`, one every `interval` from `now`.
    pub fn add(
        &mut self,
        host: IpAddr,
        interval: Duration,
        ports: impl IntoIterator<Item = u16>,
        now: Instant,
    ) {
        let entry = self.ports.entry(host).or_insert_with(|| (interval, VecDeque::new()));
        let was_empty = entry.1.is_empty();
        entry.0 = interval;
        entry.1.extend(ports);
        if was_empty && !entry.1.is_empty() {
            self.due.push(Reverse((now, host)));
        }
    }

    /// Probes still queued.
    pub fn len(&self) -> usize {
        self.ports.values().map(|(_, q)| q.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// The next probe due at `now`, or when one will be.
    pub fn next(&mut self, now: Instant) -> Next {
        let Some(&Reverse((at, host))) = self.due.peek() else { return Next::Done };
        if at > now {
            return Next::WaitUntil(at);
        }
        self.due.pop();
        let (interval, queue) = self.ports.get_mut(&host).expect("a due host has a queue");
        let port = queue.pop_front().expect("a due host has a port queued");
        if !queue.is_empty() {
            // From the actual send, so a late probe does not shorten the next gap.
            self.due.push(Reverse((now + *interval, host)));
        }
        Next::Send(host, port)
    }
}

#[cfg(test)]
mod tests;
