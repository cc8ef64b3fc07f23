//! nmap-style port specifications (`-p`, `--exclude-ports`, `--top-ports`).
//!
//! A spec is a comma-separated list of items, following nmap's `-p` grammar
//! (Nmap book, "Port Specification and Scan Order"):
//!
//! - `22`, `1000-2000`; open ranges `-1024` (from 1) and `60000-` (to 65535);
//!   `-` alone is 1-65535. Port 0 is included only when written: `0`, `0-10`.
//! - service names and wildcards from `nmap-services`: `http,ssh`, `http*`.
//! - protocol prefixes `T:` and `U:`. A prefix applies to every item after it
//!   until the next prefix: `U:53,111,T:21-25,80` is UDP 53 and 111, TCP
//!   21-25 and 80. Items before any prefix go to both lists (the caller scans
//!   whichever protocols its scan types use), and an unprefixed service name
//!   goes to each protocol under which the name is listed. `S:` (SCTP) and
//!   `P:` (IP protocols) are refused with a message saying so.
//!
//! The result is a [`PortList`]: sorted, deduplicated TCP and UDP ports.
//! Not supported: nmap's `[...]` brackets (ports in `nmap-services` only).

use thiserror::Error;

use crate::services::{Protocol, Services};

/// Sorted, deduplicated ports to scan, per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortList {
    /// TCP ports, ascending.
    pub tcp: Vec<u16>,
    /// UDP ports, ascending.
    pub udp: Vec<u16>,
}

/// A port spec that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PortError {
    /// The whole spec is empty or blank.
    #[error("empty port spec")]
    Empty,
    /// One item of the spec is wrong; `token` is that item as written.
    #[error("bad port spec \"{token}\": {problem}")]
    Bad {
        /// The offending item (the whole spec for an empty item).
        token: String,
        /// What is wrong with it.
        problem: PortProblem,
    },
    /// `--top-ports 0`.
    #[error("--top-ports 0: the number of ports must be 1 or more")]
    TopPortsZero,
    /// `--top-ports N` beyond what the built-in fallback list ranks.
    #[error(
        "--top-ports {requested}: the built-in service list ranks only {available} {protocol} \
         ports; install nmap's data files (Debian package nmap-common) for the full ranking"
    )]
    TopPortsBeyondBuiltin {
        /// The N asked for.
        requested: usize,
        /// How many ports the built-in list has for `protocol`.
        available: usize,
        /// The protocol that ran short.
        protocol: Protocol,
    },
}

/// Why one item of a port spec was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PortProblem {
    /// A number above 65535 (kept as written, it may not fit any integer).
    #[error("port {0} is larger than 65535")]
    TooLarge(String),
    /// `high-low`.
    #[error("range {0}-{1} runs backwards")]
    Backwards(u32, u32),
    /// Two commas in a row, or a leading/trailing comma.
    #[error("empty item between commas")]
    EmptyItem,
    /// `T:` or `U:` with nothing after it in the same item.
    #[error("protocol prefix {0}: has no ports after it")]
    PrefixWithoutPorts(char),
    /// `S:`.
    #[error("SCTP ports (S:) are not supported; scry scans TCP (T:) and UDP (U:)")]
    Sctp,
    /// `P:`.
    #[error("IP protocol numbers (P:) are not supported; scry scans TCP (T:) and UDP (U:)")]
    IpProtocol,
    /// A one-letter prefix other than `T:`, `U:`, `S:`, `P:`.
    #[error("unknown protocol prefix \"{0}:\" (use T: for TCP or U: for UDP)")]
    UnknownPrefix(char),
    /// Neither a number, a range nor anything a service name could be.
    #[error("not a port number, range or service name")]
    NotAPort,
    /// No service in the table matches the name or wildcard.
    #[error("no {protocols} service matches it in {source_name}")]
    UnknownService {
        /// The protocols searched, e.g. `TCP or UDP`.
        protocols: &'static str,
        /// [`Services::source`] of the table searched.
        source_name: String,
    },
}

/// Which lists an item goes to, set by the last protocol prefix.
#[derive(Clone, Copy)]
enum Scope {
    Both,
    Only(Protocol),
}

impl Scope {
    fn has(self, protocol: Protocol) -> bool {
        match self {
            Scope::Both => true,
            Scope::Only(p) => p == protocol,
        }
    }
}

/// One bit per port, for building lists without sorting.
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn new() -> Self {
        PortSet(Box::new([0; 1024]))
    }
    fn insert_range(&mut self, lo: u16, hi: u16) {
        for port in lo..=hi {
            self.0[usize::from(port / 64)] |= 1 << (port % 64);
        }
    }
    fn to_vec(&self) -> Vec<u16> {
        (0..=u16::MAX).filter(|&p| self.0[usize::from(p / 64)] & (1 << (p % 64)) != 0).collect()
    }
}

impl PortList {
    /// Parses a `-p` / `--exclude-ports` spec; names are looked up in `services`.
    ///
    /// # Errors
    /// [`PortError::Empty`] for a blank spec, otherwise [`PortError::Bad`]
    /// naming the first offending item.
    pub fn parse(spec: &str, services: &Services) -> Result<PortList, PortError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(PortError::Empty);
        }
        let (mut tcp, mut udp) = (PortSet::new(), PortSet::new());
        let mut scope = Scope::Both;
        for item in spec.split(',') {
            let bad = |problem| PortError::Bad { token: item.to_owned(), problem };
            if item.is_empty() {
                return Err(PortError::Bad { token: spec.to_owned(), problem: PortProblem::EmptyItem });
            }
            let mut rest = item;
            let mut chars = item.chars();
            if let (Some(letter), Some(':')) = (chars.next(), chars.next()) {
                scope = match letter {
                    'T' => Scope::Only(Protocol::Tcp),
                    'U' => Scope::Only(Protocol::Udp),
                    'S' => return Err(bad(PortProblem::Sctp)),
                    'P' => return Err(bad(PortProblem::IpProtocol)),
                    c if c.is_ascii_alphabetic() => return Err(bad(PortProblem::UnknownPrefix(c))),
                    _ => return Err(bad(PortProblem::NotAPort)),
                };
                rest = &item[2..];
                if rest.is_empty() {
                    return Err(bad(PortProblem::PrefixWithoutPorts(letter)));
                }
            }
            if rest.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                let (lo, hi) = parse_range(rest).map_err(bad)?;
                for (set, protocol) in [(&mut tcp, Protocol::Tcp), (&mut udp, Protocol::Udp)] {
                    if scope.has(protocol) {
                        set.insert_range(lo, hi);
                    }
                }
            } else if is_service_pattern(rest) {
                let mut found = false;
                for (set, protocol) in [(&mut tcp, Protocol::Tcp), (&mut udp, Protocol::Udp)] {
                    if scope.has(protocol) {
                        for port in services.lookup_name(rest, protocol) {
                            set.insert_range(port, port);
                            found = true;
                        }
                    }
                }
                if !found {
                    let protocols = match scope {
                        Scope::Both => "TCP or UDP",
                        Scope::Only(Protocol::Udp) => "UDP",
                        Scope::Only(_) => "TCP",
                    };
                    let source_name = services.source().to_owned();
                    return Err(bad(PortProblem::UnknownService { protocols, source_name }));
                }
            } else {
                return Err(bad(PortProblem::NotAPort));
            }
        }
        Ok(PortList { tcp: tcp.to_vec(), udp: udp.to_vec() })
    }

    /// `--top-ports n`: the `n` most often open ports of each of `protocols`
    /// (the others stay empty).
    ///
    /// Like nmap, ports in `exclude` are skipped before counting (so `n` ports
    /// are still chosen when the table has enough), and when `within` is given
    /// (`-p` together with `--top-ports`) only its ports are candidates.
    ///
    /// # Errors
    /// [`PortError::TopPortsZero`] for `n == 0`; with the built-in table,
    /// [`PortError::TopPortsBeyondBuiltin`] when `n` exceeds its length for
    /// a requested protocol. A real `nmap-services` with fewer ports just yields all.
    pub fn top(
        services: &Services,
        n: usize,
        protocols: &[Protocol],
        within: Option<&PortList>,
        exclude: Option<&PortList>,
    ) -> Result<PortList, PortError> {
        if n == 0 {
            return Err(PortError::TopPortsZero);
        }
        let pick = |protocol: Protocol| -> Result<Vec<u16>, PortError> {
            if !protocols.contains(&protocol) {
                return Ok(Vec::new());
            }
            let available = services.port_count(protocol);
            if services.is_builtin() && n > available {
                return Err(PortError::TopPortsBeyondBuiltin { requested: n, available, protocol });
            }
            let allowed = |port: &u16| {
                within.map_or(true, |w| w.get(protocol).binary_search(port).is_ok())
                    && !exclude.is_some_and(|x| x.get(protocol).binary_search(port).is_ok())
            };
            let mut ports: Vec<u16> =
                services.top_ports(available, protocol).into_iter().filter(allowed).take(n).collect();
            ports.sort_unstable();
            Ok(ports)
        };
        Ok(PortList { tcp: pick(Protocol::Tcp)?, udp: pick(Protocol::Udp)? })
    }

    /// This list without the ports of `other` (`--exclude-ports`), protocol by protocol.
    pub fn excluding(&self, other: &PortList) -> PortList {
        let minus = |a: &[u16], b: &[u16]| -> Vec<u16> {
            a.iter().copied().filter(|p| b.binary_search(p).is_err()).collect()
        };
        PortList { tcp: minus(&self.tcp, &other.tcp), udp: minus(&self.udp, &other.udp) }
    }

    /// The ports of one protocol; SCTP is always empty.
    pub fn get(&self, protocol: Protocol) -> &[u16] {
        match protocol {
            Protocol::Tcp => &self.tcp,
            Protocol::Udp => &self.udp,
            Protocol::Sctp => &[],
        }
    }

    /// True when neither protocol has a port.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }
}

/// Service names in `nmap-services` use letters, digits and `-_.:`; a
/// pattern adds `*` and `?` and needs at least one letter or wildcard.
fn is_service_pattern(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_alphabetic() || b == b'*' || b == b'?')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:*?".contains(&b))
}

/// Parses `a`, `a-b`, `-b`, `a-`, `-` (digits and dashes only).
fn parse_range(text: &str) -> Result<(u16, u16), PortProblem> {
    let (lo, hi) = match text.split_once('-') {
        None => {
            let port = parse_port(text)?;
            (port, port)
        }
        Some((lo, hi)) => {
            let lo = if lo.is_empty() { 1 } else { parse_port(lo)? };
            let hi = if hi.is_empty() { u16::MAX } else { parse_port(hi)? };
            (lo, hi)
        }
    };
    if lo > hi {
        return Err(PortProblem::Backwards(lo.into(), hi.into()));
    }
    Ok((lo, hi))
}

/// Parses a decimal port; the text is digits only, but may have a second `-`.
fn parse_port(text: &str) -> Result<u16, PortProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortProblem::NotAPort);
    }
    text.parse().map_err(|_| PortProblem::TooLarge(text.trim_start_matches('0').to_owned()))
}

#[cfg(test)]
mod tests;
