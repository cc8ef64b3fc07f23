//! The owned, `Copy` summary a received frame is parsed into once.
//!
//! It holds everything the prober and the fingerprinter read from a reply, so
//! nothing downstream touches the bytes again.

use crate::nd::Nd;
use crate::tcp::{TcpFlags, TcpOptions};
use crate::Mac;
use std::net::{IpAddr, Ipv4Addr};

/// How many payload bytes a summary keeps verbatim.
pub const PAYLOAD_PREFIX: usize = 48;

/// A payload's length, its first bytes, whether it is one repeated byte,
/// and the CRC-32 of all of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    len: u16,
    prefix: [u8; PAYLOAD_PREFIX],
    fill: Option<u8>,
    crc32: u32,
}

impl Payload {
    /// Summarises `bytes`.
    pub fn new(bytes: &[u8]) -> Payload {
        let kept = bytes.len().min(PAYLOAD_PREFIX);
        let mut prefix = [0; PAYLOAD_PREFIX];
        prefix[..kept].copy_from_slice(&bytes[..kept]);
        let fill = match bytes.split_first() {
            Some((&first, rest)) if rest.iter().all(|&b| b == first) => Some(first),
            _ => None,
        };
        let len = bytes.len().min(usize::from(u16::MAX)) as u16;
        Payload { len, prefix, fill, crc32: crate::checksum::crc32(bytes) }
    }

    /// Full length of the payload, including bytes not kept.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first [`PAYLOAD_PREFIX`] bytes (or all, when shorter).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..self.len().min(PAYLOAD_PREFIX)]
    }

    /// `Some(b)` when the payload is non-empty and every byte of it is `b`.
    pub fn fill(&self) -> Option<u8> {
        self.fill
    }

    /// CRC-32 of the whole payload, bytes past the kept prefix included
    /// (nmap's `RD`, see [`crate::checksum::crc32`]).
    pub fn crc32(&self) -> u32 {
        self.crc32
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::new(&[])
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes", self.len)?;
        if !self.is_empty() {
            write!(f, ": {:02x?}", self.prefix())?;
        }
        f.write_str(")")
    }
}

/// A parsed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub link: Link,
    pub net: Net,
}

impl Frame {
    /// The IP packet, if the frame carries one.
    pub fn ip(&self) -> Option<&IpPacket> {
        match &self.net {
            Net::Ip(ip) => Some(ip),
            _ => None,
        }
    }

    /// The TCP segment with its IP header, if the frame carries one.
    pub fn tcp(&self) -> Option<(&IpHeader, &Tcp)> {
        match self.ip()? {
            IpPacket { header, transport: Transport::Tcp(tcp) } => Some((header, tcp)),
            _ => None,
        }
    }
}

/// Link-layer addressing, when the link type has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// The outermost 802.1Q VLAN id.
    pub vlan: Option<u16>,
}

/// What the link layer carried.
///
/// Kept unboxed on purpose: the summary is `Copy` and lives on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Net {
    Ip(IpPacket),
    Arp(Arp),
    /// Another EtherType, left unparsed.
    Other {
        ether_type: u16,
    },
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub operation: u16,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

/// An IP packet: its header and what it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPacket {
    pub header: IpHeader,
    pub transport: Transport,
}

/// IP header fields of IPv4 or IPv6 (IPv6 lacks some; see each field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeader {
    /// 4 or 6.
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL, or the IPv6 hop limit.
    pub ttl: u8,
    /// Don't-fragment; always false for IPv6.
    pub df: bool,
    /// IPv4 identification, or the IPv6 fragment header's identification (else 0).
    pub id: u32,
    /// IPv4 total length as the header states it; for IPv6, 40 + payload length.
    pub total_len: u16,
    /// IPv4 TOS byte or IPv6 traffic class.
    pub tos: u8,
    /// The protocol of the payload (after any IPv6 extension headers).
    pub protocol: u8,
    /// IPv4 header checksum as received; 0 for IPv6.
    pub checksum: u16,
    /// IPv4 header checksum verifies (always true for IPv6, which has none).
    pub checksum_ok: bool,
    /// A fragment (more-fragments set or a non-zero offset).
    pub fragment: bool,
}

/// The transport layer of an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(Tcp),
    Udp(Udp),
    Icmp(Icmp),
    /// A non-first fragment or another protocol: not parsed.
    None,
}

/// A TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The four bits between the data offset and CWR.
    pub reserved: u8,
    pub window: u16,
    pub urgent: u16,
    pub checksum: u16,
    /// Checksum verifies over the pseudo-header and segment.
    pub checksum_ok: bool,
    /// Options in wire order, unknown kinds kept.
    pub options: TcpOptions,
    pub payload: Payload,
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    pub src_port: u16,
    pub dst_port: u16,
    /// The length field as received.
    pub length: u16,
    pub checksum: u16,
    /// Checksum verifies, or is absent (zero) over IPv4.
    pub checksum_ok: bool,
    pub payload: Payload,
}

/// An ICMPv4 or ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// True for ICMPv6.
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub checksum: u16,
    pub checksum_ok: bool,
    /// Header bytes 4..8: id and sequence for echoes, "unused" for errors.
    pub rest: [u8; 4],
    /// Everything after the 8-byte header.
    pub payload: Payload,
    /// For error messages, the offending packet's headers as quoted.
    pub quoted: Option<Quoted>,
    /// For ICMPv6 Neighbor Solicitations and Advertisements, their content.
    pub nd: Option<Nd>,
}

impl Icmp {
    /// Echo identifier (header bytes 4..6).
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.rest[0], self.rest[1]])
    }

    /// Echo sequence number (header bytes 6..8).
    pub fn seq(&self) -> u16 {
        u16::from_be_bytes([self.rest[2], self.rest[3]])
    }

    /// True for the message types that quote an offending packet.
    pub fn is_error(&self) -> bool {
        if self.v6 {
            (1..=4).contains(&self.icmp_type)
        } else {
            matches!(self.icmp_type, 3 | 4 | 5 | 11 | 12)
        }
    }

    /// True for an echo reply of either family (ICMP 0, ICMPv6 129).
    pub fn is_echo_reply(&self) -> bool {
        self.icmp_type == if self.v6 { 129 } else { 0 }
    }

    /// What an error message says, in terms common to ICMP and ICMPv6;
    /// `None` for messages that are not errors.
    pub fn error(&self) -> Option<IcmpError> {
        if !self.is_error() {
            return None;
        }
        let (t, code) = (self.icmp_type, self.code);
        Some(match (self.v6, t) {
            (false, 3) => IcmpError::Unreachable(match code {
                0 => Unreachable::Net,
                1 => Unreachable::Host,
                2 => Unreachable::Protocol,
                3 => Unreachable::Port,
                9 | 10 | 13 => Unreachable::AdminProhibited,
                _ => Unreachable::Other(code),
            }),
            (false, 11) | (true, 3) => IcmpError::TimeExceeded { code },
            (false, 12) => IcmpError::ParameterProblem { code, pointer: u32::from(self.rest[0]) },
            // RFC 4443 section 3.1 codes.
            (true, 1) => IcmpError::Unreachable(match code {
                0 => Unreachable::Net,
                1 => Unreachable::AdminProhibited,
                2 => Unreachable::BeyondScope,
                3 => Unreachable::Host,
                4 => Unreachable::Port,
                5 => Unreachable::SourcePolicy,
                6 => Unreachable::RejectRoute,
                _ => Unreachable::Other(code),
            }),
            (true, 2) => IcmpError::PacketTooBig { mtu: u32::from_be_bytes(self.rest) },
            (true, 4) => IcmpError::ParameterProblem { code, pointer: u32::from_be_bytes(self.rest) },
            _ => IcmpError::Other { icmp_type: t, code },
        })
    }
}

/// An ICMP or ICMPv6 error, family-neutral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    /// ICMP type 3 / ICMPv6 type 1.
    Unreachable(Unreachable),
    /// ICMPv6 type 2, with the next hop's MTU.
    PacketTooBig { mtu: u32 },
    /// ICMP type 11 / ICMPv6 type 3; code 0 is hop limit exceeded in transit.
    TimeExceeded { code: u8 },
    /// ICMP type 12 / ICMPv6 type 4, with the pointer to the bad octet.
    ParameterProblem { code: u8, pointer: u32 },
    /// Source quench, redirect.
    Other { icmp_type: u8, code: u8 },
}

/// Why a destination is unreachable, merged over ICMP and ICMPv6 codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// ICMP net unreachable (0) / ICMPv6 no route to destination (0).
    Net,
    /// ICMP host unreachable (1) / ICMPv6 address unreachable (3).
    Host,
    /// ICMP protocol unreachable (2); ICMPv6 has none (it uses parameter problem).
    Protocol,
    /// ICMP port unreachable (3) / ICMPv6 port unreachable (4).
    Port,
    /// ICMP codes 9, 10, 13 / ICMPv6 administratively prohibited (1).
    AdminProhibited,
    /// ICMPv6 beyond scope of source address (2).
    BeyondScope,
    /// ICMPv6 source address failed ingress/egress policy (5).
    SourcePolicy,
    /// ICMPv6 reject route to destination (6).
    RejectRoute,
    /// Any other code, as received.
    Other(u8),
}

/// The offending packet quoted in an ICMP error: often truncated after the
/// first 8 transport bytes, so every transport field is optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// The quoted IP header, fields as they were quoted (checksum_ok is
    /// computed over the quoted header).
    pub ip: IpHeader,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// TCP sequence number, when TCP and quoted.
    pub tcp_seq: Option<u32>,
    /// UDP length field, when UDP and quoted.
    pub udp_length: Option<u16>,
    /// UDP checksum field, when UDP and quoted.
    pub udp_checksum: Option<u16>,
    /// ICMP echo (type, code, id, seq), when an echo is quoted.
    pub icmp: Option<(u8, u8, u16, u16)>,
    /// The transport bytes after the first eight (a UDP probe's payload);
    /// for a later fragment (non-zero offset), which carries no transport
    /// header and leaves every transport field `None`, all the quoted data.
    pub data: Payload,
}
