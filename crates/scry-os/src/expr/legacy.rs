//! nmap 7.93's `expr_match`, reproduced quirk for quirk.
//!
//! 7.93 re-parses the expression string for every comparison. Here the same
//! decisions are taken once per alternative at load time ([`compile`]) and
//! only the value-dependent part runs while scoring ([`matches`]).

use super::{pattern_matches, Alternative, Expr, Value};

/// How 7.93 treats one alternative when the observed value is a hex number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Numeric {
    /// Starts with `<` / `>`: a numeric comparison, if the bound parsed up to
    /// the end of the alternative (otherwise the alternative never matches).
    Compare { greater: bool, bound: Option<u32> },
    /// A `-` occurs somewhere from here to the end of the expression: a
    /// range if this alternative is `lo-hi`, otherwise skipped entirely.
    Range(Option<(u32, u32)>),
    /// Compared as text, like a non-numeric value.
    Text,
}

/// One alternative: its span in the source and its numeric reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Legacy {
    start: u32,
    end: u32,
    last: bool,
    numeric: Numeric,
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtol(s, &end, 16)` on an LP64 system, converted to `unsigned int`
/// as nmap stores it. Returns the value and how many bytes were consumed
/// (0 when no digits were found: C then sets `end` to `s`).
pub(crate) fn c_strtol_hex(s: &[u8]) -> (u32, usize) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = s.get(i) {
        negative = sign == b'-';
        i += 1;
    }
    let has_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if has_prefix {
        i += 2;
    }
    let digits = i;
    let mut acc: i128 = 0;
    while let Some(d) = s.get(i).and_then(|&b| (b as char).to_digit(16)) {
        // Saturate well past i64's range; strtol clamps to LONG_MIN/LONG_MAX.
        acc = (acc * 16 + i128::from(d)).min(1 << 80);
        i += 1;
    }
    if i == digits {
        return (0, 0);
    }
    let long = if negative { (-acc).max(i128::from(i64::MIN)) } else { acc.min(i128::from(i64::MAX)) };
    // `long` -> `unsigned int` is reduction modulo 2^32 in C, as `as` is here.
    (long as i64 as u32, i)
}

/// Where `strtol` stops when started at `from`.
fn strtol_end(src: &[u8], from: usize) -> (u32, usize) {
    let (n, used) = c_strtol_hex(src.get(from..).unwrap_or_default());
    (n, if used == 0 { from } else { from + used })
}

/// Decides, once, how 7.93 reads each alternative of `source`.
pub(super) fn compile(source: &str, spans: &[(usize, usize)]) -> Box<[Legacy]> {
    let src = source.as_bytes();
    spans
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| {
            let numeric = match src.get(start) {
                Some(&op @ (b'<' | b'>')) => {
                    let (bound, stop) = strtol_end(src, start + 1);
                    Numeric::Compare { greater: op == b'>', bound: (stop == end).then_some(bound) }
                }
                _ => match source[start..].find('-') {
                    Some(off) => {
                        let dash = start + off;
                        let (lo, stop) = strtol_end(src, start);
                        let (hi, stop_hi) = strtol_end(src, dash + 1);
                        Numeric::Range((stop == dash && stop_hi == end).then_some((lo, hi)))
                    }
                    None => Numeric::Text,
                },
            };
            Legacy {
                start: u32::try_from(start).unwrap_or(u32::MAX),
                end: u32::try_from(end).unwrap_or(u32::MAX),
                last: i + 1 == spans.len(),
                numeric,
            }
        })
        .collect()
}

/// nmap 7.93's verdict for `value` against `expr`.
pub(super) fn matches(expr: &Expr, value: &Value) -> bool {
    for (alt, leg) in expr.alts.iter().zip(expr.legacy.iter()) {
        if let Alternative::Pattern(pieces) = alt {
            // Not in 7.93's grammar; follow newer nmap (see module docs).
            if pattern_matches(pieces, &value.text) {
                return true;
            }
            continue;
        }
        let hit = match (value.num793, leg.numeric) {
            (Some(n), Numeric::Compare { greater, bound }) => {
                bound.is_some_and(|b| if greater { n > b } else { n < b })
            }
            (Some(n), Numeric::Range(range)) => range.is_some_and(|(lo, hi)| lo <= n && n <= hi),
            _ => {
                let text = expr.source.get(leg.start as usize..leg.end as usize).unwrap_or_default();
                if leg.last {
                    *value.text == *text
                } else {
                    value.text.starts_with(text)
                }
            }
        };
        if hit {
            return true;
        }
    }
    false
}
