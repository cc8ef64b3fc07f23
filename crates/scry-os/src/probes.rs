//! nmap's second-generation OS probes as data, and their frames.
//!
//! Sixteen probes per host (Nmap book, "TCP/IP Fingerprinting Methods
//! Supported by Nmap"; nmap 7.93 `osscan2.cc`):
//!
//! * six SYNs to an open port, 100 ms apart (SEQ/OPS/WIN, the first also T1),
//!   each with its own window and option layout;
//! * two ICMP echoes (IE): code 9, 120 zero bytes, DF, TOS 0; then code 0,
//!   150 zero bytes, TOS 0x04 (reliability), the next id and sequence;
//! * one UDP datagram (U1) to a closed port: IP ID 0x1042, 300 bytes of `C`;
//! * the ECN SYN: CWR|ECE|SYN, reserved bits 0x8, urgent pointer 0xF7F5,
//!   window 3, acknowledgment 0;
//! * T2-T7: null (DF), SYN|FIN|PSH|URG, ACK (DF) to the open port; SYN,
//!   ACK (DF), FIN|PSH|URG to the closed port.
//!
//! Every value here was checked against what nmap 7.93 puts on the wire
//! (captured with tcpdump in the lab; see `docs/os-detection.md`). Source
//! ports are laid out as nmap lays them out, from one base: SEQ `i` at
//! `base + i`, the OPS resends at `base + 6 + i`, ECN at `base + 12`, `Tn`
//! at `base + 12 + n`; replies are told apart by their destination port.
//!
//! No I/O: [`ProbeSet::ip_packet`] returns bytes and [`ProbeSet::classify`]
//! names the probe a parsed reply answers.

use std::net::Ipv4Addr;

use scry_packet::{
    build_frame, build_ip, parse_frame, BuildError, EthernetSpec, Frame, IcmpEchoSpec, IpSpec, Ipv4Spec,
    L4Spec, LinkType, TcpFlags, TcpOption, TcpSpec, Transport, UdpSpec,
};

#[cfg(test)]
mod tests;

/// Number of SEQ probes.
pub const SEQ_PROBES: usize = 6;

/// nmap's spacing of the SEQ probes, in milliseconds (`OS_SEQ_PROBE_DELAY`).
pub const SEQ_SPACING_MS: u64 = 100;

/// U1's IP identification; the RID test compares the quoted one with it.
pub const U1_IP_ID: u16 = 0x1042;
/// U1's payload byte (`C`); the RUD test checks the quoted payload for it.
pub const U1_FILL: u8 = 0x43;
/// U1's payload length.
pub const U1_PAYLOAD_LEN: usize = 300;
/// U1's IP total length (20 + 8 + 300); the RIPL test compares with it.
pub const U1_IP_LEN: u16 = 328;
/// IE1's ICMP code; IE2 uses 0. The CD test compares replies with these.
pub const IE1_CODE: u8 = 9;
/// nmap's first echo sequence number (IE2 uses the next).
pub const IE_SEQ: u16 = 295;
/// The ECN probe's urgent pointer (its URG flag is clear).
pub const ECN_URGENT: u16 = 0xF7F5;
/// The ECN probe's reserved bits.
pub const ECN_RESERVED: u8 = 0x8;

const TS: TcpOption<'static> = TcpOption::Timestamp { val: 0xFFFF_FFFF, ecr: 0 };

/// Options of the six SEQ probes, in wire order (nmap's `prbOpts[0..6]`).
pub const SEQ_OPTIONS: [&[TcpOption<'static>]; SEQ_PROBES] = [
    &[TcpOption::WindowScale(10), TcpOption::Nop, TcpOption::Mss(1460), TS, TcpOption::SackPermitted],
    &[TcpOption::Mss(1400), TcpOption::WindowScale(0), TcpOption::SackPermitted, TS, TcpOption::Eol],
    &[TS, TcpOption::Nop, TcpOption::Nop, TcpOption::WindowScale(5), TcpOption::Nop, TcpOption::Mss(640)],
    &[TcpOption::SackPermitted, TS, TcpOption::WindowScale(10), TcpOption::Eol],
    &[TcpOption::Mss(536), TcpOption::SackPermitted, TS, TcpOption::WindowScale(10), TcpOption::Eol],
    &[TcpOption::Mss(265), TcpOption::SackPermitted, TS],
];

/// Windows of the six SEQ probes.
pub const SEQ_WINDOWS: [u16; SEQ_PROBES] = [1, 63, 4, 4, 16, 512];

const ECN_OPTIONS: &[TcpOption<'static>] = &[
    TcpOption::WindowScale(10),
    TcpOption::Nop,
    TcpOption::Mss(1460),
    TcpOption::SackPermitted,
    TcpOption::Nop,
    TcpOption::Nop,
];

/// Options of T2-T6; T7 differs only in its window scale (15).
const T_OPTIONS: &[TcpOption<'static>] =
    &[TcpOption::WindowScale(10), TcpOption::Nop, TcpOption::Mss(265), TS, TcpOption::SackPermitted];
const T7_OPTIONS: &[TcpOption<'static>] =
    &[TcpOption::WindowScale(15), TcpOption::Nop, TcpOption::Mss(265), TS, TcpOption::SackPermitted];

/// One OS probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OsProbe {
    /// SEQ probe 0..=5 (its reply also gives OPS, WIN and, for 0, T1).
    Seq(u8),
    /// A resend of SEQ probe `i`'s SYN for the OPS/WIN tests only.
    Ops(u8),
    /// The ECN SYN.
    Ecn,
    /// T1..=T7 (T1 itself is only sent when every SEQ probe went unanswered).
    T(u8),
    /// IE1 (0) or IE2 (1).
    Ie(u8),
    /// The closed-UDP-port probe.
    U1,
}

impl OsProbe {
    /// The full probe list in nmap's order: SEQ, then IE, U1, ECN, T2-T7.
    pub fn all() -> Vec<OsProbe> {
        let mut out: Vec<OsProbe> = (0..SEQ_PROBES as u8).map(OsProbe::Seq).collect();
        out.extend([OsProbe::Ie(0), OsProbe::Ie(1), OsProbe::U1, OsProbe::Ecn]);
        out.extend((2..=7).map(OsProbe::T));
        out
    }

    /// Whether the probe goes to the open TCP port.
    pub fn needs_open_port(self) -> bool {
        matches!(self, OsProbe::Seq(_) | OsProbe::Ops(_) | OsProbe::Ecn | OsProbe::T(1..=4))
    }

    /// Whether the probe goes to the closed TCP port.
    pub fn needs_closed_port(self) -> bool {
        matches!(self, OsProbe::T(5..=7))
    }

    /// Offset of the probe's TCP source port from the set's base.
    pub fn port_offset(self) -> Option<u16> {
        match self {
            OsProbe::Seq(i) => Some(u16::from(i)),
            OsProbe::Ops(i) => Some(SEQ_PROBES as u16 + u16::from(i)),
            OsProbe::Ecn => Some(12),
            OsProbe::T(n) => Some(12 + u16::from(n)),
            OsProbe::Ie(_) | OsProbe::U1 => None,
        }
    }

    /// The TCP probe sent from `base + offset`.
    pub fn from_port_offset(offset: u16) -> Option<OsProbe> {
        match offset {
            0..=5 => Some(OsProbe::Seq(offset as u8)),
            6..=11 => Some(OsProbe::Ops(offset as u8 - 6)),
            12 => Some(OsProbe::Ecn),
            13..=19 => Some(OsProbe::T(offset as u8 - 12)),
            _ => None,
        }
    }
}

/// Everything that is chosen once per host and shared by its probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// An open TCP port of the target, if one is known.
    pub open_tcp: Option<u16>,
    /// A closed TCP port of the target, if one is known.
    pub closed_tcp: Option<u16>,
    /// The UDP port U1 goes to (believed closed).
    pub closed_udp: u16,
    /// First TCP source port; the probes use `base..base + 20`.
    pub tcp_port_base: u16,
    /// U1's source port.
    pub udp_port: u16,
    /// SEQ probe `i` carries `seq_base + i`; the other probes carry `seq_base`.
    pub seq_base: u32,
    /// The acknowledgment number every probe but ECN carries.
    pub ack: u32,
    /// IE1's echo identifier; IE2 uses the next one.
    pub icmp_id: u16,
    /// TTL of the TCP and ICMP probes.
    pub ttl: u8,
    /// TTL of U1; the hop distance is measured against it.
    pub udp_ttl: u8,
    /// IP identification of the TCP and ICMP probes (U1 uses [`U1_IP_ID`]);
    /// each probe adds its own offset so no two share one.
    pub ip_id: u16,
}

impl ProbeSet {
    /// The IP packet of `probe` (no link header).
    ///
    /// # Errors
    /// Only if the builder rejects the layout, which the tests rule out.
    pub fn ip_packet(&self, probe: OsProbe) -> Result<Vec<u8>, BuildError> {
        self.build(probe, None)
    }

    /// The Ethernet frame of `probe`.
    ///
    /// # Errors
    /// As [`ProbeSet::ip_packet`].
    pub fn frame(&self, probe: OsProbe, eth: &EthernetSpec) -> Result<Vec<u8>, BuildError> {
        self.build(probe, Some(eth))
    }

    fn build(&self, probe: OsProbe, eth: Option<&EthernetSpec>) -> Result<Vec<u8>, BuildError> {
        let (ip, l4) = self.layers(probe);
        let payload = match l4 {
            Layer4::Udp(_) => vec![U1_FILL; U1_PAYLOAD_LEN],
            Layer4::Echo { len, .. } => vec![0; len],
            Layer4::Tcp(_) => Vec::new(),
        };
        let l4 = match l4 {
            Layer4::Tcp(tcp) => L4Spec::Tcp(tcp),
            Layer4::Udp(port) => {
                L4Spec::Udp(UdpSpec { src_port: self.udp_port, dst_port: port, payload: &payload })
            }
            Layer4::Echo { code, id, seq, .. } => {
                L4Spec::IcmpEcho(IcmpEchoSpec { code, id, seq, payload: &payload })
            }
        };
        match eth {
            Some(eth) => build_frame(eth, &ip, &l4),
            None => build_ip(&ip, &l4),
        }
    }

    /// The UDP checksum U1 carries; the RUCK test compares the quoted one with it.
    pub fn u1_checksum(&self) -> u16 {
        let packet = self.ip_packet(OsProbe::U1).expect("U1's fixed layout always builds");
        match parse_frame(LinkType::RawIp, &packet).ok().as_ref().and_then(Frame::ip).map(|ip| ip.transport) {
            Some(Transport::Udp(udp)) => udp.checksum,
            _ => unreachable!("U1 parses back as UDP"),
        }
    }

    /// The TCP source port of `probe`, if it is a TCP probe.
    pub fn tcp_src_port(&self, probe: OsProbe) -> Option<u16> {
        probe.port_offset().map(|o| self.tcp_port_base.wrapping_add(o))
    }

    /// Which probe a parsed frame answers, if any: TCP replies by their
    /// destination port, echo replies by their identifier, port unreachables
    /// by the ports of the UDP datagram they quote.
    pub fn classify(&self, frame: &Frame) -> Option<OsProbe> {
        let ip = frame.ip()?;
        if ip.header.src != std::net::IpAddr::V4(self.dst) || ip.header.dst != std::net::IpAddr::V4(self.src)
        {
            return None;
        }
        match &ip.transport {
            Transport::Tcp(tcp) => {
                let offset = tcp.dst_port.wrapping_sub(self.tcp_port_base);
                let probe = OsProbe::from_port_offset(offset)?;
                let port = if probe.needs_closed_port() { self.closed_tcp } else { self.open_tcp };
                (Some(tcp.src_port) == port).then_some(probe)
            }
            Transport::Icmp(icmp) if !icmp.v6 && icmp.icmp_type == 0 => {
                match icmp.id().wrapping_sub(self.icmp_id) {
                    0 => Some(OsProbe::Ie(0)),
                    1 => Some(OsProbe::Ie(1)),
                    _ => None,
                }
            }
            Transport::Icmp(icmp) if !icmp.v6 && icmp.icmp_type == 3 && icmp.code == 3 => {
                let quoted = icmp.quoted?;
                (quoted.ip.protocol == 17
                    && quoted.src_port == Some(self.udp_port)
                    && quoted.dst_port == Some(self.closed_udp))
                .then_some(OsProbe::U1)
            }
            _ => None,
        }
    }

    fn ipv4(&self, df: bool, tos: u8, ttl: u8, id: u16) -> IpSpec {
        IpSpec::V4(Ipv4Spec { src: self.src, dst: self.dst, ttl, id, df, tos })
    }

    fn layers(&self, probe: OsProbe) -> (IpSpec, Layer4) {
        let id = self.ip_id.wrapping_add(match probe {
            OsProbe::Ie(i) => 20 + u16::from(i),
            _ => probe.port_offset().unwrap_or(0),
        });
        let open = self.open_tcp.unwrap_or(0);
        let closed = self.closed_tcp.unwrap_or(0);
        let tcp = |dst_port, flags, window, options| TcpSpec {
            src_port: self.tcp_src_port(probe).unwrap_or(0),
            dst_port,
            seq: self.seq_base,
            ack: self.ack,
            flags,
            window,
            options,
            ..TcpSpec::default()
        };
        let plain = |df| self.ipv4(df, 0, self.ttl, id);
        match probe {
            OsProbe::Seq(i) => {
                let i = usize::from(i) % SEQ_PROBES;
                let mut spec = tcp(open, TcpFlags::SYN, SEQ_WINDOWS[i], SEQ_OPTIONS[i]);
                spec.seq = self.seq_base.wrapping_add(i as u32);
                (plain(false), Layer4::Tcp(spec))
            }
            OsProbe::Ops(i) => {
                let i = usize::from(i) % SEQ_PROBES;
                (plain(false), Layer4::Tcp(tcp(open, TcpFlags::SYN, SEQ_WINDOWS[i], SEQ_OPTIONS[i])))
            }
            OsProbe::Ecn => {
                let flags = TcpFlags::CWR | TcpFlags::ECE | TcpFlags::SYN;
                let mut spec = tcp(open, flags, 3, ECN_OPTIONS);
                spec.ack = 0;
                spec.reserved = ECN_RESERVED;
                spec.urgent = ECN_URGENT;
                (plain(false), Layer4::Tcp(spec))
            }
            OsProbe::T(n) => {
                let (df, port, flags, window, options) = match n {
                    1 => (false, open, TcpFlags::SYN, SEQ_WINDOWS[0], SEQ_OPTIONS[0]),
                    2 => (true, open, TcpFlags::NONE, 128, T_OPTIONS),
                    3 => (
                        false,
                        open,
                        TcpFlags::SYN | TcpFlags::FIN | TcpFlags::URG | TcpFlags::PSH,
                        256,
                        T_OPTIONS,
                    ),
                    4 => (true, open, TcpFlags::ACK, 1024, T_OPTIONS),
                    5 => (false, closed, TcpFlags::SYN, 31337, T_OPTIONS),
                    6 => (true, closed, TcpFlags::ACK, 32768, T_OPTIONS),
                    _ => (false, closed, TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG, 65535, T7_OPTIONS),
                };
                (plain(df), Layer4::Tcp(tcp(port, flags, window, options)))
            }
            OsProbe::Ie(0) => (
                self.ipv4(true, 0, self.ttl, id),
                Layer4::Echo { code: IE1_CODE, id: self.icmp_id, seq: IE_SEQ, len: 120 },
            ),
            OsProbe::Ie(_) => (
                // TOS 0x04: IPTOS_RELIABILITY.
                self.ipv4(false, 0x04, self.ttl, id),
                Layer4::Echo { code: 0, id: self.icmp_id.wrapping_add(1), seq: IE_SEQ + 1, len: 150 },
            ),
            OsProbe::U1 => (self.ipv4(false, 0, self.udp_ttl, U1_IP_ID), Layer4::Udp(self.closed_udp)),
        }
    }
}

enum Layer4 {
    Tcp(TcpSpec<'static>),
    Udp(u16),
    Echo { code: u8, id: u16, seq: u16, len: usize },
}
