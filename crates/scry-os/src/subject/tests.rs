//! Subject fingerprint parsing and printing, including round trips.

use proptest::prelude::*;

use super::*;

const NMAP_WRAPPED: &str = "\
OS:SCAN(V=7.93%E=4%D=11/26%OT=2024%CT=1%CU=38945%PV=N%DS=0%DC=L%G=Y%TM=6B08
OS:60AC%P=x86_64-pc-linux-gnu)SEQ(SP=103%GCD=1%ISR=10A%TI=Z%CI=Z%II=I%TS=21
OS:)OPS(O1=MFFD7ST11NWA%O2=MFFD7ST11NWA%O3=MFFD7NNT11NWA%O4=MFFD7ST11NWA%O5
OS:=MFFD7ST11NWA%O6=MFFD7ST11)WIN(W1=FFCB%W2=FFCB%W3=FFCB%W4=FFCB%W5=FFCB%W
OS:6=FFCB)ECN(R=Y%DF=Y%T=40%W=FFD7%O=MFFD7NNSNWA%CC=Y%Q=)T1(R=Y%DF=Y%T=40%S
OS:=O%A=S+%F=AS%RD=0%Q=)T2(R=N)T3(R=N)T4(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%R
OS:D=0%Q=)T5(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)T6(R=Y%DF=Y%T=40%W=
OS:0%S=A%A=Z%F=R%O=%RD=0%Q=)T7(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)U
OS:1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)IE(R=Y%DF
OS:I=N%T=40%CD=S)
";

#[test]
fn parses_nmap_wrapped_output() {
    let fp = SubjectFingerprint::parse(NMAP_WRAPPED).unwrap();
    let scan = fp.scan.as_ref().unwrap();
    assert_eq!(scan.get("V"), Some("7.93"));
    assert_eq!(scan.get("P"), Some("x86_64-pc-linux-gnu"));
    let names: Vec<&str> = fp.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["SEQ", "OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"]);
    assert_eq!(fp.test("SEQ").unwrap().get("TS"), Some("21"));
    assert_eq!(fp.test("T4").unwrap().get("O"), Some(""));
    assert_eq!(fp.test("T2").unwrap().attrs, [("R".to_owned(), "N".to_owned())]);
    assert_eq!(fp.test("IE").unwrap().get("DFI"), Some("N"));
}

#[test]
fn prints_exactly_like_nmap() {
    let fp = SubjectFingerprint::parse(NMAP_WRAPPED).unwrap();
    assert_eq!(fp.to_wrapped(true), NMAP_WRAPPED);
    for line in fp.to_wrapped(true).lines() {
        assert!(line.len() <= WRAP_PREFIX.len() + WRAP_WIDTH);
    }
    assert_eq!(NMAP_WRAPPED.lines().next().unwrap().len(), 75);
}

#[test]
fn unwrapped_form() {
    let fp = SubjectFingerprint::parse(NMAP_WRAPPED).unwrap();
    let lines = fp.to_lines(true);
    assert!(lines.starts_with("SCAN(V=7.93%E=4%D=11/26%"));
    assert!(lines.contains("\nSEQ(SP=103%GCD=1%ISR=10A%TI=Z%CI=Z%II=I%TS=21)\n"));
    assert!(lines.ends_with("IE(R=Y%DFI=N%T=40%CD=S)\n"));
    assert_eq!(lines.lines().count(), 14);
    assert!(!fp.to_lines(false).contains("SCAN"));
    assert_eq!(SubjectFingerprint::parse(&lines).unwrap(), fp);
    assert_eq!(fp.to_string(), lines);
}

#[test]
fn accepts_nmap_header_and_blank_lines() {
    let text = format!("TCP/IP fingerprint:\n{NMAP_WRAPPED}\n\n");
    assert_eq!(SubjectFingerprint::parse(&text).unwrap(), SubjectFingerprint::parse(NMAP_WRAPPED).unwrap());
    assert_eq!(SubjectFingerprint::parse("").unwrap(), SubjectFingerprint::default());
}

#[test]
fn empty_test_and_empty_values() {
    let fp = SubjectFingerprint::parse("OPS()\nT4(R=Y%O=%Q=)").unwrap();
    assert!(fp.tests[0].attrs.is_empty());
    assert_eq!(fp.tests[1].get("O"), Some(""));
    assert_eq!(fp.to_lines(false), "OPS()\nT4(R=Y%O=%Q=)\n");
}

#[test]
fn rejects_malformed_text() {
    let err = |s: &str| SubjectFingerprint::parse(s).unwrap_err();
    assert_eq!(err("T1(R=Y%DF)").expected, "expected '=' after attribute name");
    assert_eq!(err("T1(R=Y%DF)").offset, 9);
    assert_eq!(err("T1(R=Y").expected, "expected ')' at the end of the test");
    assert_eq!(err("T1(R=Y)junk").expected, "expected a test like 'T1(R=Y%DF=N)'");
    assert_eq!(err("(R=Y)").expected, "expected a test name like 'T1' before '('");
    assert_eq!(err("T1(=Y)").expected, "expected an attribute name like 'DF'");
    assert!(err("T1(R=Y)SCAN(V=1)").expected.contains("SCAN only once"));
    assert_eq!(
        err("T1(R=Y%DF)").to_string(),
        "subject fingerprint, offset 9: expected '=' after attribute name in \"T1(R=Y%DF)\""
    );
}

/// Regression (found by the `fingerprint` fuzz target): attribute names and
/// values took any character but `(`, `)`, `%` and `=`, so a carriage return
/// or space at the end of a wrapped `OS:` line was trimmed away when the
/// printed fingerprint was read back, and it read back differently.
#[test]
fn names_and_values_with_whitespace_or_control_characters_are_refused() {
    let err = |s: &str| SubjectFingerprint::parse(s).unwrap_err();
    let e = err("SEQ(SP=0%TI\r\r=I)");
    assert_eq!((e.offset, e.expected.as_str()), (9, "expected an attribute name like 'DF'"));
    let e = err("T1(R=Y% DF=N)");
    assert_eq!((e.offset, e.expected.as_str()), (7, "expected an attribute name like 'DF'"));
    let e = err("T1(R=Y%DF=N\r)");
    assert_eq!(
        (e.offset, e.expected.as_str()),
        (11, "expected a value without spaces or control characters")
    );
    let e = err("T1(R=Y%Q=a\u{85}b)");
    assert_eq!(
        (e.offset, e.expected.as_str()),
        (10, "expected a value without spaces or control characters")
    );
    assert_eq!(
        e.to_string(),
        "subject fingerprint, offset 10: expected a value without spaces or control characters in \"T1(R=Y%Q=a\\u{85}b)\""
    );
}

fn fp(text: &str) -> SubjectFingerprint {
    SubjectFingerprint::parse(text).unwrap()
}

/// nmap 7.93 with three tries at a Linux host prints one SEQ line, the
/// first try's, though SP, GCD and ISR differ from try to try.
#[test]
fn merge_keeps_the_first_value_of_a_test_whose_values_change() {
    let tries = [
        fp("SEQ(SP=103%GCD=1%ISR=103%TI=Z%CI=Z%II=I%TS=21)\nT1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)"),
        fp("SEQ(SP=101%GCD=2%ISR=10D%TI=Z%CI=Z%II=I%TS=22)\nT1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)"),
        fp("SEQ(SP=105%GCD=1%ISR=10D%TI=Z%CI=Z%II=I%TS=21)\nT1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)"),
    ];
    let merged = SubjectFingerprint::merge(&tries);
    assert_eq!(
        merged.to_lines(true),
        "SEQ(SP=103%GCD=1%ISR=103%TI=Z%CI=Z%II=I%TS=21)\nT1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)\n"
    );
    assert_eq!(merged.scan, None);
}

#[test]
fn merge_prints_each_form_of_a_test_in_nmaps_order() {
    // Try 1: no II, T2 silent, no IE. Try 2: II, T2 answered, IE; its tests
    // out of order. Try 3 repeats try 1's forms with other values.
    let tries = [
        fp("SEQ(SP=FE%GCD=1%ISR=10E%TI=Z%CI=Z%TS=A)\nT2(R=N)\nU1(R=N)"),
        fp("IE(R=Y%DFI=N%T=40%CD=S)\nT2(R=Y%DF=Y%T=40%W=0%S=Z%A=S%F=AR%O=%RD=0%Q=)\nSEQ(SP=FF%GCD=1%ISR=10F%TI=Z%CI=Z%II=I%TS=A)"),
        fp("SEQ(SP=101%GCD=1%ISR=110%TI=Z%CI=Z%TS=A)\nT2(R=N)\nECN(R=N)"),
    ];
    let merged = SubjectFingerprint::merge(&tries);
    let lines: Vec<String> = merged.tests.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "SEQ(SP=FE%GCD=1%ISR=10E%TI=Z%CI=Z%TS=A)",
            "SEQ(SP=FF%GCD=1%ISR=10F%TI=Z%CI=Z%II=I%TS=A)",
            "ECN(R=N)",
            "T2(R=N)",
            "T2(R=Y%DF=Y%T=40%W=0%S=Z%A=S%F=AR%O=%RD=0%Q=)",
            "U1(R=N)",
            "IE(R=Y%DFI=N%T=40%CD=S)",
        ]
    );
}

#[test]
fn merge_of_one_try_is_that_try_in_nmaps_order() {
    let one = fp("T1(R=N)\nSEQ(SP=0%GCD=1%ISR=0%TI=I%TS=U)\nZZ(A=1)\nOPS(O1=M5B4)");
    let merged = SubjectFingerprint::merge([&one]);
    let names: Vec<&str> = merged.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["SEQ", "OPS", "T1", "ZZ"]);
    assert_eq!(SubjectFingerprint::merge(&[]), SubjectFingerprint::default());
}

fn arb_test(name: impl Strategy<Value = String>) -> impl Strategy<Value = SubjectTest> {
    (name, prop::collection::vec(("[A-Z][A-Z0-9]{0,4}", "[A-Za-z0-9+/:._|<>-]{0,12}"), 0..12))
        .prop_map(|(name, attrs)| SubjectTest { name, attrs })
}

fn arb_fingerprint() -> impl Strategy<Value = SubjectFingerprint> {
    (
        prop::option::of(arb_test(Just("SCAN".to_owned()))),
        prop::collection::vec(
            arb_test(
                "(SEQ|OPS|WIN|ECN|T[1-7]|U1|IE|[A-Z][A-Z0-9_]{0,5})".prop_filter("not SCAN", |n| n != "SCAN"),
            ),
            0..16,
        ),
    )
        .prop_map(|(scan, tests)| SubjectFingerprint { scan, tests })
}

proptest! {
    #[test]
    fn wrapped_round_trip(fp in arb_fingerprint()) {
        let text = fp.to_wrapped(true);
        for line in text.lines() {
            prop_assert!(line.starts_with(WRAP_PREFIX));
            prop_assert!(line.chars().count() <= WRAP_PREFIX.len() + WRAP_WIDTH);
        }
        prop_assert_eq!(SubjectFingerprint::parse(&text).unwrap(), fp);
    }

    #[test]
    fn unwrapped_round_trip(fp in arb_fingerprint()) {
        prop_assert_eq!(SubjectFingerprint::parse(&fp.to_lines(true)).unwrap(), fp);
    }

    #[test]
    fn without_scan_round_trip(fp in arb_fingerprint()) {
        let expected = SubjectFingerprint { scan: None, tests: fp.tests.clone() };
        prop_assert_eq!(SubjectFingerprint::parse(&fp.to_wrapped(false)).unwrap(), expected.clone());
        prop_assert_eq!(SubjectFingerprint::parse(&fp.to_lines(false)).unwrap(), expected);
    }

    #[test]
    fn parse_never_panics(text in "(OS:)?[A-Z0-9()%=|\n ]{0,200}") {
        let _ = SubjectFingerprint::parse(&text);
    }
}
