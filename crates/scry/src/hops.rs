//! Where each target's frames go: the scan's route, and the next-hop MAC of
//! every target (its own for a directly connected one, its router's for a
//! routed one), all resolved before any probe is sent.
//!
//! One route lookup per end of each target range decides the common case:
//! every target routed the same way gets one next hop. When the ends
//! disagree (a direct target and a routed one in one scan, as nmap takes
//! them), every target is looked up on its own.
//!
//! A scan of IPv4 and IPv6 targets together has a route for each family
//! (each its own source address), both through one interface; each
//! family's next hops are resolved as if it were scanned alone.

use crate::cli::Args;
use crate::engine::NextHops;
use crate::wire::Wire;
use anyhow::bail;
use scry_capture::{ask_many_via, resolve_many, resolve_many_via, route_with, Route, RouteOverrides};
use scry_packet::Mac;
use scry_probe::targets::{Family, TargetSet};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

/// Targets are looked up and ARP-resolved one by one; past this many, ask for --router-mac.
const MAX_PER_TARGET: u64 = 1 << 16;
/// How long to wait for ARP replies.
const ARP_TIMEOUT: Duration = Duration::from_secs(1);

/// The scan's route (that of its first target) and whether some targets
/// are routed differently from it: directly connected where it has a
/// gateway, or the other way round. Every target must share its interface
/// and source.
pub struct ScanRoute {
    pub route: Route,
    pub mixed: bool,
    /// In a scan of both families, the IPv6 targets' route; `route` is then
    /// the IPv4 targets'.
    pub ipv6: Option<Box<ScanRoute>>,
}

impl ScanRoute {
    /// Whether every target, of either family, is directly connected.
    pub fn all_on_link(&self) -> bool {
        self.route.gateway.is_none() && !self.mixed && self.ipv6.as_ref().map_or(true, |r| r.all_on_link())
    }
}

/// The route lookup's overrides for `addr`: -e, or the interface a
/// link-local target names (`fe80::1%eth0`), and -S for targets of its family.
fn overrides(args: &Args, targets: &TargetSet, addr: IpAddr) -> anyhow::Result<RouteOverrides> {
    let zone = match addr {
        IpAddr::V6(v6) => targets.zone(v6),
        IpAddr::V4(_) => None,
    };
    let iface = match (&args.iface, zone) {
        (Some(e), Some(zone)) if e != zone => {
            let problem = format!("target {addr}%{zone} names interface {zone}, but -e says {e}");
            return Err(crate::UsageError(problem).into());
        }
        (Some(e), _) => Some(e.clone()),
        (None, zone) => zone.map(str::to_owned),
    };
    Ok(RouteOverrides { iface, src: args.source.filter(|s| s.is_ipv4() == addr.is_ipv4()) })
}

/// Fails unless `route`, to `addr`, leaves like `first`.
fn same_way_out(first: &Route, addr: IpAddr, route: &Route) -> anyhow::Result<()> {
    if first.iface.name != route.iface.name || first.src != route.src {
        bail!(
            "targets need different interfaces or sources ({addr} via {} from {}, others via {} \
             from {}); scan them separately or choose with -e and -S",
            route.iface.name,
            route.src,
            first.iface.name,
            first.src
        );
    }
    Ok(())
}

/// The route of the scan, from the ends of every target range.
///
/// # Errors
/// No route, or targets that need different interfaces or sources.
pub fn scan_route(args: &Args, targets: &TargetSet) -> anyhow::Result<ScanRoute> {
    let v4 = family_route(args, targets, targets.ranges().map(|(lo, hi)| (lo.into(), hi.into())))?;
    let v6 = family_route(args, targets, targets.ranges_v6().map(|(lo, hi)| (lo.into(), hi.into())))?;
    match (v4, v6) {
        (Some(mut v4), Some(v6)) => {
            let (a, b) = (&v4.route.iface.name, &v6.route.iface.name);
            if a != b {
                bail!(
                    "the IPv4 targets leave by {a} and the IPv6 ones by {b}; scan each family \
                     separately, or choose one interface with -e"
                );
            }
            v4.ipv6 = Some(Box::new(v6));
            Ok(v4)
        }
        (Some(route), None) | (None, Some(route)) => Ok(route),
        (None, None) => bail!("no targets"),
    }
}

/// The route of one family's targets, from the ends of its ranges; `None` without any.
fn family_route(
    args: &Args,
    targets: &TargetSet,
    ranges: impl Iterator<Item = (IpAddr, IpAddr)>,
) -> anyhow::Result<Option<ScanRoute>> {
    let mut first: Option<ScanRoute> = None;
    for (lo, hi) in ranges {
        for addr in [lo, hi] {
            let route = route_with(addr, &overrides(args, targets, addr)?)?;
            match &mut first {
                None => first = Some(ScanRoute { route, mixed: false, ipv6: None }),
                Some(f) => {
                    same_way_out(&f.route, addr, &route)?;
                    f.mixed |= f.route.gateway != route.gateway;
                }
            }
        }
    }
    Ok(first)
}

/// Next-hop MACs: one for routed or loopback targets, one per directly
/// connected target, and both kinds when the scan mixes them.
///
/// # Errors
/// Route lookups or ARP for a router failed; too many targets to resolve one by one.
pub fn next_hops(
    args: &Args,
    scan: &ScanRoute,
    targets: &TargetSet,
    verbose: bool,
    mut wire: Option<&mut Wire>,
) -> anyhow::Result<NextHops> {
    if let Some(v6) = &scan.ipv6 {
        let v4 = ScanRoute { route: scan.route.clone(), mixed: scan.mixed, ipv6: None };
        let v4 = next_hops(args, &v4, &targets.only(Family::V4), verbose, wire.as_deref_mut())?;
        let v6 = next_hops(args, v6, &targets.only(Family::V6), verbose, wire)?;
        return Ok(NextHops::ByFamily { v4: Box::new(v4), v6: Box::new(v6) });
    }
    let route = &scan.route;
    if let Some(mac) = args.router_mac {
        return Ok(NextHops::All(mac));
    }
    if args.offline {
        // Nothing is sent: no next hop to ask for.
        return Ok(NextHops::All(Mac::ZERO));
    }
    if route.iface.is_loopback || (route.gateway.is_some() && !scan.mixed) {
        return Ok(NextHops::All(router_mac(route, &mut wire)?));
    }
    if targets.len() > MAX_PER_TARGET {
        let what = if scan.mixed { "routed and directly connected" } else { "directly connected" };
        bail!(
            "{} {what} targets would each need a next-hop lookup (limit {MAX_PER_TARGET}); \
             give the next hop with --router-mac or split the scan",
            targets.len()
        );
    }
    let (on_link, gateways) =
        if scan.mixed { split(args, route, targets)? } else { (targets.iter().collect(), Vec::new()) };
    let direct = arp_each(route, &on_link, &mut wire)?;
    if verbose {
        eprintln!("ARP: {} of {} directly connected targets answered", direct.len(), on_link.len());
    }
    let mut routers: BTreeMap<IpAddr, Mac> = BTreeMap::new();
    let mut routed = HashMap::new();
    for (ip, gateway) in gateways {
        let mac = match routers.entry(gateway) {
            Entry::Occupied(known) => *known.get(),
            Entry::Vacant(new) => {
                let via = Route { next_hop: gateway, gateway: Some(gateway), ..route.clone() };
                *new.insert(router_mac(&via, &mut wire)?)
            }
        };
        routed.insert(ip, mac);
    }
    Ok(NextHops::PerHost { direct, routed })
}

/// Targets split by their route: directly connected, and routed with their gateway.
type Split = (Vec<IpAddr>, Vec<(IpAddr, IpAddr)>);

/// Looks every target up: the directly connected ones, and the routed ones with their gateway.
fn split(args: &Args, first: &Route, targets: &TargetSet) -> anyhow::Result<Split> {
    let (mut on_link, mut routed) = (Vec::new(), Vec::new());
    for ip in targets.iter() {
        let route = route_with(ip, &overrides(args, targets, ip)?)?;
        same_way_out(first, ip, &route)?;
        match route.gateway {
            None => on_link.push(ip),
            Some(gateway) => routed.push((ip, gateway)),
        }
    }
    Ok((on_link, routed))
}

/// ARP for each of `ips` on `route`'s link; those that answer, with their MAC.
fn arp_each(
    route: &Route,
    ips: &[IpAddr],
    wire: &mut Option<&mut Wire>,
) -> anyhow::Result<HashMap<IpAddr, Mac>> {
    let routes: Vec<Route> =
        ips.iter().map(|ip| Route { next_hop: *ip, gateway: None, ..route.clone() }).collect();
    // Host discovery: only a reply now says a target is up, never the kernel's table.
    let macs = match wire {
        Some(wire) => wire.with_arp(|lent| ask_many_via(&routes, ARP_TIMEOUT, Some(lent)))?,
        None => ask_many_via(&routes, ARP_TIMEOUT, None)?,
    };
    Ok(ips.iter().zip(macs).filter_map(|(ip, mac)| mac.map(|m| (*ip, m))).collect())
}

/// The next hops' MACs of `routes` (`None` for silence), through the
/// wire's capture when there is one.
fn resolve(routes: &[Route], wire: &mut Option<&mut Wire>) -> anyhow::Result<Vec<Option<Mac>>> {
    Ok(match wire {
        Some(wire) => wire.with_arp(|lent| resolve_many_via(routes, ARP_TIMEOUT, Some(lent)))?,
        None => resolve_many(routes, ARP_TIMEOUT)?,
    })
}

/// The MAC of `route`'s next hop (a router, or loopback's none), which must answer.
fn router_mac(route: &Route, wire: &mut Option<&mut Wire>) -> anyhow::Result<Mac> {
    match resolve(std::slice::from_ref(route), wire)?.pop().flatten() {
        Some(mac) => Ok(mac),
        None => Err(scry_capture::Error::Unresolved {
            what: "ARP reply",
            next_hop: route.next_hop,
            iface: route.iface.name.clone(),
            timeout: ARP_TIMEOUT,
        }
        .into()),
    }
}
