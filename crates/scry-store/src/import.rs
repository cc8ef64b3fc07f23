//! Reading other scanners' result files into the history (`scry import`).
//!
//! Each reader turns a file into an [`ImportedScan`]: the scan's record
//! and its observations, in plain types, which
//! [`crate::History::import`] writes like a scan in progress. Bad input is
//! an [`ImportError`] naming file, line, column and the problem.
//!
//! Formats: nmap's XML ([`nmap_xml`]), masscan's JSON and scry's JSON
//! Lines ([`json`]). None says which addresses a scan covered (nmap's XML
//! lists only the hosts it reports), so an imported scan is taken to
//! cover every address, as ndiff takes a file: compared with it, a host
//! the file does not list is a host that did not answer.

use crate::model::*;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod json;
pub mod nmap_xml;

/// A result file read into the history's types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedScan {
    pub scan: NewScan,
    /// `complete` when the file has the scanner's closing record,
    /// `interrupted` when it stops short.
    pub status: ScanStatus,
    pub ended: Option<SystemTime>,
    pub stats: ScanStats,
    /// In file order.
    pub observations: Vec<Observation>,
}

/// A result file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    /// 1-based; 0 when the problem is the whole file (it cannot be read).
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.problem)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.problem)
        }
    }
}

impl std::error::Error for ImportError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The epoch plus `d`, or the epoch when that is past what the system's
/// clock can hold (a file's time is never worth a panic).
pub(crate) fn after_epoch(d: Duration) -> SystemTime {
    UNIX_EPOCH.checked_add(d).unwrap_or(UNIX_EPOCH)
}

/// Seconds as a duration; 0 for what cannot be one (negative, too large).
pub(crate) fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or_default()
}

/// Every IPv4 and IPv6 address: the coverage of an imported scan.
pub(crate) fn everywhere() -> Vec<(IpAddr, IpAddr)> {
    vec![
        (Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::BROADCAST.into()),
        (Ipv6Addr::UNSPECIFIED.into(), Ipv6Addr::from(u128::MAX).into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (2, 2));
        assert_eq!(line_column(text, text.len()), (3, 2));
    }
}
