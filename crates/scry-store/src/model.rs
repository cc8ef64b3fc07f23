//! The plain Rust types a caller hands to the store and gets back from it.
//!
//! Nothing here knows SQL. Port states and protocols are scry-probe's own
//! types (nmap's words); reasons are kept as nmap's reason words in text,
//! because an imported nmap XML file has reasons (`conn-refused`,
//! `localhost-response`, ...) that scry's prober never produces.

use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

/// A scan's row number in the history database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScanId(pub i64);

impl fmt::Display for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a scan is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanStatus {
    /// Started and not finished (or its process died; see
    /// [`crate::History::mark_stale_interrupted`]).
    Running,
    /// Every probe was sent and answered or timed out.
    Complete,
    /// Stopped before the end (Ctrl-C, a failed output, a dead process).
    Interrupted,
}

impl ScanStatus {
    /// `running`, `complete` or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Running => "running",
            ScanStatus::Complete => "complete",
            ScanStatus::Interrupted => "interrupted",
        }
    }

    /// The status named by `word`, if any.
    pub fn parse(word: &str) -> Option<ScanStatus> {
        [ScanStatus::Running, ScanStatus::Complete, ScanStatus::Interrupted]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a scan set out to cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Target specs as the user wrote them (`198.18.0.0/24`, `host.example`).
    pub targets: Vec<String>,
    /// `--exclude` / `--excludefile` specs as written.
    pub excludes: Vec<String>,
    /// The addresses the specs resolved to, after excludes, as inclusive
    /// ranges. This is what the diff uses to say which hosts a scan covered
    /// (a hostname may resolve differently next time).
    pub ranges: Vec<(IpAddr, IpAddr)>,
    /// Each protocol scanned and its ports, ascending; empty for `-sn`.
    pub ports: Vec<(Protocol, Vec<u16>)>,
    /// Scan types in the order run (`syn`, `udp`, `ping`, `os`, ...).
    pub scan_types: Vec<String>,
    /// `--seed`, when given.
    pub seed: Option<u64>,
    /// `--shard I/N`: index (1-based) and count; `(1, 1)` when not sharded.
    pub shard: (u32, u32),
    /// `--run-id` shared by every shard of one run.
    pub run_id: Option<String>,
}

impl Scope {
    /// True when `ip` lies in one of the scope's ranges.
    pub fn covers_host(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|(first, last)| *first <= ip && ip <= *last)
    }

    /// The ports of `protocol` in the scope, ascending (empty if not scanned).
    pub fn ports_of(&self, protocol: Protocol) -> &[u16] {
        self.ports.iter().find(|(p, _)| *p == protocol).map_or(&[], |(_, ports)| ports)
    }

    /// A text key equal for two scans of the same targets, excludes, ports
    /// and scan types (seed, shard and run id left out), so "the last two
    /// scans of this scope" is one indexed lookup.
    pub fn key(&self) -> String {
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|(p, list)| format!("{}:{}", p.as_str(), crate::ports::ranges(list)))
            .collect();
        format!(
            "targets={};exclude={};ports={};types={}",
            self.targets.join(","),
            self.excludes.join(","),
            ports.join(" "),
            self.scan_types.join(",")
        )
    }
}

/// Final counters of a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Targets in the scan.
    pub hosts_scanned: u64,
    /// Targets that answered.
    pub hosts_up: u64,
    /// Every other counter the scan reports (`sent`, `received`,
    /// `rejected`, `duration_ms`, ...), by name.
    pub counters: BTreeMap<String, u64>,
}

/// A scan as it begins: everything known before the first probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewScan {
    pub scope: Scope,
    /// The command line.
    pub args: String,
    /// scry's version (or the importer's scanner and version).
    pub version: String,
    pub started: SystemTime,
}

/// A stored scan's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    pub id: ScanId,
    pub scope: Scope,
    pub args: String,
    pub version: String,
    pub started: SystemTime,
    /// When the scan finished or was marked interrupted.
    pub ended: Option<SystemTime>,
    pub status: ScanStatus,
    /// Set by [`crate::History::finish_scan`]; `None` before.
    pub stats: Option<ScanStats>,
}

/// One line of `scry history`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanSummary {
    pub id: ScanId,
    pub run_id: Option<String>,
    pub shard: (u32, u32),
    pub started: SystemTime,
    pub ended: Option<SystemTime>,
    pub status: ScanStatus,
    /// Target specs as written, joined with spaces.
    pub targets: String,
    /// Hosts recorded up.
    pub hosts_up: u64,
    /// Ports recorded open.
    pub open_ports: u64,
    /// [`Scope::key`] of the scan's scope.
    pub scope_key: String,
}

/// Up or down, as nmap's `<status state=...>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostStatus {
    Up,
    Down,
}

impl HostStatus {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Up => "up",
            HostStatus::Down => "down",
        }
    }
}

/// What a scan saw of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostObservation {
    pub ip: IpAddr,
    pub status: HostStatus,
    /// nmap's reason word (`arp-response`, `echo-reply`, `user-set`, ...).
    pub reason: String,
    /// TTL of the reply that said so (none for ARP or user-set).
    pub ttl: Option<u8>,
    /// `aa:bb:cc:dd:ee:ff` when the host is on the scanner's link.
    pub mac: Option<String>,
    /// The host's name: as the user gave it as a target, or its reverse
    /// DNS name (nmap's first `<hostname>`).
    pub hostname: Option<String>,
    pub seen: SystemTime,
}

/// What a scan saw of one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortObservation {
    pub ip: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    pub state: PortState,
    /// nmap's reason word (`syn-ack`, `reset`, `port-unreach`, ...).
    pub reason: String,
    pub ttl: Option<u8>,
    pub service: Service,
    pub seen: SystemTime,
}

/// A port's service, from the services table or from version detection.
/// A later observation of the same port that leaves a field `None` keeps
/// the field's earlier value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// `ssh`, `http`, ...
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    /// The first bytes the service sent, as text.
    pub banner: Option<String>,
    /// `cpe:/a:openbsd:openssh:9.2`, ...
    pub cpe: Vec<String>,
}

impl Service {
    /// The VERSION column as nmap prints it: `product version (extrainfo)`.
    pub fn version_line(&self) -> Option<String> {
        let mut parts: Vec<String> = [&self.product, &self.version].into_iter().flatten().cloned().collect();
        if let Some(extra) = &self.extrainfo {
            parts.push(format!("({extra})"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// One OS match: the reference's name and its accuracy in percent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsMatchRow {
    pub name: String,
    pub accuracy: u8,
}

/// A host's OS detection result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsObservation {
    pub ip: IpAddr,
    /// Best first; empty when nothing matched.
    pub matches: Vec<OsMatchRow>,
    /// The subject fingerprint as printed (`SCAN(V=...)` lines).
    pub fingerprint: Option<String>,
    /// Network distance in hops, when known.
    pub distance: Option<u8>,
    /// The scanner's whole OS report (classes, CPEs, sequence tests) as
    /// its own JSON, kept verbatim so `scry show` can print it again; the
    /// store does not read it.
    pub details: Option<String>,
    pub seen: SystemTime,
}

impl OsObservation {
    /// The best match, if any.
    pub fn top(&self) -> Option<&OsMatchRow> {
        self.matches.first()
    }
}

/// Anything a scan records, in the order it learns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    Host(HostObservation),
    Port(PortObservation),
    Os(OsObservation),
    /// The next piece of what the scan printed in one output format.
    Output(OutputChunk),
    /// The state of every port of a host not recorded one by one.
    Rest(RestObservation),
}

/// The ports of one host and protocol that a scan does not record one by
/// one, as nmap's `extraports` ("Not shown: 64535 closed tcp ports
/// (reset)"): the most common state is counted, every other port is a
/// [`PortObservation`]. A `-p-` scan of a host with 1000 open ports is
/// 1000 rows and this one, not 65,535 rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestObservation {
    pub ip: IpAddr,
    pub protocol: Protocol,
    pub state: PortState,
    /// nmap's reason word (`reset`, `no-response`, ...).
    pub reason: String,
    /// How many ports it stands for.
    pub count: u64,
    pub seen: SystemTime,
}

/// A piece of a scan's output as printed, appended to what came before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChunk {
    /// `normal`, `xml`, `grepable` or `json` (scry's names of nmap's
    /// `-oN`, `-oX`, `-oG` and scry's `-oJ`).
    pub format: String,
    pub text: String,
}

/// A stored scan, with everything needed to print it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedScan {
    pub record: ScanRecord,
    /// By address.
    pub hosts: Vec<HostObservation>,
    /// By address, then protocol, then port.
    pub ports: Vec<PortObservation>,
    /// By address.
    pub os: Vec<OsObservation>,
    /// By address, then protocol.
    pub rest: Vec<RestObservation>,
}

/// When a port was first and last recorded, across every scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSeen {
    pub first: SystemTime,
    pub first_scan: ScanId,
    pub last: SystemTime,
    pub last_scan: ScanId,
    /// The state of the last observation.
    pub last_state: PortState,
    /// How many scans recorded it.
    pub scans: u64,
}
