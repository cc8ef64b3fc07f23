//! nmap-style IPv4 target specifications, compiled into a [`TargetSet`].
//!
//! Accepted forms (Nmap book, "Target Specification"):
//!
//! - an address, `198.18.0.1`, or a CIDR block, `198.18.0.0/24` (`/0` to
//!   `/32`); host bits are ignored as in nmap, so `198.18.0.77/24` is the /24.
//! - octet ranges and lists: `198.18.0.1-20`, `198.18.1-2.0-255`,
//!   `198.18.0.1,3,5-7`; `-` or `*` alone is 0-255, `250-` is 250-255 and
//!   `-9` is 0-9. Ranges cannot be combined with a `/prefix`.
//! - a hostname, optionally with a prefix (`example.org/24`). It is resolved
//!   once, when added, with the system resolver (`ToSocketAddrs`); like nmap,
//!   only the first IPv4 address is used. With `-n` ([`TargetSetBuilder::no_resolve`])
//!   a hostname is an error naming it. A token made only of digits, dots,
//!   commas, dashes and `*` (or whose last label is all digits) is always an
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
//! `198.18.1,2.0.1` stays whole. A spec with a `/prefix` is never continued.
//!
//! A [`TargetSet`] is a sorted list of disjoint inclusive ranges with prefix
//! sums, so `len`, `get(index)` (O(log n)) and `contains` need no expansion.
//! Memory is O(ranges): each of the include and exclude sides holds at most
//! [`MAX_RANGES`] ranges by default ([`TargetSetBuilder::max_ranges`]);
//! duplicates are merged before the limit is enforced, and a spec like `0-255.0-255.0-255.1` (16M single addresses) is
//! refused with [`TargetError::TooManyRanges`] before anything is allocated.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

use thiserror::Error;

/// Default most ranges held on each of the include and exclude sides (32 MiB each).
pub const MAX_RANGES: usize = 1 << 22;

/// A hostname resolver: all addresses of a name, IPv4 or not.
pub type Resolver = Box<dyn FnMut(&str) -> io::Result<Vec<IpAddr>> + Send>;

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
    /// A hostname that did not give an IPv4 address.
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
    /// Anything with a colon.
    #[error("IPv6 targets are not supported (scry scans IPv4 only)")]
    Ipv6,
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
    /// `/33` and beyond.
    #[error("prefix length {0} is larger than 32")]
    PrefixTooLong(String),
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
    /// The name has addresses, but none is IPv4.
    #[error("it has no IPv4 address")]
    NoIpv4,
}

/// An inclusive range of addresses as integers.
type Range = (u32, u32);

/// Per-octet sorted, merged value segments of an octet-range spec.
type Octets = [Vec<(u8, u8)>; 4];

/// Collects includes and excludes, then [`build`](TargetSetBuilder::build)s a [`TargetSet`].
pub struct TargetSetBuilder {
    include: Vec<Range>,
    exclude: Vec<Range>,
    no_resolve: bool,
    max_ranges: usize,
    resolver: Resolver,
    resolved: HashMap<String, Ipv4Addr>,
}

impl fmt::Debug for TargetSetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetSetBuilder")
            .field("include_ranges", &self.include.len())
            .field("exclude_ranges", &self.exclude.len())
            .field("no_resolve", &self.no_resolve)
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
            no_resolve: false,
            max_ranges: MAX_RANGES,
            resolver: Box::new(|host| Ok((host, 0).to_socket_addrs()?.map(|a| a.ip()).collect())),
            resolved: HashMap::new(),
        }
    }

    /// `-n`: refuse hostnames instead of resolving them.
    pub fn no_resolve(mut self, yes: bool) -> Self {
        self.no_resolve = yes;
        self
    }

    /// Caps the ranges held on each side (default [`MAX_RANGES`]).
    pub fn max_ranges(mut self, limit: usize) -> Self {
        self.max_ranges = limit;
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
        let include = normalize(self.include);
        let exclude = normalize(self.exclude);
        TargetSet::from_ranges(subtract(&include, &exclude))
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
        if token.contains(':') {
            return Err(bad(SpecProblem::Ipv6));
        }
        let (base, prefix) = match token.split_once('/') {
            Some((base, prefix)) => (base, Some(parse_prefix(prefix).map_err(bad)?)),
            None => (token, None),
        };
        if base.is_empty() {
            return Err(bad(SpecProblem::MissingAddress));
        }
        let last_label_numeric =
            base.rsplit('.').next().is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
        let numeric = base.bytes().all(|b| b.is_ascii_digit() || b".,-*".contains(&b));
        let block = if numeric || last_label_numeric {
            let octets = parse_octets(base).map_err(bad)?;
            match prefix {
                None => return self.push_octets(token, &octets, exclude),
                Some(len) if octets.iter().all(|o| o.len() == 1 && o[0].0 == o[0].1) => {
                    let addr = octets.iter().fold(0u32, |acc, o| acc << 8 | u32::from(o[0].0));
                    (addr, len)
                }
                Some(_) => return Err(bad(SpecProblem::RangeWithPrefix)),
            }
        } else {
            if !is_hostname(base) {
                return Err(bad(SpecProblem::NotAHostname));
            }
            (u32::from(self.resolve(base)?), prefix.unwrap_or(32))
        };
        let list = if exclude { &mut self.exclude } else { &mut self.include };
        reserve(list, self.max_ranges, token, 1)?;
        list.push(cidr(block.0, block.1));
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

    fn resolve(&mut self, host: &str) -> Result<Ipv4Addr, TargetError> {
        let fail = |problem| TargetError::Resolve { host: host.to_owned(), problem };
        if self.no_resolve {
            return Err(fail(ResolveProblem::Disabled));
        }
        let key = host.to_ascii_lowercase();
        if let Some(&addr) = self.resolved.get(&key) {
            return Ok(addr);
        }
        let addrs = (self.resolver)(host).map_err(|e| fail(ResolveProblem::Lookup(e)))?;
        let addr = addrs
            .into_iter()
            .find_map(|a| match a {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .ok_or_else(|| fail(ResolveProblem::NoIpv4))?;
        self.resolved.insert(key, addr);
        Ok(addr)
    }
}

/// Makes room for `count` more ranges in `list`, merging duplicates if needed.
fn reserve(list: &mut Vec<Range>, limit: usize, token: &str, count: u64) -> Result<(), TargetError> {
    let fits = |list: &Vec<Range>| count <= (limit - list.len().min(limit)) as u64;
    if !fits(list) {
        *list = normalize(std::mem::take(list));
        if !fits(list) {
            return Err(TargetError::TooManyRanges { token: token.to_owned(), ranges: count, limit });
        }
    }
    Ok(())
}

fn parse_prefix(text: &str) -> Result<u8, SpecProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecProblem::PrefixNotNumber(text.to_owned()));
    }
    match text.parse::<u8>() {
        Ok(len) if len <= 32 => Ok(len),
        _ => Err(SpecProblem::PrefixTooLong(trim_zeros(text))),
    }
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

/// Sorts and merges overlapping or adjacent ranges.
fn normalize(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    ranges.dedup_by(|next, kept| {
        let touches = u64::from(next.0) <= u64::from(kept.1) + 1;
        if touches {
            kept.1 = kept.1.max(next.1);
        }
        touches
    });
    ranges
}

/// `include` minus `exclude`, both normalized.
fn subtract(include: &[Range], exclude: &[Range]) -> Vec<Range> {
    let mut out = Vec::with_capacity(include.len());
    let mut j = 0;
    'ranges: for &(mut start, end) in include {
        while j < exclude.len() && exclude[j].1 < start {
            j += 1;
        }
        for &(ex_start, ex_end) in exclude[j..].iter().take_while(|x| x.0 <= end) {
            if ex_start > start {
                out.push((start, ex_start - 1));
            }
            if ex_end >= end {
                continue 'ranges;
            }
            start = ex_end + 1;
        }
        out.push((start, end));
    }
    out
}

/// A sorted, deduplicated set of IPv4 targets, addressable by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    /// Disjoint, non-adjacent, ascending.
    ranges: Vec<Range>,
    /// `ends[i]`: number of addresses in `ranges[..=i]`.
    ends: Vec<u64>,
}

impl TargetSet {
    /// A new [`TargetSetBuilder`].
    pub fn builder() -> TargetSetBuilder {
        TargetSetBuilder::new()
    }

    /// The same set less `addrs` (those not in it change nothing).
    pub fn without(&self, addrs: &[Ipv4Addr]) -> TargetSet {
        let exclude = normalize(addrs.iter().map(|&a| (u32::from(a), u32::from(a))).collect());
        TargetSet::from_ranges(subtract(&self.ranges, &exclude))
    }

    fn from_ranges(ranges: Vec<Range>) -> TargetSet {
        let mut total = 0u64;
        let ends = ranges
            .iter()
            .map(|&(s, e)| {
                total += u64::from(e - s) + 1;
                total
            })
            .collect();
        TargetSet { ranges, ends }
    }

    /// Number of addresses (up to 2^32).
    pub fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// True when there is no address.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The `index`-th address in ascending order, in O(log ranges).
    pub fn get(&self, index: u64) -> Option<Ipv4Addr> {
        let i = self.ends.partition_point(|&end| end <= index);
        let &(start, _) = self.ranges.get(i)?;
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(Ipv4Addr::from(start + (index - before) as u32))
    }

    /// The index of `addr`, the inverse of [`get`](TargetSet::get).
    pub fn index_of(&self, addr: Ipv4Addr) -> Option<u64> {
        let a = u32::from(addr);
        let i = self.ranges.partition_point(|&(_, end)| end < a);
        let &(start, _) = self.ranges.get(i).filter(|r| r.0 <= a)?;
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(before + u64::from(a - start))
    }

    /// True when `addr` is a target.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.index_of(addr).is_some()
    }

    /// The disjoint inclusive ranges, ascending.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = (Ipv4Addr, Ipv4Addr)> + '_ {
        self.ranges.iter().map(|&(s, e)| (Ipv4Addr::from(s), Ipv4Addr::from(e)))
    }

    /// Every address, ascending.
    pub fn iter(&self) -> Iter<'_> {
        Iter { ranges: &self.ranges, offset: 0, remaining: self.len() }
    }
}

impl<'a> IntoIterator for &'a TargetSet {
    type Item = Ipv4Addr;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Ascending iterator over a [`TargetSet`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    ranges: &'a [Range],
    offset: u32,
    remaining: u64,
}

impl Iterator for Iter<'_> {
    type Item = Ipv4Addr;

    fn next(&mut self) -> Option<Ipv4Addr> {
        let (&(start, end), rest) = self.ranges.split_first()?;
        let addr = start + self.offset;
        if addr == end {
            self.ranges = rest;
            self.offset = 0;
        } else {
            self.offset += 1;
        }
        self.remaining -= 1;
        Some(Ipv4Addr::from(addr))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining);
        (n.unwrap_or(usize::MAX), n.ok())
    }
}

impl std::iter::FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests;
