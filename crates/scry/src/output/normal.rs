//! nmap's "normal" output: a report per host, a summary line at the end.

use super::{HostReport, ScanInfo, Sink, Stats};
use scry_probe::results::PortResult;
use scry_probe::services::{Protocol, Services};
use scry_probe::state::{PortState, Reason};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

/// A state with more ports than this is summarised in "Not shown" (as nmap does).
const MAX_SHOWN_PER_STATE: usize = 25;

/// Options that change what the report shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct NormalOptions {
    pub open_only: bool,
    pub reason: bool,
}

/// Writes nmap-style normal output.
pub struct Normal<W: Write> {
    out: W,
    services: Arc<Services>,
    options: NormalOptions,
}

impl<W: Write> Normal<W> {
    pub fn new(out: W, services: Arc<Services>, open_only: bool, reason: bool) -> Self {
        Normal { out, services, options: NormalOptions { open_only, reason } }
    }
}

/// Every scanned port with its result; unanswered ports are filtered (no-response).
fn rows(report: &HostReport<'_>) -> Vec<(u16, PortResult)> {
    let silent = PortResult { state: PortState::Filtered, reason: Reason::NoResponse, ttl: 0 };
    report.scanned.iter().map(|p| (*p, report.ports.get(p).copied().unwrap_or(silent))).collect()
}

impl<W: Write> Sink for Normal<W> {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        writeln!(self.out, "Starting scry {} at {}", env!("CARGO_PKG_VERSION"), utc(info.start))
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let rows = rows(report);
        let mut by_state: BTreeMap<PortState, usize> = BTreeMap::new();
        let mut by_reason: BTreeMap<(PortState, &'static str), usize> = BTreeMap::new();
        for (_, r) in &rows {
            *by_state.entry(r.state).or_insert(0) += 1;
            *by_reason.entry((r.state, r.reason.as_str())).or_insert(0) += 1;
        }
        if self.options.open_only && !by_state.contains_key(&PortState::Open) {
            return Ok(());
        }
        writeln!(self.out, "scry scan report for {}", report.ip)?;
        match report.up_reason {
            Some((reason, Some(ttl))) => writeln!(self.out, "Host is up, received {reason} (ttl {ttl}).")?,
            Some((reason, None)) => writeln!(self.out, "Host is up, received {reason}.")?,
            None => writeln!(self.out, "Host is up, received user-set.")?,
        }
        // nmap hides a state when it has many ports; --open hides all but open.
        let hidden = |state: PortState| {
            state != PortState::Open && (self.options.open_only || by_state[&state] > MAX_SHOWN_PER_STATE)
        };
        let shown: Vec<(u16, PortResult)> = rows.into_iter().filter(|(_, r)| !hidden(r.state)).collect();
        if shown.is_empty() {
            writeln!(
                self.out,
                "All {} scanned ports on {} are in ignored states.",
                report.scanned.len(),
                report.ip
            )?;
        }
        let not_shown: Vec<String> = by_reason
            .iter()
            .filter(|((state, _), _)| hidden(*state))
            .map(|((state, reason), n)| format!("{n} {state} tcp ports ({reason})"))
            .collect();
        if !not_shown.is_empty() {
            writeln!(self.out, "Not shown: {}", not_shown.join(", "))?;
        }
        if !shown.is_empty() {
            self.table(&shown)?;
        }
        writeln!(self.out)
    }

    fn finish(&mut self, s: &Stats) -> io::Result<()> {
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if s.interrupted {
            writeln!(self.out, "scry was interrupted; results above are those found before the stop.")?;
        }
        writeln!(
            self.out,
            "scry done: {} ({} up) scanned in {:.2} seconds",
            plural(s.hosts_scanned, "IP address", "IP addresses"),
            plural(s.hosts_up, "host", "hosts"),
            s.duration.as_secs_f64()
        )?;
        self.out.flush()
    }
}

impl<W: Write> Normal<W> {
    fn table(&mut self, rows: &[(u16, PortResult)]) -> io::Result<()> {
        let port_col: Vec<String> = rows.iter().map(|(p, _)| format!("{p}/tcp")).collect();
        let pw = port_col.iter().map(String::len).max().unwrap_or(0).max("PORT".len());
        let sw = rows.iter().map(|(_, r)| r.state.as_str().len()).max().unwrap_or(0).max("STATE".len());
        let names: Vec<&str> =
            rows.iter().map(|(p, _)| self.services.name(*p, Protocol::Tcp).unwrap_or("unknown")).collect();
        let nw = names.iter().map(|n| n.len()).max().unwrap_or(0).max("SERVICE".len());
        if self.options.reason {
            writeln!(self.out, "{:pw$} {:sw$} {:nw$} REASON", "PORT", "STATE", "SERVICE")?;
        } else {
            writeln!(self.out, "{:pw$} {:sw$} SERVICE", "PORT", "STATE")?;
        }
        for ((port, (_, r)), name) in port_col.iter().zip(rows).zip(&names) {
            if self.options.reason && r.reason == Reason::NoResponse {
                // Nothing came back, so there is no TTL to show (nmap prints none).
                writeln!(self.out, "{port:pw$} {:sw$} {name:nw$} {}", r.state.as_str(), r.reason)?;
            } else if self.options.reason {
                writeln!(
                    self.out,
                    "{port:pw$} {:sw$} {name:nw$} {} ttl {}",
                    r.state.as_str(),
                    r.reason,
                    r.ttl
                )?;
            } else {
                writeln!(self.out, "{port:pw$} {:sw$} {name}", r.state.as_str())?;
            }
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM UTC` without a date crate (civil-from-days, H. Hinnant).
fn utc(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::time::{Duration, UNIX_EPOCH};

    fn render(ports: &[(u16, PortState, Reason)], scanned: &[u16], open_only: bool) -> String {
        let table: BTreeMap<u16, PortResult> =
            ports.iter().map(|&(p, state, reason)| (p, PortResult { state, reason, ttl: 64 })).collect();
        let mut out = Vec::new();
        let mut sink = Normal::new(&mut out, Arc::new(Services::builtin()), open_only, false);
        let ip: IpAddr = "198.18.0.10".parse().unwrap();
        let report = HostReport { ip, up_reason: Some((Reason::SynAck, Some(64))), ports: &table, scanned };
        sink.host(&report).unwrap();
        String::from_utf8(out).unwrap()
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

    #[test]
    fn utc_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(1_795_710_600)), "2026-11-26 16:30 UTC");
    }
}
