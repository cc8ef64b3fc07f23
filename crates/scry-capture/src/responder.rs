//! Answering Neighbor Solicitations for a source address the kernel does
//! not own.
//!
//! A scan from its own address needs nothing: the kernel answers the
//! target's solicitation for it. A scan from a spoofed `-S` address (or one
//! the kernel has not configured) gets no replies over IPv6 unless someone
//! does. The scan's receiver adds [`NdResponder::filter`] to its
//! capture and hands every frame to [`NdResponder::answer`], sending what it
//! returns on its raw sender.

use crate::filter::solicitations_for;
use crate::Route;
use scry_packet::{answer_solicitation, Frame, Mac};
use std::net::{IpAddr, Ipv6Addr};

/// Answers solicitations for the scan's IPv6 source on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdResponder {
    mac: Mac,
    addr: Ipv6Addr,
}

impl NdResponder {
    /// A responder for `route`'s source address, or `None` when there is
    /// nothing to answer: an IPv4 route, a loopback route or an interface
    /// without an Ethernet address, or a source the interface owns (the
    /// kernel answers for it).
    pub fn for_route(route: &Route) -> Option<NdResponder> {
        let IpAddr::V6(addr) = route.src else { return None };
        let mac = route.iface.mac.filter(|_| !route.iface.is_loopback)?;
        let owned = route.iface.addrs.iter().any(|(a, _)| *a == route.src);
        (!owned).then_some(NdResponder { mac, addr })
    }

    /// The address answered for.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The pcap-filter(7) expression selecting the solicitations to answer,
    /// to be or-ed into the receiver's filter.
    pub fn filter(&self) -> String {
        solicitations_for(self.addr)
    }

    /// The advertisement to send for `frame`, when it solicits our address.
    pub fn answer(&self, frame: &Frame) -> Option<Vec<u8>> {
        answer_solicitation(frame, self.mac, &[self.addr])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Interface;
    use scry_packet::{build_neighbor_solicitation, parse_frame, LinkType};

    const OURS: Mac = Mac([2, 0, 0xc6, 0x12, 0, 1]);

    fn route(src: &str) -> Route {
        let iface = Interface {
            name: "eth0".into(),
            index: 2,
            mac: Some(OURS),
            addrs: vec![("198.18.0.1".parse().unwrap(), 24), ("2001:2::1".parse().unwrap(), 64)],
            is_loopback: false,
            is_up: true,
        };
        Route { iface, src: src.parse().unwrap(), next_hop: "2001:2::a".parse().unwrap(), gateway: None }
    }

    #[test]
    fn only_a_source_the_kernel_does_not_own_is_answered_for() {
        assert_eq!(NdResponder::for_route(&route("2001:2::1")), None, "the kernel answers");
        assert_eq!(NdResponder::for_route(&route("198.18.0.77")), None, "IPv4");
        let mut lo = route("2001:2::99");
        lo.iface.is_loopback = true;
        assert_eq!(NdResponder::for_route(&lo), None);
        let responder = NdResponder::for_route(&route("2001:2::99")).expect("a spoofed source");
        assert_eq!(responder.addr(), "2001:2::99".parse::<Ipv6Addr>().unwrap());
        assert_eq!(responder.filter(), "(ip6 dst host ff02::1:ff00:99)");
        let them = Mac([2, 0, 0xc6, 0x12, 0, 10]);
        let ns = build_neighbor_solicitation(them, "2001:2::a".parse().unwrap(), responder.addr());
        let na = responder.answer(&parse_frame(LinkType::Ethernet, &ns).unwrap()).expect("answered");
        let na = parse_frame(LinkType::Ethernet, &na).unwrap();
        assert_eq!((na.link.src_mac, na.link.dst_mac), (Some(OURS), Some(them)));
        let other =
            build_neighbor_solicitation(them, "2001:2::a".parse().unwrap(), "2001:2::1".parse().unwrap());
        assert_eq!(responder.answer(&parse_frame(LinkType::Ethernet, &other).unwrap()), None);
    }
}
