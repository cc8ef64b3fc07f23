//! Probe builders: Ethernet II, ARP, IPv4/IPv6, TCP, UDP and ICMP echo.
//!
//! Every field an OS probe may need to set is choosable, including the TCP
//! reserved bits, the urgent pointer and an ordered option list. Link and IP
//! headers are written by etherparse; the transport headers are written here,
//! because etherparse's TCP header cannot carry reserved bits, arbitrary option
//! kinds or an ICMP echo code other than zero.

use crate::checksum::{checksum, transport_checksum};
use crate::tcp::{TcpFlags, TcpOption, MAX_OPTIONS_LEN};
use crate::Mac;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IpDscp, IpEcn, IpNumber, Ipv4Header,
    Ipv6FlowLabel, Ipv6Header,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a probe could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("TCP options take {0} bytes; a TCP header holds at most {MAX_OPTIONS_LEN}")]
    OptionsTooLong(usize),
    #[error("TCP option kind {kind} carries {len} data bytes; at most 38 fit")]
    OptionTooLong { kind: u8, len: usize },
    #[error("{layer} payload of {len} bytes does not fit the {layer} length field")]
    PayloadTooLong { layer: &'static str, len: usize },
    #[error("source {src} and destination {dst} are not the same IP version")]
    MixedVersions { src: IpAddr, dst: IpAddr },
    #[error("IPv4 flow needs {what}, which only IPv6 has")]
    NotIpv4 { what: &'static str },
}

/// Ethernet II addressing for a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetSpec {
    pub src: Mac,
    pub dst: Mac,
}

/// IPv4 header fields a probe chooses; length, protocol and checksum are derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Spec {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub id: u16,
    pub df: bool,
    /// The whole TOS byte: DSCP in the upper six bits, ECN in the lower two.
    pub tos: u8,
}

/// IPv6 header fields a probe chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Spec {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// Only the low 20 bits are used.
    pub flow_label: u32,
}

/// The network layer of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpSpec {
    V4(Ipv4Spec),
    V6(Ipv6Spec),
}

impl IpSpec {
    /// A header with common defaults (TTL/hop limit 64, no DF, ID 0) for `src` → `dst`.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when the two addresses differ in version.
    pub fn new(src: IpAddr, dst: IpAddr) -> Result<IpSpec, BuildError> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                Ok(IpSpec::V4(Ipv4Spec { src, dst, ttl: 64, id: 0, df: false, tos: 0 }))
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                Ok(IpSpec::V6(Ipv6Spec { src, dst, hop_limit: 64, traffic_class: 0, flow_label: 0 }))
            }
            _ => Err(BuildError::MixedVersions { src, dst }),
        }
    }

    pub fn src(&self) -> IpAddr {
        match self {
            IpSpec::V4(h) => h.src.into(),
            IpSpec::V6(h) => h.src.into(),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match self {
            IpSpec::V4(h) => h.dst.into(),
            IpSpec::V6(h) => h.dst.into(),
        }
    }

    /// Length of the IP header this spec writes.
    pub fn header_len(&self) -> usize {
        match self {
            IpSpec::V4(_) => Ipv4Header::MIN_LEN,
            IpSpec::V6(_) => Ipv6Header::LEN,
        }
    }
}

/// A TCP segment with every header field choosable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSpec<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The four bits between the data offset and CWR (the last one once was NS).
    pub reserved: u8,
    pub window: u16,
    pub urgent: u16,
    /// Written in this order, then padded with EOL to a 4-byte boundary.
    pub options: &'a [TcpOption<'a>],
    pub payload: &'a [u8],
}

impl Default for TcpSpec<'_> {
    fn default() -> Self {
        TcpSpec {
            src_port: 0,
            dst_port: 0,
            seq: 0,
            ack: 0,
            flags: TcpFlags::NONE,
            reserved: 0,
            window: 0,
            urgent: 0,
            options: &[],
            payload: &[],
        }
    }
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpSpec<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// An ICMP (v4 type 8) or ICMPv6 (type 128) echo request with any code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpEchoSpec<'a> {
    pub code: u8,
    pub id: u16,
    pub seq: u16,
    pub payload: &'a [u8],
}

/// Any ICMP or ICMPv6 message: type, code, header bytes 4..8, then a body.
/// Timestamp requests (RFC 792 type 13) and test replies use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpSpec<'a> {
    pub icmp_type: u8,
    pub code: u8,
    /// Header bytes 4..8: id and sequence, or "unused".
    pub rest: [u8; 4],
    pub payload: &'a [u8],
}

/// The transport layer of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Spec<'a> {
    Tcp(TcpSpec<'a>),
    Udp(UdpSpec<'a>),
    IcmpEcho(IcmpEchoSpec<'a>),
    Icmp(IcmpSpec<'a>),
}

/// TCP header length for `options`, padded to whole 32-bit words.
///
/// # Errors
/// [`BuildError::OptionsTooLong`] past 40 option bytes.
pub fn tcp_header_len(options: &[TcpOption<'_>]) -> Result<usize, BuildError> {
    let raw: usize = options.iter().map(TcpOption::wire_len).sum();
    let padded = raw.div_ceil(4) * 4;
    if padded > MAX_OPTIONS_LEN {
        return Err(BuildError::OptionsTooLong(raw));
    }
    Ok(20 + padded)
}

fn write_tcp(spec: &TcpSpec<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
    if let Some(TcpOption::Other { kind, data }) =
        spec.options.iter().find(|o| matches!(o, TcpOption::Other { data, .. } if data.len() > 38))
    {
        return Err(BuildError::OptionTooLong { kind: *kind, len: data.len() });
    }
    let header_len = tcp_header_len(spec.options)?;
    let start = out.len();
    out.extend_from_slice(&spec.src_port.to_be_bytes());
    out.extend_from_slice(&spec.dst_port.to_be_bytes());
    out.extend_from_slice(&spec.seq.to_be_bytes());
    out.extend_from_slice(&spec.ack.to_be_bytes());
    out.push(((header_len / 4) as u8) << 4 | (spec.reserved & 0x0f));
    out.push(spec.flags.0);
    out.extend_from_slice(&spec.window.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&spec.urgent.to_be_bytes());
    spec.options.iter().for_each(|o| o.write(out));
    out.resize(start + header_len, 0);
    out.extend_from_slice(spec.payload);
    Ok(())
}

/// Where the transport checksum sits within each transport header.
pub(crate) fn checksum_offset(l4: &L4Spec<'_>) -> usize {
    match l4 {
        L4Spec::Tcp(_) => 16,
        L4Spec::Udp(_) => 6,
        L4Spec::IcmpEcho(_) | L4Spec::Icmp(_) => 2,
    }
}

fn protocol(l4: &L4Spec<'_>, v6: bool) -> IpNumber {
    match (l4, v6) {
        (L4Spec::Tcp(_), _) => IpNumber::TCP,
        (L4Spec::Udp(_), _) => IpNumber::UDP,
        (L4Spec::IcmpEcho(_) | L4Spec::Icmp(_), false) => IpNumber::ICMP,
        (L4Spec::IcmpEcho(_) | L4Spec::Icmp(_), true) => IpNumber::IPV6_ICMP,
    }
}

/// Writes the transport header and payload with its checksum filled in.
fn write_l4(ip: &IpSpec, l4: &L4Spec<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
    let start = out.len();
    let v6 = matches!(ip, IpSpec::V6(_));
    match l4 {
        L4Spec::Tcp(tcp) => write_tcp(tcp, out)?,
        L4Spec::Udp(udp) => {
            let len = u16::try_from(8 + udp.payload.len())
                .map_err(|_| BuildError::PayloadTooLong { layer: "UDP", len: udp.payload.len() })?;
            out.extend_from_slice(&udp.src_port.to_be_bytes());
            out.extend_from_slice(&udp.dst_port.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(udp.payload);
        }
        L4Spec::IcmpEcho(echo) => {
            out.extend_from_slice(&[if v6 { 128 } else { 8 }, echo.code, 0, 0]);
            out.extend_from_slice(&echo.id.to_be_bytes());
            out.extend_from_slice(&echo.seq.to_be_bytes());
            out.extend_from_slice(echo.payload);
        }
        L4Spec::Icmp(icmp) => {
            out.extend_from_slice(&[icmp.icmp_type, icmp.code, 0, 0]);
            out.extend_from_slice(&icmp.rest);
            out.extend_from_slice(icmp.payload);
        }
    }
    let segment = &out[start..];
    let sum = match l4 {
        // ICMPv4 has no pseudo-header (RFC 792).
        L4Spec::IcmpEcho(_) | L4Spec::Icmp(_) if !v6 => checksum(segment),
        _ => {
            let sum = transport_checksum(ip.src(), ip.dst(), protocol(l4, v6).0, segment);
            // A computed UDP checksum of zero is sent as all ones (RFC 768).
            if sum == 0 && matches!(l4, L4Spec::Udp(_)) {
                0xffff
            } else {
                sum
            }
        }
    };
    let at = start + checksum_offset(l4);
    out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

fn write_ip_header(
    ip: &IpSpec,
    protocol: IpNumber,
    l4_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), BuildError> {
    let too_long = || BuildError::PayloadTooLong { layer: "IP", len: l4_len };
    match ip {
        IpSpec::V4(h) => {
            let mut header = Ipv4Header::new(
                u16::try_from(l4_len).map_err(|_| too_long())?,
                h.ttl,
                protocol,
                h.src.octets(),
                h.dst.octets(),
            )
            .map_err(|_| too_long())?;
            header.identification = h.id;
            header.dont_fragment = h.df;
            header.dscp = IpDscp::try_new(h.tos >> 2).expect("six bits always fit a DSCP");
            header.ecn = IpEcn::try_new(h.tos & 0b11).expect("two bits always fit an ECN");
            header.header_checksum = header.calc_header_checksum();
            out.extend_from_slice(&header.to_bytes());
        }
        IpSpec::V6(h) => {
            let header = Ipv6Header {
                traffic_class: h.traffic_class,
                flow_label: Ipv6FlowLabel::try_new(h.flow_label & 0xf_ffff)
                    .expect("20 bits always fit a flow label"),
                payload_length: u16::try_from(l4_len).map_err(|_| too_long())?,
                next_header: protocol,
                hop_limit: h.hop_limit,
                source: h.src.octets(),
                destination: h.dst.octets(),
            };
            out.extend_from_slice(&header.to_bytes());
        }
    }
    Ok(())
}

/// Builds an IP packet (no link header) carrying `l4`.
///
/// # Errors
/// Options or payloads too long for their length fields.
pub fn build_ip(ip: &IpSpec, l4: &L4Spec<'_>) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::with_capacity(128);
    append_ip(ip, l4, &mut out)?;
    Ok(out)
}

/// Builds an Ethernet II frame carrying an IP packet.
///
/// # Errors
/// As [`build_ip`].
pub fn build_frame(eth: &EthernetSpec, ip: &IpSpec, l4: &L4Spec<'_>) -> Result<Vec<u8>, BuildError> {
    let ether_type = match ip {
        IpSpec::V4(_) => EtherType::IPV4,
        IpSpec::V6(_) => EtherType::IPV6,
    };
    let mut out = Vec::with_capacity(128);
    let header = Ethernet2Header { source: eth.src.0, destination: eth.dst.0, ether_type };
    out.extend_from_slice(&header.to_bytes());
    append_ip(ip, l4, &mut out)?;
    Ok(out)
}

fn append_ip(ip: &IpSpec, l4: &L4Spec<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
    let v6 = matches!(ip, IpSpec::V6(_));
    let ip_start = out.len();
    // Reserve the IP header, write the transport after it, then fill the header in.
    out.resize(ip_start + ip.header_len(), 0);
    write_l4(ip, l4, out)?;
    let l4_len = out.len() - ip_start - ip.header_len();
    let mut header = Vec::with_capacity(ip.header_len());
    write_ip_header(ip, protocol(l4, v6), l4_len, &mut header)?;
    out[ip_start..ip_start + ip.header_len()].copy_from_slice(&header);
    Ok(())
}

/// Builds a broadcast ARP request asking who has `target`.
pub fn build_arp_request(src_mac: Mac, src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let eth =
        Ethernet2Header { source: src_mac.0, destination: Mac::BROADCAST.0, ether_type: EtherType::ARP };
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &src_mac.0,
        &src_ip.octets(),
        &[0; 6],
        &target.octets(),
    )
    .expect("Ethernet/IPv4 address lengths always fit an ARP packet");
    let mut out = Vec::with_capacity(Ethernet2Header::LEN + arp.packet_len());
    out.extend_from_slice(&eth.to_bytes());
    out.extend_from_slice(&arp.to_bytes());
    out
}
