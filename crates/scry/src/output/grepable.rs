//! nmap's grepable output (`-oG`): one line per fact, tab-separated fields,
//! so that `grep 22/open` finds the hosts with SSH open.
//!
//! A host's `Status: Up` line is written (and flushed) as soon as it first
//! answers; its `Ports:` line once the scan is over and its table complete.
//! With `--open` both wait for the end, where hosts without an open port are
//! left out. As in nmap, `Ignored State:` appears only when exactly one
//! state is counted rather than listed.

use super::{
    port_ranges, Civil, HostReport, Layout, OsReport, PortService, ReportOptions, ScanInfo, Sink, Stats,
};
use scry_probe::services::{Protocol, Services};
use scry_probe::state::Reason;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// Writes nmap grepable output to any writer.
pub struct Grepable<W: Write> {
    out: W,
    services: Arc<Services>,
    options: ReportOptions,
    /// With `-O`, a host's `Ports:` line waits for its OS fields.
    line_open: bool,
}

impl<W: Write> Grepable<W> {
    pub fn new(out: W, services: Arc<Services>, options: ReportOptions) -> Self {
        Grepable { out, services, options, line_open: false }
    }

    fn status(&mut self, ip: IpAddr) -> io::Result<()> {
        // The parentheses hold the host name; scry does no reverse lookups.
        writeln!(self.out, "Host: {ip} ()\tStatus: Up")
    }
}

/// A field of a port entry: nmap replaces `/` (the separator) with `|`.
fn field(text: &str) -> String {
    text.replace('/', "|")
}

impl<W: Write> Sink for Grepable<W> {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        let started = Civil::utc(info.start).ctime();
        writeln!(
            self.out,
            "# scry {} scan initiated {started} as: {}",
            env!("CARGO_PKG_VERSION"),
            info.command_line
        )?;
        if self.options.verbose && !info.scans.is_empty() {
            writeln!(self.out, "{}", ports_scanned(info))?;
        }
        self.out.flush()
    }

    fn host_up(&mut self, ip: IpAddr, _reason: Reason, _ttl: Option<u8>) -> io::Result<()> {
        if self.options.open_only {
            return Ok(());
        }
        self.status(ip)?;
        self.out.flush()
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let Some(layout) = Layout::reported(report, self.options.open_only) else {
            return Ok(());
        };
        if self.options.open_only || report.up_reason.is_none() {
            self.status(report.ip)?;
        }
        if report.tables.is_empty() {
            // Host discovery only (-sn): the status line is the whole record.
            return self.out.flush();
        }
        let entries: Vec<String> = layout
            .listed
            .iter()
            .map(|(port, proto, r)| {
                let found = report.services.get(&(*proto, *port));
                let table = self.services.name(*port, *proto);
                let open = r.state == scry_probe::state::PortState::Open;
                let name = PortService::shown_name(found, table, open, self.options.version);
                let version = found.map(PortService::version_text).unwrap_or_default();
                // port/state/protocol/owner/service/rpc info/version/
                format!("{port}/{}/{proto}//{}//{}/", r.state.as_str(), field(&name), field(&version))
            })
            .collect();
        write!(self.out, "Host: {} ()\tPorts: {}", report.ip, entries.join(", "))?;
        if let [only] = layout.ignored.as_slice() {
            write!(self.out, "\tIgnored State: {} ({})", only.state.as_str(), only.count)?;
        }
        if self.options.os {
            self.line_open = true;
            return Ok(());
        }
        writeln!(self.out)?;
        self.out.flush()
    }

    fn os(&mut self, _ip: IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        if !std::mem::take(&mut self.line_open) {
            return Ok(());
        }
        if let OsReport::Done { result, sequence, options, .. } = os {
            write!(self.out, "{}", os_fields(result, *sequence, options))?;
        }
        writeln!(self.out)?;
        self.out.flush()
    }

    fn finish(&mut self, s: &Stats) -> io::Result<()> {
        if s.interrupted {
            writeln!(self.out, "# scry was interrupted; results above are those found before the stop.")?;
        }
        writeln!(
            self.out,
            "# scry done at {} -- {} scanned in {:.2} seconds",
            Civil::utc(SystemTime::now()).ctime(),
            s.hosts_summary(),
            s.duration.as_secs_f64()
        )?;
        self.out.flush()
    }
}

/// nmap's `-v` header line: `# Ports scanned: TCP(2;22,80) UDP(0;) SCTP(0;) PROTOCOLS(0;)`.
fn ports_scanned(info: &ScanInfo) -> String {
    let of = |protocol: Protocol| {
        let ports = info.scans.iter().find(|(p, _)| *p == protocol).map_or(&[][..], |(_, ports)| ports);
        format!("{}({};{})", protocol.as_str().to_uppercase(), ports.len(), port_ranges(ports))
    };
    format!(
        "# Ports scanned: {} {} {} PROTOCOLS(0;)",
        of(Protocol::Tcp),
        of(Protocol::Udp),
        of(Protocol::Sctp)
    )
}

/// nmap's OS fields of a `Ports:` line: `OS:` with the perfect matches,
/// `Seq Index:` (`seq`'s `SP`, in decimal) and `IP ID Seq:` (its `TI`).
fn os_fields(
    result: &scry_os::OsResult,
    seq: Option<&scry_os::SubjectTest>,
    options: &scry_os::ReportOptions,
) -> String {
    let mut out = String::new();
    if result.perfect > 0 {
        let names: Vec<&str> =
            scry_os::report::listed_matches(result, options).iter().map(|m| &*m.name).collect();
        if !names.is_empty() {
            out += &format!("\tOS: {}", names.join(" | "));
        }
    }
    if let Some(index) = seq.and_then(|t| t.get("SP")).and_then(|sp| u32::from_str_radix(sp, 16).ok()) {
        out += &format!("\tSeq Index: {index}");
    }
    // TI=I also stands for nmap's "Incrementing by 2", which prints as
    // incremental here.
    let ipid = match seq.and_then(|t| t.get("TI")) {
        Some("Z") => Some("All zeros"),
        Some("I") => Some("Incremental"),
        Some("BI") => Some("Broken little-endian incremental"),
        Some("RI") => Some("Random positive increments"),
        Some("RD") => Some("Randomized"),
        Some(_) => Some("Duplicated ipid (!)"),
        None => None,
    };
    if let Some(ipid) = ipid {
        out += &format!("\tIP ID Seq: {ipid}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::PortTable;
    use scry_probe::results::PortResult;
    use scry_probe::state::PortState;
    use std::collections::BTreeMap;

    fn render(
        table: &BTreeMap<u16, PortResult>,
        scanned: &[u16],
        up_reason: Option<(Reason, Option<u8>)>,
    ) -> String {
        let mut out = Vec::new();
        let mut sink = Grepable::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default());
        let ip = "198.18.0.10".parse().unwrap();
        let tables = [PortTable::new(Protocol::Tcp, table, scanned)];
        sink.host(&HostReport {
            ip,
            mac: None,
            up_reason,
            tables: &tables,
            services: &crate::output::NO_SERVICES,
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ports_line_lists_and_counts_as_nmap() {
        let closed = PortResult { state: PortState::Closed, reason: Reason::Reset, ttl: 64 };
        let mut table: BTreeMap<u16, PortResult> = (1..=100).map(|p| (p, closed)).collect();
        table.insert(22, PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 });
        let scanned: Vec<u16> = (1..=101).collect();
        let text = render(&table, &scanned, Some((Reason::SynAck, Some(64))));
        assert_eq!(
            text,
            "Host: 198.18.0.10 ()\tPorts: 22/open/tcp//ssh///, 101/filtered/tcp//unknown///\tIgnored State: closed (99)\n"
        );
    }

    #[test]
    fn open_only_reports_hosts_with_an_open_port_and_nothing_live() {
        let mut out = Vec::new();
        let options = ReportOptions { open_only: true, ..ReportOptions::default() };
        let mut sink = Grepable::new(&mut out, Arc::new(Services::builtin()), options);
        let (a, b) = ("198.18.0.10".parse().unwrap(), "198.18.0.11".parse().unwrap());
        sink.host_up(a, Reason::SynAck, Some(64)).unwrap();
        sink.host_up(b, Reason::Reset, Some(64)).unwrap();
        let open: BTreeMap<u16, PortResult> =
            [(22, PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 })].into();
        let closed: BTreeMap<u16, PortResult> =
            [(22, PortResult { state: PortState::Closed, reason: Reason::Reset, ttl: 64 })].into();
        let up = Some((Reason::SynAck, Some(64)));
        let tables = |ports| [PortTable::new(Protocol::Tcp, ports, &[22, 23])];
        sink.host(&HostReport {
            ip: a,
            mac: None,
            up_reason: up,
            tables: &tables(&open),
            services: &crate::output::NO_SERVICES,
        })
        .unwrap();
        sink.host(&HostReport {
            ip: b,
            mac: None,
            up_reason: up,
            tables: &tables(&closed),
            services: &crate::output::NO_SERVICES,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Host: 198.18.0.10 ()\tStatus: Up\nHost: 198.18.0.10 ()\tPorts: 22/open/tcp//ssh///\tIgnored State: filtered (1)\n"
        );
    }

    /// The sequence fields come from the SEQ test given (the last try's),
    /// not from the printed fingerprint.
    #[test]
    fn os_fields_read_the_given_seq_test() {
        let result =
            scry_os::OsResult { status: scry_os::MatchStatus::NoMatches, matches: Vec::new(), perfect: 0 };
        let seq = scry_os::SubjectTest::new("SEQ", [("SP", "105"), ("GCD", "1"), ("TI", "Z")]);
        assert_eq!(
            os_fields(&result, Some(&seq), &scry_os::ReportOptions::default()),
            "\tSeq Index: 261\tIP ID Seq: All zeros"
        );
        assert_eq!(os_fields(&result, None, &scry_os::ReportOptions::default()), "");
    }

    #[test]
    fn silent_host_gets_its_status_line_at_the_end() {
        let scanned: Vec<u16> = (1..=30).collect();
        let text = render(&BTreeMap::new(), &scanned, None);
        assert_eq!(
            text,
            "Host: 198.18.0.10 ()\tStatus: Up\nHost: 198.18.0.10 ()\tPorts: \tIgnored State: filtered (30)\n"
        );
    }

    #[test]
    fn two_protocols_on_one_ports_line_and_the_scanned_header() {
        let open = |reason| PortResult { state: PortState::Open, reason, ttl: 64 };
        let tcp: BTreeMap<u16, PortResult> = [(22, open(Reason::SynAck))].into();
        let udp: BTreeMap<u16, PortResult> = [(53, open(Reason::UdpResponse))].into();
        let tables =
            [PortTable::new(Protocol::Tcp, &tcp, &[22, 80]), PortTable::new(Protocol::Udp, &udp, &[53, 161])];
        let mut out = Vec::new();
        let options = ReportOptions { verbose: true, ..ReportOptions::default() };
        let mut sink = Grepable::new(&mut out, Arc::new(Services::builtin()), options);
        let info = ScanInfo {
            skipped_broadcast: Vec::new(),
            start: std::time::UNIX_EPOCH,
            command_line: "scry -sS -sU".into(),
            hosts: 1,
            scans: vec![(Protocol::Tcp, vec![22, 80]), (Protocol::Udp, vec![53, 161])],
            tcp: Default::default(),
            connect: false,
            verbose: 1,
            debugging: 0,
        };
        sink.begin(&info).unwrap();
        let up = Some((Reason::SynAck, Some(64)));
        sink.host(&HostReport {
            ip: "198.18.0.10".parse().unwrap(),
            mac: None,
            up_reason: up,
            tables: &tables,
            services: &crate::output::NO_SERVICES,
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "# Ports scanned: TCP(2;22,80) UDP(2;53,161) SCTP(0;) PROTOCOLS(0;)");
        assert_eq!(
            lines[2],
            "Host: 198.18.0.10 ()\tPorts: 22/open/tcp//ssh///, 80/filtered/tcp//http///, \
             53/open/udp//domain///, 161/open|filtered/udp//snmp///"
        );
    }
}
