//! The UDP scan's last pass: hosts whose ICMP errors came back rationed are
//! re-probed, each no faster than it answers (see `scry_probe::pace`).

use crate::engine::NextHops;
use scry_capture::Sender;
use scry_probe::pace::{detect_limit, Limit, Next, PacedQueue};
use scry_probe::probe::Probe;
use scry_probe::rate::TokenBucket;
use scry_probe::results::Results;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Arrival times of each host's ICMP errors during the first pass.
pub type Arrivals = Mutex<HashMap<IpAddr, Vec<Instant>>>;

/// What the paced pass needs from the scan.
pub struct Scan<'a> {
    pub probe: &'a dyn Probe,
    pub ports: &'a [u16],
    pub next_hops: &'a NextHops,
    /// When the first pass began and ended: every host's probes were spread over it.
    pub first_pass: (Instant, Instant),
    /// `--rate`, which the paced pass keeps to as well.
    pub rate: f64,
}

/// Re-probes the unanswered ports of rate-limited hosts, paced per host,
/// through `tx` (which counts what it sends, and is handed to `flushed`
/// after each flush); stops early when `stop` says so.
pub fn paced_pass(
    scan: &Scan<'_>,
    tx: &mut Sender,
    results: &Mutex<Results>,
    arrivals: &Arrivals,
    verbose: bool,
    (stop, mut flushed): (impl Fn() -> bool, impl FnMut(&Sender)),
) -> anyhow::Result<()> {
    let mut queue = PacedQueue::default();
    let now = Instant::now();
    {
        let arrivals = arrivals.lock().expect("arrivals lock");
        let results = results.lock().expect("results lock");
        let (begin, end) = scan.first_pass;
        // Errors still in flight when the pass ended belong to it.
        let late = end + Duration::from_millis(100);
        for (host, times) in arrivals.iter() {
            let mut times: Vec<Instant> = times.iter().copied().filter(|t| *t <= late).collect();
            times.sort();
            let Some(limit) = detect_limit(&times, scan.ports.len(), end - begin) else { continue };
            let unanswered: Vec<u16> =
                scan.ports.iter().copied().filter(|p| !results.has(*host, *p)).collect();
            if verbose {
                let pace = match limit {
                    Limit::Every(interval) => format!("one per {interval:?}"),
                    Limit::Unmeasured => "as fast as it answers, measured now".to_owned(),
                };
                eprintln!(
                    "scry: {host} rate-limits ICMP errors ({} in the first pass); probing its {} silent ports \
                     {pace}",
                    times.len(),
                    unanswered.len()
                );
            }
            // Start one interval out: the retries just spent the limiter's tokens.
            let first = match limit {
                Limit::Every(interval) => now + interval,
                Limit::Unmeasured => now,
            };
            queue.add(*host, limit, unanswered, first);
        }
    }
    let frame_len = scan.probe.max_frame_len();
    let mut bucket = TokenBucket::new(scan.rate, Instant::now());
    loop {
        if stop() {
            break;
        }
        if bucket.take(Instant::now(), 1) == 0 {
            std::thread::sleep(bucket.wait());
            continue;
        }
        for (host, since) in queue.measuring() {
            let mut times: Vec<Instant> = arrivals
                .lock()
                .expect("arrivals lock")
                .get(&host)
                .map(|t| t.iter().copied().filter(|t| *t >= since).collect())
                .unwrap_or_default();
            times.sort();
            if let Some(interval) = queue.learn(host, &times, Instant::now()) {
                if verbose {
                    eprintln!("scry: {host} answers one ICMP error per {:?}; pacing to that", interval);
                }
            }
        }
        let answered = |ip, port| results.lock().expect("results lock").has(ip, port);
        match queue.next(Instant::now(), answered) {
            Next::Send(ip, port) => {
                let Some(mac) = scan.next_hops.get(ip) else {
                    bucket.give_back(1);
                    continue;
                };
                for which in 0..scan.probe.frames(port) {
                    let slot = &mut tx.next_slot()?[..frame_len];
                    let len = scan.probe.write(ip, port, which, mac, port, slot)?;
                    tx.commit(len)?;
                }
                tx.flush();
                flushed(tx);
            }
            Next::WaitUntil(at) => {
                bucket.give_back(1);
                std::thread::sleep(
                    at.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)),
                );
            }
            Next::Done => break,
        }
    }
    Ok(())
}
