//! Parses a received frame once into a [`Frame`] summary.
//!
//! Promises: any input, however short, long or malformed, returns either a
//! summary or a [`ParseError`] naming the layer and byte offset of the
//! trouble; it never panics. The offending packet quoted in an ICMP error is
//! parsed leniently, since routers routinely truncate it.

use crate::checksum::{checksum, transport_checksum};
use crate::nd::Nd;
use crate::summary::*;
use crate::tcp::{TcpFlags, TcpOptions};
use crate::Mac;
use etherparse::err::packet::SliceError;
use etherparse::{
    ArpOperation, EtherType, Icmpv4Slice, Icmpv6Slice, IpNumber, LaxNetSlice, LaxSlicedPacket, LinkSlice,
    NetSlice, SlicedPacket, TransportSlice,
};
use std::fmt;
use std::net::Ipv4Addr;

/// The link types libpcap hands scry (DLT numbers from pcap-linktype(7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, also Linux `lo`.
    Ethernet,
    /// DLT_LINUX_SLL: the 16-byte "cooked" header of the `any` device.
    LinuxSll,
    /// DLT_LINUX_SLL2: the 20-byte cooked header.
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW: a bare IP packet.
    RawIp,
    /// DLT_NULL / DLT_LOOP: a 4-byte address family, then IP.
    Null,
}

impl LinkType {
    /// Maps a libpcap DLT number; `None` for link types scry cannot read.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            12 | 14 | 101 => Some(LinkType::RawIp),
            0 | 108 => Some(LinkType::Null),
            _ => None,
        }
    }
}

/// A protocol layer, for error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Link,
    Vlan,
    Arp,
    Ipv4,
    Ipv6,
    IpExtension,
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Layer::Link => "link header",
            Layer::Vlan => "VLAN tag",
            Layer::Arp => "ARP",
            Layer::Ipv4 => "IPv4 header",
            Layer::Ipv6 => "IPv6 header",
            Layer::IpExtension => "IP extension header",
            Layer::Tcp => "TCP header",
            Layer::Udp => "UDP header",
            Layer::Icmpv4 => "ICMPv4 header",
            Layer::Icmpv6 => "ICMPv6 header",
        };
        f.write_str(name)
    }
}

/// What was wrong with a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The layer needs `need` bytes from its start; `have` remain.
    Truncated { need: usize, have: usize },
    /// A header field is impossible; the text says which (from etherparse).
    Malformed(String),
}

/// A frame that could not be parsed: the layer, the byte offset where that
/// layer starts in the frame, and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{layer} at byte {offset}: {problem}")]
pub struct ParseError {
    pub layer: Layer,
    pub offset: usize,
    pub problem: Problem,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Truncated { need, have } => write!(f, "truncated: needs {need} bytes, {have} present"),
            Problem::Malformed(what) => f.write_str(what),
        }
    }
}

const LINUX_SLL2_LEN: usize = 20;
const NULL_LEN: usize = 4;

/// Parses a frame of link type `link`.
///
/// # Errors
/// A [`ParseError`] when a header is truncated or impossible.
pub fn parse_frame(link: LinkType, data: &[u8]) -> Result<Frame, ParseError> {
    let truncated = |need| ParseError {
        layer: Layer::Link,
        offset: 0,
        problem: Problem::Truncated { need, have: data.len() },
    };
    let (sliced, base) = match link {
        LinkType::Ethernet => (SlicedPacket::from_ethernet(data), 0),
        LinkType::LinuxSll => (SlicedPacket::from_linux_sll(data), 0),
        LinkType::RawIp => (SlicedPacket::from_ip(data), 0),
        LinkType::Null => {
            let rest = data.get(NULL_LEN..).ok_or_else(|| truncated(NULL_LEN))?;
            (SlicedPacket::from_ip(rest), NULL_LEN)
        }
        LinkType::LinuxSll2 => {
            let rest = data.get(LINUX_SLL2_LEN..).ok_or_else(|| truncated(LINUX_SLL2_LEN))?;
            let ether_type = EtherType(u16::from_be_bytes([data[0], data[1]]));
            (SlicedPacket::from_ether_type(ether_type, rest), LINUX_SLL2_LEN)
        }
    };
    let sliced = sliced.map_err(|e| slice_error(e, data, base))?;
    summarise(&sliced)
}

fn summarise(sliced: &SlicedPacket<'_>) -> Result<Frame, ParseError> {
    let mut link = Link::default();
    let mut ether_type = None;
    match &sliced.link {
        Some(LinkSlice::Ethernet2(eth)) => {
            link.src_mac = Some(Mac(eth.source()));
            link.dst_mac = Some(Mac(eth.destination()));
            ether_type = Some(eth.ether_type());
        }
        Some(LinkSlice::LinuxSll(sll)) => {
            let addr = sll.sender_address();
            if let Ok(mac) = <[u8; 6]>::try_from(addr) {
                link.src_mac = Some(Mac(mac));
            }
        }
        _ => {}
    }
    link.vlan = sliced.vlan_ids().first().map(|id| id.value());
    if let Some(payload_type) = sliced.payload_ether_type() {
        ether_type = Some(payload_type);
    }
    let net = match &sliced.net {
        Some(NetSlice::Arp(arp)) => arp_summary(arp).unwrap_or(Net::Other { ether_type: EtherType::ARP.0 }),
        Some(NetSlice::Ipv4(_)) | Some(NetSlice::Ipv6(_)) => {
            let header = ip_header(sliced.net.as_ref().expect("matched Some"));
            let transport = match &sliced.transport {
                Some(t) => transport(&header, t),
                None => Transport::None,
            };
            Net::Ip(IpPacket { header, transport })
        }
        None => Net::Other { ether_type: ether_type.map_or(0, |t| t.0) },
    };
    Ok(Frame { link, net })
}

fn arp_summary(arp: &etherparse::ArpPacketSlice<'_>) -> Option<Net> {
    let ip = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
    let mac = |b: &[u8]| <[u8; 6]>::try_from(b).ok().map(Mac);
    let op: ArpOperation = arp.operation();
    Some(Net::Arp(Arp {
        operation: op.0,
        sender_mac: mac(arp.sender_hw_addr())?,
        sender_ip: ip(arp.sender_protocol_addr())?,
        target_mac: mac(arp.target_hw_addr())?,
        target_ip: ip(arp.target_protocol_addr())?,
    }))
}

fn ip_header(net: &NetSlice<'_>) -> IpHeader {
    match net {
        NetSlice::Ipv4(v4) => v4_header(&v4.header(), v4.payload().ip_number),
        NetSlice::Ipv6(v6) => v6_header(&v6.header(), v6.extensions(), v6.payload().ip_number),
        NetSlice::Arp(_) => unreachable!("ip_header is only called for IP"),
    }
}

fn v4_header(h: &etherparse::Ipv4HeaderSlice<'_>, protocol: IpNumber) -> IpHeader {
    IpHeader {
        version: 4,
        src: h.source_addr().into(),
        dst: h.destination_addr().into(),
        ttl: h.ttl(),
        df: h.dont_fragment(),
        id: u32::from(h.identification()),
        total_len: h.total_len(),
        tos: h.slice()[1],
        protocol: protocol.0,
        checksum: h.header_checksum(),
        checksum_ok: checksum(h.slice()) == 0,
        fragment: h.more_fragments() || h.fragments_offset().value() != 0,
    }
}

fn v6_header(
    h: &etherparse::Ipv6HeaderSlice<'_>,
    exts: &etherparse::Ipv6ExtensionsSlice<'_>,
    protocol: IpNumber,
) -> IpHeader {
    let (id, fragment, _) = v6_fragment(exts);
    IpHeader {
        version: 6,
        src: h.source_addr().into(),
        dst: h.destination_addr().into(),
        ttl: h.hop_limit(),
        df: false,
        id,
        total_len: h.payload_length().saturating_add(40),
        tos: h.traffic_class(),
        protocol: protocol.0,
        checksum: 0,
        checksum_ok: true,
        fragment,
    }
}

/// The identification and offset (in 8-byte units) of the fragment header
/// among `exts`, and whether there is one.
///
/// Walks the headers with etherparse's checked slicers instead of its
/// `Ipv6ExtensionsSlice` iterator: the iterator trusts that the header each
/// one names next is inside the slice, which is false for the lax slicing of
/// a truncated packet quoted in an ICMPv6 error, and it then reads past the
/// slice (found by the `frame` fuzz target).
fn v6_fragment(exts: &etherparse::Ipv6ExtensionsSlice<'_>) -> (u32, bool, u16) {
    use etherparse::{ip_number, IpAuthHeaderSlice, Ipv6FragmentHeaderSlice, Ipv6RawExtHeaderSlice};
    let (mut next, mut rest) = (exts.first_header(), exts.slice());
    while let Some(kind) = next {
        let (len, after) = match kind {
            ip_number::IPV6_FRAG => {
                return Ipv6FragmentHeaderSlice::from_slice(rest).map_or((0, false, 0), |frag| {
                    (frag.identification(), true, frag.fragment_offset().value())
                });
            }
            ip_number::IPV6_HOP_BY_HOP | ip_number::IPV6_ROUTE | ip_number::IPV6_DEST_OPTIONS => {
                match Ipv6RawExtHeaderSlice::from_slice(rest) {
                    Ok(h) => (h.slice().len(), h.next_header()),
                    Err(_) => break,
                }
            }
            ip_number::AUTH => match IpAuthHeaderSlice::from_slice(rest) {
                Ok(h) => (h.slice().len(), h.next_header()),
                Err(_) => break,
            },
            _ => break,
        };
        rest = &rest[len..];
        next = Some(after);
    }
    (0, false, 0)
}

fn transport(ip: &IpHeader, t: &TransportSlice<'_>) -> Transport {
    match t {
        TransportSlice::Tcp(tcp) => {
            let header = tcp.header_slice();
            Transport::Tcp(Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags(header[crate::layout::TCP::FLAGS]),
                reserved: header[crate::layout::TCP::DATA_OFFSET] & 0x0f,
                window: tcp.window_size(),
                urgent: tcp.urgent_pointer(),
                checksum: tcp.checksum(),
                checksum_ok: transport_checksum(ip.src, ip.dst, IpNumber::TCP.0, tcp.slice()) == 0,
                options: TcpOptions::from_bytes(tcp.options()),
                payload: Payload::new(tcp.payload()),
            })
        }
        TransportSlice::Udp(udp) => Transport::Udp(Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            length: udp.length(),
            checksum: udp.checksum(),
            checksum_ok: (udp.checksum() == 0 && ip.version == 4)
                || transport_checksum(ip.src, ip.dst, IpNumber::UDP.0, udp.slice()) == 0,
            payload: Payload::new(udp.payload()),
        }),
        TransportSlice::Icmpv4(icmp) => Transport::Icmp(icmpv4(icmp)),
        TransportSlice::Icmpv6(icmp) => Transport::Icmp(icmpv6(ip, icmp)),
        TransportSlice::Igmp(_) => Transport::None,
    }
}

fn icmpv4(icmp: &Icmpv4Slice<'_>) -> Icmp {
    let header = [icmp.type_u8(), icmp.code_u8()];
    icmp_summary(
        false,
        header,
        icmp.checksum(),
        checksum(icmp.slice()) == 0,
        icmp.bytes5to8(),
        icmp.payload(),
    )
}

fn icmpv6(ip: &IpHeader, icmp: &Icmpv6Slice<'_>) -> Icmp {
    let header = [icmp.type_u8(), icmp.code_u8()];
    let ok = transport_checksum(ip.src, ip.dst, IpNumber::IPV6_ICMP.0, icmp.slice()) == 0;
    icmp_summary(true, header, icmp.checksum(), ok, icmp.bytes5to8(), icmp.payload())
}

fn icmp_summary(
    v6: bool,
    [icmp_type, code]: [u8; 2],
    sum: u16,
    ok: bool,
    rest: [u8; 4],
    payload: &[u8],
) -> Icmp {
    let mut out = Icmp {
        v6,
        icmp_type,
        code,
        checksum: sum,
        checksum_ok: ok,
        rest,
        payload: Payload::new(payload),
        quoted: None,
        nd: None,
    };
    if out.is_error() {
        out.quoted = quoted(payload);
    } else if v6 {
        out.nd = Nd::parse(icmp_type, code, rest, payload);
    }
    out
}

/// Leniently parses the packet an ICMP error quotes; `None` when not even
/// its IP header is there.
fn quoted(data: &[u8]) -> Option<Quoted> {
    let lax = LaxSlicedPacket::from_ip(data).ok()?;
    // A later fragment (non-zero offset) quotes data, not a transport header.
    let (ip, payload, later_fragment) = match lax.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let payload = v4.payload();
            let later = v4.header().fragments_offset().value() != 0;
            (v4_header(&v4.header(), payload.ip_number), payload.payload, later)
        }
        LaxNetSlice::Ipv6(v6) => {
            let payload = v6.payload();
            let later = v6_fragment(v6.extensions()).2 != 0;
            (v6_header(&v6.header(), v6.extensions(), payload.ip_number), payload.payload, later)
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let word = |at: usize| payload.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut q = Quoted {
        ip,
        src_port: None,
        dst_port: None,
        tcp_seq: None,
        udp_length: None,
        udp_checksum: None,
        icmp: None,
        data: Payload::new(payload.get(8..).unwrap_or(&[])),
    };
    if later_fragment {
        q.data = Payload::new(payload);
        return Some(q);
    }
    match IpNumber(ip.protocol) {
        IpNumber::TCP => {
            q.src_port = word(0);
            q.dst_port = word(2);
            q.tcp_seq = payload.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
        IpNumber::UDP => {
            q.src_port = word(0);
            q.dst_port = word(2);
            q.udp_length = word(4);
            q.udp_checksum = word(6);
        }
        IpNumber::ICMP | IpNumber::IPV6_ICMP => {
            if let (Some(&[t, c]), Some(id), Some(seq)) =
                (payload.get(0..2).map(|b| [b[0], b[1]]).as_ref(), word(4), word(6))
            {
                q.icmp = Some((t, c, id, seq));
            }
        }
        _ => {}
    }
    Some(q)
}

/// Maps an etherparse slicing error to the layer and absolute offset.
fn slice_error(err: SliceError, data: &[u8], base: usize) -> ParseError {
    use etherparse::err::Layer as L;
    let ip_start = base + link_len(data, base);
    let ip_header_len = data.get(ip_start).filter(|b| *b >> 4 == 4).map_or(40, |b| usize::from(b & 0x0f) * 4);
    let at = |layer, offset, problem| ParseError { layer, offset, problem };
    match err {
        SliceError::Len(len) => {
            let layer = match len.layer {
                L::Ethernet2Header | L::LinuxSllHeader | L::EtherPayload => Layer::Link,
                L::VlanHeader | L::MacsecHeader | L::MacsecPacket => Layer::Vlan,
                L::Ipv4Header | L::Ipv4Packet => Layer::Ipv4,
                L::Ipv6Header | L::Ipv6Packet => Layer::Ipv6,
                L::TcpHeader => Layer::Tcp,
                L::UdpHeader | L::UdpPayload => Layer::Udp,
                L::Icmpv4 | L::Icmpv4Timestamp | L::Icmpv4TimestampReply => Layer::Icmpv4,
                L::Icmpv6 => Layer::Icmpv6,
                L::Arp => Layer::Arp,
                L::IpHeader => {
                    if data.get(ip_start).is_some_and(|b| b >> 4 == 6) {
                        Layer::Ipv6
                    } else {
                        Layer::Ipv4
                    }
                }
                _ => Layer::IpExtension,
            };
            at(
                layer,
                base + len.layer_start_offset,
                Problem::Truncated { need: len.required_len, have: len.len },
            )
        }
        SliceError::LinuxSll(e) => at(Layer::Link, base, Problem::Malformed(e.to_string())),
        SliceError::Macsec(e) => at(Layer::Vlan, base, Problem::Malformed(e.to_string())),
        SliceError::Ip(e) => {
            let layer =
                if data.get(ip_start).is_some_and(|b| b >> 4 == 6) { Layer::Ipv6 } else { Layer::Ipv4 };
            at(layer, ip_start, Problem::Malformed(e.to_string()))
        }
        SliceError::Ipv4(e) => at(Layer::Ipv4, ip_start, Problem::Malformed(e.to_string())),
        SliceError::Ipv6(e) => at(Layer::Ipv6, ip_start, Problem::Malformed(e.to_string())),
        SliceError::Ipv4Exts(e) => {
            at(Layer::IpExtension, ip_start + ip_header_len, Problem::Malformed(e.to_string()))
        }
        SliceError::Ipv6Exts(e) => at(Layer::IpExtension, ip_start + 40, Problem::Malformed(e.to_string())),
        SliceError::Tcp(e) => at(Layer::Tcp, ip_start + ip_header_len, Problem::Malformed(e.to_string())),
    }
}

/// Length of the link header at `data[base..]` as far as it can be told
/// (Ethernet II plus any VLAN tags; the cooked/null headers are already in
/// `base`).
fn link_len(data: &[u8], base: usize) -> usize {
    if base != 0 {
        return 0;
    }
    let mut at = 12;
    let mut len = 14;
    while let Some(t) = data.get(at..at + 2) {
        match u16::from_be_bytes([t[0], t[1]]) {
            0x8100 | 0x88a8 | 0x9100 => {
                at += 4;
                len += 4;
            }
            _ => break,
        }
    }
    len
}
