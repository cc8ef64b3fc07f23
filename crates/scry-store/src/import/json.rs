//! JSON results: masscan's `-oJ` (a JSON array of one-port records) and
//! scry's own JSON Lines (`-oJ`, docs/output.md).
//!
//! masscan writes `[`, then one record a line, each after the first led by
//! a comma, and `]` when it ends: a file without the `]` is a scan cut
//! short. A record is `{"ip", "timestamp", "ports": [{"port", "proto",
//! "status", "reason", "ttl"}]}`, or with `"service": {"name", "banner"}`
//! in place of the status for a banner, which is merged into the port's
//! record. Neither format lists the ports scanned, so an imported scan
//! scanned every port of each protocol it reports.

use super::{after_epoch, everywhere, line_column, seconds, ImportError, ImportedScan};
use crate::model::*;
use crate::ports::{parse_protocol, parse_state};
use scry_probe::services::Protocol;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Error builder for one file.
struct At<'t> {
    file: &'t str,
    text: &'t str,
}

impl At<'_> {
    fn error(&self, offset: usize, problem: impl Into<String>) -> ImportError {
        let (line, column) = line_column(self.text, offset);
        ImportError { file: self.file.to_owned(), line, column, problem: problem.into() }
    }

    /// A serde_json error in the value that starts at `offset`.
    fn json(&self, offset: usize, e: &serde_json::Error) -> ImportError {
        let (line, column) = line_column(self.text, offset);
        let (line, column) = if e.line() <= 1 {
            (line, column + e.column().saturating_sub(1))
        } else {
            (line + e.line() - 1, e.column())
        };
        let problem = format!("not JSON: {e}").split(" at line ").next().unwrap_or_default().to_owned();
        ImportError { file: self.file.to_owned(), line, column, problem }
    }
}

fn text_field<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn ttl_field(v: &Value) -> Option<u8> {
    v.get("ttl").and_then(Value::as_u64).and_then(|t| u8::try_from(t).ok()).filter(|t| *t > 0)
}

/// Observations being gathered: one host record per address, one port
/// record per (address, protocol, port), later records merged in.
#[derive(Default)]
struct Gathered {
    hosts: BTreeMap<IpAddr, HostObservation>,
    ports: BTreeMap<(IpAddr, Protocol, u16), PortObservation>,
    os: Vec<OsObservation>,
    rest: Vec<RestObservation>,
    protocols: BTreeSet<Protocol>,
}

impl Gathered {
    fn port(&mut self, p: PortObservation) {
        self.protocols.insert(p.protocol);
        self.ports.insert((p.ip, p.protocol, p.port), p);
    }

    fn into_scan(
        self,
        mut scan: NewScan,
        status: ScanStatus,
        ended: Option<SystemTime>,
        stats: ScanStats,
    ) -> ImportedScan {
        scan.scope.ranges = everywhere();
        scan.scope.shard = (1, 1);
        scan.scope.ports = self.protocols.iter().map(|p| (*p, (1..=u16::MAX).collect())).collect();
        let mut observations: Vec<Observation> = Vec::new();
        for (ip, host) in self.hosts {
            observations.push(Observation::Host(host));
            let ports = self.ports.range((ip, Protocol::Tcp, 0)..=(ip, Protocol::Sctp, u16::MAX));
            observations.extend(ports.map(|(_, p)| Observation::Port(p.clone())));
        }
        observations.extend(self.os.into_iter().map(Observation::Os));
        observations.extend(self.rest.into_iter().map(Observation::Rest));
        ImportedScan { scan, status, ended, stats, observations }
    }
}

/// Reads masscan's JSON `text` (from `file`, named in errors).
///
/// # Errors
/// [`ImportError`] at the first record that is not masscan's.
pub fn read_masscan(file: &str, text: &str) -> Result<ImportedScan, ImportError> {
    let at = At { file, text };
    let skip = |pos: usize| pos + text[pos..].len() - text[pos..].trim_start().len();
    let mut pos = skip(0);
    if !text[pos..].starts_with('[') {
        return Err(at.error(pos, "not masscan JSON: it does not start with ["));
    }
    pos += 1;
    let mut g = Gathered::default();
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut closed = false;
    loop {
        pos = skip(pos);
        if text[pos..].starts_with(']') {
            closed = true;
            break;
        }
        if pos == text.len() {
            break;
        }
        if text[pos..].starts_with(',') {
            pos = skip(pos + 1);
        }
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
        let record = match stream.next() {
            Some(Ok(v)) => v,
            // A record cut off by the end of the file: the scan stopped there.
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(e)) => return Err(at.json(pos, &e)),
            None => break,
        };
        let start = pos;
        pos += stream.byte_offset();
        let ip: IpAddr = text_field(&record, "ip")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| at.error(start, "record has no \"ip\" address"))?;
        let stamp: u64 = text_field(&record, "timestamp").and_then(|s| s.parse().ok()).unwrap_or(0);
        (first, last) = (first.min(stamp), last.max(stamp));
        let seen = after_epoch(Duration::from_secs(stamp));
        let ports = record.get("ports").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        for p in ports {
            let number = p.get("port").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok());
            let number = number.ok_or_else(|| at.error(start, "port record has no valid \"port\""))?;
            let proto = text_field(p, "proto").unwrap_or("tcp");
            let protocol =
                parse_protocol(proto).ok_or_else(|| at.error(start, format!("unknown proto {proto:?}")))?;
            let key = (ip, protocol, number);
            if let Some(service) = p.get("service") {
                // A banner: merged into the port's record (open, since it talked).
                let entry = g.ports.entry(key).or_insert_with(|| PortObservation {
                    ip,
                    protocol,
                    port: number,
                    state: scry_probe::state::PortState::Open,
                    reason: "syn-ack".into(),
                    ttl: None,
                    service: Service::default(),
                    seen,
                });
                entry.service.name =
                    text_field(service, "name").map(str::to_owned).or(entry.service.name.take());
                entry.service.banner = text_field(service, "banner").map(str::to_owned);
                g.protocols.insert(protocol);
                continue;
            }
            let word = text_field(p, "status").unwrap_or_default();
            let state =
                parse_state(word).ok_or_else(|| at.error(start, format!("unknown status {word:?}")))?;
            let reason = text_field(p, "reason").unwrap_or("unknown").to_owned();
            let service = g.ports.get(&key).map(|old| old.service.clone()).unwrap_or_default();
            g.hosts.entry(ip).or_insert_with(|| HostObservation {
                ip,
                status: HostStatus::Up,
                reason: reason.clone(),
                ttl: ttl_field(p),
                mac: None,
                hostname: None,
                seen,
            });
            g.port(PortObservation {
                ip,
                protocol,
                port: number,
                state,
                reason,
                ttl: ttl_field(p),
                service,
                seen,
            });
        }
    }
    // Banner-only hosts still answered.
    for p in g.ports.values() {
        g.hosts.entry(p.ip).or_insert_with(|| HostObservation {
            ip: p.ip,
            status: HostStatus::Up,
            reason: p.reason.clone(),
            ttl: p.ttl,
            mac: None,
            hostname: None,
            seen: p.seen,
        });
    }
    let started = after_epoch(Duration::from_secs(if first == u64::MAX { 0 } else { first }));
    let ended = (last > 0).then(|| after_epoch(Duration::from_secs(last)));
    let stats = ScanStats { hosts_scanned: 0, hosts_up: g.hosts.len() as u64, counters: BTreeMap::new() };
    let scan = NewScan {
        scope: Scope { scan_types: vec!["syn".into()], ..Scope::default() },
        args: String::new(),
        version: "masscan".into(),
        started,
    };
    let status = if closed { ScanStatus::Complete } else { ScanStatus::Interrupted };
    Ok(g.into_scan(scan, status, ended, stats))
}

/// One of scry's JSON Lines records, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum ScryRecord {
    /// `begin`: the scan's command line, version and start (its scope is
    /// not in the record).
    Begin(NewScan),
    /// `host`, `port`, `service` or `os`.
    Observation(Observation),
    /// `stats`: the counters, how long the scan ran and whether it was cut short.
    Stats { stats: ScanStats, duration: Duration, interrupted: bool },
    /// `os_quick` and records of later versions: not stored.
    Other,
}

/// Decodes scry's JSON Lines one record at a time, as a scan writes them
/// (for recording a scan live) or as a file holds them (for import).
///
/// A `service` record (version detection, banners) carries no reason or
/// TTL; the decoder keeps them from the port's own record, for open and
/// open|filtered ports only (the only ones a service record can follow),
/// so the service does not overwrite them.
#[derive(Default)]
pub struct ScryDecoder {
    answered: std::collections::HashMap<(IpAddr, Protocol, u16), (String, Option<u8>)>,
}

/// A `port` record, read without building a JSON tree: most lines of a
/// scan are these, and a scan being recorded decodes every one.
#[derive(serde::Deserialize)]
struct PortLine<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    ip: &'a str,
    port: u16,
    proto: Option<&'a str>,
    state: &'a str,
    reason: Option<&'a str>,
    ttl: Option<u64>,
    service: Option<&'a str>,
}

impl ScryDecoder {
    /// Decodes one line of text (`seen` stamps its observation).
    ///
    /// # Errors
    /// The problem: the line is not JSON, or not one of scry's records.
    pub fn decode_line(&mut self, line: &str, seen: SystemTime) -> Result<ScryRecord, String> {
        // A string with an escape does not borrow: such a line takes the general way.
        if let Ok(p) = serde_json::from_str::<PortLine<'_>>(line) {
            if p.kind == "port" {
                let ip: IpAddr = p.ip.parse().map_err(|_| "record has no \"ip\" address".to_owned())?;
                let proto = p.proto.unwrap_or("tcp");
                let protocol = parse_protocol(proto).ok_or_else(|| format!("unknown proto {proto:?}"))?;
                return self.port((ip, protocol, p.port), &p, seen);
            }
        }
        let record: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        self.decode(&record, line, seen)
    }

    /// A `port` record's observation; keeps the reason and TTL of open ports
    /// for the `service` record that may follow.
    fn port(
        &mut self,
        (ip, protocol, port): (IpAddr, Protocol, u16),
        p: &PortLine<'_>,
        seen: SystemTime,
    ) -> Result<ScryRecord, String> {
        let state = parse_state(p.state).ok_or_else(|| format!("unknown state {:?}", p.state))?;
        let reason = p.reason.unwrap_or("unknown").to_owned();
        let ttl = p.ttl.and_then(|t| u8::try_from(t).ok()).filter(|t| *t > 0);
        if matches!(state, scry_probe::state::PortState::Open | scry_probe::state::PortState::OpenFiltered) {
            self.answered.insert((ip, protocol, port), (reason.clone(), ttl));
        }
        let name = p.service.filter(|s| *s != "unknown").map(str::to_owned);
        Ok(ScryRecord::Observation(Observation::Port(PortObservation {
            ip,
            protocol,
            port,
            state,
            reason,
            ttl,
            service: Service { name, ..Service::default() },
            seen,
        })))
    }

    /// Decodes one line (`seen` stamps its observation).
    ///
    /// # Errors
    /// The problem, without a position: the caller knows the line.
    pub fn decode(&mut self, record: &Value, line: &str, seen: SystemTime) -> Result<ScryRecord, String> {
        let ip = || -> Result<IpAddr, String> {
            text_field(record, "ip")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "record has no \"ip\" address".into())
        };
        let port_key = || -> Result<(IpAddr, Protocol, u16), String> {
            let number = record.get("port").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok());
            let number = number.ok_or_else(|| {
                format!("{} record has no valid \"port\"", text_field(record, "type").unwrap_or_default())
            })?;
            let proto = text_field(record, "proto").unwrap_or("tcp");
            let protocol = parse_protocol(proto).ok_or_else(|| format!("unknown proto {proto:?}"))?;
            Ok((ip()?, protocol, number))
        };
        let text = |key: &str| text_field(record, key).map(str::to_owned);
        Ok(match text_field(record, "type").unwrap_or_default() {
            "begin" => {
                let secs = record.get("start").and_then(Value::as_f64).unwrap_or(0.0);
                ScryRecord::Begin(NewScan {
                    scope: Scope::default(),
                    args: text("args").unwrap_or_default(),
                    version: text("version").unwrap_or_default(),
                    started: after_epoch(seconds(secs)),
                })
            }
            "host" => {
                let status = if text_field(record, "state") == Some("down") {
                    HostStatus::Down
                } else {
                    HostStatus::Up
                };
                ScryRecord::Observation(Observation::Host(HostObservation {
                    ip: ip()?,
                    status,
                    reason: text("reason").unwrap_or_else(|| "unknown".into()),
                    ttl: ttl_field(record),
                    mac: None,
                    hostname: None,
                    seen,
                }))
            }
            "port" => {
                let (ip, protocol, port) = port_key()?;
                let line = PortLine {
                    kind: "port",
                    ip: "",
                    port,
                    proto: None,
                    state: text_field(record, "state").unwrap_or_default(),
                    reason: text_field(record, "reason"),
                    ttl: record.get("ttl").and_then(Value::as_u64),
                    service: text_field(record, "service"),
                };
                self.port((ip, protocol, port), &line, seen)?
            }
            "service" => {
                let (ip, protocol, port) = port_key()?;
                let word = text_field(record, "state").unwrap_or_default();
                let state = parse_state(word).ok_or_else(|| format!("unknown state {word:?}"))?;
                let (reason, ttl) = self
                    .answered
                    .get(&(ip, protocol, port))
                    .cloned()
                    .unwrap_or_else(|| ("no-response".into(), None));
                let cpe = record.get("cpe").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                let service = Service {
                    name: text("name").filter(|n| n != "unknown"),
                    product: text("product"),
                    version: text("version"),
                    extrainfo: text("extrainfo"),
                    banner: text("banner"),
                    cpe: cpe.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                };
                ScryRecord::Observation(Observation::Port(PortObservation {
                    ip,
                    protocol,
                    port,
                    state,
                    reason,
                    ttl,
                    service,
                    seen,
                }))
            }
            "os" => {
                let matches = record.get("matches").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                let matches = matches
                    .iter()
                    .filter_map(|m| {
                        let name = text_field(m, "name")?.to_owned();
                        let accuracy =
                            m.get("accuracy").and_then(Value::as_u64).and_then(|a| u8::try_from(a).ok())?;
                        Some(OsMatchRow { name, accuracy })
                    })
                    .collect();
                ScryRecord::Observation(Observation::Os(OsObservation {
                    ip: ip()?,
                    matches,
                    fingerprint: text("fingerprint"),
                    distance: record
                        .get("distance")
                        .and_then(Value::as_u64)
                        .and_then(|d| u8::try_from(d).ok()),
                    details: Some(line.trim_end().to_owned()),
                    seen,
                }))
            }
            "rest" => {
                let ip = ip()?;
                let proto = text_field(record, "proto").unwrap_or("tcp");
                let protocol = parse_protocol(proto).ok_or_else(|| format!("unknown proto {proto:?}"))?;
                let word = text_field(record, "state").unwrap_or_default();
                let state = parse_state(word).ok_or_else(|| format!("unknown state {word:?}"))?;
                let count =
                    record.get("count").and_then(Value::as_u64).ok_or("rest record has no \"count\"")?;
                ScryRecord::Observation(Observation::Rest(RestObservation {
                    ip,
                    protocol,
                    state,
                    reason: text("reason").unwrap_or_else(|| "unknown".into()),
                    count,
                    seen,
                }))
            }
            "stats" => {
                let count = |key: &str| record.get(key).and_then(Value::as_u64).unwrap_or(0);
                let mut stats = ScanStats {
                    hosts_scanned: count("hosts_scanned"),
                    hosts_up: count("hosts_up"),
                    counters: BTreeMap::new(),
                };
                for key in STAT_COUNTERS {
                    stats.counters.insert(key.into(), count(key));
                }
                let duration = seconds(record.get("duration").and_then(Value::as_f64).unwrap_or(0.0));
                stats.counters.insert("duration_ms".into(), duration.as_millis() as u64);
                let interrupted = record.get("interrupted").and_then(Value::as_bool).unwrap_or(false);
                ScryRecord::Stats { stats, duration, interrupted }
            }
            _ => ScryRecord::Other,
        })
    }
}

/// The counters of scry's `stats` record kept by name.
const STAT_COUNTERS: [&str; 9] = [
    "sent",
    "send_errors",
    "received",
    "rejected",
    "duplicates",
    "capture_dropped",
    "interface_dropped",
    "max_rss_kib",
    "skipped_broadcast",
];

/// Reads scry's JSON Lines `text` (from `file`, named in errors). The
/// `os` record is kept whole as the OS result's `details`.
///
/// # Errors
/// [`ImportError`] at the first line that is not one of scry's records.
pub fn read_scry(file: &str, text: &str) -> Result<ImportedScan, ImportError> {
    let at = At { file, text };
    let mut g = Gathered::default();
    let mut decoder = ScryDecoder::default();
    let mut scan: Option<NewScan> = None;
    let (mut status, mut ended, mut stats) = (ScanStatus::Interrupted, None, ScanStats::default());
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            // The last line cut short by a kill: the scan stopped there.
            Err(e) if e.is_eof() && offset == text.len() => break,
            Err(e) => return Err(at.json(start, &e)),
        };
        if scan.is_none() && text_field(&record, "type") != Some("begin") {
            return Err(at.error(start, "not scry JSON: the first record is not \"begin\""));
        }
        let started = scan.as_ref().map_or(UNIX_EPOCH, |s| s.started);
        match decoder.decode(&record, line, started).map_err(|problem| at.error(start, problem))? {
            ScryRecord::Begin(begin) => scan = Some(begin),
            ScryRecord::Observation(Observation::Host(h)) => {
                g.hosts.insert(h.ip, h);
            }
            ScryRecord::Observation(Observation::Port(p)) => {
                let merged = match g.ports.get(&(p.ip, p.protocol, p.port)) {
                    Some(old) => merge_service(old, p),
                    None => p,
                };
                g.port(merged);
            }
            ScryRecord::Observation(Observation::Os(o)) => g.os.push(o),
            ScryRecord::Observation(Observation::Rest(r)) => g.rest.push(r),
            ScryRecord::Observation(Observation::Output(_)) | ScryRecord::Other => {}
            ScryRecord::Stats { stats: counted, duration, interrupted } => {
                stats = counted;
                status = if interrupted { ScanStatus::Interrupted } else { ScanStatus::Complete };
                ended = Some(started.checked_add(duration).unwrap_or(started));
            }
        }
    }
    let Some(mut scan) = scan else { return Err(at.error(0, "not scry JSON: no \"begin\" record")) };
    scan.scope.scan_types =
        g.protocols.iter().map(|p| if *p == Protocol::Udp { "udp" } else { "syn" }.to_owned()).collect();
    Ok(g.into_scan(scan, status, ended, stats))
}

/// A later record of a port: its state, reason and TTL, with the earlier
/// record's service fields where it leaves them empty (the store's rule).
fn merge_service(old: &PortObservation, mut new: PortObservation) -> PortObservation {
    let (s, o) = (&mut new.service, &old.service);
    for (field, earlier) in [
        (&mut s.name, &o.name),
        (&mut s.product, &o.product),
        (&mut s.version, &o.version),
        (&mut s.extrainfo, &o.extrainfo),
        (&mut s.banner, &o.banner),
    ] {
        if field.is_none() {
            field.clone_from(earlier);
        }
    }
    if s.cpe.is_empty() {
        s.cpe.clone_from(&o.cpe);
    }
    new
}
