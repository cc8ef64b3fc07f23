//! When each OS probe goes to one host in one try, and when the try ends.
//!
//! nmap's two phases (`osscan2.cc` `doSeqTests`, `doTUITests`): the six SEQ
//! probes 100 ms apart; then, once they are answered or timed out, the
//! other probes 25 ms apart (IE1, IE2, U1, OPS resends for SEQ probes that
//! got nothing, ECN, T1 when SEQ 1 got nothing, T2-T7), each resent up to
//! three times when unanswered after the timeout. SEQ probes are not resent.
//! The timeout follows the host's measured round trip as nmap's does
//! (srtt + 4 × rttvar, 100 ms to 10 s; 1 s before the first reply).
//!
//! I/O-free: the caller passes `now` (time since any fixed instant) and
//! sends what [`HostSchedule::poll`] returns, so tests run in simulated time.

use std::time::Duration;

use crate::probes::{OsProbe, SEQ_PROBES, SEQ_SPACING_MS};

#[cfg(test)]
mod tests;

/// Pacing of one host's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Between SEQ probes (nmap: 100 ms).
    pub seq_spacing: Duration,
    /// Between the other probes to one host (nmap: 25 ms).
    pub probe_spacing: Duration,
    /// How long a probe waits for its reply before any round trip has been
    /// measured (nmap's initial RTT timeout: 1 s).
    pub initial_timeout: Duration,
    /// Bounds of the measured timeout, srtt + 4 × rttvar (nmap: 100 ms, 10 s).
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Resends of an unanswered probe after the first send (nmap: 3).
    pub resends: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            seq_spacing: Duration::from_millis(SEQ_SPACING_MS),
            probe_spacing: Duration::from_millis(25),
            initial_timeout: Duration::from_secs(1),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_secs(10),
            resends: 3,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    probe: OsProbe,
    sends: u32,
    last: Duration,
    answered: bool,
}

/// Which phase a try is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Seq,
    Others,
    Done,
}

/// One host's probes for one try.
#[derive(Clone, Debug)]
pub struct HostSchedule {
    timing: Timing,
    open: bool,
    closed: bool,
    start: Duration,
    phase: Phase,
    seq_sent: [Option<Duration>; SEQ_PROBES],
    seq_answered: [bool; SEQ_PROBES],
    others: Vec<Pending>,
    last_send: Option<Duration>,
    /// Smoothed round trip and its variation (RFC 6298), once measured.
    rtt: Option<(Duration, Duration)>,
}

impl HostSchedule {
    /// A try starting at `start`; `open`/`closed` say whether an open and a
    /// closed TCP port are known (probes that need one are left out).
    pub fn new(timing: Timing, open: bool, closed: bool, start: Duration) -> HostSchedule {
        let mut s = HostSchedule {
            timing,
            open,
            closed,
            start,
            phase: Phase::Seq,
            seq_sent: [None; SEQ_PROBES],
            seq_answered: [false; SEQ_PROBES],
            others: Vec::new(),
            last_send: None,
            rtt: None,
        };
        if !open {
            // Nothing to send SEQ probes to.
            s.start_others();
        }
        s
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True once every probe is answered or has used up its resends.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When each SEQ probe was sent, in microseconds since the clock's zero.
    pub fn seq_sent_us(&self) -> [Option<i64>; SEQ_PROBES] {
        self.seq_sent.map(|t| t.map(|t| t.as_micros() as i64))
    }

    /// How many times `probe` has been sent so far.
    pub fn sends(&self, probe: OsProbe) -> u32 {
        match probe {
            OsProbe::Seq(i) => u32::from(self.seq_sent.get(usize::from(i)).is_some_and(Option::is_some)),
            _ => self.others.iter().find(|p| p.probe == probe).map_or(0, |p| p.sends),
        }
    }

    /// How long a probe now waits for its reply before it is resent:
    /// srtt + 4 × rttvar within the bounds, or the initial timeout.
    pub fn timeout(&self) -> Duration {
        match self.rtt {
            None => self.timing.initial_timeout,
            Some((srtt, var)) => (srtt + var * 4).clamp(self.timing.min_timeout, self.timing.max_timeout),
        }
    }

    /// A reply to `probe` arrived at `now`. Replies to probes sent once
    /// also measure the round trip (as nmap, resent probes do not).
    pub fn on_reply(&mut self, probe: OsProbe, now: Duration) {
        let first_send = match probe {
            OsProbe::Seq(i) => {
                let i = usize::from(i);
                match self.seq_answered.get_mut(i) {
                    Some(a) if !*a => {
                        *a = true;
                        self.seq_sent[i]
                    }
                    _ => None,
                }
            }
            _ => match self.others.iter_mut().find(|p| p.probe == probe && !p.answered) {
                Some(p) => {
                    p.answered = true;
                    (p.sends == 1).then_some(p.last)
                }
                None => None,
            },
        };
        if let Some(sent) = first_send {
            self.measure(now.saturating_sub(sent));
        }
    }

    /// RFC 6298's smoothing of a round-trip sample.
    fn measure(&mut self, sample: Duration) {
        self.rtt = Some(match self.rtt {
            None => (sample, sample / 2),
            Some((srtt, var)) => {
                let diff = if srtt > sample { srtt - sample } else { sample - srtt };
                (srtt * 7 / 8 + sample / 8, var * 3 / 4 + diff / 4)
            }
        });
    }

    /// The probe to send now, if any (at most one per call).
    pub fn poll(&mut self, now: Duration) -> Option<OsProbe> {
        if self.phase == Phase::Seq {
            let next = self.seq_sent.iter().position(Option::is_none);
            match next {
                Some(i) if now >= self.start + self.timing.seq_spacing * i as u32 => {
                    self.seq_sent[i] = Some(now);
                    self.last_send = Some(now);
                    return Some(OsProbe::Seq(i as u8));
                }
                Some(_) => return None,
                None => {
                    let last = self.seq_sent[SEQ_PROBES - 1].unwrap_or(now);
                    if self.seq_answered.iter().all(|&a| a) || now >= last + self.timeout() {
                        self.start_others();
                    } else {
                        return None;
                    }
                }
            }
        }
        if self.phase != Phase::Others {
            return None;
        }
        if self.last_send.is_some_and(|t| now < t + self.timing.probe_spacing) {
            return None;
        }
        let (resends, timeout) = (self.timing.resends, self.timeout());
        let due = self
            .others
            .iter_mut()
            .find(|p| !p.answered && (p.sends == 0 || (p.sends <= resends && now >= p.last + timeout)));
        if let Some(p) = due {
            p.sends += 1;
            p.last = now;
            self.last_send = Some(now);
            return Some(p.probe);
        }
        let finished = |p: &Pending| p.answered || (p.sends > resends && now >= p.last + timeout);
        if self.others.iter().all(finished) {
            self.phase = Phase::Done;
        }
        None
    }

    /// nmap's `buildTUIProbeList`, given which SEQ probes got an answer.
    fn start_others(&mut self) {
        let mut list = vec![OsProbe::Ie(0), OsProbe::Ie(1), OsProbe::U1];
        if self.open {
            let missing = (0..SEQ_PROBES).filter(|&i| !self.seq_answered[i]);
            list.extend(missing.map(|i| OsProbe::Ops(i as u8)));
            list.push(OsProbe::Ecn);
            if !self.seq_answered[0] {
                list.push(OsProbe::T(1));
            }
            list.extend((2..=4).map(OsProbe::T));
        }
        if self.closed {
            list.extend((5..=7).map(OsProbe::T));
        }
        self.others = list
            .into_iter()
            .map(|probe| Pending { probe, sends: 0, last: Duration::ZERO, answered: false })
            .collect();
        self.phase = Phase::Others;
    }
}
