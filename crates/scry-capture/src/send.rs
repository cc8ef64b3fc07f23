//! Raw frame sending through a send-only `AF_PACKET` socket, or through raw
//! IP sockets on loopback.
//!
//! The packet socket is opened with protocol 0, so the kernel queues no
//! received traffic on it (pnet's datalink channel opens an `ETH_P_ALL` socket
//! that copies every frame on the interface into a buffer nobody reads).
//! Frames are sent in batches with `sendmmsg(2)` to amortise the system call.
//!
//! **Loopback.** A frame written to `lo` through `AF_PACKET` re-enters the
//! stack without the route a locally sent packet carries, so input routing
//! judges it as if it came from outside: a 127/8 destination is martian
//! (unless `route_localnet`), so is one of our own addresses as its source
//! (unless `accept_local`), and the kernel drops every probe. On a loopback
//! interface the sender therefore strips the Ethernet header and sends the IP
//! packet through a raw IP socket with the header included (`IPPROTO_RAW`,
//! raw(7)); it takes the output path and is delivered locally, as nmap's
//! probes to localhost are. Callers hand over whole Ethernet frames either way.

use crate::error::is_permission;
use crate::{Error, Interface};
use scry_packet::layout::{ETHERNET_LEN, IPV4, IPV6};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Most frames handed to the kernel in one `sendmmsg` call.
pub const MAX_BATCH: usize = 64;

/// Where frames go.
#[derive(Debug)]
enum Path {
    /// Whole frames out of the interface with this index; the socket is `AF_PACKET`.
    Link { ifindex: i32 },
    /// IP packets through raw IP sockets: IPv4 on the sender's socket, IPv6
    /// on `v6` (none when IPv6 is off in this namespace).
    Loopback { v6: Option<OwnedFd> },
}

/// A send-only raw socket bound to one interface.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
    iface: String,
    path: Path,
}

impl RawSender {
    /// Opens a raw socket that sends on `iface`: `AF_PACKET`, or raw IP
    /// sockets when `iface` is a loopback interface (see the module docs).
    ///
    /// # Errors
    /// [`Error::Privilege`] without CAP_NET_RAW; [`Error::NoSuchInterface`].
    pub fn open(iface: &Interface) -> Result<RawSender, Error> {
        if iface.is_loopback {
            let fd = raw_socket(iface, libc::AF_INET, libc::IPPROTO_RAW, "opening a raw IPv4 socket")?;
            let v6 = raw_socket(iface, libc::AF_INET6, libc::IPPROTO_RAW, "opening a raw IPv6 socket").ok();
            return Ok(RawSender { fd, iface: iface.name.clone(), path: Path::Loopback { v6 } });
        }
        let fd = raw_socket(iface, libc::AF_PACKET, 0, "opening a raw AF_PACKET socket")?;
        let ifindex = i32::try_from(iface.index).map_err(|_| Error::NoSuchInterface(iface.name.clone()))?;
        Ok(RawSender { fd, iface: iface.name.clone(), path: Path::Link { ifindex } })
    }

    /// The interface the socket sends on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Sends one frame.
    ///
    /// # Errors
    /// The `sendto` failure, naming the interface.
    pub fn send(&self, frame: &[u8]) -> Result<(), Error> {
        self.send_batch(&[frame]).map(|_| ())
    }

    /// Sends up to [`MAX_BATCH`] frames with one `sendmmsg`, returning how many
    /// the kernel took (it may take fewer when its queue is full; on loopback
    /// a batch also ends where the IP version changes).
    ///
    /// # Errors
    /// The `sendmmsg` failure, naming the interface; on loopback, a frame
    /// that holds no IPv4 or IPv6 header.
    pub fn send_batch(&self, frames: &[&[u8]]) -> Result<usize, Error> {
        let frames = &frames[..frames.len().min(MAX_BATCH)];
        if frames.is_empty() {
            return Ok(0);
        }
        match &self.path {
            Path::Link { ifindex } => {
                // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
                let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                addr.sll_family = libc::AF_PACKET as u16;
                addr.sll_ifindex = *ifindex;
                addr.sll_halen = 6;
                let addr = as_storage(&addr);
                self.sendmmsg(self.fd.as_raw_fd(), frames, |_| addr)
            }
            Path::Loopback { v6 } => {
                let version = ip_version(frames[0])
                    .ok_or_else(|| self.loopback_error("a frame without an IP header"))?;
                let run = frames.iter().take_while(|f| ip_version(f) == Some(version)).count();
                let mut packets: [&[u8]; MAX_BATCH] = [&[]; MAX_BATCH];
                for (packet, frame) in packets.iter_mut().zip(&frames[..run]) {
                    *packet = &frame[ETHERNET_LEN..];
                }
                let packets = &packets[..run];
                if version == 4 {
                    self.sendmmsg(self.fd.as_raw_fd(), packets, v4_dst)
                } else {
                    let fd =
                        v6.as_ref().ok_or_else(|| self.loopback_error("IPv6 without a raw IPv6 socket"))?;
                    self.sendmmsg(fd.as_raw_fd(), packets, v6_dst)
                }
            }
        }
    }

    fn loopback_error(&self, what: &str) -> Error {
        Error::Io {
            operation: "sending on loopback",
            iface: self.iface.clone(),
            source: io::Error::new(io::ErrorKind::InvalidInput, format!("cannot send {what}")),
        }
    }

    /// One `sendmmsg` of `buffers` on `fd`, each to the address `to` gives for it.
    fn sendmmsg(
        &self,
        fd: RawFd,
        buffers: &[&[u8]],
        to: impl Fn(&[u8]) -> (libc::sockaddr_storage, u32),
    ) -> Result<usize, Error> {
        // SAFETY: sockaddr_storage and mmsghdr are plain data; zeroed is a valid value.
        let mut addrs: [(libc::sockaddr_storage, u32); MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; MAX_BATCH] =
            [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH];
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, buffer) in buffers.iter().enumerate() {
            addrs[i] = to(buffer);
            iovs[i] = libc::iovec { iov_base: buffer.as_ptr() as *mut libc::c_void, iov_len: buffer.len() };
            msgs[i].msg_hdr.msg_name = (&mut addrs[i].0 as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = addrs[i].1;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every pointer in `msgs` refers to `addrs`, `iovs` or the caller's
        // buffers, all alive for the duration of the call; the kernel only reads them.
        let sent = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), buffers.len() as u32, 0) };
        if sent < 0 {
            return Err(Error::Io {
                operation: "sendmmsg",
                iface: self.iface.clone(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(sent as usize)
    }
}

/// Opens a raw socket of `domain`, naming the missing capability when refused.
pub(crate) fn raw_socket(
    iface: &Interface,
    domain: libc::c_int,
    protocol: libc::c_int,
    operation: &'static str,
) -> Result<OwnedFd, Error> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol) };
    if raw < 0 {
        let err = io::Error::last_os_error();
        return Err(if is_permission(&err.to_string()) {
            Error::Privilege {
                operation,
                iface: iface.name.clone(),
                capability: "CAP_NET_RAW",
                detail: err.to_string(),
            }
        } else {
            Error::Io { operation, iface: iface.name.clone(), source: err }
        });
    }
    // SAFETY: `raw` is a fresh, valid descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The IP version of the packet after the Ethernet header, if its header
/// reaches at least the destination address.
fn ip_version(frame: &[u8]) -> Option<u8> {
    let packet = frame.get(ETHERNET_LEN..)?;
    match packet.first()? >> 4 {
        4 if packet.len() >= IPV4::DST + 4 => Some(4),
        6 if packet.len() >= IPV6::DST + 16 => Some(6),
        _ => None,
    }
}

/// A socket address as a `sockaddr_storage`, with its length.
fn as_storage<T: Copy>(addr: &T) -> (libc::sockaddr_storage, u32) {
    const { assert!(std::mem::size_of::<T>() <= std::mem::size_of::<libc::sockaddr_storage>()) };
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: both are plain data, `T` fits (checked above) and they do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (addr as *const T).cast::<u8>(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            std::mem::size_of::<T>(),
        );
    }
    (storage, std::mem::size_of::<T>() as u32)
}

/// The destination of an IPv4 packet; port 0, as a header-included send wants.
fn v4_dst(packet: &[u8]) -> (libc::sockaddr_storage, u32) {
    let octets: [u8; 4] = packet[IPV4::DST..IPV4::DST + 4].try_into().expect("checked by ip_version");
    // SAFETY: sockaddr_in is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(Ipv4Addr::from(octets)).to_be();
    as_storage(&addr)
}

/// The destination of an IPv6 packet; port 0 means the socket's own
/// protocol, `IPPROTO_RAW`, which a header-included send needs.
fn v6_dst(packet: &[u8]) -> (libc::sockaddr_storage, u32) {
    let octets: [u8; 16] = packet[IPV6::DST..IPV6::DST + 16].try_into().expect("checked by ip_version");
    // SAFETY: sockaddr_in6 is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_addr.s6_addr = Ipv6Addr::from(octets).octets();
    as_storage(&addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scry_packet::{build_arp_request, build_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpSpec};

    fn syn(src: &str, dst: &str) -> Vec<u8> {
        let ip = IpSpec::new(src.parse().unwrap(), dst.parse().unwrap()).unwrap();
        let eth = EthernetSpec { src: Mac::ZERO, dst: Mac::ZERO };
        build_frame(&eth, &ip, &L4Spec::Tcp(TcpSpec::default())).unwrap()
    }

    #[test]
    fn loopback_sends_ip_packets_only() {
        assert_eq!(ip_version(&syn("127.0.0.1", "127.0.0.2")), Some(4));
        assert_eq!(ip_version(&syn("::1", "::1")), Some(6));
        let arp = build_arp_request(Mac::ZERO, Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(ip_version(&arp), None);
        assert_eq!(ip_version(&syn("127.0.0.1", "127.0.0.2")[..ETHERNET_LEN + IPV4::DST]), None);
    }

    #[test]
    fn destinations_come_from_the_ip_header() {
        let frame = syn("127.0.0.1", "127.0.0.2");
        let (storage, len) = v4_dst(&frame[ETHERNET_LEN..]);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in>());
        // SAFETY: v4_dst wrote a sockaddr_in into the storage.
        let addr = unsafe { *(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
        assert_eq!(i32::from(addr.sin_family), libc::AF_INET);
        assert_eq!(Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(addr.sin_port, 0);

        let frame = syn("::1", "2001:2::a");
        let (storage, len) = v6_dst(&frame[ETHERNET_LEN..]);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in6>());
        // SAFETY: v6_dst wrote a sockaddr_in6 into the storage.
        let addr = unsafe { *(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
        assert_eq!(i32::from(addr.sin6_family), libc::AF_INET6);
        assert_eq!(Ipv6Addr::from(addr.sin6_addr.s6_addr), "2001:2::a".parse::<Ipv6Addr>().unwrap());
    }
}
