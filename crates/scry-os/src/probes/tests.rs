//! Every probe's bytes against what nmap 7.93 sent to a lab target
//! (tcpdump in the scanner namespace, `nmap -O` against 198.18.0.10).
//! nmap picks a random TTL and IP ID per probe; those two fields and the IP
//! checksum are compared separately, everything else byte for byte.

use super::*;
use scry_packet::layout::IPV4;

/// The per-host values nmap chose in the captured run.
fn captured_set() -> ProbeSet {
    ProbeSet {
        src: Ipv4Addr::new(198, 18, 0, 1),
        dst: Ipv4Addr::new(198, 18, 0, 10),
        open_tcp: Some(22),
        closed_tcp: Some(1),
        closed_udp: 38192,
        tcp_port_base: 56282,
        udp_port: 56372,
        seq_base: 0x98cf_c337,
        ack: 0xcffc_97a7,
        icmp_id: 61361,
        ttl: 64,
        udp_ttl: 63,
        ip_id: 1000,
    }
}

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

/// nmap's T2-T6 options (T7 has window scale 15).
const T_OPTS: &str = "0303 0a01 0204 0109 080a ffff ffff 0000 0000 0402";

/// (probe, IP flags/fragment word, TOS, transport bytes as nmap sent them).
fn captured() -> Vec<(OsProbe, u16, u8, Vec<u8>)> {
    let t = |head: &str| hex(&format!("{head} {T_OPTS}"));
    vec![
        (OsProbe::Seq(0), 0, 0, hex("dbda 0016 98cf c337 cffc 97a7 a002 0001 1339 0000 0303 0a01 0204 05b4 080a ffff ffff 0000 0000 0402")),
        (OsProbe::Seq(1), 0, 0, hex("dbdb 0016 98cf c338 cffc 97a7 a002 003f 1d36 0000 0204 0578 0303 0004 0208 0aff ffff ff00 0000 0000")),
        (OsProbe::Seq(2), 0, 0, hex("dbdc 0016 98cf c339 cffc 97a7 a002 0004 1e67 0000 080a ffff ffff 0000 0000 0101 0303 0501 0204 0280")),
        (OsProbe::Seq(3), 0, 0, hex("dbdd 0016 98cf c33a cffc 97a7 9002 0004 2aed 0000 0402 080a ffff ffff 0000 0000 0303 0a00")),
        (OsProbe::Seq(4), 0, 0, hex("dbde 0016 98cf c33b cffc 97a7 a002 0010 16bf 0000 0204 0218 0402 080a ffff ffff 0000 0000 0303 0a00")),
        (OsProbe::Seq(5), 0, 0, hex("dbdf 0016 98cf c33c cffc 97a7 9002 0200 32e3 0000 0204 0109 0402 080a ffff ffff 0000 0000")),
        (OsProbe::Ie(0), 0x4000, 0, [hex("0809 071e efb1 0127"), vec![0; 120]].concat()),
        (OsProbe::Ie(1), 0, 0x04, [hex("0800 0725 efb2 0128"), vec![0; 150]].concat()),
        (OsProbe::U1, 0, 0, [hex("dc34 9530 0134 9687"), vec![b'C'; 300]].concat()),
        (OsProbe::Ecn, 0, 0, hex("dbe6 0016 98cf c337 0000 0000 88c2 0003 a12a f7f5 0303 0a01 0204 05b4 0402 0101")),
        (OsProbe::T(2), 0x4000, 0, t("dbe8 0016 98cf c337 cffc 97a7 a000 0080 1759 0000")),
        (OsProbe::T(3), 0, 0, t("dbe9 0016 98cf c337 cffc 97a7 a02b 0100 16ad 0000")),
        (OsProbe::T(4), 0x4000, 0, t("dbea 0016 98cf c337 cffc 97a7 a010 0400 13c7 0000")),
        (OsProbe::T(5), 0, 0, t("dbeb 0001 98cf c337 cffc 97a7 a002 7a69 9d7f 0000")),
        (OsProbe::T(6), 0x4000, 0, t("dbec 0001 98cf c337 cffc 97a7 a010 8000 97d9 0000")),
        (OsProbe::T(7), 0, 0, hex("dbed 0001 98cf c337 cffc 97a7 a029 ffff 12c0 0000 0303 0f01 0204 0109 080a ffff ffff 0000 0000 0402")),
    ]
}

#[test]
fn every_probe_matches_nmaps_bytes() {
    let set = captured_set();
    let all = OsProbe::all();
    let captured = captured();
    assert_eq!(captured.iter().map(|c| c.0).collect::<Vec<_>>(), all, "probe order");
    for (probe, flags, tos, transport) in captured {
        let packet = set.ip_packet(probe).unwrap();
        assert_eq!(&packet[20..], &transport[..], "{probe:?} transport bytes");
        assert_eq!(packet[0], 0x45, "{probe:?} version/IHL");
        assert_eq!(packet[1], tos, "{probe:?} TOS");
        assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), 20 + transport.len());
        assert_eq!(u16::from_be_bytes([packet[6], packet[7]]), flags, "{probe:?} DF/fragment");
        let ttl = if probe == OsProbe::U1 { 63 } else { 64 };
        assert_eq!(packet[IPV4::TTL], ttl, "{probe:?} TTL");
        assert_eq!(&packet[IPV4::SRC..IPV4::DST + 4], &hex("c612 0001 c612 000a")[..]);
    }
}

#[test]
fn u1_keeps_nmaps_ip_id_and_reports_its_checksum() {
    let set = captured_set();
    let packet = set.ip_packet(OsProbe::U1).unwrap();
    assert_eq!(&packet[IPV4::ID..IPV4::ID + 2], &[0x10, 0x42]);
    assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), usize::from(U1_IP_LEN));
    assert_eq!(set.u1_checksum(), 0x9687);
}

#[test]
fn probes_get_distinct_ip_ids() {
    let set = captured_set();
    let mut ids: Vec<[u8; 2]> = OsProbe::all()
        .into_iter()
        .map(|p| {
            let packet = set.ip_packet(p).unwrap();
            [packet[IPV4::ID], packet[IPV4::ID + 1]]
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), OsProbe::all().len());
}

#[test]
fn resends_use_nmaps_ports_and_base_sequence() {
    let set = captured_set();
    // OPS resend of SEQ 3: port base + 9, sequence base (not base + 3).
    let ops = set.ip_packet(OsProbe::Ops(3)).unwrap();
    assert_eq!(&ops[20..28], &hex("dbe3 0016 98cf c337")[..]);
    let seq3 = set.ip_packet(OsProbe::Seq(3)).unwrap();
    assert_eq!(&ops[28..36], &seq3[28..36]);
    assert_eq!(&ops[38..], &seq3[38..]);
    // T1 resend: SEQ 0's segment from port base + 13.
    let t1 = set.ip_packet(OsProbe::T(1)).unwrap();
    let seq0 = set.ip_packet(OsProbe::Seq(0)).unwrap();
    assert_eq!(&t1[20..22], &hex("dbe7")[..]);
    assert_eq!(&t1[22..36], &seq0[22..36]);
    assert_eq!(&t1[38..], &seq0[38..]);
}

fn parse(packet: &[u8]) -> Frame {
    parse_frame(LinkType::RawIp, packet).unwrap()
}

/// A reply from the target: the probe's addresses and ports swapped.
fn reply_to(set: &ProbeSet, probe: OsProbe) -> Frame {
    let back = ProbeSet { src: set.dst, dst: set.src, ..*set };
    let packet = back.ip_packet(probe).unwrap();
    let mut frame = parse(&packet);
    if let Net::Ip(ip) = &mut frame.net {
        if let Transport::Tcp(tcp) = &mut ip.transport {
            std::mem::swap(&mut tcp.src_port, &mut tcp.dst_port);
        }
    }
    frame
}

use scry_packet::Net;

#[test]
fn replies_are_classified_by_port_and_id() {
    let set = captured_set();
    for probe in [
        OsProbe::Seq(0),
        OsProbe::Seq(5),
        OsProbe::Ops(2),
        OsProbe::Ecn,
        OsProbe::T(1),
        OsProbe::T(4),
        OsProbe::T(7),
    ] {
        assert_eq!(set.classify(&reply_to(&set, probe)), Some(probe), "{probe:?}");
    }
    // An echo reply carries the request's id.
    let back = ProbeSet { src: set.dst, dst: set.src, ..set };
    let mut echo = parse(&back.ip_packet(OsProbe::Ie(1)).unwrap());
    if let Net::Ip(ip) = &mut echo.net {
        if let Transport::Icmp(icmp) = &mut ip.transport {
            icmp.icmp_type = 0;
        }
    }
    assert_eq!(set.classify(&echo), Some(OsProbe::Ie(1)));
    // Our own probes, seen on the wire, are not replies.
    assert_eq!(set.classify(&parse(&set.ip_packet(OsProbe::Seq(0)).unwrap())), None);
    // A reply from the wrong source port is not ours.
    let mut stray = reply_to(&set, OsProbe::T(5));
    if let Net::Ip(ip) = &mut stray.net {
        if let Transport::Tcp(tcp) = &mut ip.transport {
            tcp.src_port = 22;
        }
    }
    assert_eq!(set.classify(&stray), None);
}

#[test]
fn frames_are_the_packets_behind_an_ethernet_header() {
    let set = captured_set();
    let eth = scry_packet::EthernetSpec {
        src: "02:00:c6:12:00:01".parse().unwrap(),
        dst: "02:00:c6:12:00:0a".parse().unwrap(),
    };
    for probe in OsProbe::all() {
        let frame = set.frame(probe, &eth).unwrap();
        assert_eq!(&frame[..14], &hex("0200 c612 000a 0200 c612 0001 0800")[..], "{probe:?}");
        assert_eq!(&frame[14..], &set.ip_packet(probe).unwrap()[..], "{probe:?}");
    }
}
