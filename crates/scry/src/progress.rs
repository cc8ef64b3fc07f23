//! Progress while the scan runs, on stderr: a live status line (indicatif)
//! when stderr is a terminal, plain `Stats:` lines every `--stats-every`
//! seconds when it is not, nothing with `-q`.
//!
//! It is an output sink that owns a thread: the thread reads the engine's
//! counters (probes sent) on its own clock, the sink counts the open ports
//! found from the `port` events. The display stops at the first host
//! report, before the other sinks write their tables, so a status line
//! never lands in the middle of them.

use crate::engine::{Counters, Plan};
use crate::output::{HostReport, ScanInfo, Sink, Stats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the live status line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// A live status line that redraws itself (stderr is a terminal).
    Live,
    /// A plain line every so often, and one at the end (`--stats-every`).
    Lines(Duration),
}

impl Mode {
    /// The mode for `-q`, `--stats-every` and whether stderr is a terminal.
    pub fn choose(quiet: bool, stats_every: Option<Duration>, terminal: bool) -> Option<Mode> {
        match (quiet, terminal, stats_every) {
            (true, _, _) => None,
            (false, true, _) => Some(Mode::Live),
            (false, false, Some(every)) => Some(Mode::Lines(every)),
            (false, false, None) => None,
        }
    }
}

/// Probes the first pass sends: every position of the shard, less those of
/// directly connected targets that did not answer ARP (exact for a whole
/// scan, proportional for a shard).
pub fn first_pass_probes(plan: &Plan) -> u64 {
    let positions = plan.positions.end - plan.positions.start;
    match plan.next_hops.reachable() {
        None => positions,
        Some(reachable) => {
            let hosts = plan.targets.len().max(1);
            (u128::from(positions) * reachable as u128 / u128::from(hosts)) as u64
        }
    }
}

/// One reading of the counters, and what it says.
#[derive(Clone, Debug, PartialEq)]
struct Reading {
    elapsed: Duration,
    sent: u64,
    /// Probes per second since the previous reading.
    current_pps: f64,
    found: u64,
    /// The adaptive rate, and (with `-v`) why it last changed.
    rate: Option<(f64, Option<String>)>,
}

impl Reading {
    fn average_pps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.sent as f64 / secs
        } else {
            0.0
        }
    }

    /// Seconds until the first pass is sent, at the average rate so far.
    fn eta(&self, total: u64) -> Option<Duration> {
        let pps = self.average_pps();
        let left = total.saturating_sub(self.sent);
        (pps > 0.0).then(|| Duration::from_secs_f64(left as f64 / pps))
    }

    /// `40.00% done, 20000/50000 probes, 9990 pps now (10000 avg), 3 open found, ETA 0:00:03`,
    /// with `, rate 20000 pps (up: ...)` before the ETA when the rate adapts.
    fn describe(&self, total: u64) -> String {
        let percent = if total == 0 { 100.0 } else { (self.sent.min(total) as f64 * 100.0) / total as f64 };
        let mut text = format!(
            "{percent:.2}% done, {}/{total} probes, {:.0} pps now ({:.0} avg), {} open found",
            self.sent,
            self.current_pps,
            self.average_pps(),
            self.found
        );
        if let Some((rate, why)) = &self.rate {
            let _ = write!(text, ", rate {} pps", rate_text(*rate));
            if let Some(why) = why {
                let _ = write!(text, " ({why})");
            }
        }
        match self.eta(total) {
            _ if self.sent >= total => text.push_str(", retrying and waiting for late replies"),
            Some(eta) => {
                let _ = write!(text, ", ETA {}", clock(eta));
            }
            None => {}
        }
        text
    }
}

/// `H:MM:SS`, as nmap writes elapsed and remaining times.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// State shared by the sink and its thread.
struct Shared {
    counters: Arc<Counters>,
    found: AtomicU64,
    stop: AtomicBool,
    total: u64,
    /// Say why the adaptive rate changed (`-v`).
    verbose: bool,
}

impl Shared {
    fn read(&self, start: Instant, previous: &mut (Duration, u64)) -> Reading {
        let (elapsed, sent) = (start.elapsed(), self.counters.sent.load(Ordering::Relaxed));
        let dt = elapsed.saturating_sub(previous.0).as_secs_f64();
        let current_pps = if dt > 0.0 { sent.saturating_sub(previous.1) as f64 / dt } else { 0.0 };
        *previous = (elapsed, sent);
        let shown = &self.counters.rate;
        let rate = shown.rate().map(|r| (r, shown.why().filter(|_| self.verbose)));
        Reading { elapsed, sent, current_pps, found: self.found.load(Ordering::Relaxed), rate }
    }
}

/// The progress display, as an output sink.
pub struct Progress {
    mode: Mode,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    start: Instant,
}

impl Progress {
    /// Progress over `counters`, which the engine fills, for a first pass of `total` probes.
    /// With `verbose`, the line says why an adaptive rate last changed.
    pub fn new(mode: Mode, counters: Arc<Counters>, total: u64, verbose: bool) -> Progress {
        let found = AtomicU64::new(0);
        let shared = Shared { counters, found, stop: AtomicBool::new(false), total, verbose };
        Progress { mode, shared: Arc::new(shared), thread: None, start: Instant::now() }
    }

    /// Stops the thread (clearing the live line); idempotent.
    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // A panicking display thread must not take the scan's results with it.
            let _ = thread.join();
        }
    }
}

/// The thread of the live status line.
fn live(shared: &Shared, start: Instant) {
    let bar = ProgressBar::with_draw_target(Some(shared.total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {wide_msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let mut previous = (Duration::ZERO, 0);
    // The first draw waits a moment: the other sinks' opening lines go first,
    // and a scan that ends at once never flashes a bar.
    std::thread::park_timeout(REDRAW);
    let show = |previous: &mut (Duration, u64)| {
        let reading = shared.read(start, previous);
        bar.set_position(reading.sent.min(shared.total));
        bar.set_message(reading.describe(shared.total));
    };
    while !shared.stop.load(Ordering::Acquire) {
        show(&mut previous);
        std::thread::park_timeout(REDRAW);
    }
    // The last state is shown however soon the scan ended after the last redraw.
    show(&mut previous);
    bar.force_draw();
    bar.finish_and_clear();
}

/// The thread of plain lines, one every `every`.
fn lines(shared: &Shared, start: Instant, every: Duration) {
    let mut previous = (Duration::ZERO, 0);
    let mut next = start + every;
    while !shared.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now < next {
            std::thread::park_timeout(next - now);
            continue;
        }
        next += every;
        let reading = shared.read(start, &mut previous);
        let _ = writeln!(
            io::stderr(),
            "Stats: {} elapsed; {}",
            clock(reading.elapsed),
            reading.describe(shared.total)
        );
    }
}

impl Sink for Progress {
    fn begin(&mut self, _info: &ScanInfo) -> io::Result<()> {
        self.start = Instant::now();
        let (shared, start, mode) = (Arc::clone(&self.shared), self.start, self.mode);
        let thread = std::thread::Builder::new().name("progress".into()).spawn(move || match mode {
            Mode::Live => live(&shared, start),
            Mode::Lines(every) => lines(&shared, start, every),
        })?;
        self.thread = Some(thread);
        Ok(())
    }

    fn port(&mut self, _ip: IpAddr, _port: u16, _protocol: Protocol, result: &PortResult) -> io::Result<()> {
        if result.state == PortState::Open {
            self.shared.found.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn host(&mut self, _report: &HostReport<'_>) -> io::Result<()> {
        self.stop();
        Ok(())
    }

    fn finish(&mut self, _stats: &Stats) -> io::Result<()> {
        self.stop();
        if let Mode::Lines(_) = self.mode {
            // The last word, however the scan ended. A failing stderr must
            // not keep the other sinks from finishing, so its error is dropped.
            let reading = self.shared.read(self.start, &mut (Duration::ZERO, 0));
            let total = self.shared.total;
            let peak = match self.shared.counters.rate.peak() {
                Some(peak) => format!(", adaptive rate peaked at {} pps", rate_text(peak)),
                None => String::new(),
            };
            let _ = writeln!(
                io::stderr(),
                "Stats: {} elapsed; finished, {} probes sent in all ({total} in the first pass), \
                 {:.0} pps average, {} open found{peak}",
                clock(reading.elapsed),
                reading.sent,
                reading.average_pps(),
                reading.found
            );
        }
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A rate in whole pps, or to three significant digits below 10 pps (the
/// slow timing templates' 2.5, 0.0667 and 0.00333) rather than 0.
fn rate_text(rate: f64) -> String {
    if rate >= 10.0 || rate <= 0.0 {
        return format!("{rate:.0}");
    }
    let decimals = (2.0 - rate.log10().floor()).max(0.0) as usize;
    let text = format!("{rate:.decimals$}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let every = Some(Duration::from_secs(5));
        assert_eq!(Mode::choose(true, every, true), None);
        assert_eq!(Mode::choose(false, None, true), Some(Mode::Live));
        assert_eq!(Mode::choose(false, every, false), Some(Mode::Lines(Duration::from_secs(5))));
        assert_eq!(Mode::choose(false, None, false), None);
    }

    #[test]
    fn descriptions() {
        let r = Reading {
            elapsed: Duration::from_secs(2),
            sent: 20_000,
            current_pps: 9_990.4,
            found: 3,
            rate: None,
        };
        assert_eq!(
            r.describe(50_000),
            "40.00% done, 20000/50000 probes, 9990 pps now (10000 avg), 3 open found, ETA 0:00:03"
        );
        let done = Reading { sent: 50_100, ..r.clone() };
        assert_eq!(
            done.describe(50_000),
            "100.00% done, 50100/50000 probes, 9990 pps now (25050 avg), 3 open found, \
             retrying and waiting for late replies"
        );
        assert_eq!(clock(Duration::from_secs(3_725)), "1:02:05");
        let adaptive = Reading { rate: Some((40_000.0, None)), ..r.clone() };
        assert_eq!(
            adaptive.describe(50_000),
            "40.00% done, 20000/50000 probes, 9990 pps now (10000 avg), 3 open found, rate 40000 pps, ETA 0:00:03"
        );
        // Regression: a timing template's rate below 1 pps was shown as 0.
        let rates = [1_000_000.0, 40_000.0, 12.4, 9.5, 2.5, 1.0, 1.0 / 15.0, 1.0 / 300.0];
        assert_eq!(
            rates.map(rate_text),
            ["1000000", "40000", "12", "9.5", "2.5", "1", "0.0667", "0.00333"].map(String::from)
        );
        let why = Some("up: 0 of 200 unanswered in the last round".to_owned());
        let verbose = Reading { rate: Some((40_000.0, why)), ..r };
        assert_eq!(
            verbose.describe(50_000),
            "40.00% done, 20000/50000 probes, 9990 pps now (10000 avg), 3 open found, \
             rate 40000 pps (up: 0 of 200 unanswered in the last round), ETA 0:00:03"
        );
    }
}
