//! Template tests: each pins one rule of nmap's `dotmplsubst`/`substvar`.

use super::*;
use crate::regex::Pattern;

fn fill(regex: &[u8], subject: &[u8], template: &[u8], size: usize, cpe: bool) -> Option<String> {
    let p = Pattern::compile(regex, false, true).unwrap();
    let caps = p.captures(subject).unwrap().expect("regex matches");
    Template::parse(template).unwrap().fill(subject, &caps, size, cpe)
}

#[test]
fn groups_and_literals() {
    assert_eq!(
        fill(b"^SSH-([\\d.]+)-(\\S+)", b"SSH-2.0-OpenSSH_9.2", b"OpenSSH $2 v$1", 80, false).as_deref(),
        Some("OpenSSH OpenSSH_9.2 v2.0")
    );
    // "$10" is group 1 followed by the literal "0".
    assert_eq!(fill(b"^(a)", b"a", b"$10", 80, false).as_deref(), Some("a0"));
}

#[test]
fn printable_filter_collapses_utf16() {
    assert_eq!(fill(b"^(.*)$", b"W\0O\0R\0K\0", b"$P(1)", 80, false).as_deref(), Some("WORK"));
}

#[test]
fn subst_replaces_every_occurrence() {
    assert_eq!(fill(b"^v(\\S+)", b"v1_2_3", b"$SUBST(1,\"_\",\".\")", 80, false).as_deref(), Some("1.2.3"));
    assert_eq!(
        fill(b"^(.+)$", b"a\r\nb", b"$SUBST(1, \"\\r\\n\", \",\")", 80, false).as_deref(),
        Some("a,b")
    );
}

#[test]
fn int_reads_big_and_little_endian() {
    assert_eq!(fill(b"^(..)", b"\x01\x02", b"$I(1,\">\")", 80, false).as_deref(), Some("258"));
    assert_eq!(fill(b"^(..)", b"\x01\x02", b"$I(1,\"<\")", 80, false).as_deref(), Some("513"));
    // More than 8 bytes overflows: nmap leaves the field empty.
    assert_eq!(fill(b"^(.{9})", b"123456789", b"x$I(1,\">\")", 80, false), None);
}

#[test]
fn unset_or_missing_group_empties_the_field() {
    assert_eq!(fill(b"^(a)|(b)", b"a", b"x $2", 80, false), None);
    assert_eq!(fill(b"^(a)", b"a", b"x $3", 80, false), None);
}

#[test]
fn substitution_stops_at_nul() {
    assert_eq!(fill(b"^(.*)$", b"ab\0cd", b"[$1]", 80, false).as_deref(), Some("[ab]"));
}

#[test]
fn trailing_whitespace_and_commas_are_removed() {
    assert_eq!(fill(b"^(.*)$", b"x, ", b"$1", 80, false).as_deref(), Some("x"));
    assert_eq!(fill(b"^a", b"a", b"lit ,\t", 80, false).as_deref(), Some("lit"));
    assert_eq!(fill(b"^(.*)$", b" ,", b"$1", 80, false), None);
}

#[test]
fn non_printable_bytes_become_dots() {
    assert_eq!(fill(b"^(.*)$", b"a\x01b\xffc", b"$1", 80, false).as_deref(), Some("a.b.c"));
    // Literal non-ASCII text too, byte by byte, as nmap's replacenonprintable.
    assert_eq!(fill(b"^a", b"a", "Océ".as_bytes(), 80, false).as_deref(), Some("Oc.."));
}

#[test]
fn field_limits_follow_dotmplsubst() {
    // A literal-only template may fill size-1 bytes.
    let lit79 = vec![b'x'; 79];
    assert_eq!(fill(b"^a", b"a", &lit79, FIELD_LEN, false).map(|s| s.len()), Some(79));
    assert_eq!(fill(b"^a", b"a", &[b'x'; 80], FIELD_LEN, false), None);
    // A template ending in a substitution may fill only size-2 bytes.
    let subj78 = vec![b'y'; 78];
    assert_eq!(fill(b"^(y+)", &subj78, b"$1", FIELD_LEN, false).map(|s| s.len()), Some(78));
    assert_eq!(fill(b"^(y+)", &[b'y'; 79], b"$1", FIELD_LEN, false), None);
    // A substitution followed by a literal: the whole may reach size-1.
    assert_eq!(fill(b"^(y+)", &subj78, b"$1z", FIELD_LEN, false).map(|s| s.len()), Some(79));
    assert_eq!(fill(b"^(y+)", &[b'y'; 79], b"$1z", FIELD_LEN, false), None);
    // Extrainfo and type fields have their own sizes.
    assert_eq!(fill(b"^a", b"a", &[b'i'; 255], EXTRA_LEN, false).map(|s| s.len()), Some(255));
    assert_eq!(fill(b"^a", b"a", &[b'o'; 32], TYPE_LEN, false), None);
}

#[test]
fn cpe_substitutions_are_escaped_and_lowercased() {
    assert_eq!(
        fill(b"^(.*)$", b"Apache HTTPD:2/x", b"cpe:/a:Apache:$1", FIELD_LEN, true).as_deref(),
        Some("cpe:/a:Apache:apache_httpd%3A2%2Fx")
    );
}

#[test]
fn malformed_variables_are_syntax_errors() {
    let err = |t: &[u8]| Template::parse(t).unwrap_err();
    assert_eq!(err(b"ab$0").at, 2);
    assert_eq!(err(b"x $Q(1)").expected, "expected $1-$9, $P(), $SUBST() or $I()");
    assert_eq!(err(b"$").at, 0);
    assert_eq!(err(b"$P(\"a\")").expected, "expected a group number 1-9 as first argument");
    assert_eq!(err(b"$P(10)").at, 0);
    assert_eq!(err(b"$SUBST(1,\"\",\"x\")").at, 0);
    assert_eq!(err(b"$I(1,\"=\")").at, 0);
    assert_eq!(err(b"$SUBST(1,\"\\q\",\"x\")").at, 10);
    assert_eq!(err(b"$P(x)").expected, "expected a number or a \"string\" argument");
}

#[test]
fn parse_keeps_pieces_in_order() {
    let t = Template::parse(b"v$1 ($SUBST(2,\"_\",\".\"))").unwrap();
    assert_eq!(
        t.pieces(),
        &[
            Piece::Literal(b"v".to_vec()),
            Piece::Group(1),
            Piece::Literal(b" (".to_vec()),
            Piece::Subst { group: 2, find: b"_".to_vec(), replace: b".".to_vec() },
            Piece::Literal(b")".to_vec()),
        ]
    );
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn templates_parse_and_fill_without_panicking(
            template in prop::collection::vec(prop::sample::select(b"$()\",\\PSUBTI<>0123459ax_ ".to_vec()), 0..30),
            subject in prop::collection::vec(any::<u8>(), 1..120),
            size in prop::sample::select(vec![FIELD_LEN, EXTRA_LEN, TYPE_LEN]),
            cpe in any::<bool>(),
        ) {
            let p = Pattern::compile(b"(?s)^(.)(.?)(.*?)(x)?$", false, false).unwrap();
            let caps = p.captures(&subject).unwrap().unwrap();
            if let Ok(t) = Template::parse(&template) {
                if let Some(v) = t.fill(&subject, &caps, size, cpe) {
                    prop_assert!(v.len() < size);
                    prop_assert!(v.bytes().all(|c| (0x20..0x7f).contains(&c)));
                    prop_assert!(!v.ends_with(' ') && !v.ends_with(','));
                }
            }
        }
    }
}
