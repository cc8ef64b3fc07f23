//! Subject fingerprints: what was observed on one host, in nmap's text form.
//!
//! A subject fingerprint is a list of tests (`SEQ`, `OPS`, … `IE`), each a
//! list of `attribute=value` pairs, plus an optional informational `SCAN`
//! test (Nmap book, "Understanding an Nmap Fingerprint", "Decoding the
//! Subject Fingerprint Format"). Order is kept exactly as given.
//!
//! nmap prints it two ways (osscan.cc `mergeFPs`):
//! * one test per line (`SCAN(...)\nSEQ(...)\n...`), and
//! * "wrapped" for submission: all tests concatenated without separators,
//!   then cut every [`WRAP_WIDTH`] characters, each piece on its own line
//!   behind `OS:` (`FP_RESULT_WRAP_LINE_LEN` is 74 and the copy loop runs
//!   while the line length, prefix included, is at most 74, so 72 characters
//!   follow the prefix and a full line is 75 characters long).
//!
//! [`SubjectFingerprint::parse`] reads either form (or nmap's XML attribute
//! text), optionally preceded by nmap's `TCP/IP fingerprint:` header.

use std::fmt;

use crate::error::{quote, SubjectError};

#[cfg(test)]
mod tests;

/// Characters of fingerprint text on each wrapped `OS:` line.
pub const WRAP_WIDTH: usize = 72;

/// Prefix of every wrapped line.
pub const WRAP_PREFIX: &str = "OS:";

/// One test of a subject fingerprint, e.g. `T1(R=Y%DF=Y%T=40)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectTest {
    /// Test name, e.g. `T1`.
    pub name: String,
    /// `(attribute, value)` pairs in order; values are never expressions.
    pub attrs: Vec<(String, String)>,
}

impl SubjectTest {
    /// A test with the given attributes.
    pub fn new<N, A, V>(name: N, attrs: impl IntoIterator<Item = (A, V)>) -> SubjectTest
    where
        N: Into<String>,
        A: Into<String>,
        V: Into<String>,
    {
        SubjectTest {
            name: name.into(),
            attrs: attrs.into_iter().map(|(a, v)| (a.into(), v.into())).collect(),
        }
    }

    /// The value of the first attribute called `attr`.
    pub fn get(&self, attr: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == attr).map(|(_, v)| v.as_str())
    }

    fn write_to(&self, out: &mut String) {
        out.push_str(&self.name);
        out.push('(');
        for (i, (attr, value)) in self.attrs.iter().enumerate() {
            if i > 0 {
                out.push('%');
            }
            out.push_str(attr);
            out.push('=');
            out.push_str(value);
        }
        out.push(')');
    }
}

impl fmt::Display for SubjectTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// An observed fingerprint: the optional `SCAN` line and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectFingerprint {
    /// The informational `SCAN(V=7.93%E=4%D=11/26%...)` test, if any.
    pub scan: Option<SubjectTest>,
    /// The tests, in order (nmap prints SEQ, OPS, WIN, ECN, T1-T7, U1, IE).
    pub tests: Vec<SubjectTest>,
}

impl SubjectFingerprint {
    /// Parses a fingerprint in either of nmap's forms.
    ///
    /// # Errors
    /// A [`SubjectError`] naming the offset (in the text with line prefixes
    /// removed and lines joined) and what was expected.
    pub fn parse(text: &str) -> Result<SubjectFingerprint, SubjectError> {
        let mut joined = String::with_capacity(text.len());
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line == "TCP/IP fingerprint:" {
                continue;
            }
            joined.push_str(line.strip_prefix(WRAP_PREFIX).unwrap_or(line));
        }
        parse_joined(&joined)
    }

    /// The first test called `name`.
    pub fn test(&self, name: &str) -> Option<&SubjectTest> {
        self.tests.iter().find(|t| t.name == name)
    }

    /// Appends a test.
    pub fn push(&mut self, test: SubjectTest) -> &mut Self {
        self.tests.push(test);
        self
    }

    /// All tests concatenated, `SCAN` first when `with_scan`.
    fn concat(&self, with_scan: bool, separator: &str) -> String {
        let mut out = String::new();
        let scan = self.scan.iter().filter(|_| with_scan);
        for test in scan.chain(&self.tests) {
            test.write_to(&mut out);
            out.push_str(separator);
        }
        out
    }

    /// One test per line, each ending in `\n` (nmap's unwrapped form).
    pub fn to_lines(&self, with_scan: bool) -> String {
        self.concat(with_scan, "\n")
    }

    /// nmap's wrapped form: `OS:` lines of [`WRAP_WIDTH`] characters, each
    /// ending in `\n`.
    pub fn to_wrapped(&self, with_scan: bool) -> String {
        let flat: Vec<char> = self.concat(with_scan, "").chars().collect();
        let mut out = String::with_capacity(flat.len() + flat.len() / WRAP_WIDTH * 4 + 4);
        for chunk in flat.chunks(WRAP_WIDTH) {
            out.push_str(WRAP_PREFIX);
            out.extend(chunk);
            out.push('\n');
        }
        out
    }
}

/// The order nmap prints tests in (osscan.cc `FingerTest_lessthan`).
const TEST_ORDER: [&str; 13] =
    ["SEQ", "OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"];

impl SubjectFingerprint {
    /// The tests of several tries at one host, merged as nmap 7.93 prints
    /// them (osscan.cc `mergeFPs`); `scan` is left empty.
    ///
    /// Tests come in nmap's order (`SEQ` ... `IE`; names nmap does not know
    /// last), tries in order within a name. A test is dropped when an
    /// earlier kept test of the same name has the same attribute *names* in
    /// the same order: nmap's `test_match_literal` compares names, not
    /// values. So a test whose values change between tries keeps the first
    /// try's values, and only a test whose attributes come and go
    /// (`T2(R=N)` then `T2(R=Y%DF=...)`, `SEQ` with and without `II`) is
    /// printed once per form.
    pub fn merge<'a>(tries: impl IntoIterator<Item = &'a SubjectFingerprint>) -> SubjectFingerprint {
        let rank = |t: &SubjectTest| TEST_ORDER.iter().position(|n| *n == t.name).unwrap_or(TEST_ORDER.len());
        let mut all: Vec<&SubjectTest> = tries.into_iter().flat_map(|fp| &fp.tests).collect();
        all.sort_by_key(|t| rank(t));
        let same_form = |a: &SubjectTest, b: &SubjectTest| {
            a.name == b.name
                && a.attrs.len() == b.attrs.len()
                && a.attrs.iter().zip(&b.attrs).all(|(x, y)| x.0 == y.0)
        };
        let mut merged = SubjectFingerprint::default();
        for test in all {
            if !merged.tests.iter().any(|kept| same_form(kept, test)) {
                merged.tests.push(test.clone());
            }
        }
        merged
    }
}

impl fmt::Display for SubjectFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_lines(true))
    }
}

impl std::str::FromStr for SubjectFingerprint {
    type Err = SubjectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubjectFingerprint::parse(s)
    }
}

fn parse_joined(joined: &str) -> Result<SubjectFingerprint, SubjectError> {
    let err = |at: usize, test_start: usize, expected: &str| {
        let end = joined[test_start..].find(')').map_or(joined.len(), |i| test_start + i + 1);
        SubjectError {
            offset: joined[..at].chars().count(),
            text: quote(&joined[test_start..end.max(at).min(joined.len())]),
            expected: expected.to_owned(),
        }
    };
    let mut fp = SubjectFingerprint::default();
    let mut pos = 0;
    while pos < joined.len() {
        let start = pos;
        let Some(open) = joined[pos..].find('(').map(|i| pos + i) else {
            return Err(err(pos, start, "expected a test like 'T1(R=Y%DF=N)'"));
        };
        let name = &joined[pos..open];
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return Err(err(pos, start, "expected a test name like 'T1' before '('"));
        }
        let Some(close) = joined[open..].find(')').map(|i| open + i) else {
            return Err(err(joined.len(), start, "expected ')' at the end of the test"));
        };
        let mut test = SubjectTest { name: name.to_owned(), attrs: Vec::new() };
        let inner = &joined[open + 1..close];
        let mut at = open + 1;
        if !inner.is_empty() {
            for piece in inner.split('%') {
                let Some((attr, value)) = piece.split_once('=') else {
                    return Err(err(at + piece.len(), start, "expected '=' after attribute name"));
                };
                if attr.is_empty() || !attr.bytes().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(err(at, start, "expected an attribute name like 'DF'"));
                }
                // Whitespace would not survive the trimmed lines of either form.
                if let Some(bad) = value.find(|c: char| c.is_whitespace() || c.is_control()) {
                    let bad_at = at + attr.len() + 1 + bad;
                    return Err(err(bad_at, start, "expected a value without spaces or control characters"));
                }
                test.attrs.push((attr.to_owned(), value.to_owned()));
                at += piece.len() + 1;
            }
        }
        if test.name == "SCAN" {
            if fp.scan.is_some() || !fp.tests.is_empty() {
                return Err(err(start, start, "expected SCAN only once, before the tests"));
            }
            fp.scan = Some(test);
        } else {
            fp.tests.push(test);
        }
        pos = close + 1;
    }
    Ok(fp)
}
