//! `scry --os-match FILE`: match a subject fingerprint read from a file (or
//! standard input) against the OS database and print nmap's OS lines, or
//! JSON with `-oJ -`. Needs no privileges and sends nothing.

use anyhow::Context;
use scry_os::{Database, Matcher, ReportOptions, SubjectFingerprint};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Loads the OS database from `paths` (found by [`crate::datadir`]).
pub fn load_database(paths: &[PathBuf]) -> anyhow::Result<Database> {
    Ok(Database::load(paths)?)
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading a fingerprint from standard input")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// Keeps only the fingerprint from pasted nmap output: `OS:` lines when there
/// are any, else lines that start like a test (`T1(`), dropping comments,
/// headers and guesses.
fn fingerprint_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let looks_like_test = |l: &&str| {
        let name_len = l.bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
        name_len > 0 && l.as_bytes().get(name_len) == Some(&b'(') && l.as_bytes()[0].is_ascii_uppercase()
    };
    let wrapped: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("OS:")).collect();
    let kept = if wrapped.is_empty() { lines.into_iter().filter(looks_like_test).collect() } else { wrapped };
    kept.join("\n")
}

/// Runs `--os-match`.
///
/// # Errors
/// Unreadable input, a malformed fingerprint or database, or a write failure.
pub fn run(input: &Path, os_db: &[PathBuf], json: bool, osscan_guess: bool) -> anyhow::Result<()> {
    let text = fingerprint_lines(&read_input(input)?);
    if text.is_empty() {
        let what = "no fingerprint found (expected OS: lines or test lines like T1(R=Y%DF=Y...))";
        return Err(crate::UsageError(format!("{}: {what}", input.display())).into());
    }
    let subject = SubjectFingerprint::parse(&text)
        .map_err(|e| crate::UsageError(format!("{}: {e}", input.display())))?;
    let db = load_database(os_db)?;
    let result = Matcher::new(&db).match_subject(&subject);
    let mut out = std::io::stdout().lock();
    if json {
        let matches: Vec<_> = scry_os::report::listed_matches(&result, &ReportOptions::default())
            .iter()
            .map(|m| m.to_json())
            .collect();
        let record = json!({"type": "os", "matches": matches, "fingerprint": subject.to_wrapped(true)});
        serde_json::to_writer(&mut out, &record)?;
        writeln!(out)?;
    } else {
        let options = ReportOptions { osscan_guess, ..ReportOptions::default() };
        for line in scry_os::report::os_lines(&result, &options) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
