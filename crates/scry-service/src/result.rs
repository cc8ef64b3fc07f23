//! What version detection concludes about one port, shaped after nmap's
//! `processResults` (service_scan.cc) and `PortList::setServiceProbeResults`
//! (portlist.cc): which fields are kept for each outcome, the detection
//! method and confidence, and when the unmatched responses are kept for a
//! service fingerprint.

use crate::db::{Tunnel, VersionInfo};

/// How the probing of a service ended (nmap's `PROBESTATE_FINISHED_*`,
/// `PROBESTATE_EXCLUDED`, `PROBESTATE_INCOMPLETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `match` line matched.
    HardMatched,
    /// Only a `softmatch` line matched, and no probe did better.
    SoftMatched,
    /// Nothing matched.
    NoMatch,
    /// The service closed connections without a byte: tcpwrapped.
    TcpWrapped,
    /// Excluded by the database's `Exclude` line.
    Excluded,
    /// Probing failed (connect error, unreachable, host timeout).
    Incomplete,
}

/// nmap's `dtype`: where the service name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `method="probed"`: found by probing.
    Probed,
    /// `method="table"`: the caller looks the port up in nmap-services.
    Table,
}

/// One response kept for the service fingerprint (nmap's
/// `addToServiceFingerprint`): the probe, the response's full length and
/// its first [`FINGERPRINT_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Probe name, e.g. `NULL` or `GetRequest`.
    pub probe: String,
    /// Length of the whole response (nmap prints it in hex).
    pub len: usize,
    /// The response, cut to [`FINGERPRINT_BYTES`].
    pub bytes: Vec<u8>,
}

/// nmap keeps at most 900 bytes of each response in a fingerprint (1300 with -d).
pub const FINGERPRINT_BYTES: usize = 900;

/// The conclusion for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceResult {
    /// How probing ended.
    pub outcome: Outcome,
    /// Service name without any `ssl/` prefix (`tcpwrapped` for a wrapped
    /// service); `None` when the caller should use nmap-services.
    pub name: Option<String>,
    /// Product, version, extrainfo, hostname, OS type, device type and CPEs.
    pub info: VersionInfo,
    /// `Tunnel::Ssl` when the service was found through (or as) SSL/TLS.
    pub tunnel: Tunnel,
    /// Probed or table.
    pub method: Method,
    /// nmap's confidence: 10 matched, 8 tcpwrapped, 3 from the table.
    pub confidence: u8,
    /// The best match was a softmatch.
    pub soft_matched: bool,
    /// Line of the deciding match line in the database.
    pub match_line: Option<usize>,
    /// Responses for a service fingerprint, kept when nmap would print one:
    /// always for no match, for any other non-hard outcome at intensity 7+.
    pub fingerprint: Vec<Response>,
    /// The port answered (or accepted a TCP connection): an `open|filtered`
    /// port is really open (nmap's `adjustPortStateIfNecessary`).
    pub port_open: bool,
}

impl ServiceResult {
    /// The result nmap records for a port on the `Exclude` line.
    pub fn excluded() -> ServiceResult {
        ServiceResult {
            outcome: Outcome::Excluded,
            name: None,
            info: VersionInfo {
                product: Some("Excluded from version scan".into()),
                ..VersionInfo::default()
            },
            tunnel: Tunnel::None,
            method: Method::Table,
            confidence: 3,
            soft_matched: false,
            match_line: None,
            fingerprint: Vec::new(),
            port_open: false,
        }
    }

    /// The CPEs in nmap's order: application, hardware, OS.
    pub fn cpes(&self) -> Vec<&str> {
        [&self.info.cpe_a, &self.info.cpe_h, &self.info.cpe_o]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}
