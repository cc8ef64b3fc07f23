//! Hot paths of OS detection: loading nmap's whole database (goal < 100 ms)
//! and matching one subject against every reference (goal < 1 ms).
//!
//! `cargo bench -p scry-os --bench os -- --quick`; needs nmap's
//! `/usr/share/nmap/nmap-os-db` (the benches are skipped without it).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scry_os::{Database, Dialect, MatchOptions, Matcher, SubjectFingerprint};

const SYSTEM_DB: &str = "/usr/share/nmap/nmap-os-db";

/// Fingerprint nmap 7.93 took of a Linux loopback (no perfect match).
const LINUX_SUBJECT: &str = include_str!("../tests/fixtures/localhost-nmap-7.93.txt");

fn subject() -> SubjectFingerprint {
    let text: String =
        LINUX_SUBJECT.lines().filter(|l| l.starts_with("OS:")).map(|l| format!("{l}\n")).collect();
    SubjectFingerprint::parse(&text).expect("fixture parses")
}

fn benches(c: &mut Criterion) {
    if !std::path::Path::new(SYSTEM_DB).is_file() {
        eprintln!("skipping scry-os benches: {SYSTEM_DB} is missing (install nmap)");
        return;
    }
    c.bench_function("load nmap-os-db", |b| {
        b.iter(|| Database::load(black_box(&[SYSTEM_DB])).expect("loads"));
    });

    let db = Database::load(&[SYSTEM_DB]).expect("loads");
    let subject = subject();
    let matcher = Matcher::new(&db);
    c.bench_function("match subject against all references (nmap 7.93)", |b| {
        b.iter(|| matcher.match_subject(black_box(&subject)));
    });
    let modern =
        Matcher::with_options(&db, MatchOptions { dialect: Dialect::Modern, ..MatchOptions::default() });
    c.bench_function("match subject against all references (modern)", |b| {
        b.iter(|| modern.match_subject(black_box(&subject)));
    });
    // The worst case for early rejection: a subject every reference
    // partially matches for longest (an exact example of a reference).
    let example = matcher.example_subject(&db.references()[db.len() / 2]).expect("example");
    c.bench_function("match a reference's own example", |b| {
        b.iter(|| matcher.match_subject(black_box(&example)));
    });
}

criterion_group!(os, benches);
criterion_main!(os);
