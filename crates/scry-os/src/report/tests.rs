//! Report lines and JSON, on hand-made results.

use std::sync::Arc;

use super::*;
use crate::db::Cpe;

fn class(vendor: &str, family: &str, generation: Option<&str>, device_type: &str, cpe: &[&str]) -> OsClass {
    OsClass {
        vendor: vendor.to_owned(),
        family: family.to_owned(),
        generation: generation.map(str::to_owned),
        device_type: device_type.to_owned(),
        cpe: cpe.iter().map(|c| Cpe { name: (*c).to_owned(), auto: false }).collect(),
    }
}

fn linux(generation: &str) -> OsClass {
    let cpe = format!("cpe:/o:linux:linux_kernel:{}", generation.trim_end_matches(".X"));
    class("Linux", "Linux", Some(generation), "general purpose", &[&cpe])
}

fn entry(name: &str, accuracy: f64, classes: Vec<OsClass>) -> OsMatch {
    OsMatch {
        index: 0,
        name: name.into(),
        line: 7,
        accuracy,
        matched_points: 0,
        possible_points: 0,
        classes: Arc::from(classes),
    }
}

fn result(matches: Vec<OsMatch>) -> OsResult {
    let perfect = matches.iter().take_while(|m| m.accuracy == 1.0).count();
    OsResult {
        status: if matches.is_empty() { MatchStatus::NoMatches } else { MatchStatus::Success },
        matches,
        perfect,
    }
}

#[test]
fn perfect_matches_give_details_and_classes() {
    let r = result(vec![
        entry("Linux 2.6.32", 1.0, vec![linux("2.6.X")]),
        entry("Linux 3.2 - 4.9", 1.0, vec![linux("3.X"), linux("4.X")]),
        entry("Sony TV", 0.95, vec![class("Sony", "Linux", Some("2.6.X"), "media device", &[])]),
    ]);
    assert_eq!(
        os_lines(&r, &ReportOptions::default()),
        [
            "Device type: general purpose",
            "Running: Linux 2.6.X|3.X|4.X",
            "OS CPE: cpe:/o:linux:linux_kernel:2.6 cpe:/o:linux:linux_kernel:3 cpe:/o:linux:linux_kernel:4",
            "OS details: Linux 2.6.32, Linux 3.2 - 4.9",
        ]
    );
    assert_eq!(listed_matches(&r, &ReportOptions::default()).len(), 2);
}

#[test]
fn guesses_need_osscan_guess_or_a_reason() {
    let r = result(vec![
        entry("Linux 5.0 - 5.2", 0.975, vec![linux("5.X")]),
        entry(
            "AXIS camera",
            0.94,
            vec![class("AXIS", "Linux", Some("2.6.X"), "webcam", &["cpe:/h:axis:210a"])],
        ),
        entry("Far away", 0.875, vec![class("X", "Y", None, "router", &[])]),
    ]);
    assert_eq!(
        os_lines(&r, &ReportOptions::default()),
        ["No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ )."]
    );
    let guess = ReportOptions { osscan_guess: true, ..ReportOptions::default() };
    assert_eq!(
        os_lines(&r, &guess),
        [
            "Device type: general purpose|webcam",
            "Running (JUST GUESSING): Linux 5.X (97%), AXIS Linux 2.6.X (94%)",
            "OS CPE: cpe:/o:linux:linux_kernel:5 cpe:/h:axis:210a",
            "Aggressive OS guesses: Linux 5.0 - 5.2 (97%), AXIS camera (94%)",
            "No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).",
        ]
    );
    let reason = ReportOptions {
        omit_reason: Some("Missing a closed TCP port so results incomplete".to_owned()),
        unreliable: true,
        ..ReportOptions::default()
    };
    let lines = os_lines(&r, &reason);
    assert_eq!(lines[0], "Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port");
    assert_eq!(lines.last().unwrap(), "No exact OS matches for host (test conditions non-ideal).");
}

#[test]
fn guesses_stop_at_ten_and_within_ten_points() {
    let many: Vec<OsMatch> =
        (0..12).map(|i| entry(&format!("OS {i}"), 0.99 - f64::from(i) * 0.001, vec![])).collect();
    assert_eq!(listed_matches(&result(many), &ReportOptions::default()).len(), 10);
    // Strictly more than best - 0.10: 0.89 is out when the best is 0.99.
    let edge = vec![entry("A", 0.99, vec![]), entry("B", 0.8901, vec![]), entry("C", 0.89, vec![])];
    assert_eq!(
        guesses_line(&result(edge), &ReportOptions::default()).unwrap(),
        "Aggressive OS guesses: A (99%), B (89%)"
    );
}

#[test]
fn percent_is_floored() {
    assert_eq!(entry("A", 0.999_999, vec![]).percent(), 99);
    assert_eq!(entry("A", 0.57, vec![]).percent(), 56);
    assert_eq!(entry("A", 1.0, vec![]).percent(), 100);
}

#[test]
fn more_than_eight_perfect_matches_are_too_many() {
    let nine: Vec<OsMatch> = (0..9).map(|i| entry(&format!("OS {i}"), 1.0, vec![linux("2.6.X")])).collect();
    let r = result(nine);
    let lines = os_lines(&r, &ReportOptions::default());
    assert_eq!(lines.last().unwrap(), "Too many fingerprints match this host to give specific OS details");
    assert_eq!(lines[0], "Device type: general purpose");
    assert!(listed_matches(&r, &ReportOptions::default()).is_empty());
    assert_eq!(details_line(&r, &ReportOptions::default()), None);
    // Under -d nmap names them all (output.cc: `num_perfect_matches <= 8 ||
    // o.debugging`), and prints the fingerprint after them.
    let debugging = ReportOptions { debugging: true, always_fingerprint: true, ..ReportOptions::default() };
    let lines = os_lines(&r, &debugging);
    let names: Vec<String> = (0..9).map(|i| format!("OS {i}")).collect();
    assert_eq!(lines.last().unwrap(), &format!("OS details: {}", names.join(", ")));
    assert_eq!(listed_matches(&r, &debugging).len(), 9);
    assert_eq!(fingerprint_shown(&r, &debugging), Some(FingerprintShown { wrapped: true, good: true }));
    let too_many = OsResult { status: MatchStatus::TooManyMatches, ..r };
    assert_eq!(
        os_lines(&too_many, &debugging),
        ["Too many fingerprints match this host to give specific OS details"]
    );
    assert_eq!(
        os_lines(&too_many, &ReportOptions::default()),
        ["Too many fingerprints match this host to give specific OS details"]
    );
}

#[test]
fn no_matches() {
    let r = result(vec![]);
    assert_eq!(
        os_lines(&r, &ReportOptions::default()),
        ["No OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ )."]
    );
    let reason = ReportOptions {
        omit_reason: Some("Timing level 5 (Insane) used".to_owned()),
        ..ReportOptions::default()
    };
    assert_eq!(
        os_lines(&r, &reason),
        ["OS fingerprint not ideal because: Timing level 5 (Insane) used", "No OS matches for host"]
    );
}

#[test]
fn class_summary_overflows_silently() {
    let nine: Vec<OsMatch> = (0..9)
        .map(|i| entry(&format!("OS {i}"), 1.0, vec![class(&format!("V{i}"), "F", None, "t", &[])]))
        .collect();
    let r = result(nine);
    assert!(class_lines(&classify(&r), false).is_empty());
}

#[test]
fn classification_keeps_only_perfect_classes_when_there_are_some() {
    let r = result(vec![entry("A", 1.0, vec![linux("2.6.X")]), entry("B", 0.99, vec![linux("3.X")])]);
    let c = classify(&r);
    assert_eq!(c.classes.len(), 1);
    assert_eq!(c.perfect, 1);
    // Generations are joined unless already contained (nmap uses strstr).
    let r = result(vec![entry("A", 0.9, vec![linux("2.6.X"), linux("6.X"), linux("3.X")])]);
    assert_eq!(class_lines(&classify(&r), true)[1], "Running (JUST GUESSING): Linux 2.6.X|3.X (90%)");
}

#[test]
fn json_form() {
    let m = entry(
        "Linux 3.2 - 4.9",
        0.964,
        vec![
            linux("3.X"),
            linux("4.X"),
            class("Linux", "Linux", None, "general purpose", &["cpe:/o:linux:linux_kernel:3"]),
        ],
    );
    let json = serde_json::to_value(m.to_json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "Linux 3.2 - 4.9",
            "accuracy": 96,
            "line": 7,
            "classes": [
                {"vendor": "Linux", "family": "Linux", "generation": "3.X", "type": "general purpose"},
                {"vendor": "Linux", "family": "Linux", "generation": "4.X", "type": "general purpose"},
                {"vendor": "Linux", "family": "Linux", "generation": null, "type": "general purpose"}
            ],
            "cpe": ["cpe:/o:linux:linux_kernel:3", "cpe:/o:linux:linux_kernel:4"]
        })
    );
}

/// nmap 7.93's output.cc: which results print the fingerprint, in which
/// form, with and without -d/-vv.
#[test]
fn fingerprint_shown_follows_printosscanoutput() {
    let perfect = result(vec![entry("Linux 5.0 - 5.14", 1.0, vec![linux("5.X")])]);
    let guesses = result(vec![entry("Linux 5.0 - 5.2", 0.975, vec![linux("5.X")])]);
    let nothing = result(vec![]);
    let nine: Vec<OsMatch> = (0..9).map(|i| entry(&format!("OS {i}"), 1.0, vec![])).collect();
    let too_many = result(nine);
    let reason = Some("Missing a closed TCP port so results incomplete".to_owned());
    let (wrapped_good, wrapped_not_good, lines) = (
        Some(FingerprintShown { wrapped: true, good: true }),
        Some(FingerprintShown { wrapped: true, good: false }),
        Some(FingerprintShown { wrapped: false, good: false }),
    );
    // (result, non-ideal, -d/-vv, shown)
    let cases = [
        (&perfect, false, false, None),
        (&perfect, false, true, wrapped_good),
        (&perfect, true, false, None),
        (&perfect, true, true, wrapped_not_good),
        (&guesses, false, false, wrapped_good),
        (&guesses, false, true, wrapped_good),
        (&guesses, true, false, None),
        (&guesses, true, true, lines),
        (&nothing, false, false, wrapped_good),
        (&nothing, true, false, None),
        (&nothing, true, true, lines),
        (&too_many, false, false, None),
        (&too_many, false, true, lines),
    ];
    for (i, (r, non_ideal, always, want)) in cases.into_iter().enumerate() {
        let options = ReportOptions {
            omit_reason: if non_ideal { reason.clone() } else { None },
            always_fingerprint: always,
            ..ReportOptions::default()
        };
        assert_eq!(fingerprint_shown(r, &options), want, "case {i}");
    }
}

#[test]
fn not_ideal_reason_comes_before_the_guesses_with_d_or_vv() {
    let r = result(vec![entry("Linux 5.0 - 5.2", 0.975, vec![linux("5.X")])]);
    let options = ReportOptions {
        omit_reason: Some("Missing a closed TCP port so results incomplete".to_owned()),
        always_fingerprint: true,
        ..ReportOptions::default()
    };
    assert_eq!(
        os_lines(&r, &options)[3..],
        [
            "OS fingerprint not ideal because: Missing a closed TCP port so results incomplete",
            "Aggressive OS guesses: Linux 5.0 - 5.2 (97%)",
            "No exact OS matches for host (test conditions non-ideal).",
        ]
    );
    let quiet = ReportOptions { always_fingerprint: false, ..options };
    assert!(!os_lines(&r, &quiet).iter().any(|l| l.starts_with("OS fingerprint not ideal")));
}

#[test]
fn fingerprint_text_sets_g_and_picks_the_form() {
    let fp = crate::SubjectFingerprint::parse(
        "SCAN(V=7.93%E=4%D=11/27%OT=22%CT=%CU=40000%PV=N%G=Y%TM=6B08FF71%P=x86_64-unknown-linux)\nT2(R=N)\nT3(R=N)",
    )
    .unwrap();
    assert_eq!(
        fingerprint_text(&fp, FingerprintShown { wrapped: false, good: false }),
        "SCAN(V=7.93%E=4%D=11/27%OT=22%CT=%CU=40000%PV=N%G=N%TM=6B08FF71%P=x86_64-unknown-linux)\nT2(R=N)\nT3(R=N)\n"
    );
    assert_eq!(
        fingerprint_text(&fp, FingerprintShown { wrapped: true, good: true }),
        "OS:SCAN(V=7.93%E=4%D=11/27%OT=22%CT=%CU=40000%PV=N%G=Y%TM=6B08FF71%P=x86_64\n\
         OS:-unknown-linux)T2(R=N)T3(R=N)\n"
    );
}
