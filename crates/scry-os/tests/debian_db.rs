//! The nmap-os-db that Debian's nmap 7.93 installs loads completely, and
//! every reference in it is self-consistent: a subject built from its own
//! expressions scores 100% and ranks among the perfect matches.
//!
//! These tests read `/usr/share/nmap/nmap-os-db`. Without it they are
//! skipped locally but fail under `CI=true` (CI installs nmap).

use scry_os::{Database, Dialect, MatchOptions, MatchStatus, Matcher, OsResult, SubjectFingerprint};

const SYSTEM_DB: &str = "/usr/share/nmap/nmap-os-db";

fn system_db_text() -> Option<String> {
    match std::fs::read_to_string(SYSTEM_DB) {
        Ok(text) => Some(text),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{SYSTEM_DB}: {e}; CI must install nmap")
        }
        Err(e) => {
            eprintln!("skipping: {SYSTEM_DB}: {e}");
            None
        }
    }
}

fn count_lines_starting(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn debian_database_loads_completely() {
    let Some(text) = system_db_text() else { return };
    let db = Database::load(&[SYSTEM_DB]).unwrap_or_else(|e| panic!("{e}"));

    let fingerprints = count_lines_starting(&text, "Fingerprint ");
    assert!(fingerprints > 5000, "only {fingerprints} Fingerprint lines?");
    assert_eq!(db.len(), fingerprints);

    let classes: usize = db.references().iter().map(|r| r.classes().len()).sum();
    assert_eq!(classes, count_lines_starting(&text, "Class "));
    let cpes: usize = db.references().iter().flat_map(|r| r.classes().iter()).map(|c| c.cpe.len()).sum();
    assert_eq!(cpes, count_lines_starting(&text, "CPE "));

    let test_lines: usize = db.references().iter().map(|r| db.tests_of(r).count()).sum();
    let all_test_lines = text
        .lines()
        .filter(|l| {
            l.contains('(')
                && !l.starts_with('#')
                && !l.starts_with("Fingerprint ")
                && !l.starts_with("Class ")
                && !l.starts_with("CPE ")
        })
        .count();
    // Every test line except MatchPoints' 13 belongs to a reference.
    assert_eq!(test_lines + 13, all_test_lines);

    // Spot checks against the file's MatchPoints block.
    assert_eq!(db.points("SEQ", "TS"), 100);
    assert_eq!(db.points("T2", "R"), 80);
    assert_eq!(db.points("U1", "RIPCK"), 100);
    assert_eq!(db.points("IE", "DFI"), 40);
    assert_eq!(db.points("SEQ", "R"), 0);

    let first = &db.references()[0];
    assert!(!first.name().is_empty());
    assert_eq!(db.source_of(first), std::path::Path::new(SYSTEM_DB));
    let line = text.lines().nth(first.line() - 1).unwrap_or_default();
    assert_eq!(line, format!("Fingerprint {}", first.name()));
}

/// Checks one reference: its example scores 100% and, when `rank` is set,
/// ranks among the perfect matches. Returns whether "too many matches" hit.
fn check_reference(db: &Database, matcher: &Matcher<'_>, index: usize, rank: bool) -> bool {
    let reference = &db.references()[index];
    let subject =
        matcher.example_subject(reference).unwrap_or_else(|| panic!("no example for {}", reference.name()));
    let score = matcher.score(&subject, reference);
    assert_eq!(
        score.matched,
        score.possible,
        "{} (line {}) does not match its own example:\n{subject}",
        reference.name(),
        reference.line()
    );
    if !rank {
        return false;
    }
    // Round-trip through nmap's printed form on the way.
    let reparsed = SubjectFingerprint::parse(&subject.to_wrapped(false)).expect("reparse");
    let result: OsResult = matcher.match_subject(&reparsed);
    if result.status == MatchStatus::TooManyMatches {
        return true;
    }
    assert_eq!(result.status, MatchStatus::Success);
    let top = &result.matches[..result.perfect];
    assert!(
        top.iter().any(|m| &*m.name == reference.name()),
        "{} (line {}) is not among the perfect matches of its example",
        reference.name(),
        reference.line()
    );
    false
}

fn self_consistency(dialect: Dialect) {
    let Some(_) = system_db_text() else { return };
    let db = Database::load(&[SYSTEM_DB]).unwrap_or_else(|e| panic!("{e}"));
    let matcher = Matcher::with_options(&db, MatchOptions { dialect, ..MatchOptions::default() });
    // Every reference scores its example; debug builds rank a sample of
    // them against the whole database, `cargo test --release` ranks all.
    let step = if cfg!(debug_assertions) { 5 } else { 1 };
    let mut too_many = 0;
    let mut checked = 0;
    for index in 0..db.len() {
        let rank = index % step == 0;
        too_many += usize::from(check_reference(&db, &matcher, index, rank));
        checked += usize::from(rank);
    }
    eprintln!("{dialect:?}: {} references scored, {checked} ranked, {too_many} examples matched more than 36 references perfectly", db.len());
    assert!(too_many * 20 < checked, "too many ambiguous examples: {too_many}/{checked}");
}

#[test]
fn every_reference_matches_its_own_example_nmap793() {
    self_consistency(Dialect::Nmap793);
}

#[test]
fn every_reference_matches_its_own_example_modern() {
    self_consistency(Dialect::Modern);
}

/// Regression: a fingerprint nmap 7.93 took of this machine's loopback, and
/// the guesses nmap printed for it, must come out identically.
#[test]
fn localhost_fingerprint_gives_nmap_793_guesses() {
    let Some(_) = system_db_text() else { return };
    let fixture = include_str!("fixtures/localhost-nmap-7.93.txt");
    let expected = fixture
        .lines()
        .find(|l| l.starts_with("Aggressive OS guesses:"))
        .expect("fixture has the guesses line");
    let fingerprint: String = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("Aggressive"))
        .map(|l| format!("{l}\n"))
        .collect();
    let subject = SubjectFingerprint::parse(&fingerprint).expect("parses");
    assert_eq!(subject.to_wrapped(true), fingerprint.trim_start_matches("TCP/IP fingerprint:\n"));

    let db = Database::load(&[SYSTEM_DB]).unwrap_or_else(|e| panic!("{e}"));
    let result = Matcher::new(&db).match_subject(&subject);
    assert_eq!(
        scry_os::report::guesses_line(&result, &scry_os::ReportOptions::default()).as_deref(),
        Some(expected)
    );
    let options = scry_os::ReportOptions { osscan_guess: true, ..Default::default() };
    let lines = scry_os::report::os_lines(&result, &options);
    assert_eq!(
        lines,
        [
            expected,
            "No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ )."
        ]
    );
}
