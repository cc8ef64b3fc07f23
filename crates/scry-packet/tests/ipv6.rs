//! IPv6 on the wire: probes built with the IPv6 pseudo-header checksum,
//! Neighbor Discovery built and parsed, replies parsed past extension
//! headers, and every ICMPv6 error mapped with its quoted probe.

use scry_packet::layout::{ETHERNET_LEN, IPV6};
use scry_packet::nd::{na_flags, NEIGHBOR_ADVERTISEMENT, NEIGHBOR_SOLICITATION};
use scry_packet::*;
use std::net::{IpAddr, Ipv6Addr};

fn us() -> Ipv6Addr {
    "2001:2::1".parse().unwrap()
}

fn them() -> Ipv6Addr {
    "2001:2::a:10".parse().unwrap()
}

const OUR_MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
const THEIR_MAC: Mac = Mac([2, 0, 0, 0, 0, 0x10]);

fn eth() -> EthernetSpec {
    EthernetSpec { src: OUR_MAC, dst: THEIR_MAC }
}

fn icmp_of(frame: &Frame) -> Icmp {
    match frame.ip().expect("IP").transport {
        Transport::Icmp(icmp) => icmp,
        other => panic!("not ICMP: {other:?}"),
    }
}

#[test]
fn syn_with_hop_limit_and_flow_label() {
    let ip =
        IpSpec::V6(Ipv6Spec { src: us(), dst: them(), hop_limit: 7, traffic_class: 0, flow_label: 0x12345 });
    let syn = TcpSpec {
        src_port: 40000,
        dst_port: 443,
        seq: 0xfeed_f00d,
        flags: TcpFlags::SYN,
        window: 1024,
        ..TcpSpec::default()
    };
    let bytes = build_frame(&eth(), &ip, &L4Spec::Tcp(syn)).unwrap();
    assert_eq!(&bytes[12..14], &[0x86, 0xdd]);
    // Version 6, traffic class 0, flow label 0x12345.
    assert_eq!(&bytes[ETHERNET_LEN..ETHERNET_LEN + 4], &[0x60, 0x01, 0x23, 0x45]);
    assert_eq!(bytes[ETHERNET_LEN + IPV6::HOP_LIMIT], 7);
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    let (h, t) = frame.tcp().unwrap();
    assert_eq!((h.version, h.src, h.dst, h.ttl, h.protocol), (6, IpAddr::V6(us()), IpAddr::V6(them()), 7, 6));
    assert_eq!((t.src_port, t.dst_port, t.seq, t.flags), (40000, 443, 0xfeed_f00d, TcpFlags::SYN));
    assert!(t.checksum_ok);
}

#[test]
fn echo_request_and_reply() {
    let ip = IpSpec::new(us().into(), them().into()).unwrap();
    let echo = IcmpEchoSpec { code: 0, id: 0x5c57, seq: 3, payload: b"scry" };
    let frame =
        parse_frame(LinkType::Ethernet, &build_frame(&eth(), &ip, &L4Spec::IcmpEcho(echo)).unwrap()).unwrap();
    let icmp = icmp_of(&frame);
    assert_eq!(
        (icmp.v6, icmp.icmp_type, icmp.id(), icmp.seq(), icmp.checksum_ok),
        (true, 128, 0x5c57, 3, true)
    );
    assert!(!icmp.is_echo_reply() && icmp.error().is_none() && icmp.nd.is_none());
    let back = IpSpec::new(them().into(), us().into()).unwrap();
    let reply = IcmpSpec { icmp_type: 129, code: 0, rest: icmp.rest, payload: b"scry" };
    let frame =
        parse_frame(LinkType::Ethernet, &build_frame(&eth(), &back, &L4Spec::Icmp(reply)).unwrap()).unwrap();
    let icmp = icmp_of(&frame);
    assert!(icmp.is_echo_reply() && icmp.checksum_ok);
    assert_eq!((icmp.id(), icmp.seq(), icmp.payload.prefix()), (0x5c57, 3, &b"scry"[..]));
}

#[test]
fn neighbor_solicitation_to_the_solicited_node_group() {
    let bytes = build_neighbor_solicitation(OUR_MAC, us(), them());
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(frame.link.dst_mac, Some(Mac([0x33, 0x33, 0xff, 0x0a, 0, 0x10])));
    let ip = frame.ip().unwrap().header;
    assert_eq!(ip.dst, "ff02::1:ff0a:10".parse::<IpAddr>().unwrap());
    assert_eq!((ip.src, ip.ttl, ip.protocol, ip.total_len), (IpAddr::V6(us()), 255, 58, 40 + 32));
    let icmp = icmp_of(&frame);
    assert!(icmp.checksum_ok);
    let nd = icmp.nd.unwrap();
    assert_eq!(
        nd,
        Nd { icmp_type: NEIGHBOR_SOLICITATION, target: them(), flags: 0, link_addr: Some(OUR_MAC) }
    );
    assert!(nd.is_solicitation() && !nd.is_advertisement());
}

#[test]
fn neighbor_advertisement_solicited_override() {
    let bytes = build_neighbor_advertisement(THEIR_MAC, them(), OUR_MAC, us(), them());
    let frame = parse_frame(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!((frame.link.src_mac, frame.link.dst_mac), (Some(THEIR_MAC), Some(OUR_MAC)));
    let ip = frame.ip().unwrap().header;
    assert_eq!((ip.src, ip.dst, ip.ttl), (IpAddr::V6(them()), IpAddr::V6(us()), 255));
    let icmp = icmp_of(&frame);
    assert_eq!((icmp.icmp_type, icmp.rest, icmp.checksum_ok), (136, [0x60, 0, 0, 0], true));
    let nd = icmp.nd.unwrap();
    assert_eq!(
        nd,
        Nd {
            icmp_type: NEIGHBOR_ADVERTISEMENT,
            target: them(),
            flags: na_flags::SOLICITED | na_flags::OVERRIDE,
            link_addr: Some(THEIR_MAC)
        }
    );
}

/// An IPv6 header with `next` and `payload_len`, then the given extension
/// headers and payload, as a raw IP packet.
fn v6_packet(src: Ipv6Addr, dst: Ipv6Addr, next: u8, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend((rest.len() as u16).to_be_bytes());
    p.extend([next, 64]);
    p.extend(src.octets());
    p.extend(dst.octets());
    p.extend(rest);
    p
}

/// The probe as a target would quote it: a TCP SYN behind hop-by-hop and
/// destination options headers, cut after the sequence number.
fn quoted_syn() -> Vec<u8> {
    let mut rest = vec![60, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop (PadN), next: destination options
    rest.extend([6, 0, 1, 4, 0, 0, 0, 0]); // destination options, next: TCP
    rest.extend([0x9c, 0x40, 0, 80, 0xde, 0xad, 0xbe, 0xef]); // 40000 -> 80, seq
    v6_packet(us(), them(), 0, &rest)
}

fn error_from(router: Ipv6Addr, icmp_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Frame {
    let ip = IpSpec::new(router.into(), us().into()).unwrap();
    let bytes =
        build_frame(&eth(), &ip, &L4Spec::Icmp(IcmpSpec { icmp_type, code, rest, payload: quote })).unwrap();
    parse_frame(LinkType::Ethernet, &bytes).unwrap()
}

#[test]
fn every_icmpv6_error_maps_and_quotes_the_probe() {
    use scry_packet::Unreachable as U;
    use IcmpError::{PacketTooBig, ParameterProblem, TimeExceeded, Unreachable};
    let quote = quoted_syn();
    let cases = [
        (1, 0, [0; 4], Unreachable(U::Net)),
        (1, 1, [0; 4], Unreachable(U::AdminProhibited)),
        (1, 2, [0; 4], Unreachable(U::BeyondScope)),
        (1, 3, [0; 4], Unreachable(U::Host)),
        (1, 4, [0; 4], Unreachable(U::Port)),
        (1, 5, [0; 4], Unreachable(U::SourcePolicy)),
        (1, 6, [0; 4], Unreachable(U::RejectRoute)),
        (1, 7, [0; 4], Unreachable(U::Other(7))),
        (2, 0, [0, 0, 5, 0xdc], PacketTooBig { mtu: 1500 }),
        (3, 0, [0; 4], TimeExceeded { code: 0 }),
        (4, 1, [0, 0, 0, 40], ParameterProblem { code: 1, pointer: 40 }),
    ];
    let router: Ipv6Addr = "2001:2:0:1::1".parse().unwrap();
    for (t, code, rest, want) in cases {
        let icmp = icmp_of(&error_from(router, t, code, rest, &quote));
        assert!(icmp.checksum_ok && icmp.is_error(), "type {t} code {code}");
        assert_eq!(icmp.error(), Some(want), "type {t} code {code}");
        let q = icmp.quoted.unwrap_or_else(|| panic!("type {t} code {code}: no quote"));
        assert_eq!((q.ip.version, q.ip.src, q.ip.dst), (6, IpAddr::V6(us()), IpAddr::V6(them())));
        assert_eq!(
            (q.ip.protocol, q.src_port, q.dst_port, q.tcp_seq),
            (6, Some(40000), Some(80), Some(0xdead_beef))
        );
    }
}

#[test]
fn port_unreachable_quotes_a_udp_probe_with_payload() {
    let probe = build_ip(
        &IpSpec::new(us().into(), them().into()).unwrap(),
        &L4Spec::Udp(UdpSpec { src_port: 53000, dst_port: 161, payload: b"public" }),
    )
    .unwrap();
    let icmp = icmp_of(&error_from(them(), 1, 4, [0; 4], &probe));
    assert_eq!(icmp.error(), Some(IcmpError::Unreachable(Unreachable::Port)));
    let q = icmp.quoted.unwrap();
    assert_eq!((q.ip.protocol, q.src_port, q.dst_port, q.udp_length), (17, Some(53000), Some(161), Some(14)));
    assert_eq!(q.data.prefix(), b"public");
}

#[test]
fn quoted_echo_request() {
    let probe = build_ip(
        &IpSpec::new(us().into(), them().into()).unwrap(),
        &L4Spec::IcmpEcho(IcmpEchoSpec { code: 0, id: 77, seq: 9, payload: &[] }),
    )
    .unwrap();
    let q = icmp_of(&error_from(them(), 3, 0, [0; 4], &probe)).quoted.unwrap();
    assert_eq!((q.ip.protocol, q.icmp), (58, Some((128, 0, 77, 9))));
}

#[test]
fn syn_ack_behind_extension_headers() {
    let syn_ack = build_ip(
        &IpSpec::new(them().into(), us().into()).unwrap(),
        &L4Spec::Tcp(TcpSpec {
            src_port: 80,
            dst_port: 40000,
            ack: 0xdead_bef0,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ..TcpSpec::default()
        }),
    )
    .unwrap();
    let mut rest = vec![43, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, next: routing
    rest.extend([60, 0, 4, 0, 0, 0, 0, 0]); // routing type 4, segments left 0, next: destination options
    rest.extend([6, 0, 1, 4, 0, 0, 0, 0]); // destination options, next: TCP
    rest.extend(&syn_ack[40..]);
    let packet = v6_packet(them(), us(), 0, &rest);
    let frame = parse_frame(LinkType::RawIp, &packet).unwrap();
    let (h, t) = frame.tcp().expect("TCP past three extension headers");
    assert_eq!((h.protocol, h.fragment), (6, false));
    assert_eq!((t.src_port, t.ack, t.flags), (80, 0xdead_bef0, TcpFlags::SYN | TcpFlags::ACK));
    assert!(t.checksum_ok);
}

#[test]
fn fragments_are_reported_without_a_transport() {
    let udp = [0x00, 53, 0x9c, 0x40, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    // First fragment (offset 0, more fragments): transport not parsed either,
    // since the datagram is incomplete; identification kept.
    let mut rest = vec![17, 0, 0, 1, 0, 0, 0x12, 0x34];
    rest.extend(udp);
    let frame = parse_frame(LinkType::RawIp, &v6_packet(them(), us(), 44, &rest)).unwrap();
    let ip = frame.ip().unwrap();
    assert_eq!((ip.header.fragment, ip.header.id, ip.header.protocol), (true, 0x1234, 17));
    assert_eq!(ip.transport, Transport::None);
    // Non-first fragment (offset 8 bytes, last): no transport header at all.
    let mut rest = vec![17, 0, 0, 8, 0, 0, 0x12, 0x34];
    rest.extend([9, 9, 9, 9, 9, 9, 9, 9]);
    let frame = parse_frame(LinkType::RawIp, &v6_packet(them(), us(), 44, &rest)).unwrap();
    let ip = frame.ip().unwrap();
    assert_eq!((ip.header.fragment, ip.header.id, ip.transport), (true, 0x1234, Transport::None));
}

#[test]
fn icmpv4_errors_map_to_the_same_kinds() {
    let (src, dst) = ("198.18.0.10".parse().unwrap(), "198.18.0.1".parse().unwrap());
    let ip = IpSpec::new(src, dst).unwrap();
    for (t, code, want) in [
        (3, 3, Some(IcmpError::Unreachable(Unreachable::Port))),
        (3, 13, Some(IcmpError::Unreachable(Unreachable::AdminProhibited))),
        (3, 1, Some(IcmpError::Unreachable(Unreachable::Host))),
        (11, 0, Some(IcmpError::TimeExceeded { code: 0 })),
        (0, 0, None),
    ] {
        let bytes = build_ip(&ip, &L4Spec::Icmp(IcmpSpec { icmp_type: t, code, rest: [0; 4], payload: &[] }))
            .unwrap();
        let icmp = icmp_of(&parse_frame(LinkType::RawIp, &bytes).unwrap());
        assert_eq!(icmp.error(), want, "type {t} code {code}");
        assert_eq!(icmp.is_echo_reply(), t == 0);
    }
}

#[test]
fn a_solicitation_for_our_address_is_answered() {
    let spoofed: Ipv6Addr = "2001:2::99".parse().unwrap();
    // The target asks who has our (spoofed) source address.
    let ns = build_neighbor_solicitation(THEIR_MAC, them(), spoofed);
    let frame = parse_frame(LinkType::Ethernet, &ns).unwrap();
    let na = answer_solicitation(&frame, OUR_MAC, &[us(), spoofed]).expect("an answer");
    let reply = parse_frame(LinkType::Ethernet, &na).unwrap();
    assert_eq!((reply.link.src_mac, reply.link.dst_mac), (Some(OUR_MAC), Some(THEIR_MAC)));
    let ip = reply.ip().unwrap().header;
    assert_eq!((ip.src, ip.dst, ip.ttl), (IpAddr::V6(spoofed), IpAddr::V6(them()), 255));
    let icmp = icmp_of(&reply);
    assert!(icmp.checksum_ok);
    let nd = icmp.nd.unwrap();
    assert_eq!((nd.target, nd.link_addr, nd.flags), (spoofed, Some(OUR_MAC), 0x60));
    // Not ours, not a solicitation, routed (hop limit below 255), a DAD probe, a bad checksum: no answer.
    assert_eq!(answer_solicitation(&frame, OUR_MAC, &[us()]), None);
    assert_eq!(answer_solicitation(&reply, OUR_MAC, &[spoofed]), None);
    let mut routed = ns.clone();
    routed[ETHERNET_LEN + IPV6::HOP_LIMIT] = 254;
    assert_eq!(
        answer_solicitation(&parse_frame(LinkType::Ethernet, &routed).unwrap(), OUR_MAC, &[spoofed]),
        None
    );
    let dad = build_neighbor_solicitation(THEIR_MAC, Ipv6Addr::UNSPECIFIED, spoofed);
    assert_eq!(
        answer_solicitation(&parse_frame(LinkType::Ethernet, &dad).unwrap(), OUR_MAC, &[spoofed]),
        None
    );
    let mut corrupt = ns.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    assert_eq!(
        answer_solicitation(&parse_frame(LinkType::Ethernet, &corrupt).unwrap(), OUR_MAC, &[spoofed]),
        None
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn nd_parse_never_panics(t in 133u8..=137, code in 0u8..2, rest: [u8; 4], body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Nd::parse(t, code, rest, &body);
        }

        #[test]
        fn solicitation_and_answer_round_trip(mac: [u8; 6], src: [u8; 16], target: [u8; 16]) {
            let (mac, src, target) = (Mac(mac), Ipv6Addr::from(src), Ipv6Addr::from(target));
            prop_assume!(!src.is_unspecified());
            let ns = parse_frame(LinkType::Ethernet, &build_neighbor_solicitation(mac, src, target)).unwrap();
            prop_assert_eq!(icmp_of(&ns).nd, Some(Nd { icmp_type: 135, target, flags: 0, link_addr: Some(mac) }));
            prop_assert_eq!(ns.link.dst_mac, Some(multicast_mac(solicited_node(target))));
            let na = answer_solicitation(&ns, OUR_MAC, &[target]).expect("an answer");
            let na = parse_frame(LinkType::Ethernet, &na).unwrap();
            prop_assert_eq!(na.link.dst_mac, Some(mac));
            prop_assert_eq!(na.ip().unwrap().header.dst, IpAddr::V6(src));
            let icmp = icmp_of(&na);
            prop_assert!(icmp.checksum_ok);
            prop_assert_eq!(icmp.nd.map(|nd| (nd.target, nd.link_addr)), Some((target, Some(OUR_MAC))));
        }
    }
}

/// An error quoting a later fragment of a datagram has no transport header
/// to read: ports stay unknown instead of being read from the data.
#[test]
fn a_quoted_later_fragment_has_no_ports() {
    let mut rest = vec![6, 0, 0, 8 * 2, 0, 0, 0x12, 0x34]; // fragment: offset 16 bytes, next TCP
    rest.extend([0x9c, 0x40, 0, 80, 0xde, 0xad, 0xbe, 0xef]); // data that looks like TCP
    let quote = v6_packet(us(), them(), 44, &rest);
    let icmp = icmp_of(&error_from(them(), 3, 1, [0; 4], &quote));
    assert_eq!(icmp.error(), Some(IcmpError::TimeExceeded { code: 1 }));
    let q = icmp.quoted.unwrap();
    assert_eq!((q.ip.fragment, q.ip.id, q.ip.protocol), (true, 0x1234, 6));
    assert_eq!((q.src_port, q.dst_port, q.tcp_seq), (None, None, None));
    assert_eq!(q.data.len(), 8);
    // The first fragment (offset 0) still quotes its transport header.
    let mut first = rest.clone();
    first[2..4].copy_from_slice(&[0, 1]); // offset 0, more fragments
    let q = icmp_of(&error_from(them(), 3, 1, [0; 4], &v6_packet(us(), them(), 44, &first))).quoted.unwrap();
    assert_eq!((q.src_port, q.dst_port, q.tcp_seq), (Some(40000), Some(80), Some(0xdead_beef)));
}
