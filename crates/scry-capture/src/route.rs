//! Which interface, source address and next hop reach a destination.
//!
//! [`route_to`] asks the kernel exactly as `ip route get` does: one rtnetlink
//! `RTM_GETROUTE` request for the destination, answered from the routing
//! tables of the calling thread's network namespace. The kernel applies the
//! policy rules, the local table (own addresses and 127.0.0.0/8 go via `lo`),
//! longest-prefix match and metrics, picks the next hop of a multipath route
//! and chooses the source address (`RTA_PREFSRC` in the answer), so nothing
//! here re-implements that logic by parsing `/proc/net/route`, and no UDP
//! socket is needed for the source. The lookup sends nothing on the wire.
//!
//! The rtnetlink plumbing ([`Netlink`], [`message`], [`attrs`]) is shared with
//! the neighbour lookup. Netlink headers are in host byte order, addresses in
//! network byte order (rtnetlink(7)).

use crate::{Error, Interface};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The way to a destination: what a raw-packet prober needs to build frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The outgoing interface (`lo` for loopback and own addresses).
    pub iface: Interface,
    /// The source address: the kernel's choice, or the `-S` override.
    pub src: IpAddr,
    /// Whose MAC goes in the frame: the gateway, or the destination itself
    /// when it is directly connected.
    pub next_hop: IpAddr,
    /// The gateway, when the route has one.
    pub gateway: Option<IpAddr>,
}

/// User choices that bend the lookup: the CLI's `-e IFACE` and `-S ADDR`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteOverrides {
    /// Send out of this interface. The kernel then looks up routes through
    /// it only and, finding none, treats the destination as on-link there.
    pub iface: Option<String>,
    /// Use this source address. One of this namespace's own addresses also
    /// takes part in the lookup (source-based policy rules apply); any other
    /// address is spoofed: the lookup ignores it and only `src` changes.
    pub src: Option<IpAddr>,
}

/// The route the kernel would use to send to `dst`.
///
/// # Errors
/// [`Error::NoRoute`], [`Error::RouteRefused`], [`Error::NotUnicast`],
/// [`Error::NoSourceAddress`], or [`Error::Netlink`] when the request fails.
pub fn route_to(dst: IpAddr) -> Result<Route, Error> {
    route_with(dst, &RouteOverrides::default())
}

/// The route to `dst` with the user's interface and source overrides.
///
/// # Errors
/// As [`route_to`], plus [`Error::NoSuchInterface`] for an unknown `-e` and
/// [`Error::SourceFamily`] when `-S` is not of the destination's family.
pub fn route_with(dst: IpAddr, overrides: &RouteOverrides) -> Result<Route, Error> {
    if let Some(src) = overrides.src {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::SourceFamily { src, dst });
        }
    }
    let ifaces = Interface::all();
    let oif = overrides
        .iface
        .as_deref()
        .map(|name| {
            let iface = ifaces.iter().find(|i| i.name == name);
            iface.map(|i| i.index).ok_or_else(|| Error::NoSuchInterface(name.into()))
        })
        .transpose()?;
    let own_src = overrides.src.filter(|src| ifaces.iter().any(|i| i.addrs.iter().any(|(a, _)| a == src)));
    let answer = ask_kernel(dst, own_src, oif)?;

    match answer.kind {
        libc::RTN_UNICAST | libc::RTN_LOCAL => {}
        other => return Err(Error::NotUnicast { dst, kind: route_type_name(other) }),
    }
    let index = answer.oif.ok_or_else(|| lookup_error(dst, invalid("the answer names no interface")))?;
    let iface = ifaces
        .into_iter()
        .find(|i| i.index == index)
        .ok_or_else(|| Error::NoSuchInterface(format!("with index {index}")))?;
    let src = match overrides.src.or(answer.prefsrc) {
        Some(src) if !src.is_unspecified() => src,
        _ => {
            let family = if dst.is_ipv4() { "IPv4" } else { "IPv6" };
            return Err(Error::NoSourceAddress { dst, iface: iface.name, family });
        }
    };
    // A local destination is delivered through `lo`: no gateway, whatever
    // the answer says.
    let gateway = answer.gateway.filter(|_| answer.kind == libc::RTN_UNICAST);
    Ok(Route { iface, src, next_hop: gateway.unwrap_or(dst), gateway })
}

/// The addresses this network namespace routes as broadcast (the kernel's
/// `broadcast` routes, as `ip route show table local type broadcast` lists
/// them), plus the limited broadcast 255.255.255.255. A frame to one of
/// them reaches every host of a link, or none; no one host answers it.
///
/// # Errors
/// [`Error::Netlink`] when the dump fails.
pub fn broadcast_addresses() -> Result<Vec<Ipv4Addr>, Error> {
    let netlink =
        Netlink::open().map_err(|source| Error::Netlink { operation: "opening a socket", source })?;
    // A dump of every IPv4 route of every table; the kernel ignores the
    // rest of the header unless strict checking is on.
    let rtmsg = [libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let request = message(libc::RTM_GETROUTE, (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16, &rtmsg, &[]);
    let routes =
        netlink.call(&request).map_err(|source| Error::Netlink { operation: "dumping routes", source })?;
    let mut found: Vec<Ipv4Addr> = routes
        .iter()
        .filter(|m| m.kind == libc::RTM_NEWROUTE)
        .filter_map(|m| broadcast_destination(&m.payload))
        .chain([Ipv4Addr::BROADCAST])
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The destination of a host route of type broadcast, from a route message.
fn broadcast_destination(payload: &[u8]) -> Option<Ipv4Addr> {
    let (family, dst_len) = (*payload.first()?, *payload.get(1)?);
    if payload.len() < RTMSG_LEN || payload[RTMSG_TYPE] != libc::RTN_BROADCAST {
        return None;
    }
    if family != libc::AF_INET as u8 || dst_len != 32 {
        return None;
    }
    attrs(&payload[RTMSG_LEN..]).find(|(kind, _)| *kind == libc::RTA_DST).and_then(|(_, data)| match ip_from(
        data,
    ) {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    })
}

/// One `RTM_GETROUTE` exchange with the kernel.
fn ask_kernel(dst: IpAddr, src: Option<IpAddr>, oif: Option<u32>) -> Result<Answer, Error> {
    let netlink =
        Netlink::open().map_err(|source| Error::Netlink { operation: "opening a socket", source })?;
    let replies = netlink.call(&route_request(dst, src, oif)).map_err(|e| lookup_error(dst, e))?;
    let reply = replies
        .iter()
        .find(|m| m.kind == libc::RTM_NEWROUTE)
        .ok_or_else(|| lookup_error(dst, invalid("no RTM_NEWROUTE in the answer")))?;
    parse_answer(&reply.payload).map_err(|e| lookup_error(dst, e))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The kernel's errno as an error: `ENETUNREACH` is "no route".
fn lookup_error(dst: IpAddr, source: io::Error) -> Error {
    let hint = match source.raw_os_error() {
        Some(libc::ENETUNREACH) => return Error::NoRoute(dst),
        Some(libc::EHOSTUNREACH) => " (an unreachable route?)",
        Some(libc::EACCES) => " (a prohibit route?)",
        Some(libc::EINVAL) => " (a blackhole route?)",
        _ => "",
    };
    Error::RouteRefused { dst, source, hint }
}

/// `rtm_type` values by name, for errors (`<linux/rtnetlink.h>`).
fn route_type_name(kind: u8) -> &'static str {
    match kind {
        libc::RTN_BROADCAST => "broadcast",
        libc::RTN_ANYCAST => "anycast",
        libc::RTN_MULTICAST => "multicast",
        libc::RTN_BLACKHOLE => "blackhole",
        libc::RTN_UNREACHABLE => "unreachable",
        libc::RTN_PROHIBIT => "prohibit",
        libc::RTN_THROW => "throw",
        libc::RTN_NAT => "nat",
        _ => "unknown-type",
    }
}

/// `RTA_VIA`: a gateway of the other family (RFC 5549); missing from musl's libc.
const RTA_VIA: u16 = 18;
/// Length of `struct rtmsg`, the fixed part of a route message.
const RTMSG_LEN: usize = 12;
/// Offset of `rtm_type` in `struct rtmsg`.
const RTMSG_TYPE: usize = 7;

/// An `RTM_GETROUTE` request for one destination, as `ip route get DST
/// [from SRC] [oif IFACE]` sends it.
fn route_request(dst: IpAddr, src: Option<IpAddr>, oif: Option<u32>) -> Vec<u8> {
    let (family, bits) = family_of(dst);
    let src_bits = src.map_or(0, |s| family_of(s).1);
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    let rtmsg = [family, bits, src_bits, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let dst_bytes = ip_bytes(dst);
    let src_bytes = src.map(ip_bytes);
    let oif_bytes = oif.map(u32::to_ne_bytes);
    let mut attributes: Vec<(u16, &[u8])> = vec![(libc::RTA_DST, &dst_bytes)];
    if let Some(s) = &src_bytes {
        attributes.push((libc::RTA_SRC, s));
    }
    if let Some(o) = &oif_bytes {
        attributes.push((libc::RTA_OIF, o));
    }
    message(libc::RTM_GETROUTE, (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16, &rtmsg, &attributes)
}

/// What scry needs from the kernel's `RTM_NEWROUTE` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    kind: u8,
    oif: Option<u32>,
    prefsrc: Option<IpAddr>,
    gateway: Option<IpAddr>,
}

/// Reads an `RTM_NEWROUTE` payload: `struct rtmsg` then attributes.
fn parse_answer(payload: &[u8]) -> io::Result<Answer> {
    if payload.len() < RTMSG_LEN {
        return Err(invalid("route message shorter than struct rtmsg"));
    }
    let mut answer = Answer { kind: payload[RTMSG_TYPE], oif: None, prefsrc: None, gateway: None };
    for (kind, data) in attrs(&payload[RTMSG_LEN..]) {
        match kind {
            libc::RTA_OIF => answer.oif = data.try_into().ok().map(u32::from_ne_bytes),
            libc::RTA_PREFSRC => answer.prefsrc = ip_from(data),
            libc::RTA_GATEWAY => answer.gateway = ip_from(data),
            // struct rtvia: a host-order address family, then the address.
            RTA_VIA if data.len() > 2 => answer.gateway = ip_from(&data[2..]),
            _ => {}
        }
    }
    Ok(answer)
}

/// The address family byte and address length in bits.
pub(crate) fn family_of(ip: IpAddr) -> (u8, u8) {
    match ip {
        IpAddr::V4(_) => (libc::AF_INET as u8, 32),
        IpAddr::V6(_) => (libc::AF_INET6 as u8, 128),
    }
}

/// The address in network byte order.
pub(crate) fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// An address from 4 or 16 network-order bytes.
pub(crate) fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        16 => <[u8; 16]>::try_from(bytes).ok().map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// Length of `struct nlmsghdr`: len u32, type u16, flags u16, seq u32, pid u32.
const NLMSG_HDR_LEN: usize = 16;
/// Length of `struct rtattr`: len u16, type u16.
const RTA_HDR_LEN: usize = 4;
/// Each request is the only one on its socket, so one sequence number does.
const SEQ: u32 = 1;
/// Large enough for any one datagram of a dump (the kernel fills up to 32 KiB).
const RECV_BUF: usize = 64 << 10;
/// Attempts at a dump the kernel marks inconsistent (`NLM_F_DUMP_INTR`).
const DUMP_ATTEMPTS: usize = 3;

/// Rounds up to the 4-byte netlink alignment (`NLMSG_ALIGN`, `RTA_ALIGN`).
fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A netlink message: header, fixed family header, then attributes.
pub(crate) fn message(kind: u16, flags: u16, fixed: &[u8], attributes: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&[0; NLMSG_HDR_LEN]);
    out.extend_from_slice(fixed);
    out.resize(align(out.len()), 0);
    for (kind, data) in attributes {
        let len = (RTA_HDR_LEN + data.len()) as u16;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(align(out.len()), 0);
    }
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_ne_bytes());
    out[4..6].copy_from_slice(&kind.to_ne_bytes());
    out[6..8].copy_from_slice(&flags.to_ne_bytes());
    out[8..12].copy_from_slice(&SEQ.to_ne_bytes());
    out
}

/// The `(type, data)` attributes in `bytes`; stops at the first malformed one.
pub(crate) fn attrs(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(bytes.get(0..2)?.try_into().ok()?));
        let kind = u16::from_ne_bytes(bytes.get(2..4)?.try_into().ok()?);
        let data = bytes.get(RTA_HDR_LEN..len)?;
        bytes = bytes.get(align(len)..).unwrap_or_default();
        // The top two bits of the type are the nested and byte-order flags.
        Some((kind & 0x3fff, data))
    })
}

/// One message of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub kind: u16,
    pub flags: u16,
    /// Everything after `struct nlmsghdr`.
    pub payload: Vec<u8>,
}

/// Splits a datagram into messages.
fn split(mut bytes: &[u8]) -> io::Result<Vec<Message>> {
    let mut out = Vec::new();
    while bytes.len() >= NLMSG_HDR_LEN {
        let field = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let len = field(0) as usize;
        if len < NLMSG_HDR_LEN || len > bytes.len() {
            return Err(invalid(&format!("netlink message length {len}")));
        }
        if field(8) == SEQ {
            let half = |at: usize| u16::from_ne_bytes([bytes[at], bytes[at + 1]]);
            out.push(Message { kind: half(4), flags: half(6), payload: bytes[NLMSG_HDR_LEN..len].to_vec() });
        }
        bytes = bytes.get(align(len)..).unwrap_or_default();
    }
    Ok(out)
}

/// Adds a datagram's messages to `answer`; `Ok(true)` once the answer is
/// complete (`NLMSG_DONE` or an acknowledgement), the errno of an error.
fn collect(datagram: &[u8], answer: &mut Vec<Message>) -> io::Result<bool> {
    for message in split(datagram)? {
        match i32::from(message.kind) {
            libc::NLMSG_DONE | libc::NLMSG_ERROR => {
                // Both start with an errno: 0 for success, else negated.
                let code =
                    message.payload.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                return if code < 0 { Err(io::Error::from_raw_os_error(-code)) } else { Ok(true) };
            }
            libc::NLMSG_NOOP => {}
            _ => answer.push(message),
        }
    }
    Ok(false)
}

/// An `NETLINK_ROUTE` socket in the calling thread's network namespace.
pub(crate) struct Netlink {
    fd: OwnedFd,
}

impl Netlink {
    /// Opens the socket; the kernel binds it on the first send.
    pub(crate) fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh, valid descriptor we now own.
        Ok(Netlink { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Sends `request` (built by [`message`]) and returns the answer: the
    /// messages of a dump up to `NLMSG_DONE`, or of a request up to its
    /// acknowledgement. A kernel error becomes its errno.
    pub(crate) fn call(&self, request: &[u8]) -> io::Result<Vec<Message>> {
        for _ in 0..DUMP_ATTEMPTS {
            let answer = self.exchange(request)?;
            if !answer.iter().any(|m| m.flags & libc::NLM_F_DUMP_INTR as u16 != 0) {
                return Ok(answer);
            }
        }
        Err(io::Error::new(io::ErrorKind::Interrupted, "the table kept changing during the dump"))
    }

    fn exchange(&self, request: &[u8]) -> io::Result<Vec<Message>> {
        // SAFETY: sockaddr_nl is plain data; zeroed (pid 0) addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: `request` and `kernel` outlive the call, which only reads them.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; RECV_BUF];
        let mut answer = Vec::new();
        loop {
            // SAFETY: `buf` is valid for `buf.len()` writable bytes.
            let n = unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC)
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            let n = n as usize;
            if n > buf.len() {
                return Err(invalid(&format!("{n}-byte netlink datagram")));
            }
            if collect(&buf[..n], &mut answer)? {
                return Ok(answer);
            }
        }
    }
}

// Fixtures are answers of a 6.18 x86_64 kernel, captured in a lab-like
// namespace pair; netlink headers and integers are host-endian.
#[cfg(all(test, target_endian = "little"))]
pub(crate) mod tests {
    use super::*;

    /// Bytes from hex with whitespace and `#` comments.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let digits: String =
            text.lines().flat_map(|l| l.split('#').next()).flat_map(|l| l.split_whitespace()).collect();
        (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn request_is_ip_route_get() {
        let expected = hex("
            24000000 1a00 0500 01000000 00000000  # nlmsghdr: 36 bytes, RTM_GETROUTE, REQUEST|ACK, seq 1
            02 20 00 00 00 00 00 00 00000000      # rtmsg: AF_INET, dst_len 32
            0800 0100 c612000a                    # RTA_DST 198.18.0.10
        ");
        assert_eq!(route_request(ip("198.18.0.10"), None, None), expected);
        let expected = hex("
            34000000 1a00 0500 01000000 00000000  # 52 bytes
            02 20 20 00 00 00 00 00 00000000      # rtmsg: AF_INET, dst_len 32, src_len 32
            0800 0100 c612000a                    # RTA_DST 198.18.0.10
            0800 0200 c6120001                    # RTA_SRC 198.18.0.1
            0800 0400 02000000                    # RTA_OIF 2
        ");
        assert_eq!(route_request(ip("198.18.0.10"), Some(ip("198.18.0.1")), Some(2)), expected);
        let v6 = route_request(ip("2001:2::a"), None, None);
        assert_eq!(&v6[16..18], &[libc::AF_INET6 as u8, 128], "family and dst_len");
        assert_eq!(v6.len(), 16 + 12 + 4 + 16);
    }

    /// `ip route get 198.18.0.10`: on the link.
    const CONNECTED: &str = "
        02 20 00 00 fe 00 00 01 00020000        # AF_INET /32, table main, scope universe, unicast, RTM_F_CLONED
        0800 0f00 fe000000                      # RTA_TABLE 254
        0800 0100 c612000a                      # RTA_DST 198.18.0.10
        0800 0400 02000000                      # RTA_OIF 2
        0800 0700 c6120001                      # RTA_PREFSRC 198.18.0.1
        0800 1900 00000000                      # RTA_UID 0
        2400 0c00 02000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  # RTA_CACHEINFO
    ";

    #[test]
    fn answer_on_link() {
        let answer = parse_answer(&hex(CONNECTED)).unwrap();
        let expected =
            Answer { kind: libc::RTN_UNICAST, oif: Some(2), prefsrc: Some(ip("198.18.0.1")), gateway: None };
        assert_eq!(answer, expected);
    }

    #[test]
    fn answer_via_gateway() {
        // `ip route get 198.19.4.1` with `198.19.4.0/24 via 198.18.0.10`.
        let answer = parse_answer(&hex("
            02 20 00 00 fe 00 00 01 00020000
            0800 0f00 fe000000 0800 0100 c6130401 0800 0400 02000000
            0800 0700 c6120001                  # RTA_PREFSRC 198.18.0.1
            0800 0500 c612000a                  # RTA_GATEWAY 198.18.0.10
            0800 1900 00000000
            2400 0c00 02000000 7d2c0000 00000000 00000000 00000000 00000000 00000000 00000000
        "))
        .unwrap();
        assert_eq!((answer.oif, answer.gateway), (Some(2), Some(ip("198.18.0.10"))));
    }

    #[test]
    fn answer_ipv6_via_gateway() {
        // `ip -6 route get 2001:2:0:2::1` with `2001:2:0:2::/64 via 2001:2::a`.
        let answer = parse_answer(&hex("
            0a 80 80 00 fe 03 00 01 00000000    # AF_INET6 /128 from ::/128, proto boot, unicast
            0800 0f00 fe000000
            1400 0100 20010002000000020000000000000001   # RTA_DST 2001:2:0:2::1
            1400 0200 00000000000000000000000000000000   # RTA_SRC ::
            1400 0700 20010002000000000000000000000001   # RTA_PREFSRC 2001:2::1
            0800 0600 00000400                           # RTA_PRIORITY 1024
            1400 0500 2001000200000000000000000000000a   # RTA_GATEWAY 2001:2::a
            0800 0400 02000000                           # RTA_OIF 2
            2400 0c00 02000000 7c2c0000 00000000 00000000 00000000 00000000 00000000 00000000
            0500 1400 00000000                           # RTA_PREF medium
        "))
        .unwrap();
        let expected = Answer {
            kind: libc::RTN_UNICAST,
            oif: Some(2),
            prefsrc: Some(ip("2001:2::1")),
            gateway: Some(ip("2001:2::a")),
        };
        assert_eq!(answer, expected);
    }

    #[test]
    fn answer_via_ipv6_gateway_for_ipv4_rfc5549() {
        // `ip route get 198.19.5.1` with `198.19.5.0/24 via inet6 fe80::1 dev eth0`.
        let answer = parse_answer(&hex("
            02 20 00 00 fe 00 00 01 00020000
            0800 0f00 fe000000 0800 0100 c6130501 0800 0400 02000000 0800 0700 c6120001
            1600 1200 0a00 fe800000000000000000000000000001 0000   # RTA_VIA AF_INET6 fe80::1
            0800 1900 00000000
            2400 0c00 02000000 7c2c0000 00000000 00000000 00000000 00000000 00000000 00000000
        "))
        .unwrap();
        assert_eq!(answer.gateway, Some(ip("fe80::1")));
    }

    #[test]
    fn answer_types_local_and_broadcast() {
        // `ip route get 127.0.0.1`: type local via lo (index 1).
        let local = parse_answer(&hex("
            02 20 00 00 fe 00 00 02 00020080    # local, RTM_F_CLONED|RTCF_LOCAL
            0800 0f00 fe000000 0800 0100 7f000001
            0800 0400 01000000                  # RTA_OIF 1
            0800 0700 7f000001
        "))
        .unwrap();
        assert_eq!((local.kind, local.oif, local.prefsrc), (libc::RTN_LOCAL, Some(1), Some(ip("127.0.0.1"))));
        // `ip route get 198.18.0.255`.
        let broadcast = parse_answer(&hex("02 20 00 00 fe 00 00 03 00020090 0800 0400 02000000")).unwrap();
        assert_eq!(route_type_name(broadcast.kind), "broadcast");
    }

    #[test]
    fn broadcast_routes_of_a_dump() {
        // `broadcast 198.19.255.255 dev eth0 table local proto kernel scope link src 198.18.0.1`
        let route = |kind: &str, dst: &str, len: &str| {
            hex(&format!(
                "02 {len} 00 00 ff 02 fd {kind} 00000000
                 0800 0f00 ff000000 0800 0100 {dst} 0800 0700 c6120001 0800 0400 02000000"
            ))
        };
        let dst = broadcast_destination(&route("03", "c613ffff", "20"));
        assert_eq!(dst, Some(Ipv4Addr::new(198, 19, 255, 255)));
        // A local route (the namespace's own address) and a broadcast prefix are not hosts' broadcasts.
        assert_eq!(broadcast_destination(&route("02", "c6120001", "20")), None);
        assert_eq!(broadcast_destination(&route("03", "c6120000", "18")), None);
        assert_eq!(broadcast_destination(&hex("02 20 00")), None);
    }

    #[test]
    fn answer_shorter_than_rtmsg_is_an_error() {
        assert!(parse_answer(&hex("02 20 00 00")).is_err());
    }

    #[test]
    fn attributes_stop_at_a_bad_length() {
        let bytes = hex("0800 0400 02000000  ff00 0700 c6120001");
        let seen: Vec<(u16, Vec<u8>)> = attrs(&bytes).map(|(k, d)| (k, d.to_vec())).collect();
        assert_eq!(seen, vec![(libc::RTA_OIF, vec![2, 0, 0, 0])]);
        assert_eq!(attrs(&hex("0300 0400")).count(), 0, "shorter than its header");
    }

    #[test]
    fn datagram_with_reply_then_ack() {
        let datagram = hex("
            24000000 1800 0000 01000000 e8030000  # RTM_NEWROUTE, 36 bytes, seq 1
            02 20 00 00 fe 00 00 01 00020000 0800 0400 02000000
            1c000000 1800 0000 07000000 e8030000  # a message of another sequence: skipped
            02 20 00 00 fe 00 00 01 00000000
            24000000 0200 0001 01000000 e8030000  # NLMSG_ERROR, capped
            00000000                              # errno 0: the acknowledgement
            24000000 1a00 0500 01000000 00000000  # the request's header
        ");
        let mut answer = Vec::new();
        assert!(collect(&datagram, &mut answer).unwrap(), "the ack completes the answer");
        assert_eq!(answer.len(), 1);
        assert_eq!(answer[0].kind, libc::RTM_NEWROUTE);
        assert_eq!(parse_answer(&answer[0].payload).unwrap().oif, Some(2));
    }

    #[test]
    fn kernel_error_becomes_its_errno() {
        // `ip route get 198.19.0.5` with no route: -ENETUNREACH.
        let datagram = hex("
            24000000 0200 0001 01000000 e8030000
            9bffffff                              # -101
            24000000 1a00 0500 01000000 00000000
        ");
        let err = collect(&datagram, &mut Vec::new()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH));
        assert!(matches!(lookup_error(ip("198.19.0.5"), err), Error::NoRoute(_)));
        let blackhole = lookup_error(ip("198.19.1.1"), io::Error::from_raw_os_error(libc::EINVAL));
        assert!(blackhole.to_string().ends_with("(a blackhole route?)"), "{blackhole}");
    }

    #[test]
    fn truncated_message_is_an_error() {
        assert!(split(&hex("40000000 1800 0000 01000000 00000000 0000")).is_err());
    }

    #[test]
    fn no_route_message() {
        // Formatting only: nothing is sent.
        assert_eq!(
            Error::NoRoute(ip("198.19.0.5")).to_string(),
            "no route to 198.19.0.5 (this network namespace has no matching route and no default route)"
        );
    }

    #[test]
    fn source_of_the_other_family_is_refused_before_any_lookup() {
        let overrides = RouteOverrides { iface: None, src: Some(ip("2001:2::1")) };
        let err = route_with(ip("198.18.0.10"), &overrides).unwrap_err();
        assert!(matches!(err, Error::SourceFamily { .. }), "{err}");
    }
}
