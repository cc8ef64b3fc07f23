//! The compiled nmap-service-probes database: probes in file order, their
//! match lines with compiled regexes and parsed templates, resolved
//! fallbacks and the `Exclude` ports. Immutable once built by
//! [`ProbeDb::parse`] (see `parse.rs`); safe to share between threads.

use std::path::{Path, PathBuf};

use crate::error::ProbesError;
use crate::regex::Pattern;
use crate::syntax::ExcludedPorts;
use crate::template::{Template, EXTRA_LEN, FIELD_LEN, TYPE_LEN};

/// Transport of a probe or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Whether a service is probed in clear or through SSL/TLS (DTLS for UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tunnel {
    /// Plain connection.
    #[default]
    None,
    /// Through SSL/TLS; nmap's outputs show `ssl/NAME` and `tunnel="ssl"`.
    Ssl,
}

/// Index of a probe in [`ProbeDb::probes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeId(pub(crate) usize);

/// One `Probe` block.
#[derive(Debug)]
pub struct Probe {
    pub(crate) protocol: Protocol,
    pub(crate) name: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) no_payload: bool,
    pub(crate) ports: Vec<u16>,
    pub(crate) ssl_ports: Vec<u16>,
    pub(crate) rarity: u8,
    pub(crate) total_wait_ms: u32,
    pub(crate) tcpwrapped_ms: u32,
    pub(crate) matches: Vec<ServiceMatch>,
    /// Resolved fallback chain, nmap's `fallbacks[]`: the probe itself, the
    /// `fallback` probes in order, then the NULL probe for TCP.
    pub(crate) fallbacks: Vec<ProbeId>,
    /// Services named by the probe's match lines (nmap's `detectedServices`).
    pub(crate) services: Vec<String>,
    pub(crate) line: usize,
}

/// nmap's default `totalwaitms` (`DEFAULT_SERVICEWAITMS`).
pub const DEFAULT_TOTAL_WAIT_MS: u32 = 5000;
/// nmap's default `tcpwrappedms` (`DEFAULT_TCPWRAPPEDMS`).
pub const DEFAULT_TCPWRAPPED_MS: u32 = 2000;
/// nmap's default rarity for a probe without a `rarity` line.
pub const DEFAULT_RARITY: u8 = 5;

impl Probe {
    /// TCP or UDP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
    /// The probe's name, e.g. `GetRequest`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Bytes sent (after unescaping); empty for the NULL probe.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// The `no-payload` flag: not used as a UDP port-scan payload.
    pub fn no_payload(&self) -> bool {
        self.no_payload
    }
    /// nmap's `isNullProbe`: a probe with an empty string.
    pub fn is_null(&self) -> bool {
        self.payload.is_empty()
    }
    /// Rarity, 1-9.
    pub fn rarity(&self) -> u8 {
        self.rarity
    }
    /// How long to wait for replies after connecting or sending, in ms.
    pub fn total_wait_ms(&self) -> u32 {
        self.total_wait_ms
    }
    /// A close within this many ms of connecting, with no data, means tcpwrapped.
    pub fn tcpwrapped_ms(&self) -> u32 {
        self.tcpwrapped_ms
    }
    /// The `ports` list, sorted.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
    /// The `sslports` list, sorted.
    pub fn ssl_ports(&self) -> &[u16] {
        &self.ssl_ports
    }
    /// Match lines in file order.
    pub fn matches(&self) -> &[ServiceMatch] {
        &self.matches
    }
    /// The resolved fallback chain (itself first).
    pub fn fallbacks(&self) -> &[ProbeId] {
        &self.fallbacks
    }
    /// Line of the `Probe` directive.
    pub fn line(&self) -> usize {
        self.line
    }
    /// nmap's `portIsProbable`: is `port` on `ports` (or `sslports` when tunnelling)?
    pub fn port_is_probable(&self, tunnel: Tunnel, port: u16) -> bool {
        let list = match tunnel {
            Tunnel::None => &self.ports,
            Tunnel::Ssl => &self.ssl_ports,
        };
        list.binary_search(&port).is_ok()
    }
    /// nmap's `serviceIsPossible`: does some match line of this probe name `service`?
    pub fn service_is_possible(&self, service: &str) -> bool {
        self.services.iter().any(|s| s == service)
    }
    /// nmap's `ServiceProbe::testMatch`: the first match line (hard or
    /// soft) in file order that matches `response`.
    pub fn first_match(&self, response: &[u8]) -> Option<MatchDetails<'_>> {
        self.matches.iter().find_map(|m| m.test(response))
    }
}

/// The version fields a match line fills, already limited and sanitized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionInfo {
    /// `p/…/`.
    pub product: Option<String>,
    /// `v/…/`.
    pub version: Option<String>,
    /// `i/…/` (extrainfo).
    pub info: Option<String>,
    /// `h/…/`.
    pub hostname: Option<String>,
    /// `o/…/`.
    pub ostype: Option<String>,
    /// `d/…/`.
    pub devicetype: Option<String>,
    /// The application CPE (`cpe:/a:…`); the last `a` template wins, as in nmap.
    pub cpe_a: Option<String>,
    /// The hardware CPE (`cpe:/h:…`).
    pub cpe_h: Option<String>,
    /// The OS CPE (`cpe:/o:…`).
    pub cpe_o: Option<String>,
}

/// A successful match of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchDetails<'db> {
    /// The service named by the line, e.g. `http` or `ssl/http`.
    pub service: &'db str,
    /// `softmatch` rather than `match`.
    pub soft: bool,
    /// Line of the match in the file.
    pub line: usize,
    /// The filled templates.
    pub info: VersionInfo,
}

/// The templates of one match line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Templates {
    pub product: Option<Template>,
    pub version: Option<Template>,
    pub info: Option<Template>,
    pub hostname: Option<Template>,
    pub ostype: Option<Template>,
    pub devicetype: Option<Template>,
    /// CPE templates in line order, with their part (`a`, `h`, `o`) or
    /// `None` for an unknown part, which nmap ignores.
    pub cpes: Vec<(Option<u8>, Template)>,
}

/// One `match` or `softmatch` line.
#[derive(Debug)]
pub struct ServiceMatch {
    pub(crate) service: String,
    pub(crate) soft: bool,
    pub(crate) line: usize,
    pub(crate) pattern_text: Vec<u8>,
    pub(crate) pattern: Pattern,
    pub(crate) templates: Templates,
}

impl ServiceMatch {
    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// True for `softmatch`.
    pub fn is_soft(&self) -> bool {
        self.soft
    }
    /// Line in the file.
    pub fn line(&self) -> usize {
        self.line
    }
    /// The regex as written between the delimiters.
    pub fn pattern_text(&self) -> &[u8] {
        &self.pattern_text
    }

    /// Runs the regex on `response` and fills the templates (nmap's
    /// `ServiceProbeMatch::testMatch`). A PCRE2 limit error counts as no
    /// match, as in nmap.
    pub fn test(&self, response: &[u8]) -> Option<MatchDetails<'_>> {
        let caps = self.pattern.captures(response).ok()??;
        let t = &self.templates;
        let fill =
            |tpl: &Option<Template>, size| tpl.as_ref().and_then(|t| t.fill(response, &caps, size, false));
        let mut info = VersionInfo {
            product: fill(&t.product, FIELD_LEN),
            version: fill(&t.version, FIELD_LEN),
            info: fill(&t.info, EXTRA_LEN),
            hostname: fill(&t.hostname, FIELD_LEN),
            ostype: fill(&t.ostype, TYPE_LEN),
            devicetype: fill(&t.devicetype, TYPE_LEN),
            ..VersionInfo::default()
        };
        for (part, tpl) in &t.cpes {
            let slot = match part {
                Some(b'a') => &mut info.cpe_a,
                Some(b'h') => &mut info.cpe_h,
                Some(b'o') => &mut info.cpe_o,
                _ => continue,
            };
            *slot = tpl.fill(response, &caps, FIELD_LEN, true);
        }
        Some(MatchDetails { service: &self.service, soft: self.soft, line: self.line, info })
    }
}

/// The compiled database.
#[derive(Debug)]
pub struct ProbeDb {
    pub(crate) path: PathBuf,
    pub(crate) probes: Vec<Probe>,
    pub(crate) null: Option<ProbeId>,
    pub(crate) excluded: Option<ExcludedPorts>,
}

impl ProbeDb {
    /// Reads and compiles the file at `path`.
    ///
    /// # Errors
    /// The I/O error, or the first syntax error with file, line and column.
    pub fn load(path: &Path) -> Result<ProbeDb, ProbesError> {
        let bytes =
            std::fs::read(path).map_err(|source| ProbesError::Io { path: path.to_owned(), source })?;
        ProbeDb::parse_bytes(path, &bytes)
    }

    /// Compiles database text; `path` names it in errors.
    ///
    /// # Errors
    /// The first syntax error with file, line and column.
    pub fn parse(path: &Path, text: &str) -> Result<ProbeDb, ProbesError> {
        ProbeDb::parse_bytes(path, text.as_bytes())
    }

    /// Compiles database bytes (nmap reads the file as bytes; regexes and
    /// templates may hold any byte).
    ///
    /// # Errors
    /// The first syntax error with file, line and column.
    pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<ProbeDb, ProbesError> {
        crate::parse::build(path, bytes)
    }

    /// The file this database came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// All probes in file order, the NULL probe included.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }
    /// The probe with this id.
    pub fn probe(&self, id: ProbeId) -> &Probe {
        &self.probes[id.0]
    }
    /// The NULL probe (empty string), if the file has one.
    pub fn null_probe(&self) -> Option<ProbeId> {
        self.null
    }
    /// Ids of the probes nmap walks after the NULL probe (its `AP->probes`):
    /// every other probe, in file order.
    pub fn ordered(&self) -> impl Iterator<Item = ProbeId> + '_ {
        (0..self.probes.len()).map(ProbeId).filter(move |&id| Some(id) != self.null)
    }
    /// Finds a probe by protocol and name.
    pub fn find(&self, protocol: Protocol, name: &str) -> Option<ProbeId> {
        self.probes.iter().position(|p| p.protocol == protocol && p.name == name).map(ProbeId)
    }
    /// nmap's `isExcluded`: is the port on the `Exclude` line for `protocol`?
    /// (`--allports` callers skip this check.)
    pub fn is_excluded(&self, port: u16, protocol: Protocol) -> bool {
        self.excluded.as_ref().is_some_and(|e| match protocol {
            Protocol::Tcp => e.tcp.binary_search(&port).is_ok(),
            Protocol::Udp => e.udp.binary_search(&port).is_ok(),
        })
    }
    /// The `Exclude` directive's ports, if the file has one.
    pub fn excluded(&self) -> Option<&ExcludedPorts> {
        self.excluded.as_ref()
    }
    /// Number of `match` lines (hard matches) across all probes.
    pub fn hard_match_count(&self) -> usize {
        self.probes.iter().flat_map(|p| &p.matches).filter(|m| !m.soft).count()
    }
    /// Number of `softmatch` lines across all probes.
    pub fn soft_match_count(&self) -> usize {
        self.probes.iter().flat_map(|p| &p.matches).filter(|m| m.soft).count()
    }
}
