//! Output sinks: every format implements one `begin / host_up / port / host /
//! finish` interface and is fed while the scan runs.
//!
//! Live events (`host_up`, `port`) arrive as replies are validated; `host`
//! arrives once per host after the last probe, with the complete port table,
//! followed with `-O` by `os`.

mod grepable;
mod json;
mod normal;
mod xml;

pub use grepable::Grepable;
pub use json::JsonLines;
pub use normal::Normal;
pub use xml::{Xml, STYLESHEET, WEB_STYLESHEET};

use scry_packet::Mac;
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};
use scry_probe::tcpscan::TcpScanSpec;
use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// What the scan is, printed before any result.
#[derive(Clone, Debug)]
pub struct ScanInfo {
    pub start: SystemTime,
    pub command_line: String,
    /// Targets in the scan.
    pub hosts: u64,
    /// Each scan type's protocol and the ports it scans on every target,
    /// ascending; TCP first, as nmap runs its SYN scan before its UDP scan.
    /// Empty for host discovery only.
    pub scans: Vec<(Protocol, Vec<u16>)>,
    /// The scan type of the TCP ports, with `--scanflags` (SYN when none was given).
    pub tcp: TcpScanSpec,
    /// `-sT`: TCP ports are scanned by connect() (XML `type="connect"`);
    /// `tcp` is then not used.
    pub connect: bool,
    /// `-v` count, as nmap's `<verbose level>`.
    pub verbose: u8,
    /// `-d` level, as nmap's `<debugging level>`.
    pub debugging: u8,
    /// Addresses of the target ranges left out because they route as
    /// broadcast ([`crate::config::unicast_targets`]); not counted in `hosts`.
    pub skipped_broadcast: Vec<std::net::Ipv4Addr>,
}

impl ScanInfo {
    /// Ports probed on each target, over every protocol.
    pub fn port_count(&self) -> usize {
        self.scans.iter().map(|(_, ports)| ports.len()).sum()
    }

    /// nmap's name of the scan type of `protocol`'s ports, as in XML
    /// `<scaninfo type=...>`: syn, connect, fin, null, xmas, ack, window,
    /// maimon or udp.
    pub fn scan_type(&self, protocol: Protocol) -> &'static str {
        match protocol {
            Protocol::Udp => "udp",
            _ if self.connect => "connect",
            _ => self.tcp.scan.name(),
        }
    }
}

/// What every report shows, from the command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportOptions {
    /// `--open`: list only open ports, report only hosts with one.
    pub open_only: bool,
    /// `--reason`: a REASON column in normal output.
    pub reason: bool,
    /// `-v`: final statistics in normal output.
    pub verbose: bool,
    /// `-O`: each host's OS lines follow its report (see [`Sink::os`]).
    pub os: bool,
    /// Without `-O` and `--no-os-guess`: each host's report is followed by
    /// [`Sink::os_quick`].
    pub os_guess: bool,
    /// `-sV`: a VERSION column, `?` after names that are guesses, the
    /// `Service Info:` line.
    pub version: bool,
}

/// What version detection (`-sV`) and `--banners` found on one port.
#[derive(Clone, Debug, Default)]
pub struct PortService {
    /// The version scan's conclusion (none with `--banners` alone).
    pub result: Option<scry_service::ServiceResult>,
    /// nmap's `SF-Port…` service fingerprint, when the responses were kept.
    pub fingerprint: Option<String>,
    /// `--banners`: what the service sent first and its TLS certificate.
    pub banner: Option<Banner>,
}

/// What a TCP service sends unasked in its first seconds (the NULL probe's
/// reply), and its certificate when it speaks TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Banner {
    /// The bytes, at most [`BANNER_BYTES`].
    pub bytes: Vec<u8>,
    pub certificate: Option<Certificate>,
}

/// The most bytes of a banner kept.
pub const BANNER_BYTES: usize = 4096;

/// The fields of a TLS certificate shown with `--banners`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certificate {
    /// `commonName=example.org/organizationName=Example`, as nmap's ssl-cert script writes names.
    pub subject: String,
    pub issuer: String,
    /// As OpenSSL prints times: `Dec  4 15:00:00 2026 GMT`.
    pub not_before: String,
    pub not_after: String,
}

/// Every port's [`PortService`] of one host, by protocol and port.
pub type ServiceTable = BTreeMap<(Protocol, u16), PortService>;

/// The table of a scan without `-sV` and `--banners`.
pub static NO_SERVICES: ServiceTable = BTreeMap::new();

impl PortService {
    /// The name nmap's port table shows: `ssl/` for a tunnel, the probed
    /// name or else nmap-services' (`table`), `?` after a name that is a
    /// guess on an open port in a version scan, `unknown` without a name.
    pub fn shown_name(
        service: Option<&PortService>,
        table: Option<&str>,
        open: bool,
        version: bool,
    ) -> String {
        let result = service.and_then(|s| s.result.as_ref());
        let ssl = result.is_some_and(|r| r.tunnel == scry_service::Tunnel::Ssl);
        let prefix = if ssl { "ssl/" } else { "" };
        let name = result.and_then(|r| r.name.as_deref()).or(table).filter(|n| *n != "unknown");
        match name {
            Some(name) if version && open && result.map_or(true, |r| r.confidence <= 5) => {
                format!("{prefix}{name}?")
            }
            Some(name) => format!("{prefix}{name}"),
            None => format!("{prefix}unknown"),
        }
    }

    /// nmap's VERSION column: `product version (extrainfo)`.
    pub fn version_text(&self) -> String {
        let Some(r) = &self.result else { return String::new() };
        let mut parts: Vec<String> = Vec::new();
        parts.extend(r.info.product.clone());
        parts.extend(r.info.version.clone());
        parts.extend(r.info.info.as_ref().map(|i| format!("({i})")));
        parts.join(" ")
    }
}

/// A banner's bytes as text: printable ASCII as is, `\\`, `\r`, `\n`,
/// `\t`, and `\xHH` for every other byte.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// nmap's `Service Info:` line for one host: the host names, OS types and
/// device types the matches named (each once, in port order), and the OS
/// and hardware CPEs; `None` when there is none.
pub fn service_info(services: &ServiceTable) -> Option<String> {
    let mut hosts: Vec<&str> = Vec::new();
    let mut oses: Vec<&str> = Vec::new();
    let mut devices: Vec<&str> = Vec::new();
    let mut cpes: Vec<&str> = Vec::new();
    for service in services.values() {
        let Some(r) = &service.result else { continue };
        for (list, value) in
            [(&mut hosts, &r.info.hostname), (&mut oses, &r.info.ostype), (&mut devices, &r.info.devicetype)]
        {
            if let Some(v) = value.as_deref().filter(|v| !list.contains(v)) {
                list.push(v);
            }
        }
        for cpe in [&r.info.cpe_h, &r.info.cpe_o].into_iter().flatten() {
            if !cpes.contains(&cpe.as_str()) {
                cpes.push(cpe);
            }
        }
    }
    let mut parts = Vec::new();
    for (one, many, list) in
        [("Host", "Hosts", &hosts), ("OS", "OSs", &oses), ("Device", "Devices", &devices)]
    {
        if !list.is_empty() {
            parts.push(format!("{}: {}", if list.len() == 1 { one } else { many }, list.join(", ")));
        }
    }
    if !cpes.is_empty() {
        parts.push(format!("CPE: {}", cpes.join(", ")));
    }
    (!parts.is_empty()).then(|| format!("Service Info: {}", parts.join("; ")))
}

/// Everything known about one host at the end of the scan.
#[derive(Clone, Debug)]
pub struct HostReport<'a> {
    pub ip: IpAddr,
    /// The host's MAC address when it is on the scanner's link.
    pub mac: Option<Mac>,
    /// Why the host is up and the TTL of that reply (none for ARP); `None`
    /// when the host never answered (reported only with -Pn).
    pub up_reason: Option<(Reason, Option<u8>)>,
    /// One port table per protocol scanned, TCP first; none for host discovery only.
    pub tables: &'a [PortTable<'a>],
    /// What `-sV` and `--banners` found, by port ([`NO_SERVICES`] without them).
    pub services: &'a ServiceTable,
}

/// A host's ports of one protocol.
#[derive(Clone, Copy, Debug)]
pub struct PortTable<'a> {
    pub protocol: Protocol,
    /// Ports that answered; every other scanned port had no response.
    pub ports: &'a BTreeMap<u16, PortResult>,
    /// Every port of this protocol scanned on the host, ascending.
    pub scanned: &'a [u16],
    /// What an unanswered port is, by the scan type (nmap's default port
    /// state): filtered for SYN, ACK and window scans, open|filtered for
    /// UDP and the FIN, NULL, Xmas and Maimon scans.
    pub silent: PortState,
}

impl<'a> PortTable<'a> {
    /// A table of a SYN scan (`protocol` TCP) or a UDP scan: unanswered
    /// ports are filtered or open|filtered.
    #[cfg(test)]
    pub fn new(
        protocol: Protocol,
        ports: &'a BTreeMap<u16, PortResult>,
        scanned: &'a [u16],
    ) -> PortTable<'a> {
        let silent = if protocol == Protocol::Udp { PortState::OpenFiltered } else { PortState::Filtered };
        PortTable { protocol, ports, scanned, silent }
    }

    /// What an unanswered port is ([`PortTable::silent`]).
    pub fn silent_state(&self) -> PortState {
        self.silent
    }
}

impl HostReport<'_> {
    /// Ports scanned on this host, over every protocol.
    pub fn scanned_count(&self) -> usize {
        self.tables.iter().map(|t| t.scanned.len()).sum()
    }
}

/// The ports OS detection used on a host (nmap's `portused`): the open and
/// the closed TCP port it knew, and the UDP port U1 found closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortsUsed {
    pub open_tcp: Option<u16>,
    pub closed_tcp: Option<u16>,
    pub closed_udp: Option<u16>,
}

/// A host's OS detection result (`-O`), given right after its report.
#[derive(Clone, Copy, Debug)]
pub enum OsReport<'a> {
    Done {
        result: &'a scry_os::OsResult,
        /// The subject fingerprint merged from every try, with the best
        /// try's `SCAN` line.
        fingerprint: &'a scry_os::SubjectFingerprint,
        /// The last try's SEQ test: nmap's sequence reports (grepable
        /// `Seq Index`, `IP ID Seq`) come from the last try.
        sequence: Option<&'a scry_os::SubjectTest>,
        /// How nmap would print it (guessing, unreliable, not ideal).
        options: &'a scry_os::ReportOptions,
        /// Hops to the host, when measured or guessed.
        distance: Option<i32>,
        ports_used: PortsUsed,
    },
    /// Not fingerprinted (`--osscan-limit`, IPv6, an interrupted scan).
    Skipped,
}

/// An OS guess from one SYN-ACK (`scry_os::compute::one_syn_ack`).
#[derive(Clone, Copy, Debug)]
pub struct QuickGuess<'a> {
    pub result: &'a scry_os::OsResult,
    /// OS families, best first ([`scry_os::Matcher::families`]).
    pub families: &'a [scry_os::FamilyScore],
    /// `OPS(O1)`, `WIN(W1)` and `T1`.
    pub fingerprint: &'a scry_os::SubjectFingerprint,
    /// The port the SYN-ACK came from.
    pub from: u16,
}

impl QuickGuess<'_> {
    /// The families shown: the best and up to two more within 10 points.
    pub fn shown_families(&self) -> &[scry_os::FamilyScore] {
        let best = self.families.first().map_or(0.0, |f| f.accuracy);
        let n = self.families.iter().take(3).take_while(|f| f.accuracy > best - 0.10).count();
        &self.families[..n]
    }

    /// The listed references of the best family, best first (at most 10).
    pub fn matches(&self) -> Vec<&scry_os::OsMatch> {
        let Some(top) = self.families.first() else { return Vec::new() };
        let of_top = |m: &&scry_os::OsMatch| {
            m.classes.iter().any(|c| c.vendor == top.vendor && c.family == top.family)
        };
        self.result.matches.iter().filter(of_top).take(10).collect()
    }

    /// `Linux (100%, 412 references), FreeBSD (100%, 3 references)`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .shown_families()
            .iter()
            .map(|f| {
                let name = if f.vendor == f.family {
                    f.family.clone()
                } else {
                    format!("{} {}", f.vendor, f.family)
                };
                let refs = if f.references == 1 { "reference" } else { "references" };
                format!("{name} ({}%, {} {refs})", scry_os::matcher::percent(f.accuracy), f.references)
            })
            .collect();
        parts.join(", ")
    }
}

/// Counters for the final statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub sent: u64,
    pub send_errors: u64,
    /// Times a sender waited for the kernel (a busy TX ring slot, a partly taken batch).
    pub send_stalls: u64,
    pub received: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub capture_dropped: u64,
    pub interface_dropped: u64,
    pub duration: Duration,
    pub hosts_scanned: u64,
    pub hosts_up: u64,
    pub interrupted: bool,
    /// Every phase's walk reached its end: a stop, if any, came after the port scan.
    pub walked: bool,
    /// The process's peak resident memory (getrusage), in KiB.
    pub max_rss_kib: u64,
    /// Broadcast addresses left out of the target ranges.
    pub skipped_broadcast: u64,
}

impl Stats {
    /// `4 IP addresses (3 hosts up)`, as nmap's closing summaries say it.
    pub fn hosts_summary(&self) -> String {
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{} ({} up)",
            plural(self.hosts_scanned, "IP address", "IP addresses"),
            plural(self.hosts_up, "host", "hosts")
        )
    }

    /// Probes sent per second over the whole run.
    pub fn pps(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.sent as f64 / secs
        } else {
            0.0
        }
    }
}

/// One output format.
pub trait Sink {
    /// Before the first probe.
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()>;
    /// A host answered for the first time (`ttl` is `None` for ARP).
    fn host_up(&mut self, _ip: IpAddr, _reason: Reason, _ttl: Option<u8>) -> io::Result<()> {
        Ok(())
    }
    /// A port answered (first answer, or an upgrade of an ICMP-filtered one).
    fn port(&mut self, _ip: IpAddr, _port: u16, _protocol: Protocol, _result: &PortResult) -> io::Result<()> {
        Ok(())
    }
    /// Host discovery (`-sn`) found no answer from this target.
    fn host_down(&mut self, _ip: IpAddr) -> io::Result<()> {
        Ok(())
    }
    /// After the scan, once per host to report.
    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()>;
    /// With `-O`, right after [`Sink::host`] for the same host.
    fn os(&mut self, _ip: IpAddr, _os: &OsReport<'_>) -> io::Result<()> {
        Ok(())
    }
    /// The reply that opened `port` on `ip` (every one, as they come).
    fn syn_ack(&mut self, _ip: IpAddr, _port: u16, _frame: &scry_packet::Frame) -> io::Result<()> {
        Ok(())
    }
    /// Without `-O`, right after [`Sink::host`] for the same host: the OS
    /// guess from its first SYN-ACK, `None` when it had no open port.
    fn os_quick(&mut self, _ip: IpAddr, _guess: Option<&QuickGuess<'_>>) -> io::Result<()> {
        Ok(())
    }
    /// Last; flushes.
    fn finish(&mut self, stats: &Stats) -> io::Result<()>;
}

/// Every output fed together. A sink whose write fails (a closed pipe, a
/// full disk) is left out from then on and its error kept, so the others
/// still get every result and their closing records; the caller stops the
/// scan when [`Fanout::failed`] says so and reports the error at the end.
pub struct Fanout<'a> {
    sinks: &'a mut [Box<dyn Sink>],
    dead: Vec<bool>,
    error: Option<io::Error>,
}

impl<'a> Fanout<'a> {
    pub fn new(sinks: &'a mut [Box<dyn Sink>]) -> Fanout<'a> {
        let dead = vec![false; sinks.len()];
        Fanout { sinks, dead, error: None }
    }

    /// Calls `f` on every sink still working.
    pub fn each(&mut self, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>) {
        for (sink, dead) in self.sinks.iter_mut().zip(self.dead.iter_mut()) {
            if *dead {
                continue;
            }
            if let Err(e) = f(sink.as_mut()) {
                *dead = true;
                self.error.get_or_insert(e);
            }
        }
    }

    /// Some output has failed.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The first failure, if any.
    pub fn into_result(self) -> io::Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

/// A state with more ports than this is summarised, not listed (as nmap does).
const MAX_SHOWN_PER_STATE: usize = 25;

/// Ports of one state that a report counts instead of listing ("Not shown",
/// `<extraports>`, grepable "Ignored State").
#[derive(Clone, Debug, PartialEq)]
pub struct Ignored {
    pub state: PortState,
    pub count: usize,
    /// The ports of this state by protocol and reason, in nmap's order
    /// ([`nmap_reason_order`]), ports ascending.
    pub reasons: Vec<(Protocol, &'static str, Vec<u16>)>,
}

/// How nmap lays out a host's ports: every state is listed port by port,
/// except those with more than 25 ports over all protocols (or, with
/// `--open`, every state but open), which are only counted. Open ports are
/// always listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Listed ports: every TCP port before any UDP port, each ascending, as
    /// nmap's port list iterates them (`PortList::nextPort`).
    pub listed: Vec<(u16, Protocol, PortResult)>,
    /// Counted states, most ports first, ties in nmap's state order
    /// (`PortList::nextIgnoredState`): closed, open, filtered, unfiltered,
    /// open|filtered, closed|filtered.
    pub ignored: Vec<Ignored>,
}

impl Layout {
    /// Lays out `report`'s scanned ports; unanswered ones are in its silent
    /// state (filtered, or open|filtered for UDP) for no-response.
    pub fn new(report: &HostReport<'_>, open_only: bool) -> Layout {
        let rows = report.tables.iter().flat_map(|table| {
            let silent = PortResult { state: table.silent_state(), reason: Reason::NoResponse, ttl: 0 };
            let answer = move |p: &u16| table.ports.get(p).copied().unwrap_or(silent);
            table.scanned.iter().map(move |p| (*p, table.protocol, answer(p)))
        });
        // Each state's reasons in the order they first appear, TCP ports first.
        type ByReason = Vec<((Protocol, &'static str), Vec<u16>)>;
        let mut by_state: BTreeMap<PortState, ByReason> = BTreeMap::new();
        for (port, protocol, r) in rows.clone() {
            let reasons = by_state.entry(r.state).or_default();
            let key = (protocol, r.reason.as_str());
            match reasons.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ports)) => ports.push(port),
                None => reasons.push((key, vec![port])),
            }
        }
        let count = |reasons: &ByReason| reasons.iter().map(|(_, ports)| ports.len()).sum::<usize>();
        let hidden = |state: PortState| {
            state != PortState::Open
                && ((open_only && !maybe_open(state)) || count(&by_state[&state]) > MAX_SHOWN_PER_STATE)
        };
        let listed = rows.filter(|(_, _, r)| !hidden(r.state)).collect();
        let mut ignored = by_state
            .iter()
            .filter(|(state, _)| hidden(**state))
            .map(|(state, reasons)| Ignored {
                state: *state,
                count: count(reasons),
                reasons: nmap_reason_order(
                    reasons.iter().map(|((proto, reason), ports)| (*proto, *reason, ports.clone())).collect(),
                ),
            })
            .collect::<Vec<Ignored>>();
        ignored.sort_by_key(|i| (std::cmp::Reverse(i.count), nmap_state_number(i.state)));
        Layout { listed, ignored }
    }

    /// The layout of a host to report: `None` when `--open` hides it (no
    /// port that may be open).
    pub fn reported(report: &HostReport<'_>, open_only: bool) -> Option<Layout> {
        let layout = Layout::new(report, open_only);
        let has_open = layout.listed.iter().any(|(_, _, r)| maybe_open(r.state))
            || layout.ignored.iter().any(|i| maybe_open(i.state));
        (has_open || !open_only).then_some(layout)
    }
}

/// A state's reasons in the order nmap prints them (`reason_sort` in its
/// portreasons.cc): most ports first, by the linked-list merge sort it
/// runs on the reasons in order of first appearance behind a head entry
/// of no ports. That sort is not stable: of two reasons with as many
/// ports, the later one often comes first (1 port each of admin-prohibited,
/// host-unreach and port-unreach, in port order, print in reverse).
fn nmap_reason_order<T>(
    reasons: Vec<(Protocol, &'static str, Vec<T>)>,
) -> Vec<(Protocol, &'static str, Vec<T>)> {
    // Indices into `reasons`, None for the head entry.
    let count = |i: &Option<usize>| i.map_or(0, |i| reasons[i].2.len());
    let mut list: Vec<Option<usize>> = std::iter::once(None).chain((0..reasons.len()).map(Some)).collect();
    let mut insize = 1;
    loop {
        let mut merged = Vec::with_capacity(list.len());
        let mut merges = 0;
        let mut start = 0;
        while start < list.len() {
            merges += 1;
            let middle = (start + insize).min(list.len());
            let end = (middle + insize).min(list.len());
            let (mut p, mut q) = (start, middle);
            while p < middle || q < end {
                // nmap takes from the second run unless its entry has fewer ports.
                let take_p = q == end || (p < middle && count(&list[q]) < count(&list[p]));
                if take_p {
                    merged.push(list[p]);
                    p += 1;
                } else {
                    merged.push(list[q]);
                    q += 1;
                }
            }
            start = end;
        }
        list = merged;
        if merges <= 1 {
            break;
        }
        insize *= 2;
    }
    let mut slots: Vec<Option<(Protocol, &'static str, Vec<T>)>> = reasons.into_iter().map(Some).collect();
    list.into_iter().flatten().filter_map(|i| slots[i].take()).collect()
}

/// nmap's number for a port state (its `PORT_CLOSED` ...), which orders
/// counted states with as many ports.
fn nmap_state_number(state: PortState) -> u8 {
    match state {
        PortState::Closed => 1,
        PortState::Open => 2,
        PortState::Filtered => 3,
        PortState::Unfiltered => 6,
        PortState::OpenFiltered => 7,
        PortState::ClosedFiltered => 8,
    }
}

/// The states `--open` shows, as nmap: those with open as a possibility
/// (open, open|filtered, and unfiltered, which an ACK scan cannot tell
/// from open); the others are only counted.
fn maybe_open(state: PortState) -> bool {
    matches!(state, PortState::Open | PortState::OpenFiltered | PortState::Unfiltered)
}

/// Ascending ports as nmap writes a port list: `1-21,23-24,26`.
pub fn port_ranges(ports: &[u16]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        while i + 1 < ports.len() && ports[i + 1] == ports[i].wrapping_add(1) && ports[i + 1] != 0 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        match ports[i] == start {
            true => out.push_str(&start.to_string()),
            false => out.push_str(&format!("{start}-{}", ports[i])),
        }
        i += 1;
    }
    out
}

/// Seconds since the Unix epoch.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A UTC calendar time, without a date crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

impl Civil {
    /// The UTC calendar time of `t` (civil-from-days, H. Hinnant).
    pub fn utc(t: SystemTime) -> Civil {
        let secs = unix_secs(t) as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7) as u32;
        let (hour, minute, second) = ((rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32);
        Civil { year, month, day, hour, minute, second, weekday }
    }

    /// `2026-11-26 16:30 UTC`, as the normal output's first line.
    pub fn short(self) -> String {
        format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", self.year, self.month, self.day, self.hour, self.minute)
    }

    /// `Thu Nov 26 16:30:00 2026`, C's ctime layout as nmap's XML and grepable output use it.
    pub fn ctime(self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday as usize],
            MONTHS[self.month as usize - 1],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(port_ranges(&[]), "");
        assert_eq!(port_ranges(&[80]), "80");
        assert_eq!(port_ranges(&[1, 2, 3, 5, 7, 8, 65534, 65535]), "1-3,5,7-8,65534-65535");
    }

    #[test]
    fn calendar_times() {
        let t = Civil::utc(UNIX_EPOCH);
        assert_eq!(
            (t.short(), t.ctime()),
            ("1970-01-01 00:00 UTC".into(), "Thu Jan  1 00:00:00 1970".into())
        );
        let t = Civil::utc(UNIX_EPOCH + Duration::from_secs(1_795_737_737));
        assert_eq!(
            (t.short(), t.ctime()),
            ("2026-11-27 00:02 UTC".into(), "Fri Nov 27 00:02:17 2026".into())
        );
    }

    #[test]
    fn layout_counts_big_states_and_keeps_open() {
        let mut ports: BTreeMap<u16, PortResult> = (1..=30)
            .map(|p| (p, PortResult { state: PortState::Closed, reason: Reason::Reset, ttl: 64 }))
            .collect();
        ports.insert(22, PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 });
        let scanned: Vec<u16> = (1..=32).collect();
        let ip = "198.18.0.10".parse().unwrap();
        let tables = [PortTable::new(Protocol::Tcp, &ports, &scanned)];
        let report = HostReport { ip, mac: None, up_reason: None, tables: &tables, services: &NO_SERVICES };
        let layout = Layout::new(&report, false);
        let listed: Vec<u16> = layout.listed.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(listed, [22, 31, 32]);
        let closed: Vec<u16> = (1..=21).chain(23..=30).collect();
        assert_eq!(
            layout.ignored,
            [Ignored {
                state: PortState::Closed,
                count: 29,
                reasons: vec![(Protocol::Tcp, "reset", closed)]
            }]
        );
        let open_only = Layout::reported(&report, true).unwrap();
        assert_eq!(open_only.listed.len(), 1);
        let empty = BTreeMap::new();
        let none_open = [PortTable { ports: &empty, ..tables[0] }];
        assert_eq!(Layout::reported(&HostReport { tables: &none_open, ..report }, true), None);
        assert_eq!(open_only.ignored.iter().map(|i| i.count).collect::<Vec<_>>(), [29, 2]);
    }

    #[test]
    fn layout_of_two_protocols_lists_tcp_first_and_counts_a_state_over_both() {
        let result = |state, reason| PortResult { state, reason, ttl: 64 };
        // 20 closed TCP ports and 10 closed UDP ports: 30 closed in all, so counted.
        let mut tcp: BTreeMap<u16, PortResult> =
            (100..120).map(|p| (p, result(PortState::Closed, Reason::Reset))).collect();
        tcp.insert(53, result(PortState::Open, Reason::SynAck));
        let mut udp: BTreeMap<u16, PortResult> =
            (200..210).map(|p| (p, result(PortState::Closed, Reason::Unreachable(3)))).collect();
        udp.insert(53, result(PortState::Open, Reason::UdpResponse));
        let tcp_scanned: Vec<u16> = [53].into_iter().chain(100..120).collect();
        let udp_scanned: Vec<u16> = [7, 53].into_iter().chain(200..210).collect();
        let tables = [
            PortTable::new(Protocol::Tcp, &tcp, &tcp_scanned),
            PortTable::new(Protocol::Udp, &udp, &udp_scanned),
        ];
        let report = HostReport {
            ip: "198.18.0.10".parse().unwrap(),
            mac: None,
            up_reason: None,
            tables: &tables,
            services: &NO_SERVICES,
        };
        assert_eq!(report.scanned_count(), 33);
        let layout = Layout::new(&report, false);
        let listed: Vec<(u16, Protocol)> = layout.listed.iter().map(|(p, proto, _)| (*p, *proto)).collect();
        assert_eq!(listed, [(53, Protocol::Tcp), (7, Protocol::Udp), (53, Protocol::Udp)]);
        assert_eq!(layout.listed[1].2.state, PortState::OpenFiltered);
        assert_eq!(
            layout.ignored,
            [Ignored {
                state: PortState::Closed,
                count: 30,
                reasons: vec![
                    (Protocol::Tcp, "reset", (100..120).collect()),
                    (Protocol::Udp, "port-unreach", (200..210).collect())
                ]
            }]
        );
    }

    /// nmap 7.93 prints `Not shown: 5 closed tcp ports (reset), 1 filtered tcp ports
    /// (port-unreach), 1 filtered tcp ports (host-unreach), 1 filtered tcp ports
    /// (admin-prohibited)` for admin-prohibited 25, host-unreach 26, port-unreach 113.
    #[test]
    fn reasons_of_a_state_in_nmaps_order() {
        let names = |reasons: &[(Protocol, &'static str, Vec<u16>)]| -> Vec<&'static str> {
            nmap_reason_order(reasons.to_vec()).iter().map(|(_, r, _)| *r).collect()
        };
        let tcp = |reason, ports: &[u16]| (Protocol::Tcp, reason, ports.to_vec());
        let ties = [tcp("admin-prohibited", &[25]), tcp("host-unreach", &[26]), tcp("port-unreach", &[113])];
        assert_eq!(names(&ties), ["port-unreach", "host-unreach", "admin-prohibited"]);
        let two = [tcp("admin-prohibited", &[25]), tcp("port-unreach", &[113])];
        assert_eq!(names(&two), ["port-unreach", "admin-prohibited"]);
        let most_first = [tcp("reset", &[1]), tcp("no-response", &[2, 3]), tcp("port-unreach", &[4, 5, 6])];
        assert_eq!(names(&most_first), ["port-unreach", "no-response", "reset"]);
        assert_eq!(names(&[tcp("reset", &[1, 2])]), ["reset"]);
        assert!(names(&[]).is_empty());
    }

    #[test]
    fn banners_are_escaped_and_service_info_lists_each_value_once() {
        assert_eq!(escape_bytes(b"SSH-2.0\r\n\t\\\x00\xff~"), "SSH-2.0\\r\\n\\t\\\\\\x00\\xff~");
        let with = |host: Option<&str>, os: &str, cpe_h: Option<&str>| {
            let mut r = scry_service::ServiceResult::excluded();
            r.info = scry_service::VersionInfo {
                hostname: host.map(Into::into),
                ostype: Some(os.into()),
                cpe_h: cpe_h.map(Into::into),
                cpe_a: Some("cpe:/a:x:y".into()),
                ..Default::default()
            };
            PortService { result: Some(r), ..PortService::default() }
        };
        let mut t = ServiceTable::new();
        t.insert((Protocol::Tcp, 21), with(Some("a"), "Unix", None));
        t.insert((Protocol::Tcp, 22), with(Some("a"), "Linux", Some("cpe:/h:v:p")));
        t.insert((Protocol::Udp, 53), with(Some("b"), "Linux", None));
        assert_eq!(service_info(&t).unwrap(), "Service Info: Hosts: a, b; OSs: Unix, Linux; CPE: cpe:/h:v:p");
        assert_eq!(service_info(&ServiceTable::new()), None);
        // Without -sV a name is never a guess; with it, a table name on an open port is.
        assert_eq!(PortService::shown_name(None, Some("ssh"), true, false), "ssh");
        assert_eq!(PortService::shown_name(None, Some("ssh"), true, true), "ssh?");
        assert_eq!(PortService::shown_name(None, Some("ssh"), false, true), "ssh");
        assert_eq!(PortService::shown_name(None, None, true, true), "unknown");
    }
}
