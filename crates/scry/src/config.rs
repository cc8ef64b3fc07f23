//! Turns raw arguments into a resolved scan [`Plan`]: targets, ports,
//! route, next-hop MACs and the probe, all before any probe is sent.

use crate::cli::Args;
use crate::engine::{NextHops, Plan};
use crate::output::ScanInfo;
use crate::UsageError;
use anyhow::{bail, Context};
use scry_capture::{resolve_mac, resolve_many, route_with, Route, RouteOverrides};
use scry_probe::cookie::CookieKey;
use scry_probe::permute::{Permutation, Shard};
use scry_probe::ports::PortList;
use scry_probe::services::{Protocol, Services};
use scry_probe::syn::SynProbe;
use scry_probe::targets::{TargetSet, TargetSetBuilder};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

/// nmap's default: the 1000 most common TCP ports.
const DEFAULT_TOP_PORTS: usize = 1000;
/// Directly connected targets are ARP-resolved one by one; past this many, ask for --router-mac.
const MAX_ARP_TARGETS: u64 = 1 << 16;
/// How long to wait for ARP replies.
const ARP_TIMEOUT: Duration = Duration::from_secs(1);

/// Rejects the options that are accepted for nmap compatibility but not built yet.
fn reject_unavailable(args: &Args) -> Result<(), UsageError> {
    let unavailable = [(args.udp_scan, "-sU (UDP scan)"), (args.ping_scan, "-sn (host discovery only)")];
    match unavailable.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(UsageError(format!("{what} is not available in this version of scry"))),
        None => Ok(()),
    }
}

/// The ports to scan, from -p / --top-ports / --exclude-ports.
pub fn ports(args: &Args, services: &Services) -> Result<Vec<u16>, UsageError> {
    let bad = |e: scry_probe::ports::PortError| UsageError(e.to_string());
    let exclude =
        args.exclude_ports.as_deref().map(|s| PortList::parse(s, services)).transpose().map_err(bad)?;
    let list = match (&args.ports, args.top_ports) {
        (Some(spec), top) => {
            let given = PortList::parse(spec, services).map_err(bad)?;
            match top {
                Some(n) => PortList::top(services, n, &[Protocol::Tcp], Some(&given), exclude.as_ref())
                    .map_err(bad)?,
                None => exclude.as_ref().map_or(given.clone(), |e| given.excluding(e)),
            }
        }
        (None, top) => {
            let n = top.unwrap_or(DEFAULT_TOP_PORTS);
            PortList::top(services, n, &[Protocol::Tcp], None, exclude.as_ref()).map_err(bad)?
        }
    };
    // Unprefixed ports land in both lists; a SYN scan uses the TCP one.
    let tcp = list.get(Protocol::Tcp).to_vec();
    if tcp.is_empty() && !list.get(Protocol::Udp).is_empty() {
        return Err(UsageError(
            "only UDP ports (U:) given; they need -sU, which is not available yet".into(),
        ));
    }
    if tcp.is_empty() {
        return Err(UsageError("no TCP ports left to scan".into()));
    }
    Ok(tcp)
}

fn open_list(path: &std::path::Path) -> Result<Box<dyn Read>, UsageError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    File::open(path)
        .map(|f| Box::new(f) as Box<dyn Read>)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))
}

/// The targets, with exclusions applied.
pub fn targets(args: &Args) -> Result<TargetSet, UsageError> {
    let bad = |e: scry_probe::targets::TargetError| UsageError(e.to_string());
    let mut builder = TargetSetBuilder::new().no_resolve(args.no_resolve);
    for spec in &args.targets {
        builder.add(spec).map_err(bad)?;
    }
    if let Some(path) = &args.input_list {
        builder.add_list(open_list(path)?, &path.display().to_string()).map_err(bad)?;
    }
    if let Some(list) = &args.exclude {
        builder.exclude(list).map_err(bad)?;
    }
    if let Some(path) = &args.exclude_file {
        builder.exclude_list(open_list(path)?, &path.display().to_string()).map_err(bad)?;
    }
    if args.targets.is_empty() && args.input_list.is_none() {
        return Err(UsageError("no targets given (usage: scry [-sS] -p PORTS [options] TARGET...)".into()));
    }
    let set = builder.build();
    if set.is_empty() {
        return Err(UsageError("every target is excluded; nothing to scan".into()));
    }
    Ok(set)
}

/// The route of the scan; every target must share its interface and source.
fn scan_route(args: &Args, targets: &TargetSet) -> anyhow::Result<Route> {
    let overrides = RouteOverrides { iface: args.iface.clone(), src: args.source };
    let mut first: Option<Route> = None;
    for (lo, hi) in targets.ranges() {
        for addr in [lo, hi] {
            let route = route_with(addr.into(), &overrides)?;
            match &first {
                None => first = Some(route),
                Some(f) if f.iface.name != route.iface.name || f.src != route.src => bail!(
                    "targets need different interfaces or sources ({addr} via {} from {}, others via {} \
                     from {}); scan them separately or choose with -e and -S",
                    route.iface.name,
                    route.src,
                    f.iface.name,
                    f.src
                ),
                Some(_) => {}
            }
        }
    }
    first.context("no targets")
}

/// Next-hop MACs: one for routed or loopback targets, one per directly connected target.
fn next_hops(args: &Args, route: &Route, targets: &TargetSet, verbose: bool) -> anyhow::Result<NextHops> {
    if let Some(mac) = args.router_mac {
        return Ok(NextHops::All(mac));
    }
    if args.offline {
        // Nothing is sent: no next hop to ask for.
        return Ok(NextHops::All(scry_packet::Mac::ZERO));
    }
    if route.iface.is_loopback || route.gateway.is_some() {
        return Ok(NextHops::All(resolve_mac(route, ARP_TIMEOUT)?));
    }
    if targets.len() > MAX_ARP_TARGETS {
        bail!(
            "{} directly connected targets would each need an ARP lookup (limit {MAX_ARP_TARGETS}); \
             give the next hop with --router-mac or split the scan",
            targets.len()
        );
    }
    let routes: Vec<Route> =
        targets.iter().map(|ip| Route { next_hop: IpAddr::V4(ip), ..route.clone() }).collect();
    let macs = resolve_many(&routes, ARP_TIMEOUT)?;
    let map: HashMap<Ipv4Addr, _> =
        targets.iter().zip(macs).filter_map(|(ip, mac)| mac.map(|m| (ip, m))).collect();
    if verbose {
        eprintln!("ARP: {} of {} directly connected targets answered", map.len(), targets.len());
    }
    Ok(NextHops::PerHost(map))
}

/// Everything resolved: the plan, the interface to use, and the BPF filter.
pub struct Resolved {
    pub plan: Plan,
    pub iface: String,
    pub filter: String,
    /// The permutation's seed, given or drawn; a resume file records it.
    pub seed: u64,
    /// Source address and MAC of probes (OS detection builds its own).
    pub src: IpAddr,
    pub src_mac: scry_packet::Mac,
}

/// Resolves arguments into a plan.
///
/// # Errors
/// [`UsageError`] for bad specs; other errors for routing and ARP.
pub fn resolve(args: &Args, services: &Services, command_line: String) -> anyhow::Result<Resolved> {
    reject_unavailable(args)?;
    if args.rate.is_nan() || args.rate <= 0.0 {
        return Err(UsageError(format!("--rate must be above 0, not {}", args.rate)).into());
    }
    if !(args.wait >= 0.0 && args.wait.is_finite()) {
        return Err(UsageError(format!("--wait must be a number of seconds >= 0, not {}", args.wait)).into());
    }
    let ports = ports(args, services)?;
    let targets = targets(args)?;
    let shard: Shard = match &args.shard {
        Some(text) => text.parse().map_err(|e: scry_probe::permute::ShardError| UsageError(e.to_string()))?,
        None => Shard::ALL,
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let route = scan_route(args, &targets)?;
    let next_hops = next_hops(args, &route, &targets, args.verbose > 0)?;
    let src_mac = route.iface.mac.unwrap_or(scry_packet::Mac::ZERO);
    let src_port = args.source_port.unwrap_or_else(|| rand::random_range(32768..=60999));
    let probe = SynProbe::new(route.src, src_mac, src_port, args.ttl, CookieKey::random())?;
    let filter = probe.filter();
    let pairs = targets.len() * ports.len() as u64;
    let permutation = Permutation::new(pairs, seed);
    let mut positions = permutation.positions(shard);
    if let Some(resume) = args.resume_position {
        if resume > positions.end {
            return Err(UsageError(format!(
                "resume position {resume} lies past the end of the scan ({}); was the resume file \
                 written for other targets or ports?",
                positions.end
            ))
            .into());
        }
        positions.start = positions.start.max(resume);
    }
    if args.verbose > 0 {
        eprintln!(
            "scry: {} targets x {} ports = {pairs} probes per pass; shard {}/{} covers {}; seed {seed}; \
             {} from {}:{src_port}",
            targets.len(),
            ports.len(),
            shard.number(),
            shard.count(),
            positions.end - positions.start,
            route.iface.name,
            route.src
        );
    }
    let info = ScanInfo {
        start: SystemTime::now(),
        command_line,
        hosts: targets.len(),
        ports: ports.clone(),
        verbose: args.verbose,
    };
    let plan = Plan {
        targets,
        ports,
        permutation,
        positions,
        next_hops,
        probe,
        rate: args.rate,
        retries: args.retries,
        wait: Duration::from_secs_f64(args.wait),
        report_silent_hosts: args.no_ping,
        info,
    };
    Ok(Resolved { plan, iface: route.iface.name.clone(), filter, seed, src: route.src, src_mac })
}
