//! nmap-style target specifications, IPv4 and IPv6, compiled into a [`TargetSet`].
//!
//! Accepted forms (Nmap book, "Target Specification"):
//!
//! - an IPv4 address, `198.18.0.1`, or a CIDR block, `198.18.0.0/24` (`/0` to
//!   `/32`); host bits are ignored as in nmap, so `198.18.0.77/24` is the /24.
//! - IPv4 octet ranges and lists: `198.18.0.1-20`, `198.18.1-2.0-255`,
//!   `198.18.0.1,3,5-7`; `-` or `*` alone is 0-255, `250-` is 250-255 and
//!   `-9` is 0-9. Ranges cannot be combined with a `/prefix`.
//! - an IPv6 address, `2001:2::1`, or prefix, `2001:2::/120` (`/0` to
//!   `/128`, host bits ignored). A prefix holding more than the per-spec
//!   limit ([`DEFAULT_MAX_PREFIX_HOSTS`], [`TargetSetBuilder::max_prefix_hosts`],
//!   the CLI's `--max-targets`) is refused with [`TargetError::TooLarge`]
//!   naming its address count: a /64 cannot be walked address by address.
//!   A link-local address names its interface, `fe80::1%eth0`
//!   ([`TargetSet::zone`]); without one it is refused.
//! - a hostname, optionally with a prefix (`example.org/24`). It is resolved
//!   once, when added, with the system resolver (`ToSocketAddrs`); like nmap,
//!   only one address is used: the first IPv4 one, or with `-6`
//!   ([`TargetSetBuilder::prefer`]) the first IPv6 one. Beyond nmap, a name
//!   without an address of the preferred family takes the other family's.
//!   With `-n` ([`TargetSetBuilder::no_resolve`]) a hostname is an error
//!   naming it. A token made only of digits, dots, commas, dashes and `*`
//!   (or whose last label is all digits), or holding a colon, is always an
//!   address spec and never sent to the resolver.
//!
//! Sources: command-line tokens ([`TargetSetBuilder::add`]), `-iL` lists and
//! `--excludefile` lists ([`TargetSetBuilder::add_list`],
//! [`TargetSetBuilder::exclude_list`]: specs separated by whitespace, `#`
//! comments, blank lines), and `--exclude` ([`TargetSetBuilder::exclude`]).
//! `--exclude` is comma-separated like nmap's, but a comma also separates
//! octet list items, so a piece continues the previous spec when both are
//! numeric (digits, `.`, `-`, `*`; the piece may also hold a `/`) and either
//! the spec so far has fewer than four octets or the piece has no dot:
//! `198.18.0.1,3,198.18.1.0/24` is `198.18.0.1,3` and `198.18.1.0/24`, and
//! `198.18.1,2.0.1` stays whole. A spec with a `/prefix` or a colon is never
//! continued.
//!
//! A [`TargetSet`] is two sorted lists of disjoint inclusive ranges, IPv4
//! (`u32`) and IPv6 (`u128`), with prefix sums, sharing one index space:
//! IPv4 addresses first, then IPv6. `len`, `get(index)` (O(log n)) and
//! `contains` need no expansion, and the IPv4 walk costs one comparison more
//! than an IPv4-only set. Memory is O(ranges): each of the include and
//! exclude sides holds at most [`MAX_RANGES`] ranges by default
//! ([`TargetSetBuilder::max_ranges`]); duplicates are merged before the limit
//! is enforced, and a spec like `0-255.0-255.0-255.1` (16M single addresses)
//! is refused with [`TargetError::TooManyRanges`] before anything is allocated.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use thiserror::Error;

/// Default most ranges held on each of the include and exclude sides (32 MiB each).
pub const MAX_RANGES: usize = 1 << 22;

/// Default most addresses one IPv6 spec may hold: a /104, as many as an IPv4 /8.
pub const DEFAULT_MAX_PREFIX_HOSTS: u64 = 1 << 24;

/// The highest per-spec limit a caller may set: every address of IPv4.
pub const MAX_PREFIX_HOSTS_LIMIT: u64 = 1 << 32;

/// The most IPv6 addresses one set may hold, so that addresses times ports
/// stays far inside the `u64` the permutation walks.
pub const MAX_IPV6_TOTAL: u64 = 1 << 40;

/// A hostname resolver: all addresses of a name, IPv4 or not.
pub type Resolver = Box<dyn FnMut(&str) -> io::Result<Vec<IpAddr>> + Send>;

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// A target spec or list that cannot be used.
#[derive(Debug, Error)]
pub enum TargetError {
    /// A token that is not a valid target spec.
    #[error("bad target \"{token}\": {problem}")]
    Bad {
        /// The token as written.
        token: String,
        /// What is wrong with it.
        problem: SpecProblem,
    },
    /// A hostname that did not give a usable address.
    #[error("cannot resolve \"{host}\": {problem}")]
    Resolve {
        /// The hostname as written.
        host: String,
        /// Why it gave no address.
        problem: ResolveProblem,
    },
    /// A spec needing more ranges than fit under the limit ([`MAX_RANGES`] by default).
    #[error(
        "target \"{token}\" needs {ranges} separate address ranges, which would pass scry's \
         limit of {limit}; use CIDR blocks or whole-octet ranges, or split the scan"
    )]
    TooManyRanges {
        /// The token as written.
        token: String,
        /// How many ranges it expands to.
        ranges: u64,
        /// The builder's limit.
        limit: usize,
    },
    /// An IPv6 prefix holding more addresses than one spec may.
    #[error(
        "target \"{token}\" holds {} addresses, more than the {limit} one IPv6 prefix may \
         hold; give a longer prefix or an address list (-iL), or raise --max-targets (at most {})",
        power_of_two(*host_bits), MAX_PREFIX_HOSTS_LIMIT
    )]
    TooLarge {
        /// The token as written.
        token: String,
        /// The prefix's host bits: it holds 2^host_bits addresses.
        host_bits: u32,
        /// The builder's limit.
        limit: u64,
    },
    /// The IPv6 targets together would pass [`MAX_IPV6_TOTAL`].
    #[error(
        "target \"{token}\" brings the IPv6 targets to more than {} addresses; split the scan",
        MAX_IPV6_TOTAL
    )]
    TooManyIpv6 {
        /// The token that passed the total.
        token: String,
    },
    /// An error on one line of an `-iL` or `--excludefile` list.
    #[error("{option} {file}:{line}: {inner}")]
    InList {
        /// `-iL` or `--excludefile`.
        option: &'static str,
        /// The list's name, as given to the builder.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The error for the token on that line.
        inner: Box<TargetError>,
    },
    /// An error in the `--exclude` list.
    #[error("--exclude: {0}")]
    Exclude(Box<TargetError>),
    /// A list could not be read.
    #[error("{option} {file}: {source}")]
    Io {
        /// `-iL` or `--excludefile`.
        option: &'static str,
        /// The list's name, as given to the builder.
        file: String,
        /// The underlying I/O error.
        source: io::Error,
    },
}

/// Why a token is not a target spec.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecProblem {
    /// An empty token.
    #[error("empty target")]
    Empty,
    /// A `/prefix` with nothing before it.
    #[error("no address before the /prefix")]
    MissingAddress,
    /// Text with a colon that is not an IPv6 address (kept as written).
    #[error("\"{0}\" is not an IPv6 address")]
    NotIpv6(String),
    /// `%` on an IPv4 spec, or an empty zone.
    #[error("an interface (%zone) belongs only after an IPv6 address")]
    MisplacedZone,
    /// `fe80::1` with no `%iface`.
    #[error("a link-local address needs its interface, as in {0}%eth0")]
    LinkLocalWithoutZone(Ipv6Addr),
    /// Not four dot-separated octets.
    #[error("expected 4 dot-separated octets, found {0}")]
    OctetCount(usize),
    /// `198.18..1`, `198.18.0.1,,3`.
    #[error("empty octet or octet list item")]
    EmptyOctet,
    /// An octet item with characters other than digits, `-` and `*`.
    #[error("\"{0}\" is not an octet number or range")]
    NotAnOctet(String),
    /// An octet above 255 (kept as written, it may not fit any integer).
    #[error("octet {0} is larger than 255")]
    OctetTooLarge(String),
    /// `9-3`.
    #[error("range {0}-{1} runs backwards")]
    Backwards(u8, u8),
    /// `/33` and beyond for IPv4, `/129` and beyond for IPv6.
    #[error("prefix length {0} is larger than {1}")]
    PrefixTooLong(String, u8),
    /// `/x`, `/`.
    #[error("prefix length \"{0}\" is not a number")]
    PrefixNotNumber(String),
    /// `198.18.0-1.0/24`.
    #[error("octet ranges and lists cannot be combined with a /prefix")]
    RangeWithPrefix,
    /// Not numeric and not a syntactically valid hostname.
    #[error("not an address, octet range, CIDR block or hostname")]
    NotAHostname,
}

/// Why a hostname gave no usable address.
#[derive(Debug, Error)]
pub enum ResolveProblem {
    /// Resolution is switched off (`-n`).
    #[error("hostnames are not resolved with -n; give an address")]
    Disabled,
    /// The resolver failed.
    #[error("{0}")]
    Lookup(io::Error),
    /// The resolver answered with no address at all.
    #[error("it has no IPv4 or IPv6 address")]
    NoAddress,
}

/// An inclusive range of IPv4 addresses as integers.
type Range = (u32, u32);
/// An inclusive range of IPv6 addresses as integers.
type Range6 = (u128, u128);

/// Per-octet sorted, merged value segments of an octet-range spec.
type Octets = [Vec<(u8, u8)>; 4];

/// One address or block a spec names.
enum Block {
    V4(u32, u8),
    V6(u128, u8, Option<String>),
}

/// Collects includes and excludes, then [`build`](TargetSetBuilder::build)s a [`TargetSet`].
pub struct TargetSetBuilder {
    include: Vec<Range>,
    exclude: Vec<Range>,
    include6: Vec<Range6>,
    exclude6: Vec<Range6>,
    /// IPv6 addresses included so far, duplicates counted.
    included6: u64,
    zones: Vec<(Range6, String)>,
    no_resolve: bool,
    prefer: Family,
    max_ranges: usize,
    max_prefix_hosts: u64,
    resolver: Resolver,
    resolved: HashMap<String, IpAddr>,
}

impl fmt::Debug for TargetSetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetSetBuilder")
            .field("include_ranges", &(self.include.len() + self.include6.len()))
            .field("exclude_ranges", &(self.exclude.len() + self.exclude6.len()))
            .field("no_resolve", &self.no_resolve)
            .field("prefer", &self.prefer)
            .finish_non_exhaustive()
    }
}

impl Default for TargetSetBuilder {
    fn default() -> Self {
        TargetSetBuilder::new()
    }
}

impl TargetSetBuilder {
    /// An empty builder that resolves hostnames with the system resolver.
    pub fn new() -> Self {
        TargetSetBuilder {
            include: Vec::new(),
            exclude: Vec::new(),
            include6: Vec::new(),
            exclude6: Vec::new(),
            included6: 0,
            zones: Vec::new(),
            no_resolve: false,
            prefer: Family::V4,
            max_ranges: MAX_RANGES,
            max_prefix_hosts: DEFAULT_MAX_PREFIX_HOSTS,
            resolver: Box::new(|host| Ok((host, 0).to_socket_addrs()?.map(|a| a.ip()).collect())),
            resolved: HashMap::new(),
        }
    }

    /// `-n`: refuse hostnames instead of resolving them.
    pub fn no_resolve(mut self, yes: bool) -> Self {
        self.no_resolve = yes;
        self
    }

    /// The family a hostname's address is taken from first (`-6`: IPv6).
    pub fn prefer(mut self, family: Family) -> Self {
        self.prefer = family;
        self
    }

    /// Caps the ranges held on each side (default [`MAX_RANGES`]).
    pub fn max_ranges(mut self, limit: usize) -> Self {
        self.max_ranges = limit;
        self
    }

    /// Caps the addresses one IPv6 spec may hold (default
    /// [`DEFAULT_MAX_PREFIX_HOSTS`], at most [`MAX_PREFIX_HOSTS_LIMIT`]).
    pub fn max_prefix_hosts(mut self, limit: u64) -> Self {
        self.max_prefix_hosts = limit.min(MAX_PREFIX_HOSTS_LIMIT);
        self
    }

    /// Replaces the system resolver (for tests, or a caller's own DNS).
    pub fn resolver(
        mut self,
        resolver: impl FnMut(&str) -> io::Result<Vec<IpAddr>> + Send + 'static,
    ) -> Self {
        self.resolver = Box::new(resolver);
        self
    }

    /// Adds one command-line target spec.
    ///
    /// # Errors
    /// A bad spec, a failed resolution or too many ranges, naming the token.
    pub fn add(&mut self, spec: &str) -> Result<(), TargetError> {
        self.push(spec, false)
    }

    /// Adds every spec of an `-iL` list read from `reader` (the caller opens
    /// the file, or stdin for `-`); `file` names it in errors.
    ///
    /// # Errors
    /// Read failures, or the first bad spec with its line number.
    pub fn add_list(&mut self, reader: impl Read, file: &str) -> Result<(), TargetError> {
        self.push_list(reader, file, "-iL", false)
    }

    /// Excludes every spec of an `--exclude` list (see the module docs for commas).
    ///
    /// # Errors
    /// The first bad spec, wrapped in [`TargetError::Exclude`].
    pub fn exclude(&mut self, list: &str) -> Result<(), TargetError> {
        for spec in split_exclude(list) {
            self.push(spec, true).map_err(|e| TargetError::Exclude(Box::new(e)))?;
        }
        Ok(())
    }

    /// Excludes every spec of an `--excludefile` list, same format as `-iL`.
    ///
    /// # Errors
    /// Read failures, or the first bad spec with its line number.
    pub fn exclude_list(&mut self, reader: impl Read, file: &str) -> Result<(), TargetError> {
        self.push_list(reader, file, "--excludefile", true)
    }

    /// Merges, removes exclusions and indexes the result.
    pub fn build(self) -> TargetSet {
        let v4 = subtract(&normalize(self.include), &normalize(self.exclude));
        let v6 = subtract(&normalize(self.include6), &normalize(self.exclude6));
        let mut set = TargetSet::from_ranges(v4, v6);
        set.zones = self.zones;
        set
    }

    fn push_list(
        &mut self,
        mut reader: impl Read,
        file: &str,
        option: &'static str,
        exclude: bool,
    ) -> Result<(), TargetError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|source| TargetError::Io {
            option,
            file: file.to_owned(),
            source,
        })?;
        for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
            let content = line.split('#').next().unwrap_or("");
            for token in content.split_whitespace() {
                self.push(token, exclude).map_err(|e| TargetError::InList {
                    option,
                    file: file.to_owned(),
                    line: i + 1,
                    inner: Box::new(e),
                })?;
            }
        }
        Ok(())
    }

    fn push(&mut self, token: &str, exclude: bool) -> Result<(), TargetError> {
        let bad = |problem| TargetError::Bad { token: token.to_owned(), problem };
        if token.is_empty() {
            return Err(bad(SpecProblem::Empty));
        }
        let (base, prefix) = match token.split_once('/') {
            Some((base, prefix)) => (base, Some(parse_prefix(prefix).map_err(bad)?)),
            None => (token, None),
        };
        if base.is_empty() {
            return Err(bad(SpecProblem::MissingAddress));
        }
        let v4_len = |prefix: &Option<(u32, String)>| prefix.as_ref().map_or(Ok(32), |p| prefix_len(p, 32));
        let v6_len = |prefix: &Option<(u32, String)>| prefix.as_ref().map_or(Ok(128), |p| prefix_len(p, 128));
        let block = if base.contains(':') {
            let (addr, zone) = parse_ipv6(base).map_err(bad)?;
            Block::V6(u128::from(addr), v6_len(&prefix).map_err(bad)?, zone)
        } else if base.contains('%') {
            return Err(bad(SpecProblem::MisplacedZone));
        } else {
            let last_label_numeric = base
                .rsplit('.')
                .next()
                .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
            let numeric = base.bytes().all(|b| b.is_ascii_digit() || b".,-*".contains(&b));
            if numeric || last_label_numeric {
                let octets = parse_octets(base).map_err(bad)?;
                match prefix {
                    None => return self.push_octets(token, &octets, exclude),
                    Some(_) if octets.iter().all(|o| o.len() == 1 && o[0].0 == o[0].1) => {
                        let addr = octets.iter().fold(0u32, |acc, o| acc << 8 | u32::from(o[0].0));
                        Block::V4(addr, v4_len(&prefix).map_err(bad)?)
                    }
                    Some(_) => return Err(bad(SpecProblem::RangeWithPrefix)),
                }
            } else {
                if !is_hostname(base) {
                    return Err(bad(SpecProblem::NotAHostname));
                }
                match self.resolve(base)? {
                    IpAddr::V4(a) => Block::V4(u32::from(a), v4_len(&prefix).map_err(bad)?),
                    IpAddr::V6(a) => Block::V6(u128::from(a), v6_len(&prefix).map_err(bad)?, None),
                }
            }
        };
        match block {
            Block::V4(addr, len) => {
                let list = if exclude { &mut self.exclude } else { &mut self.include };
                reserve(list, self.max_ranges, token, 1)?;
                list.push(cidr(addr, len));
            }
            Block::V6(addr, len, zone) => self.push_v6(token, (addr, len, zone), exclude)?,
        }
        Ok(())
    }

    fn push_v6(
        &mut self,
        token: &str,
        (addr, len, zone): (u128, u8, Option<String>),
        exclude: bool,
    ) -> Result<(), TargetError> {
        let range = cidr6(addr, len);
        if !exclude {
            if zone.is_none() && is_link_local(addr) {
                let problem = SpecProblem::LinkLocalWithoutZone(Ipv6Addr::from(addr));
                return Err(TargetError::Bad { token: token.to_owned(), problem });
            }
            let host_bits = 128 - u32::from(len);
            let count = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
            if count > u128::from(self.max_prefix_hosts) {
                let limit = self.max_prefix_hosts;
                return Err(TargetError::TooLarge { token: token.to_owned(), host_bits, limit });
            }
            self.included6 = self.included6.saturating_add(count as u64);
            if self.included6 > MAX_IPV6_TOTAL {
                return Err(TargetError::TooManyIpv6 { token: token.to_owned() });
            }
            if let Some(zone) = zone {
                self.zones.push((range, zone));
            }
        }
        let list = if exclude { &mut self.exclude6 } else { &mut self.include6 };
        reserve(list, self.max_ranges, token, 1)?;
        list.push(range);
        Ok(())
    }

    fn push_octets(&mut self, token: &str, octets: &Octets, exclude: bool) -> Result<(), TargetError> {
        let list = if exclude { &mut self.exclude } else { &mut self.include };
        let full = |o: &Vec<(u8, u8)>| o.as_slice() == [(0, 255)];
        let inner = (1..4).rev().find(|&i| !full(&octets[i])).unwrap_or(0);
        let values = |o: &Vec<(u8, u8)>| o.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum::<u64>();
        let count = octets[..inner].iter().map(values).product::<u64>() * octets[inner].len() as u64;
        reserve(list, self.max_ranges, token, count)?;
        let mut prefixes = vec![0u32];
        for (p, octet) in octets.iter().enumerate().take(inner) {
            let shift = 8 * (3 - p);
            prefixes = prefixes
                .iter()
                .flat_map(|&x| {
                    octet.iter().flat_map(move |&(lo, hi)| (lo..=hi).map(move |v| x | u32::from(v) << shift))
                })
                .collect();
        }
        let shift = 8 * (3 - inner);
        let low = (1u32 << shift) - 1;
        for x in prefixes {
            for &(lo, hi) in &octets[inner] {
                list.push((x | u32::from(lo) << shift, x | u32::from(hi) << shift | low));
            }
        }
        Ok(())
    }

    fn resolve(&mut self, host: &str) -> Result<IpAddr, TargetError> {
        let fail = |problem| TargetError::Resolve { host: host.to_owned(), problem };
        if self.no_resolve {
            return Err(fail(ResolveProblem::Disabled));
        }
        let key = host.to_ascii_lowercase();
        if let Some(&addr) = self.resolved.get(&key) {
            return Ok(addr);
        }
        let addrs = (self.resolver)(host).map_err(|e| fail(ResolveProblem::Lookup(e)))?;
        let of = |family: Family| {
            addrs.iter().copied().find(|a| match family {
                Family::V4 => a.is_ipv4(),
                Family::V6 => a.is_ipv6(),
            })
        };
        let other = match self.prefer {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        };
        let addr = of(self.prefer).or_else(|| of(other)).ok_or_else(|| fail(ResolveProblem::NoAddress))?;
        self.resolved.insert(key, addr);
        Ok(addr)
    }
}

/// 2^bits in decimal, for bits up to 128 (2^128 does not fit a `u128`).
fn power_of_two(bits: u32) -> String {
    match 1u128.checked_shl(bits) {
        Some(n) if bits < 128 => n.to_string(),
        _ => "340282366920938463463374607431768211456".to_owned(),
    }
}

/// Makes room for `count` more ranges in `list`, merging duplicates if needed.
fn reserve<T: Bound>(
    list: &mut Vec<(T, T)>,
    limit: usize,
    token: &str,
    count: u64,
) -> Result<(), TargetError> {
    let fits = |list: &Vec<(T, T)>| count <= (limit - list.len().min(limit)) as u64;
    if !fits(list) {
        *list = normalize(std::mem::take(list));
        if !fits(list) {
            return Err(TargetError::TooManyRanges { token: token.to_owned(), ranges: count, limit });
        }
    }
    Ok(())
}

/// A `/prefix` as written: its length (saturated) and its digits without
/// leading zeros; each family checks its own bound ([`prefix_len`]).
fn parse_prefix(text: &str) -> Result<(u32, String), SpecProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecProblem::PrefixNotNumber(text.to_owned()));
    }
    Ok((text.parse::<u32>().unwrap_or(u32::MAX), trim_zeros(text)))
}

/// The prefix length if it is at most `max` (32 or 128).
fn prefix_len((len, text): &(u32, String), max: u8) -> Result<u8, SpecProblem> {
    match u8::try_from(*len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(SpecProblem::PrefixTooLong(text.clone(), max)),
    }
}

/// `2001:2::1` or `fe80::1%eth0`: the address and its zone.
fn parse_ipv6(base: &str) -> Result<(Ipv6Addr, Option<String>), SpecProblem> {
    let (addr, zone) = match base.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (base, None),
    };
    let zone = match zone {
        Some(z) if z.is_empty() || !is_zone(z) => return Err(SpecProblem::MisplacedZone),
        z => z.map(str::to_owned),
    };
    let addr = addr.parse::<Ipv6Addr>().map_err(|_| SpecProblem::NotIpv6(addr.to_owned()))?;
    Ok((addr, zone))
}

/// An interface name as Linux allows it: up to 15 bytes, no `/`, `%` or space.
fn is_zone(text: &str) -> bool {
    text.len() <= 15 && text.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'%')
}

/// fe80::/10 (RFC 4291 2.5.6).
fn is_link_local(addr: u128) -> bool {
    addr >> 118 == 0x3fa
}

fn parse_octets(base: &str) -> Result<Octets, SpecProblem> {
    let parts: Vec<&str> = base.split('.').collect();
    if parts.len() != 4 {
        return Err(SpecProblem::OctetCount(parts.len()));
    }
    let mut octets = Octets::default();
    for (slot, part) in octets.iter_mut().zip(parts) {
        for item in part.split(',') {
            let segment = match item {
                "" => return Err(SpecProblem::EmptyOctet),
                "*" | "-" => (0, 255),
                _ => match item.split_once('-') {
                    None => parse_octet(item).map(|v| (v, v))?,
                    Some((lo, hi)) => {
                        let lo = if lo.is_empty() { 0 } else { parse_octet(lo)? };
                        let hi = if hi.is_empty() { 255 } else { parse_octet(hi)? };
                        if lo > hi {
                            return Err(SpecProblem::Backwards(lo, hi));
                        }
                        (lo, hi)
                    }
                },
            };
            slot.push(segment);
        }
        slot.sort_unstable();
        slot.dedup_by(|next, kept| {
            let touches = u16::from(next.0) <= u16::from(kept.1) + 1;
            if touches {
                kept.1 = kept.1.max(next.1);
            }
            touches
        });
    }
    Ok(octets)
}

fn parse_octet(text: &str) -> Result<u8, SpecProblem> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecProblem::NotAnOctet(text.to_owned()));
    }
    text.parse().map_err(|_| SpecProblem::OctetTooLarge(trim_zeros(text)))
}

fn trim_zeros(digits: &str) -> String {
    digits.trim_start_matches('0').to_owned()
}

/// Letters, digits, `-`, `_` and `.`, at most 253 characters, starting with a letter or digit.
fn is_hostname(text: &str) -> bool {
    text.len() <= 253
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The block of `addr/len`, host bits ignored.
fn cidr(addr: u32, len: u8) -> Range {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    (addr & mask, addr | !mask)
}

/// The IPv6 block of `addr/len`, host bits ignored.
fn cidr6(addr: u128, len: u8) -> Range6 {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    (addr & mask, addr | !mask)
}

/// Splits an `--exclude` list on the commas that start a new spec.
fn split_exclude(list: &str) -> Vec<&str> {
    let numeric = |s: &str, slash: bool| {
        let s = s.trim();
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b".,-*".contains(&b) || (slash && b == b'/'))
    };
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for piece in list.split(',') {
        let end = start + piece.len();
        match items.last_mut() {
            Some(last)
                if numeric(&list[last.0..last.1], false)
                    && numeric(piece, true)
                    && (list[last.0..last.1].matches('.').count() < 3 || !piece.contains('.')) =>
            {
                last.1 = end;
            }
            _ => items.push((start, end)),
        }
        start = end + 1;
    }
    items.into_iter().map(|(s, e)| list[s..e].trim()).filter(|s| !s.is_empty()).collect()
}

/// An address as an integer: what range arithmetic needs of `u32` and `u128`.
trait Bound: Copy + Ord {
    /// The next address, if any.
    fn succ(self) -> Option<Self>;
    /// The previous address (never called on zero).
    fn pred(self) -> Self;
}

impl Bound for u32 {
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn pred(self) -> u32 {
        self - 1
    }
}

impl Bound for u128 {
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn pred(self) -> u128 {
        self - 1
    }
}

/// Sorts and merges overlapping or adjacent ranges.
fn normalize<T: Bound>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    ranges.dedup_by(|next, kept| {
        let touches = kept.1.succ().map_or(true, |after| next.0 <= after);
        if touches {
            kept.1 = kept.1.max(next.1);
        }
        touches
    });
    ranges
}

/// `include` minus `exclude`, both normalized.
fn subtract<T: Bound>(include: &[(T, T)], exclude: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(include.len());
    let mut j = 0;
    'ranges: for &(mut start, end) in include {
        while j < exclude.len() && exclude[j].1 < start {
            j += 1;
        }
        for &(ex_start, ex_end) in exclude[j..].iter().take_while(|x| x.0 <= end) {
            if ex_start > start {
                out.push((start, ex_start.pred()));
            }
            if ex_end >= end {
                continue 'ranges;
            }
            start = ex_end.succ().expect("below end");
        }
        out.push((start, end));
    }
    out
}

/// Prefix sums of the range sizes.
fn ends<T: Bound + Into<u128>>(ranges: &[(T, T)]) -> Vec<u64> {
    let mut total = 0u64;
    ranges
        .iter()
        .map(|&(s, e)| {
            total += (e.into() - s.into()) as u64 + 1;
            total
        })
        .collect()
}

/// A sorted, deduplicated set of IPv4 and IPv6 targets, addressable by
/// index: IPv4 addresses first, ascending, then IPv6 ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    /// Disjoint, non-adjacent, ascending.
    ranges: Vec<Range>,
    /// `ends[i]`: number of addresses in `ranges[..=i]`.
    ends: Vec<u64>,
    /// The same for IPv6.
    ranges6: Vec<Range6>,
    ends6: Vec<u64>,
    /// The interface each link-local block was given with.
    zones: Vec<(Range6, String)>,
}

impl TargetSet {
    /// A new [`TargetSetBuilder`].
    pub fn builder() -> TargetSetBuilder {
        TargetSetBuilder::new()
    }

    /// The same set less `addrs` (those not in it change nothing).
    pub fn without(&self, addrs: &[Ipv4Addr]) -> TargetSet {
        let exclude = normalize(addrs.iter().map(|&a| (u32::from(a), u32::from(a))).collect());
        let mut set = TargetSet::from_ranges(subtract(&self.ranges, &exclude), self.ranges6.clone());
        set.zones.clone_from(&self.zones);
        set
    }

    /// The set's addresses of one family only.
    pub fn only(&self, family: Family) -> TargetSet {
        match family {
            Family::V4 => TargetSet::from_ranges(self.ranges.clone(), Vec::new()),
            Family::V6 => {
                let mut set = TargetSet::from_ranges(Vec::new(), self.ranges6.clone());
                set.zones.clone_from(&self.zones);
                set
            }
        }
    }

    fn from_ranges(ranges: Vec<Range>, ranges6: Vec<Range6>) -> TargetSet {
        TargetSet { ends: ends(&ranges), ranges, ends6: ends(&ranges6), ranges6, zones: Vec::new() }
    }

    /// Number of addresses (up to 2^32 IPv4 plus [`MAX_IPV6_TOTAL`]).
    pub fn len(&self) -> u64 {
        self.len_v4() + self.len_v6()
    }

    /// Number of IPv4 addresses; they come first in the index.
    pub fn len_v4(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Number of IPv6 addresses; they follow the IPv4 ones in the index.
    pub fn len_v6(&self) -> u64 {
        self.ends6.last().copied().unwrap_or(0)
    }

    /// True when there is no address.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.ranges6.is_empty()
    }

    /// The `index`-th address (IPv4 ascending, then IPv6 ascending), in O(log ranges).
    #[inline]
    pub fn get(&self, index: u64) -> Option<IpAddr> {
        let v4 = self.len_v4();
        if index < v4 {
            let i = self.ends.partition_point(|&end| end <= index);
            let before = if i == 0 { 0 } else { self.ends[i - 1] };
            return Some(IpAddr::V4(Ipv4Addr::from(self.ranges[i].0 + (index - before) as u32)));
        }
        let index = index - v4;
        let i = self.ends6.partition_point(|&end| end <= index);
        let &(start, _) = self.ranges6.get(i)?;
        let before = if i == 0 { 0 } else { self.ends6[i - 1] };
        Some(IpAddr::V6(Ipv6Addr::from(start + u128::from(index - before))))
    }

    /// The index of `addr`, the inverse of [`get`](TargetSet::get).
    pub fn index_of(&self, addr: IpAddr) -> Option<u64> {
        match addr {
            IpAddr::V4(addr) => {
                let a = u32::from(addr);
                let i = self.ranges.partition_point(|&(_, end)| end < a);
                let &(start, _) = self.ranges.get(i).filter(|r| r.0 <= a)?;
                let before = if i == 0 { 0 } else { self.ends[i - 1] };
                Some(before + u64::from(a - start))
            }
            IpAddr::V6(addr) => {
                let a = u128::from(addr);
                let i = self.ranges6.partition_point(|&(_, end)| end < a);
                let &(start, _) = self.ranges6.get(i).filter(|r| r.0 <= a)?;
                let before = if i == 0 { 0 } else { self.ends6[i - 1] };
                Some(self.len_v4() + before + (a - start) as u64)
            }
        }
    }

    /// True when `addr` is a target.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.index_of(addr).is_some()
    }

    /// The interface a link-local target was given with (`fe80::1%eth0`).
    pub fn zone(&self, addr: Ipv6Addr) -> Option<&str> {
        let a = u128::from(addr);
        self.zones.iter().find(|((lo, hi), _)| (*lo..=*hi).contains(&a)).map(|(_, z)| z.as_str())
    }

    /// The disjoint inclusive IPv4 ranges, ascending.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = (Ipv4Addr, Ipv4Addr)> + '_ {
        self.ranges.iter().map(|&(s, e)| (Ipv4Addr::from(s), Ipv4Addr::from(e)))
    }

    /// The disjoint inclusive IPv6 ranges, ascending.
    pub fn ranges_v6(&self) -> impl ExactSizeIterator<Item = (Ipv6Addr, Ipv6Addr)> + '_ {
        self.ranges6.iter().map(|&(s, e)| (Ipv6Addr::from(s), Ipv6Addr::from(e)))
    }

    /// Every range of both families, in index order.
    pub fn ip_ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
        let v4 = self.ranges().map(|(s, e)| (IpAddr::V4(s), IpAddr::V4(e)));
        v4.chain(self.ranges_v6().map(|(s, e)| (IpAddr::V6(s), IpAddr::V6(e))))
    }

    /// Every address in index order: IPv4 ascending, then IPv6 ascending.
    pub fn iter(&self) -> Iter<'_> {
        Iter { v4: &self.ranges, v6: &self.ranges6, offset: 0, remaining: self.len() }
    }
}

impl<'a> IntoIterator for &'a TargetSet {
    type Item = IpAddr;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over a [`TargetSet`] in index order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    v4: &'a [Range],
    v6: &'a [Range6],
    /// Position inside the first range left.
    offset: u128,
    remaining: u64,
}

impl Iterator for Iter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        if let Some((&(start, end), rest)) = self.v4.split_first() {
            let addr = start + self.offset as u32;
            if addr == end {
                self.v4 = rest;
                self.offset = 0;
            } else {
                self.offset += 1;
            }
            self.remaining -= 1;
            return Some(IpAddr::V4(Ipv4Addr::from(addr)));
        }
        let (&(start, end), rest) = self.v6.split_first()?;
        let addr = start + self.offset;
        if addr == end {
            self.v6 = rest;
            self.offset = 0;
        } else {
            self.offset += 1;
        }
        self.remaining -= 1;
        Some(IpAddr::V6(Ipv6Addr::from(addr)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining);
        (n.unwrap_or(usize::MAX), n.ok())
    }
}

impl std::iter::FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v6;
