//! The adaptive send rate: without `--rate`, scry looks for the rate the
//! path and the targets sustain, as nmap's congestion control does, from the
//! evidence a stateless scanner has.
//!
//! The evidence, all cumulative counts the engine passes in with `now`:
//! probes sent to hosts known to answer (a host that answered once, a reset
//! from a closed port included), the first answers that came back from
//! those hosts, the ICMP errors among them that refuse rather than answer
//! (host or administratively prohibited), and the receive path's own drops
//! (libpcap and ring counters). Probes to hosts never heard from say
//! nothing: silence from an address may mean nobody is there.
//!
//! The scan is cut into rounds. A round lasts at least [`ROUND`] and
//! [`SAMPLES`] probes to answering hosts; its answers are counted over the
//! same span shifted by `lag` (about two round trips), so replies still in
//! flight when the round ends count for it, and only once the receiver has
//! caught up with that time (a receiver behind is no loss). Then:
//!
//! - receive drops: the rate halves at once (our own capture cannot keep up);
//! - loss (unanswered or refused share) within `background + margin`: the
//!   rate doubles (slow start) or grows by [`AVOID_GROWTH`] once a loss was
//!   found to fall with the rate (congestion avoidance);
//! - more loss than that: the rate halves, and the next round checks whether
//!   the answered share rose with it. If it did, the rate was the cause (a rate limit, a
//!   queue overflowing) and the lower rate stays. If not, the loss does not
//!   depend on the rate (a lossy link, a host that drops some ports): it
//!   becomes the background (after a second halving that did not help
//!   either), and the rate goes back to where it was.
//! - too few probes to answering hosts: no change. With nothing answering
//!   (a sweep of empty space) the rate stays at its start.
//!
//! The rate never leaves `[min, max]`. docs/scanning.md gives the evidence
//! for each constant. I/O-free: nothing here reads a clock.

use std::fmt;
use std::time::{Duration, Instant};

/// The rate a scan starts at: zmap's default and scry's former fixed one.
pub const START_RATE: f64 = 10_000.0;
/// The default ceiling: two thirds of gigabit Ethernet's 1.49 M minimal
/// frames per second.
pub const DEFAULT_MAX_RATE: f64 = 1_000_000.0;
/// The default floor: masscan's default rate.
pub const DEFAULT_MIN_RATE: f64 = 100.0;
/// The shortest round.
pub const ROUND: Duration = Duration::from_millis(10);
/// Probes to answering hosts a round needs before it is judged.
pub const SAMPLES: u64 = 200;
/// The factor of a decrease (nmap's and TCP's halving of the window).
pub const DECREASE: f64 = 0.5;
/// The factor of growth per round in slow start.
pub const SLOW_START_GROWTH: f64 = 2.0;
/// The factor of growth per round in congestion avoidance.
pub const AVOID_GROWTH: f64 = 1.1;
/// Loss above the background tolerated before the rate is suspected.
pub const MARGIN: f64 = 0.05;
/// How much a halving must raise the answered share for the rate to be
/// the loss's cause: a saturated path delivers as much at half the rate
/// (its share doubles), a lossy one half as much (its share stays).
const RISE: f64 = 1.25;

/// The user's bounds on an adaptive rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub min: f64,
    pub max: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { min: DEFAULT_MIN_RATE, max: DEFAULT_MAX_RATE }
    }
}

impl Bounds {
    /// The start rate within these bounds.
    pub fn start(&self) -> f64 {
        START_RATE.clamp(self.min, self.max)
    }
}

/// Cumulative counts since the scan began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Probes sent to hosts known to answer.
    pub sent: u64,
    /// First answers from hosts known to answer (refusals included).
    pub answered: u64,
    /// Of those, ICMP errors that refuse rather than answer.
    pub refused: u64,
    /// Frames the receive path dropped (libpcap, the ring).
    pub dropped: u64,
}

/// Why the rate changed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Why {
    /// Slow start or congestion avoidance: the round lost no more than the background allows.
    Up { lost: u64, of: u64 },
    /// The round lost more than the background allows.
    Down { lost: u64, refused: u64, of: u64 },
    /// The receive path dropped frames.
    Drops(u64),
    /// Halving did not lower the loss: it is the background, the rate returns.
    Background { loss: f64 },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::Up { lost, of } => write!(f, "up: {lost} of {of} unanswered in the last round"),
            Why::Down { lost, refused: 0, of } => {
                write!(f, "down: {lost} of {of} unanswered in the last round")
            }
            Why::Down { lost, refused, of } => {
                write!(f, "down: {lost} of {of} unanswered in the last round, {refused} ICMP errors")
            }
            Why::Drops(n) => write!(f, "down: {n} receive drops"),
            Why::Background { loss } => {
                write!(f, "up: {:.0}% loss does not fall with the rate", loss * 100.0)
            }
        }
    }
}

/// A change of rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    pub rate: f64,
    pub why: Why,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    SlowStart,
    Avoid,
    /// The rate was halved from `from` on loss `loss`; the next round tells
    /// why. `again`: it was halved a second time, the first halving having
    /// not lowered the loss (a policer well below the rate still drops
    /// most of half the rate).
    Probing {
        from: f64,
        loss: f64,
        again: bool,
    },
}

/// Where the current round stands.
#[derive(Clone, Copy, Debug)]
struct Round {
    start: Instant,
    at_start: Evidence,
    /// Answers at `start + lag`, once that time has passed.
    answered_from: Option<(u64, u64)>,
    /// When sending for the round ended, and the probes then.
    end: Option<(Instant, u64)>,
}

/// The adaptive rate controller.
#[derive(Clone, Debug)]
pub struct RateControl {
    bounds: Bounds,
    rate: f64,
    phase: Phase,
    background: f64,
    round: Round,
}

impl RateControl {
    /// A controller at the start rate from `now`.
    pub fn new(bounds: Bounds, now: Instant) -> RateControl {
        let at_start = Evidence::default();
        RateControl {
            bounds,
            rate: bounds.start(),
            phase: Phase::SlowStart,
            background: 0.0,
            round: Round { start: now, at_start, answered_from: None, end: None },
        }
    }

    /// The rate to send at now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The loss taken as not caused by the rate.
    pub fn background(&self) -> f64 {
        self.background
    }

    /// Takes the evidence at `now`; `heard` is the time up to which every
    /// answer that arrived is in `ev` (a receiver that is behind has not
    /// counted the latest), and `lag` how long answers may take to come
    /// back. Returns the new rate when it changes.
    pub fn observe(&mut self, now: Instant, heard: Instant, ev: Evidence, lag: Duration) -> Option<Change> {
        let round = &mut self.round;
        // Drops within a lag of a change are the old rate's.
        if ev.dropped > round.at_start.dropped && now >= round.start + lag {
            let n = ev.dropped - round.at_start.dropped;
            self.phase = Phase::Avoid;
            return self.set(now, ev, self.rate * DECREASE, Why::Drops(n));
        }
        if round.answered_from.is_none() && heard >= round.start + lag {
            round.answered_from = Some((ev.answered, ev.refused));
        }
        if round.end.is_none()
            && now >= round.start + ROUND
            && ev.sent.saturating_sub(round.at_start.sent) >= SAMPLES
        {
            round.end = Some((now, ev.sent));
        }
        let (Some((end, sent)), Some((answered0, refused0))) = (round.end, round.answered_from) else {
            return None;
        };
        if heard < end + lag {
            return None;
        }
        let of = sent - round.at_start.sent;
        let answered = ev.answered.saturating_sub(answered0);
        let refused = ev.refused.saturating_sub(refused0).min(answered);
        let lost = of.saturating_sub(answered - refused);
        let loss = lost as f64 / of as f64;
        let b = self.background;
        let tolerated = b + MARGIN + 3.0 * (b * (1.0 - b) / of as f64).sqrt();
        let up = Why::Up { lost, of };
        let (rate, why) = match self.phase {
            Phase::Probing { from, loss: before, again: false }
                if loss > tolerated && from > self.rate && 1.0 - loss <= (1.0 - before) * RISE =>
            {
                // Halving did not help: halve once more before blaming the
                // path, since a limit far below the rate still drops most
                // of half the rate.
                self.phase = Phase::Probing { from, loss: before, again: true };
                (self.rate * DECREASE, Why::Down { lost, refused, of })
            }
            Phase::Probing { from, loss: before, again: true }
                if loss > tolerated && from > self.rate && 1.0 - loss <= (1.0 - before) * RISE =>
            {
                // A quarter of the rate lost as much: the loss is the
                // path's, not the rate's.
                self.background = loss.min(before);
                self.phase = Phase::SlowStart;
                (from, Why::Background { loss: self.background })
            }
            _ if loss > tolerated => {
                self.phase = Phase::Probing { from: self.rate, loss, again: false };
                (self.rate * DECREASE, Why::Down { lost, refused, of })
            }
            Phase::Probing { .. } => {
                // Halving lowered the loss: the rate was its cause, and the
                // lower rate stays, to grow slowly from here.
                self.phase = Phase::Avoid;
                (self.rate, up)
            }
            Phase::SlowStart => (self.rate * SLOW_START_GROWTH, up),
            Phase::Avoid => (self.rate * AVOID_GROWTH, up),
        };
        if matches!(why, Why::Up { .. }) && self.background > 0.0 {
            self.background = 0.9 * self.background + 0.1 * loss;
        }
        self.set(now, ev, rate, why)
    }

    /// Moves to `rate` (within the bounds) and starts a new round at `now`.
    fn set(&mut self, now: Instant, ev: Evidence, rate: f64, why: Why) -> Option<Change> {
        self.round = Round { start: now, at_start: ev, answered_from: None, end: None };
        let rate = rate.clamp(self.bounds.min, self.bounds.max);
        let changed = rate != self.rate;
        self.rate = rate;
        changed.then_some(Change { rate, why })
    }
}

#[cfg(test)]
mod tests;
