//! The UDP probe: `-sU` with protocol payloads and stateless validation.
//!
//! Each probe leaves from a source port the scan's key picks for its target
//! (address and port) within a range, so a reply's destination port, or the
//! source port quoted in an ICMP error, is checked without a table of probes.
//! Where the payload has a request id the server copies back (DNS, NetBIOS,
//! ONC RPC; see [`echo_field`]), that id carries the flow's cookie too and a
//! reply must echo it. Ports with several payloads get one datagram per
//! payload, as nmap sends them.

use crate::cookie::{CookieKey, Flow, ProbeKind};
use crate::payloads::{echo_field, Echo, Payloads};
use crate::probe::Probe;
use crate::results::PortResult;
use crate::services::Protocol;
use crate::state::{PortState, Reason};
use crate::syn::{addressed_to, icmp_error, ip_header, Verdict, ICMP_ERRORS};
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{build_frame, BuildError, EthernetSpec, Frame, L4Spec, Mac, Transport, UdpSpec};
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Fixed header lengths (RFC 8200, RFC 768).
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;

/// ICMP destination-unreachable code for "port unreachable" (RFC 792).
const PORT_UNREACHABLE: u8 = 3;

/// A UDP scan's fixed parameters.
pub struct UdpProbe {
    src: IpAddr,
    src_mac: Mac,
    src_ports: RangeInclusive<u16>,
    ttl: u8,
    key: CookieKey,
    payloads: Arc<Payloads>,
}

impl UdpProbe {
    /// A UDP probe sending from `src`, with source ports drawn from `src_ports`.
    ///
    /// # Panics
    /// When `src_ports` is empty.
    pub fn new(
        src: IpAddr,
        src_mac: Mac,
        src_ports: RangeInclusive<u16>,
        ttl: u8,
        key: CookieKey,
        payloads: Arc<Payloads>,
    ) -> UdpProbe {
        assert!(src_ports.start() <= src_ports.end(), "empty source port range");
        UdpProbe { src, src_mac, src_ports, ttl, key, payloads }
    }

    /// How many datagrams a probe of `port` is: one per payload, at least one.
    pub fn datagrams(&self, port: u16) -> usize {
        self.payloads.datagrams(port)
    }

    /// The source port probes of `dst:port` leave from.
    pub fn source_port(&self, dst: IpAddr, port: u16) -> u16 {
        self.key.source_port(dst, port, self.src_ports.clone())
    }

    fn cookie(&self, dst: IpAddr, port: u16) -> u32 {
        let flow = Flow::new(self.src, dst, self.source_port(dst, port), port);
        self.key.cookie(&flow, ProbeKind::UDP)
    }

    /// Whether `data` (a reply's or a quoted probe's payload prefix) carries
    /// the cookie in every echo field our payloads for `port` have. Data too
    /// short to hold the field (a truncated quote) is not held against it.
    fn echo_ok(&self, dst: IpAddr, port: u16, data: &[u8]) -> bool {
        let bits = self.cookie(dst, port).to_be_bytes();
        let fields = self.payloads.for_port(port).filter_map(|p| echo_field(port, &p.data));
        let check = |Echo { offset, width }: Echo| {
            data.get(offset..offset + width).map_or(true, |got| got == &bits[4 - width..])
        };
        let mut any = false;
        let mut matched = false;
        for field in fields {
            any = true;
            matched |= check(field);
        }
        !any || matched
    }
}

impl Probe for UdpProbe {
    fn protocol(&self) -> Protocol {
        Protocol::Udp
    }

    /// The pcap-filter(7) expression selecting possible replies: UDP to our
    /// source ports and ICMP errors, addressed to us.
    fn filter(&self) -> String {
        let (first, last) = (self.src_ports.start(), self.src_ports.end());
        match self.src {
            IpAddr::V4(src) => {
                format!("dst host {src} and ((udp and dst portrange {first}-{last}) or {ICMP_ERRORS})")
            }
            // As the TCP probes' (syn.rs): the parser sees past extension headers, libpcap does not.
            IpAddr::V6(src) => format!("ip6 dst host {src}"),
        }
    }

    /// The longest frame [`UdpProbe::write`] writes: Ethernet, an IPv6
    /// header (the longer one) and UDP around the longest payload.
    fn max_frame_len(&self) -> usize {
        ETHERNET_LEN + IPV6_HEADER_LEN + UDP_HEADER_LEN + self.payloads.max_len()
    }

    fn frames(&self, port: u16) -> usize {
        self.datagrams(port)
    }

    /// Writes datagram number `which` (below [`UdpProbe::datagrams`]) of the
    /// probe of `dst:port` via next hop `dst_mac` into `out`; returns its length.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when `dst` is not of our address's version.
    ///
    /// # Panics
    /// When `out` is too short for the frame.
    fn write(
        &self,
        dst: IpAddr,
        port: u16,
        which: usize,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        let ip = ip_header(self.src, dst, self.ttl, ip_id)?;
        let mut payload =
            self.payloads.for_port(port).nth(which).map(|p| p.data.to_vec()).unwrap_or_default();
        if let Some(echo) = echo_field(port, &payload) {
            let bits = self.cookie(dst, port).to_be_bytes();
            payload[echo.offset..echo.offset + echo.width].copy_from_slice(&bits[4 - echo.width..]);
        }
        let udp = UdpSpec { src_port: self.source_port(dst, port), dst_port: port, payload: &payload };
        let frame = build_frame(&EthernetSpec { src: self.src_mac, dst: dst_mac }, &ip, &L4Spec::Udp(udp))?;
        out[..frame.len()].copy_from_slice(&frame);
        Ok(frame.len())
    }

    /// Classifies a parsed frame.
    fn classify(&self, frame: &Frame) -> Verdict {
        let Some((ip, transport)) = addressed_to(frame, self.src) else { return Verdict::Unrelated };
        match transport {
            Transport::Udp(udp) => {
                if !self.src_ports.contains(&udp.dst_port) {
                    return Verdict::Unrelated;
                }
                if udp.dst_port != self.source_port(ip.src, udp.src_port)
                    || !self.echo_ok(ip.src, udp.src_port, udp.payload.prefix())
                {
                    return Verdict::Invalid;
                }
                let result = PortResult { state: PortState::Open, reason: Reason::UdpResponse, ttl: ip.ttl };
                Verdict::Port { host: ip.src, port: udp.src_port, result }
            }
            Transport::Icmp(icmp) => {
                let (q, reason) = match icmp_error(ip, icmp) {
                    Some(Ok(quoted)) => quoted,
                    Some(Err(verdict)) => return verdict,
                    None => return Verdict::Unrelated,
                };
                if q.ip.protocol != 17 || q.ip.src != self.src {
                    return Verdict::Unrelated;
                }
                let (Some(sport), Some(dport)) = (q.src_port, q.dst_port) else { return Verdict::Invalid };
                let target = q.ip.dst;
                let length_ok = q.udp_length.map_or(true, |len| {
                    let lengths = self.payloads.for_port(dport).map(|p| p.data.len() + UDP_HEADER_LEN);
                    let mut lengths =
                        lengths.chain((self.payloads.for_port(dport).len() == 0).then_some(UDP_HEADER_LEN));
                    lengths.any(|l| l == usize::from(len))
                });
                if sport != self.source_port(target, dport)
                    || !length_ok
                    || !self.echo_ok(target, dport, q.data.prefix())
                {
                    return Verdict::Invalid;
                }
                let state = match reason {
                    Reason::Unreachable(PORT_UNREACHABLE) if ip.src == target => PortState::Closed,
                    Reason::Unreachable(c)
                        if c == PORT_UNREACHABLE || Reason::FILTERING_UNREACHABLE_CODES.contains(&c) =>
                    {
                        PortState::Filtered
                    }
                    Reason::TimeExceeded | Reason::NoRoute | Reason::BeyondScope | Reason::RejectRoute => {
                        PortState::Filtered
                    }
                    _ => return Verdict::Invalid,
                };
                let result = PortResult { state, reason, ttl: ip.ttl };
                Verdict::Port { host: target, port: dport, result }
            }
            _ => Verdict::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests;
