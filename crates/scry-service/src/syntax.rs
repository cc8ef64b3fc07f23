//! Small pieces of nmap-service-probes syntax shared by the line parser and
//! the template parser: nmap's C-string escapes, port lists, the `Exclude`
//! port spec and integers read the way nmap's `strtol`/`atoi` calls read them.
//!
//! Every function works on the bytes of one line and reports failures as a
//! [`Fail`]: a byte offset into what it was given plus what was expected,
//! which the caller turns into `file:line:column`.

/// A syntax failure inside one line: byte offset and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    /// Byte offset, relative to the slice the failing function was given.
    pub at: usize,
    /// What the parser expected there.
    pub expected: String,
}

impl Fail {
    pub(crate) fn new(at: usize, expected: impl Into<String>) -> Fail {
        Fail { at, expected: expected.into() }
    }

    /// The same failure seen from a slice that starts `base` bytes earlier.
    pub(crate) fn shift(self, base: usize) -> Fail {
        Fail { at: self.at + base, expected: self.expected }
    }
}

/// nmap's `isspace` in the C locale.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// nmap's `isprint` in the C locale: 0x20 to 0x7e.
pub(crate) fn is_print(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// Decodes nmap's C-style escapes (`cstring_unescape` in nmap's utils.cc):
/// `\\`, `\0`, `\n`, `\r`, `\t` and `\xHH` with exactly two hex digits;
/// nmap refuses every other escape, and so does this.
pub(crate) fn unescape(text: &[u8]) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let byte = match text.get(i + 1) {
            Some(b'\\') => b'\\',
            Some(b'0') => 0,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'x') => {
                let hex = |k: usize| text.get(k).and_then(|&c| (c as char).to_digit(16));
                match (hex(i + 2), hex(i + 3)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 4;
                        continue;
                    }
                    _ => return Err(Fail::new(i, "expected two hex digits after \\x")),
                }
            }
            _ => return Err(Fail::new(i, "expected one of the escapes \\\\ \\0 \\n \\r \\t \\xHH")),
        };
        out.push(byte);
        i += 2;
    }
    Ok(out)
}

/// Reads a run of decimal digits at `at`; returns (value, end). Values that
/// overflow saturate, so the range check that follows rejects them.
fn digits(text: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut end = at;
    let mut value: u64 = 0;
    while let Some(d) = text.get(end).filter(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        end += 1;
    }
    (end > at).then_some((value, end))
}

fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(|&c| is_space(c)) {
        at += 1;
    }
    at
}

const PORTLIST_EXAMPLE: &str = "expected a port list such as \"21-25,53,80\"";

/// Parses a `ports`/`sslports` list (nmap's `ServiceProbe::setPortVector`):
/// comma-separated ports and `low-high` ranges, 0-65535, whitespace allowed
/// around numbers. Returns the ports sorted and without duplicates.
pub(crate) fn port_list(text: &[u8]) -> Result<Vec<u16>, Fail> {
    let mut ports = Vec::new();
    let mut at = 0;
    loop {
        at = skip_space(text, at);
        let (start, end) = digits(text, at).ok_or_else(|| Fail::new(at, PORTLIST_EXAMPLE))?;
        if start > 65535 {
            return Err(Fail::new(at, "expected a port between 0 and 65535"));
        }
        at = skip_space(text, end);
        let last = if text.get(at) == Some(&b'-') {
            let (last, end) = digits(text, at + 1).ok_or_else(|| Fail::new(at + 1, PORTLIST_EXAMPLE))?;
            if last > 65535 || last < start {
                return Err(Fail::new(at + 1, "expected a range end between the start and 65535"));
            }
            at = skip_space(text, end);
            last
        } else {
            start
        };
        ports.extend(start as u16..=last as u16);
        match text.get(at) {
            None => break,
            Some(b',') => {
                at += 1;
                if skip_space(text, at) == text.len() {
                    break;
                }
            }
            Some(_) => return Err(Fail::new(at, PORTLIST_EXAMPLE)),
        }
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// Ports excluded from version detection by the `Exclude` directive, per
/// protocol, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExcludedPorts {
    /// Excluded TCP ports.
    pub tcp: Vec<u16>,
    /// Excluded UDP ports.
    pub udp: Vec<u16>,
    /// Excluded SCTP ports (kept for completeness; scry probes no SCTP services).
    pub sctp: Vec<u16>,
}

/// Parses the port spec of `Exclude` the way nmap's `getpts` reads it for
/// this directive: comma-separated ports and ranges (`N`, `N-M`, `-M`, `N-`),
/// a `T:`, `U:` or `S:` prefix switching the protocol for what follows; ports
/// before any prefix apply to every protocol. Service names and wildcards,
/// which `getpts` also accepts, are not supported and are reported.
pub(crate) fn exclude_spec(text: &[u8]) -> Result<ExcludedPorts, Fail> {
    #[derive(Clone, Copy)]
    enum Scope {
        All,
        Tcp,
        Udp,
        Sctp,
    }
    let mut scope = Scope::All;
    let mut out = ExcludedPorts::default();
    let end_trim = text.iter().rposition(|&c| !is_space(c)).map_or(0, |p| p + 1);
    let text = &text[..end_trim];
    let mut at = skip_space(text, 0);
    if at == text.len() {
        return Err(Fail::new(at, "expected ports after \"Exclude \""));
    }
    while at < text.len() {
        if text.get(at + 1) == Some(&b':') {
            scope = match text[at].to_ascii_uppercase() {
                b'T' => Scope::Tcp,
                b'U' => Scope::Udp,
                b'S' => Scope::Sctp,
                _ => return Err(Fail::new(at, "expected a protocol prefix T:, U: or S:")),
            };
            at += 2;
        }
        let (low, after_low) = match digits(text, at) {
            Some((v, e)) => (v, e),
            None if text.get(at) == Some(&b'-') => (1, at),
            None => return Err(Fail::new(at, "expected a port number or range")),
        };
        let (high, after) = if text.get(after_low) == Some(&b'-') {
            match digits(text, after_low + 1) {
                Some((v, e)) => (v, e),
                None => (65535, after_low + 1),
            }
        } else {
            (low, after_low)
        };
        if low > 65535 || high > 65535 || high < low {
            return Err(Fail::new(at, "expected ports between 0 and 65535, low-high"));
        }
        let range = low as u16..=high as u16;
        match scope {
            Scope::All => {
                out.tcp.extend(range.clone());
                out.udp.extend(range.clone());
                out.sctp.extend(range);
            }
            Scope::Tcp => out.tcp.extend(range),
            Scope::Udp => out.udp.extend(range),
            Scope::Sctp => out.sctp.extend(range),
        }
        at = after;
        match text.get(at) {
            None => {}
            Some(b',') => at += 1,
            Some(_) => return Err(Fail::new(at, "expected ',' between port ranges")),
        }
    }
    for v in [&mut out.tcp, &mut out.udp, &mut out.sctp] {
        v.sort_unstable();
        v.dedup();
    }
    Ok(out)
}

/// Reads an optional `-` or `+` at `at`: (negative, offset after it).
fn sign(text: &[u8], at: usize) -> (bool, usize) {
    match text.get(at) {
        Some(b'-') => (true, at + 1),
        Some(b'+') => (false, at + 1),
        _ => (false, at),
    }
}

/// Reads a directive's integer the way nmap's `strtol(.., 10)`/`atoi` does:
/// leading whitespace, optional sign, digits; anything after is ignored.
/// `None` when there are no digits (which `atoi` would read as 0).
pub(crate) fn leading_int(text: &[u8]) -> Option<i64> {
    let (negative, at) = sign(text, skip_space(text, 0));
    let (v, _) = digits(text, at)?;
    let v = v.min(i64::MAX as u64) as i64;
    Some(if negative { -v } else { v })
}

/// Reads an integer template argument as nmap's `strtol(s, &end, 0)`:
/// leading whitespace, sign, `0x` hex, leading-`0` octal or decimal.
/// Returns (value, bytes consumed) or `None` when no digit was read.
pub(crate) fn strtol0(text: &[u8]) -> Option<(i64, usize)> {
    let (negative, at) = sign(text, skip_space(text, 0));
    let (radix, start) = if text.get(at) == Some(&b'0')
        && matches!(text.get(at + 1), Some(b'x' | b'X'))
        && text.get(at + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, at + 2)
    } else if text.get(at) == Some(&b'0') {
        (8, at)
    } else {
        (10, at)
    };
    let mut end = start;
    let mut value: i64 = 0;
    while let Some(d) = text.get(end).and_then(|&c| (c as char).to_digit(radix)) {
        value = value.saturating_mul(i64::from(radix)).saturating_add(i64::from(d));
        end += 1;
    }
    if end == start {
        return None;
    }
    Some((if negative { -value } else { value }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_accepts_nmaps_escapes_only() {
        assert_eq!(unescape(br"a\r\n\t\0\\\x41\xfF").unwrap(), b"a\r\n\t\0\\A\xff");
        assert_eq!(
            unescape(br"ab\q").unwrap_err(),
            Fail::new(2, "expected one of the escapes \\\\ \\0 \\n \\r \\t \\xHH")
        );
        assert_eq!(unescape(br"\x4").unwrap_err().at, 0);
        assert_eq!(unescape(br"x\").unwrap_err().at, 1);
    }

    #[test]
    fn port_lists_follow_set_port_vector() {
        assert_eq!(port_list(b"80, 21-23 ,8080").unwrap(), vec![21, 22, 23, 80, 8080]);
        assert_eq!(port_list(b"0,65535").unwrap(), vec![0, 65535]);
        assert_eq!(port_list(b"80,").unwrap(), vec![80]);
        assert_eq!(port_list(b"65536").unwrap_err().expected, "expected a port between 0 and 65535");
        assert_eq!(port_list(b"25-21").unwrap_err().at, 3);
        assert_eq!(port_list(b"80;81").unwrap_err().at, 2);
        assert_eq!(port_list(b"").unwrap_err().at, 0);
        assert_eq!(port_list(b"http").unwrap_err().at, 0);
    }

    #[test]
    fn exclude_spec_scopes_protocols() {
        let e = exclude_spec(b"T:9100-9102,U:53,T:1").unwrap();
        assert_eq!(e.tcp, vec![1, 9100, 9101, 9102]);
        assert_eq!(e.udp, vec![53]);
        assert!(e.sctp.is_empty());
        let all = exclude_spec(b"7,9").unwrap();
        assert_eq!(
            (all.tcp.clone(), all.udp.clone(), all.sctp.clone()),
            (vec![7, 9], vec![7, 9], vec![7, 9])
        );
        assert_eq!(exclude_spec(b"T:65530-").unwrap().tcp.len(), 6);
        assert_eq!(exclude_spec(b"X:1").unwrap_err().at, 0);
        assert_eq!(exclude_spec(b"T:http").unwrap_err().at, 2);
        assert_eq!(exclude_spec(b"").unwrap_err().at, 0);
    }

    #[test]
    fn integers_read_like_strtol() {
        assert_eq!(leading_int(b" 6000\n"), Some(6000));
        assert_eq!(leading_int(b"x"), None);
        assert_eq!(strtol0(b" 0x1f)"), Some((31, 5)));
        assert_eq!(strtol0(b"010"), Some((8, 3)));
        assert_eq!(strtol0(b"3,\"a\""), Some((3, 1)));
        assert_eq!(strtol0(b"\"a\""), None);
    }
}
