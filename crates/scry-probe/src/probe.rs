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
