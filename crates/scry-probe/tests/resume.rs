//! The resume-file format: round trips, errors at file:line:column, and
//! "never panics" on any text.

use proptest::prelude::*;
use scry_probe::resume::{ResumeError, ResumeFile, ResumeState};
use scry_probe::services::Protocol;

fn state() -> ResumeState {
    ResumeState {
        seed: 42,
        phase: 2,
        position: 4096,
        args: vec!["-p-".into(), "198.18.0.10".into(), "a \"b\"".into()],
        versions: Vec::new(),
    }
}

fn syntax(line: usize, column: usize, problem: &str) -> ResumeError {
    ResumeError::Syntax { origin: "r".into(), line, column, problem: problem.into() }
}

#[test]
fn text_round_trips() {
    let s = state();
    assert_eq!(
        s.to_text(),
        "# scry resume file: continue with `scry --resume FILE`\nseed = 42\nphase = 2\nposition = 4096\n\
         args = [\"-p-\",\"198.18.0.10\",\"a \\\"b\\\"\"]\n"
    );
    assert_eq!(
        ResumeState::parse(&s.to_text(), "f").unwrap(),
        ResumeFile { state: s, phase_at: Some((3, 9)) }
    );
}

#[test]
fn versions_still_to_do_round_trip_and_are_absent_when_none() {
    let mut s = state();
    s.versions = vec![
        ("198.18.0.10".parse().unwrap(), Protocol::Tcp, 22),
        ("2001:2::a".parse().unwrap(), Protocol::Udp, 161),
    ];
    let text = s.to_text();
    assert!(
        text.ends_with("versions = [[\"198.18.0.10\",\"tcp\",22],[\"2001:2::a\",\"udp\",161]]\n"),
        "{text}"
    );
    assert_eq!(ResumeState::parse(&text, "f").unwrap().state, s);
    assert!(!state().to_text().contains("versions"));
}

#[test]
fn a_bad_versions_entry_is_named_where_it_stands() {
    let base = "seed = 1\nposition = 2\nargs = []\n";
    let err = ResumeState::parse(&format!("{base}versions = [[\"198.18.0.x\", \"tcp\", 22]]\n"), "r");
    assert_eq!(err.unwrap_err(), syntax(4, 12, "versions: \"198.18.0.x\" is not an address"));
    let err = ResumeState::parse(&format!("{base}versions = [[\"198.18.0.1\", \"sctp\", 22]]\n"), "r");
    assert_eq!(err.unwrap_err(), syntax(4, 12, "versions: protocol \"sctp\": expected \"tcp\" or \"udp\""));
    let err = ResumeState::parse(&format!("{base}versions = [[\"198.18.0.1\", \"tcp\", 70000]]\n"), "r");
    assert!(err.unwrap_err().to_string().starts_with("r:4:"), "a port past 65535");
}

#[test]
fn a_file_without_a_phase_resumes_the_first() {
    let old = ResumeState::parse("seed = 1\nposition = 2\nargs = []\n", "r").unwrap();
    assert_eq!((old.state.phase, old.phase_at), (1, None));
}

#[test]
fn the_phase_value_is_located() {
    let file = ResumeState::parse("seed = 1\n\n  phase =  3\nposition = 2\nargs = []\n", "r").unwrap();
    assert_eq!((file.state.phase, file.phase_at), (3, Some((3, 12))));
}

#[test]
fn errors_name_line_and_column() {
    let bad = "# c\nseed = 1\nposition = 12x\nargs = []\n";
    assert_eq!(
        ResumeState::parse(bad, "r").unwrap_err(),
        syntax(3, 12, "position \"12x\": invalid digit found in string")
    );
    let err = ResumeState::parse("seed = 1\nposition = 2\nargs = [1]\n", "r").unwrap_err();
    assert_eq!(
        err,
        syntax(3, 9, "args must be a JSON array of strings: invalid type: integer `1`, expected a string at line 1 column 2")
    );
    assert_eq!(
        ResumeState::parse("seed 1\n", "r").unwrap_err(),
        syntax(1, 1, "expected `key = value`, found \"seed 1\"")
    );
    assert_eq!(
        ResumeState::parse("  colour = red\n", "r").unwrap_err(),
        syntax(1, 3, "unknown key \"colour\"")
    );
    assert_eq!(
        ResumeState::parse("seed = 1\nphase = 0\n", "r").unwrap_err(),
        syntax(2, 9, "phase 0: phases count from 1 (SYN before UDP)")
    );
    let err = ResumeState::parse("seed = 1\nargs = []\n", "r").unwrap_err();
    assert_eq!(err, ResumeError::Missing { origin: "r".into(), key: "position" });
    assert_eq!(err.to_string(), "r: no `position =` line; not a scry resume file");
    assert_eq!(syntax(2, 9, "x").to_string(), "r:2:9: x",);
}

proptest! {
    #[test]
    fn any_text_parses_or_errs(text in "(seed|phase|position|args|#| |=|\\[|\\]|\"|[0-9]|\n|\u{e9}){0,80}") {
        let _ = ResumeState::parse(&text, "r");
    }

    #[test]
    fn any_state_round_trips(seed: u64, phase in 1u32.., position: u64, args: Vec<String>) {
        let s = ResumeState { seed, phase, position, args, versions: Vec::new() };
        prop_assert_eq!(ResumeState::parse(&s.to_text(), "r").unwrap().state, s);
    }
}
