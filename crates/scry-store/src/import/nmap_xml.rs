//! nmap's XML output (`-oX`, nmap.dtd), as nmap and scry write it.
//!
//! Read: `<nmaprun>` (scanner, args, start, version), each `<scaninfo>`
//! (scan type, protocol, the ports as nmap's `services` list), each
//! `<host>` (status, IP and MAC addresses, ports with state, reason,
//! reason_ttl, service name, product, version, extrainfo, CPEs and a
//! `banner` script's output; OS matches, fingerprint and distance), and
//! `<runstats>` (end time, hosts up and total). A file without
//! `<finished>` is a scan cut short: `interrupted`.

use super::{everywhere, line_column, ImportError, ImportedScan};
use crate::model::*;
use crate::ports::{parse_protocol, parse_ranges, parse_state};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The host being read.
#[derive(Default)]
struct Host {
    ip: Option<IpAddr>,
    mac: Option<String>,
    hostname: Option<String>,
    status: Option<(HostStatus, String, Option<u8>)>,
    ports: Vec<PortObservation>,
    os_matches: Vec<OsMatchRow>,
    fingerprint: Option<String>,
    distance: Option<u8>,
    seen: Option<SystemTime>,
}

struct Parser<'t> {
    file: &'t str,
    text: &'t str,
    reader: Reader<&'t [u8]>,
    /// Byte offset of the element being read.
    at: usize,
}

impl Parser<'_> {
    fn error(&self, problem: impl Into<String>) -> ImportError {
        let (line, column) = line_column(self.text, self.at);
        ImportError { file: self.file.to_owned(), line, column, problem: problem.into() }
    }

    /// The attribute `name` of `e`, unescaped.
    fn attr(&self, e: &BytesStart<'_>, name: &str) -> Result<Option<String>, ImportError> {
        for a in e.attributes() {
            let a = a.map_err(|err| self.error(format!("bad attribute: {err}")))?;
            if a.key.as_ref() == name.as_bytes() {
                let v =
                    a.unescape_value().map_err(|err| self.error(format!("bad attribute {name}: {err}")))?;
                return Ok(Some(v.into_owned()));
            }
        }
        Ok(None)
    }

    fn required(&self, e: &BytesStart<'_>, name: &str) -> Result<String, ImportError> {
        let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        self.attr(e, name)?.ok_or_else(|| self.error(format!("<{tag}> has no {name} attribute")))
    }

    fn number<T: std::str::FromStr>(&self, e: &BytesStart<'_>, name: &str) -> Result<Option<T>, ImportError> {
        match self.attr(e, name)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| self.error(format!("bad {name} {v:?}"))),
        }
    }
}

fn time(secs: u64) -> SystemTime {
    super::after_epoch(Duration::from_secs(secs))
}

/// Reads nmap XML `text` (from `file`, named in errors).
///
/// # Errors
/// [`ImportError`] at the first element that is not nmap's XML.
pub fn read(file: &str, text: &str) -> Result<ImportedScan, ImportError> {
    let mut p = Parser { file, text, reader: Reader::from_str(text), at: 0 };
    let mut scan =
        NewScan { scope: Scope::default(), args: String::new(), version: String::new(), started: UNIX_EPOCH };
    scan.scope.shard = (1, 1);
    scan.scope.ranges = everywhere();
    let mut saw_nmaprun = false;
    let mut observations = Vec::new();
    let mut stats = ScanStats::default();
    let (mut ended, mut finished) = (None, false);
    let mut host: Option<Host> = None;
    // Inside a <port> (its state, service, cpe and script) and a <cpe>.
    let (mut in_port, mut in_cpe) = (false, false);
    loop {
        p.at = p.reader.buffer_position() as usize;
        let event = p.reader.read_event().map_err(|e| {
            p.at = p.reader.error_position() as usize;
            p.error(format!("not well-formed XML: {e}"))
        })?;
        let (e, closed) = match &event {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::Text(t) if in_cpe && in_port => {
                let cpe = t.unescape().map_err(|err| p.error(format!("bad text: {err}")))?.trim().to_owned();
                if let Some(port) = host.as_mut().and_then(|h| h.ports.last_mut()) {
                    port.service.cpe.push(cpe);
                }
                continue;
            }
            Event::End(e) => {
                match e.name().as_ref() {
                    b"host" => {
                        if let Some(h) = host.take() {
                            finish_host(&p, h, scan.started, &mut observations)?;
                        }
                    }
                    b"cpe" => in_cpe = false,
                    b"port" => in_port = false,
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.name().as_ref() {
            b"nmaprun" => {
                saw_nmaprun = true;
                scan.args = p.attr(&e, "args")?.unwrap_or_default();
                let scanner = p.attr(&e, "scanner")?.unwrap_or_else(|| "nmap".into());
                let version = p.attr(&e, "version")?.unwrap_or_default();
                scan.version = format!("{scanner} {version}").trim().to_owned();
                scan.started = time(p.number(&e, "start")?.unwrap_or(0));
            }
            _ if !saw_nmaprun => return Err(p.error("not nmap XML: the first element is not <nmaprun>")),
            b"scaninfo" => {
                let kind = p.required(&e, "type")?;
                let proto = p.required(&e, "protocol")?;
                let protocol =
                    parse_protocol(&proto).ok_or_else(|| p.error(format!("unknown protocol {proto:?}")))?;
                let services = p.attr(&e, "services")?.unwrap_or_default();
                let ports = parse_ranges(&services)
                    .ok_or_else(|| p.error(format!("bad services list {services:?}")))?;
                scan.scope.scan_types.push(kind);
                match scan.scope.ports.iter_mut().find(|(p, _)| *p == protocol) {
                    Some((_, list)) => {
                        list.extend(ports);
                        list.sort_unstable();
                        list.dedup();
                    }
                    None => scan.scope.ports.push((protocol, ports)),
                }
            }
            b"host" => {
                let seen = p.number(&e, "endtime")?.or(p.number(&e, "starttime")?).map(time);
                host = Some(Host { seen, ..Host::default() });
                if closed {
                    finish_host(&p, host.take().expect("just set"), scan.started, &mut observations)?;
                }
            }
            b"status" if host.is_some() => {
                let state = p.required(&e, "state")?;
                let status = match state.as_str() {
                    "up" => HostStatus::Up,
                    "down" => HostStatus::Down,
                    _ => return Err(p.error(format!("unknown host state {state:?}"))),
                };
                let reason = p.attr(&e, "reason")?.unwrap_or_else(|| "unknown".into());
                let ttl = p.number::<u8>(&e, "reason_ttl")?.filter(|t| *t > 0);
                host.as_mut().expect("checked").status = Some((status, reason, ttl));
            }
            b"address" if host.is_some() => {
                let addr = p.required(&e, "addr")?;
                let h = host.as_mut().expect("checked");
                match p.attr(&e, "addrtype")?.as_deref() {
                    Some("mac") => h.mac = Some(addr),
                    _ => h.ip = Some(addr.parse().map_err(|_| p.error(format!("bad address {addr:?}")))?),
                }
            }
            b"hostname" if host.is_some() => {
                let name = p.required(&e, "name")?;
                host.as_mut().expect("checked").hostname.get_or_insert(name);
            }
            b"port" if host.is_some() => {
                let proto = p.required(&e, "protocol")?;
                let protocol =
                    parse_protocol(&proto).ok_or_else(|| p.error(format!("unknown protocol {proto:?}")))?;
                let port =
                    p.number(&e, "portid")?.ok_or_else(|| p.error("<port> has no portid attribute"))?;
                in_port = !closed;
                let h = host.as_mut().expect("checked");
                h.ports.push(PortObservation {
                    ip: IpAddr::from([0u8; 4]),
                    protocol,
                    port,
                    state: scry_probe::state::PortState::Filtered,
                    reason: "unknown".into(),
                    ttl: None,
                    service: Service::default(),
                    seen: h.seen.unwrap_or(scan.started),
                });
            }
            b"state" if in_port => {
                let word = p.required(&e, "state")?;
                let state =
                    parse_state(&word).ok_or_else(|| p.error(format!("unknown port state {word:?}")))?;
                let reason = p.attr(&e, "reason")?.unwrap_or_else(|| "unknown".into());
                let ttl = p.number::<u8>(&e, "reason_ttl")?.filter(|t| *t > 0);
                if let Some(port) = host.as_mut().and_then(|h| h.ports.last_mut()) {
                    (port.state, port.reason, port.ttl) = (state, reason, ttl);
                }
            }
            b"service" if in_port => {
                let fields = [
                    p.attr(&e, "name")?,
                    p.attr(&e, "product")?,
                    p.attr(&e, "version")?,
                    p.attr(&e, "extrainfo")?,
                ];
                if let Some(port) = host.as_mut().and_then(|h| h.ports.last_mut()) {
                    let s = &mut port.service;
                    [s.name, s.product, s.version, s.extrainfo] = fields;
                }
            }
            b"cpe" if in_port && !closed => in_cpe = true,
            b"script" if in_port => {
                let (id, output) = (p.attr(&e, "id")?, p.attr(&e, "output")?);
                let port = host.as_mut().and_then(|h| h.ports.last_mut());
                if let (Some("banner"), Some(port)) = (id.as_deref(), port) {
                    port.service.banner = output;
                }
            }
            b"osmatch" if host.is_some() => {
                let name = p.required(&e, "name")?;
                let accuracy =
                    p.number(&e, "accuracy")?.ok_or_else(|| p.error("<osmatch> has no accuracy"))?;
                host.as_mut().expect("checked").os_matches.push(OsMatchRow { name, accuracy });
            }
            b"osfingerprint" if host.is_some() => {
                host.as_mut().expect("checked").fingerprint = Some(p.required(&e, "fingerprint")?);
            }
            b"distance" if host.is_some() => {
                host.as_mut().expect("checked").distance = p.number(&e, "value")?;
            }
            b"finished" => {
                finished = p.attr(&e, "exit")?.as_deref() != Some("error");
                ended = p.number(&e, "time")?.map(time);
            }
            b"hosts" if host.is_none() => {
                stats.hosts_up = p.number(&e, "up")?.unwrap_or(0);
                stats.hosts_scanned = p.number(&e, "total")?.unwrap_or(0);
            }
            _ => {}
        }
    }
    if !saw_nmaprun {
        p.at = 0;
        return Err(p.error("not nmap XML: no <nmaprun> element"));
    }
    let status = if finished && host.is_none() { ScanStatus::Complete } else { ScanStatus::Interrupted };
    Ok(ImportedScan { scan, status, ended, stats, observations })
}

/// Turns a closed `<host>` into observations.
fn finish_host(
    p: &Parser<'_>,
    h: Host,
    started: SystemTime,
    out: &mut Vec<Observation>,
) -> Result<(), ImportError> {
    let ip = h.ip.ok_or_else(|| p.error("<host> has no IPv4 or IPv6 address"))?;
    let seen = h.seen.unwrap_or(started);
    let (status, reason, ttl) = h.status.unwrap_or((HostStatus::Up, "unknown".into(), None));
    out.push(Observation::Host(HostObservation {
        ip,
        status,
        reason,
        ttl,
        mac: h.mac,
        hostname: h.hostname,
        seen,
    }));
    out.extend(h.ports.into_iter().map(|port| Observation::Port(PortObservation { ip, ..port })));
    if !h.os_matches.is_empty() || h.fingerprint.is_some() {
        out.push(Observation::Os(OsObservation {
            ip,
            matches: h.os_matches,
            fingerprint: h.fingerprint,
            distance: h.distance,
            details: None,
            seen,
        }));
    }
    Ok(())
}
