//! Service names and port popularity, from nmap's `nmap-services` file.
//!
//! The file gives one `name port/proto frequency [# comment]` entry a line,
//! where frequency is the fraction of scanned hosts nmap found with that port
//! open. scry uses it for three things: the SERVICE column of the output
//! ([`Services::name`]), `--top-ports` ([`Services::top_ports`]) and service
//! names in `-p` specs ([`Services::lookup_name`]).
//!
//! The caller finds the file (the CLI searches its data directories and
//! nmap's install; Debian's `nmap-common` package installs it) and hands its
//! path to [`Services::load`]. Without it the caller can use
//! [`Services::empty`], which names no port and ranks none. A short
//! hand-written list of well-known ports ([`Services::builtin`]) serves
//! tests; it has no frequencies, so `--top-ports` beyond its length is
//! refused rather than padded with guesses.
//!
//! Parsing is strict: a malformed line is an error naming file, line, column
//! and text, never silently skipped (nmap 7.93's own file parses cleanly).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A transport protocol as named in `nmap-services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `sctp` (listed in the file; scry does not scan it).
    Sctp,
}

impl Protocol {
    /// The lower-case name used in `nmap-services` (`tcp`, `udp`, `sctp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `nmap-services`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEntry {
    /// Service name, e.g. `ssh`.
    pub name: String,
    /// Port number.
    pub port: u16,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Open frequency in `[0, 1]`; `None` in the built-in list or when the line has none.
    pub frequency: Option<f64>,
}

/// A failure to read or parse a services file.
#[derive(Debug, Error)]
pub enum ServicesError {
    /// The file exists but could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line does not follow `name port/proto [frequency] [# comment]`.
    #[error("{file}:{line}:{column}: {reason} in \"{text}\"")]
    Syntax {
        /// Name of the parsed text, usually its path.
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters) of the offending field.
        column: usize,
        /// The offending line, without its newline.
        text: String,
        /// What is wrong, e.g. `unknown protocol "ddp" (expected tcp, udp or sctp)`.
        reason: String,
    },
}

/// A parsed, immutable services table.
#[derive(Debug, Clone)]
pub struct Services {
    source: String,
    builtin: bool,
    entries: Vec<ServiceEntry>,
    /// `(protocol, port)` to the index of its first entry.
    by_port: HashMap<(Protocol, u16), usize>,
    /// Per protocol (indexed by [`Protocol::index`]), ports most-open first.
    ranked: [Vec<u16>; 3],
}

impl Services {
    /// Reads and parses the services file at `path`.
    ///
    /// # Errors
    /// I/O failures and malformed lines, see [`ServicesError`].
    pub fn load(path: &Path) -> Result<Services, ServicesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ServicesError::Io { path: path.to_owned(), source })?;
        Services::parse(&text, &path.display().to_string())
    }

    /// Parses `nmap-services` text; `source_name` names it in errors.
    ///
    /// Blank lines and `#` comments are ignored; the frequency field is
    /// optional. Ranking is by frequency, highest first, ties broken by the
    /// lower port number; a port listed twice for one protocol keeps its first
    /// line's name.
    ///
    /// # Errors
    /// [`ServicesError::Syntax`] for the first malformed line.
    pub fn parse(text: &str, source_name: &str) -> Result<Services, ServicesError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let fail = |column: usize, reason: String| ServicesError::Syntax {
                file: source_name.to_owned(),
                line: i + 1,
                column,
                text: line.to_owned(),
                reason,
            };
            if let Some(entry) = parse_line(line).map_err(|(col, why)| fail(col, why))? {
                entries.push(entry);
            }
        }
        let mut ranked: [Vec<(f64, u16)>; 3] = Default::default();
        for e in &entries {
            ranked[e.protocol.index()].push((e.frequency.unwrap_or(0.0), e.port));
        }
        let ranked = ranked.map(|mut list| {
            list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut seen = HashSet::new();
            list.into_iter().filter(|&(_, port)| seen.insert(port)).map(|(_, port)| port).collect()
        });
        Ok(Services::assemble(source_name.to_owned(), false, entries, ranked))
    }

    /// A table without entries, for a scan without `nmap-services`: every
    /// port is unnamed and none is ranked. `source` says why, in messages.
    pub fn empty(source: &str) -> Services {
        Services::assemble(source.to_owned(), false, Vec::new(), Default::default())
    }

    /// The hand-written table: about 100 TCP and 35 UDP well-known
    /// ports, each list ordered by how often the service is found open.
    pub fn builtin() -> Services {
        let mut entries = Vec::new();
        let mut ranked: [Vec<u16>; 3] = Default::default();
        for (protocol, list) in [(Protocol::Tcp, BUILTIN_TCP), (Protocol::Udp, BUILTIN_UDP)] {
            for &(name, port) in list {
                entries.push(ServiceEntry { name: name.to_owned(), port, protocol, frequency: None });
                ranked[protocol.index()].push(port);
            }
        }
        Services::assemble("built-in service list".to_owned(), true, entries, ranked)
    }

    fn assemble(
        source: String,
        builtin: bool,
        entries: Vec<ServiceEntry>,
        ranked: [Vec<u16>; 3],
    ) -> Services {
        let mut by_port = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            by_port.entry((e.protocol, e.port)).or_insert(i);
        }
        Services { source, builtin, entries, by_port, ranked }
    }

    /// Where the table came from: a path, or `built-in service list`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True for the hand-written fallback of [`Services::builtin`].
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[ServiceEntry] {
        &self.entries
    }

    /// The service name of `port`, as in nmap's SERVICE column; `None` when unlisted.
    pub fn name(&self, port: u16, protocol: Protocol) -> Option<&str> {
        let &i = self.by_port.get(&(protocol, port))?;
        Some(&self.entries[i].name)
    }

    /// The open frequency of `port`; `None` when unlisted or the table has no frequencies.
    pub fn frequency(&self, port: u16, protocol: Protocol) -> Option<f64> {
        let &i = self.by_port.get(&(protocol, port))?;
        self.entries[i].frequency
    }

    /// How many distinct ports the table ranks for `protocol`.
    pub fn port_count(&self, protocol: Protocol) -> usize {
        self.ranked[protocol.index()].len()
    }

    /// The `n` most often open ports of `protocol`, most open first
    /// (ties: lower port first); fewer when the table has fewer.
    pub fn top_ports(&self, n: usize, protocol: Protocol) -> Vec<u16> {
        let ranked = &self.ranked[protocol.index()];
        ranked[..n.min(ranked.len())].to_vec()
    }

    /// All ports (sorted, deduplicated) whose name matches `pattern`.
    ///
    /// Matching is ASCII case-insensitive, like nmap; `*` matches any run of
    /// characters and `?` any one character, so `http*` finds `http`,
    /// `https`, `http-proxy` and so on.
    pub fn lookup_name(&self, pattern: &str, protocol: Protocol) -> Vec<u16> {
        let pattern: Vec<char> = pattern.chars().collect();
        let mut ports: Vec<u16> = self
            .entries
            .iter()
            .filter(|e| e.protocol == protocol && wildcard_match(&pattern, &e.name))
            .map(|e| e.port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// Parses one line; `Ok(None)` for blank and comment lines. Errors carry a
/// 1-based column and the reason.
fn parse_line(line: &str) -> Result<Option<ServiceEntry>, (usize, String)> {
    let content = line.split('#').next().unwrap_or("");
    let mut fields: Vec<(usize, &str)> = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut column = 0;
    for (byte, c) in content.char_indices() {
        column += 1;
        if !c.is_whitespace() {
            start.get_or_insert((column, byte));
        } else if let Some((col, from)) = start.take() {
            fields.push((col, &content[from..byte]));
        }
    }
    if let Some((col, from)) = start {
        fields.push((col, &content[from..]));
    }
    let Some((_, name)) = fields.first() else { return Ok(None) };
    let Some((port_col, port_proto)) = fields.get(1) else {
        return Err((content.chars().count() + 1, "expected port/protocol after the name".into()));
    };
    let (port, proto) = port_proto
        .split_once('/')
        .ok_or_else(|| (*port_col, format!("expected port/protocol, found \"{port_proto}\"")))?;
    let number: u16 = match port.parse() {
        Ok(p) if !port.starts_with('+') => p,
        _ => return Err((*port_col, format!("port \"{port}\" is not a number from 0 to 65535"))),
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        other => {
            let col = port_col + port.chars().count() + 1;
            return Err((col, format!("unknown protocol \"{other}\" (expected tcp, udp or sctp)")));
        }
    };
    let frequency = match fields.get(2) {
        None => None,
        Some((col, text)) => match text.parse::<f64>() {
            Ok(f) if f.is_finite() && (0.0..=1.0).contains(&f) => Some(f),
            _ => return Err((*col, format!("frequency \"{text}\" is not a number from 0 to 1"))),
        },
    };
    if let Some((col, text)) = fields.get(3) {
        return Err((*col, format!("unexpected \"{text}\" after the frequency (comments start with #)")));
    }
    Ok(Some(ServiceEntry { name: (*name).to_owned(), port: number, protocol, frequency }))
}

/// ASCII case-insensitive glob match with `*` and `?`.
fn wildcard_match(pattern: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, n));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == '?' || pattern[p].eq_ignore_ascii_case(&name[n])) {
            p += 1;
            n += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            n = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Built-in TCP services, most commonly open first (hand-ranked from
/// general experience of Internet and LAN scans, not from nmap's data).
#[rustfmt::skip]
const BUILTIN_TCP: &[(&str, u16)] = &[
    ("http", 80), ("https", 443), ("ssh", 22), ("ftp", 21), ("smtp", 25), ("telnet", 23),
    ("domain", 53), ("http-proxy", 8080), ("ms-wbt-server", 3389), ("microsoft-ds", 445),
    ("netbios-ssn", 139), ("msrpc", 135), ("pop3", 110), ("imap", 143), ("mysql", 3306),
    ("https-alt", 8443), ("rpcbind", 111), ("imaps", 993), ("pop3s", 995), ("submission", 587),
    ("smtps", 465), ("vnc", 5900), ("postgresql", 5432), ("pptp", 1723), ("ms-sql-s", 1433),
    ("http-alt", 8000), ("ldap", 389), ("ldaps", 636), ("nfs", 2049), ("redis", 6379),
    ("mongodb", 27017), ("printer", 515), ("ipp", 631), ("jetdirect", 9100), ("sip", 5060),
    ("sip-tls", 5061), ("rtsp", 554), ("bgp", 179), ("kerberos-sec", 88), ("rsync", 873),
    ("x11", 6000), ("oracle-tns", 1521), ("wsman", 5985), ("wsmans", 5986), ("elasticsearch", 9200),
    ("http-alt", 8888), ("amqp", 5672), ("mqtt", 1883), ("memcache", 11211), ("auth", 113),
    ("finger", 79), ("exec", 512), ("login", 513), ("shell", 514), ("nntp", 119), ("socks", 1080),
    ("squid-http", 3128), ("upnp", 5000), ("afp", 548), ("svn", 3690), ("git", 9418),
    ("iscsi", 3260), ("docker", 2375), ("docker-tls", 2376), ("kubernetes", 6443),
    ("etcd-client", 2379), ("zookeeper", 2181), ("kafka", 9092), ("cassandra", 9042),
    ("couchdb", 5984), ("ajp13", 8009), ("http-alt", 8081), ("webmin", 10000), ("distccd", 3632),
    ("irc", 6667), ("ircs", 6697), ("xmpp-client", 5222), ("xmpp-server", 5269), ("nrpe", 5666),
    ("zabbix-agent", 10050), ("zabbix-trapper", 10051), ("gopher", 70), ("whois", 43),
    ("daytime", 13), ("echo", 7), ("discard", 9), ("chargen", 19), ("time", 37),
    ("rmiregistry", 1099), ("cisco-sccp", 2000), ("openvpn", 1194), ("pcanywheredata", 5631),
    ("minecraft", 25565), ("http", 8008), ("vnc-http", 5800), ("ftps", 990), ("telnets", 992),
    ("lotusnotes", 1352), ("citrix-ica", 1494), ("prometheus", 9090), ("http-dev", 3000),
];

/// Built-in UDP services, most commonly open first (hand-ranked, as above).
#[rustfmt::skip]
const BUILTIN_UDP: &[(&str, u16)] = &[
    ("domain", 53), ("ntp", 123), ("snmp", 161), ("netbios-ns", 137), ("dhcps", 67),
    ("netbios-dgm", 138), ("dhcpc", 68), ("upnp", 1900), ("mdns", 5353), ("isakmp", 500),
    ("syslog", 514), ("tftp", 69), ("ipsec-nat-t", 4500), ("ms-sql-m", 1434), ("llmnr", 5355),
    ("sip", 5060), ("rpcbind", 111), ("nfs", 2049), ("snmptrap", 162), ("radius", 1812),
    ("radius-acct", 1813), ("openvpn", 1194), ("l2tp", 1701), ("kerberos-sec", 88), ("ldap", 389),
    ("memcache", 11211), ("https", 443), ("route", 520), ("xdmcp", 177), ("ms-wbt-server", 3389),
    ("stun", 3478), ("coap", 5683), ("tacacs", 49), ("wireguard", 51820), ("echo", 7),
];

#[cfg(test)]
mod tests;
