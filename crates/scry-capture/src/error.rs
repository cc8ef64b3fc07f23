//! Errors of the capture layer, each naming the interface and operation.

use std::net::IpAddr;
use std::time::Duration;

/// What went wrong opening or using the wire.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process lacks a capability (or root) for this operation.
    #[error("{operation} on {iface} needs {capability} (or root): {detail}")]
    Privilege { operation: &'static str, iface: String, capability: &'static str, detail: String },
    /// libpcap refused an operation.
    #[error("libpcap: {operation} on {iface}: {source}")]
    Pcap {
        operation: &'static str,
        iface: String,
        #[source]
        source: pcap::Error,
    },
    /// A system call failed.
    #[error("{operation} on {iface}: {source}")]
    Io {
        operation: &'static str,
        iface: String,
        #[source]
        source: std::io::Error,
    },
    /// No interface of that name exists in this network namespace.
    #[error("no network interface named {0:?}")]
    NoSuchInterface(String),
    /// libpcap delivers a link type scry cannot parse.
    #[error("interface {iface} has link type {dlt}, which scry cannot parse")]
    UnsupportedLinkType { iface: String, dlt: i32 },
    /// The routing tables of this network namespace have no route to the address.
    #[error("no route to {0} (this network namespace has no matching route and no default route)")]
    NoRoute(IpAddr),
    /// The kernel refused the route lookup, e.g. for an unreachable,
    /// prohibit or blackhole route; `hint` guesses which from the errno.
    #[error("the kernel refused a route to {dst}: {source}{hint}")]
    RouteRefused {
        dst: IpAddr,
        #[source]
        source: std::io::Error,
        hint: &'static str,
    },
    /// The address routes as broadcast, multicast or another non-unicast type.
    #[error("{dst} has a {kind} route; scry probes unicast hosts only")]
    NotUnicast { dst: IpAddr, kind: &'static str },
    /// The outgoing interface has no address of the destination's family.
    #[error("no {family} source address on {iface} to reach {dst}; give one with -S")]
    NoSourceAddress { dst: IpAddr, iface: String, family: &'static str },
    /// A source address of the other family than the destination.
    #[error("source address {src} and destination {dst} are of different address families")]
    SourceFamily { src: IpAddr, dst: IpAddr },
    /// An rtnetlink request failed.
    #[error("rtnetlink: {operation}: {source}")]
    Netlink {
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The interface has no Ethernet address, so next hops have none either.
    #[error("interface {0} has no Ethernet address, so there is no next-hop MAC to resolve")]
    NoLinkAddress(String),
    /// The next hop did not answer ARP or neighbour discovery in time.
    #[error("no {what} from {next_hop} on {iface} within {timeout:?}")]
    Unresolved { what: &'static str, next_hop: IpAddr, iface: String, timeout: Duration },
}

pub(crate) fn is_permission(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("permission") || text.contains("not permitted")
}
