//! The diff of two stored scans, as pure Rust over [`LoadedScan`]s.
//!
//! Rules (docs/history.md, "Diff"):
//! - Each side is one scan, or every shard of one run. A side that is not
//!   `complete`, or a run with a shard missing, is refused
//!   ([`DiffError`]), because a scan cut short would make hosts seem to
//!   disappear. With `force` the refusal becomes a warning, and on the
//!   incomplete side only what it recorded is compared: a host or port it
//!   did not record is unknown there, never "down" or "filtered".
//! - Only what both sides scanned is compared: hosts in both sides' target
//!   ranges, ports in both sides' port lists for a protocol both scanned.
//! - A host covered but not recorded by a complete side did not answer;
//!   a port not recorded on a host that is up is in the state the side
//!   recorded for the rest of that host's ports ([`RestObservation`]), or
//!   else in its silent state (`filtered` for TCP, `open|filtered` for
//!   UDP, as nmap prints them).
//! - A service name counts only on open ports: a port counted in the rest
//!   has none, and a closed port named from nmap-services on one side is
//!   not a change.
//! - Changes: host up/down, port state, service or version (name, product,
//!   version, extrainfo), OS top match (when both sides ran OS detection).

use crate::model::*;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::SystemTime;
use thiserror::Error;

mod jsonl;
mod text;
mod xml;

pub use jsonl::write_jsonl;
pub use text::write_text;
pub use xml::write_xml;

/// Why two scans are not compared. The CLI exits 2 on it, as ndiff does on errors.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DiffError {
    /// A side has no scan.
    #[error("nothing to compare: a side of the diff has no scan")]
    Empty,
    /// A scan was cut short (or is still running).
    #[error("scan {scan} is {status}, not complete: comparing it would show hosts and ports it never reached as gone (--force compares anyway)")]
    NotComplete { scan: ScanId, status: ScanStatus },
    /// A run lacks shards.
    #[error("run {run_id} is missing shard{} {} of {count}: its hosts would seem gone (--force compares anyway)", if missing.len() == 1 { "" } else { "s" }, join(missing))]
    MissingShards { run_id: String, count: u32, missing: Vec<u32> },
}

fn join(list: &[u32]) -> String {
    list.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// What a port looked like on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortView {
    pub state: PortState,
    pub reason: String,
    pub service: Service,
}

impl PortView {
    fn service_key(&self) -> [&Option<String>; 4] {
        let s = &self.service;
        // Only an open port's name is a finding; others come from a table, or not at all.
        let name = if self.state == PortState::Open { &s.name } else { &None };
        [name, &s.product, &s.version, &s.extrainfo]
    }
}

/// One difference. `None` on a side: the host was not up there (or the
/// host or OS result was not recorded).
// Changes are few (one per changed port at most): boxing the views would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Up on one side, down or silent on the other.
    Host { ip: IpAddr, before: Option<HostStatus>, after: Option<HostStatus> },
    /// A port's state or service changed.
    Port { ip: IpAddr, protocol: Protocol, port: u16, before: Option<PortView>, after: Option<PortView> },
    /// The best OS match changed.
    Os { ip: IpAddr, before: Option<OsMatchRow>, after: Option<OsMatchRow> },
}

impl Change {
    /// The host the change is about.
    pub fn ip(&self) -> IpAddr {
        match self {
            Change::Host { ip, .. } | Change::Port { ip, .. } | Change::Os { ip, .. } => *ip,
        }
    }

    /// `host`, `port-state`, `service` or `os`.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Host { .. } => "host",
            Change::Port { before: Some(a), after: Some(b), .. } if a.state == b.state => "service",
            Change::Port { .. } => "port-state",
            Change::Os { .. } => "os",
        }
    }
}

/// What the banner of each side says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideInfo {
    /// The scan, or every shard of the run, by shard.
    pub scans: Vec<ScanId>,
    pub run_id: Option<String>,
    pub version: String,
    pub args: String,
    pub started: SystemTime,
}

impl SideInfo {
    /// The scanner and its version: `("scry", "0.1.0")`, or for an
    /// imported scan, whose version names its scanner, `("nmap", "7.93")`
    /// (`("masscan", "")` when the file gives no version).
    pub fn scanner(&self) -> (&str, &str) {
        if !self.version.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return ("scry", &self.version);
        }
        self.version.split_once(' ').unwrap_or((&self.version, ""))
    }
}

/// The changes from side A (before) to side B (after).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    pub a: SideInfo,
    pub b: SideInfo,
    /// By address; a host's change first, then its ports (TCP first,
    /// ascending), then its OS.
    pub changes: Vec<Change>,
    /// Refusals turned into warnings by `force`, and notes such as an
    /// empty overlap.
    pub warnings: Vec<String>,
    /// The MAC address and name of each changed host that has them (scan
    /// B's, else A's): ndiff names a host by its name and all its addresses.
    pub names: BTreeMap<IpAddr, HostNames>,
}

/// What else than its IP address names a host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostNames {
    /// Upper case, as nmap's XML writes it.
    pub mac: Option<String>,
    pub hostname: Option<String>,
}

impl HostNames {
    /// `198.18.0.1`, `198.18.0.1, 02:00:C6:12:00:01` or
    /// `gw.lab (198.18.0.1, 02:00:C6:12:00:01)`, as ndiff names a host.
    pub fn display(&self, ip: IpAddr) -> String {
        let addresses = match &self.mac {
            Some(mac) => format!("{ip}, {mac}"),
            None => ip.to_string(),
        };
        match &self.hostname {
            Some(name) => format!("{name} ({addresses})"),
            None => addresses,
        }
    }
}

impl Diff {
    /// True when anything changed (ndiff's exit status 1; 0 otherwise).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The changes grouped by host, in address order.
    pub fn by_host(&self) -> Vec<(IpAddr, Vec<&Change>)> {
        let mut groups: Vec<(IpAddr, Vec<&Change>)> = Vec::new();
        for change in &self.changes {
            match groups.last_mut() {
                Some((ip, group)) if *ip == change.ip() => group.push(change),
                _ => groups.push((change.ip(), vec![change])),
            }
        }
        groups
    }
}

/// One side, merged over its shards.
struct Side<'a> {
    info: SideInfo,
    complete: bool,
    scope: &'a Scope,
    ports_by_proto: BTreeMap<Protocol, BTreeSet<u16>>,
    hosts: BTreeMap<IpAddr, &'a HostObservation>,
    ports: BTreeMap<(IpAddr, Protocol, u16), &'a PortObservation>,
    os: BTreeMap<IpAddr, &'a OsObservation>,
    rest: BTreeMap<(IpAddr, Protocol), &'a RestObservation>,
}

/// Checks that a side is whole: every scan complete, every shard present.
fn check(scans: &[LoadedScan]) -> Result<(), DiffError> {
    let first = scans.first().ok_or(DiffError::Empty)?;
    if let Some(s) = scans.iter().find(|s| s.record.status != ScanStatus::Complete) {
        return Err(DiffError::NotComplete { scan: s.record.id, status: s.record.status });
    }
    let count = first.record.scope.shard.1;
    let present: BTreeSet<u32> = scans.iter().map(|s| s.record.scope.shard.0).collect();
    let missing: Vec<u32> = (1..=count).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() {
        let run_id =
            first.record.scope.run_id.clone().unwrap_or_else(|| format!("of scan {}", first.record.id));
        return Err(DiffError::MissingShards { run_id, count, missing });
    }
    Ok(())
}

impl<'a> Side<'a> {
    fn new(scans: &'a [LoadedScan], complete: bool) -> Side<'a> {
        let first = &scans[0].record;
        let mut side = Side {
            info: SideInfo {
                scans: scans.iter().map(|s| s.record.id).collect(),
                run_id: first.scope.run_id.clone(),
                version: first.version.clone(),
                args: first.args.clone(),
                started: scans.iter().map(|s| s.record.started).min().unwrap_or(first.started),
            },
            complete,
            scope: &first.scope,
            ports_by_proto: BTreeMap::new(),
            hosts: BTreeMap::new(),
            ports: BTreeMap::new(),
            os: BTreeMap::new(),
            rest: BTreeMap::new(),
        };
        for (proto, ports) in &first.scope.ports {
            side.ports_by_proto.entry(*proto).or_default().extend(ports);
        }
        for scan in scans {
            for h in &scan.hosts {
                // Shards split ports too: one shard's "up" outranks another's "down".
                let keep = side.hosts.get(&h.ip).is_some_and(|old| old.status == HostStatus::Up);
                if !keep {
                    side.hosts.insert(h.ip, h);
                }
            }
            side.ports.extend(scan.ports.iter().map(|p| ((p.ip, p.protocol, p.port), p)));
            side.os.extend(scan.os.iter().map(|o| (o.ip, o)));
            side.rest.extend(scan.rest.iter().map(|r| ((r.ip, r.protocol), r)));
        }
        side
    }

    /// Up or down when recorded; `Up` when a port answered; `None` when
    /// silent; `Err(())` when unknown (an incomplete side that did not record it).
    fn host(&self, ip: IpAddr) -> Result<Option<HostStatus>, ()> {
        if let Some(h) = self.hosts.get(&ip) {
            return Ok(Some(h.status));
        }
        let answered =
            self.ports.range((ip, Protocol::Tcp, 0)..=(ip, Protocol::Sctp, u16::MAX)).next().is_some();
        match (answered, self.complete) {
            (true, _) => Ok(Some(HostStatus::Up)),
            (false, true) => Ok(None),
            (false, false) => Err(()),
        }
    }

    /// The port as this side saw it; `Err(())` when unknown.
    fn port(&self, ip: IpAddr, up: bool, protocol: Protocol, port: u16) -> Result<Option<PortView>, ()> {
        if let Some(p) = self.ports.get(&(ip, protocol, port)) {
            return Ok(Some(PortView {
                state: p.state,
                reason: p.reason.clone(),
                service: p.service.clone(),
            }));
        }
        if !up {
            return Ok(None);
        }
        if !self.complete {
            return Err(());
        }
        if let Some(rest) = self.rest.get(&(ip, protocol)) {
            return Ok(Some(PortView {
                state: rest.state,
                reason: rest.reason.clone(),
                service: Service::default(),
            }));
        }
        let state = if protocol == Protocol::Udp { PortState::OpenFiltered } else { PortState::Filtered };
        Ok(Some(PortView { state, reason: "no-response".into(), service: Service::default() }))
    }
}

/// The ports of a host up on one side only that its report lists, by
/// nmap's layout rule (scry's `-oX` follows it, so ndiff of two such files
/// shows these): open ports, and every port of a state with at most 25
/// ports over all protocols; a state with more is only counted there.
fn listed_ports(
    side: &Side<'_>,
    ip: IpAddr,
    common: &BTreeMap<Protocol, BTreeSet<u16>>,
) -> BTreeSet<(Protocol, u16)> {
    const MAX_LISTED: usize = 25;
    let mut by_state: BTreeMap<PortState, Vec<(Protocol, u16)>> = BTreeMap::new();
    for (proto, ports) in common {
        for port in ports {
            if let Ok(Some(view)) = side.port(ip, true, *proto, *port) {
                by_state.entry(view.state).or_default().push((*proto, *port));
            }
        }
    }
    by_state
        .into_iter()
        .filter(|(state, ports)| *state == PortState::Open || ports.len() <= MAX_LISTED)
        .flat_map(|(_, ports)| ports)
        .collect()
}

/// Compares side `a` (before) with side `b` (after); each is one scan or
/// every shard of one run.
///
/// # Errors
/// [`DiffError`] when a side is incomplete or missing shards, unless
/// `force`, which makes it a warning in [`Diff::warnings`].
pub fn diff(a: &[LoadedScan], b: &[LoadedScan], force: bool) -> Result<Diff, DiffError> {
    let mut warnings = Vec::new();
    let mut whole = |scans: &[LoadedScan]| -> Result<bool, DiffError> {
        match check(scans) {
            Ok(()) => Ok(true),
            Err(DiffError::Empty) => Err(DiffError::Empty),
            Err(e) if force => {
                warnings.push(format!("warning: {e}"));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    };
    let (complete_a, complete_b) = (whole(a)?, whole(b)?);
    let (a, b) = (Side::new(a, complete_a), Side::new(b, complete_b));

    let common: BTreeMap<Protocol, BTreeSet<u16>> = a
        .ports_by_proto
        .iter()
        .filter_map(|(proto, ports)| {
            let theirs = b.ports_by_proto.get(proto)?;
            Some((*proto, ports.intersection(theirs).copied().collect()))
        })
        .collect();
    let mut ips: BTreeSet<IpAddr> = BTreeSet::new();
    for side in [&a, &b] {
        ips.extend(side.hosts.keys());
        ips.extend(side.ports.keys().map(|k| k.0));
        ips.extend(side.os.keys());
    }
    ips.retain(|ip| a.scope.covers_host(*ip) && b.scope.covers_host(*ip));
    let overlap = |(f1, l1): &(IpAddr, IpAddr)| b.scope.ranges.iter().any(|(f2, l2)| f1 <= l2 && f2 <= l1);
    if !a.scope.ranges.iter().any(overlap) {
        warnings.push("warning: the two scans share no target address".into());
    }

    let mut changes = Vec::new();
    for ip in ips {
        let (Ok(host_a), Ok(host_b)) = (a.host(ip), b.host(ip)) else { continue };
        let up = |h: Option<HostStatus>| h == Some(HostStatus::Up);
        if up(host_a) != up(host_b) {
            changes.push(Change::Host { ip, before: host_a, after: host_b });
        }
        let mut specs: BTreeSet<(Protocol, u16)> = BTreeSet::new();
        for side in [&a, &b] {
            let answered = side.ports.range((ip, Protocol::Tcp, 0)..=(ip, Protocol::Sctp, u16::MAX));
            specs.extend(answered.map(|(k, _)| (k.1, k.2)));
        }
        specs.retain(|(proto, port)| common.get(proto).is_some_and(|ports| ports.contains(port)));
        if up(host_a) != up(host_b) {
            let side = if up(host_a) { &a } else { &b };
            specs = listed_ports(side, ip, &common);
        }
        for (protocol, port) in specs {
            let (Ok(before), Ok(after)) =
                (a.port(ip, up(host_a), protocol, port), b.port(ip, up(host_b), protocol, port))
            else {
                continue;
            };
            let same = match (&before, &after) {
                (Some(x), Some(y)) => x.state == y.state && x.service_key() == y.service_key(),
                (None, None) => true,
                _ => false,
            };
            if !same {
                changes.push(Change::Port { ip, protocol, port, before, after });
            }
        }
        if let (Some(x), Some(y)) = (a.os.get(&ip), b.os.get(&ip)) {
            if x.top().map(|m| &m.name) != y.top().map(|m| &m.name) {
                changes.push(Change::Os { ip, before: x.top().cloned(), after: y.top().cloned() });
            }
        }
    }
    let mut names = BTreeMap::new();
    for change in &changes {
        let ip = change.ip();
        let known = |f: fn(&HostObservation) -> &Option<String>| {
            [&b, &a].iter().find_map(|side| side.hosts.get(&ip).and_then(|h| f(h).clone()))
        };
        let host = HostNames {
            mac: known(|h| &h.mac).map(|m| m.to_ascii_uppercase()),
            hostname: known(|h| &h.hostname),
        };
        if host != HostNames::default() {
            names.insert(ip, host);
        }
    }
    Ok(Diff { a: a.info, b: b.info, changes, warnings, names })
}

#[cfg(test)]
mod tests;
