//! The line grammar of nmap-os-db files.
//!
//! ```text
//! # comment
//! MatchPoints
//! SEQ(SP=25%GCD=75%...)          test lines: points per attribute
//!                                 (blank line ends a block)
//! Fingerprint Linux 2.6.32       an entry; the name ends at '#'
//! Class Linux | Linux | 2.6.X | general purpose
//! CPE cpe:/o:linux:linux_kernel:2.6 auto
//! SEQ(SP=F8-102%GCD=1-6%...)      test lines: expressions
//! ```
//!
//! This is stricter than nmap 7.93's reader (which prints an error and skips
//! a broken line, or aborts): every line must parse, attributes and tests may
//! not repeat, and expressions are validated (see [`crate::expr`]).

use std::ops::Range;
use std::sync::Arc;

use super::{Cpe, DatabaseBuilder, OsClass, TestSpan};
use crate::error::{quote, DbError};
use crate::schema::{is_option_attr, Slot};

/// The parsed `MatchPoints` block.
#[derive(Debug)]
pub(crate) struct MatchPoints {
    pub(crate) source: usize,
    pub(crate) line: usize,
    pub(crate) points: Vec<(Slot, u32)>,
}

/// A `Fingerprint` entry before compilation.
#[derive(Debug)]
pub(crate) struct RawReference {
    pub(crate) name: Arc<str>,
    pub(crate) source: u32,
    pub(crate) line: u32,
    pub(crate) classes: Vec<OsClass>,
    pub(crate) tests: Range<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Outside,
    MatchPoints,
    Fingerprint,
}

/// Context for error messages about one line.
struct Line<'a> {
    builder_source: usize,
    number: usize,
    text: &'a str,
}

impl Line<'_> {
    fn error(&self, b: &DatabaseBuilder, byte_offset: usize, expected: impl Into<String>) -> DbError {
        let column = self.text.get(..byte_offset).map_or(byte_offset, |s| s.chars().count()) + 1;
        DbError::Syntax {
            path: b.sources[self.builder_source].clone(),
            line: self.number,
            column,
            text: quote(self.text.trim_end()),
            expected: expected.into(),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `rest` after `keyword` when the line starts with the keyword as a word.
fn keyword<'a>(body: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = body.strip_prefix(keyword)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// Parses a whole file into the builder.
pub(crate) fn parse_text(b: &mut DatabaseBuilder, source: usize, text: &str) -> Result<(), DbError> {
    let mut block = Block::Outside;
    let mut tests_in_block: Vec<usize> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        let line = Line { builder_source: source, number: index + 1, text };
        let body = text.trim();
        if body.is_empty() {
            block = Block::Outside;
            continue;
        }
        if body.starts_with('#') {
            continue;
        }
        let indent = text.len() - text.trim_start().len();
        if let Some(rest) = keyword(body, "Fingerprint") {
            let name = rest.split('#').next().unwrap_or_default().trim();
            if name.is_empty() {
                return Err(line.error(b, indent + 11, "expected an OS name after 'Fingerprint'"));
            }
            let start = to_u32(b.test_spans.len());
            b.refs.push(RawReference {
                name: name.into(),
                source: to_u32(source),
                line: to_u32(line.number),
                classes: Vec::new(),
                tests: start..start,
            });
            block = Block::Fingerprint;
            tests_in_block.clear();
        } else if let Some(rest) = keyword(body, "MatchPoints") {
            if !rest.trim().is_empty() {
                let at = indent + 11 + (rest.len() - rest.trim_start().len());
                return Err(line.error(b, at, "expected nothing after 'MatchPoints'"));
            }
            if let Some(first) = &b.match_points {
                return Err(DbError::DuplicateMatchPoints {
                    path: b.sources[source].clone(),
                    line: line.number,
                    first_path: b.sources[first.source].clone(),
                    first_line: first.line,
                });
            }
            b.match_points = Some(MatchPoints { source, line: line.number, points: Vec::new() });
            block = Block::MatchPoints;
            tests_in_block.clear();
        } else if let Some(rest) = keyword(body, "Class") {
            if block != Block::Fingerprint {
                return Err(line.error(b, indent, "expected 'Class' only inside a Fingerprint entry"));
            }
            let class = parse_class(b, &line, rest, indent + 5)?;
            if let Some(r) = b.refs.last_mut() {
                r.classes.push(class);
            }
        } else if let Some(rest) = keyword(body, "CPE") {
            let has_class = b.refs.last().is_some_and(|r| !r.classes.is_empty());
            if block != Block::Fingerprint || !has_class {
                return Err(line.error(
                    b,
                    indent,
                    "expected 'CPE' only after a 'Class' line of a Fingerprint entry",
                ));
            }
            let cpe = parse_cpe(b, &line, rest, indent + 3)?;
            if let Some(class) = b.refs.last_mut().and_then(|r| r.classes.last_mut()) {
                class.cpe.push(cpe);
            }
        } else if body.contains('(') {
            parse_test_line(b, &line, block, indent, &mut tests_in_block)?;
        } else {
            return Err(line.error(
                b,
                indent,
                "expected 'Fingerprint', 'Class', 'CPE', 'MatchPoints', a test like 'T1(R=Y%DF=N)' or a '#' comment",
            ));
        }
    }
    Ok(())
}

fn parse_class(b: &DatabaseBuilder, line: &Line<'_>, rest: &str, offset: usize) -> Result<OsClass, DbError> {
    let fields: Vec<&str> = rest.splitn(4, '|').collect();
    if fields.len() < 4 {
        return Err(line.error(
            b,
            line.text.trim_end().len(),
            "expected 4 '|'-separated fields: vendor | family | generation | device type",
        ));
    }
    let mut at = offset;
    let mut field_at = Vec::with_capacity(4);
    for f in &fields {
        field_at.push(at + (f.len() - f.trim_start().len()));
        at += f.len() + 1;
    }
    for (i, what) in [(0, "a vendor"), (1, "an OS family"), (3, "a device type")] {
        if fields[i].trim().is_empty() {
            return Err(line.error(b, field_at[i], format!("expected {what} in this Class field")));
        }
    }
    let generation = fields[2].trim();
    Ok(OsClass {
        vendor: fields[0].trim().to_owned(),
        family: fields[1].trim().to_owned(),
        generation: (!generation.is_empty()).then(|| generation.to_owned()),
        device_type: fields[3].trim().to_owned(),
        cpe: Vec::new(),
    })
}

fn parse_cpe(b: &DatabaseBuilder, line: &Line<'_>, rest: &str, offset: usize) -> Result<Cpe, DbError> {
    let mut words = rest.split_whitespace();
    let name = words.next().unwrap_or_default();
    if !name.starts_with("cpe:/") {
        let at = offset + (rest.len() - rest.trim_start().len());
        return Err(line.error(b, at, "expected a CPE name like 'cpe:/o:linux:linux_kernel'"));
    }
    Ok(Cpe { name: name.to_owned(), auto: words.any(|w| w == "auto") })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

fn parse_test_line(
    b: &mut DatabaseBuilder,
    line: &Line<'_>,
    block: Block,
    indent: usize,
    tests_in_block: &mut Vec<usize>,
) -> Result<(), DbError> {
    let body = line.text.trim_end();
    let open = body.find('(').unwrap_or(body.len());
    let name = &body[indent..open];
    if !is_name(name) {
        return Err(line.error(b, indent, "expected a test name like 'T1' before '('"));
    }
    if block == Block::Outside {
        return Err(line.error(b, indent, "expected a 'Fingerprint' or 'MatchPoints' line before this test"));
    }
    let test = b.schema.intern_test(name);
    if tests_in_block.contains(&test) {
        return Err(line.error(
            b,
            indent,
            format!("expected each test once per entry, but '{name}' repeats"),
        ));
    }
    tests_in_block.push(test);

    let (inner_end, closed) = match body.strip_suffix(')') {
        Some(_) => (body.len() - 1, true),
        None => (body.len(), false),
    };
    let inner = body.get(open + 1..inner_end).unwrap_or_default();
    let attr_start = to_u32(b.attrs.len());
    let mut seen: Vec<&str> = Vec::new();
    let mut pos = open + 1;
    if !inner.is_empty() {
        for piece in inner.split('%') {
            let piece_at = pos;
            pos += piece.len() + 1;
            if let Some(bad) = piece.find(['(', ')']) {
                return Err(line.error(b, piece_at + bad, "expected no '(' or ')' inside a test"));
            }
            let Some((attr, value)) = piece.split_once('=') else {
                return Err(line.error(b, piece_at + piece.len(), "expected '=' after attribute name"));
            };
            if !is_name(attr) {
                return Err(line.error(b, piece_at, "expected an attribute name like 'DF'"));
            }
            if seen.contains(&attr) {
                return Err(line.error(
                    b,
                    piece_at,
                    format!("expected each attribute once, but '{attr}' repeats"),
                ));
            }
            seen.push(attr);
            let slot = b.schema.intern_attr(test, attr);
            let value_at = piece_at + attr.len() + 1;
            if block == Block::MatchPoints {
                let points = value.parse::<u32>().ok().filter(|_| value.bytes().all(|c| c.is_ascii_digit()));
                let Some(points) = points else {
                    return Err(line.error(b, value_at, "expected a whole number of points"));
                };
                if let Some(mp) = b.match_points.as_mut() {
                    mp.points.push((slot, points));
                }
            } else {
                let expr = match b.intern_expr(value, is_option_attr(attr)) {
                    Ok(expr) => expr,
                    Err(e) => return Err(line.error(b, value_at + e.offset, e.expected)),
                };
                let pair = b.intern_pair(slot, expr);
                b.attrs.push(pair);
            }
        }
    }
    if !closed {
        return Err(line.error(b, body.len(), "expected ')' at the end of the test"));
    }
    if block == Block::Fingerprint {
        b.test_spans.push(TestSpan { test: to_u32(test), attrs: attr_start..to_u32(b.attrs.len()) });
        if let Some(r) = b.refs.last_mut() {
            r.tests.end = to_u32(b.test_spans.len());
        }
    }
    Ok(())
}
