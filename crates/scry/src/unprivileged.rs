//! What scry does without the privilege to send raw packets, as nmap does
//! (`NmapOps::ValidateOptions`, `validate_scan_lists`): with no scan type
//! given it falls back to a connect scan (`-sT`); a scan type or option
//! that needs raw sockets (`-sS`, `-sU`, `-O`, `-PU`, `-S`, `-g`, `--pcap`,
//! ...) is refused, naming it, before anything is opened or sent; host
//! discovery connects to TCP ports (80 and 443 by default) instead of
//! sending ICMP and SYN probes.
//!
//! Privileged means CAP_NET_RAW in the effective set (root has it, unless
//! a container took it away; file capabilities give it to other users):
//! what a libpcap capture and a packet socket need. (nmap asks whether the
//! user is root, and fails on a container's root without it; scry falls
//! back to `-sT` there too.)

use crate::cli::Args;
use crate::privileges;
use crate::UsageError;
use scry_probe::services::Services;

/// CAP_NET_RAW's number in `<linux/capability.h>`.
const CAP_NET_RAW: u32 = 13;

/// Whether this process may open captures and raw sockets.
pub fn privileged() -> bool {
    match privileges::Status::current() {
        Ok(status) => status.cap_eff & (1 << CAP_NET_RAW) != 0,
        Err(_) => privileges::is_root(),
    }
}

/// The reason an option needs privileges, as scry says it.
fn needs_raw(option: &str, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{option} ({what}) needs raw sockets: run scry as root, or give the binary CAP_NET_RAW \
         (setcap cap_net_raw,cap_net_admin+ep); without privileges scry scans with -sT (TCP connect), as nmap"
    )
}

/// Options that only mean something for raw probes, given with `-sT`,
/// with what each does: refused, naming the first.
fn raw_only_given(args: &Args) -> Option<(&'static str, &'static str)> {
    [
        (args.source.is_some(), "-S", "a source address for raw probes"),
        (args.source_port.is_some(), "-g", "a source port for raw probes"),
        (args.pcap.is_some(), "--pcap", "a capture of the frames sent and received"),
        (args.router_mac.is_some(), "--router-mac", "the next hop of raw frames"),
    ]
    .into_iter()
    .find_map(|(given, option, what)| given.then_some((option, what)))
}

/// As nmap, makes a scan with no type a connect scan when the process
/// has no privileges; says whether it did. Refuses raw-only options given
/// with an explicit `-sT`.
///
/// # Errors
/// A raw-only option with `-sT` ([`UsageError`]).
pub fn settle(args: &mut Args, privileged: bool) -> Result<bool, UsageError> {
    let typed = args.syn_scan || args.connect_scan || args.udp_scan || args.ping_scan;
    if !privileged && !args.offline && !typed {
        args.connect_scan = true;
        return Ok(true);
    }
    if args.connect_scan {
        if let Some((option, what)) = raw_only_given(args) {
            return Err(UsageError(format!(
                "{option} ({what}) does not apply to -sT, whose connections are the kernel's own; use -sS"
            )));
        }
        if args.offline {
            return Err(UsageError("--offline counts raw probes; -sT (connect) has none".into()));
        }
    }
    Ok(false)
}

/// Just before anything is opened: refuses what needs privileges the
/// process lacks (exit status 1, as nmap's refusals), naming the option,
/// and says so when the scan fell back to `-sT` ([`settle`]).
///
/// # Errors
/// A scan type or option that needs raw sockets, without privileges.
pub fn check(args: &Args, privileged: bool, fell_back: bool) -> anyhow::Result<()> {
    if privileged || args.offline {
        return Ok(());
    }
    let refused = [
        (args.syn_scan, "-sS", "SYN scan"),
        (args.udp_scan, "-sU", "UDP scan"),
        (args.os_detect, "-O", "OS detection"),
        (args.udp_ping.is_some(), "-PU", "UDP ping"),
    ];
    if let Some((_, option, what)) = refused.into_iter().find(|(given, _, _)| *given) {
        return Err(needs_raw(option, what));
    }
    if let Some((option, what)) = raw_only_given(args) {
        return Err(needs_raw(option, what));
    }
    if fell_back {
        eprintln!("scry: no CAP_NET_RAW: scanning with -sT (TCP connect), as nmap does without privileges");
    }
    Ok(())
}

/// The TCP ports host discovery connects to without privileges, as nmap
/// chooses them: those of `-PS` and `-PA` (both become connections), else
/// 80 and 443; 80 alone when only ICMP or ARP pings were asked for, which
/// need privileges (with a warning, as nmap's).
///
/// # Errors
/// A bad `-PS`/`-PA` port list.
pub fn ping_ports(args: &Args, services: &Services) -> Result<Vec<u16>, UsageError> {
    const CONNECT_PING: [u16; 2] = [80, 443];
    let mut ports: Vec<u16> = Vec::new();
    for (spec, option) in [(&args.syn_ping, "-PS"), (&args.ack_ping, "-PA")] {
        if let Some(spec) = spec {
            ports.extend(crate::config::tcp_ping_ports(spec, option, services)?);
        }
    }
    let raw_pings: Vec<&str> =
        [(args.echo_ping, "-PE"), (args.timestamp_ping, "-PP"), (args.arp_ping, "-PR")]
            .into_iter()
            .filter_map(|(given, option)| given.then_some(option))
            .collect();
    if !raw_pings.is_empty() {
        let verb = if raw_pings.len() == 1 { "needs" } else { "need" };
        eprintln!(
            "scry: warning: not root: {} {verb} raw sockets; host discovery connects to TCP ports instead, as nmap",
            raw_pings.join(" ")
        );
        if ports.is_empty() {
            ports.push(scry_probe::discovery::Method::DEFAULT_TCP_PORT);
        }
    }
    if ports.is_empty() {
        ports.extend(CONNECT_PING);
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// Host discovery without privileges, before anything else is sent: for
/// `-sn` the whole run ([`ping_scan`]; returns `true`), before a port scan
/// the connect pings whose up hosts alone are scanned (none with `-Pn` or
/// for loopback, as with privileges).
///
/// # Errors
/// A bad `-PS`/`-PA` list; the runtime, a socket or an output failed.
pub fn discover(
    resolved: &mut crate::config::Resolved,
    args: &Args,
    services: &Services,
    limits: &crate::connect::Limits,
    (sinks, stop): (&mut [Box<dyn crate::output::Sink>], &std::sync::atomic::AtomicBool),
) -> anyhow::Result<bool> {
    let ports = ping_ports(args, services)?;
    let loopback = resolved.route.iface.is_loopback;
    match &mut resolved.job {
        crate::config::Job::Discovery(plan) => {
            ping_scan(plan, &ports, limits.clone(), sinks, stop)?;
            return Ok(true);
        }
        crate::config::Job::Ports(plans) if !args.no_ping && !loopback => {
            let Some(first) = plans.first() else { return Ok(false) };
            let pace = (crate::config::pace(args)?.start(), args.retries);
            let up = crate::connect::discover(&first.targets, &ports, pace, limits.clone(), stop)?;
            for plan in plans.iter_mut() {
                plan.only_up(up.clone());
            }
        }
        crate::config::Job::Ports(_) => {}
    }
    Ok(false)
}

/// `-sn` without privileges: connections to `ports` of every target (see
/// [`crate::connect::discover`]), reported as [`crate::discover::run`]
/// reports raw discovery.
///
/// # Errors
/// The runtime, a socket or an output failed.
pub fn ping_scan(
    plan: &crate::discover::DiscoveryPlan,
    ports: &[u16],
    limits: crate::connect::Limits,
    sinks: &mut [Box<dyn crate::output::Sink>],
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    for sink in sinks.iter_mut() {
        sink.begin(&plan.info)?;
    }
    let up = match plan.assume_up {
        true => Default::default(),
        false => crate::connect::discover(&plan.targets, ports, (plan.rate, plan.retries), limits, stop)?,
    };
    let mut stats = crate::output::Stats {
        hosts_scanned: plan.targets.len(),
        hosts_up: if plan.assume_up { plan.targets.len() } else { up.len() as u64 },
        skipped_broadcast: plan.info.skipped_broadcast.len() as u64,
        ..Default::default()
    };
    for ip in plan.targets.iter() {
        let reason = up.get(&ip).copied();
        for sink in sinks.iter_mut() {
            match reason {
                Some((why, ttl)) => sink.host_up(ip, why, ttl)?,
                None if !plan.assume_up => sink.host_down(ip)?,
                None => {}
            }
        }
        if reason.is_none() && !plan.assume_up {
            continue;
        }
        let report = crate::output::HostReport {
            ip,
            mac: None,
            up_reason: reason,
            tables: &[],
            services: &crate::output::NO_SERVICES,
        };
        for sink in sinks.iter_mut() {
            sink.host(&report)?;
        }
    }
    stats.interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    stats.duration = start.elapsed();
    for sink in sinks.iter_mut() {
        sink.finish(&stats)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        Args::parse_nmap(std::iter::once("scry").chain(line.split_whitespace()).map(Into::into))
    }

    #[test]
    fn only_an_untyped_unprivileged_scan_falls_back_to_connect() {
        let mut a = args("-p 22 198.18.0.10");
        assert!(settle(&mut a, false).unwrap());
        assert!(a.connect_scan && !a.syn_scan);
        let mut a = args("-p 22 198.18.0.10");
        assert!(!settle(&mut a, true).unwrap());
        assert!(!a.connect_scan);
        for typed in ["-sS", "-sU", "-sn", "-sT"] {
            let mut a = args(&format!("{typed} -p 22 198.18.0.10"));
            assert!(!settle(&mut a, false).unwrap(), "{typed}");
        }
        let mut a = args("--offline -p 22 198.18.0.10");
        assert!(!settle(&mut a, false).unwrap());
    }

    #[test]
    fn raw_only_options_are_refused_with_connect_and_without_privileges() {
        let mut a = args("-sT -g 53 -p 22 198.18.0.10");
        assert_eq!(
            settle(&mut a, true).unwrap_err().0,
            "-g (a source port for raw probes) does not apply to -sT, whose connections are the kernel's own; \
             use -sS"
        );
        let err = check(&args("-O -p 22 198.18.0.10"), false, true).unwrap_err().to_string();
        assert!(err.starts_with("-O (OS detection) needs raw sockets: run scry as root"), "{err}");
        let err = check(&args("-sT -PU -p 22 198.18.0.10"), false, false).unwrap_err().to_string();
        assert!(err.starts_with("-PU (UDP ping) needs raw sockets"), "{err}");
        assert!(check(&args("-O -p 22 198.18.0.10"), true, false).is_ok());
        assert!(check(&args("-sT -p 22 198.18.0.10"), false, false).is_ok());
    }

    #[test]
    fn connect_pings_go_to_nmaps_ports() {
        let services = Services::empty("test");
        let ports = |line: &str| ping_ports(&args(&format!("{line} 198.18.0.10")), &services).unwrap();
        assert_eq!(ports(""), [80, 443]);
        assert_eq!(ports("-PS22,80 -PA443,80"), [22, 80, 443]);
        assert_eq!(ports("-PS"), [80]);
        assert_eq!(ports("-PE -PP"), [80]);
        assert_eq!(ports("-PE -PS25"), [25]);
    }
}
