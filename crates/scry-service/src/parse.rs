//! The nmap-service-probes reader: builds a [`ProbeDb`] line by line with
//! the grammar of nmap's `parse_nmap_service_probe_file` (service_scan.cc)
//! and the Nmap book's "nmap-service-probes File Format" section:
//!
//! - blank lines and lines starting with `#` are skipped;
//! - at most one `Exclude` line, before every probe;
//! - `Probe TCP|UDP name q|string| [no-payload]` opens a block; the probe
//!   with an empty string is the NULL probe (only one);
//! - inside a block: `ports`, `sslports`, `rarity` (1-9), `fallback`,
//!   `totalwaitms` and `tcpwrappedms` (100-300000), `match` and `softmatch`;
//! - after the whole file, fallbacks are resolved (nmap's `compileFallbacks`).
//!
//! Unlike nmap, which aborts with a line number, every error here names file,
//! line, column and what was expected; templates are checked at load time.

use std::path::Path;

use crate::db::{
    Probe, ProbeDb, ProbeId, Protocol, ServiceMatch, Templates, DEFAULT_RARITY, DEFAULT_TCPWRAPPED_MS,
    DEFAULT_TOTAL_WAIT_MS,
};
use crate::error::{quote, ProbesError};
use crate::regex::Pattern;
use crate::syntax::{exclude_spec, is_space, leading_int, port_list, unescape, ExcludedPorts, Fail};
use crate::template::Template;

/// nmap reads lines with `fgets` into 8192 bytes: 8190 bytes plus newline.
const MAX_LINE: usize = 8190;
/// nmap's `MAXFALLBACKS` of 20 leaves room for 17 named fallbacks.
const MAX_FALLBACKS: usize = 17;

/// A `fallback` line waiting for every probe to be known.
struct PendingFallback {
    line: usize,
    text: Vec<u8>,
    names: Vec<(usize, Vec<u8>)>,
}

struct Builder<'p> {
    path: &'p Path,
    /// Regexes compiled ahead, in parallel, by line number ([`precompile`]).
    ready: std::collections::HashMap<usize, Pattern>,
    probes: Vec<Probe>,
    fallbacks: Vec<Option<PendingFallback>>,
    null: Option<ProbeId>,
    excluded: Option<ExcludedPorts>,
}

impl Builder<'_> {
    fn error(&self, line: usize, text: &[u8], fail: Fail) -> ProbesError {
        let before = &text[..fail.at.min(text.len())];
        let column = String::from_utf8_lossy(before).chars().count() + 1;
        ProbesError::Syntax {
            path: self.path.to_owned(),
            line,
            column,
            text: quote(&String::from_utf8_lossy(text)),
            expected: fail.expected,
        }
    }

    fn line(&mut self, no: usize, text: &[u8]) -> Result<(), Fail> {
        if let Some(rest) = text.strip_prefix(b"Exclude ") {
            if !self.probes.is_empty() {
                return Err(Fail::new(0, "expected the Exclude directive before every Probe"));
            }
            if self.excluded.is_some() {
                return Err(Fail::new(0, "expected only one Exclude directive"));
            }
            self.excluded = Some(exclude_spec(rest).map_err(|f| f.shift(8))?);
            return Ok(());
        }
        if let Some(rest) = text.strip_prefix(b"Probe ") {
            return self.probe(no, rest).map_err(|f| f.shift(6));
        }
        if self.probes.is_empty() {
            return Err(Fail::new(0, "expected a line beginning with \"Probe \" or \"Exclude \""));
        }
        let probe = self.probes.len() - 1;
        let field = |prefix: &[u8]| text.strip_prefix(prefix).map(|rest| (rest, prefix.len()));
        if let Some((rest, at)) = field(b"ports ") {
            let ports = port_list(rest).map_err(|f| f.shift(at))?;
            merge(&mut self.probes[probe].ports, ports);
        } else if let Some((rest, at)) = field(b"sslports ") {
            let ports = port_list(rest).map_err(|f| f.shift(at))?;
            merge(&mut self.probes[probe].ssl_ports, ports);
        } else if let Some((rest, at)) = field(b"rarity ") {
            self.probes[probe].rarity = match leading_int(rest) {
                Some(r @ 1..=9) => r as u8,
                _ => return Err(Fail::new(at, "expected a rarity between 1 and 9")),
            };
        } else if let Some((rest, at)) = field(b"totalwaitms ") {
            self.probes[probe].total_wait_ms = wait_ms(rest)
                .ok_or_else(|| Fail::new(at, "expected a totalwaitms between 100 and 300000 milliseconds"))?;
        } else if let Some((rest, at)) = field(b"tcpwrappedms ") {
            self.probes[probe].tcpwrapped_ms = wait_ms(rest).ok_or_else(|| {
                Fail::new(at, "expected a tcpwrappedms between 100 and 300000 milliseconds")
            })?;
        } else if let Some((rest, at)) = field(b"fallback ") {
            // nmap splits on ",\r\n\t " and keeps only the last fallback line.
            let mut names = Vec::new();
            let mut start = None;
            for (i, &c) in rest.iter().chain(std::iter::once(&b',')).enumerate() {
                let sep = c == b',' || is_space(c);
                match (sep, start) {
                    (false, None) => start = Some(i),
                    (true, Some(s)) => {
                        names.push((at + s, rest[s..i].to_vec()));
                        start = None;
                    }
                    _ => {}
                }
            }
            if names.is_empty() {
                return Err(Fail::new(at, "expected probe names after \"fallback \""));
            }
            if names.len() > MAX_FALLBACKS {
                return Err(Fail::new(at, "expected at most 17 fallback probes"));
            }
            self.fallbacks[probe] = Some(PendingFallback { line: no, text: text.to_vec(), names });
        } else if text.starts_with(b"match ") || text.starts_with(b"softmatch ") {
            let m = match_line(no, text, self.ready.remove(&no))?;
            let p = &mut self.probes[probe];
            if !p.services.contains(&m.service) {
                p.services.push(m.service.clone());
            }
            p.matches.push(m);
        } else {
            return Err(Fail::new(
                0,
                "expected a directive: Probe, ports, sslports, rarity, fallback, totalwaitms, tcpwrappedms, match or softmatch",
            ));
        }
        Ok(())
    }

    fn probe(&mut self, no: usize, text: &[u8]) -> Result<(), Fail> {
        let protocol = if text.starts_with(b"TCP ") {
            Protocol::Tcp
        } else if text.starts_with(b"UDP ") {
            Protocol::Udp
        } else {
            return Err(Fail::new(0, "expected \"TCP \" or \"UDP \" after \"Probe \""));
        };
        let at = 4;
        if !text.get(at).is_some_and(u8::is_ascii_alphanumeric) {
            return Err(Fail::new(at, "expected a probe name starting with a letter or digit"));
        }
        let space =
            text[at..].iter().position(|&c| c == b' ').map(|p| p + at).ok_or_else(|| {
                Fail::new(text.len(), "expected a space and q|string| after the probe name")
            })?;
        let name = String::from_utf8_lossy(&text[at..space]).into_owned();
        let q = space + 1;
        if text.get(q) != Some(&b'q') {
            return Err(Fail::new(q, "expected the probe string as q|...|"));
        }
        let delim = *text.get(q + 1).ok_or_else(|| Fail::new(q + 1, "expected a delimiter after 'q'"))?;
        let body = q + 2;
        let close =
            text[body.min(text.len())..].iter().position(|&c| c == delim).map(|p| p + body).ok_or_else(
                || Fail::new(q + 1, format!("expected a closing '{}' for the probe string", delim as char)),
            )?;
        let payload = unescape(&text[body..close]).map_err(|f| f.shift(body))?;
        // nmap accepts any words after the string and acts on `no-payload`.
        let no_payload = text[close + 1..].split(|&c| is_space(c)).any(|w| w == b"no-payload");
        let id = ProbeId(self.probes.len());
        if payload.is_empty() {
            if self.null.is_some() {
                return Err(Fail::new(q, "expected only one probe with an empty string (the NULL probe)"));
            }
            self.null = Some(id);
        }
        self.probes.push(Probe {
            protocol,
            name,
            payload,
            no_payload,
            ports: Vec::new(),
            ssl_ports: Vec::new(),
            rarity: DEFAULT_RARITY,
            total_wait_ms: DEFAULT_TOTAL_WAIT_MS,
            tcpwrapped_ms: DEFAULT_TCPWRAPPED_MS,
            matches: Vec::new(),
            fallbacks: Vec::new(),
            services: Vec::new(),
            line: no,
        });
        self.fallbacks.push(None);
        Ok(())
    }

    /// nmap's `getProbeByName`: same protocol first (the NULL probe only for
    /// TCP), then any protocol among the non-NULL probes.
    fn by_name(&self, name: &[u8], protocol: Protocol) -> Option<ProbeId> {
        if protocol == Protocol::Tcp {
            if let Some(null) = self.null.filter(|n| self.probes[n.0].name.as_bytes() == name) {
                return Some(null);
            }
        }
        let others = || (0..self.probes.len()).map(ProbeId).filter(|&id| Some(id) != self.null);
        others()
            .find(|id| self.probes[id.0].protocol == protocol && self.probes[id.0].name.as_bytes() == name)
            .or_else(|| others().find(|id| self.probes[id.0].name.as_bytes() == name))
    }

    /// nmap's `compileFallbacks`: itself, the named probes, then NULL for TCP.
    /// The NULL probe's own chain is just itself.
    fn resolve_fallbacks(&mut self) -> Result<(), ProbesError> {
        for i in 0..self.probes.len() {
            let id = ProbeId(i);
            let mut chain = vec![id];
            if Some(id) != self.null {
                if let Some(pending) = &self.fallbacks[i] {
                    for (at, name) in &pending.names {
                        let target = self.by_name(name, self.probes[i].protocol).ok_or_else(|| {
                            let fail = Fail::new(*at, "expected the name of a probe defined in the file");
                            self.error(pending.line, &pending.text, fail)
                        })?;
                        chain.push(target);
                    }
                }
                if self.probes[i].protocol == Protocol::Tcp {
                    chain.extend(self.null);
                }
            }
            self.probes[i].fallbacks = chain;
        }
        Ok(())
    }
}

fn merge(into: &mut Vec<u16>, more: Vec<u16>) {
    into.extend(more);
    into.sort_unstable();
    into.dedup();
}

fn wait_ms(text: &[u8]) -> Option<u32> {
    leading_int(text).filter(|v| (100..=300_000).contains(v)).map(|v| v as u32)
}

/// One template as nmap's `next_template` reads it.
struct Tpl<'a> {
    mode: &'a [u8],
    mode_at: usize,
    body_at: usize,
    body: &'a [u8],
    flags: &'a [u8],
    flags_at: usize,
}

/// Reads the next `X/…/flags` (or `cpe:/…/flags`) from `text` at `at`.
fn next_template(text: &[u8], mut at: usize) -> Result<Option<(Tpl<'_>, usize)>, Fail> {
    while text.get(at).is_some_and(|&c| is_space(c)) {
        at += 1;
    }
    if at >= text.len() {
        return Ok(None);
    }
    let mode_at = at;
    let mode_len = text[at..].iter().take(3).take_while(|c| c.is_ascii_alphabetic()).count();
    let mode = &text[at..at + mode_len];
    let mut q = at + mode_len;
    // nmap 7.93 reads `cpe:` followed by any delimiter (Debian's file has
    // `cpe:|h:siemens:315-2pn/dp|`); the body is then prefixed with `cpe:/`.
    if text.get(q) == Some(&b':') && mode == b"cpe" {
        q += 1;
    }
    if text.get(q).map_or(true, |&c| is_space(c)) {
        return Err(Fail::new(mode_at, "expected a template such as p/product/ (found a bare word)"));
    }
    let body_at = q + 1;
    let delim = text[q];
    let close = text[q + 1..]
        .iter()
        .position(|&c| c == delim)
        .map(|p| p + q + 1)
        .ok_or_else(|| Fail::new(q, format!("expected a closing '{}'", delim as char)))?;
    let flags_at = close + 1;
    let flags_len = text[flags_at..].iter().take(3).take_while(|c| c.is_ascii_alphabetic()).count();
    let end = flags_at + flags_len;
    if text.get(end).is_some_and(|&c| !is_space(c)) {
        return Err(Fail::new(end, "expected whitespace after the template (at most 3 flag letters)"));
    }
    let tpl =
        Tpl { mode, mode_at, body_at, body: &text[body_at..close], flags: &text[flags_at..end], flags_at };
    Ok(Some((tpl, end)))
}

/// The regex of a `match`/`softmatch` line and its `i` and `s` flags, when
/// the line gets that far; anything else is left to [`match_line`] to report.
fn regex_of(text: &[u8]) -> Option<(&[u8], bool, bool)> {
    let at = if text.starts_with(b"softmatch ") { 10 } else { 6 };
    let space = text[at..].iter().position(|&c| c == b' ').map(|p| p + at).filter(|&s| s > at)?;
    let (re, _) = next_template(text, space).ok()??;
    let flags_known = re.flags.iter().all(|f| matches!(f, b'i' | b's'));
    (re.mode == b"m" && flags_known).then(|| (re.body, re.flags.contains(&b'i'), re.flags.contains(&b's')))
}

/// Below this many match lines, compiling them in parallel is not worth threads.
const PARALLEL_FROM: usize = 512;

/// Compiles the regexes of the `match`/`softmatch` lines among `lines`
/// (numbered from 1) on every core: most of loading Debian's file (about
/// 12 000 regexes). Patterns that fail are left out; the line-by-line pass
/// compiles them again and reports the first failure in file order.
fn precompile(lines: &[&[u8]]) -> std::collections::HashMap<usize, Pattern> {
    let wanted: Vec<(usize, &[u8])> = lines
        .iter()
        .enumerate()
        .filter(|(_, t)| t.starts_with(b"match ") || t.starts_with(b"softmatch "))
        .map(|(i, t)| (i + 1, *t))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if wanted.len() < PARALLEL_FROM || cores < 2 {
        return std::collections::HashMap::new();
    }
    let compile = |chunk: &[(usize, &[u8])]| -> Vec<(usize, Pattern)> {
        chunk
            .iter()
            .filter_map(|&(no, text)| {
                let (body, caseless, dotall) = regex_of(text)?;
                Some((no, Pattern::compile(body, caseless, dotall).ok()?))
            })
            .collect()
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = wanted
            .chunks(wanted.len().div_ceil(cores))
            .map(|chunk| scope.spawn(move || compile(chunk)))
            .collect();
        // A worker that panicked leaves its lines to the line-by-line pass.
        workers.into_iter().filter_map(|w| w.join().ok()).flatten().collect()
    })
}

/// Parses a whole `match`/`softmatch` line (nmap's `InitMatch`); `ready`
/// is its regex if [`precompile`] compiled it.
fn match_line(no: usize, text: &[u8], ready: Option<Pattern>) -> Result<ServiceMatch, Fail> {
    let (soft, at) = if text.starts_with(b"softmatch ") { (true, 10) } else { (false, 6) };
    let space = text[at..]
        .iter()
        .position(|&c| c == b' ')
        .map(|p| p + at)
        .ok_or_else(|| Fail::new(at, "expected a service name followed by m/regex/"))?;
    if space == at {
        return Err(Fail::new(at, "expected a service name"));
    }
    let service = String::from_utf8_lossy(&text[at..space]).into_owned();
    let (re, mut at) = next_template(text, space)?
        .ok_or_else(|| Fail::new(text.len(), "expected m/regex/ after the service name"))?;
    if re.mode != b"m" {
        return Err(Fail::new(re.mode_at, "expected the regex as m/.../"));
    }
    let (mut caseless, mut dotall) = (false, false);
    for (k, &f) in re.flags.iter().enumerate() {
        match f {
            b'i' => caseless = true,
            b's' => dotall = true,
            _ => return Err(Fail::new(re.flags_at + k, "expected regex flags i or s")),
        }
    }
    let pattern = match ready {
        Some(pattern) => pattern,
        None => Pattern::compile(re.body, caseless, dotall).map_err(|e| {
            Fail::new(re.body_at + e.offset, format!("expected a valid PCRE2 regex ({})", e.message))
        })?,
    };
    if pattern.matches_empty() {
        return Err(Fail::new(re.body_at, "expected a regex that cannot match an empty string"));
    }
    let pattern_text = re.body.to_vec();
    let mut templates = Templates::default();
    while let Some((t, end)) = next_template(text, at)? {
        at = end;
        let parsed = if t.mode == b"cpe" {
            let text = [&b"cpe:/"[..], t.body].concat();
            Template::parse(&text).map_err(|f| Fail::new((t.body_at + f.at).saturating_sub(5), f.expected))?
        } else {
            Template::parse(t.body).map_err(|f| f.shift(t.body_at))?
        };
        // A repeated template replaces the earlier one, as in nmap.
        let slot = match t.mode {
            b"p" => &mut templates.product,
            b"v" => &mut templates.version,
            b"i" => &mut templates.info,
            b"h" => &mut templates.hostname,
            b"o" => &mut templates.ostype,
            b"d" => &mut templates.devicetype,
            b"cpe" => {
                let part = t.body.first().copied().filter(|c| matches!(c, b'a' | b'h' | b'o'));
                templates.cpes.push((part, parsed));
                continue;
            }
            _ => return Err(Fail::new(t.mode_at, "expected a template p/ v/ i/ h/ o/ d/ or cpe:/")),
        };
        *slot = Some(parsed);
    }
    Ok(ServiceMatch { service, soft, line: no, pattern_text, pattern, templates })
}

/// Builds the database from the file's bytes.
pub(crate) fn build(path: &Path, bytes: &[u8]) -> Result<ProbeDb, ProbesError> {
    let split: Vec<&[u8]> =
        bytes.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    let ready = precompile(&split);
    let mut b =
        Builder { path, ready, probes: Vec::new(), fallbacks: Vec::new(), null: None, excluded: None };
    let mut lines = bytes.split(|&c| c == b'\n').peekable();
    let mut no = 0;
    while let Some(raw) = lines.next() {
        no += 1;
        if raw.is_empty() && lines.peek().is_none() {
            break;
        }
        let text = raw.strip_suffix(b"\r").unwrap_or(raw);
        if text.len() > MAX_LINE {
            return Err(b.error(no, text, Fail::new(MAX_LINE, "expected a line of at most 8190 bytes")));
        }
        if text.is_empty() || text[0] == b'#' {
            continue;
        }
        b.line(no, text).map_err(|fail| b.error(no, text, fail))?;
    }
    b.resolve_fallbacks()?;
    Ok(ProbeDb { path: path.to_owned(), probes: b.probes, null: b.null, excluded: b.excluded })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
