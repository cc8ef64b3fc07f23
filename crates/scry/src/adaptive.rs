//! The engine's side of the adaptive rate (`scry_probe::adapt`): gathering
//! the evidence from the sender and receiver threads, and handing the
//! controller's rate back to the senders and the progress display.
//!
//! The receiver marks a host known once it answers a probe itself (a
//! router's ICMP error does not count) and counts the answers of known
//! hosts as they arrive, and the capture's drops; the senders count probes
//! to known hosts. The calling thread runs the controller on those counts.

use scry_probe::adapt::{Bounds, Change, Evidence, RateControl};
use scry_probe::state::Reason;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The shortest wait for a round's answers, however short the round trip.
const MIN_LAG: Duration = Duration::from_millis(5);
/// The longest: a slower answer is as good as lost for the round.
const MAX_LAG: Duration = Duration::from_millis(250);

/// What the threads of one phase count for the controller.
#[derive(Default)]
pub struct Gauge {
    known: RwLock<HashSet<IpAddr>>,
    sent: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
}

impl Gauge {
    /// The receiver saw an answer from `host` itself with `reason`.
    pub fn answer(&self, host: IpAddr, reason: Reason) {
        if self.known.read().expect("known hosts lock").contains(&host) {
            self.answered.fetch_add(1, Ordering::Relaxed);
            if refuses(reason) {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            self.known.write().expect("known hosts lock").insert(host);
        }
    }

    /// How many of `hosts` are known to answer (the senders, once a batch).
    pub fn count_known(&self, hosts: impl Iterator<Item = IpAddr>) -> u64 {
        let known = self.known.read().expect("known hosts lock");
        if known.is_empty() {
            return 0;
        }
        hosts.filter(|h| known.contains(h)).count() as u64
    }

    /// Adds probes sent to known hosts.
    pub fn sent(&self, n: u64) {
        if n > 0 {
            self.sent.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The capture's drops so far in the phase (libpcap's and the interface's).
    pub fn dropped(&self, total: u64) {
        self.dropped.store(total, Ordering::Relaxed);
    }

    fn evidence(&self) -> Evidence {
        Evidence {
            sent: self.sent.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// ICMP errors that refuse a probe rather than answer it: a firewall's
/// (or a rate limiter's) prohibition, a host unreachable from the host's side.
fn refuses(reason: Reason) -> bool {
    matches!(reason, Reason::Unreachable(1 | 9 | 10 | 13))
}

/// The current rate as the senders and the progress display read it.
#[derive(Default)]
pub struct Shown {
    /// The rate's bits (`f64::to_bits`); 0 while the rate is fixed.
    rate: AtomicU64,
    /// The highest rate so far.
    peak: AtomicU64,
    /// Why it last changed.
    why: Mutex<Option<String>>,
}

impl Shown {
    /// The adaptive rate now, `None` while the rate is fixed.
    pub fn rate(&self) -> Option<f64> {
        let bits = self.rate.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    /// The highest adaptive rate the scan reached.
    pub fn peak(&self) -> Option<f64> {
        let bits = self.peak.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    /// Why the rate last changed, if it did.
    pub fn why(&self) -> Option<String> {
        self.why.lock().expect("rate reason lock").clone()
    }

    /// The rate is fixed again (a new phase); the peak stays.
    pub fn fixed(&self) {
        self.rate.store(0, Ordering::Relaxed);
        *self.why.lock().expect("rate reason lock") = None;
    }

    fn set(&self, rate: f64, why: Option<String>) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
        if rate > self.peak().unwrap_or(0.0) {
            self.peak.store(rate.to_bits(), Ordering::Relaxed);
        }
        if why.is_some() {
            *self.why.lock().expect("rate reason lock") = why;
        }
    }
}

/// The controller of one phase, run by the calling thread.
pub struct Control {
    control: RateControl,
}

impl Control {
    /// A controller within `bounds`, its start rate shown.
    pub fn start(bounds: Bounds, shown: &Shown) -> Control {
        let control = RateControl::new(bounds, Instant::now());
        shown.set(control.rate(), None);
        Control { control }
    }

    /// Feeds the controller what `gauge` counted up to `heard` (when the
    /// receiver last found the capture empty); `rtt` bounds a round trip.
    pub fn tick(&mut self, gauge: &Gauge, heard: Instant, rtt: Option<Duration>, shown: &Shown) {
        let lag = rtt.map_or(MIN_LAG, |rtt| rtt.saturating_mul(2).clamp(MIN_LAG, MAX_LAG));
        let evidence = gauge.evidence();
        if let Some(Change { rate, why }) = self.control.observe(Instant::now(), heard, evidence, lag) {
            shown.set(rate, Some(why.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_counts_from_its_second_answer() {
        let gauge = Gauge::default();
        let host: IpAddr = "198.18.0.10".parse().unwrap();
        assert_eq!(gauge.count_known([host].into_iter()), 0);
        gauge.answer(host, Reason::Reset);
        gauge.answer(host, Reason::SynAck);
        gauge.answer(host, Reason::Unreachable(13));
        gauge.answer(host, Reason::Unreachable(3));
        assert_eq!(gauge.count_known([host, "198.18.0.11".parse().unwrap(), host].into_iter()), 2);
        gauge.sent(5);
        gauge.dropped(7);
        assert_eq!(gauge.evidence(), Evidence { sent: 5, answered: 3, refused: 1, dropped: 7 });
    }

    #[test]
    fn shown_rate_keeps_its_peak_and_reason() {
        let shown = Shown::default();
        assert_eq!((shown.rate(), shown.peak(), shown.why()), (None, None, None));
        shown.set(10_000.0, None);
        shown.set(20_000.0, Some("up".into()));
        shown.set(10_000.0, Some("down".into()));
        assert_eq!(
            (shown.rate(), shown.peak(), shown.why()),
            (Some(10_000.0), Some(20_000.0), Some("down".into()))
        );
    }
}
