//! Unit tests for every expression form, in both dialects.

use super::*;

fn m(expr: &str, value: &str, dialect: Dialect) -> bool {
    let nested = expr.contains('[');
    Expr::parse(expr, nested).unwrap_or_else(|e| panic!("{expr}: {e:?}")).matches(&Value::new(value), dialect)
}

/// Same verdict in both dialects.
fn both(expr: &str, value: &str) -> bool {
    let a = m(expr, value, Dialect::Nmap793);
    let b = m(expr, value, Dialect::Modern);
    assert_eq!(a, b, "dialects disagree on {value:?} against {expr:?}");
    a
}

#[test]
fn exact_values() {
    assert!(both("Y", "Y"));
    assert!(!both("Y", "N"));
    assert!(both("S+", "S+"));
    assert!(!both("S+", "S"));
    assert!(both("M5B4ST11NW7", "M5B4ST11NW7"));
    assert!(!both("M5B4ST11NW7", "M5B4ST11NW"));
    assert!(!both("M5B4ST11NW7", "M5B4ST11NW77"));
}

#[test]
fn hex_literal_is_compared_as_text() {
    // 7.93 compares an alternative without operators as a string.
    assert!(both("40", "40"));
    assert!(!both("40", "040"));
    assert!(!both("A", "a"));
}

#[test]
fn empty_value() {
    assert!(both("", ""));
    assert!(!both("", "M5B4"));
    assert!(!both("", "0"));
}

#[test]
fn alternatives() {
    for v in ["S", "A", "AS"] {
        assert!(both("S|A|AS", v), "{v}");
    }
    assert!(!both("S|A|AS", "R"));
    assert!(both("I|RD", "RD"));
    assert!(both("Z|RD", "Z"));
}

#[test]
fn alternative_including_empty() {
    assert!(both("|M5B4", ""));
    assert!(both("|M5B4", "M5B4"));
    assert!(both("M5B4|", ""));
    assert!(both("Z|", ""));
}

#[test]
fn range_boundaries() {
    assert!(both("FA-104", "FA"));
    assert!(both("FA-104", "104"));
    assert!(both("FA-104", "100"));
    assert!(!both("FA-104", "F9"));
    assert!(!both("FA-104", "105"));
    assert!(both("0-5", "0"));
    assert!(both("0-5", "5"));
    assert!(!both("0-5", "6"));
    // Ranges are hex: 10 is sixteen.
    assert!(!both("1-9", "10"));
    assert!(both("1-9", "9"));
    assert!(!both("1-9", "Z"));
}

#[test]
fn greater_and_less_boundaries() {
    assert!(!both(">1000000", "1000000"));
    assert!(both(">1000000", "1000001"));
    assert!(!both(">0", "0"));
    assert!(both(">0", "1"));
    assert!(!both("<5", "5"));
    assert!(both("<5", "4"));
    assert!(both("<5", "0"));
    // Hex: 1F is 31, so it is greater than 1A.
    assert!(both(">1A", "1F"));
    assert!(!both(">1A", "S"));
}

#[test]
fn mixed_alternatives() {
    assert!(both("1|>1000000", "1"));
    assert!(both("1|>1000000", "2000000"));
    assert!(!both("1|>1000000", "2"));
    assert!(both("1-6|>1000000", "6"));
    assert!(both("1-6|>1000000", "1000001"));
    assert!(both("3B-45|80-8A", "80"));
    assert!(!both("3B-45|80-8A", "46"));
}

#[test]
fn nmap793_non_last_alternative_is_a_prefix() {
    assert!(m("O|S", "OX", Dialect::Nmap793));
    assert!(!m("O|S", "OX", Dialect::Modern));
    // The last alternative still needs an exact match.
    assert!(!m("S|O", "OX", Dialect::Nmap793));
}

#[test]
fn nmap793_empty_first_alternative_accepts_anything() {
    assert!(m("|U", "R", Dialect::Nmap793));
    assert!(m("|M5B4", "M5B4NW0", Dialect::Nmap793));
    assert!(!m("|U", "R", Dialect::Modern));
}

#[test]
fn nmap793_literal_before_a_range_is_skipped_for_numbers() {
    // `TS=1|5-7` from the Debian database: 7.93 never accepts TS=1.
    assert!(!m("1|5-7", "1", Dialect::Nmap793));
    assert!(m("1|5-7", "1", Dialect::Modern));
    assert!(m("1|5-7", "6", Dialect::Nmap793));
    assert!(!m("79|B0-BA", "79", Dialect::Nmap793));
    assert!(m("79|B0-BA", "B0", Dialect::Nmap793));
    // A non-numeric value still compares as text.
    assert!(m("Z|1-5", "Z", Dialect::Nmap793));
    // A literal after the last range is unaffected.
    assert!(m("5-7|1", "1", Dialect::Nmap793));
}

#[test]
fn nmap793_empty_value_is_number_zero() {
    assert!(m("<5", "", Dialect::Nmap793));
    assert!(!m("<5", "", Dialect::Modern));
    assert!(m("0-5", "", Dialect::Nmap793));
}

#[test]
fn nmap793_numbers_are_32_bit() {
    // strtol saturates, then the value is truncated to unsigned int.
    assert!(m(">FFFFFFFE", "FFFFFFFF", Dialect::Nmap793));
    assert!(!m(">FFFFFFFF", "100000000", Dialect::Nmap793));
    assert!(m(">FFFFFFFF", "100000000", Dialect::Modern));
}

#[test]
fn strtol_emulation() {
    assert_eq!(c_strtol_hex(b""), (0, 0));
    assert_eq!(c_strtol_hex(b"1F"), (0x1F, 2));
    assert_eq!(c_strtol_hex(b"1F|2"), (0x1F, 2));
    assert_eq!(c_strtol_hex(b"S+"), (0, 0));
    assert_eq!(c_strtol_hex(b"A"), (10, 1));
    assert_eq!(c_strtol_hex(b" 0x1g"), (1, 4));
    assert_eq!(c_strtol_hex(b"0x"), (0, 1));
    assert_eq!(c_strtol_hex(b"-1"), (u32::MAX, 2));
    assert_eq!(c_strtol_hex(b"FFFFFFFFFFFFFFFFFF"), (u32::MAX, 18));
    assert_eq!(Value::new("S+").num793, None);
    assert_eq!(Value::new("").num793, Some(0));
    assert_eq!(Value::new("A").num793, Some(10));
}

#[test]
fn brackets_in_option_strings() {
    assert!(both("M[>500]ST11W[1-5]", "M5B4ST11W2"));
    assert!(!both("M[>500]ST11W[1-5]", "M400ST11W2"));
    assert!(!both("M[>500]ST11W[1-5]", "M5B4ST11W6"));
    assert!(!both("M[>500]ST11W[1-5]", "M5B4ST11W2N"));
    assert!(both("M[5B4|578]NW[7|8]", "M578NW8"));
    assert!(both("M[5B4|578]NW[7|8]|", ""));
    // Groups take the whole hex run, as newer nmap does: B4 belongs to it.
    assert!(!both("M[1-6]B4", "M5B4"));
}

#[test]
fn examples_satisfy_their_expression() {
    for (src, dialect) in [
        ("FA-104", Dialect::Nmap793),
        (">1000000", Dialect::Nmap793),
        ("<5", Dialect::Modern),
        ("1|5-7", Dialect::Nmap793),
        ("|U", Dialect::Modern),
        ("M[>500]ST11W[1-5]", Dialect::Modern),
    ] {
        let expr = Expr::parse(src, true).unwrap();
        let ex = expr.example(dialect).unwrap();
        assert!(expr.matches(&Value::new(&ex), dialect), "{src} -> {ex}");
    }
}

#[test]
fn rejected_expressions() {
    let err = |src: &str, nested: bool| Expr::parse(src, nested).unwrap_err();
    assert_eq!(err("M[1-5", true).offset, 1);
    assert!(err("M[1-5", true).expected.contains("']'"));
    assert_eq!(err("M1]", true).offset, 2);
    assert_eq!(err("M[1-5]", false).offset, 1);
    assert!(err(">", false).expected.contains("hex number"));
    assert!(err(">Z", false).expected.contains("hex number"));
    assert_eq!(err("5-3", false).offset, 0);
    assert_eq!(err("5-5", false).offset, 0);
    assert_eq!(err("1-Z", false).offset, 2);
    assert_eq!(err("-1", false).offset, 0);
    assert_eq!(err("A|B C", false).offset, 3);
    assert_eq!(err("A>B", false).offset, 1);
    assert!(err("M[]", true).expected.contains("inside"));
    assert!(err("M[[1]]", true).expected.contains("']'"));
}
