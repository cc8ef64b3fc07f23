//! The TCP SYN probe: half-open scanning with stateless validation.
//!
//! Every SYN uses the window and option layout of nmap's first OS-detection
//! probe (Nmap book, "TCP/IP Fingerprinting Methods": window 1; WS 10, NOP,
//! MSS 1460, TS 0xFFFFFFFF/0, SACK permitted), so each SYN-ACK a scan receives
//! is also a T1/O1/W1 sample for OS guessing. The sequence number is the
//! flow's cookie; a reply counts only if it acknowledges it.

use crate::cookie::{CookieKey, Flow, ProbeKind};
use crate::results::PortResult;
use crate::state::{PortState, Reason};
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{
    BuildError, EthernetSpec, Frame, Icmp, IpHeader, IpSpec, Mac, Net, Quoted, TcpFlags, TcpOption, TcpProbe,
    TcpSpec, TcpTemplate, Transport,
};
use std::net::IpAddr;

/// Options of nmap's first SEQ probe, in its order.
pub const SYN_OPTIONS: &[TcpOption<'static>] = &[
    TcpOption::WindowScale(10),
    TcpOption::Nop,
    TcpOption::Mss(1460),
    TcpOption::Timestamp { val: 0xffff_ffff, ecr: 0 },
    TcpOption::SackPermitted,
];

/// Window of nmap's first SEQ probe.
pub const SYN_WINDOW: u16 = 1;

/// What a received frame means to the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A validated answer about `port` on `host`.
    Port { host: IpAddr, port: u16, result: PortResult },
    /// Addressed to the scan but failing validation: forged, stale or corrupt.
    Invalid,
    /// Not for this scan at all.
    Unrelated,
}

/// A SYN scan's fixed parameters: our address, MAC and source port, and the key.
pub struct SynProbe {
    template: TcpTemplate,
    src: IpAddr,
    src_port: u16,
    key: CookieKey,
}

impl SynProbe {
    /// Prepares the SYN template.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] is impossible here; the error type is the builder's.
    pub fn new(
        src: IpAddr,
        src_mac: Mac,
        src_port: u16,
        ttl: u8,
        key: CookieKey,
    ) -> Result<SynProbe, BuildError> {
        let ip = ip_header(src, src, ttl, 0)?;
        let tcp = TcpSpec {
            src_port,
            flags: TcpFlags::SYN,
            window: SYN_WINDOW,
            options: SYN_OPTIONS,
            ..TcpSpec::default()
        };
        let template = TcpTemplate::new(&EthernetSpec { src: src_mac, dst: Mac::ZERO }, &ip, &tcp)?;
        Ok(SynProbe { template, src, src_port, key })
    }

    /// Length of every probe frame.
    pub fn frame_len(&self) -> usize {
        self.template.len()
    }

    /// The pcap-filter(7) expression selecting possible replies: TCP to our
    /// source port and ICMP errors, addressed to us.
    pub fn filter(&self) -> String {
        tcp_reply_filter(self.src, self.src_port)
    }

    /// Writes the SYN for `dst:port` via next hop `dst_mac` into `out` and
    /// returns its length.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when `dst` is not of our address's version.
    pub fn write(
        &self,
        dst: IpAddr,
        port: u16,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        let seq = self.key.cookie(&Flow::new(self.src, dst, self.src_port, port), ProbeKind::TCP_SYN);
        let n = self
            .template
            .write(&TcpProbe { dst, src_port: self.src_port, dst_port: port, seq, ip_id }, out)?;
        out[..6].copy_from_slice(&dst_mac.0);
        debug_assert!(n > ETHERNET_LEN);
        Ok(n)
    }

    /// Classifies a parsed frame.
    pub fn classify(&self, frame: &Frame) -> Verdict {
        let Some((ip, transport)) = addressed_to(frame, self.src) else { return Verdict::Unrelated };
        match transport {
            Transport::Tcp(tcp) => {
                if tcp.dst_port != self.src_port {
                    return Verdict::Unrelated;
                }
                // The TCP checksum is not checked: captures on veth and
                // loopback carry the partial checksum of checksum offload,
                // so the cookie is the test. The IPv4 header checksum is
                // always computed in software and must hold.
                if !ip.checksum_ok {
                    return Verdict::Invalid;
                }
                let reply = Flow::new(ip.src, ip.dst, tcp.src_port, tcp.dst_port);
                let kind = ProbeKind::TCP_SYN;
                let (state, reason) = if tcp.flags.contains(TcpFlags::RST) {
                    if !self.key.check_rst(&reply, kind, tcp.ack) {
                        return Verdict::Invalid;
                    }
                    (PortState::Closed, Reason::Reset)
                } else if tcp.flags.contains(TcpFlags::SYN | TcpFlags::ACK) {
                    if !self.key.check_syn_ack(&reply, kind, tcp.ack) {
                        return Verdict::Invalid;
                    }
                    (PortState::Open, Reason::SynAck)
                } else {
                    return Verdict::Invalid;
                };
                Verdict::Port {
                    host: ip.src,
                    port: tcp.src_port,
                    result: PortResult { state, reason, ttl: ip.ttl },
                }
            }
            Transport::Icmp(icmp) => {
                tcp_icmp_verdict(ip, icmp, (self.src, self.src_port), &self.key, ProbeKind::TCP_SYN)
            }
            _ => Verdict::Unrelated,
        }
    }
}

/// The pcap-filter(7) expression selecting possible replies to TCP probes
/// from `src:src_port`: TCP to that port and ICMP errors, addressed to us.
pub(crate) fn tcp_reply_filter(src: IpAddr, src_port: u16) -> String {
    match src {
        IpAddr::V4(src) => format!("dst host {src} and ((tcp and dst port {src_port}) or {ICMP_ERRORS})"),
        // libpcap's tcp and icmp6 stop at the first IPv6 extension header:
        // every IPv6 packet to us passes, and the parser walks past them.
        IpAddr::V6(src) => format!("ip6 dst host {src}"),
    }
}

/// What an ICMP error means to a TCP scan sending from `(src, src_port)`
/// with cookies of `kind` in its sequence numbers: the probe it quotes must
/// carry its cookie; destination unreachable with one of
/// [`Reason::FILTERING_UNREACHABLE_CODES`] or time exceeded mark the port
/// filtered, as nmap reads them for every TCP scan type.
pub(crate) fn tcp_icmp_verdict(
    ip: &IpHeader,
    icmp: &Icmp,
    (src, src_port): (IpAddr, u16),
    key: &CookieKey,
    kind: ProbeKind,
) -> Verdict {
    let (q, reason) = match icmp_error(ip, icmp) {
        Some(Ok(quoted)) => quoted,
        Some(Err(verdict)) => return verdict,
        None => return Verdict::Unrelated,
    };
    let (Some(sport), Some(dport), Some(seq)) = (q.src_port, q.dst_port, q.tcp_seq) else {
        return Verdict::Invalid;
    };
    if q.ip.protocol != 6 || q.ip.src != src || sport != src_port {
        return Verdict::Unrelated;
    }
    let probe = Flow::new(q.ip.src, q.ip.dst, sport, dport);
    if !key.check_quoted_seq(&probe, kind, seq) {
        return Verdict::Invalid;
    }
    if matches!(reason, Reason::Unreachable(code) if !Reason::FILTERING_UNREACHABLE_CODES.contains(&code)) {
        return Verdict::Invalid;
    }
    let result = PortResult { state: PortState::Filtered, reason, ttl: ip.ttl };
    Verdict::Port { host: q.ip.dst, port: dport, result }
}

/// An IP header from `src` to `dst` with TTL (hop limit) `ttl` and, for
/// IPv4, identification `id`.
///
/// # Errors
/// [`BuildError::MixedVersions`] when the addresses differ in version.
pub(crate) fn ip_header(src: IpAddr, dst: IpAddr, ttl: u8, id: u16) -> Result<IpSpec, BuildError> {
    let mut ip = IpSpec::new(src, dst)?;
    match &mut ip {
        IpSpec::V4(h) => {
            h.ttl = ttl;
            h.id = id;
        }
        IpSpec::V6(h) => h.hop_limit = ttl,
    }
    Ok(ip)
}

/// The IP header and transport of a frame sent to `us`; `None` for anything else.
pub(crate) fn addressed_to(frame: &Frame, us: IpAddr) -> Option<(&IpHeader, &Transport)> {
    match &frame.net {
        Net::Ip(packet) if packet.header.dst == us => Some((&packet.header, &packet.transport)),
        _ => None,
    }
}

/// For an ICMP or ICMPv6 error that says what became of a probe, the
/// datagram it quotes and why, as nmap names it: destination unreachable
/// ([`Reason::Unreachable`] with its ICMPv4 code, or an ICMPv6 code's
/// reason, [`Reason::from_icmpv6_unreachable`]) or time exceeded ([`Reason::TimeExceeded`], which nmap reads as filtered). Gives
/// [`Verdict::Invalid`] when it quotes nothing readable or a checksum is
/// wrong, and `None` for every other message.
pub(crate) fn icmp_error(ip: &IpHeader, icmp: &Icmp) -> Option<Result<(Quoted, Reason), Verdict>> {
    let reason = match (icmp.v6, icmp.icmp_type) {
        (false, 3) => Reason::Unreachable(icmp.code),
        (true, 1) => Reason::from_icmpv6_unreachable(icmp.code)?,
        (false, 11) | (true, 3) => Reason::TimeExceeded,
        _ => return None,
    };
    // ICMP checksums are computed in software, never offloaded.
    if !ip.checksum_ok || !icmp.checksum_ok {
        return Some(Err(Verdict::Invalid));
    }
    Some(icmp.quoted.map(|q| (q, reason)).ok_or(Verdict::Invalid))
}

/// The pcap-filter(7) term for the ICMPv4 errors [`icmp_error`] reads.
pub(crate) const ICMP_ERRORS: &str =
    "(icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed))";
