//! The database loader never panics: random lines and random edits of real
//! nmap-os-db lines either load or fail with a located error, and whatever
//! loads can be matched against without panicking.

use proptest::prelude::*;
use scry_os::{Database, DatabaseBuilder, DbError, Matcher, SubjectFingerprint};

const SAMPLE: &str = include_str!("fixtures/nmap-os-db-sample.txt");

const SUBJECT: &str = "SEQ(SP=106%GCD=1%ISR=10A%TI=Z%CI=Z%II=I%TS=A)\n\
OPS(O1=M5B4ST11NW7%O2=M5B4ST11NW7%O3=M5B4NNT11NW7%O4=M5B4ST11NW7%O5=M5B4ST11NW7%O6=M5B4ST11)\n\
WIN(W1=FE88%W2=FE88%W3=FE88%W4=FE88%W5=FE88%W6=FE88)\n\
ECN(R=Y%DF=Y%T=40%W=FAF0%O=M5B4NNSNW7%CC=Y%Q=)\n\
T1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)\nT2(R=N)\nT3(R=N)\n\
T4(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)\n\
U1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)\nIE(R=Y%DFI=N%T=40%CD=S)";

fn load(text: &str) -> Result<Database, DbError> {
    let mut builder = DatabaseBuilder::new();
    builder.add_str("sample.db", text)?;
    builder.build()
}

/// Loads `text`; if it loads, matches a subject against it.
fn exercise(text: &str) {
    match load(text) {
        Ok(db) => {
            let subject = SubjectFingerprint::parse(SUBJECT).expect("subject parses");
            let _ = Matcher::new(&db).match_subject(&subject);
        }
        Err(e) => {
            // Every error renders with a location.
            let shown = e.to_string();
            assert!(shown.contains("sample.db"), "{shown}");
        }
    }
}

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
}

fn apply(line: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    for edit in edits {
        let len = chars.len();
        match *edit {
            Edit::Delete(i) if len > 0 => {
                chars.remove(i % len);
            }
            Edit::Insert(i, c) => chars.insert(i % (len + 1), c),
            Edit::Replace(i, c) if len > 0 => chars[i % len] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '(', ')', '%', '=', '|', '-', '<', '>', '[', ']', '#', ' ', '\t', '\r', '\n', 'R', 'Y', '0', 'F',
            'é'
        ]),
        any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), interesting_char()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), interesting_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

#[test]
fn sample_fixture_loads() {
    let db = load(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.len(), SAMPLE.lines().filter(|l| l.starts_with("Fingerprint ")).count());
    exercise(SAMPLE);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_edits_of_real_lines_never_panic(
        line_index in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let lines: Vec<&str> = SAMPLE.lines().collect();
        let target = line_index.index(lines.len());
        let edited = apply(lines[target], &edits);
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            text.push_str(if i == target { &edited } else { line });
            text.push('\n');
        }
        exercise(&text);
    }

    #[test]
    fn random_lines_never_panic(extra in prop::collection::vec(".{0,80}", 1..5), at in any::<prop::sample::Index>()) {
        let mut lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
        let pos = at.index(lines.len() + 1);
        for (i, line) in extra.into_iter().enumerate() {
            lines.insert(pos + i, line);
        }
        exercise(&lines.join("\n"));
    }

    #[test]
    fn random_expressions_never_panic(test in "(SEQ|OPS|T1|U1|XX)", attr in "(SP|O1|O|R|W|Q|ZZ)", value in "[0-9A-F<>|\\[\\]+-]{0,24}") {
        let text = format!("{SAMPLE}\nFingerprint Probe\nClass A | B | | C\n{test}({attr}={value})\n");
        exercise(&text);
    }
}

/// The example entry in docs/own-fingerprints.md is valid, loaded next to MatchPoints.
#[test]
fn documented_example_loads() {
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/own-fingerprints.md");
    let text = std::fs::read_to_string(&doc).expect("docs/own-fingerprints.md");
    let example: String = text
        .split("```")
        .nth(1)
        .expect("a fenced example")
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    let match_points: String = SAMPLE
        .lines()
        .skip_while(|l| *l != "MatchPoints")
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let db = load(&format!("{match_points}\n{example}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.len(), 1);
    assert_eq!(db.references()[0].classes()[0].cpe.len(), 1);
}
