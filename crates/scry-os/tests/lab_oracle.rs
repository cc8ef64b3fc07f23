//! nmap 7.93 as the oracle for scry's OS matching, on real Linux stacks.
//!
//! The lab has six targets whose stacks are tuned by sysctls (TTL,
//! timestamps, window scaling, SACK, ECN, receive buffer, ICMP echo), each
//! with an open TCP port, a closed TCP port and a closed UDP port. nmap runs
//! OS detection on all of them from the lab's scanner namespace; its XML
//! gives, per target, the subject fingerprint and the matches it names.
//! scry's matcher gets the same fingerprint and the same database file and
//! must name the same references, in the same order, with the same
//! accuracies, lines, classes and CPEs.
//!
//! * [`scry_ranks_like_nmap_on_nmap_os_db`]: against nmap's own database.
//! * [`lab_db_entries_match_their_targets`]: against nmap-os-db plus
//!   the test data `tests/fixtures/lab.db`, given to nmap with `--datadir`; each target must also
//!   match its own lab.db entry.
//! * [`lab_db_loads_with_nmap_match_points`]: lab.db parses without errors
//!   and only together with a MatchPoints block (no lab needed).
//! * [`lab_db_entry_rules`]: how measurements become an entry (no lab).
//! * [`measure_lab_db`] (ignored): writes lab.db; `scripts/os-db-measure.sh`.
//!
//! Lab tests are skipped without root, and without nmap, except under
//! `CI=true`, where both must be present.

mod oracle;

use std::path::Path;

use scry_lab::lab_or_skip;
use scry_os::{report, Database, Dialect, MatchOptions, Matcher, Reference, SubjectFingerprint, Value};

use oracle::entry::{self, EntryHead, TESTS_WITH_R};
use oracle::nmap::{self, Datadir, Guess, HostReport};
use oracle::{targets, SYSTEM_DB};

/// The subject fingerprint nmap printed for a target.
fn subject_of(report: &HostReport) -> SubjectFingerprint {
    let text =
        report.fingerprint.as_deref().unwrap_or_else(|| panic!("no osfingerprint for {:?}", report.addr));
    SubjectFingerprint::parse(text)
        .unwrap_or_else(|e| panic!("nmap's fingerprint does not parse: {e}\n{text}"))
}

/// nmap used exactly the ports the lab offers, so its conditions were ideal.
fn assert_ports_used(report: &HostReport) {
    let want = [
        ("tcp".to_owned(), oracle::OPEN_TCP, "open".to_owned()),
        ("tcp".to_owned(), oracle::CLOSED_TCP, "closed".to_owned()),
        ("udp".to_owned(), oracle::CLOSED_UDP, "closed".to_owned()),
    ];
    assert_eq!(report.ports_used, want, "ports nmap used for {:?}", report.addr);
}

fn show(list: &[Guess]) -> String {
    if list.is_empty() {
        return "    (none)\n".to_owned();
    }
    list.iter().map(|g| format!("    {:>3}%  {} (line {})\n", g.accuracy, g.name, g.line)).collect()
}

/// scry's named matches for `subject`, in nmap's terms.
fn scry_guesses(
    db: &Database,
    options: MatchOptions,
    subject: &SubjectFingerprint,
    offsets: &[usize],
) -> Vec<Guess> {
    let result = Matcher::with_options(db, options).match_subject(subject);
    report::listed_matches(&result, &scry_os::ReportOptions::default())
        .iter()
        .map(|m| Guess::from_scry(db, m, offsets))
        .collect()
}

/// Compares nmap's and scry's matches for every target; returns the
/// subjects and a report of disagreements (empty when they agree).
fn compare(db: &Database, reports: &[HostReport], offsets: &[usize]) -> (Vec<SubjectFingerprint>, String) {
    let mut subjects = Vec::new();
    let mut disagreements = String::new();
    for (target, report) in targets().iter().zip(reports) {
        assert_ports_used(report);
        let subject = subject_of(report);
        let ours = scry_guesses(db, MatchOptions::default(), &subject, offsets);
        let verdict = if ours == report.matches { "agree" } else { "DISAGREE" };
        eprintln!(
            "{} ({}): nmap and scry {verdict}\n{}",
            target.description,
            target.personality.summary(),
            show(&ours)
        );
        if ours != report.matches {
            disagreements += &format!(
                "{}:\nfingerprint:\n{}nmap:\n{}scry:\n{}first difference: {:#?}\n",
                target.description,
                subject.to_lines(false),
                show(&report.matches),
                show(&ours),
                report.matches.iter().zip(&ours).find(|(a, b)| a != b)
            );
        }
        subjects.push(subject);
    }
    (subjects, disagreements)
}

#[test]
fn scry_ranks_like_nmap_on_nmap_os_db() {
    let Some(()) = oracle::nmap_or_skip("scry_ranks_like_nmap_on_nmap_os_db") else { return };
    let lab = lab_or_skip!(oracle::lab_builder());
    let datadir = oracle::system_datadir();
    let reports = nmap::os_scan(&lab, &datadir);
    let db = Database::load(&[SYSTEM_DB]).unwrap_or_else(|e| panic!("{e}"));

    let (subjects, disagreements) = compare(&db, &reports, &[0]);
    assert!(disagreements.is_empty(), "scry disagrees with nmap 7.93:\n{disagreements}");
    assert!(reports.iter().any(|r| !r.matches.is_empty()), "nmap named no OS for any target");

    // The target that ignores pings answers no IE probe (IE(R=N)), while
    // nmap-os-db's references write U1 and IE without R. nmap 7.93 scores no
    // R there; the Modern dialect (R=Y implied) scores differently, so the
    // agreement above pins the 7.93 reading.
    let quiet = targets().iter().position(|t| t.personality.icmp_echo_ignore_all == Some(true));
    let quiet = quiet.unwrap_or_else(|| panic!("no target ignores pings"));
    assert_eq!(subjects[quiet].test("IE").and_then(|t| t.get("R")), Some("N"));
    let modern = MatchOptions { dialect: Dialect::Modern, ..MatchOptions::default() };
    let implied = scry_guesses(&db, modern, &subjects[quiet], &[0]);
    eprintln!("ICMP echo ignored, if R were implied (newer nmap):\n{}", show(&implied));
    assert_ne!(implied, reports[quiet].matches, "Modern and 7.93 rules agree here, so this proves nothing");
}

/// `(test, attribute, observed, expected)` for every scored attribute of
/// `reference` that `subject` has and does not satisfy (nmap 7.93 rules).
fn misses(
    db: &Database,
    reference: &Reference,
    subject: &SubjectFingerprint,
) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for (test, attrs) in db.tests_of(reference) {
        let Some(observed) = subject.test(test) else { continue };
        for (attr, expr) in attrs {
            let Some(value) = observed.get(attr) else { continue };
            if db.points(test, attr) > 0 && !expr.matches(&Value::new(value), Dialect::Nmap793) {
                out.push((test.to_owned(), attr.to_owned(), value.to_owned(), expr.as_str().to_owned()));
            }
        }
    }
    out
}

/// SEQ attributes that are random on Linux (see `oracle::entry`).
fn is_statistical(test: &str, attr: &str) -> bool {
    test == "SEQ" && matches!(attr, "SP" | "GCD" | "ISR" | "TS" | "II")
}

/// Lowest accuracy a target may score against its own entry when only
/// statistical SEQ attributes miss (GCD, the heaviest, costs about 2%).
const SELF_MATCH_FLOOR: f64 = 0.97;

#[test]
fn lab_db_entries_match_their_targets() {
    let Some(()) = oracle::nmap_or_skip("lab_db_entries_match_their_targets") else { return };
    let lab = lab_or_skip!(oracle::lab_builder());
    let lab_db = oracle::lab_db_path();
    let datadir = Datadir::concatenated("lab-db", &[Path::new(SYSTEM_DB), &lab_db]);
    let reports = nmap::os_scan(&lab, &datadir.path);
    let db = Database::load(&[Path::new(SYSTEM_DB), lab_db.as_path()]).unwrap_or_else(|e| panic!("{e}"));

    let (subjects, disagreements) = compare(&db, &reports, &datadir.line_offsets);
    assert!(
        disagreements.is_empty(),
        "scry disagrees with nmap 7.93 on nmap-os-db + lab.db:\n{disagreements}"
    );

    let kernel = oracle::kernel_version();
    let modern =
        Matcher::with_options(&db, MatchOptions { dialect: Dialect::Modern, ..MatchOptions::default() });
    let matcher = Matcher::new(&db);
    for (target, (subject, report)) in targets().iter().zip(subjects.iter().zip(&reports)) {
        let suffix = format!(" {}", target.description);
        let entry = db
            .references()
            .iter()
            .find(|r| r.name().starts_with("scry lab: Linux ") && r.name().ends_with(&suffix))
            .unwrap_or_else(|| panic!("lab.db has no entry for {:?}", target.description));
        // R is explicit in every lab.db entry, so both dialects score alike.
        assert_eq!(matcher.score(subject, entry), modern.score(subject, entry), "{}", entry.name());

        let name = oracle::entry_name(&kernel, target.description);
        if entry.name() != name {
            // lab.db records one kernel's stack; another kernel may differ.
            eprintln!(
                "skipped self-match of {:?} on Linux {kernel}: regenerate with scripts/os-db-measure.sh",
                entry.name()
            );
            continue;
        }
        let missed = misses(&db, entry, subject);
        let (random, fixed): (Vec<_>, Vec<_>) = missed.iter().partition(|(t, a, _, _)| is_statistical(t, a));
        assert!(
            fixed.is_empty(),
            "{name}: the live fingerprint misses {fixed:?}\n{}",
            subject.to_lines(false)
        );
        let accuracy = matcher.score(subject, entry).accuracy();
        if random.is_empty() {
            assert_eq!(accuracy, 1.0, "{name}");
            let perfect: Vec<&str> =
                report.matches.iter().filter(|g| g.accuracy == 100).map(|g| g.name.as_str()).collect();
            assert_eq!(perfect, [name.as_str()], "nmap's perfect matches for {name}");
        } else {
            // Random SEQ values outside the entry's ranges: rare (see oracle::entry).
            eprintln!("warning: {name}: random SEQ values outside lab.db's ranges: {random:?}");
            assert!(accuracy >= SELF_MATCH_FLOOR, "{name}: {accuracy}");
        }
    }
}

/// nmap-os-db's MatchPoints block, as text.
fn match_points_block(db_text: &str) -> String {
    let start = db_text.find("\nMatchPoints\n").map(|i| i + 1).unwrap_or_else(|| panic!("no MatchPoints"));
    let len = db_text[start..].find("\n\n").unwrap_or(db_text.len() - start);
    format!("{}\n", &db_text[start..start + len])
}

#[test]
fn lab_db_loads_with_nmap_match_points() {
    let Some(()) = oracle::system_db_or_skip("lab_db_loads_with_nmap_match_points") else { return };
    let lab_db = oracle::lab_db_path();
    let text = std::fs::read_to_string(&lab_db).unwrap_or_else(|e| panic!("{}: {e}", lab_db.display()));
    let fingerprints = text.lines().filter(|l| l.starts_with("Fingerprint ")).count();
    assert_eq!(fingerprints, targets().len(), "one lab.db entry per lab target");

    // A database has exactly one MatchPoints block: lab.db has none.
    let alone = Database::load(&[&lab_db]).map(|db| db.len());
    assert!(matches!(alone, Err(scry_os::DbError::MissingMatchPoints { .. })), "{alone:?}");

    // lab.db alone, with nmap's MatchPoints block in front.
    let nmap_text = std::fs::read_to_string(SYSTEM_DB).unwrap_or_else(|e| panic!("{SYSTEM_DB}: {e}"));
    let mut builder = Database::builder();
    builder
        .add_str("MatchPoints of nmap-os-db", &match_points_block(&nmap_text))
        .unwrap_or_else(|e| panic!("{e}"));
    builder.add_file(&lab_db).unwrap_or_else(|e| panic!("{e}"));
    let db = builder.build().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.len(), fingerprints);
    let matcher = Matcher::new(&db);
    for reference in db.references() {
        assert!(reference.name().starts_with("scry lab: Linux "), "{}", reference.name());
        let tests: Vec<&str> = db.tests_of(reference).map(|(t, _)| t).collect();
        assert_eq!(tests, ["SEQ", "OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"]);
        for (test, attrs) in db.tests_of(reference) {
            let has_r = attrs.iter().any(|(a, _)| *a == "R");
            assert_eq!(has_r, TESTS_WITH_R.contains(&test), "{}: {test} must state R", reference.name());
        }
        let example = matcher.example_subject(reference).unwrap_or_else(|| panic!("{}", reference.name()));
        assert_eq!(matcher.match_subject(&example).best().map(|m| &*m.name), Some(reference.name()));
    }

    // And merged after nmap's own database, as the tests that need it load it.
    let both = Database::load(&[Path::new(SYSTEM_DB), lab_db.as_path()]).unwrap_or_else(|e| panic!("{e}"));
    let ours = both.references().iter().filter(|r| both.source_of(r) == lab_db.as_path()).count();
    assert_eq!(ours, fingerprints);
}

#[test]
fn lab_db_entry_rules() {
    let run = |seq: &str, ie: &str| {
        SubjectFingerprint::parse(&format!(
            "{seq}\nOPS(O1=M5B4ST11NWA)\nT1(R=Y%DF=Y%T=40%S=O)\nT2(R=N)\nU1(DF=N%T=40%IPL=164)\n{ie}"
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let runs = [
        run("SEQ(SP=FB%GCD=1%ISR=104%TI=Z%II=I%TS=21)", "IE(R=Y%DFI=N%T=40%CD=S)"),
        run("SEQ(SP=108%GCD=2%ISR=10E%TI=Z%TS=22)", "IE(R=Y%DFI=N%T=40%CD=S)"),
    ];
    let head = EntryHead {
        name: "scry lab: Linux 6.18 example".to_owned(),
        comments: vec!["sysctls: none".to_owned()],
        generation: "6.X".to_owned(),
        cpe: "cpe:/o:linux:linux_kernel:6.18".to_owned(),
    };
    let text = entry::reference_entry(&head, &runs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        text,
        "# sysctls: none\n\
         Fingerprint scry lab: Linux 6.18 example\n\
         Class Linux | Linux | 6.X | general purpose\n\
         CPE cpe:/o:linux:linux_kernel:6.18 auto\n\
         SEQ(SP=EB-110%GCD=1-6%ISR=F4-116%TI=Z%II=I%TS=1F-23)\n\
         OPS(O1=M5B4ST11NWA)\n\
         T1(R=Y%DF=Y%T=3B-45%TG=40%S=O)\n\
         T2(R=N)\n\
         U1(R=Y%DF=N%T=3B-45%TG=40%IPL=164)\n\
         IE(R=Y%DFI=N%T=3B-45%TG=40%CD=S)\n"
    );

    // A value that must not vary stops the measurement.
    let other = run("SEQ(SP=FB%GCD=1%ISR=104%TI=RD%TS=21)", "IE(R=N)");
    let err = entry::reference_entry(&head, &[runs[0].clone(), other]).map(|_| ()).unwrap_err();
    assert!(err.contains("SEQ.TI differs"), "{err}");
}

/// Measures every lab target `SCRY_LAB_DB_RUNS` times (default 10) and
/// writes lab.db to `SCRY_LAB_DB_OUT` (or prints it). Run by
/// `scripts/os-db-measure.sh`.
#[test]
#[ignore = "writes tests/fixtures/lab.db; run by scripts/os-db-measure.sh"]
fn measure_lab_db() {
    let Some(()) = oracle::nmap_or_skip("measure_lab_db") else { return };
    let runs: usize = std::env::var("SCRY_LAB_DB_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let lab = lab_or_skip!(oracle::lab_builder());
    let datadir = oracle::system_datadir();
    let mut measured: Vec<Vec<SubjectFingerprint>> = vec![Vec::new(); targets().len()];
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        for (i, report) in nmap::os_scan(&lab, &datadir).iter().enumerate() {
            assert_ports_used(report);
            let mut subject = subject_of(report);
            subject.scan = None;
            measured[i].push(subject);
        }
    }

    let kernel = oracle::kernel_version();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = nmap::version().unwrap_or_default();
    let version = version.split_whitespace().nth(2).unwrap_or("?");
    let mut text = format!(
        "# Test data, not an OS database: the targets of the namespace lab\n\
         # (crates/scry-os/tests/oracle/mod.rs) as nmap {version} sees them, measured\n\
         # on Linux {} with {runs} runs of `nmap -O --max-os-tries 1` per target.\n\
         # Only the tests that need these entries load them; scry never does.\n\
         #\n\
         # Generated by scripts/os-db-measure.sh: change the targets or the rules\n\
         # (crates/scry-os/tests/oracle/entry.rs) and regenerate rather than edit.\n\
         # No MatchPoints block: load it together with nmap-os-db. See\n\
         # crates/scry-os/tests/fixtures/lab-db.md.\n",
        release.trim()
    );
    for (target, runs) in targets().iter().zip(&measured) {
        let head = EntryHead {
            name: oracle::entry_name(&kernel, target.description),
            comments: vec![format!("sysctls: {}", target.personality.summary())],
            generation: format!("{}.X", kernel.split('.').next().unwrap_or_default()),
            cpe: format!("cpe:/o:linux:linux_kernel:{kernel}"),
        };
        text.push('\n');
        text += &entry::reference_entry(&head, runs).unwrap_or_else(|e| panic!("{}: {e}", head.name));
    }

    // Every measured fingerprint must score 100% against its new entry.
    let nmap_text = std::fs::read_to_string(SYSTEM_DB).unwrap_or_else(|e| panic!("{SYSTEM_DB}: {e}"));
    let mut builder = Database::builder();
    builder
        .add_str("MatchPoints of nmap-os-db", &match_points_block(&nmap_text))
        .unwrap_or_else(|e| panic!("{e}"));
    builder.add_str("lab.db (generated)", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let db = builder.build().unwrap_or_else(|e| panic!("{e}"));
    let matcher = Matcher::new(&db);
    for (reference, runs) in db.references().iter().zip(&measured) {
        for subject in runs {
            let score = matcher.score(subject, reference);
            assert_eq!(
                score.matched,
                score.possible,
                "{}: {:?}",
                reference.name(),
                misses(&db, reference, subject)
            );
        }
    }

    match std::env::var_os("SCRY_LAB_DB_OUT") {
        Some(path) => {
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
            eprintln!("wrote {} entries to {}", db.len(), Path::new(&path).display());
        }
        None => print!("{text}"),
    }
}
