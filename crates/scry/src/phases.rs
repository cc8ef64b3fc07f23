//! A scan as nmap runs one: host discovery has been done, then one phase
//! per scan type (SYN before UDP), each an [`engine::phase`] with its own
//! probe, walk and capture; each host is reported once at the end with a
//! port table for every phase that ran.

use crate::connect;
use crate::engine::{self, Counters, Hooks, PhaseDone, Plan, Prober};
use crate::output::{Fanout, HostReport, PortTable, Sink, Stats};
use anyhow::Context;
use scry_capture::{Receiver, Sender};
use scry_probe::state::Reason;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Runs the scan to completion (or until `stop`), feeding `sinks` and
/// counting in `counters`: one phase per plan, in order (nmap runs its SYN
/// scan before its UDP scan), each host reported once at the end with the
/// ports of every phase. Each phase borrows `capture` (none with
/// --offline) and sends through `lanes`. A stop during a phase leaves the later ones unstarted. Once
/// the checkpoint hook has been called, it hears of each later phase as it
/// is reached, so a resume file never points back into a finished phase.
///
/// # Errors
/// Capture or send failures, and output write failures.
pub fn run(
    plans: &[Plan],
    capture: Option<&Mutex<Receiver>>,
    lanes: &mut [Sender],
    sinks: &mut [Box<dyn Sink>],
    stop: &AtomicBool,
    counters: &Counters,
    mut hooks: Hooks<'_>,
) -> anyhow::Result<Stats> {
    let start = Instant::now();
    let lead = plans.first().context("no scan phase")?;
    let mut sinks = Fanout::new(sinks);
    let mut info = lead.info.clone();
    info.scans = plans.iter().flat_map(|p| p.info.scans.iter().cloned()).collect();
    sinks.each(|s| s.begin(&info));
    let mut stats = Stats {
        hosts_scanned: lead.targets.len(),
        skipped_broadcast: lead.info.skipped_broadcast.len() as u64,
        ..Stats::default()
    };
    let mut up = announce_known_up(lead, &mut sinks);
    let mut done = Vec::new();
    // Whether a resume file was written and the phase before walked all its
    // positions: then the file moves on to this phase, so that a scan
    // killed before this phase's first checkpoint does not resume the last.
    let mut move_on = false;
    for plan in plans {
        if let (true, Some(checkpoint)) = (move_on, hooks.checkpoint.as_mut()) {
            checkpoint(plan.phase, plan.positions.start);
        }
        if stop.load(Ordering::Relaxed) || sinks.failed() {
            break;
        }
        let mut rx = capture.map(|c| c.lock().expect("capture lock"));
        counters.new_phase();
        let wire = (rx.as_deref_mut(), &mut *lanes);
        let phase = match &plan.probe {
            Prober::Connect(limits) => connect::phase(
                plan,
                limits.clone(),
                &mut sinks,
                stop,
                counters,
                &mut hooks,
                &mut up,
                &mut stats,
            )?,
            Prober::Frames(_) => {
                engine::phase(plan, wire, &mut sinks, stop, counters, &mut hooks, &mut up, &mut stats)?
            }
        };
        move_on = (move_on || phase.checkpointed) && phase.probed.end == plan.positions.end;
        done.push(phase);
    }
    stats.walked = done.len() == plans.len()
        && plans.iter().zip(&done).all(|(plan, phase)| phase.probed.end == plan.positions.end);
    // With -Pn every target is reported up, as nmap counts them.
    stats.hosts_up = if lead.report_silent_hosts { lead.targets.len() } else { up.len() as u64 };
    report_hosts(plans, &done, &up, &mut sinks);
    // After the reports: a stop during version detection (which holds them) counts too.
    stats.interrupted = stop.load(Ordering::Relaxed);
    stats.duration = start.elapsed();
    stats.max_rss_kib = peak_rss_kib();
    sinks.each(|s| s.finish(&stats));
    sinks.into_result()?;
    Ok(stats)
}
/// The hosts known up before any probe: found by discovery, or, on a
/// directly connected subnet, by answering ARP (as nmap's ARP ping).
fn announce_known_up(plan: &Plan, sinks: &mut Fanout<'_>) -> HashMap<IpAddr, (Reason, Option<u8>)> {
    let mut up: HashMap<IpAddr, (Reason, Option<u8>)> = HashMap::new();
    if !plan.known_up.is_empty() {
        let mut known: Vec<_> = plan.known_up.iter().map(|(ip, why)| (*ip, *why)).collect();
        known.sort_by_key(|(ip, _)| *ip);
        for (ip, (reason, ttl)) in known {
            up.insert(ip, (reason, ttl));
            sinks.each(|s| s.host_up(ip, reason, ttl));
        }
    } else {
        for ip in plan.next_hops.direct_hosts() {
            let reason = Reason::neighbor_response(ip);
            up.insert(ip, (reason, None));
            sinks.each(|s| s.host_up(ip, reason, None));
        }
    }
    up
}
/// The ports of `ip` whose probes sit at `probed` positions of the walk: all
/// of them for a whole, finished scan, fewer for a shard or after Ctrl-C,
/// whose other ports were never probed and so are not "no-response".
fn probed_ports<'a>(plan: &'a Plan, ip: IpAddr, probed: &Range<u64>) -> Cow<'a, [u16]> {
    if *probed == (0..plan.permutation.len()) {
        return Cow::Borrowed(&plan.ports);
    }
    let Some(host) = plan.targets.index_of(ip) else { return Cow::Owned(Vec::new()) };
    let first = host * plan.ports.len() as u64;
    let ports = plan
        .ports
        .iter()
        .zip(first..)
        .filter(|(_, index)| probed.contains(&plan.permutation.position_of(*index)));
    Cow::Owned(ports.map(|(port, _)| *port).collect())
}

/// Reports every host once, with a port table for each phase that ran.
fn report_hosts(
    plans: &[Plan],
    done: &[PhaseDone],
    up: &HashMap<IpAddr, (Reason, Option<u8>)>,
    sinks: &mut Fanout<'_>,
) {
    let Some(lead) = plans.first() else { return };
    let empty = Default::default();
    let report = |ip: IpAddr, sinks: &mut Fanout<'_>| {
        let scanned: Vec<Cow<'_, [u16]>> =
            plans.iter().zip(done).map(|(plan, phase)| probed_ports(plan, ip, &phase.probed)).collect();
        let tables: Vec<PortTable<'_>> = plans
            .iter()
            .zip(done)
            .zip(&scanned)
            .map(|((plan, phase), scanned)| PortTable {
                protocol: plan.probe.protocol(),
                ports: phase.results.host(ip).map_or(&empty, |h| &h.ports),
                scanned,
                silent: plan.probe.silent_state(),
            })
            .collect();
        let mac = lead.next_hops.direct(ip);
        let up_reason = up.get(&ip).copied();
        let host = HostReport { ip, mac, up_reason, tables: &tables, services: &crate::output::NO_SERVICES };
        sinks.each(|s| s.host(&host));
    };
    if lead.report_silent_hosts {
        for ip in lead.targets.iter() {
            report(ip, sinks);
        }
    } else {
        let mut hosts: Vec<IpAddr> = up.keys().copied().collect();
        hosts.sort();
        for ip in hosts {
            report(ip, sinks);
        }
    }
}
/// The process's peak resident set so far, in KiB (Linux reports ru_maxrss in KiB).
fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage fills the struct we own; all-zero is a valid rusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}
