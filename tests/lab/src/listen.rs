//! A target's services: TCP listeners that accept and close, UDP sockets
//! that echo, on `0.0.0.0` and `[::]` (IPv6-only) for every port.
//!
//! Sockets are created by a thread inside the target namespace ([`open`])
//! and keep that namespace for life; one background thread per target then
//! serves all of them with `poll` ([`serve`]). Dropping [`Services`] wakes
//! that thread, joins it and closes every socket, which must happen before
//! the namespace is deleted so nothing keeps it alive.

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use crate::error::LabError;
use crate::sys;

/// Listen backlog: large, so a fast SYN scan never finds a full queue
/// (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: libc::c_int = 4096;
/// Largest UDP datagram echoed.
const MAX_DATAGRAM: usize = 65_536;

/// One bound socket.
pub(crate) enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl Socket {
    fn raw_fd(&self) -> libc::c_int {
        match self {
            Socket::Tcp(l) => l.as_raw_fd(),
            Socket::Udp(u) => u.as_raw_fd(),
        }
    }
}

/// The two wildcard addresses every port is bound on.
fn wildcards(port: u16) -> [SocketAddr; 2] {
    [SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))]
}

/// Creates a nonblocking socket bound to `addr`; IPv6 sockets are
/// IPv6-only so the IPv4 wildcard can be bound alongside.
fn bound(addr: SocketAddr, ty: libc::c_int) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv6() { libc::AF_INET6 } else { libc::AF_INET };
    let fd = sys::socket(domain, ty | libc::SOCK_NONBLOCK, 0)?;
    sys::set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        sys::set_int_opt(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    sys::bind(&fd, addr)?;
    Ok(fd)
}

/// Binds every TCP and UDP port on both families. Must run on a thread
/// inside the target namespace; `ns` only names it in errors.
pub(crate) fn open(ns: &str, tcp: &[u16], udp: &[u16]) -> Result<Vec<Socket>, LabError> {
    let mut sockets = Vec::with_capacity(2 * (tcp.len() + udp.len()));
    for &port in tcp {
        for addr in wildcards(port) {
            let fd = bound(addr, libc::SOCK_STREAM)
                .and_then(|fd| sys::listen(&fd, BACKLOG).map(|()| fd))
                .map_err(|e| LabError::io(format!("listen on tcp {addr} in {ns}"), e))?;
            sockets.push(Socket::Tcp(TcpListener::from(fd)));
        }
    }
    for &port in udp {
        for addr in wildcards(port) {
            let fd = bound(addr, libc::SOCK_DGRAM)
                .map_err(|e| LabError::io(format!("bind udp {addr} in {ns}"), e))?;
            sockets.push(Socket::Udp(UdpSocket::from(fd)));
        }
    }
    Ok(sockets)
}

/// The running services of one target; dropping stops them.
pub(crate) struct Services {
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Services {
    fn drop(&mut self) {
        // Closing our end makes the serving thread's end readable (EOF).
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the serve loop has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// Starts serving `sockets` on a background thread.
pub(crate) fn serve(ns: &str, sockets: Vec<Socket>) -> Result<Services, LabError> {
    let (stop, wake) =
        UnixStream::pair().map_err(|e| LabError::io("socketpair for the listener thread", e))?;
    let thread = std::thread::Builder::new()
        .name(format!("lab services {ns}"))
        .spawn(move || serve_loop(wake, &sockets))
        .map_err(|e| LabError::io(format!("spawn the listener thread of {ns}"), e))?;
    Ok(Services { stop: Some(stop), thread: Some(thread) })
}

fn serve_loop(mut wake: UnixStream, sockets: &[Socket]) {
    let mut fds: Vec<libc::pollfd> = std::iter::once(wake.as_raw_fd())
        .chain(sockets.iter().map(Socket::raw_fd))
        .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
        .collect();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        if sys::poll_readable(&mut fds, -1).is_err() {
            return;
        }
        if fds[0].revents != 0 {
            // EOF or a byte: either way the lab is going away.
            let _ = wake.read(&mut [0u8; 1]);
            return;
        }
        for (pfd, socket) in fds[1..].iter().zip(sockets) {
            if pfd.revents == 0 {
                continue;
            }
            match socket {
                // Accept and close at once: the handshake already proved the port open.
                Socket::Tcp(listener) => while listener.accept().is_ok() {},
                Socket::Udp(sock) => {
                    while let Ok((n, from)) = sock.recv_from(&mut buf) {
                        let _ = sock.send_to(&buf[..n], from);
                    }
                }
            }
        }
    }
}
