//! Version templates: `p/…/ v/…/ i/…/ h/…/ o/…/ d/…/ cpe:/…/` and their
//! variables `$1`-`$9`, `$P(n)`, `$SUBST(n,"find","replace")`, `$I(n,">")`.
//!
//! Templates are parsed when the database loads (a malformed variable is a
//! syntax error there) and filled after a match with nmap's rules
//! (service_scan.cc `dotmplsubst`/`substvar`, portlist.cc `cstringSanityCheck`):
//!
//! - a field is filled into a buffer of nmap's size (80 bytes for product,
//!   version, hostname and CPEs, 256 for extrainfo, 32 for OS and device
//!   type); a result that does not fit leaves the field *empty*, it is not cut;
//! - a variable naming a group that did not take part, or beyond the
//!   pattern's groups, leaves the field empty, as does `$I` on more than 8 bytes;
//! - each substitution ends at its first NUL byte (nmap handles C strings);
//! - trailing whitespace and commas are removed;
//! - in CPE templates each substitution is escaped for a CPE URL (CPE 2.2
//!   section 5.4 characters to `%XX`, whitespace to `_`, the rest lower-cased);
//! - finally every byte outside 0x20-0x7e becomes `.`.

use crate::regex::Captures;
use crate::syntax::{is_print, is_space, strtol0, unescape, Fail};

/// nmap's buffer for product, version, hostname and CPEs (`SERVICE_FIELD_LEN`).
pub const FIELD_LEN: usize = 80;
/// nmap's buffer for extrainfo (`SERVICE_EXTRA_LEN`).
pub const EXTRA_LEN: usize = 256;
/// nmap's buffer for OS type and device type (`SERVICE_TYPE_LEN`).
pub const TYPE_LEN: usize = 32;

/// nmap's `SUBSTARGS_STRLEN`: a string argument holds at most 127 bytes.
const MAX_STRING_ARG: usize = 127;
/// nmap's `SUBSTARGS_MAX_ARGS`.
const MAX_ARGS: usize = 5;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes.
    Literal(Vec<u8>),
    /// `$n`: group `n` as is.
    Group(usize),
    /// `$P(n)`: the printable bytes of group `n` only.
    Printable(usize),
    /// `$SUBST(n,"find","replace")`: group `n` with every `find` replaced.
    Subst {
        /// Group number.
        group: usize,
        /// Bytes to find (never empty).
        find: Vec<u8>,
        /// Replacement bytes.
        replace: Vec<u8>,
    },
    /// `$I(n,">")` or `$I(n,"<")`: group `n` read as an unsigned integer.
    Int {
        /// Group number.
        group: usize,
        /// `>`: big-endian, `<`: little-endian.
        big_endian: bool,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug)]
enum Arg {
    Int(i64),
    Str(Vec<u8>),
}

/// Reads a command's arguments after its `(`, following nmap's
/// `getsubstcommandargs`. Returns the arguments and the offset after `)`.
fn command_args(text: &[u8], start: usize) -> Result<(Vec<Arg>, usize), Fail> {
    let mut args = Vec::new();
    let mut at = start;
    while at < text.len() && text[at] != b')' {
        while at < text.len() && is_space(text[at]) {
            at += 1;
        }
        match text.get(at) {
            None | Some(b')') => break,
            Some(b'"') => {
                if args.len() == MAX_ARGS {
                    return Err(Fail::new(at, "expected at most 5 arguments"));
                }
                let open = at;
                let mut raw = Vec::new();
                loop {
                    at += 1;
                    let Some(&c) = text.get(at) else {
                        return Err(Fail::new(open, "expected a closing '\"'"));
                    };
                    // nmap's test: a quote ends the string unless escaped by a single backslash.
                    if c == b'"' && (text[at - 1] != b'\\' || text[at - 2] == b'\\') {
                        break;
                    }
                    if raw.len() >= MAX_STRING_ARG {
                        return Err(Fail::new(open, "expected a string argument of at most 127 bytes"));
                    }
                    raw.push(c);
                }
                let value = unescape(&raw).map_err(|f| f.shift(open + 1))?;
                args.push(Arg::Str(value));
                at += 1;
            }
            Some(_) => {
                let (value, used) = strtol0(&text[at..])
                    .ok_or_else(|| Fail::new(at, "expected a number or a \"string\" argument"))?;
                if args.len() == MAX_ARGS {
                    return Err(Fail::new(at, "expected at most 5 arguments"));
                }
                args.push(Arg::Int(value));
                at += used;
            }
        }
        match text[at..].iter().position(|&c| c == b',' || c == b')') {
            Some(p) if text[at + p] == b',' => at += p + 1,
            Some(p) => at += p,
            None => return Err(Fail::new(at, "expected ',' or ')'")),
        }
    }
    if text.get(at) == Some(&b')') {
        at += 1;
    }
    Ok((args, at))
}

fn group_arg(args: &[Arg], at: usize) -> Result<usize, Fail> {
    match args.first() {
        Some(Arg::Int(n)) if (1..=9).contains(n) => Ok(*n as usize),
        _ => Err(Fail::new(at, "expected a group number 1-9 as first argument")),
    }
}

impl Template {
    /// Parses template text (between the delimiters).
    pub(crate) fn parse(text: &[u8]) -> Result<Template, Fail> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut at = 0;
        while at < text.len() {
            if text[at] != b'$' {
                literal.push(text[at]);
                at += 1;
                continue;
            }
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            let dollar = at;
            let name_start = at + 1;
            match text.get(name_start) {
                Some(d) if d.is_ascii_digit() => {
                    if *d == b'0' {
                        return Err(Fail::new(dollar, "expected a group number $1-$9"));
                    }
                    pieces.push(Piece::Group(usize::from(d - b'0')));
                    at = name_start + 1;
                    continue;
                }
                _ => {}
            }
            let paren = text[name_start..]
                .iter()
                .position(|&c| c == b'(')
                .map(|p| p + name_start)
                .ok_or_else(|| Fail::new(dollar, "expected $1-$9, $P(), $SUBST() or $I()"))?;
            let name = &text[name_start..paren];
            let (args, end) = command_args(text, paren + 1)?;
            let piece = match name {
                b"P" if args.len() == 1 => Piece::Printable(group_arg(&args, dollar)?),
                b"SUBST" => match args.as_slice() {
                    [Arg::Int(_), Arg::Str(find), Arg::Str(replace)] if !find.is_empty() => Piece::Subst {
                        group: group_arg(&args, dollar)?,
                        find: find.clone(),
                        replace: replace.clone(),
                    },
                    _ => {
                        return Err(Fail::new(
                            dollar,
                            "expected $SUBST(group,\"find\",\"replace\") with a non-empty find",
                        ))
                    }
                },
                b"I" => match args.as_slice() {
                    [Arg::Int(_), Arg::Str(e)] if e == b">" || e == b"<" => {
                        Piece::Int { group: group_arg(&args, dollar)?, big_endian: e == b">" }
                    }
                    _ => return Err(Fail::new(dollar, "expected $I(group,\">\") or $I(group,\"<\")")),
                },
                b"P" => return Err(Fail::new(dollar, "expected $P(group)")),
                _ => return Err(Fail::new(dollar, "expected $1-$9, $P(), $SUBST() or $I()")),
            };
            pieces.push(piece);
            at = end;
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Fills the template from a match on `subject` into a buffer of `size`
    /// bytes (nmap's field size), returning the sanitized text or `None`
    /// when nmap would leave the field empty.
    pub fn fill(&self, subject: &[u8], caps: &Captures, size: usize, cpe: bool) -> Option<String> {
        let mut out: Vec<u8> = Vec::new();
        for (k, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(bytes) => {
                    let before_variable = k + 1 < self.pieces.len();
                    let fits = if before_variable {
                        out.len() + bytes.len() <= size
                    } else {
                        out.len() + bytes.len() < size
                    };
                    if !fits {
                        return None;
                    }
                    out.extend_from_slice(bytes);
                }
                variable => {
                    let mut value = substitute(variable, subject, caps)?;
                    if let Some(nul) = value.iter().position(|&c| c == 0) {
                        value.truncate(nul);
                    }
                    if cpe {
                        value = cpe_escape(&value);
                    }
                    if out.len() + value.len() + 1 >= size {
                        return None;
                    }
                    out.extend_from_slice(&value);
                }
            }
        }
        if out.len() + 1 >= size && !matches!(self.pieces.last(), Some(Piece::Literal(_))) {
            return None;
        }
        while out.last().is_some_and(|&c| is_space(c) || c == b',') {
            out.pop();
        }
        if out.is_empty() {
            return None;
        }
        Some(out.iter().map(|&c| if is_print(c) { c as char } else { '.' }).collect())
    }
}

fn group<'s>(subject: &'s [u8], caps: &Captures, n: usize) -> Option<&'s [u8]> {
    caps.get(n).map(|(s, e)| &subject[s..e])
}

/// One variable's value (nmap's `substvar`), `None` when nmap's fails.
fn substitute(piece: &Piece, subject: &[u8], caps: &Captures) -> Option<Vec<u8>> {
    match piece {
        Piece::Literal(b) => Some(b.clone()),
        Piece::Group(n) => group(subject, caps, *n).map(<[u8]>::to_vec),
        Piece::Printable(n) => {
            Some(group(subject, caps, *n)?.iter().copied().filter(|&c| is_print(c)).collect())
        }
        Piece::Subst { group: n, find, replace } => {
            let (start, end) = caps.get(*n)?;
            let mut out = Vec::new();
            let mut i = start;
            while i < end {
                // nmap compares `find` against the subject from i on, even past
                // the group's end (memcmp); the subject bounds it here.
                if subject[i..].starts_with(find) {
                    out.extend_from_slice(replace);
                    i += find.len();
                } else {
                    out.push(subject[i]);
                    i += 1;
                }
            }
            Some(out)
        }
        Piece::Int { group: n, big_endian } => {
            let bytes = group(subject, caps, *n)?;
            if bytes.len() > 8 {
                return None;
            }
            let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
            let value =
                if *big_endian { bytes.iter().fold(0, fold) } else { bytes.iter().rev().fold(0, fold) };
            Some(value.to_string().into_bytes())
        }
    }
}

/// nmap's `transform_cpe`: make a substitution safe inside a CPE URL.
fn cpe_escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &c in value {
        if b":/?#[]@!$&'()*+,;=%<>\"".contains(&c) {
            out.extend_from_slice(format!("%{c:02X}").as_bytes());
        } else if is_space(c) {
            out.push(b'_');
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
