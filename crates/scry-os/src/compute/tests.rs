//! Hand-computed cases for every formula of `compute`.

use super::*;
use crate::probes::ProbeSet;
use scry_packet::{build_ip, parse_frame, IpSpec, Ipv4Spec, L4Spec, LinkType, TcpOption, TcpSpec};
use std::net::Ipv4Addr;

fn set() -> ProbeSet {
    ProbeSet {
        src: Ipv4Addr::new(198, 18, 0, 1),
        dst: Ipv4Addr::new(198, 18, 0, 10),
        open_tcp: Some(22),
        closed_tcp: Some(1),
        closed_udp: 40000,
        tcp_port_base: 50000,
        udp_port: 50100,
        seq_base: 1000,
        ack: 5000,
        icmp_id: 700,
        ttl: 64,
        udp_ttl: 60,
        ip_id: 1,
    }
}

/// A TCP reply from the target to `probe`.
struct TcpReply<'a> {
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    window: u16,
    options: &'a [TcpOption<'a>],
    id: u16,
    ttl: u8,
    df: bool,
}

impl Default for TcpReply<'_> {
    fn default() -> Self {
        TcpReply {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            seq: 77,
            ack: 1001,
            window: 0x7210,
            options: &[],
            id: 0,
            ttl: 60,
            df: true,
        }
    }
}

fn tcp_reply(set: &ProbeSet, probe: OsProbe, r: TcpReply<'_>) -> Reply {
    let port = if probe.needs_closed_port() { set.closed_tcp } else { set.open_tcp };
    let ip = IpSpec::V4(Ipv4Spec { src: set.dst, dst: set.src, ttl: r.ttl, id: r.id, df: r.df, tos: 0 });
    let tcp = TcpSpec {
        src_port: port.unwrap(),
        dst_port: set.tcp_src_port(probe).unwrap(),
        seq: r.seq,
        ack: r.ack,
        flags: r.flags,
        window: r.window,
        options: r.options,
        ..TcpSpec::default()
    };
    let frame = parse_frame(LinkType::RawIp, &build_ip(&ip, &L4Spec::Tcp(tcp)).unwrap()).unwrap();
    assert_eq!(set.classify(&frame), Some(probe));
    Reply { probe, frame, after_resend: false }
}

fn exchange(replies: Vec<Reply>) -> Exchange {
    let sent = std::array::from_fn(|i| Some(i as i64 * 100_000));
    Exchange {
        set: set(),
        seq_sent_us: sent,
        replies,
        known_distance: None,
        localhost: false,
        closed_tcp_guessed: false,
    }
}

fn test_of<'a>(c: &'a Computed, name: &str) -> &'a SubjectTest {
    c.fingerprint.test(name).unwrap_or_else(|| panic!("no {name} in\n{}", c.fingerprint.to_lines(false)))
}

fn reply_tcp(r: &Reply) -> Tcp {
    *r.frame.tcp().unwrap().1
}

#[test]
fn option_strings_follow_nmaps_letters() {
    let linux = [
        TcpOption::Mss(1460),
        TcpOption::SackPermitted,
        TcpOption::Timestamp { val: 9, ecr: 0xFFFF_FFFF },
        TcpOption::Nop,
        TcpOption::WindowScale(10),
    ];
    let r = tcp_reply(&set(), OsProbe::Seq(0), TcpReply { options: &linux, ..TcpReply::default() });
    assert_eq!(option_string(&reply_tcp(&r)), "M5B4ST11NWA");
    // Padding after EOL is read as more EOLs; a zero timestamp word is 0.
    let padded = [TcpOption::Timestamp { val: 0, ecr: 1 }, TcpOption::Eol];
    let r = tcp_reply(&set(), OsProbe::Seq(0), TcpReply { options: &padded, ..TcpReply::default() });
    assert_eq!(option_string(&reply_tcp(&r)), "T01LL");
    // An option running past the header, or of an unknown kind, spoils it all.
    let mut tcp = reply_tcp(&r);
    tcp.options = scry_packet::TcpOptions::from_bytes(&[1, 2, 4, 5]);
    assert_eq!(option_string(&tcp), "");
    tcp.options = scry_packet::TcpOptions::from_bytes(&[30, 4, 0, 0]);
    assert_eq!(option_string(&tcp), "");
}

#[test]
fn ip_id_classes() {
    assert_eq!(ipid_class(&[0, 0, 0], false), IpIdClass::Zero);
    assert_eq!(ipid_class(&[7, 7, 7], false), IpIdClass::Constant);
    assert_eq!(ipid_class(&[5, 6, 8, 9], false), IpIdClass::Incremental);
    assert_eq!(ipid_class(&[5, 7, 9], false), IpIdClass::IncrementalBy2);
    assert_eq!(ipid_class(&[256, 512, 1280], false), IpIdClass::BrokenIncremental);
    assert_eq!(ipid_class(&[100, 2100, 4000], false), IpIdClass::RandomPositive);
    assert_eq!(ipid_class(&[100, 30100, 4000], false), IpIdClass::Random);
    // Going down is a huge unsigned step: random, as in nmap.
    assert_eq!(ipid_class(&[10, 9, 8], false), IpIdClass::Random);
    // With two samples there is no random test, and an odd 31 is no class.
    assert_eq!(ipid_class(&[10, 41], false), IpIdClass::Unknown);
    // On localhost each step also counts nmap's own reset.
    assert_eq!(ipid_class(&[10, 12, 14], true), IpIdClass::Incremental);
}

/// Six SYN/ACKs, ISNs 1,000,000 apart at 100 ms: 10^7 per second.
fn seq_replies(ids: [u16; 6], ts: Option<[u32; 6]>) -> Vec<Reply> {
    let s = set();
    (0..6u8)
        .map(|i| {
            let stamp = ts.map(|t| [TcpOption::Timestamp { val: t[usize::from(i)], ecr: 1 }]);
            let options: &[TcpOption<'_>] = match &stamp {
                Some(o) => o,
                None => &[],
            };
            let r = TcpReply {
                seq: 1 + 1_000_000 * u32::from(i),
                ack: s.seq_base + u32::from(i) + 1,
                id: ids[usize::from(i)],
                options,
                ..TcpReply::default()
            };
            tcp_reply(&s, OsProbe::Seq(i), r)
        })
        .collect()
}

#[test]
fn seq_rates_gcd_and_classes() {
    // TS: +100 per 100 ms = 1000 Hz -> log2 rounded = 10 = A.
    let c = compute(&exchange(seq_replies([1, 2, 3, 4, 5, 6], Some([500, 600, 700, 800, 900, 1000]))));
    let seq = test_of(&c, "SEQ");
    // log2(1e7) * 8 + 0.5 = 186.5 -> 186 = BA; equal steps: SP 0.
    assert_eq!(seq.to_string(), "SEQ(SP=0%GCD=F4240%ISR=BA%TI=I%TS=A)");
}

#[test]
fn timestamps_zero_or_missing() {
    let zero = compute(&exchange(seq_replies([0; 6], Some([0; 6]))));
    assert_eq!(test_of(&zero, "SEQ").get("TS"), Some("0"));
    assert_eq!(test_of(&zero, "SEQ").get("TI"), Some("Z"));
    let none = compute(&exchange(seq_replies([0; 6], None)));
    assert_eq!(test_of(&none, "SEQ").get("TS"), Some("U"));
    // 2 Hz: +0 or +1 per 100 ms rounds into class 1.
    let slow = compute(&exchange(seq_replies([0; 6], Some([10, 10, 11, 11, 11, 12]))));
    assert_eq!(test_of(&slow, "SEQ").get("TS"), Some("1"));
}

#[test]
fn fewer_than_four_seq_replies_give_no_isn_tests() {
    let mut replies = seq_replies([0; 6], None);
    replies.truncate(3);
    let c = compute(&exchange(replies));
    assert_eq!(test_of(&c, "SEQ").to_string(), "SEQ(TI=Z%TS=U)");
    // OPS and WIN need all six.
    assert!(c.fingerprint.test("OPS").is_none() && c.fingerprint.test("WIN").is_none());
}

#[test]
fn t_tests_and_ttl_guess_without_distance() {
    let s = set();
    let mut replies = seq_replies([0; 6], None);
    // T4: RST with seq = our ack, ack 0. T5: RST|ACK with ack = seq_base + 1.
    replies.push(tcp_reply(
        &s,
        OsProbe::T(4),
        TcpReply { flags: TcpFlags::RST, seq: s.ack, ack: 0, window: 0, ..TcpReply::default() },
    ));
    replies.push(tcp_reply(
        &s,
        OsProbe::T(5),
        TcpReply {
            flags: TcpFlags::RST | TcpFlags::ACK,
            seq: 0,
            ack: s.seq_base + 1,
            window: 0,
            df: false,
            ttl: 120,
            ..TcpReply::default()
        },
    ));
    let c = compute(&exchange(replies));
    assert_eq!(test_of(&c, "T1").to_string(), "T1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)");
    assert_eq!(test_of(&c, "T4").to_string(), "T4(R=Y%DF=Y%TG=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)");
    assert_eq!(test_of(&c, "T5").to_string(), "T5(R=Y%DF=N%TG=80%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)");
    for name in ["ECN", "T2", "T3", "T6", "T7", "U1", "IE"] {
        assert_eq!(test_of(&c, name).to_string(), format!("{name}(R=N)"));
    }
    // The first TTL seen (60, guessed 64) gives the distance guess.
    assert_eq!((c.distance, c.distance_method), (Some(4), Some(DistanceMethod::Guess)));
    assert!(c.poor_conditions.is_empty(), "{:?}", c.poor_conditions);
}

#[test]
fn ecn_congestion_bits_and_quirks() {
    let s = set();
    let cases = [
        (TcpFlags::ECE | TcpFlags::CWR, "S"),
        (TcpFlags::ECE, "Y"),
        (TcpFlags::NONE, "N"),
        (TcpFlags::CWR, "O"),
    ];
    for (extra, cc) in cases {
        let flags = TcpFlags::SYN | TcpFlags::ACK | extra;
        let mut reply = tcp_reply(&s, OsProbe::Ecn, TcpReply { flags, ..TcpReply::default() });
        if let scry_packet::Net::Ip(ip) = &mut reply.frame.net {
            if let Transport::Tcp(tcp) = &mut ip.transport {
                tcp.reserved = 4;
                tcp.urgent = 9;
            }
        }
        let c = compute(&Exchange { known_distance: Some(1), ..exchange(vec![reply]) });
        assert_eq!(test_of(&c, "ECN").to_string(), format!("ECN(R=Y%DF=Y%TG=40%W=7210%O=%CC={cc}%Q=RU)"));
    }
}

fn echo_reply(set: &ProbeSet, k: u8, code: u8, df: bool, id: u16, ttl: u8) -> Reply {
    let ip = IpSpec::V4(Ipv4Spec { src: set.dst, dst: set.src, ttl, id, df, tos: 0 });
    let echo = scry_packet::IcmpEchoSpec { code, id: set.icmp_id + u16::from(k), seq: 0, payload: &[0; 8] };
    let mut frame = parse_frame(LinkType::RawIp, &build_ip(&ip, &L4Spec::IcmpEcho(echo)).unwrap()).unwrap();
    if let scry_packet::Net::Ip(ip) = &mut frame.net {
        if let Transport::Icmp(icmp) = &mut ip.transport {
            icmp.icmp_type = 0;
        }
    }
    Reply { probe: OsProbe::Ie(k), frame, after_resend: false }
}

#[test]
fn ie_codes_df_and_ip_ids() {
    let s = set();
    let cases = [
        ((9, true), (0, false), "DFI=S%TG=40%CD=S"),
        ((0, true), (0, true), "DFI=Y%TG=40%CD=Z"),
        ((9, false), (9, false), "DFI=N%TG=40%CD=9"),
        ((0, false), (9, true), "DFI=O%TG=40%CD=O"),
    ];
    for ((c1, df1), (c2, df2), want) in cases {
        // IE2's reply first: the test still reads IE1's as the first.
        let replies = vec![echo_reply(&s, 1, c2, df2, 21, 50), echo_reply(&s, 0, c1, df1, 20, 64)];
        let c = compute(&Exchange { known_distance: Some(1), ..exchange(replies) });
        assert_eq!(test_of(&c, "IE").to_string(), format!("IE(R=Y%{want})"));
        // IP IDs 20 then 21 by probe, whatever the arrival order.
        assert_eq!(test_of(&c, "SEQ").to_string(), "SEQ(II=I)");
    }
}

#[test]
fn a_guessed_closed_port_leaves_silent_t5_to_t7_out() {
    let ex = Exchange { closed_tcp_guessed: true, ..exchange(seq_replies([0; 6], None)) };
    let c = compute(&ex);
    assert!(["T5", "T6", "T7"].iter().all(|t| c.fingerprint.test(t).is_none()));
    assert_eq!(test_of(&c, "T4").to_string(), "T4(R=N)");
    assert_eq!(c.poor_conditions, vec!["Missing a closed TCP port so results incomplete".to_owned()]);
}

/// The port unreachable a target sends for U1: `quoted` is the datagram it
/// quotes (our U1 as sent, perhaps altered), `unused` the ICMP header's
/// bytes 4..8.
fn u1_reply(set: &ProbeSet, quoted: &[u8], unused: [u8; 4], ttl: u8) -> Reply {
    use scry_packet::checksum::checksum;
    let mut icmp = vec![3, 3, 0, 0];
    icmp.extend_from_slice(&unused);
    icmp.extend_from_slice(quoted);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 7, 0, 0, ttl, 1, 0, 0]);
    ip.extend_from_slice(&set.dst.octets());
    ip.extend_from_slice(&set.src.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&icmp);
    let frame = parse_frame(LinkType::RawIp, &ip).unwrap();
    assert_eq!(set.classify(&frame), Some(OsProbe::U1));
    Reply { probe: OsProbe::U1, frame, after_resend: false }
}

#[test]
fn u1_returned_datagram_checks() {
    let s = set();
    let sent = s.ip_packet(OsProbe::U1).unwrap();
    // Quoted whole by a host 3 hops away: two routers took U1's TTL from 60
    // to 58, and the reply's from 64 to 62.
    let mut as_sent = sent.clone();
    as_sent[8] = 58; // TTL as it arrived, checksum fixed up by the routers
    let sum = scry_packet::checksum::checksum(&[&as_sent[..10], &[0, 0], &as_sent[12..20]].concat());
    as_sent[10..12].copy_from_slice(&sum.to_be_bytes());
    let c = compute(&exchange(vec![u1_reply(&s, &as_sent, [0; 4], 62)]));
    assert_eq!(
        test_of(&c, "U1").to_string(),
        "U1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)"
    );
    assert_eq!((c.distance, c.distance_method), (Some(3), Some(DistanceMethod::Icmp)));

    // Truncated after 8 payload bytes, length, ID and both checksums
    // rewritten, payload altered, and the unused field set. The quoted TTL
    // is U1's own (60): one hop, so T is the reply's 62 (3E). IPL: 20 + 8 +
    // 36 = 64 (40).
    let mut bent = sent[..36].to_vec();
    bent[2..4].copy_from_slice(&0x0150u16.to_be_bytes());
    bent[4..6].copy_from_slice(&0x4210u16.to_be_bytes());
    bent[10..12].copy_from_slice(&[0x12, 0x34]);
    bent[26..28].copy_from_slice(&[0xab, 0xcd]);
    bent[30] = b'D';
    let c = compute(&exchange(vec![u1_reply(&s, &bent, [0, 0, 0x01, 0x02], 62)]));
    assert_eq!(
        test_of(&c, "U1").to_string(),
        "U1(R=Y%DF=N%T=3E%IPL=40%UN=102%RIPL=150%RID=4210%RIPCK=I%RUCK=ABCD%RUD=I)"
    );
    // A zeroed IP checksum is Z.
    bent[10..12].copy_from_slice(&[0, 0]);
    let c = compute(&exchange(vec![u1_reply(&s, &bent, [0; 4], 62)]));
    assert_eq!(test_of(&c, "U1").get("RIPCK"), Some("Z"));
}

#[test]
fn reset_payload_gives_its_crc32() {
    let s = set();
    let ip = IpSpec::V4(Ipv4Spec { src: s.dst, dst: s.src, ttl: 64, id: 0, df: true, tos: 0 });
    let tcp = TcpSpec {
        src_port: s.closed_tcp.unwrap(),
        dst_port: s.tcp_src_port(OsProbe::T(6)).unwrap(),
        flags: TcpFlags::RST,
        payload: b"No TCP here",
        ..TcpSpec::default()
    };
    let frame = parse_frame(LinkType::RawIp, &build_ip(&ip, &L4Spec::Tcp(tcp)).unwrap()).unwrap();
    let c = compute(&exchange(vec![Reply { probe: OsProbe::T(6), frame, after_resend: false }]));
    // zlib.crc32(b"No TCP here") == 0xB43BB3F4
    assert_eq!(test_of(&c, "T6").get("RD"), Some("B43BB3F4"));
}

/// Regression: RD was the CRC-32 of only the first 48 bytes a parsed
/// payload keeps; nmap sums all of the reset's data.
#[test]
fn rd_covers_a_reset_payload_longer_than_the_kept_prefix() {
    let s = set();
    let data: Vec<u8> = (0..100u32).map(|i| ((i * 7 + 3) % 256) as u8).collect();
    let ip = IpSpec::V4(Ipv4Spec { src: s.dst, dst: s.src, ttl: 64, id: 0, df: true, tos: 0 });
    let tcp = TcpSpec {
        src_port: s.closed_tcp.unwrap(),
        dst_port: s.tcp_src_port(OsProbe::T(5)).unwrap(),
        flags: TcpFlags::RST | TcpFlags::ACK,
        payload: &data,
        ..TcpSpec::default()
    };
    let frame = parse_frame(LinkType::RawIp, &build_ip(&ip, &L4Spec::Tcp(tcp)).unwrap()).unwrap();
    let c = compute(&exchange(vec![Reply { probe: OsProbe::T(5), frame, after_resend: false }]));
    // zlib.crc32 of all 100 bytes; of the first 48 alone it is 4572DC45.
    assert_eq!(test_of(&c, "T5").get("RD"), Some("AA316B09"));
}

/// Regression: on the scanning host itself (distance 0) nmap still writes
/// T=40 for a Linux stack, because `T` uses U1's hop count (1), not the
/// known distance; without a U1 reply a same-link host gets `TG`.
#[test]
fn t_uses_u1s_hop_count_not_the_known_distance() {
    let s = set();
    let mut quoted = s.ip_packet(OsProbe::U1).unwrap();
    let sum = scry_packet::checksum::checksum(&[&quoted[..10], &[0, 0], &quoted[12..20]].concat());
    quoted[10..12].copy_from_slice(&sum.to_be_bytes());
    let replies = vec![u1_reply(&s, &quoted, [0; 4], 64)];
    let c = compute(&Exchange { known_distance: Some(0), localhost: true, ..exchange(replies) });
    assert_eq!(test_of(&c, "U1").get("T"), Some("40"));
    assert_eq!((c.distance, c.distance_method), (Some(0), Some(DistanceMethod::Known)));

    let replies = vec![echo_reply(&s, 0, 9, false, 1, 64), echo_reply(&s, 1, 0, false, 2, 64)];
    let c = compute(&Exchange { known_distance: Some(1), ..exchange(replies) });
    assert_eq!(test_of(&c, "IE").get("TG"), Some("40"));
    assert_eq!((c.distance, c.distance_method), (Some(1), Some(DistanceMethod::Known)));
}

mod never_panics {
    //! No reply, however damaged, may crash the computation: replies built
    //! for each probe, bytes overwritten at random, parsed, and handed over
    //! under any probe's name.

    use super::*;
    use proptest::prelude::*;

    /// One valid reply's bytes for each kind: SYN/ACK, RST, echo, unreachable.
    fn seeds() -> Vec<Vec<u8>> {
        let s = set();
        let mut quoted = s.ip_packet(OsProbe::U1).unwrap();
        quoted.truncate(60);
        let tcp = |flags, options: &[TcpOption<'_>]| {
            let ip = IpSpec::V4(Ipv4Spec { src: s.dst, dst: s.src, ttl: 60, id: 9, df: true, tos: 0 });
            let spec = TcpSpec {
                src_port: 22,
                dst_port: s.tcp_port_base,
                seq: 5,
                ack: s.seq_base + 1,
                flags,
                window: 100,
                options,
                payload: b"data",
                ..TcpSpec::default()
            };
            build_ip(&ip, &L4Spec::Tcp(spec)).unwrap()
        };
        let ts = [TcpOption::Mss(1460), TcpOption::Timestamp { val: 7, ecr: 1 }, TcpOption::WindowScale(7)];
        let echo = {
            let ip = IpSpec::V4(Ipv4Spec { src: s.dst, dst: s.src, ttl: 60, id: 9, df: false, tos: 0 });
            let spec = scry_packet::IcmpEchoSpec { code: 9, id: s.icmp_id, seq: 0, payload: &[0; 16] };
            let mut b = build_ip(&ip, &L4Spec::IcmpEcho(spec)).unwrap();
            b[20] = 0;
            b
        };
        let unreachable = {
            let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
            icmp.extend_from_slice(&quoted);
            let mut ip = vec![0x45, 0, 0, (20 + icmp.len()) as u8, 0, 1, 0, 0, 60, 1, 0, 0];
            ip.extend_from_slice(&s.dst.octets());
            ip.extend_from_slice(&s.src.octets());
            ip.extend_from_slice(&icmp);
            ip
        };
        vec![tcp(TcpFlags::SYN | TcpFlags::ACK, &ts), tcp(TcpFlags::RST, &[]), echo, unreachable]
    }

    fn probe(n: u8) -> OsProbe {
        match n % 20 {
            i @ 0..=5 => OsProbe::Seq(i),
            i @ 6..=11 => OsProbe::Ops(i - 6),
            12 => OsProbe::Ecn,
            i @ 13..=17 => OsProbe::T(i - 11),
            18 => OsProbe::Ie(n % 2),
            _ => OsProbe::U1,
        }
    }

    proptest! {
        #[test]
        fn damaged_replies_never_panic(
            picks in proptest::collection::vec((0usize..4, any::<u8>(), proptest::collection::vec((any::<u8>(), any::<u8>()), 0..6)), 0..24),
            times in proptest::collection::vec(proptest::option::of(-1_000_000i64..1_000_000), 6),
        ) {
            let seeds = seeds();
            let mut replies = Vec::new();
            for (seed, which, flips) in picks {
                let mut bytes = seeds[seed].clone();
                for (at, value) in flips {
                    let at = usize::from(at) % bytes.len();
                    bytes[at] = value;
                }
                if let Ok(frame) = parse_frame(LinkType::RawIp, &bytes) {
                    let _ = set().classify(&frame);
                    replies.push(Reply { probe: probe(which), frame, after_resend: which % 3 == 0 });
                }
            }
            let mut ex = exchange(replies);
            ex.seq_sent_us = std::array::from_fn(|i| times[i]);
            let c = compute(&ex);
            prop_assert!(c.fingerprint.tests.iter().all(|t| !t.name.is_empty()));
        }
    }
}

#[test]
fn one_syn_ack_gives_o1_w1_t1_and_the_seq_classes_one_reply_settles() {
    let s = set();
    let options = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::Nop, TcpOption::WindowScale(7)];
    let reply = tcp_reply(
        &s,
        OsProbe::Seq(0),
        TcpReply { options: &options, window: 0xFAF0, ttl: 61, ..TcpReply::default() },
    );
    let ip = reply.frame.ip().unwrap().header;
    let fp = one_syn_ack(&ip, &reply_tcp(&reply), s.seq_base, s.ack);
    // IP ID 0 and no timestamp option: TI=Z and TS=U.
    assert_eq!(
        fp.to_string().trim_end(),
        "SEQ(TI=Z%TS=U)\nOPS(O1=M5B4SNW7LL)\nWIN(W1=FAF0)\nT1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)"
    );
    // The builder pads the options with EOLs (LL). The same reply to SEQ
    // probe 1 gives the same T1, O1 and W1 in a full exchange.
    let mut replies = seq_replies([0; 6], None);
    replies[0] = reply;
    let c = compute(&exchange(replies));
    assert_eq!(fp.test("T1"), c.fingerprint.test("T1"));
    assert_eq!(fp.test("OPS").unwrap().get("O1"), c.fingerprint.test("OPS").unwrap().get("O1"));
    assert_eq!(fp.test("WIN").unwrap().get("W1"), c.fingerprint.test("WIN").unwrap().get("W1"));
}

#[test]
fn one_syn_ack_leaves_out_seq_classes_one_reply_cannot_settle() {
    let s = set();
    let guess = |id: u16, tsval: u32| {
        let options = [TcpOption::Mss(1460), TcpOption::Timestamp { val: tsval, ecr: 1 }];
        let reply = tcp_reply(&s, OsProbe::Seq(0), TcpReply { options: &options, id, ..TcpReply::default() });
        let ip = reply.frame.ip().unwrap().header;
        one_syn_ack(&ip, &reply_tcp(&reply), s.seq_base, s.ack)
    };
    // A nonzero IP ID fits I, RI, RD, BI or a constant; a nonzero TSval, any rate.
    let fp = guess(0x1234, 0x5555);
    assert_eq!(fp.test("SEQ"), None, "{fp}");
    assert_eq!(fp.test("OPS").unwrap().get("O1"), Some("M5B4T11LL"), "the builder pads with EOLs");
    let fp = guess(0x1234, 0);
    assert_eq!(fp.test("SEQ").unwrap().to_string(), "SEQ(TS=0)");
    let fp = guess(0, 7);
    assert_eq!(fp.test("SEQ").unwrap().to_string(), "SEQ(TI=Z)");
}
