//! Parsing: annotated lab fixtures, build -> parse round trips for every
//! builder, typed errors, and "never panics" properties.

use proptest::prelude::*;
use scry_packet::*;
use std::net::{IpAddr, Ipv4Addr};

/// Reads an annotated hex fixture: `#` starts a comment, whitespace is ignored.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn scanner() -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 1)
}

fn target() -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 10)
}

#[test]
fn lab_syn_ack_with_options() {
    let frame = parse_frame(LinkType::Ethernet, &fixture("syn_ack_options.hex")).unwrap();
    assert_eq!(frame.link.src_mac, Some(Mac([2, 0, 0xc6, 0x12, 0, 10])));
    let (ip, tcp) = frame.tcp().unwrap();
    assert_eq!((ip.version, ip.src, ip.dst), (4, IpAddr::V4(target()), IpAddr::V4(scanner())));
    assert_eq!((ip.ttl, ip.df, ip.id, ip.total_len, ip.checksum_ok), (64, true, 0, 60, true));
    assert_eq!((tcp.src_port, tcp.dst_port), (22, 36256));
    assert_eq!((tcp.seq, tcp.ack), (1013923729, 1939610214));
    assert_eq!(tcp.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!((tcp.reserved, tcp.window, tcp.urgent), (0, 65160, 0));
    assert!(!tcp.checksum_ok, "offloaded checksum is partial in the capture");
    let options: Vec<_> = tcp.options.iter().map(Result::unwrap).collect();
    assert_eq!(
        options,
        vec![
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamp { val: 4245607350, ecr: 965764105 },
            TcpOption::Nop,
            TcpOption::WindowScale(10),
        ]
    );
    assert!(tcp.payload.is_empty());
}

#[test]
fn lab_rst_ack_acks_the_probe() {
    let frame = parse_frame(LinkType::Ethernet, &fixture("rst_ack.hex")).unwrap();
    let (ip, tcp) = frame.tcp().unwrap();
    assert_eq!((ip.ttl, ip.df, ip.total_len), (64, true, 40));
    assert_eq!((tcp.src_port, tcp.dst_port, tcp.seq, tcp.ack), (23, 41923, 0, 4268174093));
    assert_eq!(tcp.flags, TcpFlags::RST | TcpFlags::ACK);
    assert!(tcp.checksum_ok);
    assert_eq!(tcp.options.iter().count(), 0);
}

#[test]
fn lab_port_unreachable_quotes_udp_probe() {
    let frame = parse_frame(LinkType::Ethernet, &fixture("icmp_port_unreachable.hex")).unwrap();
    let ip = frame.ip().unwrap();
    assert_eq!((ip.header.tos, ip.header.id, ip.header.total_len), (0xc0, 51861, 56));
    let Transport::Icmp(icmp) = ip.transport else { panic!("not ICMP: {:?}", ip.transport) };
    assert_eq!((icmp.v6, icmp.icmp_type, icmp.code, icmp.rest), (false, 3, 3, [0; 4]));
    assert!(icmp.checksum_ok);
    let q = icmp.quoted.unwrap();
    assert_eq!((q.ip.src, q.ip.dst), (IpAddr::V4(scanner()), IpAddr::V4(target())));
    assert_eq!((q.ip.ttl, q.ip.id, q.ip.total_len, q.ip.protocol, q.ip.checksum), (50, 2523, 28, 17, 0xf2c6));
    assert!(q.ip.checksum_ok);
    assert_eq!(
        (q.src_port, q.dst_port, q.udp_length, q.udp_checksum),
        (Some(48574), Some(9), Some(8), Some(0xb5e6))
    );
    assert_eq!(q.tcp_seq, None);
    assert!(q.data.is_empty());
}

#[test]
fn truncated_quote_keeps_what_is_there() {
    // Cut the quoted UDP header after its ports.
    let mut bytes = fixture("icmp_port_unreachable.hex");
    bytes.truncate(bytes.len() - 4);
    bytes[17] -= 4; // outer IPv4 total length
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
    let q = icmp.quoted.unwrap();
    assert_eq!((q.src_port, q.dst_port, q.udp_length, q.udp_checksum), (Some(48574), Some(9), None, None));
}

/// Regression (found by the `frame` fuzz target): the packet quoted in an
/// ICMPv6 error names an extension header that was cut off. etherparse's
/// extension iterator read past the quote for it (undefined behaviour,
/// caught as a panic by the standard library's debug checks).
#[test]
fn icmpv6_quote_naming_a_missing_extension_header() {
    let v6 = |next_header: u8, payload_len: u16| {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend(payload_len.to_be_bytes());
        h.extend([next_header, 64]);
        h.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]); // 2001:2::a
        h.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]); // 2001:2::1
        h
    };
    let mut quote = v6(0, 16); // next: hop-by-hop
    quote.extend([43, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop (PadN), next: routing, which is missing
    let mut bytes = v6(58, 8 + quote.len() as u16); // ICMPv6
    bytes.extend([1, 4, 0, 0, 0, 0, 0, 0]); // destination unreachable, port unreachable
    bytes.extend(&quote);
    let frame = parse_frame(LinkType::RawIp, &bytes).unwrap();
    let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
    let q = icmp.quoted.unwrap();
    assert_eq!((q.ip.version, q.ip.fragment, q.ip.id), (6, false, 0));
    assert_eq!(q.ip.dst, IpAddr::from([0x2001, 2, 0, 0, 0, 0, 0, 1]));
}

/// A fragment header after another extension header is still found in a quote.
#[test]
fn icmpv6_quote_of_a_fragment_keeps_its_identification() {
    let mut bytes = vec![0x60, 0, 0, 0, 0, 72, 58, 64]; // payload 72, ICMPv6
    bytes.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
    bytes.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]);
    bytes.extend([1, 4, 0, 0, 0, 0, 0, 0]); // destination unreachable
    bytes.extend([0x60, 0, 0, 0, 0, 24, 60, 64]); // quoted: payload 24, next: destination options
    bytes.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]);
    bytes.extend([0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
    bytes.extend([44, 0, 1, 4, 0, 0, 0, 0]); // destination options, next: fragment
    bytes.extend([17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]); // fragment: offset 0, more; id, next: UDP
    bytes.extend([0x9f, 0x10, 0, 53, 0, 8, 0, 0]); // UDP 40720 -> 53
    let frame = parse_frame(LinkType::RawIp, &bytes).unwrap();
    let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
    let q = icmp.quoted.unwrap();
    assert_eq!((q.ip.fragment, q.ip.id, q.ip.protocol), (true, 0xdead_beef, 17));
    assert_eq!((q.src_port, q.dst_port), (Some(40720), Some(53)));
}

#[test]
fn errors_name_layer_and_offset() {
    let syn_ack = fixture("syn_ack_options.hex");
    let err = parse_frame(LinkType::Ethernet, &syn_ack[..10]).unwrap_err();
    assert_eq!((err.layer, err.offset), (Layer::Link, 0));
    let err = parse_frame(LinkType::Ethernet, &syn_ack[..30]).unwrap_err();
    assert_eq!((err.layer, err.offset), (Layer::Ipv4, 14));
    assert_eq!(err.to_string(), "IPv4 header at byte 14: truncated: needs 20 bytes, 16 present");
    let mut bad_ihl = syn_ack.clone();
    bad_ihl[14] = 0x43;
    let err = parse_frame(LinkType::Ethernet, &bad_ihl).unwrap_err();
    assert_eq!((err.layer, err.offset), (Layer::Ipv4, 14));
    let mut bad_offset = syn_ack.clone();
    bad_offset[14 + 20 + 12] = 0x40; // data offset 4 words < 5
    let err = parse_frame(LinkType::Ethernet, &bad_offset).unwrap_err();
    assert_eq!((err.layer, err.offset), (Layer::Tcp, 34));
}

fn eth() -> EthernetSpec {
    EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 1]), dst: Mac([2, 0, 0xc6, 0x12, 0, 10]) }
}

#[test]
fn tcp_round_trip_every_field() {
    let options = [TcpOption::WindowScale(10), TcpOption::Nop, TcpOption::Mss(265), TcpOption::Eol];
    let ip = IpSpec::V4(Ipv4Spec { src: scanner(), dst: target(), ttl: 37, id: 0xbeef, df: true, tos: 0x1e });
    let tcp = TcpSpec {
        src_port: 40000,
        dst_port: 80,
        seq: 0xdead_beef,
        ack: 0x0102_0304,
        flags: TcpFlags::CWR | TcpFlags::ECE | TcpFlags::SYN,
        reserved: 0x1,
        window: 3,
        urgent: 0xf7f5,
        options: &options,
        payload: b"hi",
    };
    let bytes = build_frame(&eth(), &ip, &L4Spec::Tcp(tcp)).unwrap();
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(frame.link.dst_mac, Some(eth().dst));
    let (h, t) = frame.tcp().unwrap();
    assert_eq!((h.ttl, h.id, h.df, h.tos, h.checksum_ok), (37, 0xbeef, true, 0x1e, true));
    assert_eq!(usize::from(h.total_len), bytes.len() - 14);
    assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (40000, 80, 0xdead_beef, 0x0102_0304));
    assert_eq!((t.flags, t.reserved, t.window, t.urgent), (tcp.flags, 1, 3, 0xf7f5));
    assert!(t.checksum_ok);
    assert_eq!(t.options.as_bytes(), &[3, 3, 10, 1, 2, 4, 1, 9, 0, 0, 0, 0]);
    assert_eq!(t.payload.prefix(), b"hi");
}

#[test]
fn tcp_over_ipv6_round_trip() {
    let ip = IpSpec::new("2001:2::1".parse().unwrap(), "2001:2::10".parse().unwrap()).unwrap();
    let tcp = TcpSpec {
        src_port: 1,
        dst_port: 2,
        seq: 3,
        flags: TcpFlags::SYN,
        window: 1024,
        ..TcpSpec::default()
    };
    let bytes = build_frame(&eth(), &ip, &L4Spec::Tcp(tcp)).unwrap();
    let (h, t) = parse_frame(LinkType::Ethernet, &bytes).unwrap().tcp().map(|(h, t)| (*h, *t)).unwrap();
    assert_eq!((h.version, h.ttl, h.total_len), (6, 64, 60));
    assert_eq!((t.seq, t.window, t.flags), (3, 1024, TcpFlags::SYN));
    assert!(t.checksum_ok);
}

#[test]
fn udp_round_trip_both_versions() {
    for (src, dst) in [("198.18.0.1", "198.18.0.10"), ("2001:2::1", "2001:2::10")] {
        let ip = IpSpec::new(src.parse().unwrap(), dst.parse().unwrap()).unwrap();
        let payload = [0x43u8; 300];
        let bytes = build_frame(
            &eth(),
            &ip,
            &L4Spec::Udp(UdpSpec { src_port: 5353, dst_port: 53, payload: &payload }),
        )
        .unwrap();
        let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
        let Transport::Udp(udp) = frame.ip().unwrap().transport else { panic!("not UDP") };
        assert_eq!((udp.src_port, udp.dst_port, udp.length), (5353, 53, 308));
        assert!(udp.checksum_ok, "{src}");
        assert_eq!((udp.payload.len(), udp.payload.fill()), (300, Some(0x43)));
    }
}

#[test]
fn icmp_echo_round_trip_any_code() {
    for (src, dst, echo_type) in [("198.18.0.1", "198.18.0.10", 8), ("2001:2::1", "2001:2::10", 128)] {
        let ip = IpSpec::new(src.parse().unwrap(), dst.parse().unwrap()).unwrap();
        let echo = IcmpEchoSpec { code: 9, id: 0xabcd, seq: 295, payload: &[0; 120] };
        let bytes = build_ip(&ip, &L4Spec::IcmpEcho(echo)).unwrap();
        let frame = parse_frame(LinkType::RawIp, &bytes).unwrap();
        assert_eq!(frame.link, Link::default());
        let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
        assert_eq!((icmp.icmp_type, icmp.code, icmp.id(), icmp.seq()), (echo_type, 9, 0xabcd, 295));
        assert_eq!(icmp.payload.len(), 120);
        assert!(icmp.checksum_ok, "{src}");
        assert!(icmp.quoted.is_none());
    }
}

#[test]
fn icmp_any_type_round_trip_timestamp_and_error() {
    let ip = IpSpec::new(scanner().into(), target().into()).unwrap();
    // Timestamp request (RFC 792 type 13): id, seq, three 32-bit timestamps.
    let stamp = IcmpSpec { icmp_type: 13, code: 0, rest: [0x12, 0x34, 0, 7], payload: &[1; 12] };
    let frame = parse_frame(LinkType::RawIp, &build_ip(&ip, &L4Spec::Icmp(stamp)).unwrap()).unwrap();
    let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
    // etherparse counts the three timestamps as header, so the body is empty.
    assert_eq!((icmp.icmp_type, icmp.id(), icmp.seq(), icmp.payload.len()), (13, 0x1234, 7, 0));
    assert!(icmp.checksum_ok && icmp.quoted.is_none());
    // Port unreachable quoting a UDP probe, as a target would send it.
    let probe = UdpSpec { src_port: 40000, dst_port: 53, payload: b"query" };
    let quoted = build_ip(&ip, &L4Spec::Udp(probe)).unwrap();
    let back = IpSpec::new(target().into(), scanner().into()).unwrap();
    let error = IcmpSpec { icmp_type: 3, code: 3, rest: [0; 4], payload: &quoted };
    let frame = parse_frame(LinkType::RawIp, &build_ip(&back, &L4Spec::Icmp(error)).unwrap()).unwrap();
    let Transport::Icmp(icmp) = frame.ip().unwrap().transport else { panic!("not ICMP") };
    assert!(icmp.checksum_ok);
    let q = icmp.quoted.expect("quoted probe");
    assert_eq!((q.src_port, q.dst_port, q.udp_length), (Some(40000), Some(53), Some(13)));
    assert_eq!(q.data.prefix(), b"query");
}

#[test]
fn arp_request_round_trip() {
    let bytes = build_arp_request(eth().src, scanner(), target());
    assert_eq!(bytes.len(), 42);
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(frame.link.dst_mac, Some(Mac::BROADCAST));
    let Net::Arp(arp) = frame.net else { panic!("not ARP: {:?}", frame.net) };
    assert_eq!(
        (arp.operation, arp.sender_mac, arp.sender_ip, arp.target_ip),
        (1, eth().src, scanner(), target())
    );
}

#[test]
fn cooked_and_null_link_types() {
    let ip_packet =
        build_ip(&IpSpec::new(scanner().into(), target().into()).unwrap(), &L4Spec::Tcp(TcpSpec::default()))
            .unwrap();
    // Linux SLL: packet type, ARPHRD, address length, address (8), protocol.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0xc6, 0x12, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip_packet);
    let frame = parse_frame(LinkType::LinuxSll, &sll).unwrap();
    assert_eq!(frame.link.src_mac, Some(eth().src));
    assert!(frame.tcp().is_some());
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0xc6, 0x12, 0, 1, 0, 0];
    sll2.extend_from_slice(&ip_packet);
    assert!(parse_frame(LinkType::LinuxSll2, &sll2).unwrap().tcp().is_some());
    let mut null = 2u32.to_ne_bytes().to_vec();
    null.extend_from_slice(&ip_packet);
    assert!(parse_frame(LinkType::Null, &null).unwrap().tcp().is_some());
    assert_eq!(parse_frame(LinkType::Null, &[2, 0]).unwrap_err().layer, Layer::Link);
}

#[test]
fn builder_rejects_what_cannot_fit() {
    let ip = IpSpec::new(scanner().into(), target().into()).unwrap();
    let many = [TcpOption::Timestamp { val: 0, ecr: 0 }; 5];
    let err = build_ip(&ip, &L4Spec::Tcp(TcpSpec { options: &many, ..TcpSpec::default() })).unwrap_err();
    assert_eq!(err, BuildError::OptionsTooLong(50));
    let big = vec![0u8; 70_000];
    let err = build_ip(&ip, &L4Spec::Udp(UdpSpec { src_port: 1, dst_port: 2, payload: &big })).unwrap_err();
    assert!(matches!(err, BuildError::PayloadTooLong { layer: "UDP", .. }), "{err}");
    assert!(IpSpec::new(scanner().into(), "2001:2::1".parse().unwrap()).is_err());
}

fn link_type() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::Ethernet),
        Just(LinkType::LinuxSll),
        Just(LinkType::LinuxSll2),
        Just(LinkType::RawIp),
        Just(LinkType::Null)
    ]
}

fn valid_frames() -> Vec<Vec<u8>> {
    let ip4 = IpSpec::new(scanner().into(), target().into()).unwrap();
    let ip6 = IpSpec::new("2001:2::1".parse().unwrap(), "2001:2::10".parse().unwrap()).unwrap();
    let opts = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::Timestamp { val: 1, ecr: 2 }];
    let tcp = L4Spec::Tcp(TcpSpec { options: &opts, ..TcpSpec::default() });
    let mut frames = vec![
        fixture("syn_ack_options.hex"),
        fixture("rst_ack.hex"),
        fixture("icmp_port_unreachable.hex"),
        build_arp_request(eth().src, scanner(), target()),
        build_neighbor_solicitation(eth().src, "2001:2::1".parse().unwrap(), "2001:2::10".parse().unwrap()),
        build_neighbor_advertisement(
            eth().dst,
            "2001:2::10".parse().unwrap(),
            eth().src,
            "2001:2::1".parse().unwrap(),
            "2001:2::10".parse().unwrap(),
        ),
    ];
    // An ICMPv6 port unreachable quoting a UDP probe.
    let ip6_back = IpSpec::new("2001:2::10".parse().unwrap(), "2001:2::1".parse().unwrap()).unwrap();
    let quoted = build_ip(&ip6, &L4Spec::Udp(UdpSpec { src_port: 1, dst_port: 2, payload: b"q" })).unwrap();
    frames.push(
        build_frame(
            &eth(),
            &ip6_back,
            &L4Spec::Icmp(IcmpSpec { icmp_type: 1, code: 4, rest: [0; 4], payload: &quoted }),
        )
        .unwrap(),
    );
    for ip in [ip4, ip6] {
        frames.push(build_frame(&eth(), &ip, &tcp).unwrap());
        frames.push(
            build_frame(&eth(), &ip, &L4Spec::Udp(UdpSpec { src_port: 1, dst_port: 2, payload: b"x" }))
                .unwrap(),
        );
        frames.push(
            build_frame(
                &eth(),
                &ip,
                &L4Spec::IcmpEcho(IcmpEchoSpec { code: 0, id: 1, seq: 2, payload: b"" }),
            )
            .unwrap(),
        );
    }
    frames
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn random_bytes_never_panic(link in link_type(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_frame(link, &bytes);
    }

    #[test]
    fn mutated_frames_never_panic(
        which in 0usize..16,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        link in link_type(),
    ) {
        let frames = valid_frames();
        let mut bytes = frames[which % frames.len()].clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let len = cut.index(bytes.len() + 1);
        let _ = parse_frame(link, &bytes[..len]);
        let _ = parse_frame(LinkType::Ethernet, &bytes);
        if let Ok(frame) = parse_frame(LinkType::Ethernet, &bytes) {
            if let Some((_, tcp)) = frame.tcp() {
                prop_assert!(tcp.options.iter().count() <= 40);
            }
        }
    }
}
