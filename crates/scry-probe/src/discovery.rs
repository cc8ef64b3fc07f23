//! Host discovery ("ping scan"): which targets are up, before or instead of
//! a port scan.
//!
//! nmap's default for a privileged scan of remote targets is ICMP echo, TCP
//! SYN to 443, TCP ACK to 80 and ICMP timestamp (Nmap book, "Host Discovery
//! Controls"); on a directly connected Ethernet it asks ARP instead. Every
//! probe carries the flow's cookie where the reply echoes something: the
//! echo/timestamp id and sequence, the SYN's sequence number, the ACK's
//! acknowledgement number (a RST answering an ACK takes its sequence number
//! from it, RFC 9293 §3.10.7.1), and for UDP the [`UdpProbe`]'s source port.
//! Any validated answer from the target itself means up; ICMP errors sent by
//! routers say nothing about the host.
//!
//! Over IPv6 nmap's default is `-PE -PS443 -PA80` (no timestamp request,
//! which ICMPv6 lacks: [`Method::Timestamp`] writes nothing for an IPv6
//! target), and `-PR` on the local link is Neighbor Discovery: a Neighbor
//! Solicitation to the target's solicited-node group, answered by a
//! Neighbor Advertisement (`nd-response`, as nmap says).

use crate::cookie::{CookieKey, Flow, ProbeKind};
use crate::probe::Probe;
use crate::state::{PortState, Reason};
use crate::syn::{addressed_to, ip_header, SynProbe, Verdict};
use crate::udp::UdpProbe;
use scry_packet::{
    build_arp_request, build_frame, build_neighbor_solicitation, nd::ND_HOP_LIMIT, BuildError, EthernetSpec,
    Frame, IcmpEchoSpec, IcmpSpec, IpSpec, L4Spec, Mac, Net, TcpFlags, TcpSpec, Transport,
};
use std::net::IpAddr;

/// One discovery probe, as chosen with nmap's `-P` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `-PE`: ICMP (or ICMPv6) echo request.
    Echo,
    /// `-PP`: ICMP timestamp request (IPv4 only).
    Timestamp,
    /// `-PS PORT`: TCP SYN.
    Syn(u16),
    /// `-PA PORT`: TCP ACK.
    Ack(u16),
    /// `-PU PORT`: UDP datagram, with the port's payload.
    Udp(u16),
    /// `-PR`: ARP request on the local link; for IPv6 targets a Neighbor Solicitation.
    Arp,
}

impl Method {
    /// nmap's default set: `-PE -PS443 -PA80 -PP`.
    pub const NMAP_DEFAULT: [Method; 4] =
        [Method::Echo, Method::Syn(443), Method::Ack(80), Method::Timestamp];
    /// nmap's default port for `-PS` and `-PA` without a list.
    pub const DEFAULT_TCP_PORT: u16 = 80;
    /// nmap's default port for `-PU` without a list: one rarely in use, so a
    /// live host answers port unreachable.
    pub const DEFAULT_UDP_PORT: u16 = 40_125;
}

/// What a received frame says about a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostVerdict {
    /// The host answered one of our probes.
    Up { host: IpAddr, reason: Reason, ttl: Option<u8>, mac: Option<Mac> },
    /// Addressed to the scan but failing validation.
    Invalid,
    /// Not an answer to a discovery probe (including routers' ICMP errors).
    Unrelated,
}

/// A discovery run's fixed parameters.
pub struct Discovery {
    src: IpAddr,
    src_mac: Mac,
    src_port: u16,
    ttl: u8,
    key: CookieKey,
    methods: Vec<Method>,
    syn: SynProbe,
    udp: UdpProbe,
    /// The same discovery from a source of the other IP version, for a
    /// scan of IPv4 and IPv6 targets together ([`Discovery::with_other_family`]).
    other: Option<Box<Discovery>>,
}

impl Discovery {
    /// Discovery from `src` with `methods`, TCP probes from `src_port`, UDP
    /// probes as `udp` sends them.
    ///
    /// # Errors
    /// As [`SynProbe::new`].
    pub fn new(
        src: IpAddr,
        src_mac: Mac,
        src_port: u16,
        ttl: u8,
        key: CookieKey,
        methods: Vec<Method>,
        udp: UdpProbe,
    ) -> Result<Discovery, BuildError> {
        let syn = SynProbe::new(src, src_mac, src_port, ttl, key.clone())?;
        Ok(Discovery { src, src_mac, src_port, ttl, key, methods, syn, udp, other: None })
    }

    /// Adds `other`, a discovery from a source of the other IP version: each
    /// target then gets its own family's probes, and answers to either count.
    pub fn with_other_family(mut self, other: Discovery) -> Discovery {
        debug_assert_ne!(self.src.is_ipv4(), other.src.is_ipv4());
        self.other = Some(Box::new(other));
        self
    }

    /// The discovery whose source is of `dst`'s family, when it is not this one's.
    fn other_for(&self, dst: IpAddr) -> Option<&Discovery> {
        self.other.as_deref().filter(|_| dst.is_ipv4() != self.src.is_ipv4())
    }

    /// The probes each host gets, in sending order.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// The pcap-filter(7) expression selecting possible answers.
    pub fn filter(&self) -> String {
        // libpcap's icmp6 and tcp stop at the first IPv6 extension header:
        // every IPv6 packet to us passes, and the parser walks past them.
        let ip = match self.src {
            IpAddr::V4(src) => format!("dst host {src} and (icmp or (tcp and dst port {}))", self.src_port),
            IpAddr::V6(src) => format!("ip6 dst host {src}"),
        };
        let mut parts = vec![format!("({ip})")];
        if self.methods.iter().any(|m| matches!(m, Method::Udp(_))) {
            parts.push(format!("({})", self.udp.filter()));
        }
        // IPv6's advertisements come to our address, which the first part passes.
        if self.methods.contains(&Method::Arp) && self.src.is_ipv4() {
            parts.push("(arp and arp[6:2] == 2)".to_owned());
        }
        if let Some(other) = &self.other {
            parts.push(other.filter());
        }
        parts.join(" or ")
    }

    fn icmp_cookie(&self, dst: IpAddr, kind: ProbeKind) -> (u16, u16) {
        let cookie = self.key.cookie(&Flow::new(self.src, dst, 0, 0), kind);
        ((cookie >> 16) as u16, cookie as u16)
    }

    fn ip(&self, dst: IpAddr, ip_id: u16) -> Result<IpSpec, BuildError> {
        ip_header(self.src, dst, self.ttl, ip_id)
    }

    /// Writes `method` for `dst` via next hop `dst_mac` into `out` and returns
    /// its length: 0 when the method does not exist for `dst`'s IP version
    /// (timestamp and ARP are IPv4 only). UDP sends the port's first payload.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when `dst` is not of our address's version.
    ///
    /// # Panics
    /// When `out` is too short for the frame.
    pub fn write(
        &self,
        dst: IpAddr,
        method: Method,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        if let Some(other) = self.other_for(dst) {
            return other.write(dst, method, dst_mac, ip_id, out);
        }
        let eth = EthernetSpec { src: self.src_mac, dst: dst_mac };
        let frame = match (method, dst, self.src) {
            (Method::Syn(port), ..) => return self.syn.write(dst, port, dst_mac, ip_id, out),
            (Method::Udp(port), ..) => return self.udp.write(dst, port, 0, dst_mac, ip_id, out),
            (Method::Arp, IpAddr::V4(target), IpAddr::V4(us)) => build_arp_request(self.src_mac, us, target),
            (Method::Arp, IpAddr::V6(target), IpAddr::V6(us)) => {
                build_neighbor_solicitation(self.src_mac, us, target)
            }
            (Method::Timestamp, IpAddr::V4(_), _) => {
                let (id, seq) = self.icmp_cookie(dst, ProbeKind::ICMP_TIMESTAMP);
                let [a, b] = id.to_be_bytes();
                let [c, d] = seq.to_be_bytes();
                // Originate, receive and transmit timestamps (RFC 792), all zero.
                let stamp = IcmpSpec { icmp_type: 13, code: 0, rest: [a, b, c, d], payload: &[0; 12] };
                build_frame(&eth, &self.ip(dst, ip_id)?, &L4Spec::Icmp(stamp))?
            }
            (Method::Timestamp | Method::Arp, ..) => return Ok(0),
            (Method::Echo, ..) => {
                let (id, seq) = self.icmp_cookie(dst, ProbeKind::ICMP_ECHO);
                let echo = IcmpEchoSpec { code: 0, id, seq, payload: &[] };
                build_frame(&eth, &self.ip(dst, ip_id)?, &L4Spec::IcmpEcho(echo))?
            }
            (Method::Ack(port), ..) => {
                let ack = self.key.cookie(&Flow::new(self.src, dst, self.src_port, port), ProbeKind::TCP_ACK);
                let tcp = TcpSpec {
                    src_port: self.src_port,
                    dst_port: port,
                    ack,
                    flags: TcpFlags::ACK,
                    window: 1024,
                    ..TcpSpec::default()
                };
                build_frame(&eth, &self.ip(dst, ip_id)?, &L4Spec::Tcp(tcp))?
            }
        };
        out[..frame.len()].copy_from_slice(&frame);
        Ok(frame.len())
    }

    /// Classifies a parsed frame.
    pub fn classify(&self, frame: &Frame) -> HostVerdict {
        match (self.classify_own(frame), &self.other) {
            (HostVerdict::Unrelated, Some(other)) => other.classify(frame),
            (verdict, _) => verdict,
        }
    }

    /// [`Discovery::classify`] for answers to this source only.
    fn classify_own(&self, frame: &Frame) -> HostVerdict {
        if let Net::Arp(arp) = &frame.net {
            let ours = IpAddr::V4(arp.target_ip) == self.src && arp.operation == 2;
            return if ours && self.methods.contains(&Method::Arp) {
                let reason = Reason::ArpResponse;
                HostVerdict::Up { host: arp.sender_ip.into(), reason, ttl: None, mac: Some(arp.sender_mac) }
            } else {
                HostVerdict::Unrelated
            };
        }
        let Some((ip, transport)) = addressed_to(frame, self.src) else { return HostVerdict::Unrelated };
        let up =
            |reason| HostVerdict::Up { host: ip.src, reason, ttl: Some(ip.ttl), mac: frame.link.src_mac };
        let from_target = |verdict| match verdict {
            Verdict::Port { host, result, .. } if host == ip.src && result.state != PortState::Filtered => {
                up(result.reason)
            }
            Verdict::Port { .. } | Verdict::Unrelated => HostVerdict::Unrelated,
            Verdict::Invalid => HostVerdict::Invalid,
        };
        match transport {
            Transport::Icmp(icmp) if icmp.nd.is_some() => match icmp.nd {
                // An advertisement to us, as nmap's ND ping; hop limit 255
                // proves it came from the link (RFC 4861 7.1.2).
                Some(nd)
                    if nd.is_advertisement()
                        && self.methods.contains(&Method::Arp)
                        && icmp.checksum_ok
                        && ip.ttl == ND_HOP_LIMIT =>
                {
                    let mac = nd.link_addr.or(frame.link.src_mac);
                    HostVerdict::Up { host: nd.target.into(), reason: Reason::NdResponse, ttl: None, mac }
                }
                _ => HostVerdict::Unrelated,
            },
            Transport::Icmp(icmp) => {
                let (kind, reason) = match (icmp.v6, icmp.icmp_type) {
                    (false, 0) | (true, 129) => (ProbeKind::ICMP_ECHO, Reason::EchoReply),
                    (false, 14) => (ProbeKind::ICMP_TIMESTAMP, Reason::TimestampReply),
                    _ if self.methods.iter().any(|m| matches!(m, Method::Udp(_))) => {
                        return from_target(self.udp.classify(frame));
                    }
                    _ => return HostVerdict::Unrelated,
                };
                // ICMP checksums are computed in software, never offloaded.
                let intact = ip.checksum_ok && icmp.checksum_ok;
                if intact && (icmp.id(), icmp.seq()) == self.icmp_cookie(ip.src, kind) {
                    up(reason)
                } else {
                    HostVerdict::Invalid
                }
            }
            Transport::Tcp(tcp) => {
                if let Verdict::Port { host, result, .. } = self.syn.classify(frame) {
                    return if host == ip.src { up(result.reason) } else { HostVerdict::Unrelated };
                }
                let probe = Flow::new(ip.dst, ip.src, tcp.dst_port, tcp.src_port);
                let answers_ack = tcp.dst_port == self.src_port
                    && tcp.flags.contains(TcpFlags::RST)
                    && tcp.seq == self.key.cookie(&probe, ProbeKind::TCP_ACK);
                match (answers_ack, tcp.dst_port == self.src_port) {
                    (true, _) => up(Reason::Reset),
                    (false, true) => HostVerdict::Invalid,
                    (false, false) => HostVerdict::Unrelated,
                }
            }
            Transport::Udp(_) => from_target(self.udp.classify(frame)),
            Transport::None => HostVerdict::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests;
