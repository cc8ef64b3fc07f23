//! Turning measured subject fingerprints into a reference entry for
//! `tests/fixtures/lab.db`.
//!
//! The rules follow what nmap's own Linux references do with submissions
//! (compare `Linux 4.15 - 5.6` in nmap-os-db):
//!
//! * `SEQ` `SP` and `ISR` become hex ranges around the values seen over
//!   all runs, widened by [`SEQ_BELOW`] below and [`SEQ_ABOVE`] above;
//!   `GCD` becomes `1-6` (or up to the largest value seen); a numeric `TS`
//!   becomes the range seen, two lower and one higher. Linux starts each
//!   connection's sequence numbers (and, on 6.18, its timestamps) at a keyed
//!   hash of the 4-tuple, and nmap's SYNs come from different ports, so
//!   these values are random: a simulation of nmap's formulas (osscan2.cc)
//!   for random 32-bit increments 100 ms apart puts 99.9% of ISR in
//!   0xFB-0x111 and of SP in 0xEE-0x10A, TS at 0x20-0x22 (0x1F in 0.2% of
//!   runs) and GCD at 1 (96%) or 2-6. With these margins each attribute
//!   misses in well under one run in a thousand.
//! * `SEQ.II` is written from the runs that have it; a run without it is
//!   not scored on it. Linux adds a random amount below the jiffies elapsed
//!   since a destination's IP ID counter was last used (`ip_idents_reserve`),
//!   so when nmap's two `IE` replies go out more than a few ms apart their
//!   IDs differ by 10 or more, nmap cannot classify them and leaves `II` out
//!   (a gap over a second would even give `II=RI`).
//! * `T` (the initial TTL nmap computed) becomes `T-5 .. T+5` followed by
//!   `TG=T`, as in nmap's references (`T=3B-45%TG=40`).
//! * Everything else (options, windows, flags, DF, the `U1`/`IE` details)
//!   is copied exactly, and must be identical in every run.
//! * `R` is always written for the tests `MatchPoints` scores it in (`ECN`,
//!   `T1`-`T7`, `U1`, `IE`), even where nmap's references leave it out:
//!   nmap 7.93 does not score a missing `R`, newer nmap reads it as `R=Y`,
//!   and an explicit `R` means the same to both.

use std::fmt::Write as _;

use scry_os::SubjectFingerprint;

/// How far below the lowest observed `SP`/`ISR` the range starts (two
/// doublings of the rate: the distribution has a long low tail).
pub const SEQ_BELOW: u64 = 0x10;
/// How far above the highest observed `SP`/`ISR` the range ends (one doubling).
pub const SEQ_ABOVE: u64 = 0x8;
/// The TTL margin of nmap's references.
const TTL_MARGIN: u64 = 5;

/// Tests whose `R` the MatchPoints block scores.
pub const TESTS_WITH_R: [&str; 10] = ["ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"];

/// The identity lines of an entry.
pub struct EntryHead {
    /// `Fingerprint` name.
    pub name: String,
    /// `# ...` lines written above it (without the `# `).
    pub comments: Vec<String>,
    /// The `Class` line's generation, e.g. `6.X`.
    pub generation: String,
    /// The CPE, e.g. `cpe:/o:linux:linux_kernel:6.18`.
    pub cpe: String,
}

fn hex(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

/// The generalised expression(s) for one attribute seen with `values`:
/// `(attribute, expression)` pairs, usually one.
fn generalise(test: &str, attr: &str, values: &[&str]) -> Result<Vec<(String, String)>, String> {
    let numbers: Option<Vec<u64>> = values.iter().map(|v| hex(v)).collect();
    let range = |lo: u64, hi: u64| if lo == hi { format!("{lo:X}") } else { format!("{lo:X}-{hi:X}") };
    let one = |expr: String| Ok(vec![(attr.to_owned(), expr)]);
    match (test, attr, numbers) {
        ("SEQ", "SP" | "ISR", Some(n)) => {
            let (lo, hi) = (n.iter().min().copied().unwrap_or(0), n.iter().max().copied().unwrap_or(0));
            one(range(lo.saturating_sub(SEQ_BELOW), hi + SEQ_ABOVE))
        }
        ("SEQ", "GCD", Some(n)) => one(range(1, n.iter().copied().max().unwrap_or(1).max(6))),
        ("SEQ", "TS", Some(n)) => {
            let (lo, hi) = (n.iter().min().copied().unwrap_or(0), n.iter().max().copied().unwrap_or(0));
            one(range(lo.saturating_sub(2), hi + 1))
        }
        (_, "T", _) if TESTS_WITH_R.contains(&test) => {
            let t = exact(test, attr, values)?;
            let ttl = hex(&t).ok_or_else(|| format!("{test}.T={t} is not a hex TTL"))?;
            Ok(vec![
                ("T".to_owned(), range(ttl.saturating_sub(TTL_MARGIN), ttl + TTL_MARGIN)),
                ("TG".to_owned(), t),
            ])
        }
        _ => one(exact(test, attr, values)?),
    }
}

/// The single value every run agreed on.
fn exact(test: &str, attr: &str, values: &[&str]) -> Result<String, String> {
    let first = values.first().copied().unwrap_or_default();
    if values.iter().all(|v| *v == first) {
        Ok(first.to_owned())
    } else {
        Err(format!("{test}.{attr} differs between runs ({}); it should not vary", values.join(", ")))
    }
}

fn test_names(fp: &SubjectFingerprint) -> Vec<&str> {
    fp.tests.iter().map(|t| t.name.as_str()).collect()
}

/// The attributes of test `i` over all runs, in nmap's order: each run's
/// order, with attributes only some runs have put after their predecessor.
fn attr_names(runs: &[SubjectFingerprint], i: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for run in runs {
        let mut at = 0;
        for (attr, _) in &run.tests[i].attrs {
            match names.iter().position(|n| n == attr) {
                Some(p) => at = p + 1,
                None => {
                    names.insert(at, attr.clone());
                    at += 1;
                }
            }
        }
    }
    names
}

/// The reference entry for one target, measured in `runs` (at least one).
///
/// # Errors
/// When the runs disagree on which tests there are, or on a value that is
/// copied exactly.
pub fn reference_entry(head: &EntryHead, runs: &[SubjectFingerprint]) -> Result<String, String> {
    let first = runs.first().ok_or("no runs")?;
    let mut out = String::new();
    for c in &head.comments {
        let _ = writeln!(out, "# {c}");
    }
    let _ = writeln!(out, "Fingerprint {}", head.name);
    let _ = writeln!(out, "Class Linux | Linux | {} | general purpose", head.generation);
    let _ = writeln!(out, "CPE {} auto", head.cpe);
    if let Some(other) = runs.iter().find(|r| test_names(r) != test_names(first)) {
        return Err(format!(
            "runs differ in their tests: {:?} vs {:?}",
            test_names(first),
            test_names(other)
        ));
    }
    for (i, test) in first.tests.iter().enumerate() {
        let mut attrs: Vec<(String, String)> = Vec::new();
        let names = attr_names(runs, i);
        for attr in &names {
            // `T` writes `TG` itself (nmap prints `TG` only when it guessed `T`).
            if attr == "TG" && names.iter().any(|a| a == "T") {
                continue;
            }
            // A run without the attribute is not scored on it, so only the
            // runs that have it count (SEQ.II comes and goes, see the docs).
            let values: Vec<&str> = runs.iter().filter_map(|run| run.tests[i].get(attr)).collect();
            attrs.extend(generalise(&test.name, attr, &values)?);
        }
        if TESTS_WITH_R.contains(&test.name.as_str()) && !attrs.iter().any(|(a, _)| a == "R") {
            let r = if attrs.is_empty() { "N" } else { "Y" };
            attrs.insert(0, ("R".to_owned(), r.to_owned()));
        }
        let body: Vec<String> = attrs.iter().map(|(a, v)| format!("{a}={v}")).collect();
        let _ = writeln!(out, "{}({})", test.name, body.join("%"));
    }
    Ok(out)
}
