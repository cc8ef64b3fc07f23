//! The per-service probe state machine, sans I/O: nmap's `ServiceNFO` and
//! the nsock handlers of service_scan.cc (`startNextProbe`, `nextProbe`,
//! `servicescan_connect_handler`, `servicescan_read_handler`,
//! `processMatch`, `scanThroughTunnel`, `end_svcprobe`) as one value fed
//! [`Event`]s with the current time and answering with [`Action`]s.
//!
//! The rules, in nmap's order:
//! - TCP starts with the NULL probe (no payload, wait `totalwaitms`); when it
//!   times out the next probe is sent on the *same* connection and its
//!   replies are appended to the NULL probe's;
//! - then the probes whose `ports` (`sslports` through SSL) hold the port,
//!   in file order, whatever their rarity; then the others whose rarity is at
//!   most the intensity;
//! - after a softmatch only probes that can name that service are tried,
//!   rarity ignored (intensity 9 turns this pruning off);
//! - after every read the whole response is matched against the probe's
//!   fallback chain (itself, its `fallback` probes, NULL for TCP); the first
//!   probe with a matching line decides; reading goes on while the probe has
//!   time left and the response is under 4096 bytes;
//! - a hard match ends the service, unless it names `ssl` (or `dtls`): then
//!   everything restarts through TLS; `ssl/NAME` ends with the SSL tunnel;
//! - a close or reset during the NULL probe, with no data, within
//!   `tcpwrappedms` of connecting, means tcpwrapped; a service that ends while
//!   nothing ever proved it alive (no data, no probe timeout) is tcpwrapped too.

use std::time::{Duration, Instant};

use crate::db::{MatchDetails, ProbeDb, ProbeId, Protocol, Tunnel, VersionInfo};
use crate::result::{Method, Outcome, Response, ServiceResult, FINGERPRINT_BYTES};

/// nmap's default `--version-intensity`.
pub const DEFAULT_INTENSITY: u8 = 7;
/// `--version-light`.
pub const LIGHT_INTENSITY: u8 = 2;
/// `--version-all`.
pub const ALL_INTENSITY: u8 = 9;
/// nmap stops reading a probe's replies once it holds this many bytes.
pub const RESPONSE_CAP: usize = 4096;
/// nmap's `DEFAULT_CONNECT_TIMEOUT`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(5000);
/// nmap's `DEFAULT_CONNECT_SSL_TIMEOUT`: connect plus TLS handshake.
pub const CONNECT_SSL_TIMEOUT: Duration = Duration::from_millis(8000);

/// Settings of one version scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanConfig {
    /// `--version-intensity`, 0-9.
    pub intensity: u8,
    /// The runtime can tunnel through TLS/DTLS (nmap built with OpenSSL).
    /// Without it an `ssl` match ends the service as `ssl`.
    pub tls: bool,
}

impl Default for ScanConfig {
    fn default() -> ScanConfig {
        ScanConfig { intensity: DEFAULT_INTENSITY, tls: true }
    }
}

/// Something that happened to the service's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The connection is up (TCP connected, UDP socket ready).
    Connected,
    /// The TLS (DTLS) handshake asked for by [`Action::StartTls`] finished.
    TlsEstablished,
    /// Connecting or the TLS handshake failed (refused, error).
    ConnectFailed,
    /// Bytes arrived (decrypted bytes when tunnelling).
    Data(&'a [u8]),
    /// The peer closed the connection (EOF).
    Closed,
    /// ECONNRESET, ECONNREFUSED or ECONNABORTED while reading.
    Reset,
    /// An error nmap blames on the probe rather than the host (EPIPE, EIO
    /// and TLS errors, EPROTO, EMSGSIZE, EOPNOTSUPP, ENOPROTOOPT, ENETRESET).
    ProbeError,
    /// Any other read error (unreachable, network down, ...): give up.
    Unreachable,
    /// Sending the probe failed.
    WriteFailed,
    /// The deadline of the last [`Action::WaitUntil`] passed.
    Timer,
    /// The scan is stopping (host timeout): give up on this service.
    Abort,
}

/// What the runtime must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a new connection to the port (TCP, or a UDP socket).
    Connect,
    /// Run a TLS handshake (DTLS for UDP) on the new connection, reusing
    /// the last TLS session if any; report [`Event::TlsEstablished`].
    StartTls,
    /// Send these bytes (through TLS when tunnelling).
    Send(Vec<u8>),
    /// Keep reading; deliver [`Event::Timer`] at this instant.
    WaitUntil(Instant),
    /// Close the current connection.
    Close,
    /// The service is finished.
    Done(Box<ServiceResult>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Initial,
    Null,
    Matching,
    NonMatching,
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Closed,
    Connecting(Instant),
    Handshake(Instant),
    Open,
}

/// Version detection of one port.
#[derive(Debug)]
pub struct ServiceScan<'db> {
    db: &'db ProbeDb,
    config: ScanConfig,
    port: u16,
    protocol: Protocol,
    order: Vec<ProbeId>,
    stage: Stage,
    cursor: usize,
    conn: Conn,
    tunnel: Tunnel,
    response: Vec<u8>,
    exec_time: Instant,
    matched: Option<&'db str>,
    match_line: Option<usize>,
    soft_found: bool,
    info: VersionInfo,
    tcpwrap_possible: bool,
    port_open: bool,
    fingerprint: Vec<Response>,
}

impl<'db> ServiceScan<'db> {
    /// A scan of `port`/`protocol` with `db`; nothing happens until [`start`](Self::start).
    pub fn new(db: &'db ProbeDb, config: ScanConfig, port: u16, protocol: Protocol, now: Instant) -> Self {
        ServiceScan {
            db,
            config,
            port,
            protocol,
            order: db.ordered().collect(),
            stage: Stage::Initial,
            cursor: 0,
            conn: Conn::Closed,
            tunnel: Tunnel::None,
            response: Vec::new(),
            exec_time: now,
            matched: None,
            match_line: None,
            soft_found: false,
            info: VersionInfo::default(),
            tcpwrap_possible: true,
            port_open: false,
            fingerprint: Vec::new(),
        }
    }

    /// Begins probing (nmap's `launchSomeServiceProbes` → `startNextProbe(.., true)`).
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.start_next_probe(now, true, &mut out);
        out
    }

    /// True once [`Action::Done`] was returned.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Finished
    }

    /// The probe in progress, if any.
    pub fn current_probe(&self) -> Option<ProbeId> {
        match self.stage {
            Stage::Null => self.db.null_probe(),
            Stage::Matching | Stage::NonMatching => self.order.get(self.cursor).copied(),
            Stage::Initial | Stage::Finished => None,
        }
    }

    /// Feeds one event at time `now`.
    pub fn handle(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stage == Stage::Finished {
            return out;
        }
        match event {
            Event::Connected => self.on_connected(now, &mut out),
            Event::TlsEstablished => self.on_tls(now, &mut out),
            Event::ConnectFailed | Event::WriteFailed => self.end(Outcome::Incomplete, &mut out),
            Event::Data(bytes) => self.on_data(now, bytes, &mut out),
            Event::Closed => self.on_closed(now, &mut out),
            Event::Reset => {
                if self.wrapped_now(now) {
                    self.end(Outcome::TcpWrapped, &mut out);
                } else {
                    self.start_next_probe(now, true, &mut out);
                }
            }
            Event::ProbeError => self.start_next_probe(now, true, &mut out),
            Event::Unreachable | Event::Abort => {
                self.tcpwrap_possible = false;
                self.end(Outcome::Incomplete, &mut out);
            }
            Event::Timer => self.on_timer(now, &mut out),
        }
        out
    }

    /// nmap's `nextProbe`: advances to the next probe to run, or finishes
    /// the walk. `keep_response` keeps the reply so far (after NULL).
    fn next_probe(&mut self, keep_response: bool) -> Option<ProbeId> {
        if !keep_response {
            self.response.clear();
        }
        let mut dropdown = false;
        if self.stage == Stage::Initial {
            self.stage = Stage::Null;
            if self.protocol == Protocol::Tcp {
                if let Some(null) = self.db.null_probe() {
                    return Some(null);
                }
            }
        }
        if self.stage == Stage::Null {
            self.stage = Stage::Matching;
            self.cursor = 0;
            dropdown = true;
        }
        let all = self.config.intensity >= ALL_INTENSITY;
        let possible = |db: &ProbeDb, id: ProbeId, matched: Option<&str>| {
            all || matched.is_some_and(|s| db.probe(id).service_is_possible(s))
        };
        if self.stage == Stage::Matching {
            if !dropdown {
                self.cursor += 1;
            }
            while let Some(&id) = self.order.get(self.cursor) {
                let p = self.db.probe(id);
                if p.protocol() == self.protocol
                    && p.port_is_probable(self.tunnel, self.port)
                    && (!self.soft_found || possible(self.db, id, self.matched))
                {
                    return Some(id);
                }
                self.cursor += 1;
            }
            self.stage = Stage::NonMatching;
            self.cursor = 0;
            dropdown = true;
        }
        if !dropdown {
            self.cursor += 1;
        }
        while let Some(&id) = self.order.get(self.cursor) {
            let p = self.db.probe(id);
            if p.protocol() == self.protocol
                && !p.port_is_probable(self.tunnel, self.port)
                && ((!self.soft_found && p.rarity() <= self.config.intensity)
                    || (self.soft_found && possible(self.db, id, self.matched)))
            {
                return Some(id);
            }
            self.cursor += 1;
        }
        None
    }

    /// nmap's `startNextProbe`.
    fn start_next_probe(&mut self, now: Instant, always_restart: bool, out: &mut Vec<Action>) {
        let initial = self.stage == Stage::Initial;
        let current = if initial { self.next_probe(false) } else { self.current_probe() };
        let current_is_null = current.is_some_and(|id| self.db.probe(id).is_null());
        if !always_restart && current_is_null {
            // Reuse the NULL probe's connection; its reply stays in front.
            match self.next_probe(true) {
                Some(id) => {
                    self.exec_time = now;
                    self.send_payload(id, out);
                    out.push(Action::WaitUntil(self.deadline(id)));
                }
                None => self.end_unmatched(out),
            }
            return;
        }
        if self.conn != Conn::Closed {
            out.push(Action::Close);
            self.conn = Conn::Closed;
        }
        let next = if initial { current } else { self.next_probe(false) };
        if next.is_none() {
            self.end_unmatched(out);
            return;
        }
        let timeout = if self.tunnel == Tunnel::Ssl { CONNECT_SSL_TIMEOUT } else { CONNECT_TIMEOUT };
        self.conn = Conn::Connecting(now + timeout);
        out.push(Action::Connect);
        out.push(Action::WaitUntil(now + timeout));
    }

    fn send_payload(&self, id: ProbeId, out: &mut Vec<Action>) {
        let probe = self.db.probe(id);
        if !probe.is_null() {
            out.push(Action::Send(probe.payload().to_vec()));
        }
    }

    fn deadline(&self, id: ProbeId) -> Instant {
        self.exec_time + Duration::from_millis(u64::from(self.db.probe(id).total_wait_ms()))
    }

    fn on_connected(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Conn::Connecting(deadline) = self.conn else { return };
        if self.tunnel == Tunnel::Ssl {
            self.conn = Conn::Handshake(deadline);
            out.push(Action::StartTls);
            return;
        }
        self.on_tls(now, out);
    }

    /// The connection is ready for the probe (after TLS when tunnelling).
    fn on_tls(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !matches!(self.conn, Conn::Connecting(_) | Conn::Handshake(_)) {
            return;
        }
        self.conn = Conn::Open;
        if self.protocol == Protocol::Tcp {
            self.port_open = true;
        }
        let Some(id) = self.current_probe() else { return };
        self.exec_time = now;
        self.send_payload(id, out);
        out.push(Action::WaitUntil(self.deadline(id)));
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.conn {
            Conn::Connecting(deadline) | Conn::Handshake(deadline) => {
                if now >= deadline {
                    self.end(Outcome::Incomplete, out);
                } else {
                    out.push(Action::WaitUntil(deadline));
                }
            }
            Conn::Open => {
                let Some(id) = self.current_probe() else { return };
                let deadline = self.deadline(id);
                if now < deadline {
                    out.push(Action::WaitUntil(deadline));
                    return;
                }
                // The probe timed out: the service is alive, just quiet.
                self.tcpwrap_possible = false;
                self.keep_for_fingerprint(id);
                self.start_next_probe(now, false, out);
            }
            Conn::Closed => {}
        }
    }

    fn on_data(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Action>) {
        if self.conn != Conn::Open {
            return;
        }
        let Some(id) = self.current_probe() else { return };
        self.tcpwrap_possible = false;
        self.port_open = true;
        self.response.extend_from_slice(bytes);
        let db = self.db;
        let found = db.probe(id).fallbacks().iter().find_map(|&fb| db.probe(fb).first_match(&self.response));
        if found.is_some_and(|md| self.process_match(md)) {
            if self.scan_through_tunnel() {
                self.start_next_probe(now, true, out);
            } else {
                self.end(Outcome::HardMatched, out);
            }
            return;
        }
        let deadline = self.deadline(id);
        if now < deadline && self.response.len() < RESPONSE_CAP {
            out.push(Action::WaitUntil(deadline));
        } else {
            self.keep_for_fingerprint(id);
            self.start_next_probe(now, false, out);
        }
    }

    fn on_closed(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.conn != Conn::Open {
            return self.end(Outcome::Incomplete, out);
        }
        if let Some(id) = self.current_probe().filter(|_| !self.response.is_empty()) {
            self.keep_for_fingerprint(id);
            self.tcpwrap_possible = false;
        }
        if self.response.is_empty() && self.wrapped_now(now) {
            self.end(Outcome::TcpWrapped, out);
        } else {
            self.start_next_probe(now, true, out);
        }
    }

    /// nmap's tcpwrapped test on a close or reset: still possible, during
    /// the NULL probe, sooner than its `tcpwrappedms` after connecting.
    fn wrapped_now(&self, now: Instant) -> bool {
        let Some(id) = self.current_probe() else { return false };
        let probe = self.db.probe(id);
        let used = now.saturating_duration_since(self.exec_time);
        self.tcpwrap_possible
            && self.conn == Conn::Open
            && probe.is_null()
            && used < Duration::from_millis(u64::from(probe.tcpwrapped_ms()))
    }

    /// nmap's `processMatch`: records a match; true for a new hard match.
    fn process_match(&mut self, md: MatchDetails<'db>) -> bool {
        if md.soft && self.matched.is_some() {
            return false;
        }
        self.matched = Some(md.service);
        self.match_line = Some(md.line);
        self.tcpwrap_possible = false;
        let fields = [
            (&mut self.info.product, md.info.product),
            (&mut self.info.version, md.info.version),
            (&mut self.info.info, md.info.info),
            (&mut self.info.hostname, md.info.hostname),
            (&mut self.info.ostype, md.info.ostype),
            (&mut self.info.devicetype, md.info.devicetype),
            (&mut self.info.cpe_a, md.info.cpe_a),
            (&mut self.info.cpe_h, md.info.cpe_h),
            (&mut self.info.cpe_o, md.info.cpe_o),
        ];
        // A field the new match lacks keeps an earlier softmatch's value.
        for (slot, value) in fields {
            if value.is_some() {
                *slot = value;
            }
        }
        self.soft_found = md.soft;
        !md.soft
    }

    /// nmap's `scanThroughTunnel`: true when probing restarts through TLS.
    fn scan_through_tunnel(&mut self) -> bool {
        if let Some(inner) = self.matched.and_then(|m| m.strip_prefix("ssl/")) {
            self.tunnel = Tunnel::Ssl;
            self.matched = Some(inner);
            return false;
        }
        if !self.config.tls || self.tunnel != Tunnel::None || !matches!(self.matched, Some("ssl" | "dtls")) {
            return false;
        }
        self.tunnel = Tunnel::Ssl;
        self.matched = None;
        self.match_line = None;
        self.info = VersionInfo::default();
        self.soft_found = false;
        self.fingerprint.clear();
        self.response.clear();
        self.stage = Stage::Initial;
        true
    }

    fn keep_for_fingerprint(&mut self, id: ProbeId) {
        if self.response.is_empty() {
            return;
        }
        let n = self.response.len().min(FINGERPRINT_BYTES);
        let probe = self.db.probe(id).name().to_owned();
        self.fingerprint.push(Response {
            probe,
            len: self.response.len(),
            bytes: self.response[..n].to_vec(),
        });
    }

    fn end_unmatched(&mut self, out: &mut Vec<Action>) {
        let outcome = if self.soft_found { Outcome::SoftMatched } else { Outcome::NoMatch };
        self.end(outcome, out);
    }

    /// nmap's `end_svcprobe` and `processResults`.
    fn end(&mut self, outcome: Outcome, out: &mut Vec<Action>) {
        if self.conn != Conn::Closed {
            out.push(Action::Close);
            self.conn = Conn::Closed;
        }
        self.stage = Stage::Finished;
        // Nothing ever showed the service alive: nmap calls it tcpwrapped.
        let outcome = if self.tcpwrap_possible { Outcome::TcpWrapped } else { outcome };
        let (method, confidence) = match outcome {
            Outcome::HardMatched | Outcome::SoftMatched => (Method::Probed, 10),
            Outcome::TcpWrapped => (Method::Probed, 8),
            _ => (Method::Table, 3),
        };
        let no_match = outcome == Outcome::NoMatch;
        let keep_fp =
            no_match || (outcome != Outcome::HardMatched && self.config.intensity >= DEFAULT_INTENSITY);
        let mut name = self.matched.filter(|_| !no_match).map(str::to_owned);
        if outcome == Outcome::TcpWrapped && name.is_none() {
            name = Some("tcpwrapped".into());
        }
        let result = ServiceResult {
            outcome,
            name,
            info: if no_match { VersionInfo::default() } else { std::mem::take(&mut self.info) },
            tunnel: self.tunnel,
            method,
            confidence,
            soft_matched: self.soft_found,
            match_line: self.match_line.filter(|_| !no_match),
            fingerprint: if keep_fp { std::mem::take(&mut self.fingerprint) } else { Vec::new() },
            port_open: self.port_open,
        };
        out.push(Action::Done(Box::new(result)));
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
