//! The SYN probe's classifier on whole frames: genuine answers count, and the
//! same answers with a corrupt IPv4 or ICMP checksum are rejected.

use scry_packet::checksum::checksum;
use scry_packet::layout::{ETHERNET_LEN, IPV4};
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, IcmpEchoSpec, IpSpec, L4Spec, LinkType, Mac, TcpFlags, TcpSpec,
};
use scry_probe::cookie::CookieKey;
use scry_probe::state::{PortState, Reason};
use scry_probe::syn::{SynProbe, Verdict};
use std::net::Ipv4Addr;

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const SOURCE_PORT: u16 = 40000;
const PORT: u16 = 443;
const ETH: EthernetSpec =
    EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 10]), dst: Mac([2, 0, 0xc6, 0x12, 0, 1]) };
/// ICMP header fields (RFC 792).
const ICMP_TYPE: usize = 0;
const ICMP_CHECKSUM: usize = 2;
/// What an ICMP error quotes: the IP header and 8 bytes (RFC 792).
const QUOTED_LEN: usize = 20 + 8;

fn probe() -> SynProbe {
    SynProbe::new(US.into(), Mac([2, 0, 0xc6, 0x12, 0, 1]), SOURCE_PORT, 64, CookieKey::from_seed(7)).unwrap()
}

/// The SYN `probe` sends to [`THEM`]:[`PORT`].
fn syn(probe: &SynProbe) -> Vec<u8> {
    let mut frame = vec![0; probe.frame_len()];
    probe.write(THEM.into(), PORT, Mac([2, 0, 0xc6, 0x12, 0, 10]), 1, &mut frame).unwrap();
    frame
}

fn classify(probe: &SynProbe, frame: &[u8]) -> Verdict {
    probe.classify(&parse_frame(LinkType::Ethernet, frame).unwrap())
}

/// Flips a bit of the IPv4 header checksum.
fn corrupt_ip_checksum(frame: &mut [u8]) {
    frame[ETHERNET_LEN + IPV4::CHECKSUM] ^= 0x40;
}

#[test]
fn syn_ack_with_a_bad_ip_checksum_is_invalid() {
    let probe = probe();
    let sent = parse_frame(LinkType::Ethernet, &syn(&probe)).unwrap();
    let seq = sent.tcp().unwrap().1.seq;
    let tcp = TcpSpec {
        src_port: PORT,
        dst_port: SOURCE_PORT,
        seq: 1,
        ack: seq.wrapping_add(1),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 29200,
        ..TcpSpec::default()
    };
    let mut reply =
        build_frame(&ETH, &IpSpec::new(THEM.into(), US.into()).unwrap(), &L4Spec::Tcp(tcp)).unwrap();
    let Verdict::Port { port, result, .. } = classify(&probe, &reply) else {
        panic!("genuine SYN-ACK refused")
    };
    assert_eq!((port, result.state), (PORT, PortState::Open));
    corrupt_ip_checksum(&mut reply);
    assert_eq!(classify(&probe, &reply), Verdict::Invalid);
}

/// An ICMP error of `icmp_type`/`code` from `from` quoting the SYN `probe`
/// sends, and the offset of its ICMP header.
fn icmp_error(probe: &SynProbe, from: Ipv4Addr, icmp_type: u8, code: u8) -> (Vec<u8>, usize) {
    let sent = syn(probe);
    let quoted = &sent[ETHERNET_LEN..ETHERNET_LEN + QUOTED_LEN];
    // An echo request carrying the quote, retyped to the error.
    let echo = IcmpEchoSpec { code, id: 0, seq: 0, payload: quoted };
    let ip = IpSpec::new(from.into(), US.into()).unwrap();
    let mut error = build_frame(&ETH, &ip, &L4Spec::IcmpEcho(echo)).unwrap();
    let icmp_at = ETHERNET_LEN + ip.header_len();
    error[icmp_at + ICMP_TYPE] = icmp_type;
    error[icmp_at + ICMP_CHECKSUM..icmp_at + ICMP_CHECKSUM + 2].fill(0);
    let sum = checksum(&error[icmp_at..]);
    error[icmp_at + ICMP_CHECKSUM..icmp_at + ICMP_CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
    (error, icmp_at)
}

#[test]
fn unreachable_with_a_bad_checksum_is_invalid() {
    let probe = probe();
    let (error, icmp_at) = icmp_error(&probe, THEM, 3, 13);
    let Verdict::Port { port, result, .. } = classify(&probe, &error) else {
        panic!("genuine error refused")
    };
    assert_eq!((port, result.state, result.reason), (PORT, PortState::Filtered, Reason::Unreachable(13)));

    let mut bad_icmp = error.clone();
    bad_icmp[icmp_at + ICMP_CHECKSUM] ^= 0x40;
    assert_eq!(classify(&probe, &bad_icmp), Verdict::Invalid);
    let mut bad_ip = error;
    corrupt_ip_checksum(&mut bad_ip);
    assert_eq!(classify(&probe, &bad_ip), Verdict::Invalid);
}

#[test]
fn time_exceeded_on_the_way_is_filtered_as_nmap() {
    let probe = probe();
    let router = Ipv4Addr::new(198, 18, 0, 2);
    for code in [0, 1] {
        let (error, _) = icmp_error(&probe, router, 11, code);
        let Verdict::Port { host, port, result } = classify(&probe, &error) else {
            panic!("time exceeded refused")
        };
        assert_eq!((host, port), (THEM.into(), PORT));
        assert_eq!((result.state, result.reason), (PortState::Filtered, Reason::TimeExceeded));
    }
    // A parameter problem says nothing nmap reads.
    assert_eq!(classify(&probe, &icmp_error(&probe, router, 12, 0).0), Verdict::Unrelated);
    assert!(probe.filter().contains("icmp[icmptype] == icmp-timxceed"), "{}", probe.filter());
}
