//! Turns raw arguments into a resolved scan [`Plan`]: targets, ports,
//! route, next-hop MACs and the probe, all before any probe is sent.

use crate::cli::Args;
use crate::connect::Limits;
use crate::discover::DiscoveryPlan;
use crate::engine::{NextHops, Plan, Prober};
use crate::hops::{next_hops, scan_route, ScanRoute};
use crate::output::ScanInfo;
use crate::wire::{Needs, Wire};
use crate::UsageError;
use scry_capture::Route;
use scry_probe::adapt::Bounds;
use scry_probe::cookie::CookieKey;
use scry_probe::discovery::{Discovery, Method};
use scry_probe::payloads::Payloads;
use scry_probe::permute::{Permutation, Shard};
use scry_probe::ports::PortList;
use scry_probe::probe::{ByFamily, Probe};
use scry_probe::services::{Protocol, Services};
use scry_probe::syn::SynProbe;
use scry_probe::targets::{Family, TargetSet, TargetSetBuilder};
use scry_probe::tcpscan::FlagProbe;
use scry_probe::udp::UdpProbe;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// nmap's default: the 1000 most common TCP ports.
const DEFAULT_TOP_PORTS: usize = 1000;

/// Rejects option combinations that contradict each other, as nmap does.
fn reject_contradictions(args: &Args) -> Result<(), UsageError> {
    let tcp = args.tcp_scan().map_err(UsageError)?;
    if args.ping_scan && (args.udp_scan || tcp.is_some() || args.connect_scan) {
        return Err(UsageError(
            "-sn (skip the port scan) cannot be combined with a port scan type (-sS, -sT, -sF, -sN, -sX, -sM, \
             -sA, -sW or -sU), as in nmap"
                .into(),
        ));
    }
    // -sT is no TcpScan (it sends no probe of its own): checked here, worded as tcp_scan() words it.
    if let (true, Some(raw)) = (args.connect_scan, tcp.filter(|t| !(t.is_plain_syn() && !args.syn_scan))) {
        return Err(UsageError(format!(
            "you specified more than one type of TCP scan (-sT {}); please choose only one of -sS, -sT, -sF, \
             -sN, -sX, -sM, -sA and -sW, as nmap asks (-sU combines with any of them)",
            raw.scan.option()
        )));
    }
    if args.scanflags.is_some() && tcp.is_none() {
        eprintln!(
            "scry: warning: --scanflags changes TCP probes, and this run sends none; ignoring it (as nmap)"
        );
    }
    if args.fast && args.ports.is_some() {
        return Err(UsageError(
            "-F (fast scan) cannot be combined with -p (explicit port selection); \
             --top-ports N picks the most common ports of a -p range"
                .into(),
        ));
    }
    Ok(())
}

/// The scan types asked for, each with its protocol's ports, TCP first:
/// `-sS -sU` scans the TCP ports of the list with SYN probes and its UDP
/// ports with UDP probes; unprefixed ports count for both, and without
/// `-p` each protocol has its own top ports. As nmap, a scan type left
/// without ports is skipped with a warning.
fn scan_ports(args: &Args, services: &Services) -> Result<Vec<(Protocol, Vec<u16>)>, UsageError> {
    let tcp = args.tcp_scan().map_err(UsageError)?;
    let protocol = if args.udp_scan { Protocol::Udp } else { Protocol::Tcp };
    if !(args.udp_scan && (tcp.is_some() || args.connect_scan)) {
        return Ok(vec![(protocol, ports(args, services, protocol)?)]);
    }
    let tcp = tcp.unwrap_or_default().scan;
    let mut scans = Vec::new();
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        scans.push((protocol, protocol_ports(args, services, protocol)?));
    }
    if scans.iter().all(|(_, ports)| ports.is_empty()) {
        return Err(UsageError("no TCP or UDP ports left to scan".into()));
    }
    for (protocol, ports) in &scans {
        let (flag, kind) = match (protocol, args.connect_scan) {
            (Protocol::Udp, _) => ("-sU", "UDP"),
            (_, true) => ("-sT", "connect"),
            _ => (tcp.option(), tcp.title()),
        };
        if ports.is_empty() {
            let name = protocol.as_str().to_uppercase();
            eprintln!("scry: warning: {flag} asked for, but no {name} ports are left to scan; skipping the {kind} scan");
        }
    }
    scans.retain(|(_, ports)| !ports.is_empty());
    Ok(scans)
}

/// The ports of `protocol` from -p / --top-ports / --exclude-ports (maybe none).
fn protocol_ports(args: &Args, services: &Services, protocol: Protocol) -> Result<Vec<u16>, UsageError> {
    let bad = |e: scry_probe::ports::PortError| UsageError(e.to_string());
    let exclude =
        args.exclude_ports.as_deref().map(|s| PortList::parse(s, services)).transpose().map_err(bad)?;
    let list = match (&args.ports, args.top_ports) {
        (Some(spec), top) => {
            let given = PortList::parse(spec, services).map_err(bad)?;
            match top {
                Some(n) => {
                    PortList::top(services, n, &[protocol], Some(&given), exclude.as_ref()).map_err(bad)?
                }
                None => exclude.as_ref().map_or(given.clone(), |e| given.excluding(e)),
            }
        }
        (None, top) => {
            let n = top.unwrap_or(DEFAULT_TOP_PORTS);
            PortList::top(services, n, &[protocol], None, exclude.as_ref()).map_err(bad)?
        }
    };
    // Unprefixed ports land in both lists; each scan type uses its own.
    Ok(list.get(protocol).to_vec())
}

/// The ports of `protocol` to scan when it is the only scan type.
pub fn ports(args: &Args, services: &Services, protocol: Protocol) -> Result<Vec<u16>, UsageError> {
    let wanted = protocol_ports(args, services, protocol)?;
    // Only an explicit list can hold the other protocol's ports (--top-ports picks this one's).
    let other_given = |other| {
        args.ports.is_some()
            && args.top_ports.is_none()
            && protocol_ports(args, services, other).is_ok_and(|l| !l.is_empty())
    };
    let (other, flag) = match protocol {
        Protocol::Udp if args.connect_scan => (Protocol::Tcp, "-sT"),
        Protocol::Udp => (Protocol::Tcp, "-sS"),
        _ => (Protocol::Udp, "-sU"),
    };
    if wanted.is_empty() && other_given(other) {
        return Err(UsageError(format!(
            "only {} ports given; they need {flag}",
            other.as_str().to_uppercase()
        )));
    }
    if wanted.is_empty() {
        return Err(UsageError(format!("no {} ports left to scan", protocol.as_str().to_uppercase())));
    }
    Ok(wanted)
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
    let limit = scry_probe::targets::MAX_PREFIX_HOSTS_LIMIT;
    if args.max_targets == 0 || args.max_targets > limit {
        return Err(UsageError(format!(
            "--max-targets {} is out of range: give 1 to {limit} addresses per IPv6 prefix",
            args.max_targets
        )));
    }
    let prefer = if args.ipv6 { Family::V6 } else { Family::V4 };
    let mut builder =
        TargetSetBuilder::new().no_resolve(args.no_resolve).prefer(prefer).max_prefix_hosts(args.max_targets);
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
    if set.len_v6() > 0 || args.ipv6 {
        ipv6_limits(args)?;
    }
    Ok(set)
}

/// What nmap refuses or cannot do with IPv6 targets: refused with nmap's
/// words, or said once on stderr.
fn ipv6_limits(args: &Args) -> Result<(), UsageError> {
    if args.timestamp_ping {
        return Err(UsageError("ICMP Timestamp and Address Mask pings are only valid for IPv4 (-PP)".into()));
    }
    if args.os_detect {
        eprintln!(
            "scry: warning: IPv6 OS detection is not available yet (nmap-os-db's fingerprints are of \
             IPv4 probes); -O fingerprints the IPv4 hosts only"
        );
    }
    Ok(())
}

/// `targets` less the addresses this network namespace routes as broadcast
/// (a subnet's broadcast inside a /24 or /16 given as a range), with the
/// addresses left out. No one host answers a broadcast address, and the
/// kernel would not route a unicast probe to it.
///
/// # Errors
/// [`UsageError`] when every target is a broadcast address; the route dump failing.
pub fn unicast_targets(targets: TargetSet) -> anyhow::Result<(TargetSet, Vec<Ipv4Addr>)> {
    let skipped: Vec<Ipv4Addr> = scry_capture::broadcast_addresses()?
        .into_iter()
        .filter(|a| targets.contains(IpAddr::V4(*a)))
        .collect();
    if skipped.is_empty() {
        return Ok((targets, skipped));
    }
    let left = targets.without(&skipped);
    if left.is_empty() {
        let what = if skipped.len() == 1 { skipped[0].to_string() } else { "every target".into() };
        return Err(
            UsageError(format!("{what} routes as broadcast here; scry probes unicast hosts only")).into()
        );
    }
    Ok((left, skipped))
}

/// What to run: a port scan (one plan per scan type, run in turn), or host discovery only.
pub enum Job {
    Ports(Vec<Plan>),
    Discovery(Box<DiscoveryPlan>),
}

/// Everything resolved: the job, the route, and what the scan's wire needs.
pub struct Resolved {
    pub job: Job,
    /// The scan's route: its interface, source and gateway.
    pub route: Route,
    /// The permutation's seed, given or drawn; a resume file records it.
    pub seed: u64,
    /// Source address and MAC of probes (OS detection builds its own).
    pub src: IpAddr,
    pub src_mac: scry_packet::Mac,
    /// Host discovery to run before a port scan; only hosts it finds are
    /// scanned. Decided with the next hops ([`resolve_next_hops`]).
    pub pre_discovery: Option<Box<DiscoveryPlan>>,
    routing: ScanRoute,
    targets: TargetSet,
    /// Whether the discovery job needs each target's next hop (not for ARP or -Pn).
    discovery_hops: bool,
}

impl Resolved {
    /// The route of the scan's IPv6 targets, if it has any.
    pub fn ipv6_route(&self) -> Option<&Route> {
        match &self.routing.ipv6 {
            Some(v6) => Some(&v6.route),
            None => self.route.src.is_ipv6().then_some(&self.route),
        }
    }

    /// Every target of the scan (after excludes and skipped broadcast addresses).
    pub fn targets(&self) -> &TargetSet {
        &self.targets
    }

    /// The handles the scan will use, to open before privileges are dropped.
    pub fn needs(&self, args: &Args, services: &Services) -> Needs {
        match &self.job {
            Job::Ports(plans) => {
                let capacity = plans.iter().map(|p| p.probe.max_frame_len()).max().unwrap_or(0);
                let raw = plans.iter().any(|p| p.probe.frames().is_some());
                let route = &self.routing.route;
                let on_link = self.routing.all_on_link();
                let discovery = !args.no_ping
                    && !route.iface.is_loopback
                    && discovery_methods(args, services, on_link).is_ok_and(|m| m != [Method::Arp]);
                // First-pass replies, host discovery's (a few per host; else
                // one ARP reply) and OS detection's in flight: the capture is
                // read every few milliseconds and a host is sent at most one
                // OS probe per 25 ms, so at most two of its replies (one and
                // a retransmitted SYN-ACK) wait at once, not all 16.
                let hosts = plans.first().map_or(0, |p| p.targets.len());
                let probes: u64 = plans.iter().map(|p| p.targets.len() * p.ports.len() as u64).sum();
                let found = if discovery { 4 } else { 1 };
                let os = if args.os_detect { crate::osscan::REPLIES_IN_FLIGHT } else { 0 };
                let extra = hosts.saturating_mul(found + os);
                Needs {
                    capture_bytes: crate::wire::capture_bytes(probes.saturating_add(extra)),
                    lanes: raw.then_some((pace(args).map_or(0.0, Pace::ceiling), capacity)),
                    discovery: discovery.then_some(crate::discover::MAX_FRAME),
                    os: args.os_detect,
                }
            }
            Job::Discovery(_) => Needs {
                capture_bytes: scry_capture::CaptureConfig::default().buffer_size,
                lanes: None,
                discovery: Some(crate::discover::MAX_FRAME),
                os: false,
            },
        }
    }
}

/// The second step of resolving, once the wire is open: each target's next
/// hop (ARP for directly connected ones, through `wire` when there is one),
/// and, before a port scan, the host discovery nmap would run.
///
/// # Errors
/// Route lookups or ARP for a router failed; too many targets to resolve one by one.
pub fn resolve_next_hops(
    resolved: &mut Resolved,
    args: &Args,
    services: &Services,
    wire: Option<&mut Wire>,
) -> anyhow::Result<()> {
    let verbose = args.verbose > 0;
    match &mut resolved.job {
        Job::Ports(plans) => {
            let hops = next_hops(args, &resolved.routing, &resolved.targets, verbose, wire)?;
            for plan in plans.iter_mut() {
                plan.next_hops = hops.clone();
            }
            let routing = &resolved.routing;
            resolved.pre_discovery = pre_discovery(args, services, &resolved.targets, routing, &hops)?;
        }
        Job::Discovery(plan) if resolved.discovery_hops => {
            let hops = next_hops(args, &resolved.routing, &resolved.targets, verbose, wire)?;
            plan.route_via(hops, !args.disable_arp_ping);
        }
        Job::Discovery(_) => {}
    }
    Ok(())
}

/// Source ports a UDP scan spreads its probes over (the key picks one per target port).
const UDP_SOURCE_PORTS: u16 = 256;

/// How fast a scan sends: a fixed `--rate` (masscan's meaning), or a rate
/// that adapts between `--min-rate` and `--max-rate` (nmap's names) when no
/// `--rate` is given (see `scry_probe::adapt`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    Fixed(f64),
    Adaptive(Bounds),
}

impl Pace {
    /// The rate to start at: the fixed rate, or the adaptive rate's start.
    pub fn start(self) -> f64 {
        match self {
            Pace::Fixed(rate) => rate,
            Pace::Adaptive(bounds) => bounds.start(),
        }
    }

    /// The highest rate the scan may reach.
    pub fn ceiling(self) -> f64 {
        match self {
            Pace::Fixed(rate) => rate,
            Pace::Adaptive(bounds) => bounds.max,
        }
    }

    /// The bounds when the rate adapts.
    pub fn adaptive(self) -> Option<Bounds> {
        match self {
            Pace::Fixed(_) => None,
            Pace::Adaptive(bounds) => Some(bounds),
        }
    }
}

/// The pace `--rate`, `--min-rate` and `--max-rate` ask for.
///
/// `--rate` fixes the rate; given with `--min-rate` or `--max-rate` as well,
/// it must lie between them (the rate stays fixed). Without `--rate`, a
/// floor alone above the default ceiling raises the ceiling to it, and a
/// ceiling alone below the default floor lowers the floor to it.
///
/// # Errors
/// A rate that is not a number above 0, a floor above the ceiling, or a
/// `--rate` outside them.
pub fn pace(args: &Args) -> Result<Pace, UsageError> {
    for (option, value) in
        [("--rate", args.rate), ("--min-rate", args.min_rate), ("--max-rate", args.max_rate)]
    {
        if let Some(v) = value.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(UsageError(format!("{option} must be above 0, not {v}")));
        }
    }
    if let (Some(min), Some(max)) = (args.min_rate, args.max_rate) {
        if min > max {
            return Err(UsageError(format!("--min-rate {min} is above --max-rate {max}")));
        }
    }
    let fixed = "--rate fixes the rate; --min-rate and --max-rate bound the rate scry adapts without --rate";
    match args.rate {
        Some(rate) => {
            if let Some(min) = args.min_rate.filter(|min| rate < *min) {
                return Err(UsageError(format!("--rate {rate} is below --min-rate {min} ({fixed})")));
            }
            if let Some(max) = args.max_rate.filter(|max| rate > *max) {
                return Err(UsageError(format!("--rate {rate} is above --max-rate {max} ({fixed})")));
            }
            Ok(Pace::Fixed(rate))
        }
        None => {
            let default = Bounds::default();
            let min = args.min_rate.unwrap_or(default.min.min(args.max_rate.unwrap_or(f64::INFINITY)));
            let max = args.max_rate.unwrap_or(default.max.max(min));
            Ok(Pace::Adaptive(Bounds { min, max }))
        }
    }
}

fn check_timing(args: &Args) -> Result<(), UsageError> {
    pace(args)?;
    if !(args.wait >= 0.0 && args.wait.is_finite()) {
        return Err(UsageError(format!("--wait must be a number of seconds >= 0, not {}", args.wait)));
    }
    Ok(())
}

/// The UDP payloads: --udp-payloads FILE (which main sets to nmap's file
/// when it found one and none was given), else the built-in ones.
fn payloads(args: &Args) -> anyhow::Result<Arc<Payloads>> {
    let loaded = match &args.udp_payloads {
        Some(path) => Payloads::load(path).map_err(|e| UsageError(e.to_string()))?,
        None => Payloads::builtin(),
    };
    if args.verbose > 0 {
        eprintln!("scry: {} UDP payloads from {}", loaded.len(), loaded.source());
    }
    Ok(Arc::new(loaded))
}

/// The UDP probe: source ports from -g, else a random block of [`UDP_SOURCE_PORTS`].
fn udp_probe(args: &Args, route: &Route, key: CookieKey, payloads: Arc<Payloads>) -> UdpProbe {
    let src_ports = match args.source_port {
        Some(port) => port..=port,
        None => {
            let first = rand::random_range(32768..=60999 - UDP_SOURCE_PORTS);
            first..=first + UDP_SOURCE_PORTS - 1
        }
    };
    let src_mac = route.iface.mac.unwrap_or(scry_packet::Mac::ZERO);
    UdpProbe::new(route.src, src_mac, src_ports, args.ttl, key, payloads)
}

/// A resume phase (`--resume-phase`, from a resume file) the scan does not have.
#[derive(Debug)]
pub struct PhaseOutOfRange {
    pub phase: u32,
    /// How many phases the scan has.
    pub phases: usize,
}

impl std::fmt::Display for PhaseOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "resume phase {} is not one of the scan's phases (1 to {})", self.phase, self.phases)
    }
}

impl std::error::Error for PhaseOutOfRange {}

/// The permutation's seed: the one given, or a random one for a whole
/// scan. A shard needs the seed given: shards of one scan cover it exactly
/// only when each walks the same permutation, and a seed drawn by each
/// would make them overlap and leave pairs unprobed.
fn scan_seed(given: Option<u64>, shard: Shard) -> Result<u64, UsageError> {
    match given {
        Some(seed) => Ok(seed),
        None if shard.count() > 1 => {
            let (i, n) = (shard.number(), shard.count());
            Err(UsageError(format!(
                "--shard {i}/{n} needs --seed: every shard must walk the same order, or the shards \
                 overlap and miss pairs; give all {n} shards one seed, e.g. --shard {i}/{n} --seed {}",
                rand::random::<u32>()
            )))
        }
        None => Ok(rand::random()),
    }
}

/// Resolves arguments into a plan.
///
/// # Errors
/// [`UsageError`] for bad specs; other errors for routing and ARP.
pub fn resolve(args: &Args, services: &Services, command_line: String) -> anyhow::Result<Resolved> {
    reject_contradictions(args)?;
    check_timing(args)?;
    // The -P port lists are checked even when ARP will replace them.
    discovery_methods(args, services, false)?;
    if args.ping_scan {
        return resolve_discovery(args, services, command_line);
    }
    let scans = scan_ports(args, services)?;
    let tcp = args.tcp_scan().map_err(UsageError)?.unwrap_or_default();
    let resume_phase = args.resume_phase.unwrap_or(1);
    if resume_phase == 0 || resume_phase as usize > scans.len() {
        return Err(PhaseOutOfRange { phase: resume_phase, phases: scans.len() }.into());
    }
    // Before routing, so a bad payload file is a usage error however the network looks.
    let payloads = if scans.iter().any(|(p, _)| *p == Protocol::Udp) { Some(payloads(args)?) } else { None };
    let (targets, skipped_broadcast) = unicast_targets(targets(args)?)?;
    let shard: Shard = match &args.shard {
        Some(text) => text.parse().map_err(|e: scry_probe::permute::ShardError| UsageError(e.to_string()))?,
        None => Shard::ALL,
    };
    let seed = scan_seed(args.seed, shard)?;
    let routing = scan_route(args, &targets)?;
    let route = routing.route.clone();
    let src_mac = route.iface.mac.unwrap_or(scry_packet::Mac::ZERO);
    let start = SystemTime::now();
    let pace = pace(args)?;
    let mut plans = Vec::new();
    // The phases before the resumed one were finished: none of their probes is sent again.
    for (phase, (protocol, ports)) in (1..).zip(scans).skip(resume_phase as usize - 1) {
        let src_port = args.source_port.unwrap_or_else(|| rand::random_range(32768..=60999));
        let frames = |route: &Route| -> anyhow::Result<Box<dyn Probe>> {
            Ok(match (protocol, &payloads) {
                (Protocol::Udp, Some(payloads)) => {
                    Box::new(udp_probe(args, route, CookieKey::random(), Arc::clone(payloads)))
                }
                _ if tcp.is_plain_syn() => {
                    Box::new(SynProbe::new(route.src, src_mac, src_port, args.ttl, CookieKey::random())?)
                }
                _ => Box::new(FlagProbe::new(
                    route.src,
                    src_mac,
                    src_port,
                    args.ttl,
                    CookieKey::random(),
                    tcp,
                )?),
            })
        };
        let probe = match &routing.ipv6 {
            _ if args.connect_scan && protocol == Protocol::Tcp => Prober::Connect(Limits::new(
                args.max_parallelism.map(|n| n as usize),
                args.ttl,
                args.iface.as_deref(),
            )),
            // IPv4 and IPv6 targets together: each family's probes from its own source.
            Some(v6) => Prober::Frames(Box::new(ByFamily::new(frames(&route)?, frames(&v6.route)?))),
            None => Prober::Frames(frames(&route)?),
        };
        let pairs = targets.len() * ports.len() as u64;
        let permutation = Permutation::new(pairs, seed);
        let mut positions = permutation.positions(shard);
        if let (true, Some(resume)) = (phase == resume_phase, args.resume_position) {
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
            // A connect scan's source ports are the kernel's.
            let from = match probe {
                Prober::Connect(_) => format!("{} (connect)", route.src),
                Prober::Frames(_) => format!("{}:{src_port}", route.src),
            };
            eprintln!(
                "scry: {} targets x {} {} ports = {pairs} probes per pass; shard {}/{} covers {}; seed {seed}; \
                 {} from {from}",
                targets.len(),
                ports.len(),
                protocol.as_str().to_uppercase(),
                shard.number(),
                shard.count(),
                positions.end - positions.start,
                route.iface.name,
            );
        }
        let info = ScanInfo {
            start,
            command_line: command_line.clone(),
            hosts: targets.len(),
            scans: vec![(protocol, ports.clone())],
            tcp,
            connect: args.connect_scan,
            verbose: args.verbose,
            debugging: args.debug,
            skipped_broadcast: skipped_broadcast.clone(),
        };
        plans.push(Plan {
            targets: targets.clone(),
            ports,
            permutation,
            positions,
            // Set by [`resolve_next_hops`].
            next_hops: NextHops::All(scry_packet::Mac::ZERO),
            // UDP's answers are rationed by the targets (one ICMP error a
            // second), no measure of the path: its rate stays at the start.
            adaptive: pace.adaptive().filter(|_| protocol == Protocol::Tcp && probe.frames().is_some()),
            probe,
            rate: pace.start(),
            retries: args.retries,
            wait: Duration::from_secs_f64(args.wait),
            report_silent_hosts: args.no_ping,
            verbose: args.verbose > 0,
            known_up: HashMap::new(),
            info,
            phase,
        });
    }
    Ok(Resolved {
        job: Job::Ports(plans),
        route,
        seed,
        src: routing.route.src,
        src_mac,
        pre_discovery: None,
        routing,
        targets,
        discovery_hops: false,
    })
}

/// Discovery before a port scan, as nmap does it: none with -Pn, for
/// loopback, or on a directly connected subnet (the next-hop ARP lookups
/// already are nmap's ARP ping); else the -P probes or nmap's default set,
/// to the routed targets only when some are directly connected.
fn pre_discovery(
    args: &Args,
    services: &Services,
    targets: &TargetSet,
    routing: &ScanRoute,
    next_hops: &NextHops,
) -> anyhow::Result<Option<Box<DiscoveryPlan>>> {
    let route = &routing.route;
    let on_link = route.gateway.is_none() && !next_hops.is_mixed();
    if args.no_ping || route.iface.is_loopback {
        return Ok(None);
    }
    let methods = discovery_methods(args, services, on_link)?;
    if methods == [Method::Arp] {
        return Ok(None);
    }
    let info = ScanInfo {
        start: SystemTime::now(),
        command_line: String::new(),
        hosts: targets.len(),
        scans: Vec::new(),
        tcp: Default::default(),
        connect: args.connect_scan,
        verbose: args.verbose,
        debugging: args.debug,
        skipped_broadcast: Vec::new(),
    };
    let plan = discovery_plan(args, targets.clone(), routing, next_hops.clone(), methods, info)?;
    Ok(Some(Box::new(plan)))
}

/// A discovery plan with `methods` for `targets`.
fn discovery_plan(
    args: &Args,
    targets: TargetSet,
    routing: &ScanRoute,
    next_hops: NextHops,
    methods: Vec<Method>,
    info: ScanInfo,
) -> anyhow::Result<DiscoveryPlan> {
    let key = CookieKey::random();
    let src_port = rand::random_range(32768..=60999);
    let family = |route: &Route| -> anyhow::Result<Discovery> {
        let src_mac = route.iface.mac.unwrap_or(scry_packet::Mac::ZERO);
        let udp = udp_probe(args, route, key.clone(), payloads(args)?);
        Ok(Discovery::new(route.src, src_mac, src_port, args.ttl, key.clone(), methods.clone(), udp)?)
    };
    let mut discovery = family(&routing.route)?;
    if let Some(v6) = &routing.ipv6 {
        discovery = discovery.with_other_family(family(&v6.route)?);
    }
    if args.verbose > 0 {
        eprintln!("scry: host discovery of {} targets with {:?}", targets.len(), discovery.methods());
    }
    let mut plan = DiscoveryPlan {
        targets,
        next_hops: NextHops::All(scry_packet::Mac::ZERO),
        up_by_arp: Vec::new(),
        discovery,
        rate: pace(args)?.start(),
        retries: args.retries,
        wait: Duration::from_secs_f64(args.wait),
        assume_up: args.no_ping,
        own: scry_capture::Interface::all().into_iter().flat_map(|i| i.addrs).map(|(ip, _)| ip).collect(),
        info,
    };
    plan.route_via(next_hops, !args.disable_arp_ping);
    Ok(plan)
}

/// Ports of a `-PS` or `-PA` list (empty: nmap's default, 80).
pub(crate) fn tcp_ping_ports(spec: &str, option: &str, services: &Services) -> Result<Vec<u16>, UsageError> {
    ping_ports(spec, option, Protocol::Tcp, Method::DEFAULT_TCP_PORT, services)
}

/// Ports of a `-PS`/`-PA`/`-PU` list (empty: `default`).
fn ping_ports(
    spec: &str,
    option: &str,
    protocol: Protocol,
    default: u16,
    services: &Services,
) -> Result<Vec<u16>, UsageError> {
    if spec.is_empty() {
        return Ok(vec![default]);
    }
    let list = PortList::parse(spec, services).map_err(|e| UsageError(format!("{option}: {e}")))?;
    let ports = list.get(protocol).to_vec();
    if ports.is_empty() {
        return Err(UsageError(format!("{option}{spec}: no {} ports in the list", protocol.as_str())));
    }
    Ok(ports)
}

/// The discovery probes: those chosen with -P options, else nmap's default;
/// on a directly connected subnet ARP alone, as nmap, unless --disable-arp-ping.
fn discovery_methods(args: &Args, services: &Services, on_link: bool) -> Result<Vec<Method>, UsageError> {
    if on_link && !args.disable_arp_ping {
        return Ok(vec![Method::Arp]);
    }
    let mut methods = Vec::new();
    if args.echo_ping {
        methods.push(Method::Echo);
    }
    if args.timestamp_ping {
        methods.push(Method::Timestamp);
    }
    let lists = [
        (&args.syn_ping, "-PS", Protocol::Tcp, Method::DEFAULT_TCP_PORT, Method::Syn as fn(u16) -> Method),
        (&args.ack_ping, "-PA", Protocol::Tcp, Method::DEFAULT_TCP_PORT, Method::Ack),
        (&args.udp_ping, "-PU", Protocol::Udp, Method::DEFAULT_UDP_PORT, Method::Udp),
    ];
    for (spec, option, protocol, default, method) in lists {
        if let Some(spec) = spec {
            methods.extend(ping_ports(spec, option, protocol, default, services)?.into_iter().map(method));
        }
    }
    if methods.is_empty() {
        methods = Method::NMAP_DEFAULT.to_vec();
    }
    Ok(methods)
}

/// Resolves a host-discovery-only run (-sn).
fn resolve_discovery(args: &Args, services: &Services, command_line: String) -> anyhow::Result<Resolved> {
    let (targets, skipped_broadcast) = unicast_targets(targets(args)?)?;
    let routing = scan_route(args, &targets)?;
    let route = &routing.route;
    let on_link = !route.iface.is_loopback && routing.all_on_link() && args.router_mac.is_none();
    let methods = discovery_methods(args, services, on_link)?;
    // ARP needs no next hop; the other probes get theirs in [`resolve_next_hops`].
    let discovery_hops = !(methods == [Method::Arp] || args.no_ping);
    let next_hops = NextHops::All(scry_packet::Mac::BROADCAST);
    let info = ScanInfo {
        start: SystemTime::now(),
        command_line,
        hosts: targets.len(),
        scans: Vec::new(),
        tcp: Default::default(),
        connect: args.connect_scan,
        verbose: args.verbose,
        debugging: args.debug,
        skipped_broadcast,
    };
    let src_mac = route.iface.mac.unwrap_or(scry_packet::Mac::ZERO);
    let plan = discovery_plan(args, targets.clone(), &routing, next_hops, methods, info)?;
    let seed = 0; // discovery draws its own order per pass; nothing to resume
    Ok(Resolved {
        job: Job::Discovery(Box::new(plan)),
        route: route.clone(),
        seed,
        src: route.src,
        src_mac,
        pre_discovery: None,
        routing,
        targets,
        discovery_hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn pace_of(line: &str) -> Result<Pace, String> {
        let argv = std::iter::once("scry").chain(line.split_whitespace()).chain(["198.18.0.1"]);
        pace(&Args::try_parse_from(argv).expect("parses")).map_err(|e| e.0)
    }

    // Lives here, not beside the templates: the scry-assets example
    // compiles timing.rs (and its tests) without this module.
    #[test]
    fn an_explicit_rate_replaces_the_templates_ceiling() {
        let pace_of = |line: &str| {
            let argv = std::iter::once("scry").chain(line.split_whitespace()).chain(["198.18.0.1"]);
            pace(&Args::try_parse_nmap(argv.map(Into::into)).expect("parses")).map_err(|e| e.0)
        };
        assert_eq!(pace_of("-T2"), Ok(Pace::Adaptive(Bounds { min: 2.5, max: 2.5 })));
        assert_eq!(pace_of("-T0"), Ok(Pace::Adaptive(Bounds { min: 1.0 / 300.0, max: 1.0 / 300.0 })));
        for line in ["-T2 --rate 50", "--rate 50 -T2"] {
            assert_eq!(pace_of(line), Ok(Pace::Fixed(50.0)), "{line}");
        }
        for line in ["-T1 --max-rate 40", "--max-rate 40 -T1"] {
            assert_eq!(pace_of(line), Ok(Pace::Adaptive(Bounds { min: 40.0, max: 40.0 })), "{line}");
        }
        for line in ["-T2 --min-rate 500", "--min-rate 500 -T2"] {
            assert_eq!(pace_of(line), Ok(Pace::Adaptive(Bounds { min: 500.0, max: 1_000_000.0 })), "{line}");
        }
        // The fast templates keep the adaptive rate and its default bounds.
        for line in ["-T4", "-T5", "-T3"] {
            assert_eq!(pace_of(line), pace_of(""), "{line}");
        }
    }

    #[test]
    fn without_rate_the_rate_adapts_within_the_default_bounds() {
        assert_eq!(pace_of(""), Ok(Pace::Adaptive(Bounds { min: 100.0, max: 1_000_000.0 })));
        assert_eq!(pace_of("--max-rate 50000"), Ok(Pace::Adaptive(Bounds { min: 100.0, max: 50_000.0 })));
        assert_eq!(pace_of("--min-rate 5000"), Ok(Pace::Adaptive(Bounds { min: 5_000.0, max: 1_000_000.0 })));
        // A floor above the default ceiling lifts it; a ceiling below the default floor lowers it.
        assert_eq!(pace_of("--min-rate 2e6"), Ok(Pace::Adaptive(Bounds { min: 2e6, max: 2e6 })));
        assert_eq!(pace_of("--max-rate 50"), Ok(Pace::Adaptive(Bounds { min: 50.0, max: 50.0 })));
        assert_eq!(pace_of("").unwrap().start(), 10_000.0);
        assert_eq!(pace_of("--max-rate 2000").unwrap().start(), 2_000.0);
    }

    #[test]
    fn rate_fixes_the_rate_and_must_lie_within_bounds_given_with_it() {
        assert_eq!(pace_of("--rate 4000"), Ok(Pace::Fixed(4_000.0)));
        assert_eq!(pace_of("--rate 4000 --min-rate 1000 --max-rate 4000"), Ok(Pace::Fixed(4_000.0)));
        let both =
            "--rate fixes the rate; --min-rate and --max-rate bound the rate scry adapts without --rate";
        assert_eq!(
            pace_of("--rate 500 --min-rate 1000"),
            Err(format!("--rate 500 is below --min-rate 1000 ({both})"))
        );
        assert_eq!(
            pace_of("--rate 5000 --max-rate 1000"),
            Err(format!("--rate 5000 is above --max-rate 1000 ({both})"))
        );
    }

    #[test]
    fn contradictory_or_bad_bounds_are_named() {
        assert_eq!(
            pace_of("--min-rate 5000 --max-rate 1000"),
            Err("--min-rate 5000 is above --max-rate 1000".into())
        );
        assert_eq!(pace_of("--rate 0"), Err("--rate must be above 0, not 0".into()));
        assert_eq!(pace_of("--min-rate=-5"), Err("--min-rate must be above 0, not -5".into()));
        assert_eq!(pace_of("--max-rate inf"), Err("--max-rate must be above 0, not inf".into()));
    }
}
