//! The destination MAC of a route's frames: its next hop's.
//!
//! [`resolve_many`] first reads the kernel's neighbour table, with one
//! rtnetlink `RTM_GETNEIGH` dump for IPv4 and IPv6 alike; entries in a valid
//! state (reachable, stale, delay, probe, permanent, noarp) count, as in
//! `/proc/net/arp`'s "complete" flag. [`ask_many_via`] (host discovery,
//! nmap's `-PR`) never does: a table entry outlives its host. A miss is
//! resolved on the wire by our own requests, out of the raw sender, resent a
//! few times within the timeout, with a capture for the answers opened
//! before the first one goes out:
//!
//! - IPv4 by ARP (RFC 826): broadcast requests, replies addressed to us.
//! - IPv6 by Neighbor Discovery (RFC 4861): a Neighbor Solicitation to the
//!   next hop's solicited-node group with our link-layer address, answered
//!   by a Neighbor Advertisement to our MAC.
//!
//! The kernel's table is left alone: Linux does not learn from ARP replies
//! it did not ask for (`arp_accept` is 0), nor create entries from
//! solicited advertisements it has no entry for (RFC 4861 section 7.2.5).
//!
//! Loopback routes need no MAC: their frames carry [`Mac::ZERO`].

use crate::route::{attrs, ip_from, message, Netlink, Route};
use crate::send::MAX_BATCH;
use crate::{CaptureConfig, Error, RawSender, Receiver};
use scry_packet::nd::ND_HOP_LIMIT;
use scry_packet::{build_arp_request, build_neighbor_solicitation, parse_frame, Frame, Mac, Net, Transport};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// ARP requests or solicitations sent for each unresolved next hop within the timeout.
const ARP_ATTEMPTS: u32 = 3;
/// How long one read of the capture lasts.
const POLL: Duration = Duration::from_millis(10);
/// `ar_op` of an ARP reply (RFC 826).
const ARP_REPLY: u16 = 2;
/// Offset of `ar_op` in an ARP packet, for the BPF filter (RFC 826).
const ARP_OP_OFFSET: usize = 6;
/// Neighbour states with a usable link-layer address (`NUD_VALID` in
/// `<net/neighbour.h>`).
const NUD_VALID: u16 = libc::NUD_PERMANENT
    | libc::NUD_NOARP
    | libc::NUD_REACHABLE
    | libc::NUD_PROBE
    | libc::NUD_STALE
    | libc::NUD_DELAY;
/// Length of `struct ndmsg`: family u8, pad u8, pad u16, ifindex i32,
/// state u16, flags u8, type u8.
const NDMSG_LEN: usize = 12;

/// A next hop: interface index and address.
type Hop = (u32, IpAddr);

fn hop(route: &Route) -> Hop {
    (route.iface.index, route.next_hop)
}

/// The MAC to send `route`'s frames to: [`Mac::ZERO`] on loopback, else the
/// next hop's, from the kernel's table or resolved within `timeout`.
///
/// # Errors
/// [`Error::Unresolved`] when the next hop does not answer in time;
/// [`Error::NoLinkAddress`] for an interface without an Ethernet address;
/// [`Error::Privilege`] without CAP_NET_RAW;
/// otherwise the failing socket, capture or rtnetlink call.
pub fn resolve_mac(route: &Route, timeout: Duration) -> Result<Mac, Error> {
    match resolve_many(std::slice::from_ref(route), timeout)?.pop().flatten() {
        Some(mac) => Ok(mac),
        None => Err(unresolved(route, timeout)),
    }
}

/// The MACs of many routes' next hops, in order, `None` where a next hop did
/// not answer within `timeout`. Each distinct next hop is looked up once:
/// one table dump for all, then one capture per interface with all its ARP
/// requests and Neighbor Solicitations sent in batches.
/// A zero `timeout` consults the kernel's table only.
///
/// # Errors
/// As [`resolve_mac`], except that silence is `None`, not an error.
pub fn resolve_many(routes: &[Route], timeout: Duration) -> Result<Vec<Option<Mac>>, Error> {
    resolve_many_via(routes, timeout, None)
}

/// A capture and a sender for ARP that the caller opened earlier (while it
/// still had the privilege to) and lends to the lookup.
pub struct ArpHandles<'a> {
    pub rx: &'a mut Receiver,
    pub tx: &'a mut RawSender,
}

/// As [`resolve_many`], using `lent` for ARP on its interface instead of
/// opening a capture and a sender there (other interfaces still open their own).
///
/// # Errors
/// As [`resolve_many`].
pub fn resolve_many_via(
    routes: &[Route],
    timeout: Duration,
    lent: Option<ArpHandles<'_>>,
) -> Result<Vec<Option<Mac>>, Error> {
    lookup(routes, timeout, lent, true)
}

/// As [`resolve_many_via`], but a next hop counts only when it answers an
/// ARP request or a Neighbor Solicitation now: the kernel's table is not
/// consulted. This is ARP and ND as host discovery (nmap's `-PR`, also on
/// an IPv6 link): a table entry outlives the host (a `STALE` entry stays
/// for minutes after it went away), and a host must not be reported up
/// from it.
///
/// # Errors
/// As [`resolve_many`].
pub fn ask_many_via(
    routes: &[Route],
    timeout: Duration,
    lent: Option<ArpHandles<'_>>,
) -> Result<Vec<Option<Mac>>, Error> {
    lookup(routes, timeout, lent, false)
}

fn lookup(
    routes: &[Route],
    timeout: Duration,
    lent: Option<ArpHandles<'_>>,
    table: bool,
) -> Result<Vec<Option<Mac>>, Error> {
    let deadline = Instant::now() + timeout;
    let mut wanted: BTreeMap<Hop, &Route> = BTreeMap::new();
    for route in routes.iter().filter(|r| !r.iface.is_loopback) {
        if route.iface.mac.is_none() {
            return Err(Error::NoLinkAddress(route.iface.name.clone()));
        }
        wanted.entry(hop(route)).or_insert(route);
    }
    let mut found = HashMap::new();
    if !wanted.is_empty() && table {
        learn_from_table(&mut wanted, &mut found)?;
    }
    if !wanted.is_empty() && !timeout.is_zero() {
        resolve_misses(wanted, (timeout, deadline), lent, &mut found)?;
    }
    Ok(routes
        .iter()
        .map(|r| if r.iface.is_loopback { Some(Mac::ZERO) } else { found.get(&hop(r)).copied() })
        .collect())
}

fn unresolved(route: &Route, timeout: Duration) -> Error {
    let what = if route.next_hop.is_ipv4() { "ARP reply" } else { "neighbour advertisement" };
    Error::Unresolved { what, next_hop: route.next_hop, iface: route.iface.name.clone(), timeout }
}

/// Moves every wanted hop the kernel already knows into `found`.
fn learn_from_table(wanted: &mut BTreeMap<Hop, &Route>, found: &mut HashMap<Hop, Mac>) -> Result<(), Error> {
    for entry in neighbours()? {
        let key = (entry.ifindex, entry.ip);
        if let (Some(mac), true) = (entry.usable_mac(), wanted.contains_key(&key)) {
            wanted.remove(&key);
            found.insert(key, mac);
        }
    }
    Ok(())
}

/// ARPs for the IPv4 misses and solicits the IPv6 ones, until all are
/// found or the deadline passes.
fn resolve_misses(
    mut wanted: BTreeMap<Hop, &Route>,
    (timeout, deadline): (Duration, Instant),
    mut lent: Option<ArpHandles<'_>>,
    found: &mut HashMap<Hop, Mac>,
) -> Result<(), Error> {
    let mut sessions: BTreeMap<u32, ArpSession> = BTreeMap::new();
    for (&(index, next_hop), route) in &wanted {
        match sessions.get_mut(&index) {
            Some(session) => session.add(route, next_hop),
            None => {
                let here = lent.take_if(|h| h.rx.iface() == route.iface.name);
                let mut session = ArpSession::open(route, here)?;
                session.add(route, next_hop);
                sessions.insert(index, session);
            }
        }
    }
    let interval = timeout / ARP_ATTEMPTS;
    let (mut sent, mut next_send) = (0, Instant::now());
    while !wanted.is_empty() && Instant::now() < deadline {
        if sent < ARP_ATTEMPTS && Instant::now() >= next_send {
            for session in sessions.values() {
                session.send_requests(found)?;
            }
            sent += 1;
            next_send += interval;
        }
        for session in sessions.values_mut() {
            session.read_replies(deadline, found)?;
        }
        wanted.retain(|key, _| !found.contains_key(key));
    }
    Ok(())
}

/// A handle opened here or lent by the caller.
enum Lent<'a, T> {
    Own(T),
    Lent(&'a mut T),
}

impl<T> std::ops::Deref for Lent<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Lent::Own(t) => t,
            Lent::Lent(t) => t,
        }
    }
}

impl<T> std::ops::DerefMut for Lent<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            Lent::Own(t) => t,
            Lent::Lent(t) => t,
        }
    }
}

/// Our own ARP and Neighbor Discovery on one interface: a capture of
/// replies to our MAC and a prebuilt request per next hop.
struct ArpSession<'a> {
    index: u32,
    rx: Lent<'a, Receiver>,
    tx: Lent<'a, RawSender>,
    requests: Vec<(IpAddr, Vec<u8>)>,
}

impl<'a> ArpSession<'a> {
    /// Sets the capture up (opening one unless `lent`) before anything is
    /// sent, so no reply is missed.
    fn open(route: &Route, lent: Option<ArpHandles<'a>>) -> Result<ArpSession<'a>, Error> {
        let mac = route.iface.mac.ok_or_else(|| Error::NoLinkAddress(route.iface.name.clone()))?;
        let config = CaptureConfig {
            filter: format!(
                "(arp and arp[{ARP_OP_OFFSET}:2] = {ARP_REPLY} and ether dst {mac}) or {}",
                crate::filter::ip6_to_mac(mac)
            ),
            buffer_size: 1 << 20,
            snaplen: 128,
            timeout: POLL,
            inbound_only: true,
        };
        let (rx, tx) = match lent {
            Some(ArpHandles { rx, tx }) => {
                rx.configure(&config)?;
                (Lent::Lent(rx), Lent::Lent(tx))
            }
            None => {
                let rx = Receiver::open(&route.iface.name, &config)?;
                (Lent::Own(rx), Lent::Own(RawSender::open(&route.iface)?))
            }
        };
        Ok(ArpSession { index: route.iface.index, rx, tx, requests: Vec::new() })
    }

    fn add(&mut self, route: &Route, target: IpAddr) {
        let mac = route.iface.mac.unwrap_or(Mac::ZERO);
        let request = match target {
            IpAddr::V4(ip) => build_arp_request(mac, arp_source(route), ip),
            IpAddr::V6(ip) => build_neighbor_solicitation(mac, nd_source(route), ip),
        };
        self.requests.push((target, request));
    }

    /// Broadcasts a request for every next hop still unanswered.
    fn send_requests(&self, found: &HashMap<Hop, Mac>) -> Result<(), Error> {
        let frames: Vec<&[u8]> = self
            .requests
            .iter()
            .filter(|(ip, _)| !found.contains_key(&(self.index, *ip)))
            .map(|(_, frame)| frame.as_slice())
            .collect();
        let mut rest = frames.as_slice();
        while !rest.is_empty() {
            let taken = self.tx.send_batch(&rest[..rest.len().min(MAX_BATCH)])?;
            rest = &rest[taken.max(1).min(rest.len())..];
        }
        Ok(())
    }

    /// Whether every next hop of this session has answered.
    fn complete(&self, found: &HashMap<Hop, Mac>) -> bool {
        self.requests.iter().all(|(ip, _)| found.contains_key(&(self.index, *ip)))
    }

    /// Reads replies until all are in, or the capture falls quiet for one
    /// [`POLL`], or the deadline passes.
    fn read_replies(&mut self, deadline: Instant, found: &mut HashMap<Hop, Mac>) -> Result<(), Error> {
        let link = self.rx.link_type();
        while !self.complete(found) {
            let Some(frame) = self.rx.next_frame()? else { break };
            if let Some((from, mac)) = parse_frame(link, frame.data).ok().as_ref().and_then(answer) {
                if self.requests.iter().any(|(ip, _)| *ip == from) {
                    found.entry((self.index, from)).or_insert(mac);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Ok(())
    }
}

/// The address and MAC an ARP reply or a Neighbor Advertisement announces.
/// An advertisement counts only with hop limit 255 and a right checksum
/// (RFC 4861 section 7.1.2); its MAC is the target link-layer option, else
/// the frame's source.
fn answer(frame: &Frame) -> Option<(IpAddr, Mac)> {
    match &frame.net {
        Net::Arp(arp) if arp.operation == ARP_REPLY => Some((IpAddr::V4(arp.sender_ip), arp.sender_mac)),
        Net::Ip(ip) => {
            let Transport::Icmp(icmp) = ip.transport else { return None };
            let nd = icmp.nd.filter(|nd| nd.is_advertisement())?;
            if ip.header.ttl != ND_HOP_LIMIT || !icmp.checksum_ok {
                return None;
            }
            Some((IpAddr::V6(nd.target), nd.link_addr.or(frame.link.src_mac)?))
        }
        _ => None,
    }
}

/// The source of our Neighbor Solicitations: the route's source when it is
/// the interface's own, else the interface's first IPv6 address, else `::`
/// (then the advertisement goes to all nodes, which the capture also takes).
/// As with ARP, a spoofed source never goes into a solicitation.
fn nd_source(route: &Route) -> Ipv6Addr {
    own_source(route, |ip| match ip {
        IpAddr::V6(v6) => Some(v6),
        IpAddr::V4(_) => None,
    })
    .unwrap_or(Ipv6Addr::UNSPECIFIED)
}

/// The sender address of our ARP requests: the route's source when it is
/// the interface's own, else the interface's first IPv4 address, else
/// 0.0.0.0 (an RFC 5227 probe). A spoofed `-S` address never goes into ARP,
/// where it would teach the neighbours to send its traffic to us.
fn arp_source(route: &Route) -> Ipv4Addr {
    own_source(route, |ip| match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    })
    .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// The route's source if the interface owns it, else the interface's first
/// address, of the family `pick` accepts.
fn own_source<T>(route: &Route, pick: impl Fn(IpAddr) -> Option<T>) -> Option<T> {
    let own = |ip: &IpAddr| route.iface.addrs.iter().any(|(a, _)| a == ip);
    Some(route.src)
        .filter(own)
        .and_then(&pick)
        .or_else(|| route.iface.addrs.iter().find_map(|(a, _)| pick(*a)))
}

fn ndmsg(family: u8, index: u32, state: u16, flags: u8) -> [u8; NDMSG_LEN] {
    let mut out = [0; NDMSG_LEN];
    out[0] = family;
    out[4..8].copy_from_slice(&index.to_ne_bytes());
    out[8..10].copy_from_slice(&state.to_ne_bytes());
    out[10] = flags;
    out
}

/// One entry of the kernel's neighbour table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Neighbour {
    ifindex: u32,
    ip: IpAddr,
    /// `NUD_*` bits.
    state: u16,
    mac: Option<Mac>,
}

impl Neighbour {
    /// The MAC, if the entry is complete.
    fn usable_mac(&self) -> Option<Mac> {
        self.mac.filter(|_| self.state & NUD_VALID != 0)
    }
}

/// The IPv4 and IPv6 neighbour tables of this network namespace.
fn neighbours() -> Result<Vec<Neighbour>, Error> {
    let ndmsg = ndmsg(libc::AF_UNSPEC as u8, 0, 0, 0);
    let flags = libc::NLM_F_REQUEST | libc::NLM_F_DUMP;
    let request = message(libc::RTM_GETNEIGH, flags as u16, &ndmsg, &[]);
    let answer = Netlink::open()
        .and_then(|nl| nl.call(&request))
        .map_err(|source| Error::Netlink { operation: "reading the neighbour table", source })?;
    Ok(answer
        .iter()
        .filter(|m| m.kind == libc::RTM_NEWNEIGH)
        .filter_map(|m| parse_neighbour(&m.payload))
        .collect())
}

/// Reads an `RTM_NEWNEIGH` payload: `struct ndmsg` then attributes. `None`
/// for entries without an IP address (bridge forwarding entries).
fn parse_neighbour(payload: &[u8]) -> Option<Neighbour> {
    let fixed = payload.get(..NDMSG_LEN)?;
    let ifindex = u32::from_ne_bytes(fixed[4..8].try_into().ok()?);
    let state = u16::from_ne_bytes(fixed[8..10].try_into().ok()?);
    let (mut ip, mut mac) = (None, None);
    for (kind, data) in attrs(&payload[NDMSG_LEN..]) {
        match kind {
            libc::NDA_DST => ip = ip_from(data),
            libc::NDA_LLADDR => mac = <[u8; 6]>::try_from(data).ok().map(Mac),
            _ => {}
        }
    }
    Some(Neighbour { ifindex, ip: ip?, state, mac })
}

// Fixtures are entries of a 6.18 x86_64 kernel's `RTM_GETNEIGH` dump.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use crate::route::tests::hex;
    use crate::Interface;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn entry(fixture: &str) -> Neighbour {
        parse_neighbour(&hex(fixture)).unwrap()
    }

    const LAB_MAC: Mac = Mac([0xba, 0xca, 0x84, 0xfd, 0x0f, 0x3c]);

    #[test]
    fn reachable_ipv4_entry() {
        let n = entry(
            "
            02 00 0000 02000000 0200 00 01      # ndmsg: AF_INET, ifindex 2, REACHABLE, type unicast
            0800 0100 c612000a                  # NDA_DST 198.18.0.10
            0a00 0200 baca84fd0f3c 0000         # NDA_LLADDR
            0800 0400 04000000                  # NDA_PROBES
            1400 0300 22010000 22010000 22010000 01000000   # NDA_CACHEINFO
        ",
        );
        let expected =
            Neighbour { ifindex: 2, ip: ip("198.18.0.10"), state: libc::NUD_REACHABLE, mac: Some(LAB_MAC) };
        assert_eq!(n, expected);
        assert_eq!(n.usable_mac(), Some(LAB_MAC));
    }

    #[test]
    fn stale_and_permanent_entries_are_usable() {
        let stale = entry(
            "
            02 00 0000 02000000 0400 00 01      # STALE
            0800 0100 c6120033 0a00 0200 0200c6120033 0000
            0800 0400 00000000 1400 0300 2d180000 bd000000 bd000000 00000000
        ",
        );
        assert_eq!(stale.usable_mac(), Some(Mac([2, 0, 0xc6, 0x12, 0, 0x33])));
        let permanent = entry(
            "
            02 00 0000 02000000 8000 00 01      # PERMANENT
            0800 0100 c6120032 0a00 0200 0200c6120032 0000
        ",
        );
        assert_eq!(permanent.usable_mac(), Some(Mac([2, 0, 0xc6, 0x12, 0, 0x32])));
    }

    #[test]
    fn incomplete_and_failed_entries_are_not() {
        let incomplete = entry(
            "
            02 00 0000 02000000 0100 00 01      # INCOMPLETE: no NDA_LLADDR yet
            0800 0100 c6120063 0800 0400 06000000
            1400 0300 92180000 22010000 22010000 01000000
        ",
        );
        assert_eq!((incomplete.ip, incomplete.mac, incomplete.usable_mac()), (ip("198.18.0.99"), None, None));
        let failed = entry(
            "
            0a 00 0000 02000000 2000 00 01      # AF_INET6, FAILED
            1400 0100 20010002000000000000000000000063   # NDA_DST 2001:2::63
            0800 0400 06000000
        ",
        );
        assert_eq!((failed.ip, failed.usable_mac()), (ip("2001:2::63"), None));
    }

    #[test]
    fn ipv6_entries() {
        let delay = entry(
            "
            0a 00 0000 02000000 0800 00 01      # AF_INET6, DELAY
            1400 0100 2001000200000000000000000000000a   # NDA_DST 2001:2::a
            0a00 0200 baca84fd0f3c 0000
            0800 0400 04000000 1400 0300 23450000 22010000 22010000 01000000
        ",
        );
        assert_eq!((delay.ip, delay.usable_mac()), (ip("2001:2::a"), Some(LAB_MAC)));
        let multicast = entry(
            "
            0a 00 0000 02000000 4000 00 05      # NOARP, type multicast
            1400 0100 ff020000000000000000000000000001
            0a00 0200 333300000001 0000
        ",
        );
        assert_eq!(multicast.ip, ip("ff02::1"));
    }

    #[test]
    fn entry_without_address_is_skipped() {
        assert_eq!(parse_neighbour(&hex("07 00 0000 02000000 8000 02 00 0a00 0200 020000000001 0000")), None);
        assert_eq!(parse_neighbour(&hex("02 00 0000")), None);
    }

    fn route(src: &str, next_hop: &str, addrs: &[&str]) -> Route {
        let iface = Interface {
            name: "eth0".into(),
            index: 2,
            mac: Some(Mac([2, 0, 0xc6, 0x12, 0, 1])),
            addrs: addrs.iter().map(|a| (ip(a), 24)).collect(),
            is_loopback: false,
            is_up: true,
        };
        Route { iface, src: ip(src), next_hop: ip(next_hop), gateway: None }
    }

    #[test]
    fn arp_never_carries_a_spoofed_source() {
        let own = route("198.18.0.1", "198.18.0.10", &["2001:2::1", "198.18.0.1"]);
        assert_eq!(arp_source(&own), Ipv4Addr::new(198, 18, 0, 1));
        let spoofed = route("198.18.0.77", "198.18.0.10", &["2001:2::1", "198.18.0.1"]);
        assert_eq!(arp_source(&spoofed), Ipv4Addr::new(198, 18, 0, 1));
        let bare = route("198.18.0.77", "198.18.0.10", &[]);
        assert_eq!(arp_source(&bare), Ipv4Addr::UNSPECIFIED, "an RFC 5227 probe");
    }

    #[test]
    fn solicitations_never_carry_a_spoofed_source() {
        let own = route("2001:2::1", "2001:2::a", &["198.18.0.1", "fe80::1", "2001:2::1"]);
        assert_eq!(nd_source(&own), "2001:2::1".parse::<Ipv6Addr>().unwrap());
        let spoofed = route("2001:2::99", "2001:2::a", &["198.18.0.1", "fe80::1", "2001:2::1"]);
        assert_eq!(nd_source(&spoofed), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(nd_source(&route("2001:2::99", "2001:2::a", &[])), Ipv6Addr::UNSPECIFIED);
    }

    #[test]
    fn advertisements_count_only_when_unrouted_and_intact() {
        let (us, them): (Ipv6Addr, Ipv6Addr) = ("2001:2::1".parse().unwrap(), "2001:2::a".parse().unwrap());
        let their_mac = Mac([2, 0, 0xc6, 0x12, 0, 10]);
        let na = scry_packet::build_neighbor_advertisement(their_mac, them, LAB_MAC, us, them);
        let parse = |bytes: &[u8]| parse_frame(scry_packet::LinkType::Ethernet, bytes).unwrap();
        assert_eq!(answer(&parse(&na)), Some((IpAddr::V6(them), their_mac)));
        let mut routed = na.clone();
        routed[14 + 7] = 254;
        assert_eq!(answer(&parse(&routed)), None);
        let ns = build_neighbor_solicitation(their_mac, them, us);
        assert_eq!(answer(&parse(&ns)), None, "a solicitation is not an answer");
        let arp = build_arp_request(their_mac, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(answer(&parse(&arp)), None, "an ARP request is not an answer");
    }

    #[test]
    fn loopback_needs_no_lookup() {
        let mut lo = route("127.0.0.1", "127.0.0.1", &["127.0.0.1"]);
        lo.iface.is_loopback = true;
        let macs = resolve_many(&[lo.clone(), lo], Duration::ZERO).unwrap();
        assert_eq!(macs, vec![Some(Mac::ZERO); 2]);
    }

    #[test]
    fn unresolved_message() {
        let r = route("198.18.0.1", "198.18.0.99", &[]);
        assert_eq!(
            unresolved(&r, Duration::from_secs(1)).to_string(),
            "no ARP reply from 198.18.0.99 on eth0 within 1s"
        );
        let r6 = route("2001:2::1", "2001:2::63", &[]);
        let text = unresolved(&r6, Duration::from_millis(500)).to_string();
        assert_eq!(text, "no neighbour advertisement from 2001:2::63 on eth0 within 500ms");
    }
}
