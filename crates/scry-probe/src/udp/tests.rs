use super::*;
use crate::payloads::Payloads;
use crate::probe::Probe;
use proptest::prelude::*;
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{build_frame, parse_frame, IcmpSpec, IpSpec, LinkType};

const US: &str = "198.18.0.1";
const TARGET: &str = "198.18.0.10";
const ROUTER: &str = "198.18.0.254";
const PORTS: RangeInclusive<u16> = 40_000..=40_255;
const US_MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
const TARGET_MAC: Mac = Mac([2, 0, 0, 0, 0, 10]);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn probe_with(payloads: Payloads, src: &str) -> UdpProbe {
    UdpProbe::new(ip(src), US_MAC, PORTS, 64, CookieKey::from_seed(7), Arc::new(payloads))
}

fn probe() -> UdpProbe {
    probe_with(Payloads::builtin(), US)
}

/// The probe frame for `dst:port`, datagram `which`.
fn sent(p: &UdpProbe, dst: &str, port: u16, which: usize) -> Vec<u8> {
    let mut out = vec![0; 2048];
    let n = p.write(ip(dst), port, which, TARGET_MAC, 0x1234, &mut out).unwrap();
    out.truncate(n);
    out
}

fn parse(bytes: &[u8]) -> Frame {
    parse_frame(LinkType::Ethernet, bytes).unwrap()
}

/// A UDP datagram from `from:sport` to us at `dport`.
fn udp_reply(from: &str, sport: u16, dport: u16, payload: &[u8]) -> Frame {
    let ipspec = IpSpec::new(ip(from), ip(US)).unwrap();
    let eth = EthernetSpec { src: TARGET_MAC, dst: US_MAC };
    let udp = UdpSpec { src_port: sport, dst_port: dport, payload };
    parse(&build_frame(&eth, &ipspec, &L4Spec::Udp(udp)).unwrap())
}

/// An ICMP(v6) error of `icmp_type`/`code` from `from`, quoting `quoted` (an IP packet).
fn icmp_error(from: &str, to: &str, icmp_type: u8, code: u8, quoted: &[u8]) -> Frame {
    let ipspec = IpSpec::new(ip(from), ip(to)).unwrap();
    let eth = EthernetSpec { src: TARGET_MAC, dst: US_MAC };
    let error = IcmpSpec { icmp_type, code, rest: [0; 4], payload: quoted };
    parse(&build_frame(&eth, &ipspec, &L4Spec::Icmp(error)).unwrap())
}

fn port_result(v: Verdict) -> (IpAddr, u16, PortState, Reason) {
    match v {
        Verdict::Port { host, port, result } => (host, port, result.state, result.reason),
        other => panic!("not a port verdict: {other:?}"),
    }
}

#[test]
fn probes_carry_payload_cookie_port_and_txid() {
    let p = probe();
    let frame = parse(&sent(&p, TARGET, 53, 0));
    let Transport::Udp(udp) = frame.ip().unwrap().transport else { panic!("not UDP") };
    let sport = p.source_port(ip(TARGET), 53);
    assert!(PORTS.contains(&sport));
    assert_eq!((udp.src_port, udp.dst_port, udp.checksum_ok), (sport, 53, true));
    let cookie = p.key.cookie(&Flow::new(ip(US), ip(TARGET), sport, 53), ProbeKind::UDP);
    let dns = Payloads::builtin().for_port(53).next().unwrap().data.to_vec();
    assert_eq!(&udp.payload.prefix()[..2], &(cookie as u16).to_be_bytes());
    assert_eq!(&udp.payload.prefix()[2..], &dns[2..]);
    assert_eq!(frame.ip().unwrap().header.ttl, 64);
    assert_eq!(frame.link.dst_mac, Some(TARGET_MAC));
    // NTP has no echoed id: the payload goes out as written.
    let frame = parse(&sent(&p, TARGET, 123, 0));
    let Transport::Udp(udp) = frame.ip().unwrap().transport else { panic!("not UDP") };
    assert_eq!(udp.payload.len(), 48);
    assert_eq!(udp.payload.prefix(), &Payloads::builtin().for_port(123).next().unwrap().data[..]);
    // A port without a payload gets an empty datagram.
    let frame = parse(&sent(&p, TARGET, 9999, 0));
    let Transport::Udp(udp) = frame.ip().unwrap().transport else { panic!("not UDP") };
    assert!(udp.payload.is_empty());
    assert_eq!(p.datagrams(9999), 1);
}

#[test]
fn several_payloads_make_several_datagrams() {
    let p = probe_with(Payloads::parse("udp 7 \"a\"\nudp 7 \"bc\"", "t").unwrap(), US);
    assert_eq!(p.datagrams(7), 2);
    let len = |which| parse(&sent(&p, TARGET, 7, which)).ip().map(|i| i.header.total_len).unwrap();
    assert_eq!((len(0), len(1)), (20 + 8 + 1, 20 + 8 + 2));
}

#[test]
fn udp_reply_with_echoed_cookie_is_open() {
    let p = probe();
    let probe_frame = parse(&sent(&p, TARGET, 53, 0));
    let Transport::Udp(sent_udp) = probe_frame.ip().unwrap().transport else { panic!() };
    let mut answer = sent_udp.payload.prefix().to_vec();
    answer[2] |= 0x80; // QR: a response
    let reply = udp_reply(TARGET, 53, sent_udp.src_port, &answer);
    assert_eq!(port_result(p.classify(&reply)), (ip(TARGET), 53, PortState::Open, Reason::UdpResponse));
    // The same answer with another id is forged or stale.
    answer[0] ^= 0xff;
    assert_eq!(p.classify(&udp_reply(TARGET, 53, sent_udp.src_port, &answer)), Verdict::Invalid);
    // NTP: any reply to the right source port.
    let sport = p.source_port(ip(TARGET), 123);
    assert_eq!(port_result(p.classify(&udp_reply(TARGET, 123, sport, &[0x24; 48]))).2, PortState::Open);
}

#[test]
fn udp_reply_to_the_wrong_source_port_is_rejected() {
    let p = probe();
    let right = p.source_port(ip(TARGET), 9999);
    let wrong = if right == *PORTS.start() { right + 1 } else { right - 1 };
    assert_eq!(p.classify(&udp_reply(TARGET, 9999, wrong, b"x")), Verdict::Invalid);
    assert_eq!(p.classify(&udp_reply(TARGET, 9999, 12345, b"x")), Verdict::Unrelated);
    assert_eq!(port_result(p.classify(&udp_reply(TARGET, 9999, right, b""))).2, PortState::Open);
}

/// The IP packet of a probe frame, cut to `keep` bytes of transport.
fn quote(frame: &[u8], keep: usize) -> Vec<u8> {
    frame[ETHERNET_LEN..].iter().take(20 + keep).copied().collect()
}

#[test]
fn port_unreachable_from_target_is_closed_from_router_filtered() {
    let p = probe();
    let frame = sent(&p, TARGET, 53, 0);
    for keep in [8, 1000] {
        let closed = icmp_error(TARGET, US, 3, 3, &quote(&frame, keep));
        assert_eq!(
            port_result(p.classify(&closed)),
            (ip(TARGET), 53, PortState::Closed, Reason::Unreachable(3)),
            "quote of {keep} transport bytes"
        );
    }
    let via_router = icmp_error(ROUTER, US, 3, 3, &quote(&frame, 8));
    assert_eq!(
        port_result(p.classify(&via_router)),
        (ip(TARGET), 53, PortState::Filtered, Reason::Unreachable(3))
    );
}

#[test]
fn other_unreachable_codes_follow_nmaps_table() {
    let p = probe();
    let frame = sent(&p, TARGET, 9999, 0);
    for code in [0, 1, 2, 9, 10, 13] {
        let v = p.classify(&icmp_error(ROUTER, US, 3, code, &quote(&frame, 8)));
        assert_eq!(port_result(v), (ip(TARGET), 9999, PortState::Filtered, Reason::Unreachable(code)));
    }
    // Fragmentation needed and the like say nothing about the port.
    assert_eq!(p.classify(&icmp_error(ROUTER, US, 3, 4, &quote(&frame, 8))), Verdict::Invalid);
    // Time exceeded on the way (in transit, or in reassembly) is filtered, as nmap.
    for code in [0, 1] {
        let v = p.classify(&icmp_error(ROUTER, US, 11, code, &quote(&frame, 8)));
        assert_eq!(port_result(v), (ip(TARGET), 9999, PortState::Filtered, Reason::TimeExceeded));
    }
    // Neither an unreachable nor a time exceeded.
    assert_eq!(p.classify(&icmp_error(ROUTER, US, 12, 0, &quote(&frame, 8))), Verdict::Unrelated);
}

#[test]
fn quotes_that_are_not_our_probe_are_rejected() {
    let p = probe();
    let mut frame = sent(&p, TARGET, 53, 0);
    let udp_at = ETHERNET_LEN + 20;
    // Another source port.
    let mut other = frame.clone();
    other[udp_at] ^= 0x01;
    assert_eq!(p.classify(&icmp_error(TARGET, US, 3, 3, &quote(&other, 100))), Verdict::Invalid);
    // Right port, wrong DNS id: a quote of someone else's query.
    let mut other = frame.clone();
    other[udp_at + 8] ^= 0xff;
    assert_eq!(p.classify(&icmp_error(TARGET, US, 3, 3, &quote(&other, 100))), Verdict::Invalid);
    // A length no datagram of ours has.
    let mut other = frame.clone();
    other[udp_at + 5] ^= 0x40;
    assert_eq!(p.classify(&icmp_error(TARGET, US, 3, 3, &quote(&other, 8))), Verdict::Invalid);
    // A TCP packet quoted.
    frame[ETHERNET_LEN + 9] = 6;
    assert_eq!(p.classify(&icmp_error(TARGET, US, 3, 3, &quote(&frame, 8))), Verdict::Unrelated);
    // An error with no quote.
    assert_eq!(p.classify(&icmp_error(TARGET, US, 3, 3, &[])), Verdict::Invalid);
    // Addressed to someone else.
    let elsewhere = icmp_error(TARGET, "198.18.0.2", 3, 3, &quote(&sent(&p, TARGET, 53, 0), 8));
    assert_eq!(p.classify(&elsewhere), Verdict::Unrelated);
}

#[test]
fn icmpv6_port_unreachable_is_closed() {
    let p = probe_with(Payloads::builtin(), "2001:2::1");
    let frame = sent(&p, "2001:2::10", 161, 0);
    let quoted: Vec<u8> = frame[ETHERNET_LEN..].to_vec();
    let closed = icmp_error("2001:2::10", "2001:2::1", 1, 4, &quoted);
    assert_eq!(
        port_result(p.classify(&closed)),
        (ip("2001:2::10"), 161, PortState::Closed, Reason::Unreachable(3))
    );
    let prohibited = icmp_error("2001:2::10", "2001:2::1", 1, 1, &quoted);
    assert_eq!(port_result(p.classify(&prohibited)).2, PortState::Filtered);
    assert!(p.filter().contains("dst host 2001:2::1"));
}

/// Every ICMPv6 destination-unreachable code as nmap reads it for UDP
/// (scan_engine_raw.cc, reason.cc): port unreachable from the target is
/// closed, from a router filtered; the others filtered with their reason;
/// time exceeded filtered; unknown codes ignored.
#[test]
fn icmpv6_errors_follow_nmaps_table() {
    const IPV6_HEADER_LEN: usize = 40;
    let p = probe_with(Payloads::builtin(), "2001:2::1");
    let quoted: Vec<u8> = sent(&p, "2001:2::10", 161, 0)[ETHERNET_LEN..].to_vec();
    let from_router = |icmp_type, code| {
        let reply = icmp_error("2001:2::ff", "2001:2::1", icmp_type, code, &quoted);
        let (host, port, state, reason) = port_result(p.classify(&reply));
        assert_eq!((host, port), (ip("2001:2::10"), 161));
        (state, reason.as_str())
    };
    let table: Vec<_> = (0..=6).map(|code| from_router(1, code)).collect();
    let filtered = PortState::Filtered;
    assert_eq!(
        table,
        [
            (filtered, "no-route"),
            (filtered, "admin-prohibited"),
            (filtered, "beyond-scope"),
            (filtered, "host-unreach"),
            (filtered, "port-unreach"),
            (filtered, "admin-prohibited"),
            (filtered, "reject-route"),
        ]
    );
    assert_eq!(from_router(3, 0), (filtered, "time-exceeded"));
    assert_eq!(from_router(3, 1), (filtered, "time-exceeded"));
    let unknown = icmp_error("2001:2::ff", "2001:2::1", 1, 7, &quoted);
    assert_eq!(p.classify(&unknown), Verdict::Unrelated);
    // An error quoting a source port the key did not pick: forged or stale.
    let mut forged = quoted.clone();
    forged[IPV6_HEADER_LEN + 1] ^= 1;
    let forged = icmp_error("2001:2::10", "2001:2::1", 1, 4, &forged);
    assert_eq!(p.classify(&forged), Verdict::Invalid);
}

#[test]
fn probe_trait_writes_every_datagram_within_max_frame_len() {
    let payloads = Payloads::parse("udp 7 \"a\"\nudp 7 \"0123456789\"", "t").unwrap();
    let p: Box<dyn Probe> = Box::new(probe_with(payloads, "2001:2::1"));
    assert_eq!(p.protocol(), crate::services::Protocol::Udp);
    assert_eq!((p.frames(7), p.frames(8), p.max_frame_len()), (2, 1, 14 + 40 + 8 + 10));
    let mut out = [0u8; 256];
    let lens: Vec<usize> =
        (0..2).map(|which| p.write(ip("2001:2::10"), 7, which, TARGET_MAC, 0, &mut out).unwrap()).collect();
    assert_eq!(lens, [14 + 40 + 8 + 1, p.max_frame_len()]);
}

#[test]
fn filter_selects_our_ports_and_icmp_errors() {
    assert_eq!(
        probe().filter(),
        "dst host 198.18.0.1 and ((udp and dst portrange 40000-40255) or \
         (icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed)))"
    );
}

proptest! {
    #[test]
    fn classify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = probe();
        if let Ok(frame) = parse_frame(LinkType::Ethernet, &bytes) {
            let _ = p.classify(&frame);
        }
        if let Ok(frame) = parse_frame(LinkType::RawIp, &bytes) {
            let _ = p.classify(&frame);
        }
    }

    #[test]
    fn every_probe_is_classified_closed_by_its_port_unreachable(port in 1u16.., last in 0u8..=255) {
        let p = probe();
        let target = format!("198.18.{}.{last}", port % 200);
        let frame = sent(&p, &target, port, 0);
        let v = p.classify(&icmp_error(&target, US, 3, 3, &quote(&frame, 8)));
        prop_assert_eq!(port_result(v), (ip(&target), port, PortState::Closed, Reason::Unreachable(3)));
    }
}
