//! The `SEQ` test: ISN predictability (SP, GCD, ISR), IP ID classes (TI,
//! CI, II, SS) and the timestamp rate (TS), with nmap 7.93's arithmetic
//! (`makeTSeqFP`, `get_ipid_sequence_16`, `identify_sequence`), including
//! its single-precision ISN rates and unsigned wrap-arounds.

use scry_packet::{IpHeader, Tcp, TcpFlags};

use crate::probes::{ProbeSet, SEQ_PROBES, SEQ_SPACING_MS};
use crate::subject::SubjectTest;

/// nmap's timestamp classes while replies come in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TsClass {
    #[default]
    Unknown,
    Zero,
    Unsupported,
}

/// What the SEQ replies and the other probes' IP IDs gave.
#[derive(Default)]
pub(super) struct SeqSamples {
    /// ISN per SEQ probe; 0 means none (as in nmap).
    seqs: [u32; SEQ_PROBES],
    timestamps: [u32; SEQ_PROBES],
    ts_class: TsClass,
    last_ipid: u32,
    tcp_ipids: [Option<u32>; SEQ_PROBES],
    /// IP IDs of the T5, T6, T7 replies.
    pub(super) closed_ipids: [Option<u32>; 3],
    /// IP IDs of the IE1, IE2 replies.
    pub(super) icmp_ipids: [Option<u32>; 2],
}

/// nmap's IP ID sequence classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpIdClass {
    Zero,
    Constant,
    Incremental,
    IncrementalBy2,
    BrokenIncremental,
    RandomPositive,
    Random,
    Unknown,
}

impl SeqSamples {
    /// nmap's `processTSeqResp` for the reply to SEQ probe `i`.
    pub(super) fn record(&mut self, set: &ProbeSet, i: usize, ip: &IpHeader, tcp: &Tcp) {
        if self.last_ipid != 0 && ip.id == self.last_ipid {
            return; // a duplicate, as seen on localhost
        }
        self.last_ipid = ip.id;
        if tcp.flags.contains(TcpFlags::RST) || !tcp.flags.contains(TcpFlags::SYN | TcpFlags::ACK) {
            return;
        }
        // nmap matches by the acknowledgment and falls back to the port.
        let by_ack = tcp.ack.wrapping_sub(set.seq_base).wrapping_sub(1) as usize;
        let n = if by_ack == i { by_ack } else { i };
        if self.seqs[n] != 0 {
            return;
        }
        self.seqs[n] = tcp.seq;
        match tcp.options.timestamp() {
            None => self.ts_class = TsClass::Unsupported,
            Some((0, _)) => self.ts_class = TsClass::Zero,
            Some(_) => {}
        }
        self.timestamps[n] = tcp.options.timestamp().map_or(0, |(val, _)| val);
        self.tcp_ipids[i] = Some(ip.id);
    }

    /// The `SEQ` test, or `None` when nothing in it could be computed.
    pub(super) fn test(&self, sent_us: &[Option<i64>; SEQ_PROBES], localhost: bool) -> Option<SubjectTest> {
        let mut attrs: Vec<(&str, String)> = Vec::new();
        // Close the gaps left by unanswered probes.
        let got: Vec<usize> = (0..SEQ_PROBES).filter(|&i| self.seqs[i] != 0).collect();
        let mut seq_diffs = Vec::new();
        let mut ts_diffs = Vec::new();
        let mut usec_diffs = Vec::new();
        let mut rates: Vec<f32> = Vec::new();
        let mut avg_rate = 0.0f64;
        for pair in got.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let diff = mod_diff(self.seqs[b], self.seqs[a]);
            seq_diffs.push(diff);
            ts_diffs.push(mod_diff(self.timestamps[b], self.timestamps[a]));
            let usec = (sent_us[b].unwrap_or(0) - sent_us[a].unwrap_or(0)) as u64;
            let usec = usec.max(1);
            usec_diffs.push(usec);
            let rate = (f64::from(diff) * 1_000_000.0 / usec as f64) as f32;
            rates.push(rate);
            avg_rate += f64::from(rate);
        }
        let responses = got.len();
        if responses >= 4 {
            avg_rate /= (responses - 1) as f64;
            let gcd = seq_diffs.iter().copied().reduce(gcd).unwrap_or(1);
            let (index, isr) = if gcd == 0 {
                (0, 0)
            } else {
                let isr = (avg_rate.log2() * 8.0 + 0.5) as u32;
                let div = if gcd > 9 { gcd } else { 1 };
                let var: f64 = rates
                    .iter()
                    .map(|&r| {
                        let d = f64::from(r / div as f32) - avg_rate / f64::from(div);
                        d * d
                    })
                    .sum::<f64>()
                    / (responses - 2) as f64;
                let sd = var.sqrt();
                let index = if sd <= 1.0 { 0 } else { (sd.log2() * 8.0 + 0.5) as i32 };
                (index, isr)
            };
            attrs.push(("SP", format!("{:X}", index as u32)));
            attrs.push(("GCD", format!("{gcd:X}")));
            attrs.push(("ISR", format!("{isr:X}")));
        }

        let tcp: Vec<u32> = self.tcp_ipids.iter().flatten().copied().collect();
        let closed: Vec<u32> = self.closed_ipids.iter().flatten().copied().collect();
        let icmp: Vec<u32> = self.icmp_ipids.iter().flatten().copied().collect();
        let class = |ids: &[u32], min: usize| {
            if ids.len() >= min {
                ipid_class(ids, localhost)
            } else {
                IpIdClass::Unknown
            }
        };
        let (ti, ci, ii) = (class(&tcp, 3), class(&closed, 2), class(&icmp, 2));
        for (name, c, ids) in [("TI", ti, &tcp), ("CI", ci, &closed), ("II", ii, &icmp)] {
            if let Some(v) = class_value(c, ids) {
                attrs.push((name, v));
            }
        }
        let counting = |c| {
            matches!(c, IpIdClass::Incremental | IpIdClass::BrokenIncremental | IpIdClass::RandomPositive)
        };
        if counting(ti) && counting(ii) {
            let last = tcp[tcp.len() - 1];
            let avg = last.wrapping_sub(tcp[0]) / (tcp.len() as u32 - 1);
            let shared = icmp[0] < last.wrapping_add(avg.wrapping_mul(3));
            attrs.push(("SS", if shared { "S" } else { "O" }.to_owned()));
        }

        let ts_class = self.ts_class;
        let mut avg_hz = 0.0f64;
        let mut numeric = false;
        if ts_class == TsClass::Unknown && responses >= 2 {
            for (&ts, &usec) in ts_diffs.iter().zip(&usec_diffs) {
                avg_hz += f64::from(ts) / (usec as f64 / 1_000_000.0) / (responses - 1) as f64;
            }
            numeric = avg_hz > 0.0;
        }
        if numeric {
            let value = if avg_hz <= 5.66 {
                1
            } else if avg_hz > 70.0 && avg_hz <= 150.0 {
                7
            } else if avg_hz > 150.0 && avg_hz <= 350.0 {
                8
            } else {
                (0.5 + avg_hz.log2()) as u32
            };
            attrs.push(("TS", format!("{value:X}")));
        } else {
            match ts_class {
                TsClass::Zero => attrs.push(("TS", "0".to_owned())),
                TsClass::Unsupported => attrs.push(("TS", "U".to_owned())),
                TsClass::Unknown => {}
            }
        }
        (!attrs.is_empty()).then(|| SubjectTest::new("SEQ", attrs))
    }
}

/// Classifies a run of 16-bit IP IDs as nmap 7.93 does.
pub fn ipid_class(ids: &[u32], localhost: bool) -> IpIdClass {
    if ids.len() < 2 {
        return IpIdClass::Unknown;
    }
    let mut all_zero = true;
    let mut diffs = Vec::with_capacity(ids.len() - 1);
    for pair in ids.windows(2) {
        if pair[0] != 0 || pair[1] != 0 {
            all_zero = false;
        }
        let diff = pair[1].wrapping_sub(pair[0]);
        // Tested before the diffs are cut to 16 bits, so a wrap of the
        // counter reads as random, exactly as in nmap.
        if ids.len() > 2 && diff > 20000 {
            return IpIdClass::Random;
        }
        diffs.push(diff);
    }
    if all_zero {
        return IpIdClass::Zero;
    }
    for d in &mut diffs {
        *d &= 0xffff;
    }
    if localhost && diffs.iter().all(|&d| d >= 2) {
        // The RST nmap's own kernel sends uses an ID too.
        for d in &mut diffs {
            *d = if *d % 256 == 0 { *d - 256 } else { *d - 1 };
        }
    }
    if diffs.iter().all(|&d| d == 0) {
        return IpIdClass::Constant;
    }
    if diffs.iter().any(|&d| d > 1000 && (d % 256 != 0 || d >= 25600)) {
        return IpIdClass::RandomPositive;
    }
    if diffs.iter().all(|&d| d <= 5120 && d % 256 == 0) {
        return IpIdClass::BrokenIncremental;
    }
    if diffs.iter().all(|&d| d % 2 == 0) {
        return IpIdClass::IncrementalBy2;
    }
    if diffs.iter().all(|&d| d <= 9) {
        return IpIdClass::Incremental;
    }
    IpIdClass::Unknown
}

/// The printed value of a class (`make_aval_ipid_seq`); `None` omits it.
fn class_value(class: IpIdClass, ids: &[u32]) -> Option<String> {
    Some(match class {
        IpIdClass::Constant => format!("{:X}", ids[0]),
        IpIdClass::Incremental | IpIdClass::IncrementalBy2 => "I".to_owned(),
        IpIdClass::BrokenIncremental => "BI".to_owned(),
        IpIdClass::RandomPositive => "RI".to_owned(),
        IpIdClass::Random => "RD".to_owned(),
        IpIdClass::Zero => "Z".to_owned(),
        IpIdClass::Unknown => return None,
    })
}

/// nmap's `MOD_DIFF`: the shorter way around the 32-bit circle.
fn mod_diff(a: u32, b: u32) -> u32 {
    a.wrapping_sub(b).min(b.wrapping_sub(a))
}

fn gcd(a: u32, b: u32) -> u32 {
    let (mut a, mut b) = if a < b { (b, a) } else { (a, b) };
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Time taken from the first to the last SEQ probe over the ideal 500 ms
/// (nmap's `timingRatio`); `None` without both send times.
pub(super) fn timing_ratio(sent_us: &[Option<i64>; SEQ_PROBES]) -> Option<f64> {
    let first = sent_us[0]?;
    let last = sent_us[SEQ_PROBES - 1]?;
    let ideal_ms = (SEQ_SPACING_MS * (SEQ_PROBES as u64 - 1)) as f64;
    Some(((last - first) / 1000) as f64 / ideal_ms)
}
