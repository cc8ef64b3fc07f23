//! Reference-fingerprint value expressions, parsed once and matched fast.
//!
//! A reference fingerprint does not hold plain values but small expressions
//! (Nmap book, "Understanding an Nmap Fingerprint", section "Test
//! expressions"): alternatives `a|b|c`, inclusive hex ranges `a-b`, hex
//! comparisons `>N` / `<N`, the empty value, and (in newer databases, inside
//! TCP option strings only) bracketed groups such as `M[>500]ST11W[1-5]`.
//!
//! [`Expr::parse`] validates an expression once when the database loads and
//! keeps both a clean syntax tree and, per alternative, how nmap 7.93's
//! `expr_match` (osscan.cc) reads the same text. That function has quirks the
//! installed nmap really exhibits, so [`Dialect::Nmap793`] reproduces them:
//!
//! * a non-last alternative matches when the value *starts with* it
//!   (`strncmp` over the alternative's length), so `Q=|U` and `O=|M5B4`
//!   accept any value;
//! * when the observed value is a hex number, an alternative that is not
//!   `<`/`>` is only tried as a range if a `-` occurs anywhere from it to the
//!   end of the expression; if it is not itself a range it is skipped, so
//!   value `1` does *not* match `TS=1|5-7`;
//! * "is a hex number" is C's `strtol(.., 16)` consuming the whole value,
//!   which makes the empty value the number 0; numbers are `unsigned int`.
//!
//! [`Dialect::Modern`] applies the rules as the book states them instead:
//! each alternative is matched on its own, literals exactly, numbers as hex.
//! Both dialects honour bracketed groups (7.93's database has none).

use std::fmt;

mod legacy;
#[cfg(test)]
mod tests;

pub(crate) use legacy::c_strtol_hex;
use legacy::Legacy;

/// Which version of nmap's matching rules to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// nmap 7.93 exactly (Debian 12's nmap, scry's oracle): the quirks listed
    /// in the module docs, and a reference test line without `R` scores no `R`.
    #[default]
    Nmap793,
    /// The Nmap book's rules, as newer nmap releases implement them: each
    /// alternative matched exactly, and a reference test line that has
    /// attributes but no `R` is scored as `R=Y` (an empty one as `R=N`).
    Modern,
}

/// One observed (subject) value, pre-parsed for both dialects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    text: Box<str>,
    num793: Option<u32>,
    num: Option<u64>,
}

impl Value {
    /// Parses an observed value such as `"45"`, `"S+"` or `"M5B4ST11NW7"`.
    pub fn new(text: &str) -> Value {
        let (n, end) = c_strtol_hex(text.as_bytes());
        Value { text: text.into(), num793: (end == text.len()).then_some(n), num: parse_hex(text) }
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A plain hex number of 1 to 16 significant digits.
pub(crate) fn parse_hex(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 16 {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 16).ok()
}

/// One `|`-separated alternative of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alternative {
    /// The empty value (`O=`, or the first alternative of `W=|0`).
    Empty,
    /// A literal such as `Y`, `S+` or `M5B4ST11`.
    Literal(Box<str>),
    /// An inclusive hex range `lo-hi`.
    Range {
        /// Low end.
        lo: u64,
        /// High end.
        hi: u64,
    },
    /// `>N`: a hex number greater than N.
    Greater(u64),
    /// `<N`: a hex number less than N.
    Less(u64),
    /// Literal text with bracketed groups, e.g. `M[>500]ST11W[1-5]`.
    Pattern(Box<[Piece]>),
}

/// A part of a bracketed [`Alternative::Pattern`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text that must appear literally.
    Text(Box<str>),
    /// `[..]`: alternatives tested against the run of hex digits found here.
    Group(Box<[Alternative]>),
}

/// A parsed, validated reference expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    source: Box<str>,
    alts: Box<[Alternative]>,
    legacy: Box<[Legacy]>,
}

/// Why an expression was rejected; `offset` is a byte offset into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// Byte offset of the problem inside the expression.
    pub offset: usize,
    /// What was expected there.
    pub expected: String,
}

fn fail<T>(offset: usize, expected: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { offset, expected: expected.into() })
}

impl Expr {
    /// Parses `source`; `nested` allows bracketed groups (TCP option attributes).
    ///
    /// # Errors
    /// An [`ExprError`] naming the offset and what was expected, e.g. an
    /// unclosed `[`, a malformed range or a `>` without a hex number.
    pub fn parse(source: &str, nested: bool) -> Result<Expr, ExprError> {
        let spans = split_alternatives(source)?;
        let mut alts = Vec::with_capacity(spans.len());
        for &(start, end) in &spans {
            alts.push(parse_alternative(source, start, end, nested)?);
        }
        let legacy = legacy::compile(source, &spans);
        Ok(Expr { source: source.into(), alts: alts.into(), legacy })
    }

    /// The expression as written in the database.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed alternatives.
    pub fn alternatives(&self) -> &[Alternative] {
        &self.alts
    }

    /// Whether the observed `value` satisfies this expression.
    pub fn matches(&self, value: &Value, dialect: Dialect) -> bool {
        match dialect {
            Dialect::Nmap793 => legacy::matches(self, value),
            Dialect::Modern => self.alts.iter().any(|alt| alt_matches(alt, value)),
        }
    }

    /// A value that satisfies this expression under `dialect`, if one of the
    /// obvious candidates (each literal, range ends, bound ± 1) does.
    pub fn example(&self, dialect: Dialect) -> Option<String> {
        self.alts.iter().flat_map(candidates).find(|c| self.matches(&Value::new(c), dialect))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Splits at top-level `|` (a `|` inside `[..]` belongs to the group).
fn split_alternatives(src: &str) -> Result<Vec<(usize, usize)>, ExprError> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut open: Option<usize> = None;
    for (i, b) in src.bytes().enumerate() {
        match b {
            b'[' if open.is_some() => return fail(i, "expected ']' before another '['"),
            b'[' => open = Some(i),
            b']' if open.is_none() => return fail(i, "unexpected ']' without a matching '['"),
            b']' => open = None,
            b'|' if open.is_none() => {
                spans.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    if let Some(i) = open {
        return fail(i, "expected ']' to close this '['");
    }
    spans.push((start, src.len()));
    Ok(spans)
}

fn parse_alternative(src: &str, start: usize, end: usize, nested: bool) -> Result<Alternative, ExprError> {
    let text = &src[start..end];
    match text.find('[') {
        Some(i) if !nested => {
            fail(start + i, "brackets are only allowed in TCP option attributes (O, O1-O6)")
        }
        Some(_) => parse_pattern(src, start, end),
        None => parse_simple(src, start, end),
    }
}

fn parse_simple(src: &str, start: usize, end: usize) -> Result<Alternative, ExprError> {
    let text = &src[start..end];
    let hex_bound = |s: &str| parse_hex(s).filter(|_| s.len() <= 16);
    match text.as_bytes().first() {
        None => Ok(Alternative::Empty),
        Some(&op @ (b'>' | b'<')) => match hex_bound(&text[1..]) {
            Some(n) if op == b'>' => Ok(Alternative::Greater(n)),
            Some(n) => Ok(Alternative::Less(n)),
            None => fail(start + 1, format!("expected a hex number after '{}'", op as char)),
        },
        Some(_) => match text.split_once('-') {
            Some((lo, hi)) => {
                let Some(lo_n) = hex_bound(lo) else {
                    return fail(start, "expected a hex range LOW-HIGH");
                };
                let Some(hi_n) = hex_bound(hi) else {
                    return fail(start + lo.len() + 1, "expected a hex number after '-' in a range");
                };
                if lo_n >= hi_n {
                    return fail(start, "expected a range whose low end is below its high end");
                }
                Ok(Alternative::Range { lo: lo_n, hi: hi_n })
            }
            None => {
                check_literal(text, start)?;
                Ok(Alternative::Literal(text.into()))
            }
        },
    }
}

fn check_literal(text: &str, start: usize) -> Result<(), ExprError> {
    for (i, c) in text.char_indices() {
        if c == '<' || c == '>' {
            return fail(start + i, "expected '<' or '>' only at the start of an alternative");
        }
        if !c.is_ascii_graphic() || matches!(c, '%' | '(' | ')' | '=' | '-' | '[' | ']') {
            return fail(start + i, format!("unexpected character {c:?} in a value"));
        }
    }
    Ok(())
}

fn parse_pattern(src: &str, start: usize, end: usize) -> Result<Alternative, ExprError> {
    let mut pieces = Vec::new();
    let mut pos = start;
    while pos < end {
        let open = src[pos..end].find('[').map_or(end, |i| pos + i);
        if open > pos {
            check_literal(&src[pos..open], pos)?;
            pieces.push(Piece::Text(src[pos..open].into()));
        }
        if open == end {
            break;
        }
        // split_alternatives guarantees the matching ']' exists before `end`.
        let close = src[open..end].find(']').map_or(end, |i| open + i);
        let mut group = Vec::new();
        let mut alt_start = open + 1;
        for (i, b) in src[open + 1..close].bytes().enumerate() {
            if b == b'|' {
                group.push(parse_group_alt(src, alt_start, open + 1 + i)?);
                alt_start = open + 2 + i;
            }
        }
        group.push(parse_group_alt(src, alt_start, close)?);
        pieces.push(Piece::Group(group.into()));
        pos = close + 1;
    }
    Ok(Alternative::Pattern(pieces.into()))
}

fn parse_group_alt(src: &str, start: usize, end: usize) -> Result<Alternative, ExprError> {
    match parse_simple(src, start, end)? {
        Alternative::Empty => fail(start, "expected a value inside '[..]'"),
        alt => Ok(alt),
    }
}

fn alt_matches(alt: &Alternative, value: &Value) -> bool {
    match alt {
        Alternative::Empty => value.text.is_empty(),
        Alternative::Literal(t) => *value.text == **t,
        Alternative::Range { lo, hi } => value.num.is_some_and(|n| *lo <= n && n <= *hi),
        Alternative::Greater(b) => value.num.is_some_and(|n| n > *b),
        Alternative::Less(b) => value.num.is_some_and(|n| n < *b),
        Alternative::Pattern(pieces) => pattern_matches(pieces, &value.text),
    }
}

/// Matches text pieces literally and each group against the (greedy) run of
/// hex digits at that point, as newer nmap does; the whole value must be used.
pub(crate) fn pattern_matches(pieces: &[Piece], value: &str) -> bool {
    let mut rest = value;
    for piece in pieces {
        match piece {
            Piece::Text(t) => match rest.strip_prefix(&**t) {
                Some(r) => rest = r,
                None => return false,
            },
            Piece::Group(alts) => {
                let run = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
                if run == 0 {
                    return false;
                }
                let (digits, r) = rest.split_at(run);
                let n = parse_hex(digits);
                let ok = alts.iter().any(|alt| match alt {
                    Alternative::Literal(t) => match (parse_hex(t), n) {
                        (Some(a), Some(b)) => a == b,
                        _ => **t == *digits,
                    },
                    Alternative::Range { lo, hi } => n.is_some_and(|n| *lo <= n && n <= *hi),
                    Alternative::Greater(b) => n.is_some_and(|n| n > *b),
                    Alternative::Less(b) => n.is_some_and(|n| n < *b),
                    Alternative::Empty | Alternative::Pattern(_) => false,
                });
                if !ok {
                    return false;
                }
                rest = r;
            }
        }
    }
    rest.is_empty()
}

/// Values worth trying when looking for one that satisfies an alternative.
fn candidates(alt: &Alternative) -> Vec<String> {
    match alt {
        Alternative::Empty => vec![String::new()],
        Alternative::Literal(t) => vec![t.to_string()],
        Alternative::Range { lo, hi } => {
            vec![format!("{lo:X}"), format!("{hi:X}"), format!("{:X}", lo + (hi - lo) / 2)]
        }
        Alternative::Greater(b) => b.checked_add(1).map(|n| format!("{n:X}")).into_iter().collect(),
        Alternative::Less(b) => b.checked_sub(1).map(|n| format!("{n:X}")).into_iter().collect(),
        Alternative::Pattern(pieces) => {
            let mut out = String::new();
            for piece in pieces.iter() {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Group(alts) => match alts.iter().flat_map(candidates).next() {
                        Some(c) => out.push_str(&c),
                        None => return Vec::new(),
                    },
                }
            }
            vec![out]
        }
    }
}
