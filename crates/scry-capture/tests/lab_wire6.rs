//! IPv6 on the wire against real kernels, end to end: from the lab's
//! scanner namespace, next hops found by our own Neighbor Discovery, probes
//! built by scry-packet (TCP SYN, UDP with payload, ICMPv6 echo, one with
//! hop limit 1) sent on the raw sender, and every answer captured with an
//! address-only `ip6` filter and parsed: SYN-ACK, RST, UDP echo, echo reply,
//! ICMPv6 port unreachable and admin-prohibited (the firewall's), time
//! exceeded from the router, each quoting our probe; silence from a dropped
//! port; a routed target's hop limit one lower.

use scry_capture::{filter, resolve_mac, route_to, CaptureConfig, RawSender, Receiver};
use scry_lab::{lab_or_skip, Lab, Personality, RejectWith, TargetSpec};
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, Frame, IcmpEchoSpec, IcmpError, IpSpec, Ipv6Spec, L4Spec,
    TcpFlags, TcpSpec, Transport, UdpSpec, Unreachable,
};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

const SRC_PORT: u16 = 47006;

/// A SYN's sequence number, distinct per port.
fn seq(port: u16) -> u32 {
    0x5c50_0000 | u32::from(port)
}

#[test]
fn ipv6_probes_and_every_kind_of_answer() {
    let unlimited = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let lab = lab_or_skip!(Lab::builder()
        .target(
            TargetSpec::new()
                .personality(unlimited)
                .tcp_listen(&[22])
                .udp_listen(&[53])
                .drop_tcp_ports(&[24])
                .reject_tcp_port(25, RejectWith::AdminProhibited)
                .reject_udp_port(161, RejectWith::AdminProhibited)
        )
        .routed_target(TargetSpec::new().tcp_listen(&[22])));
    // With checksum offload on, veth hands the capture partial sums.
    lab.set_offloads(false).unwrap();
    let (t0, r0) = (lab.targets()[0].ipv6(), lab.routed()[0].ipv6());
    let router = lab.router().unwrap().ipv6();
    let us = lab.scanner().ipv6();
    let frames: Vec<Frame> = lab
        .scanner()
        .run(move || {
            let (near, far) = (route_to(t0.into()).unwrap(), route_to(r0.into()).unwrap());
            let src = near.iface.mac.unwrap();
            let to_t0 = EthernetSpec { src, dst: resolve_mac(&near, Duration::from_secs(1)).unwrap() };
            let to_r0 = EthernetSpec { src, dst: resolve_mac(&far, Duration::from_secs(1)).unwrap() };
            let config = CaptureConfig { filter: filter::ip6_to(us), ..CaptureConfig::default() };
            let mut rx = Receiver::open(&near.iface.name, &config).unwrap();
            let tx = RawSender::open(&near.iface).unwrap();
            let ip = |dst: Ipv6Addr, hop_limit| {
                IpSpec::V6(Ipv6Spec { src: us, dst, hop_limit, traffic_class: 0, flow_label: 0 })
            };
            let syn = |port| {
                L4Spec::Tcp(TcpSpec {
                    src_port: SRC_PORT,
                    dst_port: port,
                    seq: seq(port),
                    flags: TcpFlags::SYN,
                    window: 1024,
                    ..TcpSpec::default()
                })
            };
            let udp = |port| L4Spec::Udp(UdpSpec { src_port: SRC_PORT, dst_port: port, payload: b"scry" });
            let echo = L4Spec::IcmpEcho(IcmpEchoSpec { code: 0, id: 0x5c57, seq: 6, payload: b"ping" });
            let probes = [
                build_frame(&to_t0, &ip(t0, 64), &syn(22)),
                build_frame(&to_t0, &ip(t0, 64), &syn(23)),
                build_frame(&to_t0, &ip(t0, 64), &syn(24)),
                build_frame(&to_t0, &ip(t0, 64), &syn(25)),
                build_frame(&to_t0, &ip(t0, 64), &udp(53)),
                build_frame(&to_t0, &ip(t0, 64), &udp(9)),
                build_frame(&to_t0, &ip(t0, 64), &udp(161)),
                build_frame(&to_t0, &ip(t0, 64), &echo),
                build_frame(&to_r0, &ip(r0, 64), &syn(22)),
                build_frame(&to_r0, &ip(r0, 1), &syn(80)),
            ]
            .map(Result::unwrap);
            for frame in &probes {
                tx.send(frame).unwrap();
            }
            let (link, mut frames) = (rx.link_type(), Vec::new());
            let deadline = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < deadline {
                if let Some(frame) = rx.next_frame().unwrap() {
                    frames.push(parse_frame(link, frame.data).unwrap());
                }
            }
            frames
        })
        .unwrap();

    let tcp_from = |from: Ipv6Addr, port: u16| {
        frames
            .iter()
            .filter_map(Frame::tcp)
            .find(|(ip, tcp)| ip.src == IpAddr::V6(from) && tcp.src_port == port)
    };
    let (ip, syn_ack) = tcp_from(t0, 22).expect("a SYN-ACK from the open port");
    assert_eq!(
        (syn_ack.flags, syn_ack.ack, syn_ack.dst_port),
        (TcpFlags::SYN | TcpFlags::ACK, seq(22) + 1, SRC_PORT)
    );
    assert_eq!((ip.ttl, ip.dst), (64, IpAddr::V6(us)));
    assert!(syn_ack.checksum_ok, "offloads are off: the kernel's checksum is whole");
    let (_, rst) = tcp_from(t0, 23).expect("a RST from the closed port");
    assert_eq!((rst.flags, rst.ack), (TcpFlags::RST | TcpFlags::ACK, seq(23) + 1));
    assert!(tcp_from(t0, 24).is_none(), "the dropped port is silent");
    let (ip, routed) = tcp_from(r0, 22).expect("a SYN-ACK from the routed target");
    assert_eq!((ip.ttl, routed.ack), (63, seq(22) + 1), "one hop lower");

    let icmp: Vec<_> = frames
        .iter()
        .filter_map(|f| match f.ip()?.transport {
            Transport::Icmp(icmp) => Some((f.ip()?.header.src, icmp)),
            _ => None,
        })
        .collect();
    let error_for = |proto: u8, port: u16| {
        icmp.iter()
            .find(|(_, i)| i.quoted.is_some_and(|q| q.ip.protocol == proto && q.dst_port == Some(port)))
            .unwrap_or_else(|| panic!("no ICMPv6 error quoting protocol {proto} port {port}: {icmp:?}"))
    };
    let (from, prohibited) = error_for(6, 25);
    assert_eq!(
        (*from, prohibited.error()),
        (IpAddr::V6(t0), Some(IcmpError::Unreachable(Unreachable::AdminProhibited)))
    );
    let q = prohibited.quoted.unwrap();
    assert_eq!(
        (q.ip.src, q.ip.dst, q.src_port, q.tcp_seq),
        (IpAddr::V6(us), IpAddr::V6(t0), Some(SRC_PORT), Some(seq(25)))
    );
    assert!(prohibited.checksum_ok);
    let (_, closed) = error_for(17, 9);
    assert_eq!(closed.error(), Some(IcmpError::Unreachable(Unreachable::Port)));
    assert_eq!(
        (closed.quoted.unwrap().udp_length, closed.quoted.unwrap().data.prefix()),
        (Some(12), &b"scry"[..])
    );
    let (_, udp_prohibited) = error_for(17, 161);
    assert_eq!(udp_prohibited.error(), Some(IcmpError::Unreachable(Unreachable::AdminProhibited)));
    let (from, expired) = error_for(6, 80);
    assert_eq!((*from, expired.error()), (IpAddr::V6(router), Some(IcmpError::TimeExceeded { code: 0 })));
    assert_eq!(expired.quoted.unwrap().tcp_seq, Some(seq(80)));
    let (from, reply) = icmp.iter().find(|(_, i)| i.is_echo_reply()).expect("an echo reply");
    assert_eq!(
        (*from, reply.id(), reply.seq(), reply.payload.prefix()),
        (IpAddr::V6(t0), 0x5c57, 6, &b"ping"[..])
    );

    let udp = frames.iter().find_map(|f| match f.ip()?.transport {
        Transport::Udp(udp) if udp.src_port == 53 => Some(udp),
        _ => None,
    });
    let udp = udp.expect("the UDP echo from port 53");
    assert_eq!((udp.dst_port, udp.payload.prefix(), udp.checksum_ok), (SRC_PORT, &b"scry"[..], true));
}
