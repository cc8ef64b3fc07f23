//! Tests of the nmap-services parser, the built-in table and lookups.

use super::*;
use proptest::prelude::*;

const SYSTEM_FILE: &str = "/usr/share/nmap/nmap-services";

/// The system file, or `None` when nmap's data is not installed (an error under CI).
fn system() -> Option<Services> {
    if !Path::new(SYSTEM_FILE).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{SYSTEM_FILE} must exist under CI (install nmap-common)"
        );
        return None;
    }
    Some(Services::load(Path::new(SYSTEM_FILE)).expect("nmap 7.93's nmap-services parses cleanly"))
}

#[test]
fn system_file_loads_fully_and_ranks_like_nmap() {
    let Some(s) = system() else { return };
    assert!(!s.is_builtin());
    assert_eq!(s.source(), SYSTEM_FILE);
    assert_eq!(s.top_ports(10, Protocol::Tcp), [80, 23, 443, 21, 22, 25, 3389, 110, 445, 139]);
    assert_eq!(s.top_ports(10, Protocol::Udp), [631, 161, 137, 123, 138, 1434, 445, 135, 67, 53]);
    assert_eq!(s.name(22, Protocol::Tcp), Some("ssh"));
    assert_eq!(s.name(53, Protocol::Udp), Some("domain"));
    assert_eq!(s.name(3389, Protocol::Tcp), Some("ms-wbt-server"));
    assert_eq!(s.frequency(80, Protocol::Tcp), Some(0.484143));
    assert!(s.port_count(Protocol::Tcp) > 8000);
    assert!(s.port_count(Protocol::Udp) > 15000);
    assert_eq!(s.top_ports(1_000_000, Protocol::Tcp).len(), s.port_count(Protocol::Tcp));
    let http = s.lookup_name("http*", Protocol::Tcp);
    assert!([80, 443, 8080].iter().all(|p| http.contains(p)));
    assert!(http.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn the_empty_table_names_and_ranks_nothing() {
    let s = Services::empty("no nmap-services");
    assert!(!s.is_builtin());
    assert_eq!(s.source(), "no nmap-services");
    assert_eq!(s.name(22, Protocol::Tcp), None);
    assert_eq!(s.top_ports(10, Protocol::Tcp), Vec::<u16>::new());
    assert_eq!(s.lookup_name("ssh", Protocol::Tcp), Vec::<u16>::new());
    assert_eq!(s.port_count(Protocol::Udp), 0);
}

#[test]
fn load_reports_a_missing_file_with_its_path() {
    let err = Services::load(Path::new("/nonexistent/nmap-services")).unwrap_err();
    assert!(err.to_string().starts_with("/nonexistent/nmap-services: "), "{err}");
}

#[test]
fn builtin_table_is_well_formed() {
    let s = Services::builtin();
    assert!(s.is_builtin());
    assert!(s.port_count(Protocol::Tcp) >= 100, "{}", s.port_count(Protocol::Tcp));
    assert!(s.port_count(Protocol::Udp) >= 30);
    assert_eq!(s.port_count(Protocol::Sctp), 0);
    for list in [BUILTIN_TCP, BUILTIN_UDP] {
        let mut ports: Vec<u16> = list.iter().map(|e| e.1).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), list.len(), "a port is listed twice");
        for (name, _) in list {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
        }
    }
    assert_eq!(s.top_ports(5, Protocol::Tcp), [80, 443, 22, 21, 25]);
    assert_eq!(s.top_ports(2, Protocol::Udp), [53, 123]);
    assert_eq!(s.name(22, Protocol::Tcp), Some("ssh"));
    assert_eq!(s.name(161, Protocol::Udp), Some("snmp"));
    assert_eq!(s.name(161, Protocol::Tcp), None);
    assert_eq!(s.frequency(80, Protocol::Tcp), None);
    assert_eq!(s.lookup_name("http", Protocol::Tcp), [80, 8008]);
}

#[test]
fn parse_handles_comments_blanks_crlf_and_missing_frequency() {
    let text = "# header\n\nssh\t22/tcp\t0.5\t# Secure Shell\r\nfoo 7/udp\n  bar   9/sctp 0.25 #x\n";
    let s = Services::parse(text, "t").unwrap();
    assert_eq!(s.entries().len(), 3);
    assert_eq!(s.name(22, Protocol::Tcp), Some("ssh"));
    assert_eq!(s.frequency(22, Protocol::Tcp), Some(0.5));
    assert_eq!(s.name(7, Protocol::Udp), Some("foo"));
    assert_eq!(s.frequency(7, Protocol::Udp), None);
    assert_eq!(s.name(9, Protocol::Sctp), Some("bar"));
}

#[test]
fn ranking_breaks_ties_by_lower_port_and_keeps_first_duplicate() {
    let text = "a 30/tcp 0.1\nb 10/tcp 0.1\nc 20/tcp 0.3\nd 5/tcp 0\ne 10/tcp 0.9\n";
    let s = Services::parse(text, "t").unwrap();
    assert_eq!(s.top_ports(10, Protocol::Tcp), [10, 20, 30, 5]);
    assert_eq!(s.name(10, Protocol::Tcp), Some("b"));
    assert_eq!(s.port_count(Protocol::Tcp), 4);
    assert_eq!(s.top_ports(0, Protocol::Tcp), Vec::<u16>::new());
}

fn syntax(text: &str) -> (usize, usize, String) {
    match Services::parse(text, "svc").unwrap_err() {
        ServicesError::Syntax { line, column, reason, .. } => (line, column, reason),
        other => panic!("{other}"),
    }
}

#[test]
fn parse_errors_name_line_column_and_text() {
    let err = Services::parse("ok 1/tcp 0.1\nweb 80/ddp 0.5\n", "svc").unwrap_err();
    assert_eq!(
        err.to_string(),
        "svc:2:8: unknown protocol \"ddp\" (expected tcp, udp or sctp) in \"web 80/ddp 0.5\""
    );
    assert_eq!(syntax("web"), (1, 4, "expected port/protocol after the name".into()));
    assert_eq!(syntax("web 80 0.1").1, 5);
    assert_eq!(syntax("web 70000/tcp").0, 1);
    assert!(syntax("web 70000/tcp").2.contains("\"70000\" is not a number from 0 to 65535"));
    assert_eq!(syntax("web +80/tcp").1, 5);
    assert_eq!(syntax("web 80/tcp high").1, 12);
    assert_eq!(syntax("web 80/tcp 1.5").1, 12);
    assert_eq!(syntax("web 80/tcp NaN").1, 12);
    assert_eq!(
        syntax("x 1/tcp\n\tweb 80/tcp 0.1 extra"),
        (2, 17, "unexpected \"extra\" after the frequency (comments start with #)".into())
    );
    assert_eq!(syntax("é 80/tcp x").1, 10);
}

#[test]
fn wildcards_match_like_nmap() {
    let m = |p: &str, n: &str| wildcard_match(&p.chars().collect::<Vec<_>>(), n);
    assert!(m("http*", "http"));
    assert!(m("http*", "https"));
    assert!(m("http*", "http-proxy"));
    assert!(!m("http*", "xhttp"));
    assert!(m("*http*", "xhttp-alt"));
    assert!(m("HTTP", "http"));
    assert!(m("?sh", "ssh"));
    assert!(!m("?sh", "sh"));
    assert!(m("*", ""));
    assert!(m("a*b*c", "aXbYbZc"));
    assert!(!m("a*b*c", "aXbYbZ"));
    assert!(!m("", "a"));
}

proptest! {
    #[test]
    fn parse_never_panics(text in "\\PC*( [0-9]{1,6}/(tcp|udp|sctp|x)( [0-9.e-]{0,6})?)?(\n\\PC*)*") {
        let _ = Services::parse(&text, "fuzz");
    }

    #[test]
    fn a_name_matches_itself_and_star(name in "[A-Za-z0-9_:.-]{0,12}") {
        let chars: Vec<char> = name.chars().collect();
        prop_assert!(wildcard_match(&chars, &name));
        prop_assert!(wildcard_match(&['*'], &name));
        prop_assert!(wildcard_match(&chars, &name.to_ascii_uppercase()));
    }

    #[test]
    fn wildcard_never_panics(pattern in "[a*?]{0,10}", name in "[ab]{0,10}") {
        let _ = wildcard_match(&pattern.chars().collect::<Vec<_>>(), &name);
    }
}
