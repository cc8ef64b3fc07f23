//! Port and host states, with the reason that decided each, as nmap names them.
//!
//! SYN-scan rules (Nmap book, "TCP SYN (Stealth) Scan"): a SYN-ACK means open,
//! a RST closed; an ICMP unreachable of type 3 code 0, 1, 2, 3, 9, 10 or 13,
//! or no answer after every retry, filtered.
//!
//! UDP-scan rules (Nmap book, "UDP Scan"): any UDP reply means open; ICMP
//! port unreachable from the target closed; other ICMP unreachables (codes
//! 0, 1, 2, 9, 10, 13, or port unreachable sent by a router) filtered; no
//! answer after every retry open|filtered.

use std::fmt;

/// What a scan concluded about a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortState {
    Open,
    Closed,
    Filtered,
    Unfiltered,
    OpenFiltered,
    ClosedFiltered,
}

impl PortState {
    /// nmap's spelling: `open`, `closed`, `filtered`, `open|filtered`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::Unfiltered => "unfiltered",
            PortState::OpenFiltered => "open|filtered",
            PortState::ClosedFiltered => "closed|filtered",
        }
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a state was concluded; printed as nmap prints `--reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    SynAck,
    Reset,
    /// A connect scan's connect() refused (the kernel saw a RST, or ICMP port unreachable).
    ConnRefused,
    /// A connect scan's connect() failed with ENONET (ICMP host isolated, code 8).
    DestUnreach,
    /// Any UDP datagram back from the probed port.
    UdpResponse,
    /// A TCP connection to the port succeeded (version detection on an
    /// open|filtered port, as nmap's `tcp-response`).
    TcpResponse,
    NoResponse,
    /// ICMP type 3 with this code.
    Unreachable(u8),
    /// ICMP time exceeded in transit (ICMPv6 type 3 too).
    TimeExceeded,
    /// ICMPv6 destination unreachable, no route to destination (code 0).
    NoRoute,
    /// ICMPv6 destination unreachable, beyond scope of source address (code 2).
    BeyondScope,
    /// ICMPv6 destination unreachable, reject route to destination (code 6).
    RejectRoute,
    EchoReply,
    /// ICMP timestamp reply (`-PP`).
    TimestampReply,
    ArpResponse,
    /// A Neighbor Advertisement answered our solicitation (IPv6's ARP).
    NdResponse,
    /// The user said so (`-Pn`).
    UserSet,
    /// The target is one of the scanner's own addresses: up without a probe.
    LocalhostResponse,
}

impl Reason {
    /// The ICMP type 3 codes that mark a TCP port filtered.
    pub const FILTERING_UNREACHABLE_CODES: [u8; 7] = [0, 1, 2, 3, 9, 10, 13];

    /// Why a directly connected `host` is up when it answered the next-hop
    /// lookup: ARP for IPv4, Neighbor Discovery for IPv6, as nmap says.
    pub fn neighbor_response(host: std::net::IpAddr) -> Reason {
        if host.is_ipv4() {
            Reason::ArpResponse
        } else {
            Reason::NdResponse
        }
    }

    /// Whether an ICMP or ICMPv6 destination unreachable gave this reason:
    /// what a host's ICMP rate limiter rations ([`crate::pace`]).
    pub fn is_unreachable(self) -> bool {
        matches!(self, Reason::Unreachable(_) | Reason::NoRoute | Reason::BeyondScope | Reason::RejectRoute)
    }

    /// The reason nmap gives an ICMPv6 destination unreachable with `code`
    /// (RFC 4443 3.1; nmap's icmpv6_to_reason); `None` for codes it does not know.
    pub fn from_icmpv6_unreachable(code: u8) -> Option<Reason> {
        Some(match code {
            0 => Reason::NoRoute,
            // Administratively prohibited; source address failed ingress/egress policy.
            1 | 5 => Reason::Unreachable(13),
            2 => Reason::BeyondScope,
            3 => Reason::Unreachable(1),
            4 => Reason::Unreachable(3),
            6 => Reason::RejectRoute,
            _ => return None,
        })
    }

    /// nmap's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset => "reset",
            Reason::ConnRefused => "conn-refused",
            Reason::DestUnreach => "dest-unreach",
            Reason::UdpResponse => "udp-response",
            Reason::TcpResponse => "tcp-response",
            Reason::NoResponse => "no-response",
            Reason::Unreachable(0) => "net-unreach",
            Reason::Unreachable(1) => "host-unreach",
            Reason::Unreachable(2) => "proto-unreach",
            Reason::Unreachable(3) => "port-unreach",
            Reason::Unreachable(9) => "net-prohibited",
            Reason::Unreachable(10) => "host-prohibited",
            Reason::Unreachable(13) => "admin-prohibited",
            Reason::Unreachable(_) => "unreach",
            Reason::TimeExceeded => "time-exceeded",
            Reason::NoRoute => "no-route",
            Reason::BeyondScope => "beyond-scope",
            Reason::RejectRoute => "reject-route",
            Reason::EchoReply => "echo-reply",
            Reason::TimestampReply => "timestamp-reply",
            Reason::ArpResponse => "arp-response",
            Reason::NdResponse => "nd-response",
            Reason::UserSet => "user-set",
            Reason::LocalhostResponse => "localhost-response",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_spellings() {
        assert_eq!(PortState::OpenFiltered.to_string(), "open|filtered");
        assert_eq!(Reason::Unreachable(13).to_string(), "admin-prohibited");
        assert_eq!(Reason::Unreachable(3).to_string(), "port-unreach");
        assert_eq!(Reason::SynAck.to_string(), "syn-ack");
        assert_eq!(Reason::ConnRefused.to_string(), "conn-refused");
    }
}
