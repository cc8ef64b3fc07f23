//! The probe-module interface, in the spirit of zmap's probe modules: a scan
//! type makes the frames for a target port and says which replies answer
//! them. The engine's send and receive loops know nothing else about SYN or
//! UDP. [`SynProbe`] implements it here; [`crate::udp::UdpProbe`] and
//! [`crate::tcpscan::FlagProbe`] (the other TCP scan types) in their modules.

use crate::services::Protocol;
use crate::state::PortState;
use crate::syn::{SynProbe, Verdict};
use scry_packet::{BuildError, Frame, Mac};
use std::net::IpAddr;

/// A port-scan probe type.
pub trait Probe: Send + Sync {
    /// The protocol whose ports it scans.
    fn protocol(&self) -> Protocol;
    /// A pcap-filter(7) expression passing every possible reply.
    fn filter(&self) -> String;
    /// The longest frame [`Probe::write`] writes.
    fn max_frame_len(&self) -> usize;
    /// How many frames probe one port (UDP: one per payload).
    fn frames(&self, _port: u16) -> usize {
        1
    }
    /// Writes frame `which` of the probe of `dst:port` via next hop `dst_mac`
    /// into `out`, returning its length.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when `dst` is not of the scan's IP version.
    fn write(
        &self,
        dst: IpAddr,
        port: u16,
        which: usize,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError>;
    /// What a received frame means to the scan.
    fn classify(&self, frame: &Frame) -> Verdict;
    /// Whether its SYN-ACKs are T1 samples for the one-SYN-ACK OS guess:
    /// only replies to nmap's first OS probe's SYN are ([`SynProbe`]).
    fn syn_ack_samples(&self) -> bool {
        false
    }
    /// The state of a port that never answered: as nmap, filtered for TCP
    /// scans and open|filtered for UDP (the FIN-like TCP scans override it).
    fn silent_state(&self) -> PortState {
        match self.protocol() {
            Protocol::Udp => PortState::OpenFiltered,
            _ => PortState::Filtered,
        }
    }
}

/// A probe module for IPv4 and IPv6 targets together: each target gets the
/// frames of the module whose source is of its family, and a reply is
/// classified by the module it answers (beyond nmap, which scans one family
/// at a time; masscan mixes them likewise).
pub struct ByFamily {
    v4: Box<dyn Probe>,
    v6: Box<dyn Probe>,
}

impl ByFamily {
    /// `v4` sends from an IPv4 source and `v6` from an IPv6 one; both scan
    /// the same protocol the same way.
    pub fn new(v4: Box<dyn Probe>, v6: Box<dyn Probe>) -> ByFamily {
        debug_assert_eq!(v4.protocol(), v6.protocol());
        ByFamily { v4, v6 }
    }

    fn of(&self, dst: IpAddr) -> &dyn Probe {
        if dst.is_ipv4() {
            self.v4.as_ref()
        } else {
            self.v6.as_ref()
        }
    }
}

impl Probe for ByFamily {
    fn protocol(&self) -> Protocol {
        self.v4.protocol()
    }

    fn filter(&self) -> String {
        format!("({}) or ({})", self.v4.filter(), self.v6.filter())
    }

    fn max_frame_len(&self) -> usize {
        self.v4.max_frame_len().max(self.v6.max_frame_len())
    }

    fn frames(&self, port: u16) -> usize {
        self.v4.frames(port)
    }

    fn write(
        &self,
        dst: IpAddr,
        port: u16,
        which: usize,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        self.of(dst).write(dst, port, which, dst_mac, ip_id, out)
    }

    fn classify(&self, frame: &Frame) -> Verdict {
        let from_v4 = frame.ip().is_some_and(|packet| packet.header.dst.is_ipv4());
        if from_v4 {
            self.v4.classify(frame)
        } else {
            self.v6.classify(frame)
        }
    }

    fn syn_ack_samples(&self) -> bool {
        self.v4.syn_ack_samples()
    }

    fn silent_state(&self) -> PortState {
        self.v4.silent_state()
    }
}

impl Probe for SynProbe {
    fn protocol(&self) -> Protocol {
        Protocol::Tcp
    }

    fn filter(&self) -> String {
        SynProbe::filter(self)
    }

    fn max_frame_len(&self) -> usize {
        self.frame_len()
    }

    fn write(
        &self,
        dst: IpAddr,
        port: u16,
        _which: usize,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        SynProbe::write(self, dst, port, dst_mac, ip_id, out)
    }

    fn classify(&self, frame: &Frame) -> Verdict {
        SynProbe::classify(self, frame)
    }

    fn syn_ack_samples(&self) -> bool {
        true
    }
}
