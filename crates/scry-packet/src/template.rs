//! Hot-path TCP probe templates.
//!
//! A probe frame is built once with the ordinary builder; each probe then copies
//! it and patches only the destination address, ports, sequence number and IP
//! ID, updating both checksums incrementally (RFC 1624) instead of re-summing
//! the frame. The property test in `tests/template.rs` proves every patched
//! frame equals a freshly built one byte for byte.

use crate::builder::{build_frame, BuildError, EthernetSpec, IpSpec, L4Spec, TcpSpec};
use crate::checksum::{update16, update_bytes};
use crate::layout::{ETHERNET_LEN, IPV4, IPV6, TCP};
use std::net::IpAddr;

/// The per-probe fields a template patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpProbe {
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    /// IPv4 identification; ignored for IPv6.
    pub ip_id: u16,
}

/// A prebuilt Ethernet + IP + TCP frame, patched per probe.
#[derive(Clone, Debug)]
pub struct TcpTemplate {
    frame: Vec<u8>,
    v6: bool,
    tcp_at: usize,
}

impl TcpTemplate {
    /// Builds the template frame from full header specs; the probe fields of
    /// `ip` and `tcp` are the base that later patches are computed against.
    ///
    /// # Errors
    /// As [`build_frame`].
    pub fn new(eth: &EthernetSpec, ip: &IpSpec, tcp: &TcpSpec<'_>) -> Result<TcpTemplate, BuildError> {
        let frame = build_frame(eth, ip, &L4Spec::Tcp(*tcp))?;
        Ok(TcpTemplate { frame, v6: matches!(ip, IpSpec::V6(_)), tcp_at: ETHERNET_LEN + ip.header_len() })
    }

    /// The unpatched frame.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// Length of every frame this template writes.
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Always false: a template holds at least the headers.
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// Writes the frame for `probe` into `out[..self.len()]` and returns that length.
    ///
    /// # Errors
    /// [`BuildError::MixedVersions`] when `probe.dst` is not of the template's
    /// IP version.
    ///
    /// # Panics
    /// When `out` is shorter than [`TcpTemplate::len`].
    pub fn write(&self, probe: &TcpProbe, out: &mut [u8]) -> Result<usize, BuildError> {
        let out = &mut out[..self.frame.len()];
        out.copy_from_slice(&self.frame);
        let ip = ETHERNET_LEN;
        let tcp = self.tcp_at;
        let mut tcp_sum = read16(out, tcp + TCP::CHECKSUM);

        match (probe.dst, self.v6) {
            (IpAddr::V4(dst), false) => {
                let at = ip + IPV4::DST;
                let new = dst.octets();
                let mut ip_sum = update_bytes(read16(out, ip + IPV4::CHECKSUM), &out[at..at + 4], &new);
                tcp_sum = update_bytes(tcp_sum, &out[at..at + 4], &new);
                out[at..at + 4].copy_from_slice(&new);
                ip_sum = update16(ip_sum, read16(out, ip + IPV4::ID), probe.ip_id);
                write16(out, ip + IPV4::ID, probe.ip_id);
                write16(out, ip + IPV4::CHECKSUM, ip_sum);
            }
            (IpAddr::V6(dst), true) => {
                let at = ip + IPV6::DST;
                let new = dst.octets();
                tcp_sum = update_bytes(tcp_sum, &out[at..at + 16], &new);
                out[at..at + 16].copy_from_slice(&new);
            }
            (dst, _) => {
                let src = if self.v6 { IpAddr::V6([0; 16].into()) } else { IpAddr::V4([0; 4].into()) };
                return Err(BuildError::MixedVersions { src, dst });
            }
        }

        let mut new_words = [0u8; 8];
        new_words[0..2].copy_from_slice(&probe.src_port.to_be_bytes());
        new_words[2..4].copy_from_slice(&probe.dst_port.to_be_bytes());
        new_words[4..8].copy_from_slice(&probe.seq.to_be_bytes());
        let span = tcp + TCP::SRC_PORT..tcp + TCP::SEQ + 4;
        tcp_sum = update_bytes(tcp_sum, &out[span.clone()], &new_words);
        out[span].copy_from_slice(&new_words);
        write16(out, tcp + TCP::CHECKSUM, tcp_sum);
        Ok(self.frame.len())
    }

    /// [`TcpTemplate::write`], with the acknowledgement number patched to
    /// `ack` as well (probes with the ACK flag carry their cookie there).
    ///
    /// # Errors
    /// As [`TcpTemplate::write`].
    ///
    /// # Panics
    /// When `out` is shorter than [`TcpTemplate::len`].
    pub fn write_with_ack(&self, probe: &TcpProbe, ack: u32, out: &mut [u8]) -> Result<usize, BuildError> {
        let n = self.write(probe, out)?;
        let at = self.tcp_at + TCP::ACK;
        let new = ack.to_be_bytes();
        let sum = update_bytes(read16(out, self.tcp_at + TCP::CHECKSUM), &out[at..at + 4], &new);
        out[at..at + 4].copy_from_slice(&new);
        write16(out, self.tcp_at + TCP::CHECKSUM, sum);
        Ok(n)
    }
}

fn read16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

fn write16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}
