//! A minimal in-process ping (ICMP / ICMPv6 echo over raw sockets), so the
//! lab needs no `ping` binary: it proves the lab is wired up and lets tests
//! read a target's reply TTL / hop limit.
//!
//! Must run on a thread inside the sending namespace. Refuses any
//! destination outside the lab ranges.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

/// ICMP echo request / reply types (RFC 792) and ICMPv6 (RFC 4443).
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
/// Offsets in an IPv4 header (RFC 791).
const IPV4_TTL: usize = 8;
const IPV4_SRC: usize = 12;
/// Bytes of an echo message: type, code, checksum, identifier, sequence, 8 bytes of payload.
const ECHO_LEN: usize = 16;
/// How often unanswered requests are sent again.
const RESEND: Duration = Duration::from_millis(200);

/// One echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    /// Who answered.
    pub from: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) of the reply as received.
    pub ttl: u8,
    /// Time from the first request to the reply.
    pub rtt: Duration,
}

/// Whether `addr` is inside 198.18.0.0/15 or 2001:2::/48, the only ranges
/// the lab ever sends to.
pub fn in_lab_range(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let [a, b, ..] = a.octets();
            a == 198 && (b & 0xfe) == 18
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0
        }
    }
}

/// The internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 =
        bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request; ICMPv6 checksums are filled in by the kernel.
fn echo_request(v6: bool, id: u16, seq: u16) -> [u8; ECHO_LEN] {
    let mut msg = [0u8; ECHO_LEN];
    msg[0] = if v6 { ICMPV6_ECHO_REQUEST } else { ICMP_ECHO_REQUEST };
    msg[4..6].copy_from_slice(&id.to_be_bytes());
    msg[6..8].copy_from_slice(&seq.to_be_bytes());
    msg[8..].copy_from_slice(b"scry-lab");
    if !v6 {
        let sum = checksum(&msg);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    msg
}

/// Reads (type, id, seq) of an ICMP message.
fn echo_fields(icmp: &[u8]) -> Option<(u8, u16, u16)> {
    let head = icmp.get(..8)?;
    Some((head[0], u16::from_be_bytes([head[4], head[5]]), u16::from_be_bytes([head[6], head[7]])))
}

/// Pings every address in `dsts` until each answered or `timeout` passed.
/// Returns one entry per destination, `None` where no reply came.
pub(crate) fn ping_all(dsts: &[IpAddr], timeout: Duration) -> io::Result<Vec<Option<EchoReply>>> {
    if let Some(bad) = dsts.iter().find(|a| !in_lab_range(**a)) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{bad} is outside the lab ranges")));
    }
    static NEXT_ID: AtomicU16 = AtomicU16::new(0);
    let id = (std::process::id() as u16) ^ NEXT_ID.fetch_add(0x1111, Ordering::Relaxed);
    let v4 = sys::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::IPPROTO_ICMP)?;
    let v6 = sys::socket(libc::AF_INET6, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::IPPROTO_ICMPV6)?;
    sys::set_int_opt(&v6, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;

    let start = Instant::now();
    let mut replies: Vec<Option<EchoReply>> = vec![None; dsts.len()];
    let mut next_send = start;
    loop {
        let now = Instant::now();
        if replies.iter().all(Option::is_some) || now >= start + timeout {
            return Ok(replies);
        }
        if now >= next_send {
            for (seq, (dst, _)) in dsts.iter().zip(&replies).enumerate().filter(|(_, (_, r))| r.is_none()) {
                let (fd, v6_dst) = match dst {
                    IpAddr::V4(_) => (&v4, false),
                    IpAddr::V6(_) => (&v6, true),
                };
                // A send error (e.g. neighbour not yet resolved) is retried next round.
                let _ = sys::send_to(fd, &echo_request(v6_dst, id, seq as u16), SocketAddr::new(*dst, 0));
            }
            next_send = now + RESEND;
        }
        let wait = next_send.min(start + timeout).saturating_duration_since(Instant::now());
        let mut fds =
            [v4.as_raw_fd(), v6.as_raw_fd()].map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
        sys::poll_readable(&mut fds, wait.as_millis().try_into().unwrap_or(libc::c_int::MAX))?;
        while let Some((from, ttl, msg)) = recv_v4(&v4)? {
            record(&mut replies, dsts, id, ICMP_ECHO_REPLY, IpAddr::V4(from), ttl, &msg, start);
        }
        while let Some((from, ttl, msg)) = recv_v6(&v6)? {
            record(&mut replies, dsts, id, ICMPV6_ECHO_REPLY, IpAddr::V6(from), ttl, &msg, start);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    replies: &mut [Option<EchoReply>],
    dsts: &[IpAddr],
    id: u16,
    want_type: u8,
    from: IpAddr,
    ttl: u8,
    icmp: &[u8],
    start: Instant,
) {
    let Some((ty, got_id, seq)) = echo_fields(icmp) else { return };
    let i = usize::from(seq);
    if ty == want_type && got_id == id && dsts.get(i) == Some(&from) && replies[i].is_none() {
        replies[i] = Some(EchoReply { from, ttl, rtt: start.elapsed() });
    }
}

/// Receives one IPv4 ICMP packet: (source, TTL, ICMP message). `None` when
/// nothing is queued.
fn recv_v4(fd: &OwnedFd) -> io::Result<Option<(Ipv4Addr, u8, Vec<u8>)>> {
    let mut buf = [0u8; 1500];
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return would_block_is_none(io::Error::last_os_error());
    }
    let packet = &buf[..n as usize];
    // Raw IPv4 sockets deliver the IP header; its length is in the low nibble.
    let header_len = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
    if packet.len() < header_len.max(IPV4_SRC + 4) {
        return Ok(Some((Ipv4Addr::UNSPECIFIED, 0, Vec::new())));
    }
    let src: [u8; 4] = packet[IPV4_SRC..IPV4_SRC + 4].try_into().unwrap_or_default();
    Ok(Some((Ipv4Addr::from(src), packet[IPV4_TTL], packet[header_len..].to_vec())))
}

/// Receives one ICMPv6 message: (source, hop limit from the control
/// message, ICMPv6 message). `None` when nothing is queued.
fn recv_v6(fd: &OwnedFd) -> io::Result<Option<(Ipv6Addr, u8, Vec<u8>)>> {
    let mut buf = [0u8; 1500];
    let mut control = [0u64; 16];
    // SAFETY: all-zero is a valid sockaddr_in6 and msghdr.
    let mut from: libc::sockaddr_in6 = unsafe { mem::zeroed() };
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = std::ptr::from_mut(&mut from).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` refers to a live local of the stated size.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return would_block_is_none(io::Error::last_os_error());
    }
    let mut hop_limit = 0u8;
    // SAFETY: the CMSG_* helpers walk the control buffer recvmsg filled in,
    // bounded by msg_controllen; the data is read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::IPPROTO_IPV6 && (*cmsg).cmsg_type == libc::IPV6_HOPLIMIT {
                let v: libc::c_int = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                hop_limit = u8::try_from(v).unwrap_or(0);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Some((Ipv6Addr::from(from.sin6_addr.s6_addr), hop_limit, buf[..n as usize].to_vec())))
}

fn would_block_is_none<T>(err: io::Error) -> io::Result<Option<T>> {
    if err.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_ranges() {
        for inside in ["198.18.0.1", "198.19.255.255", "2001:2::1", "2001:2:0:ffff::1"] {
            assert!(in_lab_range(inside.parse().unwrap()), "{inside}");
        }
        for outside in
            ["198.17.255.255", "198.20.0.0", "10.0.0.1", "8.8.8.8", "2001:3::1", "2001:2:1::1", "::1"]
        {
            assert!(!in_lab_range(outside.parse().unwrap()), "{outside}");
        }
    }

    #[test]
    fn echo_request_checksums_to_zero() {
        let msg = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&msg), 0);
        assert_eq!(echo_fields(&msg), Some((ICMP_ECHO_REQUEST, 0x1234, 7)));
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the one's complement sum of these words is 0xddf2.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }

    #[test]
    fn outside_destinations_are_refused_before_any_socket() {
        let err = ping_all(&["192.0.2.1".parse().unwrap()], Duration::from_millis(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
