//! scry's service/version detection core (`-sV`), after nmap's
//! service_scan.cc: the nmap-service-probes reader, nmap's matcher and a
//! per-service probe state machine. No sockets, no timers, no printing:
//!
//! - [`ProbeDb`] reads nmap's `nmap-service-probes` (from nmap's install,
//!   `--datadir` or `--versiondb`; never bundled) into an immutable
//!   database whose regexes run on PCRE2 with nmap's options and limits;
//! - [`ServiceScan`] walks nmap's probe order for one port, fed events
//!   (connected, bytes, closed, reset, timer) with `now` as an argument and
//!   answering with actions (connect, start TLS, send, wait until, close,
//!   done), so an async runtime only shuttles bytes and tests script peers
//!   in simulated time;
//! - [`ServiceResult`] holds what nmap records for the port, and
//!   [`fingerprint::render`] the `SF-Port…` text for unmatched services;
//! - [`SearchPath`] finds the file as nmap's `nmap_fetchfile` does.
//!
//! `docs/service-detection.md` describes the design and the nmap rules.

mod db;
mod error;
pub mod fingerprint;
mod locate;
mod machine;
mod parse;
pub mod regex;
mod result;
mod syntax;
pub mod template;

pub use db::{
    MatchDetails, Probe, ProbeDb, ProbeId, Protocol, ServiceMatch, Tunnel, VersionInfo, DEFAULT_RARITY,
    DEFAULT_TCPWRAPPED_MS, DEFAULT_TOTAL_WAIT_MS,
};
pub use error::ProbesError;
pub use locate::{SearchPath, FILE_NAME, SYSTEM_DIRS};
pub use machine::{
    Action, Event, ScanConfig, ServiceScan, ALL_INTENSITY, CONNECT_SSL_TIMEOUT, CONNECT_TIMEOUT,
    DEFAULT_INTENSITY, LIGHT_INTENSITY, RESPONSE_CAP,
};
pub use result::{Method, Outcome, Response, ServiceResult, FINGERPRINT_BYTES};
pub use syntax::ExcludedPorts;

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the unit tests.

    use std::path::Path;

    /// nmap's installed nmap-service-probes, or `None` (with a message)
    /// when nmap is not installed. Under `CI=true` the file must exist.
    pub(crate) fn installed_probes() -> Option<&'static Path> {
        let path = Path::new("/usr/share/nmap/nmap-service-probes");
        if path.exists() {
            return Some(path);
        }
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but {} is missing", path.display());
        println!("skipped: {} is absent (install nmap)", path.display());
        None
    }
}
