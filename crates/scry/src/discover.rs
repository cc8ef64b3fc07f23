//! Host discovery only (`-sn`): every target gets the chosen discovery
//! probes, statelessly and at `--rate`, and the hosts that answer are up.
//!
//! Like the port scan, nothing is stored per probe: the sender walks the
//! (target, probe) pairs in a seeded permuted order, the receiver validates
//! answers by their cookies, and only up hosts are kept. A retry pass resends
//! to targets still silent. With `-Pn` nothing is sent and every target is up.

use crate::engine::{Neighbors, NextHops};
use crate::output::{HostReport, ScanInfo, Sink, Stats};
use scry_capture::{CaptureConfig, Receiver, Sender};
use scry_packet::parse_frame;
use scry_probe::discovery::{Discovery, HostVerdict};
use scry_probe::permute::Permutation;
use scry_probe::rate::TokenBucket;
use scry_probe::state::Reason;
use scry_probe::targets::TargetSet;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Frames per send call.
const BATCH: usize = scry_capture::MAX_BATCH;
/// Retry passes at most, whatever `--retries` says: a host that ignored
/// three rounds of every probe is down (nmap's discovery retries as few).
const MAX_RETRIES: u32 = 2;
/// Listening time between passes: answers still on their way are taken
/// whenever they arrive, so a short pause only costs a few extra probes.
const BETWEEN_PASSES: Duration = Duration::from_millis(250);
/// The longest discovery frame: Ethernet, IPv6 and the longest UDP ping payload fit.
pub const MAX_FRAME: usize = 1600;

/// A resolved `-sn` run.
pub struct DiscoveryPlan {
    pub targets: TargetSet,
    pub next_hops: NextHops,
    /// Directly connected targets that answered ARP in a scan that also has
    /// routed ones: up already, and not probed.
    pub up_by_arp: Vec<IpAddr>,
    pub discovery: Discovery,
    pub rate: f64,
    pub retries: u32,
    pub wait: Duration,
    /// `-Pn`: every target is up, nothing is sent.
    pub assume_up: bool,
    /// The scanner's own addresses: up as nmap's `localhost-response`.
    pub own: Vec<IpAddr>,
    pub info: ScanInfo,
}

impl DiscoveryPlan {
    /// Sends to each target through `next_hops`. Among routed targets, the
    /// directly connected ones are up by ARP when `arp_ping` (nmap's ARP
    /// ping), and only the routed ones get the discovery probes.
    pub fn route_via(&mut self, next_hops: NextHops, arp_ping: bool) {
        (self.next_hops, self.up_by_arp) = if next_hops.is_mixed() && arp_ping {
            (next_hops.routed_only(), next_hops.direct_hosts())
        } else {
            (next_hops, Vec::new())
        };
    }
}

/// Why a host is up: the reason and, for IP answers, the reply's TTL.
pub type Up = BTreeMap<IpAddr, (Reason, Option<u8>)>;

/// Runs discovery, reporting each up host as it answers and every target at the end.
///
/// # Errors
/// Capture, send and output failures.
pub fn run(
    plan: &DiscoveryPlan,
    rx: &mut Receiver,
    tx: &mut Sender,
    sinks: &mut [Box<dyn Sink>],
    (stop, neighbors): (&AtomicBool, Option<&Neighbors<'_>>),
) -> anyhow::Result<Stats> {
    let start = Instant::now();
    for sink in sinks.iter_mut() {
        sink.begin(&plan.info)?;
    }
    let mut stats = Stats {
        hosts_scanned: plan.targets.len(),
        skipped_broadcast: plan.info.skipped_broadcast.len() as u64,
        ..Stats::default()
    };
    let mut up =
        if plan.assume_up { Up::new() } else { probe(plan, rx, tx, sinks, (stop, neighbors), &mut stats)? };
    if !plan.assume_up {
        // nmap lists itself among a subnet's hosts, up without a probe.
        for &ip in plan.own.iter().filter(|ip| plan.targets.contains(**ip)) {
            if up.insert(ip, (Reason::LocalhostResponse, None)).is_some() {
                continue;
            }
            for sink in sinks.iter_mut() {
                sink.host_up(ip, Reason::LocalhostResponse, None)?;
            }
        }
    }
    for ip in plan.targets.iter() {
        let reason = up.get(&ip).copied();
        if reason.is_none() && !plan.assume_up {
            for sink in sinks.iter_mut() {
                sink.host_down(ip)?;
            }
            continue;
        }
        let mac = None;
        let report =
            HostReport { ip, mac, up_reason: reason, tables: &[], services: &crate::output::NO_SERVICES };
        for sink in sinks.iter_mut() {
            sink.host(&report)?;
        }
    }
    stats.hosts_up = if plan.assume_up { plan.targets.len() } else { up.len() as u64 };
    stats.interrupted = stop.load(Ordering::Relaxed);
    stats.duration = start.elapsed();
    for sink in sinks.iter_mut() {
        sink.finish(&stats)?;
    }
    Ok(stats)
}

/// The hosts of `plan` that answer a discovery probe, announced to `sinks` as they do;
/// `neighbors` answers the targets' solicitations for a spoofed IPv6 source meanwhile.
///
/// # Errors
/// Capture, send and output failures.
pub fn probe(
    plan: &DiscoveryPlan,
    rx: &mut Receiver,
    tx: &mut Sender,
    sinks: &mut [Box<dyn Sink>],
    (stop, neighbors): (&AtomicBool, Option<&Neighbors<'_>>),
    stats: &mut Stats,
) -> anyhow::Result<Up> {
    let up: Mutex<Up> = Mutex::new(BTreeMap::new());
    for &ip in &plan.up_by_arp {
        let reason = Reason::neighbor_response(ip);
        up.lock().expect("up lock").insert(ip, (reason, None));
        for sink in sinks.iter_mut() {
            sink.host_up(ip, reason, None)?;
        }
    }
    let filter = match neighbors {
        Some(n) => format!("({}) or {}", plan.discovery.filter(), n.responder.filter()),
        None => plan.discovery.filter(),
    };
    rx.configure(&CaptureConfig { filter, ..CaptureConfig::default() })?;
    let rejected = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let (events_tx, events) = mpsc::channel::<(IpAddr, Reason, Option<u8>)>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let receiver = scope.spawn(|| -> anyhow::Result<()> {
            let link = rx.link_type();
            while !done.load(Ordering::Acquire) {
                let Some(frame) = rx.next_frame()? else { continue };
                let Ok(parsed) = parse_frame(link, frame.data) else { continue };
                if let Some(n) = neighbors {
                    if let Some(answer) = n.responder.answer(&parsed) {
                        // A target asking where our spoofed source is: tell it, or it never replies.
                        let _ = n.tx.send(&answer);
                        continue;
                    }
                }
                match plan.discovery.classify(&parsed) {
                    HostVerdict::Up { host, reason, ttl, .. } if plan.targets.contains(host) => {
                        let _ = events_tx.send((host, reason, ttl));
                    }
                    HostVerdict::Invalid => {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            Ok(())
        });
        let mut record = |sinks: &mut [Box<dyn Sink>]| -> anyhow::Result<()> {
            while let Ok((host, reason, ttl)) = events.try_recv() {
                stats.received += 1;
                let mut up = up.lock().expect("up lock");
                if up.contains_key(&host) {
                    stats.duplicates += 1;
                    continue;
                }
                up.insert(host, (reason, ttl));
                for sink in sinks.iter_mut() {
                    sink.host_up(host, reason, ttl)?;
                }
            }
            Ok(())
        };
        let outcome = (|| -> anyhow::Result<()> {
            let retries = plan.retries.min(MAX_RETRIES);
            for pass in 0..=retries {
                if up.lock().expect("up lock").len() as u64 == plan.targets.len() {
                    break;
                }
                send_pass(plan, tx, &up, stop)?;
                let quiet_until =
                    Instant::now() + if pass == retries { plan.wait } else { plan.wait.min(BETWEEN_PASSES) };
                while Instant::now() < quiet_until && !stop.load(Ordering::Relaxed) {
                    record(sinks)?;
                    std::thread::sleep(Duration::from_millis(10));
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            Ok(())
        })();
        done.store(true, Ordering::Release);
        let received = receiver.join().expect("receiver thread panicked");
        outcome?;
        received?;
        record(sinks)
    })?;
    let sent = tx.finish()?;
    stats.sent = sent.sent;
    stats.send_errors = sent.failed;
    stats.rejected = rejected.load(Ordering::Relaxed);
    Ok(up.into_inner().expect("up lock"))
}

/// One pass: every (silent target, probe) pair, in a permuted order, at the rate.
fn send_pass(plan: &DiscoveryPlan, tx: &mut Sender, up: &Mutex<Up>, stop: &AtomicBool) -> anyhow::Result<()> {
    let methods = plan.discovery.methods();
    let pairs = plan.targets.len() * methods.len() as u64;
    let permutation = Permutation::new(pairs, rand::random());
    let mut walk = permutation.walk(0..pairs);
    let mut bucket = TokenBucket::new(plan.rate, Instant::now());
    let answered: HashMap<IpAddr, ()> = up.lock().expect("up lock").keys().map(|ip| (*ip, ())).collect();
    let mut exhausted = false;
    while !exhausted && !stop.load(Ordering::Relaxed) {
        let granted = bucket.take(Instant::now(), BATCH as u32) as usize;
        if granted == 0 {
            std::thread::sleep(bucket.wait().min(crate::engine::LONGEST_PACE));
            continue;
        }
        let mut n = 0;
        while n < granted {
            let Some(index) = walk.next() else {
                exhausted = true;
                break;
            };
            let Some(ip) = plan.targets.get(index / methods.len() as u64) else { continue };
            let method = methods[(index % methods.len() as u64) as usize];
            if answered.contains_key(&ip) {
                continue;
            }
            let Some(mac) = plan.next_hops.get(ip) else { continue };
            let slot = &mut tx.next_slot()?[..MAX_FRAME];
            let len = plan.discovery.write(ip, method, mac, index as u16, slot)?;
            if len > 0 {
                tx.commit(len)?;
                n += 1;
            }
        }
        bucket.give_back((granted - n) as u32);
        tx.flush();
    }
    Ok(())
}
