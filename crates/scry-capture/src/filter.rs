//! pcap-filter(7) snippets for IPv6 captures.
//!
//! libpcap's `ip6 and tcp` (and `udp`, `icmp6`, `port`) look only at the
//! IPv6 header's own next-header field: a reply behind a hop-by-hop,
//! destination options, routing or fragment header does not match them. So
//! IPv6 filters here select by address only, `ip6` broadly, and leave the
//! protocol to the parser, which walks extension headers
//! ([`scry_packet::parse_frame`]).

use scry_packet::nd::solicited_node;
use scry_packet::Mac;
use std::net::Ipv6Addr;

/// Every IPv6 packet addressed to `addr`, whatever extension headers it carries.
pub fn ip6_to(addr: Ipv6Addr) -> String {
    format!("(ip6 dst host {addr})")
}

/// Every IPv6 packet to `addr`'s solicited-node group: the Neighbor
/// Solicitations asking for `addr`. A receiver answering for a source
/// address the kernel does not own adds this (see
/// [`scry_packet::answer_solicitation`]).
pub fn solicitations_for(addr: Ipv6Addr) -> String {
    format!("(ip6 dst host {})", solicited_node(addr))
}

/// IPv6 frames to `mac` or to the all-nodes group: where Neighbor
/// Advertisements answering our solicitations arrive.
pub fn ip6_to_mac(mac: Mac) -> String {
    format!("(ip6 and (ether dst {mac} or ether dst 33:33:00:00:00:01))")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap::{Capture, Linktype};
    use scry_packet::{
        build_frame, build_neighbor_solicitation, EthernetSpec, IpSpec, L4Spec, TcpFlags, TcpSpec,
    };

    const US: Mac = Mac([2, 0, 0xc6, 0x12, 0, 1]);
    const THEM: Mac = Mac([2, 0, 0xc6, 0x12, 0, 10]);

    fn us() -> Ipv6Addr {
        "2001:2::1".parse().unwrap()
    }

    fn them() -> Ipv6Addr {
        "2001:2::a".parse().unwrap()
    }

    /// Whether `filter`, compiled by libpcap for Ethernet, accepts `frame`.
    fn matches(filter: &str, frame: &[u8]) -> bool {
        let dead = Capture::dead(Linktype::ETHERNET).unwrap();
        dead.compile(filter, true).unwrap_or_else(|e| panic!("{filter}: {e}")).filter(frame)
    }

    /// A SYN-ACK to us with a hop-by-hop header between IPv6 and TCP.
    fn syn_ack_behind_hop_by_hop() -> Vec<u8> {
        let ip = IpSpec::new(them().into(), us().into()).unwrap();
        let tcp = TcpSpec {
            src_port: 80,
            dst_port: 40000,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ..TcpSpec::default()
        };
        let mut frame = build_frame(&EthernetSpec { src: THEM, dst: US }, &ip, &L4Spec::Tcp(tcp)).unwrap();
        let next_header = 14 + 6;
        frame[next_header] = 0; // hop-by-hop, which names TCP next
        frame.splice(14 + 40..14 + 40, [6, 0, 1, 4, 0, 0, 0, 0]);
        let payload_len = u16::from_be_bytes([frame[18], frame[19]]) + 8;
        frame[18..20].copy_from_slice(&payload_len.to_be_bytes());
        frame
    }

    #[test]
    fn ip6_to_sees_past_extension_headers_where_tcp_does_not() {
        let frame = syn_ack_behind_hop_by_hop();
        assert!(matches(&ip6_to(us()), &frame));
        assert!(
            !matches(&format!("ip6 dst host {} and tcp", us()), &frame),
            "libpcap's tcp stops at the extension"
        );
        assert!(!matches(&ip6_to(them()), &frame));
    }

    #[test]
    fn solicitations_and_advertisements() {
        let ns = build_neighbor_solicitation(THEM, them(), us());
        assert!(matches(&solicitations_for(us()), &ns));
        assert!(!matches(&solicitations_for("2001:2::2".parse().unwrap()), &ns));
        assert_eq!(solicitations_for(us()), "(ip6 dst host ff02::1:ff00:1)");
        let na = scry_packet::build_neighbor_advertisement(THEM, them(), US, us(), them());
        assert!(matches(&ip6_to_mac(US), &na));
        assert!(!matches(&ip6_to_mac(THEM), &na));
    }
}
