//! The SYN probe over IPv6: the frame it sends (hop limit, addresses,
//! cookie), and replies read as nmap -6 reads them, forged ones rejected.

use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, IcmpSpec, IpSpec, L4Spec, LinkType, Mac, TcpFlags, TcpSpec,
};
use scry_probe::cookie::CookieKey;
use scry_probe::state::PortState;
use scry_probe::syn::{SynProbe, Verdict};
use std::net::IpAddr;

const SOURCE_PORT: u16 = 40000;
const PORT: u16 = 443;
const US_MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
const THEM_MAC: Mac = Mac([2, 0, 0, 0, 0, 10]);
const ETH: EthernetSpec = EthernetSpec { src: THEM_MAC, dst: US_MAC };
/// The IPv6 header's hop limit and the TCP sequence number's offsets (RFC 8200, RFC 9293).
const HOP_LIMIT: usize = 7;
const TCP_SEQ: usize = 40 + 4;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn probe() -> SynProbe {
    SynProbe::new(ip("2001:2::1"), US_MAC, SOURCE_PORT, 37, CookieKey::from_seed(7)).unwrap()
}

fn syn(probe: &SynProbe) -> Vec<u8> {
    let mut frame = vec![0; probe.frame_len()];
    let n = probe.write(ip("2001:2::10"), PORT, THEM_MAC, 1, &mut frame).unwrap();
    frame.truncate(n);
    frame
}

fn classify(probe: &SynProbe, frame: &[u8]) -> Verdict {
    probe.classify(&parse_frame(LinkType::Ethernet, frame).unwrap())
}

fn reply(probe: &SynProbe, flags: TcpFlags, ack_offset: u32) -> Vec<u8> {
    let sent = parse_frame(LinkType::Ethernet, &syn(probe)).unwrap();
    let seq = sent.tcp().unwrap().1.seq;
    let tcp = TcpSpec {
        src_port: PORT,
        dst_port: SOURCE_PORT,
        seq: 1,
        ack: seq.wrapping_add(ack_offset),
        flags,
        window: 29200,
        ..TcpSpec::default()
    };
    build_frame(&ETH, &IpSpec::new(ip("2001:2::10"), ip("2001:2::1")).unwrap(), &L4Spec::Tcp(tcp)).unwrap()
}

fn icmp_error(probe: &SynProbe, from: &str, icmp_type: u8, code: u8, quoted: Option<&[u8]>) -> Vec<u8> {
    let sent = syn(probe);
    let payload = quoted.unwrap_or(&sent[ETHERNET_LEN..]);
    let error = IcmpSpec { icmp_type, code, rest: [0; 4], payload };
    build_frame(&ETH, &IpSpec::new(ip(from), ip("2001:2::1")).unwrap(), &L4Spec::Icmp(error)).unwrap()
}

fn port_result(v: Verdict) -> (IpAddr, u16, PortState, &'static str, u8) {
    match v {
        Verdict::Port { host, port, result } => {
            (host, port, result.state, result.reason.as_str(), result.ttl)
        }
        other => panic!("not a port verdict: {other:?}"),
    }
}

#[test]
fn the_ipv6_syn_carries_the_hop_limit_and_the_cookie() {
    let probe = probe();
    let frame = syn(&probe);
    assert_eq!(frame.len(), ETHERNET_LEN + 40 + 40);
    assert_eq!(&frame[12..14], [0x86, 0xdd]);
    let ip6 = &frame[ETHERNET_LEN..];
    assert_eq!(ip6[HOP_LIMIT], 37);
    let parsed = parse_frame(LinkType::Ethernet, &frame).unwrap();
    let header = &parsed.ip().unwrap().header;
    assert_eq!((header.src, header.dst, header.ttl), (ip("2001:2::1"), ip("2001:2::10"), 37));
    let (_, tcp) = parsed.tcp().unwrap();
    assert_eq!((tcp.src_port, tcp.dst_port, tcp.flags), (SOURCE_PORT, PORT, TcpFlags::SYN));
    // The same target and port always get the same cookie; another port another.
    assert_eq!(syn(&probe)[ETHERNET_LEN + TCP_SEQ..][..4], ip6[TCP_SEQ..][..4]);
    assert_eq!(probe.filter(), "ip6 dst host 2001:2::1");
}

#[test]
fn ipv6_syn_ack_is_open_rst_closed_and_a_wrong_ack_rejected() {
    let probe = probe();
    let open = classify(&probe, &reply(&probe, TcpFlags::SYN | TcpFlags::ACK, 1));
    assert_eq!(port_result(open), (ip("2001:2::10"), PORT, PortState::Open, "syn-ack", 64));
    let closed = classify(&probe, &reply(&probe, TcpFlags::RST | TcpFlags::ACK, 1));
    assert_eq!(port_result(closed).2, PortState::Closed);
    assert_eq!(classify(&probe, &reply(&probe, TcpFlags::SYN | TcpFlags::ACK, 2)), Verdict::Invalid);
    assert_eq!(classify(&probe, &reply(&probe, TcpFlags::RST | TcpFlags::ACK, 9)), Verdict::Invalid);
}

#[test]
fn icmpv6_errors_mark_tcp_ports_filtered_with_nmaps_reasons() {
    let probe = probe();
    let reason = |from: &str, icmp_type: u8, code: u8| {
        let (host, port, state, reason, _) =
            port_result(classify(&probe, &icmp_error(&probe, from, icmp_type, code, None)));
        assert_eq!((host, port, state), (ip("2001:2::10"), PORT, PortState::Filtered));
        reason
    };
    let reasons: Vec<_> = (0..=6).map(|code| reason("2001:2::10", 1, code)).collect();
    assert_eq!(
        reasons,
        [
            "no-route",
            "admin-prohibited",
            "beyond-scope",
            "host-unreach",
            "port-unreach",
            "admin-prohibited",
            "reject-route"
        ]
    );
    assert_eq!(reason("2001:2::fe", 3, 0), "time-exceeded");
    // Parameter problem (type 4) and unknown unreachable codes say nothing nmap reads for TCP.
    assert_eq!(classify(&probe, &icmp_error(&probe, "2001:2::fe", 4, 0, None)), Verdict::Unrelated);
    assert_eq!(classify(&probe, &icmp_error(&probe, "2001:2::fe", 1, 9, None)), Verdict::Unrelated);
}

#[test]
fn forged_icmpv6_errors_are_rejected() {
    let probe = probe();
    let mut quoted = syn(&probe)[ETHERNET_LEN..].to_vec();
    quoted[TCP_SEQ] ^= 0x80;
    assert_eq!(classify(&probe, &icmp_error(&probe, "2001:2::fe", 1, 1, Some(&quoted))), Verdict::Invalid);
    // A corrupt ICMPv6 checksum (the last byte of the quote changed after it was computed).
    let mut bad = icmp_error(&probe, "2001:2::fe", 1, 1, None);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(classify(&probe, &bad), Verdict::Invalid);
}

/// A scan of both families: each target gets its family's frame, and each
/// reply is read by the module it answers.
#[test]
fn by_family_writes_and_reads_each_family_with_its_own_module() {
    use scry_probe::probe::{ByFamily, Probe};
    let v4 = SynProbe::new(ip("198.18.0.1"), US_MAC, SOURCE_PORT, 64, CookieKey::from_seed(4)).unwrap();
    let both = ByFamily::new(Box::new(v4), Box::new(probe()));
    assert_eq!(
        both.filter(),
        "(dst host 198.18.0.1 and ((tcp and dst port 40000) or (icmp and (icmp[icmptype] == icmp-unreach or \
         icmp[icmptype] == icmp-timxceed)))) or (ip6 dst host 2001:2::1)"
    );
    assert_eq!(both.max_frame_len(), ETHERNET_LEN + 40 + 40);
    let mut out = vec![0; both.max_frame_len()];
    for (dst, ethertype, len) in
        [("198.18.0.10", [8, 0], ETHERNET_LEN + 20 + 40), ("2001:2::10", [0x86, 0xdd], 94)]
    {
        let n = both.write(ip(dst), PORT, 0, THEM_MAC, 1, &mut out).unwrap();
        assert_eq!((n, &out[12..14]), (len, &ethertype[..]), "{dst}");
        let sent = parse_frame(LinkType::Ethernet, &out[..n]).unwrap();
        assert_eq!(sent.ip().unwrap().header.dst, ip(dst));
    }
    // The IPv6 SYN-ACK is read by the IPv6 module, with its key.
    let open = both.classify(
        &parse_frame(LinkType::Ethernet, &reply(&probe(), TcpFlags::SYN | TcpFlags::ACK, 1)).unwrap(),
    );
    assert_eq!(port_result(open).2, PortState::Open);
    assert_eq!(
        both.classify(
            &parse_frame(LinkType::Ethernet, &reply(&probe(), TcpFlags::SYN | TcpFlags::ACK, 2)).unwrap()
        ),
        Verdict::Invalid
    );
}
