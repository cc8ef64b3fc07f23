//! IPv6 Neighbor Discovery (RFC 4861): the solicitation and advertisement
//! that stand in for ARP on an IPv6 link, and the multicast addressing they
//! travel on.
//!
//! A solicitation goes to the target's solicited-node multicast address
//! (`ff02::1:ff` + the target's low 24 bits, RFC 4291 section 2.7.1) inside an
//! Ethernet frame to `33:33` + the low 32 bits of that group (RFC 2464
//! section 7), with hop limit 255 so receivers know it was not routed.

use crate::builder::{build_frame, EthernetSpec, IcmpSpec, IpSpec, Ipv6Spec, L4Spec};
use crate::summary::{Frame, Transport};
use crate::Mac;
use std::net::{IpAddr, Ipv6Addr};

/// ICMPv6 type of a Neighbor Solicitation.
pub const NEIGHBOR_SOLICITATION: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement.
pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// The hop limit every Neighbor Discovery message carries (RFC 4861 section 7.1).
pub const ND_HOP_LIMIT: u8 = 255;

/// Option type: the sender's link-layer address (in solicitations).
const OPT_SOURCE_LINK: u8 = 1;
/// Option type: the target's link-layer address (in advertisements).
const OPT_TARGET_LINK: u8 = 2;

/// Advertisement flag bits (RFC 4861 section 4.4), in header byte 4.
pub mod na_flags {
    /// The sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// The advertisement answers a solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// The receiver should replace a cached link-layer address.
    pub const OVERRIDE: u8 = 0x20;
}

/// The solicited-node multicast group of `addr`: `ff02::1:ffXX:XXXX`.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15]])
}

/// The Ethernet multicast address IPv6 multicast group `group` maps to:
/// `33:33` followed by the group's low 32 bits.
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// A Neighbor Solicitation or Advertisement, as parsed from a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nd {
    /// [`NEIGHBOR_SOLICITATION`] or [`NEIGHBOR_ADVERTISEMENT`].
    pub icmp_type: u8,
    /// The address asked about (solicitation) or announced (advertisement).
    pub target: Ipv6Addr,
    /// Advertisement flags ([`na_flags`]); 0 for a solicitation.
    pub flags: u8,
    /// The source link-layer option of a solicitation or the target
    /// link-layer option of an advertisement, when present.
    pub link_addr: Option<Mac>,
}

impl Nd {
    pub fn is_solicitation(&self) -> bool {
        self.icmp_type == NEIGHBOR_SOLICITATION
    }

    pub fn is_advertisement(&self) -> bool {
        self.icmp_type == NEIGHBOR_ADVERTISEMENT
    }

    /// Reads an ND message from an ICMPv6 type, code, header bytes 4..8 and
    /// body; `None` for other types, a non-zero code or a body too short for
    /// the target address. Malformed options end the option walk, never the parse.
    pub fn parse(icmp_type: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Option<Nd> {
        let wanted = match icmp_type {
            NEIGHBOR_SOLICITATION => OPT_SOURCE_LINK,
            NEIGHBOR_ADVERTISEMENT => OPT_TARGET_LINK,
            _ => return None,
        };
        if code != 0 {
            return None;
        }
        let target: [u8; 16] = body.get(..16)?.try_into().ok()?;
        let flags = if icmp_type == NEIGHBOR_ADVERTISEMENT { rest[0] & 0xe0 } else { 0 };
        let mut options = &body[16..];
        let mut link_addr = None;
        // Each option: type, length in units of 8 bytes (never 0), data.
        while let [kind, units, ..] = *options {
            let len = usize::from(units) * 8;
            if len == 0 || len > options.len() {
                break;
            }
            if kind == wanted && len >= 8 {
                link_addr = options[2..8].try_into().ok().map(Mac);
            }
            options = &options[len..];
        }
        Some(Nd { icmp_type, target: target.into(), flags, link_addr })
    }
}

/// An ND body: the target address, then one link-layer address option.
fn body(target: Ipv6Addr, option: u8, mac: Mac) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&target.octets());
    out[16] = option;
    out[17] = 1;
    out[18..].copy_from_slice(&mac.0);
    out
}

fn nd_frame(eth: EthernetSpec, src: Ipv6Addr, dst: Ipv6Addr, icmp: IcmpSpec<'_>) -> Vec<u8> {
    let ip = IpSpec::V6(Ipv6Spec { src, dst, hop_limit: ND_HOP_LIMIT, traffic_class: 0, flow_label: 0 });
    build_frame(&eth, &ip, &L4Spec::Icmp(icmp)).expect("a 32-byte ICMPv6 body always fits")
}

/// A Neighbor Solicitation from `src_mac`/`src_ip` asking for `target`'s
/// link-layer address, sent to the target's solicited-node group with the
/// source link-layer address option.
pub fn build_neighbor_solicitation(src_mac: Mac, src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let payload = body(target, OPT_SOURCE_LINK, src_mac);
    let icmp = IcmpSpec { icmp_type: NEIGHBOR_SOLICITATION, code: 0, rest: [0; 4], payload: &payload };
    nd_frame(EthernetSpec { src: src_mac, dst: multicast_mac(group) }, src_ip, group, icmp)
}

/// A solicited Neighbor Advertisement (solicited and override flags set)
/// telling `dst_mac`/`dst_ip` that `target` is at `src_mac`, with the target
/// link-layer address option. `src_ip` is normally `target` itself.
pub fn build_neighbor_advertisement(
    src_mac: Mac,
    src_ip: Ipv6Addr,
    dst_mac: Mac,
    dst_ip: Ipv6Addr,
    target: Ipv6Addr,
) -> Vec<u8> {
    let payload = body(target, OPT_TARGET_LINK, src_mac);
    let rest = [na_flags::SOLICITED | na_flags::OVERRIDE, 0, 0, 0];
    let icmp = IcmpSpec { icmp_type: NEIGHBOR_ADVERTISEMENT, code: 0, rest, payload: &payload };
    nd_frame(EthernetSpec { src: src_mac, dst: dst_mac }, src_ip, dst_ip, icmp)
}

/// The Neighbor Advertisement that answers `frame` when it is a valid
/// solicitation (ICMPv6 checksum right, hop limit 255, RFC 4861 section
/// 7.1.1) for one of `ours`: from `our_mac` and the asked-for address to the
/// solicitor's address and link-layer address (its source link-layer option,
/// else the frame's source MAC). `None` for anything else, and for duplicate
/// address detection probes (source `::`): an address someone else is
/// claiming is not defended.
///
/// This is how a scan answers for a source address the kernel does not own
/// (a spoofed `-S`), so that replies to it still find the scanner.
pub fn answer_solicitation(frame: &Frame, our_mac: Mac, ours: &[Ipv6Addr]) -> Option<Vec<u8>> {
    let ip = frame.ip()?;
    let Transport::Icmp(icmp) = ip.transport else { return None };
    let nd = icmp.nd.filter(|nd| nd.is_solicitation())?;
    let IpAddr::V6(solicitor) = ip.header.src else { return None };
    if !icmp.checksum_ok || ip.header.ttl != ND_HOP_LIMIT || solicitor.is_unspecified() {
        return None;
    }
    if !ours.contains(&nd.target) {
        return None;
    }
    let dst_mac = nd.link_addr.or(frame.link.src_mac)?;
    Some(build_neighbor_advertisement(our_mac, nd.target, dst_mac, solicitor, nd.target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_group_and_its_mac() {
        let addr: Ipv6Addr = "2001:2::12:3456".parse().unwrap();
        assert_eq!(solicited_node(addr), "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(solicited_node(addr)), Mac([0x33, 0x33, 0xff, 0x12, 0x34, 0x56]));
    }

    #[test]
    fn options_walk_stops_at_zero_length_and_overrun() {
        let target = [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let mut b = target.to_vec();
        b.extend([1, 0, 1, 2, 3, 4, 5, 6]); // zero length: walk ends
        assert_eq!(Nd::parse(135, 0, [0; 4], &b).unwrap().link_addr, None);
        let mut b = target.to_vec();
        b.extend([1, 2, 1, 2, 3, 4, 5, 6]); // claims 16 bytes, has 8
        assert_eq!(Nd::parse(135, 0, [0; 4], &b).unwrap().link_addr, None);
        let mut b = target.to_vec();
        b.extend([14, 1, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 7]); // nonce, then source link
        assert_eq!(Nd::parse(135, 0, [0; 4], &b).unwrap().link_addr, Some(Mac([2, 0, 0, 0, 0, 7])));
        assert_eq!(Nd::parse(135, 0, [0; 4], &target[..15]), None);
        assert_eq!(Nd::parse(135, 1, [0; 4], &b), None);
        assert_eq!(Nd::parse(128, 0, [0; 4], &b), None);
    }
}
