use super::*;
use crate::payloads::Payloads;
use proptest::prelude::*;
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{parse_frame, LinkType, UdpSpec};
use std::sync::Arc;

const US: &str = "198.18.0.1";
const TARGET: &str = "198.18.0.10";
const ROUTER: &str = "198.18.0.254";
const SPORT: u16 = 45_000;
const US_MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
const TARGET_MAC: Mac = Mac([2, 0, 0, 0, 0, 10]);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn discovery_from(src: &str, methods: &[Method]) -> Discovery {
    let key = CookieKey::from_seed(3);
    let udp = UdpProbe::new(ip(src), US_MAC, 50_000..=50_255, 64, key.clone(), Arc::new(Payloads::builtin()));
    Discovery::new(ip(src), US_MAC, SPORT, 64, key, methods.to_vec(), udp).unwrap()
}

fn discovery() -> Discovery {
    let mut all = Method::NMAP_DEFAULT.to_vec();
    all.extend([Method::Udp(Method::DEFAULT_UDP_PORT), Method::Arp]);
    discovery_from(US, &all)
}

fn sent(d: &Discovery, dst: &str, method: Method) -> Frame {
    let mut out = vec![0; 2048];
    let n = d.write(ip(dst), method, TARGET_MAC, 7, &mut out).unwrap();
    parse_frame(LinkType::Ethernet, &out[..n]).unwrap()
}

fn reply(from: &str, to: &str, l4: L4Spec<'_>) -> Frame {
    let eth = EthernetSpec { src: TARGET_MAC, dst: US_MAC };
    let mut ipspec = IpSpec::new(ip(from), ip(to)).unwrap();
    if let IpSpec::V4(h) = &mut ipspec {
        h.ttl = 61;
    }
    parse_frame(LinkType::Ethernet, &build_frame(&eth, &ipspec, &l4).unwrap()).unwrap()
}

fn icmp(from: &str, icmp_type: u8, rest: [u8; 4], payload: &[u8]) -> Frame {
    reply(from, US, L4Spec::Icmp(IcmpSpec { icmp_type, code: 0, rest, payload }))
}

fn up(host: &str, reason: Reason) -> HostVerdict {
    HostVerdict::Up { host: ip(host), reason, ttl: Some(61), mac: Some(TARGET_MAC) }
}

fn icmp_of(frame: &Frame) -> scry_packet::Icmp {
    match frame.ip().unwrap().transport {
        Transport::Icmp(icmp) => icmp,
        other => panic!("not ICMP: {other:?}"),
    }
}

fn tcp_of(frame: &Frame) -> scry_packet::Tcp {
    *frame.tcp().unwrap().1
}

#[test]
fn echo_reply_echoing_the_cookie_is_up() {
    let d = discovery();
    let probe = icmp_of(&sent(&d, TARGET, Method::Echo));
    assert_eq!((probe.icmp_type, probe.code, probe.checksum_ok), (8, 0, true));
    assert_eq!(d.classify(&icmp(TARGET, 0, probe.rest, &[])), up(TARGET, Reason::EchoReply));
    let mut wrong = probe.rest;
    wrong[3] ^= 1;
    assert_eq!(d.classify(&icmp(TARGET, 0, wrong, &[])), HostVerdict::Invalid);
    // A corrupted reply carrying the right cookie is not an answer.
    let mut bytes = build_frame(
        &EthernetSpec { src: TARGET_MAC, dst: US_MAC },
        &IpSpec::new(ip(TARGET), ip(US)).unwrap(),
        &L4Spec::Icmp(IcmpSpec { icmp_type: 0, code: 0, rest: probe.rest, payload: &[1, 2] }),
    )
    .unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    let corrupt = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(d.classify(&corrupt), HostVerdict::Invalid);
    // Another target's cookie does not match this one's.
    let other = icmp_of(&sent(&d, "198.18.0.11", Method::Echo));
    assert_eq!(d.classify(&icmp(TARGET, 0, other.rest, &[])), HostVerdict::Invalid);
}

#[test]
fn timestamp_reply_is_up_and_ipv6_has_no_timestamp() {
    let d = discovery();
    let probe = icmp_of(&sent(&d, TARGET, Method::Timestamp));
    assert_eq!((probe.icmp_type, probe.checksum_ok), (13, true));
    let echo = icmp_of(&sent(&d, TARGET, Method::Echo));
    assert_ne!(probe.rest, echo.rest, "echo and timestamp cookies differ");
    assert_eq!(d.classify(&icmp(TARGET, 14, probe.rest, &[0; 12])), up(TARGET, Reason::TimestampReply));
    // An echo reply carrying the timestamp's id is not valid.
    assert_eq!(d.classify(&icmp(TARGET, 0, probe.rest, &[])), HostVerdict::Invalid);
    let v6 = discovery_from("2001:2::1", &[Method::Timestamp, Method::Arp]);
    let mut out = [0u8; 128];
    assert_eq!(v6.write(ip("2001:2::10"), Method::Timestamp, TARGET_MAC, 0, &mut out), Ok(0));
}

/// -PR on an IPv6 link: a Neighbor Solicitation to the target's
/// solicited-node group; its advertisement is up with nmap's nd-response.
#[test]
fn ipv6_arp_ping_is_neighbor_discovery() {
    let d = discovery_from("2001:2::1", &[Method::Arp]);
    let ns = sent(&d, "2001:2::10", Method::Arp);
    let packet = ns.ip().unwrap();
    assert_eq!((packet.header.dst, packet.header.ttl), (ip("ff02::1:ff00:10"), 255));
    assert_eq!(ns.link.dst_mac, Some(Mac([0x33, 0x33, 0xff, 0, 0, 0x10])));
    let nd = icmp_of(&ns).nd.unwrap();
    assert!(nd.is_solicitation());
    assert_eq!((nd.target, nd.link_addr), ("2001:2::10".parse().unwrap(), Some(US_MAC)));
    let advert = |from: &str, hop_limit: Option<u8>| {
        let mut bytes = scry_packet::build_neighbor_advertisement(
            TARGET_MAC,
            from.parse().unwrap(),
            US_MAC,
            "2001:2::1".parse().unwrap(),
            "2001:2::10".parse().unwrap(),
        );
        if let Some(hops) = hop_limit {
            bytes[ETHERNET_LEN + 7] = hops;
        }
        parse_frame(LinkType::Ethernet, &bytes).unwrap()
    };
    let answer = HostVerdict::Up {
        host: ip("2001:2::10"),
        reason: Reason::NdResponse,
        ttl: None,
        mac: Some(TARGET_MAC),
    };
    assert_eq!(d.classify(&advert("2001:2::10", None)), answer);
    assert_eq!(Reason::NdResponse.as_str(), "nd-response");
    // From off the link (a hop limit below 255): no answer.
    assert_eq!(d.classify(&advert("2001:2::10", Some(254))), HostVerdict::Unrelated);
    // Without -PR, an advertisement says nothing.
    let echo_only = discovery_from("2001:2::1", &[Method::Echo]);
    assert_eq!(echo_only.classify(&advert("2001:2::10", None)), HostVerdict::Unrelated);
    assert_eq!(d.filter(), "(ip6 dst host 2001:2::1)");
}

#[test]
fn icmpv6_echo_reply_is_up() {
    let d = discovery_from("2001:2::1", &[Method::Echo]);
    let probe = icmp_of(&sent(&d, "2001:2::10", Method::Echo));
    assert_eq!(probe.icmp_type, 128);
    let answer = reply(
        "2001:2::10",
        "2001:2::1",
        L4Spec::Icmp(IcmpSpec { icmp_type: 129, code: 0, rest: probe.rest, payload: &[] }),
    );
    assert!(matches!(d.classify(&answer), HostVerdict::Up { reason: Reason::EchoReply, .. }));
}

fn tcp_reply(flags: TcpFlags, seq: u32, ack: u32, sport: u16, dport: u16) -> Frame {
    let tcp = TcpSpec { src_port: sport, dst_port: dport, seq, ack, flags, ..TcpSpec::default() };
    reply(TARGET, US, L4Spec::Tcp(tcp))
}

#[test]
fn syn_ping_answers_syn_ack_and_rst() {
    let d = discovery();
    let probe = tcp_of(&sent(&d, TARGET, Method::Syn(443)));
    assert_eq!((probe.flags, probe.src_port, probe.dst_port), (TcpFlags::SYN, SPORT, 443));
    let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
    assert_eq!(d.classify(&tcp_reply(syn_ack, 9, probe.seq + 1, 443, SPORT)), up(TARGET, Reason::SynAck));
    let rst = TcpFlags::RST | TcpFlags::ACK;
    assert_eq!(d.classify(&tcp_reply(rst, 0, probe.seq + 1, 443, SPORT)), up(TARGET, Reason::Reset));
    assert_eq!(d.classify(&tcp_reply(syn_ack, 9, probe.seq + 2, 443, SPORT)), HostVerdict::Invalid);
    assert_eq!(d.classify(&tcp_reply(syn_ack, 9, probe.seq + 1, 443, SPORT + 1)), HostVerdict::Unrelated);
}

#[test]
fn ack_ping_answered_by_rst_carrying_our_ack() {
    let d = discovery();
    let probe = tcp_of(&sent(&d, TARGET, Method::Ack(80)));
    assert_eq!((probe.flags, probe.dst_port, probe.checksum_ok), (TcpFlags::ACK, 80, true));
    // RFC 9293: the reset for an ACK takes its sequence number from the ACK's acknowledgement.
    assert_eq!(d.classify(&tcp_reply(TcpFlags::RST, probe.ack, 0, 80, SPORT)), up(TARGET, Reason::Reset));
    assert_eq!(d.classify(&tcp_reply(TcpFlags::RST, probe.ack ^ 1, 0, 80, SPORT)), HostVerdict::Invalid);
    // The same RST as if from port 81: another flow's cookie.
    assert_eq!(d.classify(&tcp_reply(TcpFlags::RST, probe.ack, 0, 81, SPORT)), HostVerdict::Invalid);
}

#[test]
fn udp_ping_port_unreachable_from_target_is_up_from_router_is_not() {
    let d = discovery();
    let port = Method::DEFAULT_UDP_PORT;
    let mut out = vec![0; 256];
    let n = d.write(ip(TARGET), Method::Udp(port), TARGET_MAC, 0, &mut out).unwrap();
    let quoted = &out[ETHERNET_LEN..n];
    let unreach = |from, code| {
        reply(from, US, L4Spec::Icmp(IcmpSpec { icmp_type: 3, code, rest: [0; 4], payload: quoted }))
    };
    assert_eq!(d.classify(&unreach(TARGET, 3)), up(TARGET, Reason::Unreachable(3)));
    assert_eq!(d.classify(&unreach(ROUTER, 1)), HostVerdict::Unrelated);
    let Transport::Udp(probe) = parse_frame(LinkType::Ethernet, &out[..n]).unwrap().ip().unwrap().transport
    else {
        panic!("not UDP")
    };
    let answer =
        reply(TARGET, US, L4Spec::Udp(UdpSpec { src_port: port, dst_port: probe.src_port, payload: b"hi" }));
    assert_eq!(d.classify(&answer), up(TARGET, Reason::UdpResponse));
}

/// Byte offsets in an Ethernet/IPv4 ARP packet (RFC 826).
const ARP_OPER: usize = 6;
const ARP_SENDER: usize = 8;
const ARP_TARGET: usize = 18;

#[test]
fn arp_reply_is_up_with_its_mac() {
    let d = discovery();
    let mut out = vec![0; 128];
    let n = d.write(ip(TARGET), Method::Arp, Mac::BROADCAST, 0, &mut out).unwrap();
    let Net::Arp(request) = parse_frame(LinkType::Ethernet, &out[..n]).unwrap().net else {
        panic!("not ARP")
    };
    assert_eq!((request.operation, request.target_ip), (1, TARGET.parse().unwrap()));
    // Turn the request into the target's reply: swap the two address pairs.
    let arp = &mut out[ETHERNET_LEN..n];
    let (sender, target) = (arp[ARP_SENDER..ARP_TARGET].to_vec(), arp[ARP_TARGET..ARP_TARGET + 10].to_vec());
    arp[ARP_OPER + 1] = 2;
    arp[ARP_SENDER..ARP_TARGET].copy_from_slice(&target);
    arp[ARP_SENDER..ARP_SENDER + 6].copy_from_slice(&TARGET_MAC.0);
    arp[ARP_TARGET..ARP_TARGET + 10].copy_from_slice(&sender);
    let frame = parse_frame(LinkType::Ethernet, &out[..n]).unwrap();
    let expected =
        HostVerdict::Up { host: ip(TARGET), reason: Reason::ArpResponse, ttl: None, mac: Some(TARGET_MAC) };
    assert_eq!(d.classify(&frame), expected);
    // Without -PR, ARP answers are not discovery's.
    assert_eq!(discovery_from(US, &[Method::Echo]).classify(&frame), HostVerdict::Unrelated);
    // Our own request is not an answer.
    let own = parse_frame(LinkType::Ethernet, &{
        let mut o = vec![0; 128];
        let n = d.write(ip(TARGET), Method::Arp, Mac::BROADCAST, 0, &mut o).unwrap();
        o.truncate(n);
        o
    })
    .unwrap();
    assert_eq!(d.classify(&own), HostVerdict::Unrelated);
}

#[test]
fn filter_names_every_answer() {
    assert_eq!(
        discovery_from(US, &Method::NMAP_DEFAULT).filter(),
        "(dst host 198.18.0.1 and (icmp or (tcp and dst port 45000)))"
    );
    let f = discovery().filter();
    assert!(
        f.contains("udp and dst portrange 50000-50255") && f.ends_with("or (arp and arp[6:2] == 2)"),
        "{f}"
    );
}

proptest! {
    #[test]
    fn classify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let d = discovery();
        for link in [LinkType::Ethernet, LinkType::RawIp] {
            if let Ok(frame) = parse_frame(link, &bytes) {
                let _ = d.classify(&frame);
            }
        }
    }
}

/// A discovery of both families: ARP and echo to IPv4 targets from the IPv4
/// source, Neighbor Solicitation and ICMPv6 echo to IPv6 ones from the IPv6
/// source, and answers to either read by the one they answer.
#[test]
fn with_the_other_family_each_target_gets_its_own_probes() {
    let methods = [Method::Echo, Method::Arp];
    let d = discovery_from(US, &methods).with_other_family(discovery_from("2001:2::1", &methods));
    assert_eq!(icmp_of(&sent(&d, TARGET, Method::Echo)).icmp_type, 8);
    let echo6 = icmp_of(&sent(&d, "2001:2::10", Method::Echo));
    assert_eq!(echo6.icmp_type, 128);
    assert!(matches!(sent(&d, TARGET, Method::Arp).net, Net::Arp(_)));
    assert!(icmp_of(&sent(&d, "2001:2::10", Method::Arp)).nd.is_some_and(|nd| nd.is_solicitation()));
    let answer = reply(
        "2001:2::10",
        "2001:2::1",
        L4Spec::Icmp(IcmpSpec { icmp_type: 129, code: 0, rest: echo6.rest, payload: &[] }),
    );
    assert!(matches!(d.classify(&answer), HostVerdict::Up { reason: Reason::EchoReply, .. }));
    assert_eq!(
        d.filter(),
        "(dst host 198.18.0.1 and (icmp or (tcp and dst port 45000))) or (arp and arp[6:2] == 2) or (ip6 dst host 2001:2::1)"
    );
}
