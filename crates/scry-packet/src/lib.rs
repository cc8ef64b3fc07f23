//! scry-packet: builds every probe scry sends and parses every reply once.
//!
//! No I/O lives here. Builders take plain specs and return bytes with correct
//! checksums; [`TcpTemplate`] patches a prebuilt frame per probe for the hot
//! path; [`parse_frame`] turns any received frame into an owned, `Copy`
//! [`Frame`] summary or a [`ParseError`] naming the layer and offset, and never
//! panics on any input.

pub mod builder;
pub mod checksum;
pub mod layout;
mod mac;
pub mod nd;
pub mod parse;
pub mod summary;
pub mod tcp;
pub mod template;

pub use builder::{
    build_arp_request, build_frame, build_ip, BuildError, EthernetSpec, IcmpEchoSpec, IcmpSpec, IpSpec,
    Ipv4Spec, Ipv6Spec, L4Spec, TcpSpec, UdpSpec,
};
pub use mac::{BadMac, Mac};
pub use nd::{
    answer_solicitation, build_neighbor_advertisement, build_neighbor_solicitation, multicast_mac,
    solicited_node, Nd,
};
pub use parse::{parse_frame, Layer, LinkType, ParseError, Problem};
pub use summary::{
    Arp, Frame, Icmp, IcmpError, IpHeader, IpPacket, Link, Net, Payload, Quoted, Tcp, Transport, Udp,
    Unreachable,
};
pub use tcp::{TcpFlags, TcpOption, TcpOptions};
pub use template::{TcpProbe, TcpTemplate};
