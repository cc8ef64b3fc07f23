//! JSON Lines: one object per line, written as results arrive.
//! The schema is documented in docs/output.md.

use super::{escape_bytes, HostReport, OsReport, PortService, QuickGuess, ScanInfo, Sink, Stats};
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::Reason;
use serde_json::json;
use std::io::{self, Write};
use std::net::IpAddr;

/// Writes JSON Lines to any writer.
pub struct JsonLines<W: Write> {
    out: W,
    services: std::sync::Arc<scry_probe::services::Services>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W, services: std::sync::Arc<scry_probe::services::Services>) -> Self {
        JsonLines { out, services }
    }

    fn line(&mut self, value: serde_json::Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &value)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

impl<W: Write> Sink for JsonLines<W> {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        let start = info.start.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        self.line(json!({
            "type": "begin",
            "scanner": "scry",
            "version": env!("CARGO_PKG_VERSION"),
            "args": info.command_line,
            "start": start,
            "hosts": info.hosts,
            "ports": info.port_count(),
        }))
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.line(json!({"type": "host", "ip": ip, "state": "up", "reason": reason.as_str(), "ttl": ttl}))
    }

    fn port(&mut self, ip: IpAddr, port: u16, protocol: Protocol, r: &PortResult) -> io::Result<()> {
        let service = self.services.name(port, protocol).unwrap_or("unknown");
        let record = json!({
            "type": "port", "ip": ip, "port": port, "proto": protocol.as_str(),
            "state": r.state.as_str(), "reason": r.reason.as_str(), "ttl": r.ttl, "service": service,
        });
        self.line(record)
    }

    fn host_down(&mut self, ip: IpAddr) -> io::Result<()> {
        let reason = Reason::NoResponse.as_str();
        self.line(json!({"type": "host", "ip": ip, "state": "down", "reason": reason, "ttl": null}))
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        if report.up_reason.is_none() {
            let reason = Reason::UserSet.as_str();
            self.line(
                json!({"type": "host", "ip": report.ip, "state": "up", "reason": reason, "ttl": null}),
            )?;
        }
        // Version detection and banners, once the host's services are done.
        for ((protocol, port), found) in report.services {
            let state = report
                .tables
                .iter()
                .find(|t| t.protocol == *protocol)
                .map(|t| t.ports.get(port).map_or(t.silent_state(), |r| r.state));
            let table = self.services.name(*port, *protocol);
            let record = service_record(report.ip, *port, *protocol, state, table, found);
            self.line(record)?;
        }
        Ok(())
    }

    fn os(&mut self, ip: IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        let OsReport::Done { result, fingerprint, options, distance, .. } = os else { return Ok(()) };
        let matches: Vec<_> =
            scry_os::report::listed_matches(result, options).iter().map(|m| m.to_json()).collect();
        self.line(json!({
            "type": "os", "ip": ip, "matches": matches,
            "fingerprint": fingerprint.to_wrapped(true), "distance": distance,
        }))
    }

    fn os_quick(&mut self, ip: IpAddr, guess: Option<&QuickGuess<'_>>) -> io::Result<()> {
        let Some(guess) = guess else { return Ok(()) };
        let matches: Vec<_> = guess.matches().iter().map(|m| m.to_json()).collect();
        let families: Vec<_> = guess
            .shown_families()
            .iter()
            .map(|f| {
                json!({
                    "vendor": f.vendor, "family": f.family,
                    "accuracy": scry_os::matcher::percent(f.accuracy), "references": f.references,
                })
            })
            .collect();
        self.line(json!({
            "type": "os_quick", "ip": ip, "matches": matches, "families": families,
            "fingerprint": guess.fingerprint.to_string(), "from": guess.from,
        }))
    }

    fn finish(&mut self, s: &Stats) -> io::Result<()> {
        self.line(json!({
            "type": "stats",
            "sent": s.sent,
            "send_errors": s.send_errors,
            "received": s.received,
            "rejected": s.rejected,
            "duplicates": s.duplicates,
            "capture_dropped": s.capture_dropped,
            "interface_dropped": s.interface_dropped,
            "duration": s.duration.as_secs_f64(),
            "pps": s.pps(),
            "hosts_scanned": s.hosts_scanned,
            "hosts_up": s.hosts_up,
            "interrupted": s.interrupted,
            "max_rss_kib": s.max_rss_kib,
            "skipped_broadcast": s.skipped_broadcast,
        }))
    }
}

/// A `service` record: every field version detection and `--banners` give a port.
fn service_record(
    ip: IpAddr,
    port: u16,
    protocol: Protocol,
    state: Option<scry_probe::state::PortState>,
    table: Option<&str>,
    found: &PortService,
) -> serde_json::Value {
    let r = found.result.as_ref();
    let text = |f: fn(&scry_service::VersionInfo) -> &Option<String>| r.and_then(|r| f(&r.info).clone());
    let banner = found.banner.as_ref();
    let certificate = banner.and_then(|b| b.certificate.as_ref()).map(|c| {
        json!({"subject": c.subject, "issuer": c.issuer, "not_before": c.not_before, "not_after": c.not_after})
    });
    let outcome = r.map(|r| match r.outcome {
        scry_service::Outcome::HardMatched => "match",
        scry_service::Outcome::SoftMatched => "softmatch",
        scry_service::Outcome::NoMatch => "nomatch",
        scry_service::Outcome::TcpWrapped => "tcpwrapped",
        scry_service::Outcome::Excluded => "excluded",
        scry_service::Outcome::Incomplete => "incomplete",
    });
    json!({
        "type": "service", "ip": ip, "port": port, "proto": protocol.as_str(),
        "state": state.map(|s| s.as_str()),
        "name": r.and_then(|r| r.name.as_deref()).or(table),
        "product": text(|i| &i.product),
        "version": text(|i| &i.version),
        "extrainfo": text(|i| &i.info),
        "hostname": text(|i| &i.hostname),
        "ostype": text(|i| &i.ostype),
        "devicetype": text(|i| &i.devicetype),
        "tunnel": r.filter(|r| r.tunnel == scry_service::Tunnel::Ssl).map(|_| "ssl"),
        "method": r.map(|r| if r.method == scry_service::Method::Probed { "probed" } else { "table" }),
        "conf": r.map(|r| r.confidence),
        "outcome": outcome,
        "cpe": r.map(|r| r.cpes()).unwrap_or_default(),
        "servicefp": found.fingerprint,
        "banner": banner.map(|b| escape_bytes(&b.bytes)),
        "certificate": certificate,
    })
}
