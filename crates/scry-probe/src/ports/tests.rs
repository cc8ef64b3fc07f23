//! Tests of `-p` / `--exclude-ports` / `--top-ports` parsing.

use super::*;
use proptest::prelude::*;

fn parse(spec: &str) -> Result<PortList, PortError> {
    PortList::parse(spec, &Services::builtin())
}

fn both(ports: &[u16]) -> PortList {
    PortList { tcp: ports.to_vec(), udp: ports.to_vec() }
}

fn message(spec: &str) -> String {
    parse(spec).unwrap_err().to_string()
}

#[test]
fn numbers_and_ranges_go_to_both_protocols_sorted_and_deduplicated() {
    assert_eq!(parse("22,80,1000-1002").unwrap(), both(&[22, 80, 1000, 1001, 1002]));
    assert_eq!(parse("80,22,80,21-23").unwrap(), both(&[21, 22, 23, 80]));
    assert_eq!(parse(" 443 ").unwrap(), both(&[443]));
}

#[test]
fn open_ranges_start_at_1_unless_0_is_written() {
    let all = parse("-").unwrap();
    assert_eq!(all.tcp.len(), 65535);
    assert_eq!((all.tcp[0], all.tcp[65534]), (1, 65535));
    assert_eq!(parse("0-65535").unwrap().tcp.len(), 65536);
    assert_eq!(parse("0-").unwrap().tcp.len(), 65536);
    assert_eq!(parse("0").unwrap(), both(&[0]));
    assert_eq!(parse("-1024").unwrap().tcp, (1..=1024).collect::<Vec<u16>>());
    assert_eq!(parse("60000-").unwrap().udp, (60000..=65535).collect::<Vec<u16>>());
    assert_eq!(parse("65535-").unwrap(), both(&[65535]));
}

#[test]
fn a_prefix_applies_until_the_next_prefix() {
    let list = parse("U:53,111,137,T:21-25,80").unwrap();
    assert_eq!(list.udp, [53, 111, 137]);
    assert_eq!(list.tcp, [21, 22, 23, 24, 25, 80]);
    let list = parse("22,U:53").unwrap();
    assert_eq!((list.tcp.as_slice(), list.udp.as_slice()), (&[22][..], &[22, 53][..]));
    assert_eq!(parse("T:-").unwrap().udp, Vec::<u16>::new());
}

#[test]
fn service_names_and_wildcards_follow_each_protocols_table() {
    let list = parse("http,ssh").unwrap();
    assert_eq!(list.tcp, [22, 80, 8008]);
    assert!(list.udp.is_empty());
    assert_eq!(parse("domain").unwrap(), both(&[53]));
    assert_eq!(parse("T:domain").unwrap(), PortList { tcp: vec![53], udp: vec![] });
    let list = parse("https*").unwrap();
    assert_eq!(list.tcp, [443, 8443]);
    assert_eq!(list.udp, [443]);
    assert_eq!(parse("SSH").unwrap().tcp, [22]);
    assert_eq!(parse("U:snmp*").unwrap().udp, [161, 162]);
}

#[test]
fn system_table_names_resolve_when_installed() {
    let Ok(services) = Services::load(std::path::Path::new("/usr/share/nmap/nmap-services")) else {
        return;
    };
    let list = PortList::parse("T:ms-wbt-server,U:X11:1", &services).unwrap();
    assert_eq!(list.tcp, [3389]);
    assert_eq!(list.udp, [6001]);
}

#[test]
fn errors_name_the_bad_item() {
    assert_eq!(message("70000"), "bad port spec \"70000\": port 70000 is larger than 65535");
    assert_eq!(message("22,80-20"), "bad port spec \"80-20\": range 80-20 runs backwards");
    assert_eq!(message("-0"), "bad port spec \"-0\": range 1-0 runs backwards");
    assert_eq!(message(""), "empty port spec");
    assert_eq!(message("  "), "empty port spec");
    assert_eq!(message("22,,80"), "bad port spec \"22,,80\": empty item between commas");
    assert_eq!(message("22,"), "bad port spec \"22,\": empty item between commas");
    assert_eq!(
        message("S:80"),
        "bad port spec \"S:80\": SCTP ports (S:) are not supported; scry scans TCP (T:) and UDP (U:)"
    );
    assert!(message("P:6").contains("IP protocol numbers (P:) are not supported"));
    assert_eq!(
        message("X:80"),
        "bad port spec \"X:80\": unknown protocol prefix \"X:\" (use T: for TCP or U: for UDP)"
    );
    assert_eq!(message("22,T:"), "bad port spec \"T:\": protocol prefix T: has no ports after it");
    assert_eq!(
        message("htp"),
        "bad port spec \"htp\": no TCP or UDP service matches it in built-in service list"
    );
    assert!(message("U:http").ends_with("no UDP service matches it in built-in service list"));
    assert_eq!(message("1-2-3"), "bad port spec \"1-2-3\": not a port number, range or service name");
    assert_eq!(message("80/tcp"), "bad port spec \"80/tcp\": not a port number, range or service name");
    assert_eq!(
        message("000099999999999999999999"),
        "bad port spec \"000099999999999999999999\": port 99999999999999999999 is larger than 65535"
    );
    assert!(message("22,80-x").contains("\"80-x\""));
}

#[test]
fn exclude_ports_removes_per_protocol() {
    let list = parse("1-10").unwrap().excluding(&parse("T:2-9,U:1").unwrap());
    assert_eq!(list.tcp, [1, 10]);
    assert_eq!(list.udp, (2..=10).collect::<Vec<u16>>());
    assert!(parse("80").unwrap().excluding(&parse("-").unwrap()).is_empty());
}

#[test]
fn top_ports_from_the_builtin_table() {
    let s = Services::builtin();
    let top = PortList::top(&s, 5, &[Protocol::Tcp], None, None).unwrap();
    assert_eq!(top.tcp, [21, 22, 25, 80, 443]);
    assert!(top.udp.is_empty());
    let exclude = parse("T:22").unwrap();
    let top = PortList::top(&s, 5, &[Protocol::Tcp], None, Some(&exclude)).unwrap();
    assert_eq!(top.tcp, [21, 23, 25, 80, 443]);
    let within = parse("20-30").unwrap();
    let top = PortList::top(&s, 2, &[Protocol::Tcp, Protocol::Udp], Some(&within), None).unwrap();
    assert_eq!(top, PortList { tcp: vec![21, 22], udp: vec![] });
    assert_eq!(PortList::top(&s, 3, &[Protocol::Udp], None, None).unwrap().udp, [53, 123, 161]);
}

#[test]
fn top_ports_beyond_the_builtin_table_asks_for_nmaps_data() {
    let s = Services::builtin();
    let err = PortList::top(&s, 1000, &[Protocol::Tcp], None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "--top-ports 1000: the built-in service list ranks only {} tcp ports; install nmap's data \
             files (Debian package nmap-common) for the full ranking",
            s.port_count(Protocol::Tcp)
        )
    );
    let udp_len = s.port_count(Protocol::Udp);
    assert!(PortList::top(&s, udp_len + 1, &[Protocol::Tcp], None, None).is_ok());
    assert!(PortList::top(&s, udp_len + 1, &[Protocol::Udp], None, None).is_err());
    assert_eq!(PortList::top(&s, 0, &[Protocol::Tcp], None, None), Err(PortError::TopPortsZero));
}

#[test]
fn top_ports_from_the_system_table_when_installed() {
    let Ok(s) = Services::load(std::path::Path::new("/usr/share/nmap/nmap-services")) else {
        return;
    };
    let top = PortList::top(&s, 1000, &[Protocol::Tcp, Protocol::Udp], None, None).unwrap();
    assert_eq!((top.tcp.len(), top.udp.len()), (1000, 1000));
    assert!(top.tcp.windows(2).all(|w| w[0] < w[1]));
    let all = PortList::top(&s, 65536, &[Protocol::Tcp], None, None).unwrap();
    assert_eq!(all.tcp.len(), s.port_count(Protocol::Tcp));
}

proptest! {
    #[test]
    fn parse_never_panics(spec in "\\PC{0,40}") {
        let _ = parse(&spec);
    }

    #[test]
    fn parse_never_panics_on_port_like_text(spec in "[0-9TUSPX:,*?a-z-]{0,30}") {
        let _ = parse(&spec);
    }

    #[test]
    fn a_list_of_ranges_parses_to_their_union(ranges in prop::collection::vec((0u16..=65535, 0u16..300), 1..8)) {
        let spec: Vec<String> = ranges
            .iter()
            .map(|&(lo, span)| format!("{lo}-{}", lo.saturating_add(span)))
            .collect();
        let mut expected: Vec<u16> = ranges
            .iter()
            .flat_map(|&(lo, span)| lo..=lo.saturating_add(span))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        prop_assert_eq!(parse(&spec.join(",")).unwrap(), both(&expected));
    }
}
