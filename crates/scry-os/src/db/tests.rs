//! Loader tests: the grammar, merging, and the exact error messages.

use super::*;

pub(crate) const MATCH_POINTS: &str = "MatchPoints
SEQ(SP=25%GCD=75%ISR=25%TI=100%CI=50%II=100%SS=80%TS=100)
OPS(O1=20%O2=20%O3=20%O4=20%O5=20%O6=20)
WIN(W1=15%W2=15%W3=15%W4=15%W5=15%W6=15)
ECN(R=100%DF=20%T=15%TG=15%W=15%O=15%CC=100%Q=20)
T1(R=100%DF=20%T=15%TG=15%S=20%A=20%F=30%RD=20%Q=20)
T2(R=80%DF=20%T=15%TG=15%W=25%S=20%A=20%F=30%O=10%RD=20%Q=20)
U1(R=50%DF=20%T=15%TG=15%IPL=100%UN=100%RIPL=100%RID=100%RIPCK=100%RUCK=100%RUD=100)
IE(R=50%DFI=40%T=15%TG=15%CD=100)
";

fn load(text: &str) -> Result<Database, DbError> {
    let mut b = DatabaseBuilder::new();
    b.add_str("mine.db", text)?;
    b.build()
}

fn syntax_error(text: &str) -> String {
    match load(text) {
        Err(e @ DbError::Syntax { .. }) => e.to_string(),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn parses_entries_classes_and_cpes() {
    let db = load(&format!(
        "# comment\n{MATCH_POINTS}\nFingerprint Foo OS 1.0 # trailing comment\n\
         Class Foo | FooOS | 1.X | general purpose\nCPE cpe:/o:foo:fooos:1 auto\nCPE cpe:/h:foo:box\n\
         Class Foo | FooOS || router\n\
         # comment inside an entry\n\
         SEQ(SP=0-5%GCD=1|2%TS=U)\nT1(R=Y%DF=N%T=3B-45%Q=)\nT2(R=N)\nOPS()\n\n\
         Fingerprint Bar\nClass Bar | Bar | | switch\nT1(R=N)\n"
    ))
    .unwrap();
    assert_eq!(db.len(), 2);
    let foo = &db.references()[0];
    assert_eq!(foo.name(), "Foo OS 1.0");
    assert_eq!(foo.line(), 12);
    assert_eq!(foo.classes().len(), 2);
    let c = &foo.classes()[0];
    assert_eq!((c.vendor.as_str(), c.family.as_str()), ("Foo", "FooOS"));
    assert_eq!(c.generation.as_deref(), Some("1.X"));
    assert_eq!(c.device_type, "general purpose");
    assert_eq!(c.cpe.len(), 2);
    assert!(c.cpe[0].auto && !c.cpe[1].auto);
    assert_eq!(foo.classes()[1].generation, None);
    let tests: Vec<(&str, Vec<(&str, &Expr)>)> = db.tests_of(foo).collect();
    let names: Vec<&str> = tests.iter().map(|t| t.0).collect();
    assert_eq!(names, ["SEQ", "T1", "T2", "OPS"]);
    assert_eq!(tests[0].1[1].0, "GCD");
    assert_eq!(tests[0].1[1].1.as_str(), "1|2");
    assert!(tests[3].1.is_empty());
    assert_eq!(db.points("T2", "R"), 80);
}

#[test]
fn crlf_and_indentation_are_accepted() {
    let text = format!("{MATCH_POINTS}\nFingerprint X\r\nClass X | X | | y\r\n  T1(R=Y%DF=N)\r\n")
        .replace('\n', "\r\n");
    assert_eq!(load(&text).unwrap().len(), 1);
}

#[test]
fn files_merge_and_match_points_may_come_from_any_of_them() {
    let mut b = DatabaseBuilder::new();
    b.add_str("mine.db", "Fingerprint Mine\nClass M | M | | x\nT1(R=Y%DF=Y)\n").unwrap();
    b.add_str("nmap-os-db", &format!("{MATCH_POINTS}\nFingerprint Theirs\nT1(R=N)\n")).unwrap();
    let db = b.build().unwrap();
    assert_eq!(db.len(), 2);
    assert_eq!(db.source_of(&db.references()[0]), Path::new("mine.db"));
    assert_eq!(db.match_points_location(), (Path::new("nmap-os-db"), 1));
}

#[test]
fn match_points_are_required_once() {
    let err = load("Fingerprint X\nT1(R=N)\n").unwrap_err();
    assert_eq!(err.to_string(), "no MatchPoints block in mine.db; load nmap's nmap-os-db too or add one");
    let mut b = DatabaseBuilder::new();
    b.add_str("a.db", MATCH_POINTS).unwrap();
    let err = b.add_str("b.db", &format!("\n\n{MATCH_POINTS}")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.db:3: a second MatchPoints block (the first is at a.db:1); a database has exactly one"
    );
}

#[test]
fn error_missing_equals() {
    assert_eq!(
        syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%DF\n")),
        "mine.db:12:10: expected '=' after attribute name in \"T1(R=Y%DF\""
    );
}

#[test]
fn error_missing_close_paren() {
    assert_eq!(
        syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%DF=N\n")),
        "mine.db:12:12: expected ')' at the end of the test in \"T1(R=Y%DF=N\""
    );
}

#[test]
fn error_bad_range() {
    assert_eq!(
        syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%T=45-3B)\n")),
        "mine.db:12:10: expected a range whose low end is below its high end in \"T1(R=Y%T=45-3B)\""
    );
}

#[test]
fn error_brackets_outside_option_strings() {
    let e = syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%T=[40])\n"));
    assert!(e.starts_with("mine.db:12:10: brackets are only allowed"), "{e}");
    let db =
        load(&format!("{MATCH_POINTS}\nFingerprint X\nOPS(O1=M[>500]ST11W[1-5])\nT2(R=Y%O=M[5B4|578])\n"))
            .unwrap();
    assert_eq!(db.len(), 1);
}

#[test]
fn error_unclosed_bracket() {
    assert_eq!(
        syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nOPS(O1=M[>500ST11)\n")),
        "mine.db:12:9: expected ']' to close this '[' in \"OPS(O1=M[>500ST11)\""
    );
}

#[test]
fn error_lines_out_of_place() {
    let e = syntax_error("T1(R=Y)\n");
    assert!(e.contains(":1:1: expected a 'Fingerprint' or 'MatchPoints' line before this test"), "{e}");
    let e = syntax_error("Fingerprint X\nCPE cpe:/o:x:x\n");
    assert!(e.contains(":2:1: expected 'CPE' only after a 'Class' line"), "{e}");
    let e = syntax_error("Class A | B | C | D\n");
    assert!(e.contains(":1:1: expected 'Class' only inside a Fingerprint entry"), "{e}");
    let e = syntax_error("Fingerprint X\nClass A | B | C\n");
    assert!(e.contains(":2:16: expected 4 '|'-separated fields"), "{e}");
    let e = syntax_error("Fingerprint X\nClass A |  | C | D\n");
    assert!(e.contains(":2:12: expected an OS family"), "{e}");
    let e = syntax_error("Fingerprint X\nClass A | B | C | D\nCPE o:x\n");
    assert!(e.contains(":3:5: expected a CPE name"), "{e}");
    let e = syntax_error("Fingerprint   \n");
    assert!(e.contains(":1:12: expected an OS name"), "{e}");
    let e = syntax_error("Fingerprnt X\n");
    assert!(e.contains(":1:1: expected 'Fingerprint', 'Class'"), "{e}");
    let e = syntax_error("MatchPoints\nT1(R=x)\n");
    assert!(e.contains(":2:6: expected a whole number of points"), "{e}");
    let e = syntax_error("MatchPoints now\n");
    assert!(e.contains(":1:13: expected nothing after 'MatchPoints'"), "{e}");
}

#[test]
fn error_repeats() {
    let e = syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%DF=N%DF=Y)\n"));
    assert!(e.contains(":12:13: expected each attribute once, but 'DF' repeats"), "{e}");
    let e = syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y)\nT1(R=N)\n"));
    assert!(e.contains(":13:1: expected each test once per entry, but 'T1' repeats"), "{e}");
    let e = syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%=N)\n"));
    assert!(e.contains(":12:8: expected an attribute name"), "{e}");
    let e = syntax_error(&format!("{MATCH_POINTS}\nFingerprint X\n(R=Y)\n"));
    assert!(e.contains(":12:1: expected a test name"), "{e}");
}

#[test]
fn long_lines_are_shortened_in_errors() {
    let long = format!("{MATCH_POINTS}\nFingerprint X\nT1(R=Y%Q={})\n", "Z".repeat(300) + " ");
    let e = syntax_error(&long);
    assert!(e.ends_with("…\""), "{e}");
    assert!(e.len() < 300, "{e}");
}

#[test]
fn unknown_tests_and_attributes_load_and_score_nothing() {
    let db = load(&format!("{MATCH_POINTS}\nFingerprint X\nT9(R=Y)\nT1(R=Y%ZZ=1)\n")).unwrap();
    assert_eq!(db.points("T9", "R"), 0);
    assert_eq!(db.points("T1", "ZZ"), 0);
    let r = &db.references()[0];
    assert_eq!(db.total_points(r, false), 100);
}

#[test]
fn implied_response_items() {
    let db = load(&format!("{MATCH_POINTS}\nFingerprint X\nU1(DF=N)\nIE()\nSEQ(R=N)\nT1(R=Y)\n")).unwrap();
    let r = &db.references()[0];
    // U1 gets R=Y (50), IE gets R=N (50); SEQ has no scored R; T1 has its own.
    assert_eq!(db.total_points(r, false), 20 + 100);
    assert_eq!(db.total_points(r, true), 20 + 100 + 50 + 50);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = Database::load(&[Path::new("/nonexistent/scry-test.db")]).unwrap_err();
    assert!(matches!(err, DbError::Io { .. }), "{err}");
    assert!(err.to_string().starts_with("/nonexistent/scry-test.db"), "{err}");
}
