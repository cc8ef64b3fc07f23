//! scry-capture: the wire.
//!
//! Receives through libpcap with a BPF filter ([`Receiver`]), sends whole
//! Ethernet frames through a `PACKET_TX_RING` ([`TxRing`]) or a send-only
//! `AF_PACKET` socket ([`RawSender`]), behind one in-place API ([`Sender`]),
//! looks up interfaces ([`Interface`]), routes ([`route_to`]) and next-hop
//! MACs by our own ARP and IPv6 Neighbor Discovery ([`resolve_many`],
//! [`ask_many_via`]), offers IPv6 filter snippets that see past extension
//! headers ([`filter`]) and writes pcap files ([`PcapWriter`]).
//! This and the command-line tool are the only crates that touch the
//! operating system; errors say which interface and operation failed and,
//! for permission failures, which capability is missing.

mod error;
pub mod filter;
mod iface;
mod neighbor;
mod pcapfile;
mod recv;
mod responder;
mod ring;
mod route;
mod send;
mod tx;

pub use error::Error;
pub use iface::Interface;
pub use neighbor::{ask_many_via, resolve_mac, resolve_many, resolve_many_via, ArpHandles};
pub use pcapfile::PcapWriter;
pub use recv::{CaptureConfig, CaptureStats, Received, Receiver};
pub use responder::NdResponder;
pub use ring::{Geometry, RingStats, TxRing, RING_FRAMES};
pub use route::{broadcast_addresses, route_to, route_with, Route, RouteOverrides};
pub use send::{RawSender, MAX_BATCH};
pub use tx::{Method, SendStats, Sender};
