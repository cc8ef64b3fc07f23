use super::*;
use proptest::prelude::*;

fn syntax(text: &str) -> (usize, usize, String, String) {
    match Payloads::parse(text, "t") {
        Err(PayloadError::Syntax { line, column, token, problem, .. }) => (line, column, token, problem),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

fn bytes(p: &Payloads, port: u16) -> Vec<Vec<u8>> {
    p.for_port(port).map(|p| p.data.to_vec()).collect()
}

#[test]
fn entries_span_lines_with_comments_and_escapes() {
    let text = "# header\nudp 7 \"\\x0D\\x0A\"\nudp 53,69,100-102\n  \"a\\0\\\\\" # trailing\n  # between\n\"\\\"b\\t\"\nsource 500\nudp 9 \"x\" future keyword \"ignored\"\nudp 10 \"y\"\n";
    let p = Payloads::parse(text, "t").unwrap();
    assert_eq!(bytes(&p, 7), vec![b"\r\n".to_vec()]);
    let second = vec![b"a\0\\\"b\t".to_vec()];
    for port in [53, 69, 100, 101, 102] {
        assert_eq!(bytes(&p, port), second, "port {port}");
    }
    assert_eq!(p.for_port(53).next().unwrap().source_port, Some(500));
    assert_eq!(bytes(&p, 9), vec![b"x".to_vec()]);
    assert_eq!(bytes(&p, 10), vec![b"y".to_vec()]);
    assert!(bytes(&p, 8).is_empty() && bytes(&p, 103).is_empty());
    assert_eq!(p.datagrams(8), 1);
    assert_eq!(p.len(), 4);
}

#[test]
fn several_payloads_for_one_port_keep_file_order() {
    let p = Payloads::parse("udp 1-2 \"a\"\nudp 2 \"b\"\nudp 2,2 \"c\"", "t").unwrap();
    assert_eq!(bytes(&p, 2), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(p.datagrams(2), 3);
}

#[test]
fn errors_name_line_column_and_token() {
    assert_eq!(
        syntax("udp 53 \"ok\"\nudp 5x3 \"a\""),
        (2, 5, "5x3".into(), "not a port number 0-65535".into())
    );
    assert_eq!(syntax("udp 53,70000 \"a\""), (1, 8, "70000".into(), "not a port number 0-65535".into()));
    assert_eq!(syntax("udp 1,20-3x \"a\""), (1, 10, "3x".into(), "not a port number 0-65535".into()));
    assert_eq!(syntax("udp 9-3 \"a\""), (1, 5, "9-3".into(), "port range runs backwards".into()));
    assert_eq!(
        syntax("udp 1 \"ab\\q\""),
        (1, 10, "\\q".into(), "unknown escape (use \\xHH for any byte)".into())
    );
    assert_eq!(syntax("udp 1 \"\\x4\""), (1, 8, "\\x4".into(), "\\x needs two hex digits".into()));
    assert_eq!(
        syntax("\n  udp 1 \"open\nudp"),
        (2, 9, "\"open".into(), "string not closed on its line".into())
    );
    assert_eq!(syntax("udp 1 \"open").3, "string not closed on its line");
    assert_eq!(syntax("tcp 1 \"a\""), (1, 1, "tcp".into(), "only udp entries are supported".into()));
    assert_eq!(syntax("udp 1\nudp 2 \"a\""), (1, 1, "udp".into(), "udp entry has no payload string".into()));
    assert_eq!(syntax("udp 1 nonsense \"a\"").3, "expected a quoted payload string");
    assert_eq!(syntax("udp 1").3, "udp entry has no payload string");
    assert_eq!(syntax("udp").3, "udp entry has no port list");
    assert_eq!(syntax("udp 1 \"a\" source x").2, "x");
    assert_eq!(syntax("udp 1 \"a\" source\n").3, "expected a port number after \"source\"");
    assert_eq!(syntax("udp 1 \"a\" source 5 \"b\"").3, "payload string after a keyword");
    assert_eq!(syntax("garbage").3, "expected an entry starting with \"udp\"");
    assert_eq!(syntax("\"a\"").3, "expected an entry starting with \"udp\"");
}

#[test]
fn error_display_has_file_line_column() {
    let err = Payloads::parse("udp 1 \"a\"\nudp x \"b\"", "my-payloads").unwrap_err();
    assert_eq!(err.to_string(), "my-payloads:2:5: not a port number 0-65535 at \"x\"");
}

#[test]
fn empty_and_comment_only_files_have_no_payloads() {
    assert!(Payloads::parse("", "t").unwrap().is_empty());
    assert!(Payloads::parse("# nothing\n\n   # here\n", "t").unwrap().is_empty());
}

#[test]
fn builtin_covers_the_listed_services() {
    let p = Payloads::builtin();
    for port in [53, 111, 123, 137, 161, 500, 1900, 5353] {
        assert_eq!(p.for_port(port).len(), 1, "port {port}");
    }
    assert_eq!(p.for_port(80).len(), 0);
    let first = |port| p.for_port(port).next().unwrap().data.to_vec();
    // DNS: root NS query, recursion desired.
    assert_eq!(first(53), [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
    // NTP: 48 bytes, LI 3, VN 4, mode 3.
    assert_eq!(first(123).len(), 48);
    assert_eq!(first(123)[0], 0xe3);
    // NetBIOS: 12-byte header, 34-byte name, type NBSTAT class IN.
    let nb = first(137);
    assert_eq!(nb.len(), 50);
    assert_eq!(&nb[12..15], b"\x20CK");
    assert_eq!(&nb[46..], [0, 0x21, 0, 1]);
    // SNMP: a BER SEQUENCE whose length covers the rest; community "public"; OID sysDescr.0.
    let snmp = first(161);
    assert_eq!(usize::from(snmp[1]) + 2, snmp.len());
    assert_eq!(&snmp[2..13], b"\x02\x01\x00\x04\x06public");
    assert!(snmp.windows(10).any(|w| w == b"\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00"));
    // IKE: header length field equals the message length; SA payload next.
    let ike = first(500);
    assert_eq!(u32::from_be_bytes(ike[24..28].try_into().unwrap()) as usize, ike.len());
    assert_eq!(ike.len(), 80);
    assert_eq!((ike[16], ike[17], ike[18]), (1, 0x10, 2));
    // Portmap: CALL, RPC version 2, program 100000.
    assert_eq!(&first(111)[4..16], [0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0x86, 0xa0]);
    assert!(first(1900).starts_with(b"M-SEARCH * HTTP/1.1\r\n"));
    assert!(first(5353).windows(10).any(|w| w == b"\x09_services"));
}

#[test]
fn echo_fields_by_port_and_shape() {
    let p = Payloads::builtin();
    let echo = |port| echo_field(port, &p.for_port(port).next().unwrap().data);
    assert_eq!(echo(53), Some(Echo { offset: 0, width: 2 }));
    assert_eq!(echo(137), Some(Echo { offset: 0, width: 2 }));
    assert_eq!(echo(5353), Some(Echo { offset: 0, width: 2 }));
    assert_eq!(echo(111), Some(Echo { offset: 0, width: 4 }));
    assert_eq!(echo(123), None);
    // Too short to be a DNS header, or a response rather than a query.
    assert_eq!(echo_field(53, &[0; 11]), None);
    assert_eq!(echo_field(53, &[0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    assert_eq!(echo_field(69, &[0; 12]), None);
}

#[test]
fn nmap_payloads_from_debian_load_when_present() {
    let path = Path::new("/usr/share/nmap/nmap-payloads");
    if !path.exists() {
        eprintln!("skipped: {} not installed", path.display());
        return;
    }
    let p = Payloads::load(path).unwrap();
    // nmap 7.93's file: two DNS payloads, the DNS status request first.
    assert!(p.len() >= 50, "only {} payloads", p.len());
    let dns = bytes(&p, 53);
    assert!(dns.len() >= 2);
    assert_eq!(dns[0], b"\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    assert_eq!(p.for_port(500).next().unwrap().source_port, Some(500));
    assert!(p.for_port(161).len() >= 2 && p.for_port(123).len() >= 1);
    assert!(p.for_port(40000).len() >= 1, "the 32768-65535 range entry");
    assert_eq!(p.source(), "/usr/share/nmap/nmap-payloads");
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = Payloads::load(Path::new("/nonexistent/nmap-payloads")).unwrap_err();
    assert!(matches!(err, PayloadError::Io { .. }));
    assert!(err.to_string().starts_with("/nonexistent/nmap-payloads: "));
}

proptest! {
    #[test]
    fn never_panics_on_any_text(text in "\\PC*") {
        let _ = Payloads::parse(&text, "t");
    }

    #[test]
    fn never_panics_on_payload_shaped_text(
        text in proptest::collection::vec(
            prop_oneof![
                Just("udp ".to_owned()), Just("\"".to_owned()), Just("\\x".to_owned()),
                Just("\\".to_owned()), Just("\n".to_owned()), Just("#".to_owned()),
                Just("source ".to_owned()), "[0-9,-]{1,8}", "[a-f0-9 ]{1,4}",
            ],
            0..30,
        ).prop_map(|parts| parts.concat())
    ) {
        if let Err(PayloadError::Syntax { line, column, .. }) = Payloads::parse(&text, "t") {
            prop_assert!(line >= 1 && column >= 1);
            prop_assert!(line <= text.lines().count().max(1) + 1);
        }
    }

    #[test]
    fn escaped_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 1..64), port in 0u16..) {
        let escaped: String = data.iter().map(|b| format!("\\x{b:02x}")).collect();
        let p = Payloads::parse(&format!("udp {port} \"{escaped}\""), "t").unwrap();
        prop_assert_eq!(bytes(&p, port), vec![data]);
    }
}
