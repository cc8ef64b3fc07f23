//! nmap's XML output (`-oX`), valid against nmap's DTD (`nmap.dtd`) so that
//! the tools written for nmap read it: ndiff, python-libnmap, nmap.xsl.
//!
//! Elements, attributes and line breaks follow nmap 7.93's own output for a
//! SYN scan. Two things are fixed by the DTD rather than chosen: the root's
//! `scanner` attribute can only be `nmap` (`version` and `args` say scry),
//! and a host's children come in the order status, address, hostnames,
//! ports, then OS detection (`<os>`, written after `<ports>` once scry has
//! `-O`), then `<times>` (not written: scry keeps no per-host RTT).
//!
//! What is known early is written early and flushed: the header at `begin`,
//! a `<hosthint>` (as nmap writes one) when a host first answers, the full
//! `<host>` after the scan, `<runstats>` last, including after Ctrl-C.

use super::{
    escape_bytes, port_ranges, unix_secs, Civil, HostReport, Layout, OsReport, PortService, PortsUsed,
    ReportOptions, ScanInfo, ServiceTable, Sink, Stats,
};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesPI, BytesStart, BytesText, Event};
use quick_xml::Writer;
use scry_packet::Mac;
use scry_probe::services::{Protocol, Services};
use scry_probe::state::Reason;
use scry_probe::tcpscan::scanflags_names;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// The stylesheet that renders the XML as HTML (`xsltproc`, or a browser):
/// nmap's, where Debian's nmap package installs it.
pub const STYLESHEET: &str = "file:///usr/share/nmap/nmap.xsl";
/// nmap's stylesheet on nmap.org, for XML read on other machines (`--webxml`).
pub const WEB_STYLESHEET: &str = "https://svn.nmap.org/nmap/docs/nmap.xsl";
/// The version of nmap's XML format written (nmap 7.93's).
const XML_OUTPUT_VERSION: &str = "1.05";

/// Writes nmap XML to any writer.
pub struct Xml<W: Write> {
    xml: Writer<W>,
    services: Arc<Services>,
    options: ReportOptions,
    stylesheet: Option<String>,
    start: SystemTime,
    /// With `-O`, a `<host>` stays open for its `<os>` (see [`Sink::os`]).
    host_open: bool,
}

impl<W: Write> Xml<W> {
    pub fn new(out: W, services: Arc<Services>, options: ReportOptions) -> Self {
        let stylesheet = Some(STYLESHEET.to_owned());
        Xml {
            xml: Writer::new(out),
            services,
            options,
            stylesheet,
            start: SystemTime::UNIX_EPOCH,
            host_open: false,
        }
    }

    /// Names `stylesheet` (a path or URL) in the XML instead of nmap's, or none.
    pub fn with_stylesheet(mut self, stylesheet: Option<String>) -> Self {
        self.stylesheet = stylesheet;
        self
    }

    fn event<'a>(&mut self, event: impl Into<Event<'a>>) -> io::Result<()> {
        self.xml.write_event(event)
    }

    fn newline(&mut self) -> io::Result<()> {
        self.event(Event::Text(BytesText::new("\n")))
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.event(Event::Empty(BytesStart::new(name).with_attributes(attributes.iter().copied())))
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.event(Event::Start(BytesStart::new(name).with_attributes(attributes.iter().copied())))
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.xml.get_mut().flush()
    }

    /// `<status>`, `<address>`es and an empty `<hostnames>`, shared by `<hosthint>` and `<host>`.
    fn identity(
        &mut self,
        ip: IpAddr,
        mac: Option<Mac>,
        up_reason: Option<(Reason, Option<u8>)>,
    ) -> io::Result<()> {
        let (reason, ttl) = up_reason.map_or((Reason::UserSet, 0), |(r, ttl)| (r, ttl.unwrap_or(0)));
        let ttl = ttl.to_string();
        self.empty("status", &[("state", "up"), ("reason", reason.as_str()), ("reason_ttl", &ttl)])?;
        self.newline()?;
        let kind = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
        self.empty("address", &[("addr", &ip.to_string()), ("addrtype", kind)])?;
        self.newline()?;
        if let Some(mac) = mac {
            // nmap writes MACs in capitals.
            self.empty("address", &[("addr", &mac.to_string().to_uppercase()), ("addrtype", "mac")])?;
            self.newline()?;
        }
        self.open("hostnames", &[])?;
        self.newline()?;
        self.close("hostnames")?;
        self.newline()
    }

    /// nmap's `<service>`: the table's name (`method="table" conf="3"`) or
    /// what version detection found, with its CPEs; then `--banners` as
    /// `banner` and `ssl-cert` script elements.
    fn service(&mut self, table: &str, found: Option<&PortService>) -> io::Result<()> {
        let result = found.and_then(|f| f.result.as_ref());
        let fp = found.and_then(|f| f.fingerprint.as_deref());
        let conf = result.map_or(3, |r| r.confidence).to_string();
        let method = match result.map(|r| r.method) {
            Some(scry_service::Method::Probed) => "probed",
            _ => "table",
        };
        let name = result.and_then(|r| r.name.as_deref()).unwrap_or(table);
        let mut attributes: Vec<(&str, &str)> = vec![("name", name)];
        if let Some(r) = result {
            let fields = [
                ("product", &r.info.product),
                ("version", &r.info.version),
                ("extrainfo", &r.info.info),
                ("hostname", &r.info.hostname),
                ("ostype", &r.info.ostype),
                ("devicetype", &r.info.devicetype),
            ];
            attributes.extend(fields.iter().filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))));
        }
        attributes.extend(fp.map(|fp| ("servicefp", fp)));
        if result.is_some_and(|r| r.tunnel == scry_service::Tunnel::Ssl) {
            attributes.push(("tunnel", "ssl"));
        }
        attributes.extend([("method", method), ("conf", conf.as_str())]);
        let cpes = result.map(|r| r.cpes()).unwrap_or_default();
        if cpes.is_empty() {
            self.empty("service", &attributes)?;
        } else {
            self.open("service", &attributes)?;
            for cpe in cpes {
                self.open("cpe", &[])?;
                self.event(Event::Text(BytesText::new(cpe)))?;
                self.close("cpe")?;
            }
            self.close("service")?;
        }
        if let Some(banner) = found.and_then(|f| f.banner.as_ref()) {
            if !banner.bytes.is_empty() {
                self.empty("script", &[("id", "banner"), ("output", &escape_bytes(&banner.bytes))])?;
            }
            if let Some(c) = &banner.certificate {
                let output = format!(
                    "Subject: {}\nIssuer: {}\nNot valid before: {}\nNot valid after:  {}",
                    c.subject, c.issuer, c.not_before, c.not_after
                );
                self.empty("script", &[("id", "ssl-cert"), ("output", &output)])?;
            }
        }
        Ok(())
    }

    fn ports(&mut self, layout: &Layout, found: &ServiceTable) -> io::Result<()> {
        self.open("ports", &[])?;
        for ignored in &layout.ignored {
            let count = ignored.count.to_string();
            self.open("extraports", &[("state", ignored.state.as_str()), ("count", &count)])?;
            self.newline()?;
            for (protocol, reason, ports) in &ignored.reasons {
                let (n, list) = (ports.len().to_string(), port_ranges(ports));
                let attributes =
                    [("reason", *reason), ("count", &n), ("proto", protocol.as_str()), ("ports", &list)];
                self.empty("extrareasons", &attributes)?;
                self.newline()?;
            }
            self.close("extraports")?;
            self.newline()?;
        }
        for (port, protocol, r) in &layout.listed {
            let (id, ttl) = (port.to_string(), r.ttl.to_string());
            self.open("port", &[("protocol", protocol.as_str()), ("portid", &id)])?;
            self.empty(
                "state",
                &[("state", r.state.as_str()), ("reason", r.reason.as_str()), ("reason_ttl", &ttl)],
            )?;
            let services = Arc::clone(&self.services);
            let table = services.name(*port, *protocol).unwrap_or("unknown");
            self.service(table, found.get(&(*protocol, *port)))?;
            self.close("port")?;
            self.newline()?;
        }
        self.close("ports")?;
        self.newline()
    }
}

impl<W: Write> Xml<W> {
    /// nmap's `<os>`: the ports used, the matches with their classes and
    /// CPEs, and the fingerprint whenever normal output shows it.
    fn os_element(
        &mut self,
        result: &scry_os::OsResult,
        fingerprint: &scry_os::SubjectFingerprint,
        options: &scry_os::ReportOptions,
        used: &PortsUsed,
    ) -> io::Result<()> {
        self.open("os", &[])?;
        let ports = [
            ("open", "tcp", used.open_tcp),
            ("closed", "tcp", used.closed_tcp),
            ("closed", "udp", used.closed_udp),
        ];
        for (state, proto, port) in ports {
            if let Some(port) = port {
                self.empty("portused", &[("state", state), ("proto", proto), ("portid", &port.to_string())])?;
                self.newline()?;
            }
        }
        for m in scry_os::report::listed_matches(result, options) {
            let (accuracy, line) = (m.percent().to_string(), m.line.to_string());
            self.open("osmatch", &[("name", &m.name), ("accuracy", &accuracy), ("line", &line)])?;
            self.newline()?;
            for class in m.classes.iter() {
                let mut attributes = vec![
                    ("type", class.device_type.as_str()),
                    ("vendor", &class.vendor),
                    ("osfamily", &class.family),
                ];
                if let Some(generation) = &class.generation {
                    attributes.push(("osgen", generation));
                }
                attributes.push(("accuracy", &accuracy));
                // nmap writes each class, CPEs included, on one line.
                self.open("osclass", &attributes)?;
                for cpe in &class.cpe {
                    self.open("cpe", &[])?;
                    self.event(Event::Text(BytesText::new(&cpe.name)))?;
                    self.close("cpe")?;
                }
                self.close("osclass")?;
                self.newline()?;
            }
            self.close("osmatch")?;
            self.newline()?;
        }
        if let Some(shown) = scry_os::report::fingerprint_shown(result, options) {
            // One line, as nmap writes it: line breaks become character
            // references.
            let text = scry_os::report::fingerprint_text(fingerprint, shown);
            let text = quick_xml::escape::escape(text).replace('\n', "&#xa;");
            let mut element = BytesStart::new("osfingerprint");
            element.push_attribute(Attribute::from(("fingerprint".as_bytes(), text.as_bytes())));
            self.event(Event::Empty(element))?;
            self.newline()?;
        }
        self.close("os")?;
        self.newline()
    }
}

/// Text for an XML comment, which may not contain `--`.
fn comment_safe(text: &str) -> String {
    text.replace("--", "-&#45;")
}

impl<W: Write> Sink for Xml<W> {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.start = info.start;
        let version = env!("CARGO_PKG_VERSION");
        let startstr = Civil::utc(info.start).ctime();
        self.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        self.newline()?;
        self.event(Event::DocType(BytesText::from_escaped("nmaprun")))?;
        self.newline()?;
        if let Some(href) = self.stylesheet.clone() {
            let href = quick_xml::escape::escape(href.as_str());
            self.event(Event::PI(BytesPI::new(format!(r#"xml-stylesheet href="{href}" type="text/xsl""#))))?;
            self.newline()?;
        }
        let comment = format!(" scry {version} scan initiated {startstr} as: {} ", info.command_line);
        self.event(Event::Comment(BytesText::from_escaped(comment_safe(&comment))))?;
        self.newline()?;
        let start = unix_secs(info.start).to_string();
        self.open(
            "nmaprun",
            &[
                ("scanner", "nmap"),
                ("args", &info.command_line),
                ("start", &start),
                ("startstr", &startstr),
                ("version", version),
                ("xmloutputversion", XML_OUTPUT_VERSION),
            ],
        )?;
        self.newline()?;
        // One <scaninfo> per scan type, as nmap writes them (SYN before UDP);
        // -sn has none of its own and keeps an empty SYN one.
        let none = [(Protocol::Tcp, Vec::new())];
        let scans = if info.scans.is_empty() { &none[..] } else { &info.scans[..] };
        for (protocol, ports) in scans {
            let (count, services) = (ports.len().to_string(), port_ranges(ports));
            // nmap names the scan types syn, connect, fin, null, xmas, ack,
            // window, maimon and udp, and writes --scanflags on the TCP one.
            let kind = info.scan_type(*protocol);
            let flags = info.tcp.scanflags.filter(|_| *protocol == Protocol::Tcp).map(scanflags_names);
            let mut scaninfo = vec![("type", kind)];
            scaninfo.extend(flags.as_deref().map(|f| ("scanflags", f)));
            scaninfo.extend([
                ("protocol", protocol.as_str()),
                ("numservices", &count),
                ("services", &services),
            ]);
            self.empty("scaninfo", &scaninfo)?;
            self.newline()?;
        }
        self.empty("verbose", &[("level", &info.verbose.to_string())])?;
        self.newline()?;
        self.empty("debugging", &[("level", &info.debugging.to_string())])?;
        self.newline()?;
        self.flush()
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.open("hosthint", &[])?;
        self.identity(ip, None, Some((reason, ttl)))?;
        self.close("hosthint")?;
        self.newline()?;
        self.flush()
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let Some(layout) = Layout::reported(report, self.options.open_only) else {
            return Ok(());
        };
        // scry probes every host at once, so each host spans the whole scan.
        let (start, end) = (unix_secs(self.start).to_string(), unix_secs(SystemTime::now()).to_string());
        self.open("host", &[("starttime", &start), ("endtime", &end)])?;
        self.identity(report.ip, report.mac, report.up_reason)?;
        if !report.tables.is_empty() {
            // Host discovery only (-sn) has no <ports>, as nmap's.
            self.ports(&layout, report.services)?;
        }
        if self.options.os {
            self.host_open = true;
            return Ok(());
        }
        self.close("host")?;
        self.newline()?;
        self.flush()
    }

    fn os(&mut self, _ip: IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        if !std::mem::take(&mut self.host_open) {
            return Ok(());
        }
        if let OsReport::Done { result, fingerprint, options, distance, ports_used, .. } = os {
            self.os_element(result, fingerprint, options, ports_used)?;
            if let Some(d) = distance {
                self.empty("distance", &[("value", &d.to_string())])?;
                self.newline()?;
            }
        }
        self.close("host")?;
        self.newline()?;
        self.flush()
    }

    fn finish(&mut self, s: &Stats) -> io::Result<()> {
        let now = SystemTime::now();
        let timestr = Civil::utc(now).ctime();
        let elapsed = format!("{:.2}", s.duration.as_secs_f64());
        let summary = format!("scry done at {timestr}; {} scanned in {elapsed} seconds", s.hosts_summary(),);
        let time = unix_secs(now).to_string();
        self.open("runstats", &[])?;
        let mut finished = vec![
            ("time", time.as_str()),
            ("timestr", &timestr),
            ("summary", &summary),
            ("elapsed", &elapsed),
        ];
        if s.interrupted {
            // The scan was cut short: say so, as nmap does for a scan that did not finish.
            finished.extend([
                ("exit", "error"),
                ("errormsg", "interrupted; results are those found before the stop"),
            ]);
        } else {
            finished.push(("exit", "success"));
        }
        self.empty("finished", &finished)?;
        let (up, down, total) = (
            s.hosts_up.to_string(),
            s.hosts_scanned.saturating_sub(s.hosts_up).to_string(),
            s.hosts_scanned.to_string(),
        );
        self.empty("hosts", &[("up", &up), ("down", &down), ("total", &total)])?;
        self.newline()?;
        self.close("runstats")?;
        self.newline()?;
        self.close("nmaprun")?;
        self.newline()?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn header(stylesheet: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let sink = Xml::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default());
        let mut sink = sink.with_stylesheet(stylesheet.map(str::to_owned));
        let info = ScanInfo {
            skipped_broadcast: Vec::new(),
            start: UNIX_EPOCH,
            command_line: "scry".into(),
            hosts: 1,
            scans: vec![(Protocol::Tcp, vec![22])],
            tcp: Default::default(),
            connect: false,
            verbose: 0,
            debugging: 0,
        };
        sink.begin(&info).unwrap();
        String::from_utf8(out).unwrap().lines().take(3).map(str::to_owned).collect()
    }

    #[test]
    fn stylesheet_named_escaped_or_left_out() {
        assert_eq!(header(Some("a\"b.xsl"))[2], r#"<?xml-stylesheet href="a&quot;b.xsl" type="text/xsl"?>"#);
        assert_eq!(header(None)[2], "<!-- scry 0.1.0 scan initiated Thu Jan  1 00:00:00 1970 as: scry -->");
    }

    #[test]
    fn header_escapes_the_command_line_and_interruption_is_an_error() {
        let mut out = Vec::new();
        let mut sink = Xml::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default());
        let info = ScanInfo {
            skipped_broadcast: Vec::new(),
            start: UNIX_EPOCH + Duration::from_secs(1_795_737_737),
            command_line: r#"scry --exclude "a&b" -p 22,80 198.18.0.10"#.into(),
            hosts: 1,
            scans: vec![(Protocol::Tcp, vec![22, 80])],
            tcp: Default::default(),
            connect: false,
            verbose: 1,
            debugging: 2,
        };
        sink.begin(&info).unwrap();
        sink.finish(&Stats { interrupted: true, hosts_scanned: 1, ..Stats::default() }).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[3],
            r#"<!-- scry 0.1.0 scan initiated Fri Nov 27 00:02:17 2026 as: scry -&#45;exclude "a&b" -p 22,80 198.18.0.10 -->"#
        );
        assert_eq!(
            lines[4],
            r#"<nmaprun scanner="nmap" args="scry --exclude &quot;a&amp;b&quot; -p 22,80 198.18.0.10" start="1795737737" startstr="Fri Nov 27 00:02:17 2026" version="0.1.0" xmloutputversion="1.05">"#
        );
        assert_eq!(lines[5], r#"<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>"#);
        assert_eq!(lines[6], r#"<verbose level="1"/>"#);
        assert_eq!(lines[7], r#"<debugging level="2"/>"#);
        assert!(lines[8].contains(r#" exit="error" errormsg="interrupted; results are those found before the stop"/><hosts up="0" down="1" total="1"/>"#), "{text}");
        assert_eq!(lines[9..], ["</runstats>", "</nmaprun>"]);
    }

    /// `-sF --scanflags URGPSHFIN -sU`: nmap's type names, its scanflags on the TCP line only,
    /// and a FIN scan's silent ports open|filtered.
    #[test]
    fn scan_types_and_scanflags_in_scaninfo() {
        use crate::output::PortTable;
        use scry_probe::results::PortResult;
        use scry_probe::state::PortState;
        use scry_probe::tcpscan::{TcpScan, TcpScanSpec};
        use std::collections::BTreeMap;
        let mut out = Vec::new();
        let mut sink =
            Xml::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default()).with_stylesheet(None);
        let info = ScanInfo {
            skipped_broadcast: Vec::new(),
            start: UNIX_EPOCH,
            command_line: "scry".into(),
            hosts: 1,
            scans: vec![(Protocol::Tcp, vec![22, 23]), (Protocol::Udp, vec![53])],
            tcp: TcpScanSpec { scan: TcpScan::Fin, scanflags: Some(scry_packet::TcpFlags(0x29)) },
            connect: false,
            verbose: 0,
            debugging: 0,
        };
        sink.begin(&info).unwrap();
        let closed = PortResult { state: PortState::Closed, reason: Reason::Reset, ttl: 64 };
        let tcp: BTreeMap<u16, PortResult> = [(23, closed)].into();
        let none = BTreeMap::new();
        let fin = PortTable {
            silent: TcpScan::Fin.silent_state(),
            ..PortTable::new(Protocol::Tcp, &tcp, &[22, 23])
        };
        let tables = [fin, PortTable::new(Protocol::Udp, &none, &[53])];
        let report = HostReport {
            ip: "198.18.0.10".parse().unwrap(),
            mac: None,
            up_reason: Some((Reason::Reset, Some(64))),
            tables: &tables,
            services: &crate::output::NO_SERVICES,
        };
        sink.host(&report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[4],
            r#"<scaninfo type="fin" scanflags="FINPSHURG" protocol="tcp" numservices="2" services="22-23"/>"#
        );
        assert_eq!(lines[5], r#"<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>"#);
        assert!(
            text.contains(r#"<port protocol="tcp" portid="22"><state state="open|filtered" reason="no-response" reason_ttl="0"/>"#),
            "{text}"
        );
        let ack = ScanInfo { tcp: TcpScanSpec { scan: TcpScan::Ack, scanflags: None }, ..info };
        let mut out = Vec::new();
        let mut sink =
            Xml::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default()).with_stylesheet(None);
        sink.begin(&ack).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#"<scaninfo type="ack" protocol="tcp" numservices="2" services="22-23"/>"#),
            "{text}"
        );
    }

    #[test]
    fn two_protocols_scaninfo_extraports_and_ports() {
        use crate::output::PortTable;
        use scry_probe::results::PortResult;
        use scry_probe::state::PortState;
        use std::collections::BTreeMap;
        let mut out = Vec::new();
        let mut sink =
            Xml::new(&mut out, Arc::new(Services::builtin()), ReportOptions::default()).with_stylesheet(None);
        let udp_ports: Vec<u16> = (1..=30).chain([53]).collect();
        let info = ScanInfo {
            skipped_broadcast: Vec::new(),
            start: UNIX_EPOCH,
            command_line: "scry".into(),
            hosts: 1,
            scans: vec![(Protocol::Tcp, vec![22, 53]), (Protocol::Udp, udp_ports.clone())],
            tcp: Default::default(),
            connect: false,
            verbose: 0,
            debugging: 0,
        };
        sink.begin(&info).unwrap();
        let result = |state, reason| PortResult { state, reason, ttl: 64 };
        let tcp: BTreeMap<u16, PortResult> =
            [(22, result(PortState::Open, Reason::SynAck)), (53, result(PortState::Closed, Reason::Reset))]
                .into();
        let udp: BTreeMap<u16, PortResult> = [(53, result(PortState::Open, Reason::UdpResponse))].into();
        let tables =
            [PortTable::new(Protocol::Tcp, &tcp, &[22, 53]), PortTable::new(Protocol::Udp, &udp, &udp_ports)];
        let ip = "198.18.0.10".parse().unwrap();
        sink.host(&HostReport {
            ip,
            mac: None,
            up_reason: Some((Reason::SynAck, Some(64))),
            tables: &tables,
            services: &crate::output::NO_SERVICES,
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[4], r#"<scaninfo type="syn" protocol="tcp" numservices="2" services="22,53"/>"#);
        assert_eq!(lines[5], r#"<scaninfo type="udp" protocol="udp" numservices="31" services="1-30,53"/>"#);
        let ports: Vec<&str> = lines.iter().skip_while(|l| !l.starts_with("<ports>")).copied().collect();
        assert_eq!(
            ports[..6],
            [
                r#"<ports><extraports state="open|filtered" count="30">"#,
                r#"<extrareasons reason="no-response" count="30" proto="udp" ports="1-30"/>"#,
                r#"</extraports>"#,
                r#"<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>"#,
                r#"<port protocol="tcp" portid="53"><state state="closed" reason="reset" reason_ttl="64"/><service name="domain" method="table" conf="3"/></port>"#,
                r#"<port protocol="udp" portid="53"><state state="open" reason="udp-response" reason_ttl="64"/><service name="domain" method="table" conf="3"/></port>"#,
            ]
        );
    }
}
