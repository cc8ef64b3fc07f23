//! scry-capture: the wire.
//!
//! Receives through libpcap with a BPF filter ([`Receiver`]), sends whole
//! Ethernet frames through a send-only `AF_PACKET` socket ([`RawSender`]),
//! looks up interfaces ([`Interface`]) and writes pcap files ([`PcapWriter`]).
//! This and the command-line tool are the only crates that touch the
//! operating system; errors say which interface and operation failed and,
//! for permission failures, which capability is missing.

mod error;
mod iface;
mod neighbor;
mod pcapfile;
mod recv;
mod route;
mod send;

pub use error::Error;
pub use iface::Interface;
pub use neighbor::{resolve_mac, resolve_many};
pub use pcapfile::PcapWriter;
pub use recv::{CaptureConfig, CaptureStats, Received, Receiver};
pub use route::{route_to, route_with, Route, RouteOverrides};
pub use send::{RawSender, MAX_BATCH};
