//! Output sinks: every format implements one `begin / host_up / port / host /
//! finish` interface and is fed while the scan runs.
//!
//! Live events (`host_up`, `port`) arrive as replies are validated; `host`
//! arrives once per host after the last probe, with the complete port table.

mod json;
mod normal;

pub use json::JsonLines;
pub use normal::Normal;

use scry_probe::results::PortResult;
use scry_probe::state::Reason;
use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// What the scan is, printed before any result.
#[derive(Clone, Debug)]
pub struct ScanInfo {
    pub start: SystemTime,
    pub command_line: String,
    pub hosts: u64,
    pub ports: usize,
}

/// Everything known about one host at the end of the scan.
#[derive(Clone, Debug)]
pub struct HostReport<'a> {
    pub ip: IpAddr,
    /// Why the host is up and the TTL of that reply (none for ARP); `None`
    /// when the host never answered (reported only with -Pn).
    pub up_reason: Option<(Reason, Option<u8>)>,
    /// Ports that answered; every other scanned port had no response.
    pub ports: &'a BTreeMap<u16, PortResult>,
    /// Every port scanned on this host, ascending.
    pub scanned: &'a [u16],
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
}

impl Stats {
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
    fn port(&mut self, _ip: IpAddr, _port: u16, _result: &PortResult) -> io::Result<()> {
        Ok(())
    }
    /// After the scan, once per host to report.
    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()>;
    /// Last; flushes.
    fn finish(&mut self, stats: &Stats) -> io::Result<()>;
}
