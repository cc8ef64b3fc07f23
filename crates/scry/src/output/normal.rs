//! nmap's "normal" output: a report per host, a summary line at the end.

use super::{
    escape_bytes, Banner, Civil, HostReport, Layout, OsReport, PortService, QuickGuess, ReportOptions,
    ScanInfo, ServiceTable, Sink, Stats,
};
use scry_probe::results::PortResult;
use scry_probe::services::{Protocol, Services};
use scry_probe::state::{PortState, Reason};
use std::io::{self, Write};
use std::sync::Arc;

/// Writes nmap-style normal output.
pub struct Normal<W: Write> {
    out: W,
    services: Arc<Services>,
    options: ReportOptions,
    /// The last host's report was printed (not left out by --open).
    printed: bool,
    /// The last host's `Service Info:` line, printed after its OS lines.
    service_info: Option<String>,
    /// Only a connect scan (`-sT`) ran: no raw packet and no capture to count.
    connect_only: bool,
}

impl<W: Write> Normal<W> {
    pub fn new(out: W, services: Arc<Services>, options: ReportOptions) -> Self {
        Normal { out, services, options, printed: false, service_info: None, connect_only: false }
    }
}

impl<W: Write> Sink for Normal<W> {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.connect_only = info.connect && info.scans.iter().all(|(p, _)| *p == Protocol::Tcp);
        writeln!(
            self.out,
            "Starting scry {} at {}",
            env!("CARGO_PKG_VERSION"),
            Civil::utc(info.start).short()
        )?;
        if let Some(skipped) = skipped_note(&info.skipped_broadcast) {
            writeln!(self.out, "{skipped}")?;
        }
        self.out.flush()
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let Some(layout) = Layout::reported(report, self.options.open_only) else {
            self.printed = false;
            return Ok(());
        };
        self.printed = true;
        writeln!(self.out, "scry scan report for {}", report.ip)?;
        match report.up_reason {
            Some((reason, Some(ttl))) => writeln!(self.out, "Host is up, received {reason} (ttl {ttl}).")?,
            Some((reason, None)) => writeln!(self.out, "Host is up, received {reason}.")?,
            None => writeln!(self.out, "Host is up, received user-set.")?,
        }
        if report.tables.is_empty() {
            // Host discovery only (-sn): no port table.
            writeln!(self.out)?;
            return self.out.flush();
        }
        if layout.listed.is_empty() {
            writeln!(
                self.out,
                "All {} scanned ports on {} are in ignored states.",
                report.scanned_count(),
                report.ip
            )?;
        }
        let not_shown: Vec<String> = layout
            .ignored
            .iter()
            .flat_map(|i| {
                i.reasons.iter().map(move |(proto, reason, ports)| (i.state, proto, reason, ports.len()))
            })
            .map(|(state, proto, reason, n)| format!("{n} {state} {proto} ports ({reason})"))
            .collect();
        if !not_shown.is_empty() {
            writeln!(self.out, "Not shown: {}", not_shown.join(", "))?;
        }
        if !layout.listed.is_empty() {
            self.table(&layout.listed, report.services)?;
            self.fingerprints(&layout.listed, report.services)?;
        }
        // nmap prints the Service Info line after the OS lines.
        self.service_info = if self.options.version { super::service_info(report.services) } else { None };
        if self.options.os || self.options.os_guess {
            // The OS lines and the blank line come with `os` or `os_quick`.
            return Ok(());
        }
        self.end_host()
    }

    fn os(&mut self, _ip: std::net::IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        if !self.printed {
            return Ok(());
        }
        if let OsReport::Done { result, fingerprint, options, distance, .. } = os {
            let lines = scry_os::report::os_lines(result, options);
            for line in &lines {
                writeln!(self.out, "{line}")?;
            }
            if let Some(shown) = scry_os::report::fingerprint_shown(result, options) {
                writeln!(self.out, "TCP/IP fingerprint:")?;
                write!(self.out, "{}", scry_os::report::fingerprint_text(fingerprint, shown))?;
                writeln!(self.out)?;
            }
            match distance {
                Some(1) => writeln!(self.out, "Network Distance: 1 hop")?,
                Some(d) => writeln!(self.out, "Network Distance: {d} hops")?,
                None => {}
            }
        }
        self.end_host()
    }

    fn os_quick(&mut self, _ip: std::net::IpAddr, guess: Option<&QuickGuess<'_>>) -> io::Result<()> {
        if !self.printed {
            return Ok(());
        }
        let summary = guess.map(QuickGuess::summary).unwrap_or_default();
        if let (Some(guess), false) = (guess, summary.is_empty()) {
            let from = guess.from;
            writeln!(self.out, "OS guess from one SYN-ACK ({from}/tcp; -O for OS detection): {summary}")?;
        }
        self.end_host()
    }

    fn finish(&mut self, s: &Stats) -> io::Result<()> {
        if s.interrupted {
            writeln!(self.out, "scry was interrupted; results above are those found before the stop.")?;
        }
        writeln!(
            self.out,
            "scry done: {} scanned in {:.2} seconds",
            s.hosts_summary(),
            s.duration.as_secs_f64()
        )?;
        if self.options.verbose && self.connect_only {
            writeln!(
                self.out,
                "           Connections tried: {} | Answered: {} valid, {} duplicates",
                s.sent, s.received, s.duplicates
            )?;
        } else if self.options.verbose {
            // Indented under the summary, as nmap prints its packet counts.
            writeln!(
                self.out,
                "           Raw packets sent: {} ({} send errors) | Rcvd: {} valid, {} rejected, {} duplicates",
                s.sent, s.send_errors, s.received, s.rejected, s.duplicates
            )?;
            writeln!(
                self.out,
                "           Dropped by libpcap: {} (by the interface: {})",
                s.capture_dropped, s.interface_dropped
            )?;
        }
        self.out.flush()
    }
}

impl<W: Write> Normal<W> {
    /// The blank line that ends a host, after its Service Info line.
    fn end_host(&mut self) -> io::Result<()> {
        if let Some(line) = self.service_info.take() {
            writeln!(self.out, "{line}")?;
        }
        writeln!(self.out)?;
        self.out.flush()
    }

    /// nmap's columns, each as wide as its widest cell but the last:
    /// PORT, STATE, SERVICE, then REASON with --reason and VERSION with -sV.
    fn table(&mut self, rows: &[(u16, Protocol, PortResult)], found: &ServiceTable) -> io::Result<()> {
        let mut header = vec!["PORT".to_string(), "STATE".into(), "SERVICE".into()];
        if self.options.reason {
            header.push("REASON".into());
        }
        if self.options.version {
            header.push("VERSION".into());
        }
        let mut cells = vec![header];
        for (port, proto, r) in rows {
            let service = found.get(&(*proto, *port));
            let table = self.services.name(*port, *proto);
            let open = r.state == PortState::Open;
            let mut row = vec![
                format!("{port}/{proto}"),
                r.state.as_str().to_string(),
                PortService::shown_name(service, table, open, self.options.version),
            ];
            if self.options.reason {
                row.push(match r.reason {
                    // Nothing came back, or a connect scan's kernel took the
                    // reply: no TTL to show (nmap prints none).
                    Reason::NoResponse => r.reason.to_string(),
                    _ if r.ttl == 0 => r.reason.to_string(),
                    _ => format!("{} ttl {}", r.reason, r.ttl),
                });
            }
            if self.options.version {
                row.push(service.map(PortService::version_text).unwrap_or_default());
            }
            cells.push(row);
        }
        let columns = cells[0].len();
        let widths: Vec<usize> =
            (0..columns).map(|c| cells.iter().map(|row| row[c].len()).max().unwrap_or(0)).collect();
        for (i, row) in cells.iter().enumerate() {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:w$} ", w = widths[c]));
                }
            }
            writeln!(self.out, "{}", line.trim_end())?;
            if i > 0 {
                let (port, proto, _) = &rows[i - 1];
                if let Some(banner) = found.get(&(*proto, *port)).and_then(|s| s.banner.as_ref()) {
                    self.banner(banner)?;
                }
            }
        }
        Ok(())
    }

    /// `--banners`: the bytes and the certificate under the port's row, as
    /// nmap prints script output.
    fn banner(&mut self, banner: &Banner) -> io::Result<()> {
        let mut lines = Vec::new();
        if !banner.bytes.is_empty() {
            lines.push(format!("banner: {}", escape_bytes(&banner.bytes)));
        }
        if let Some(c) = &banner.certificate {
            lines.push(format!(
                "tls-cert: Subject: {}; Issuer: {}; Not valid before: {}; Not valid after: {}",
                c.subject, c.issuer, c.not_before, c.not_after
            ));
        }
        let n = lines.len();
        for (i, line) in lines.iter().enumerate() {
            writeln!(self.out, "{}{line}", if i + 1 == n { "|_" } else { "| " })?;
        }
        Ok(())
    }

    /// The fingerprints of services that answered but matched nothing, as nmap asks for them.
    fn fingerprints(&mut self, rows: &[(u16, Protocol, PortResult)], found: &ServiceTable) -> io::Result<()> {
        let fps: Vec<&str> = rows
            .iter()
            .filter_map(|(port, proto, _)| found.get(&(*proto, *port)))
            .filter_map(|s| s.fingerprint.as_deref())
            .collect();
        if fps.is_empty() {
            return Ok(());
        }
        let n = fps.len();
        let (what, these) = if n == 1 { ("service", "") } else { ("services", "s") };
        writeln!(
            self.out,
            "{n} {what} unrecognized despite returning data. If you know the service/version, please \
             submit the following fingerprint{these} at https://nmap.org/cgi-bin/submit.cgi?new-service :"
        )?;
        for fp in fps {
            writeln!(self.out, "==============NEXT SERVICE FINGERPRINT (SUBMIT INDIVIDUALLY)==============")?;
            writeln!(self.out, "{fp}")?;
        }
        Ok(())
    }
}

/// The line that says which broadcast addresses of the target ranges were
/// left out, and why; none when none were.
fn skipped_note(skipped: &[std::net::Ipv4Addr]) -> Option<String> {
    const NAMED: usize = 8;
    let (first, n) = (skipped.first()?, skipped.len());
    let mut named: Vec<String> = skipped.iter().take(NAMED).map(ToString::to_string).collect();
    if n > NAMED {
        named.push(format!("and {} more", n - NAMED));
    }
    let what = if n == 1 {
        format!("1 broadcast address ({first})")
    } else {
        format!("{n} broadcast addresses ({})", named.join(", "))
    };
    Some(format!(
        "Skipping {what} of the target ranges: a broadcast address reaches every host of its link, not one."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::PortTable;
    use scry_probe::state::PortState;
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    type Row = (u16, PortState, Reason);

    fn table(ports: &[Row]) -> BTreeMap<u16, PortResult> {
        ports.iter().map(|&(p, state, reason)| (p, PortResult { state, reason, ttl: 64 })).collect()
    }

    fn render_tables(tables: &[PortTable<'_>], open_only: bool) -> String {
        let mut out = Vec::new();
        let options = ReportOptions { open_only, ..ReportOptions::default() };
        let mut sink = Normal::new(&mut out, Arc::new(Services::builtin()), options);
        let ip: IpAddr = "198.18.0.10".parse().unwrap();
        let report = HostReport {
            ip,
            mac: None,
            up_reason: Some((Reason::SynAck, Some(64))),
            tables,
            services: &crate::output::NO_SERVICES,
        };
        sink.host(&report).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render(ports: &[Row], scanned: &[u16], open_only: bool) -> String {
        let ports = table(ports);
        render_tables(&[PortTable::new(Protocol::Tcp, &ports, scanned)], open_only)
    }

    /// The reasons of a counted state as nmap orders them: most ports first.
    #[test]
    fn two_protocols_in_one_table_tcp_first_with_a_state_counted_over_both() {
        let tcp = table(&[(22, PortState::Open, Reason::SynAck), (53, PortState::Closed, Reason::Reset)]);
        let mut udp_rows = vec![(53, PortState::Open, Reason::UdpResponse)];
        udp_rows.extend((1000..1030).map(|p| (p, PortState::Closed, Reason::Unreachable(3))));
        let udp = table(&udp_rows);
        let udp_scanned: Vec<u16> = [53, 161].into_iter().chain(1000..1030).collect();
        let tables = [
            PortTable::new(Protocol::Tcp, &tcp, &[22, 53, 80]),
            PortTable::new(Protocol::Udp, &udp, &udp_scanned),
        ];
        assert_eq!(
            render_tables(&tables, false),
            "scry scan report for 198.18.0.10\nHost is up, received syn-ack (ttl 64).\n\
             Not shown: 30 closed udp ports (port-unreach), 1 closed tcp ports (reset)\n\
             PORT    STATE         SERVICE\n\
             22/tcp  open          ssh\n\
             80/tcp  filtered      http\n\
             53/udp  open          domain\n\
             161/udp open|filtered snmp\n\n"
        );
    }

    #[test]
    fn closed_majority_is_summarised() {
        let mut ports = vec![(22, PortState::Open, Reason::SynAck), (443, PortState::Open, Reason::SynAck)];
        ports.extend((1000..1030).map(|p| (p, PortState::Closed, Reason::Reset)));
        let scanned: Vec<u16> = ports.iter().map(|p| p.0).collect();
        let text = render(&ports, &scanned, false);
        assert_eq!(
            text,
            "scry scan report for 198.18.0.10\nHost is up, received syn-ack (ttl 64).\n\
             Not shown: 30 closed tcp ports (reset)\nPORT    STATE SERVICE\n22/tcp  open  ssh\n443/tcp open  https\n\n"
        );
    }

    #[test]
    fn few_silent_ports_are_listed_as_filtered() {
        let ports =
            [(22, PortState::Open, Reason::SynAck), (25, PortState::Filtered, Reason::Unreachable(13))];
        let text = render(&ports, &[22, 23, 25], false);
        assert!(text.contains("23/tcp filtered telnet\n25/tcp filtered smtp\n"), "{text}");
        assert!(!text.contains("Not shown"), "{text}");
    }

    #[test]
    fn all_ignored() {
        let ports: Vec<_> = (1..=100).map(|p| (p, PortState::Closed, Reason::Reset)).collect();
        let scanned: Vec<u16> = (1..=100).collect();
        let text = render(&ports, &scanned, false);
        assert!(text.contains("All 100 scanned ports on 198.18.0.10 are in ignored states.\nNot shown: 100 closed tcp ports (reset)\n"), "{text}");
    }

    /// A probed service for the tests.
    pub(crate) fn matched(
        name: &str,
        product: &str,
        version: &str,
        tunnel: scry_service::Tunnel,
    ) -> PortService {
        let info = scry_service::VersionInfo {
            product: Some(product.into()),
            version: Some(version.into()),
            info: Some("protocol 2.0".into()),
            ostype: Some("Linux".into()),
            cpe_o: Some("cpe:/o:linux:linux_kernel".into()),
            ..Default::default()
        };
        let mut result = scry_service::ServiceResult::excluded();
        result.outcome = scry_service::Outcome::HardMatched;
        result.name = Some(name.into());
        result.info = info;
        result.tunnel = tunnel;
        result.method = scry_service::Method::Probed;
        result.confidence = 10;
        PortService { result: Some(result), ..PortService::default() }
    }

    #[test]
    fn version_column_ssl_names_guesses_banners_and_service_info() {
        let ports = table(&[
            (22, PortState::Open, Reason::SynAck),
            (443, PortState::Open, Reason::SynAck),
            (8080, PortState::Open, Reason::SynAck),
        ]);
        let mut found = ServiceTable::new();
        found.insert((Protocol::Tcp, 22), matched("ssh", "OpenSSH", "9.2p1", scry_service::Tunnel::None));
        found.insert((Protocol::Tcp, 443), matched("http", "nginx", "1.22.1", scry_service::Tunnel::Ssl));
        let mut unsure = PortService {
            result: Some(scry_service::ServiceResult::excluded()),
            banner: Some(Banner { bytes: b"hi\r\n\x01".to_vec(), certificate: None }),
            ..PortService::default()
        };
        unsure.result.as_mut().unwrap().info = scry_service::VersionInfo::default();
        found.insert((Protocol::Tcp, 8080), unsure);
        let mut out = Vec::new();
        let options = ReportOptions { version: true, ..ReportOptions::default() };
        let mut sink = Normal::new(&mut out, Arc::new(Services::builtin()), options);
        let scanned = [22, 443, 8080];
        let tables = [PortTable::new(Protocol::Tcp, &ports, &scanned)];
        let report = HostReport {
            ip: "198.18.0.10".parse().unwrap(),
            mac: None,
            up_reason: Some((Reason::SynAck, Some(64))),
            tables: &tables,
            services: &found,
        };
        sink.host(&report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let table: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            table,
            [
                "PORT     STATE SERVICE     VERSION",
                "22/tcp   open  ssh         OpenSSH 9.2p1 (protocol 2.0)",
                "443/tcp  open  ssl/http    nginx 1.22.1 (protocol 2.0)",
                "8080/tcp open  http-proxy?",
                "|_banner: hi\\r\\n\\x01",
                "Service Info: OS: Linux; CPE: cpe:/o:linux:linux_kernel",
                "",
            ]
        );
    }
}
